# cython: language_level=3
"""Block Hessian of the multinomial cross-entropy, in the pairwise form.

With ``P`` the ``n x k`` class probabilities, ``w`` the sample weights and
``x_n`` the rows of ``X`` (a trailing 1 appended when ``fit_intercept``), the
Hessian block ``(i, j)`` is ``sum_n w_n p_ni (delta_ij - p_nj) x_n x_n^T``.
Because the probabilities of a row sum to one, only the ``K = k(k-1)/2``
symmetric products

    M_ij = sum_n w_n p_ni p_nj x_n x_n^T          (i < j)

are needed: block ``(i, j)`` is ``-M_ij`` and block ``(i, i)`` is
``sum_{j != i} M_ij``.  No ``p_i - p_i^2`` cancellation, PSD by construction.

All ``M_ij`` of a row block come from one matrix product: with ``U`` holding
each row's packed upper-triangular outer product ``x x^T`` (``p(p+1)/2``
numbers a row) and ``V`` the ``b x K`` weights ``w p_i p_j``, ``U^T V`` holds
every ``M_ij`` on the minimal flop count.  Small products run in typed loops,
large ones in ``dgemm`` (``scipy.linalg.cython_blas``, no link-time BLAS).

Parallelism and determinism: rows are cut into *segments* whose boundaries
depend on ``n`` only.  Threads compute whole segments into private buffers;
segments are added to the total in segment order.  The result is therefore
bit-for-bit the same for any thread count.

The kernel trusts its inputs: validation lives in ``logreg._kernel``.
"""
from cython.parallel cimport prange
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm

cimport cython
import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #define LOGREG_HAVE_OPENMP 1
    #else
    #define LOGREG_HAVE_OPENMP 0
    #endif
    """
    int LOGREG_HAVE_OPENMP

ctypedef fused floating:
    float
    double

cdef enum:
    # Rows per block: the inner dimension of the product U^T V.
    BLOCK_ROWS = 64
    # Packed outer-product entries per panel: a panel of U (PANEL x BLOCK_ROWS
    # doubles, 1 MiB) stays in a core's L2 while dgemm reads it.
    PANEL = 2048
    # Below this many multiply-adds per row (P2 * K), typed loops beat
    # dgemm's call and packing overhead.
    GEMM_MIN_WORK = 4096


def openmp_enabled():
    """True when the kernel was compiled with OpenMP (parallel over row segments)."""
    return bool(LOGREG_HAVE_OPENMP)


cdef inline Py_ssize_t _packed_index(Py_ssize_t a, Py_ssize_t c, Py_ssize_t p) noexcept nogil:
    """Position of (a, c), a <= c, in the row-wise packed upper triangle of a p x p matrix."""
    return a * p - (a * (a - 1)) // 2 + (c - a)


cdef void _load_rows(const floating[:, :] X, Py_ssize_t r0, Py_ssize_t b,
                     bint fit_intercept, double* xb, Py_ssize_t p) noexcept nogil:
    """Copy rows r0:r0+b of X into the row-major b x p float64 scratch ``xb``."""
    cdef Py_ssize_t d = X.shape[1], r, a
    if X.strides[0] >= X.strides[1]:     # C-like: walk along rows
        for r in range(b):
            for a in range(d):
                xb[r * p + a] = X[r0 + r, a]
    else:                                # F-like: walk down columns
        for a in range(d):
            for r in range(b):
                xb[r * p + a] = X[r0 + r, a]
    if fit_intercept:
        for r in range(b):
            xb[r * p + d] = 1.0


cdef void _pair_weights(const double[:, :] P, const double* w, Py_ssize_t r0,
                        Py_ssize_t b, double* v) noexcept nogil:
    """v[q * b + r] = w_r p_ri p_rj for the pair q = (i, j), i < j (b x K, column-major)."""
    cdef Py_ssize_t k = P.shape[1], r, i, j, q = 0
    cdef double wr
    for i in range(k):
        for j in range(i + 1, k):
            for r in range(b):
                wr = 1.0 if w == NULL else w[r0 + r]
                v[q * b + r] = wr * P[r0 + r, i] * P[r0 + r, j]
            q += 1


cdef void _outer_panel(const double* xb, Py_ssize_t b, Py_ssize_t p,
                       Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t width,
                       double* ut) noexcept nogil:
    """Packed outer products of rows a0:a1 of x x^T for each of b rows.

    ``ut`` is ``width x b`` column-major: column r holds row r's entries
    x_a x_c, a0 <= a < a1, a <= c < p, in packed order.
    """
    cdef Py_ssize_t r, a, c, e
    cdef double xa
    cdef const double* x
    for r in range(b):
        x = xb + r * p
        e = r * width
        for a in range(a0, a1):
            xa = x[a]
            for c in range(a, p):
                ut[e] = xa * x[c]
                e += 1


cdef void _accumulate_loops(const double* ut, const double* v, Py_ssize_t b,
                            Py_ssize_t width, Py_ssize_t n_pairs,
                            double* acc, Py_ssize_t ld_acc) noexcept nogil:
    """acc[q * ld_acc + e] += sum_r v[q * b + r] * ut[r * width + e]; four rows a pass."""
    cdef Py_ssize_t q, r, e
    cdef double v0, v1, v2, v3
    cdef double* out
    cdef const double* u0
    cdef const double* u1
    cdef const double* u2
    cdef const double* u3
    for q in range(n_pairs):
        out = acc + q * ld_acc
        r = 0
        while r + 4 <= b:
            v0 = v[q * b + r]
            v1 = v[q * b + r + 1]
            v2 = v[q * b + r + 2]
            v3 = v[q * b + r + 3]
            u0 = ut + r * width
            u1 = u0 + width
            u2 = u1 + width
            u3 = u2 + width
            for e in range(width):
                out[e] += v0 * u0[e] + v1 * u1[e] + v2 * u2[e] + v3 * u3[e]
            r += 4
        while r < b:
            v0 = v[q * b + r]
            u0 = ut + r * width
            for e in range(width):
                out[e] += v0 * u0[e]
            r += 1


cdef void _accumulate_segment(const floating[:, :] X, const double[:, :] P,
                              const double* w, Py_ssize_t start, Py_ssize_t stop,
                              bint fit_intercept, Py_ssize_t block, bint use_gemm,
                              double* acc, double* xb, double* v,
                              double* ut) noexcept nogil:
    """acc (K x P2, row-major) = sum over rows start:stop of the pair products."""
    cdef Py_ssize_t p = X.shape[1] + fit_intercept
    cdef Py_ssize_t k = P.shape[1]
    cdef Py_ssize_t n_pairs = k * (k - 1) // 2
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    cdef Py_ssize_t r0, b, a0, a1, e0, width
    cdef int gm, gn, gk, lda, ldb, ldc
    cdef double one = 1.0
    cdef char* no_trans = b"N"
    memset(acc, 0, n_pairs * P2 * sizeof(double))
    r0 = start
    while r0 < stop:
        b = min(block, stop - r0)
        _load_rows(X, r0, b, fit_intercept, xb, p)
        _pair_weights(P, w, r0, b, v)
        r0 += b
        if not use_gemm:
            _outer_panel(xb, b, p, 0, p, P2, ut)
            _accumulate_loops(ut, v, b, P2, n_pairs, acc, P2)
            continue
        # Panels of whole packed rows a0:a1, each at most PANEL entries
        # (but at least one row): U stays in cache while dgemm reads it.
        a0 = 0
        while a0 < p:
            e0 = _packed_index(a0, a0, p)
            a1 = a0 + 1
            while a1 < p and _packed_index(a1 + 1, a1 + 1, p) - e0 <= PANEL:
                a1 += 1
            width = (P2 if a1 == p else _packed_index(a1, a1, p)) - e0
            _outer_panel(xb, b, p, a0, a1, width, ut)
            # acc is P2 x K column-major to BLAS; this panel is rows e0:e0+width.
            gm = <int>width
            gn = <int>n_pairs
            gk = <int>b
            lda = <int>width
            ldb = <int>b
            ldc = <int>P2
            dgemm(no_trans, no_trans, &gm, &gn, &gk, &one, ut, &lda, v, &ldb,
                  &one, acc + e0, &ldc)
            a0 = a1


cdef void _assemble(const double* total, Py_ssize_t k, Py_ssize_t p,
                    double[:, ::1] H) noexcept nogil:
    """Write the full class-major Hessian from the packed pair products."""
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    cdef Py_ssize_t i, j, q, a, c, e
    cdef double val
    cdef const double* M
    for i in range(k):                      # diagonal blocks start at zero
        for a in range(p):
            for c in range(p):
                H[i * p + a, i * p + c] = 0.0
    q = 0
    for i in range(k):
        for j in range(i + 1, k):
            M = total + q * P2
            e = 0
            for a in range(p):
                for c in range(a, p):
                    val = M[e]
                    e += 1
                    H[i * p + a, j * p + c] = -val
                    H[i * p + c, j * p + a] = -val
                    H[j * p + c, i * p + a] = -val
                    H[j * p + a, i * p + c] = -val
                    H[i * p + a, i * p + c] += val
                    H[j * p + a, j * p + c] += val
            q += 1
    for i in range(k):                      # mirror the diagonal blocks
        for a in range(p):
            for c in range(a + 1, p):
                H[i * p + c, i * p + a] = H[i * p + a, i * p + c]


def segment_bounds(Py_ssize_t n, Py_ssize_t block=BLOCK_ROWS):
    """Row boundaries of the segments: a function of ``n`` only (never of threads).

    About 32 segments (at least 4 blocks each) balance the load over threads
    while the per-segment zeroing and reduction stay negligible.
    """
    cdef Py_ssize_t seg = max(4 * block, -(-n // 32))
    seg = -(-seg // block) * block
    return list(range(0, n, seg)) + [n]


def pair_products(const floating[:, :] X, const double[:, :] P, sample_weight,
                  bint fit_intercept, int n_threads):
    """Packed pair products ``M_ij`` (i < j), shape ``(K, p(p+1)/2)``.

    Row ``q`` enumerates pairs (0,1), (0,2), ..., (k-2,k-1); column ``e`` the
    row-wise packed upper triangle of a ``p x p`` matrix.  ``P`` is C-ordered
    float64, ``sample_weight`` None or a C-ordered float64 vector.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t p = X.shape[1] + fit_intercept
    cdef Py_ssize_t k = P.shape[1]
    cdef Py_ssize_t n_pairs = k * (k - 1) // 2
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    cdef Py_ssize_t block = BLOCK_ROWS
    cdef bint use_gemm = P2 * n_pairs >= GEMM_MIN_WORK
    cdef Py_ssize_t width_max = max(PANEL, p) if use_gemm else P2
    cdef const double[::1] w_view
    cdef const double* w = NULL
    if sample_weight is not None:
        w_view = sample_weight
        w = &w_view[0]

    bounds = segment_bounds(n, block)
    cdef Py_ssize_t n_segments = len(bounds) - 1
    cdef int T = max(1, min(n_threads, n_segments))
    cdef Py_ssize_t[::1] seg = np.asarray(bounds, dtype=np.intp)

    total_arr = np.zeros((n_pairs, P2))
    cdef double[:, ::1] total = total_arr
    cdef double[:, ::1] acc = np.empty((T, n_pairs * P2))
    cdef double[:, ::1] xb = np.empty((T, block * p))
    cdef double[:, ::1] v = np.empty((T, block * max(n_pairs, 1)))
    cdef double[:, ::1] ut = np.empty((T, block * width_max))
    cdef Py_ssize_t rnd, first, e
    cdef int t, u
    if n_pairs == 0:
        return total_arr
    with nogil:
        for rnd in range((n_segments + T - 1) // T):
            first = rnd * T
            for t in prange(T, num_threads=T, schedule="static", chunksize=1):
                if first + t < n_segments:
                    _accumulate_segment(X, P, w, seg[first + t], seg[first + t + 1],
                                        fit_intercept, block, use_gemm,
                                        &acc[t, 0], &xb[t, 0], &v[t, 0], &ut[t, 0])
            # fixed-order reduction: segment first, first+1, ...
            for u in range(T):
                if first + u < n_segments:
                    for e in range(n_pairs * P2):
                        (&total[0, 0])[e] += acc[u, e]
    return total_arr


def hessian_from_pairs(const double[:, ::1] pairs, Py_ssize_t k, Py_ssize_t p,
                       double[:, ::1] out):
    """Fill ``out`` (k p x k p) with the full class-major Hessian."""
    with nogil:
        _assemble(&pairs[0, 0], k, p, out)
