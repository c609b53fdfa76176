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

Rows are processed in *blocks* of ``b`` rows (a multiple of 8) held
feature-major in a private scratch buffer (``xT[a * b + r]``; X is never
copied as a whole, float32/float64 in any order are read directly).  Three
ways to accumulate the packed upper triangles of all ``M_ij`` (``_plan`` picks
one by shape, and says why):

* ``simd``: register-tiled SIMD loops (``_simd_body.h``): each tile holds a
  few pairs x a few packed entries, LR_L rows at a time, the outer products
  ``x_a x_c`` formed on the fly.  No BLAS call, nothing materialised.
* ``gemm``: packed outer products ``U`` (b x P2) of a panel, then one
  ``dgemm`` ``U^T V`` with ``V`` the ``b x K`` pair weights.  On request
  (``pairs_f32``: approximate Hessians, e.g. a preconditioner) ``U`` and
  ``V`` are rounded to float32 and each segment accumulates by ``sgemm``,
  which outruns ``dgemm``: twice the elements per vector register, half the
  bytes to move.
* ``syrk``: per pair, the block scaled by ``sqrt(w p_i p_j)`` and one
  ``dsyrk`` (large p, few pairs).

BLAS comes from ``scipy.linalg.cython_blas`` (no link-time dependency) and
must run single-threaded inside our threads (``_threads.single_threaded_blas``).

Parallelism and determinism: rows are cut into *segments* whose boundaries
depend on the problem's shape only.  Threads compute whole segments into
private buffers; the segment results are added to the total in segment order
(``((0 + s0) + s1) + ...`` for every entry).  The result is therefore
bit-for-bit the same for any thread count.

Hessian-vector products (Hessian-free Newton) and the loss + gradient pass
without pairs use a *block pass* of their own (``hessian_vector_product``,
``_block_plan``): per row block the logits of the stacked coefficient rows,
softmax and residual ``R``, then ``R^T X_b``; same segments and reduction.

The kernel trusts its inputs: validation lives in ``logreg._kernel`` and
``logreg._validation``.
"""
from cpython.buffer cimport PyBUF_STRIDES, PyBuffer_Release, PyObject_GetBuffer
from cython.parallel cimport prange, threadid
from libc.math cimport fabs, isfinite
from libc.stdint cimport int64_t, uintptr_t
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm

cimport cython
import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define LOGREG_HAVE_OPENMP 1
    static int lr_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define LOGREG_HAVE_OPENMP 0
    static int lr_omp_max_threads(void) { return 1; }
    #endif
    """
    int LOGREG_HAVE_OPENMP
    int lr_omp_max_threads() nogil

cdef extern from "_simd.h" nogil:
    ctypedef struct lr_x:
        const char* data
        Py_ssize_t s0
        Py_ssize_t s1
        Py_ssize_t d
        int f32
        int fit_intercept
    ctypedef struct lr_kernels:
        int lanes
        void (*load_x)(const lr_x*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       double*) noexcept nogil
        void (*load_w)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
        void (*pair_weights)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             Py_ssize_t, const double*, double*, double*) noexcept nogil
        void (*forward)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                        const double*, const int64_t*, const double*, double*, double*,
                        double*, double*, double*) noexcept nogil
        void (*accumulate)(int, const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                           const Py_ssize_t*, Py_ssize_t, const double*, Py_ssize_t,
                           double*) noexcept nogil
        void (*outer_products)(const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                               const Py_ssize_t*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
        void (*outer_products_f32)(const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                                   const Py_ssize_t*, Py_ssize_t, Py_ssize_t,
                                   float*) noexcept nogil
        void (*round_f32)(const double*, Py_ssize_t, float*) noexcept nogil
        void (*scale_rows)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*,
                           double*) noexcept nogil
        void (*sqrt_row)(const double*, Py_ssize_t, double*) noexcept nogil
        void (*lane_sum)(const double*, Py_ssize_t, double*) noexcept nogil
        int (*all_finite)(const char*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                          int) noexcept nogil
        void (*hvp_residual)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             const double*) noexcept nogil
        void (*lg_residual)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const int64_t*,
                            const double*, double*, double*) noexcept nogil
        void (*logits)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       const double*, double*) noexcept nogil
        void (*softmax)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t) noexcept nogil
        void (*hvp_residual_p)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                               const double*) noexcept nogil
        void (*store_proba)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
        void (*load_proba)(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                           double*) noexcept nogil
    int lr_best_level()
    int lr_clamp_level(int level)
    const char* lr_level_name(int level)
    const lr_kernels* lr_select(int level)

ctypedef fused floating:
    float
    double

cdef enum:
    PATH_SIMD = 0
    PATH_GEMM = 1
    PATH_SYRK = 2
    # Segment buffers of one round are kept within this many doubles (64 MiB);
    # more segments than fit are done in further rounds.
    BUFFER_BUDGET = 8 * 1024 * 1024

PATHS = ("simd", "gemm", "syrk")

cdef int _level = lr_best_level()
cdef const lr_kernels* _kern = lr_select(_level)


def openmp_enabled():
    """True when the kernel was compiled with OpenMP (parallel over row segments)."""
    return bool(LOGREG_HAVE_OPENMP)


def openmp_max_threads():
    """OpenMP's thread count for the calling thread's next parallel region
    (``omp_get_max_threads``: ``OMP_NUM_THREADS`` and threadpoolctl's OpenMP
    limits show here); 1 in a serial build."""
    return lr_omp_max_threads()


def simd_level():
    """Instruction set the block kernels run with: 'avx512', 'avx2', 'baseline' or 'scalar'."""
    return lr_level_name(_level).decode()


def _set_simd_level(level):
    """Force an instruction set (tests, measurements); returns the one in effect.

    ``level`` is a name from ``simd_level()`` or None for the best available.
    A level the CPU lacks falls back to the best one it has.
    """
    global _level, _kern
    names = {"scalar": 0, "baseline": 0, "avx2": 1, "avx512": 2}
    want = lr_best_level() if level is None else names[level]
    _level = lr_clamp_level(want)
    _kern = lr_select(_level)
    return simd_level()


# ------------------------------------------------------------------ planning

cdef inline Py_ssize_t _rup(Py_ssize_t x, Py_ssize_t m) noexcept nogil:
    return (x + m - 1) // m * m


# (rows per block, gemm panel width) per route; _plan says when each route runs
# (the figures behind the rule: bench/MEASUREMENTS.md).
_TUNING = {"simd": (256, 0), "gemm": (64, 2048), "syrk": (512, 0)}


def _set_tuning(route, block, panel=0):
    """Override a route's block size (measurements only; shapes still decide segments)."""
    if block % 8 or block <= 0 or (route == "gemm" and panel <= 0):
        raise ValueError("block must be a positive multiple of 8 (and gemm needs a panel)")
    _TUNING[route] = (int(block), int(panel))


# Segments of the pair passes (see _plan): about n / parts rows, at least 4
# blocks; when a segment's result buffer (K p(p+1)/2 doubles) exceeds big_bytes,
# at least big_min_rows rows and an even count.
_SEGMENTS = {"parts": 32, "big_bytes": 256 * 1024, "big_min_rows": 1024}


def _plan(Py_ssize_t n, Py_ssize_t p, Py_ssize_t k, bint pairs=True, path=None):
    """Choose (path, rows per block, gemm panel width, segment bounds) for a shape.

    Everything here depends on the shape (and instruction set) only, never on
    the thread count: that is what keeps results bit-identical across threads.

    The rule, and why (the figures behind it: bench/MEASUREMENTS.md):

    * per-pair ``dsyrk`` on sqrt-scaled blocks when p >= 256 and K <= 8: the
      loops' accumulators (K p(p+1)/2 entries, one per lane: megabytes per
      pair) no longer fit in L2 and are read and written back with every
      block, and the dgemm product has too few columns (below), while each
      dsyrk is one large product that BLAS blocks for the caches;
    * and for one pair (K = 1: binary Hessians, the oracle's Gram matrix) from
      p >= 80: the loops' tiles then hold a single pair, so every load of the
      block feeds one multiply-add and the loops wait on loads; below p = 80,
      or with three pairs or more (k >= 3: tiles that share each load), the
      loops win;
    * the SIMD register-tiled loops while K < 28 (k <= 7): the dgemm product
      U^T V has only K columns, too narrow for OpenBLAS's kernels to run at
      their rate;
    * dgemm panels from K >= 28 on: with that many columns the dgemm outruns
      the loops;
    * tiny products (work = K p(p+1)/2 <= 4096): the loops (no BLAS call overhead);
    * without AVX-512 the loops are half as wide: dgemm from work > 8192.

    Segments: about n / 32 rows, at least 4 blocks, rounded to blocks.  Each
    segment zero-fills, accumulates and reduces its own K p(p+1)/2 doubles, so
    when that buffer is past 256 KiB it no longer stays in L2 (p = 101, k = 10:
    1.85 MB), it lives in L3 or memory and fresh buffers page-fault too: that
    fixed cost is then spread over at least 1024 rows per segment.  The count
    is then even, with the rows split evenly in multiples of 8, so that two
    threads (the development machine's) get equal work: an odd count leaves a
    thread idle while the last segment runs, and one segment has no
    parallelism, so n >= 8 blocks always makes two.
    """
    cdef Py_ssize_t K = k * (k - 1) // 2
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    cdef Py_ssize_t work = K * P2
    if path is None:
        if not pairs or K == 0:
            path = PATH_SIMD
        elif p >= 256 and K <= 8 or K == 1 and p >= 80:
            path = PATH_SYRK
        elif _level == 2 and (K < 28 or work <= 4096):
            path = PATH_SIMD
        elif _level < 2 and work <= 8192:
            path = PATH_SIMD
        else:
            path = PATH_GEMM
    elif isinstance(path, str):
        path = PATHS.index(path)
    block, panel = _TUNING[PATHS[path]]
    seg = max(4 * block, -(-n // _SEGMENTS["parts"]))
    if pairs and K > 0 and work * 8 > _SEGMENTS["big_bytes"]:
        # big segment buffers: at least big_min_rows rows per segment (two
        # segments of 4 blocks when n allows), an even number of near-equal
        # segments (multiples of 8 rows)
        n_seg = n // max(seg, _SEGMENTS["big_min_rows"])
        if n_seg < 2 and n >= 8 * block:
            n_seg = 2
        if n_seg > 1:
            n_seg -= n_seg % 2
        seg = max(8, _rup(-(-n // max(1, n_seg)), 8))
    else:
        seg = max(block, _rup(seg, block))
    bounds = list(range(0, n, seg)) + [n]
    return int(path), int(block), int(panel), bounds


def segment_bounds(Py_ssize_t n, Py_ssize_t p=1, Py_ssize_t k=2):
    """Row boundaries of the segments for an (n, p, k) problem (never depend on threads)."""
    return _plan(n, p, k)[3]


# ------------------------------------------------------------ the segments

cdef struct Work:
    lr_x X
    const double* P            # n x k probabilities (pairs mode), else NULL
    const double* coef         # k x p (fused), else NULL
    const int64_t* y           # n labels (fused), else NULL
    const double* w            # n weights or NULL
    Py_ssize_t p, k, K, P2
    Py_ssize_t block, panel
    int path
    bint fused, want_pairs
    bint pairs_f32             # gemm route: float32 U, V and segment sums (sgemm)
    Py_ssize_t off_grad        # where grad (then loss) start in a segment's output
    const Py_ssize_t* ia       # packed entry e -> (ia[e], ic[e]), ia <= ic
    const Py_ssize_t* ic
    const lr_kernels* kern
    # scratch layout (offsets in doubles from a thread's base)
    Py_ssize_t o_w, o_y, o_PT, o_eta, o_R, o_V, o_acc, o_G, o_loss, o_s, o_Y, o_V32, o_C32


cdef Py_ssize_t _layout(Work* W) noexcept nogil:
    """Fill the scratch offsets; returns doubles per thread (a multiple of 8)."""
    cdef Py_ssize_t b = W.block, p = W.p, k = W.k, K = W.K, P2 = W.P2, o = 0
    cdef Py_ssize_t acc
    cdef bint f32
    o += _rup(p * b, 8)
    W.o_w = o; o += b
    W.o_y = o; o += b
    W.o_PT = o; o += k * b
    W.o_eta = o; o += (k * b if W.fused else 0)
    W.o_R = o; o += (k * b if W.fused else 0)
    W.o_V = o; o += K * b
    W.o_acc = o
    if not W.want_pairs:
        acc = 0
    elif W.path == PATH_SIMD:
        acc = K * P2 * 8
    elif W.path == PATH_GEMM:
        acc = b * W.panel
    else:
        acc = K * p * p
    o += _rup(acc, 8)
    W.o_G = o; o += (_rup(k * p * 8, 8) if W.fused else 0)
    W.o_loss = o; o += 8
    W.o_s = o; o += (b if W.path == PATH_SYRK else 0)
    W.o_Y = o; o += (b * p if W.path == PATH_SYRK else 0)
    # float32 gemm: V rounded (K x b floats) and the segment's sums (P2 x K floats)
    f32 = W.want_pairs and W.pairs_f32 and W.path == PATH_GEMM
    W.o_V32 = o; o += (_rup(K * b, 16) // 2 if f32 else 0)
    W.o_C32 = o; o += (_rup(K * P2, 16) // 2 if f32 else 0)
    return _rup(o + 8, 8)       # + 8: keep threads' buffers a cache line apart


cdef void _segment(const Work* W, Py_ssize_t start, Py_ssize_t stop, double* scratch,
                   double* out) noexcept nogil:
    """out = [pairs (K x P2) | grad (k x p) | loss] of rows start:stop (fused: all three)."""
    cdef const lr_kernels* kern = W.kern
    cdef Py_ssize_t b = W.block, p = W.p, k = W.k, K = W.K, P2 = W.P2
    cdef Py_ssize_t L = kern.lanes
    cdef double* xT = scratch
    cdef double* wv = scratch + W.o_w
    cdef int64_t* yv = <int64_t*>(scratch + W.o_y)
    cdef double* PT = scratch + W.o_PT
    cdef double* eta = scratch + W.o_eta
    cdef double* R = scratch + W.o_R
    cdef double* V = scratch + W.o_V
    cdef double* acc = scratch + W.o_acc
    cdef double* G = scratch + W.o_G
    cdef double* loss = scratch + W.o_loss
    cdef double* s = scratch + W.o_s
    cdef double* Y = scratch + W.o_Y
    cdef float* V32 = <float*>(scratch + W.o_V32)
    cdef float* C32 = <float*>(scratch + W.o_C32)
    cdef bint f32 = W.want_pairs and W.pairs_f32 and W.path == PATH_GEMM
    cdef Py_ssize_t r0, bn, nr, r, q, a, c, e0, e1
    cdef int gm, gn, gk, lda, ldb, ldc
    cdef double one = 1.0
    cdef float one32 = 1.0
    cdef char* T_ = b"T"
    cdef char* N_ = b"N"
    cdef char* U_ = b"U"

    if W.want_pairs:
        if W.path == PATH_SIMD:
            memset(acc, 0, K * P2 * L * sizeof(double))
        elif f32:
            memset(C32, 0, K * P2 * sizeof(float))
        elif W.path == PATH_GEMM:
            memset(out, 0, K * P2 * sizeof(double))
        else:
            memset(acc, 0, K * p * p * sizeof(double))
    if W.fused:
        memset(G, 0, k * p * L * sizeof(double))
        memset(loss, 0, 8 * sizeof(double))

    r0 = start
    while r0 < stop:
        bn = min(b, stop - r0)
        nr = _rup(bn, 8)
        kern.load_x(&W.X, r0, bn, nr, b, xT)
        kern.load_w(W.w, r0, bn, nr, wv)
        if W.fused:
            memcpy(yv, W.y + r0, bn * sizeof(int64_t))
            for r in range(bn, nr):
                yv[r] = -1
            kern.forward(xT, b, nr, p, k, W.coef, yv, wv, eta, PT, R,
                         V if W.want_pairs else NULL, loss)
            kern.accumulate(0, xT, b, nr, NULL, NULL, p, R, k, G)
        else:
            kern.pair_weights(W.P, k, r0, bn, b, nr, wv, PT, V)
        if W.want_pairs:
            if W.path == PATH_SIMD:
                kern.accumulate(1, xT, b, nr, W.ia, W.ic, P2, V, K, acc)
            elif W.path == PATH_GEMM:
                if f32:
                    kern.round_f32(V, K * b, V32)
                gn = <int>K
                gk = <int>nr
                lda = <int>b
                ldb = <int>b
                ldc = <int>P2
                e0 = 0
                while e0 < P2:
                    e1 = min(P2, e0 + W.panel)
                    gm = <int>(e1 - e0)
                    # out (P2 x K column-major) rows e0:e1 += U^T V (f32: into C32)
                    if f32:
                        kern.outer_products_f32(xT, b, nr, W.ia, W.ic, e0, e1, <float*>acc)
                        sgemm(T_, N_, &gm, &gn, &gk, &one32, <float*>acc, &lda, V32, &ldb,
                              &one32, C32 + e0, &ldc)
                    else:
                        kern.outer_products(xT, b, nr, W.ia, W.ic, e0, e1, acc)
                        dgemm(T_, N_, &gm, &gn, &gk, &one, acc, &lda, V, &ldb, &one,
                              out + e0, &ldc)
                    e0 = e1
            else:
                gm = <int>p
                gk = <int>nr
                lda = <int>b
                ldc = <int>p
                for q in range(K):
                    kern.sqrt_row(V + q * b, nr, s)
                    kern.scale_rows(xT, b, nr, p, s, Y)
                    # upper triangle of acc_q (column-major) += Y^T Y
                    dsyrk(U_, T_, &gm, &gk, &one, Y, &lda, &one, acc + q * p * p, &ldc)
        r0 += bn

    if W.want_pairs:
        if f32:
            for e0 in range(K * P2):
                out[e0] = C32[e0]
        elif W.path == PATH_SIMD:
            kern.lane_sum(acc, K * P2, out)
        elif W.path == PATH_SYRK:
            for q in range(K):
                e0 = q * P2
                for a in range(p):
                    for c in range(a, p):
                        out[e0] = acc[q * p * p + a + c * p]
                        e0 += 1
    if W.fused:
        kern.lane_sum(G, k * p, out + W.off_grad)
        kern.lane_sum(loss, 1, out + W.off_grad + k * p)


cdef uintptr_t _data_address(arr) except? 0:
    """The address of ``arr[0, ...]`` (any strides, read-only too), through the
    buffer protocol: ``ndarray.ctypes.data`` builds a ctypes object per call,
    which cost more than a small pass."""
    cdef Py_buffer view
    PyObject_GetBuffer(arr, &view, PyBUF_STRIDES)
    cdef uintptr_t addr = <uintptr_t>view.buf
    PyBuffer_Release(&view)
    return addr


cdef object _aligned_empty(Py_ssize_t n_doubles):
    """A float64 array of n_doubles whose data starts on a 64-byte boundary."""
    raw = np.empty(n_doubles + 8)
    cdef uintptr_t addr = _data_address(raw)
    cdef Py_ssize_t off = ((64 - addr % 64) % 64) // 8
    return raw[off:off + n_doubles]


ctypedef void (*segment_fn)(const void*, Py_ssize_t, Py_ssize_t, double*,
                            double*) noexcept nogil


cdef void _pairs_segment(const void* W, Py_ssize_t start, Py_ssize_t stop, double* scratch,
                         double* out) noexcept nogil:
    _segment(<const Work*>W, start, stop, scratch, out)


cdef object _run(Work* W, bounds, int n_threads, Py_ssize_t n_out):
    """The pair-product / fused segments: see ``_run_segments``."""
    return _run_segments(_pairs_segment, W, _layout(W), bounds, n_threads, n_out)


cdef object _run_segments(segment_fn fn, const void* W, Py_ssize_t ss, bounds, int n_threads,
                          Py_ssize_t n_out):
    """Segments in parallel (``fn`` writes a segment's n_out results; ``ss``
    doubles of scratch per thread), then the fixed-order reduction; returns the
    n_out totals."""
    cdef Py_ssize_t n_seg = len(bounds) - 1
    cdef int T = max(1, min(n_threads, n_seg))
    cdef Py_ssize_t ld_out = _rup(n_out, 8)
    cdef Py_ssize_t n_buf = min(n_seg, max(T, BUFFER_BUDGET // ld_out))
    cdef Py_ssize_t[::1] seg = np.asarray(bounds, dtype=np.intp)
    cdef double[::1] scratch = _aligned_empty(T * ss)
    cdef double[::1] buf = _aligned_empty(n_buf * ld_out)
    total_arr = np.zeros(n_out)
    cdef double[::1] total = total_arr
    cdef double* sp = &scratch[0]
    cdef double* bp = &buf[0]
    cdef double* tp = &total[0]
    cdef Py_ssize_t first, cnt, i, e, j
    cdef double t
    with nogil:
        first = 0
        while first < n_seg:
            cnt = min(n_buf, n_seg - first)
            # threadid() in the loop body: each thread's scratch, no private variable
            for i in prange(cnt, num_threads=T, schedule="dynamic", chunksize=1):
                fn(W, seg[first + i], seg[first + i + 1], sp + threadid() * ss,
                   bp + i * ld_out)
            # ((total + s_first) + s_first+1) + ...: the same sum for any T
            for e in prange(n_out, num_threads=T, schedule="static"):
                t = tp[e]
                for j in range(cnt):
                    t = t + bp[j * ld_out + e]
                tp[e] = t
            first = first + cnt
    return total_arr


_PACKED_INDICES = {}


cdef object _packed_indices(Py_ssize_t p):
    """ia, ic: packed entry e -> (a, c), a <= c, row-wise upper triangle (made once
    per p: np.triu_indices costs more than assembling a small Hessian)."""
    pair = _PACKED_INDICES.get(p)
    if pair is None:
        a, c = np.triu_indices(p)
        pair = (np.ascontiguousarray(a, dtype=np.intp), np.ascontiguousarray(c, dtype=np.intp))
        for index in pair:
            index.flags.writeable = False
        _PACKED_INDICES[p] = pair
    return pair


cdef void _init_x(lr_x* x, const floating[:, :] X, bint fit_intercept):
    x.data = <const char*>&X[0, 0]
    x.s0 = X.strides[0]
    x.s1 = X.strides[1]
    x.d = X.shape[1]
    x.f32 = floating is float
    x.fit_intercept = fit_intercept


# ------------------------------------------------------- the block passes
#
# The Hessian-vector product (and the loss + gradient without pairs) in one
# pass: per block of rows, copied feature-major into scratch by ``load_x``
# (float32 widened, any strides; the intercept a row of ones), the logits of
# the m stacked coefficient rows, softmax and residual R in SIMD loops, then
# G += R^T X_b.  Both products by SIMD loops or dgemm, by shape (_block_plan).
# Float64 X goes through the scratch copy too, rather than to the dgemms in
# place: the copy is one contiguous feature-major block with a short leading
# dimension, which both products read while it is in cache; in place the
# dgemms would take a transposed operand (C order) or columns n doubles apart
# (F order, ld = n), both slower for them to pack and stream.  F order with
# few features is the one layout that reads faster in place; the copy still
# serves it, so that every dtype and order takes one code path (float32 needs
# the widening copy anyway).

# Rows per block: the block (rows x p) and its logits (rows x m) take about
# "bytes", so the second product reads the block from L2.  256 KiB sits in the
# middle of a range where the size hardly matters; much smaller blocks pay the
# per-block costs (loads, calls, BLAS set-up) too often.
_BLOCK_PASS = {"bytes": 256 * 1024, "min": 64, "max": 2048}


def _block_plan(Py_ssize_t n, Py_ssize_t p, Py_ssize_t k, Py_ssize_t m, route=None):
    """(rows per block, logits by SIMD loops, R^T X_b by SIMD loops, segment bounds)
    of a block pass with m stacked rows of (k x p) coefficients.

    Depends on the shape and instruction set only, never on the thread count.
    ``route`` forces 'gemm' (both products by dgemm) or 'simd' (both by loops).

    The rule, and why (the figures behind it: bench/MEASUREMENTS.md):

    * AVX-512 logits by the loops: four coefficient rows share each load of
      the block, while a dgemm with so few columns (m = k or 2k) runs below
      its rate (as U^T V in ``_plan``); the loops beat or tie it from narrow
      to wide shapes;
    * R^T X_b by the register-tiled loops while their lane accumulators
      (k p lanes doubles) stay within 1 MiB, i.e. in a core's L2; beyond that
      they spill and the dgemm wins;
    * without AVX-512 the loops are half as wide: the logits go to the dgemm,
      and R^T X_b keeps the same 1 MiB rule.
    """
    cdef Py_ssize_t block = _BLOCK_PASS["bytes"] // (8 * (p + m))
    cdef int lanes = _kern.lanes
    block = min(_BLOCK_PASS["max"], max(_BLOCK_PASS["min"], block))
    # an odd multiple of 8 rows: the rows of the feature-major block must not
    # be a power-of-two multiple of 4 KiB apart (cache-set aliasing: such rows
    # map to the same few cache sets and evict one another)
    block = block // 16 * 16 + 8
    seg = _rup(max(4 * block, -(-n // 32)), block)
    if route is None:
        loop_logits = _level == 2
        loop_acc = k * p * lanes * 8 <= (1 << 20)
    else:
        loop_logits = loop_acc = route == "simd"
    return int(block), bool(loop_logits), bool(loop_acc), list(range(0, n, seg)) + [n]


cdef struct BWork:
    lr_x X
    const double* C            # m x p row-major: [coef; vector] (hvp) or coef
    const int64_t* y           # labels (loss + gradient) or NULL
    const double* w            # n weights or NULL
    float* proba               # n x k float32 probabilities of coef, or NULL
    Py_ssize_t p, k, m, block
    bint hvp
    bint fill                  # with proba: write it (else read it; hvp only)
    bint loop_logits, loop_acc
    const lr_kernels* kern
    Py_ssize_t o_w, o_y, o_eta, o_loss, o_G, o_P


cdef Py_ssize_t _block_layout(BWork* W) noexcept nogil:
    """Scratch offsets of a block pass; returns doubles per thread."""
    cdef Py_ssize_t b = W.block, o = 0
    o += _rup(W.p * b, 8)
    W.o_w = o; o += b
    W.o_y = o; o += b
    W.o_eta = o; o += W.m * b
    W.o_loss = o; o += 8
    W.o_G = o; o += (_rup(W.k * W.p * 8, 8) if W.loop_acc else 0)
    W.o_P = o; o += (W.k * b if W.proba != NULL and not W.hvp else 0)
    return _rup(o + 8, 8)


cdef inline void _logits(const BWork* W, const double* xT, Py_ssize_t nr, const double* C,
                         Py_ssize_t m, double* eta) noexcept nogil:
    """eta (nr x m, class-major, ld block) = xT C^T for m rows of C (m x p row-major)."""
    cdef int gm, gn, gk, lda, ldb, ldc
    cdef double one = 1.0, zero = 0.0
    cdef char* N_ = b"N"
    if W.loop_logits:
        W.kern.logits(xT, W.block, nr, W.p, m, C, eta)
    else:
        # C^T is column-major (p x m)
        gm = <int>nr
        gn = <int>m
        gk = <int>W.p
        lda = <int>W.block
        ldb = <int>W.p
        ldc = <int>W.block
        dgemm(N_, N_, &gm, &gn, &gk, &one, <double*>xT, &lda, <double*>C, &ldb, &zero,
              eta, &ldc)


cdef void _block_segment(const void* Wv, Py_ssize_t start, Py_ssize_t stop,
                         double* scratch, double* out) noexcept nogil:
    """out = [G (k x p) | loss] of rows start:stop, G = R^T [X, 1] with R the
    residual of the Hessian-vector product or of the loss."""
    cdef const BWork* W = <const BWork*>Wv
    cdef const lr_kernels* kern = W.kern
    cdef Py_ssize_t b = W.block, p = W.p, k = W.k, m = W.m
    cdef double* xT = scratch
    cdef double* wv = scratch + W.o_w
    cdef int64_t* yv = <int64_t*>(scratch + W.o_y)
    cdef double* eta = scratch + W.o_eta
    cdef double* loss = scratch + W.o_loss
    cdef double* G = scratch + W.o_G
    cdef double* R = eta + (k * b if W.hvp else 0)
    cdef Py_ssize_t r0, bn, nr, j
    cdef int gm, gn, gk, lda, ldb, ldc
    cdef double one = 1.0
    cdef char* T_ = b"T"
    cdef char* N_ = b"N"

    memset(out, 0, (k * p + 1) * sizeof(double))
    memset(loss, 0, 8 * sizeof(double))
    if W.loop_acc:
        memset(G, 0, k * p * kern.lanes * sizeof(double))
    r0 = start
    while r0 < stop:
        bn = min(b, stop - r0)
        nr = _rup(bn, 8)
        # the block feature-major, column-major (nr x p, ld b): rows past the
        # data are zero (weight zero), the intercept's row of ones is row d
        kern.load_x(&W.X, r0, bn, nr, b, xT)
        kern.load_w(W.w, r0, bn, nr, wv)
        if W.hvp and W.proba != NULL:
            # probabilities of coef (rows 0..k-1): computed and rounded into
            # the cache, or read from it; then s = V x (rows k..2k-1).  The
            # logits of coef and of V are separate products of k rows, so a
            # product that fills the cache and one that reads it are the same
            # arithmetic.
            if W.fill:
                _logits(W, xT, nr, W.C, k, eta)
                kern.softmax(eta, b, nr, k)
                kern.store_proba(eta, b, bn, k, W.proba + r0 * k)
            else:
                kern.load_proba(W.proba + r0 * k, b, bn, nr, k, eta)
            _logits(W, xT, nr, W.C + k * p, k, eta + k * b)
            kern.hvp_residual_p(eta, b, nr, k, wv)
        else:
            # logits (nr x m, class-major, ld b) = xT C^T
            _logits(W, xT, nr, W.C, m, eta)
            if W.hvp:
                kern.hvp_residual(eta, b, nr, k, wv)
            else:
                memcpy(yv, W.y + r0, bn * sizeof(int64_t))
                for j in range(bn, nr):
                    yv[j] = -1
                if W.proba != NULL:
                    # the probabilities for the Hessian-vector products at
                    # this coef: as a filling product rounds them
                    kern.lg_residual(eta, b, nr, k, yv, wv, loss, scratch + W.o_P)
                    kern.store_proba(scratch + W.o_P, b, bn, k, W.proba + r0 * k)
                else:
                    kern.lg_residual(eta, b, nr, k, yv, wv, loss, NULL)
        # G (p x k, column-major = k x p row-major) += xT^T R, R (nr x k, ld b)
        if W.loop_acc:
            kern.accumulate(0, xT, b, nr, NULL, NULL, p, R, k, G)
        else:
            gm = <int>p
            gn = <int>k
            gk = <int>nr
            lda = <int>b
            ldb = <int>b
            ldc = <int>p
            dgemm(T_, N_, &gm, &gn, &gk, &one, xT, &lda, R, &ldb, &one, out, &ldc)
        r0 += bn
    if W.loop_acc:
        kern.lane_sum(G, k * p, out)
    if not W.hvp:
        kern.lane_sum(loss, 1, out + k * p)


cdef object _block_pass(BWork* W, Py_ssize_t n, int n_threads, route):
    """Run a block pass over n rows; returns the (k p + 1) totals."""
    if W.p >= 2 ** 31 or W.m >= 2 ** 31:
        raise ValueError("p and the number of coefficient rows must be below 2**31 (BLAS ints).")
    W.block, W.loop_logits, W.loop_acc, bounds = _block_plan(n, W.p, W.k, W.m, route)
    return _run_segments(_block_segment, W, _block_layout(W), bounds, n_threads, W.k * W.p + 1)


cdef const double* _weights(sample_weight):
    """The data of a C-ordered float64 weight vector, or NULL for None (unit
    weights); the caller keeps ``sample_weight`` alive for the pass."""
    cdef const double[::1] view
    if sample_weight is None:
        return NULL
    view = sample_weight
    return &view[0]


cdef void _init_bwork(BWork* W, const floating[:, :] X, sample_weight, bint fit_intercept,
                      const double[:, ::1] C, Py_ssize_t k):
    """Everything but the mode (hvp, y) and the plan."""
    _init_x(&W.X, X, fit_intercept)
    W.p = X.shape[1] + fit_intercept
    W.k = k
    W.m = C.shape[0]
    W.C = &C[0, 0]
    W.y = NULL
    W.w = _weights(sample_weight)
    W.proba = NULL
    W.fill = False
    W.kern = _kern


# ------------------------------------------------------------------- public

def pair_products(const floating[:, :] X, const double[:, ::1] P, sample_weight,
                  bint fit_intercept, int n_threads, path=None, bint pairs_f32=False):
    """Packed pair products ``M_ij`` (i < j), shape ``(K, p(p+1)/2)``.

    Row ``q`` enumerates pairs (0,1), (0,2), ..., (k-2,k-1); column ``e`` the
    row-wise packed upper triangle of a ``p x p`` matrix.  ``P`` is C-ordered
    float64, ``sample_weight`` None or a C-ordered float64 vector.  ``path``
    forces 'simd', 'gemm' or 'syrk' (tests); None picks by shape.
    ``pairs_f32``: on the gemm route, float32 products and segment sums
    (relative error ~1e-6: for approximate Hessians); other routes ignore it.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t p = X.shape[1] + fit_intercept
    cdef Py_ssize_t k = P.shape[1]
    cdef Work W
    cdef const Py_ssize_t[::1] ia, ic
    W.K = k * (k - 1) // 2
    W.P2 = p * (p + 1) // 2
    if W.K == 0 or n == 0:
        return np.zeros((W.K, W.P2))
    W.path, W.block, W.panel, bounds = _plan(n, p, k, True, path)
    _init_x(&W.X, X, fit_intercept)
    W.P = &P[0, 0]
    W.coef = NULL
    W.y = NULL
    W.w = _weights(sample_weight)
    W.p = p
    W.k = k
    W.fused = False
    W.want_pairs = True
    W.pairs_f32 = pairs_f32
    W.off_grad = W.K * W.P2
    ia_arr, ic_arr = _packed_indices(p)
    ia = ia_arr
    ic = ic_arr
    W.ia = &ia[0]
    W.ic = &ic[0]
    W.kern = _kern
    total = _run(&W, bounds, n_threads, W.K * W.P2)
    return total.reshape(W.K, W.P2)


def loss_gradient_pairs(const floating[:, :] X, const Py_ssize_t[::1] y_codes, sample_weight,
                        const double[:, ::1] coef, bint fit_intercept, int n_threads,
                        bint with_pairs=True, path=None, float[:, ::1] proba=None,
                        bint pairs_f32=False):
    """Loss, gradient and pair products of the weighted multinomial cross-entropy, one pass.

    Parameters
    ----------
    X : (n, d) float32 or float64, any strides (read in place, never copied)
    y_codes : (n,) intp, class codes in ``0 .. k-1``
    sample_weight : None or (n,) C-ordered float64, >= 0
    coef : (k, p) C-ordered float64, ``p = d + fit_intercept``; with an
        intercept its last column is the intercept
    fit_intercept : bool
    n_threads : int
    with_pairs : bool
        False skips the Hessian part (``pairs`` is then None).
    path : None or 'simd' / 'gemm' / 'syrk' (forces the pair-product route).
        Without pairs: None or 'blocks' is the block pass of the
        Hessian-vector product (``_loss_gradient_route``), 'gemm' the block
        pass with both products by dgemm, 'simd' (or 'syrk') the fused loops.
    proba : None or (n, k) C-ordered float32, without pairs and on the block
        pass only: receives the probabilities at ``coef`` exactly as
        ``hessian_vector_product(..., proba, fill=True)`` writes them, so that
        the products at this ``coef`` can read them.
    pairs_f32 : bool
        The pair products in float32 on the gemm route (``pair_products``).

    Returns
    -------
    loss : float
        ``sum_n w_n (logsumexp_i eta_ni - eta_n,y_n)`` with
        ``eta_n = coef @ [x_n, 1]`` (log-sum-exp: never overflows).
        Not normalised, no penalty.
    grad : (k, p) float64
        ``sum_n w_n (p_n - onehot(y_n)) x_n^T``.
    pairs : (K, p(p+1)/2) float64 or None
        As ``pair_products`` with ``P = softmax(eta)``; the Hessian is
        ``hessian_from_pairs(pairs, k, p, out)``.

    Binary logistic regression is the case ``k = 2`` with ``coef = [0, beta]``:
    ``p_1 = sigmoid(x . beta)``, ``grad[1]`` is the binary gradient and
    ``pairs[0]`` (= ``sum w p_0 p_1 x x^T``) the binary Hessian.  Every result
    is bit-for-bit the same for any ``n_threads``.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t p = X.shape[1] + fit_intercept
    cdef Py_ssize_t k = coef.shape[0]
    cdef Work W
    cdef const Py_ssize_t[::1] ia, ic
    if coef.shape[1] != p:
        raise ValueError(f"coef must have shape ({k}, {p}); got ({k}, {coef.shape[1]}).")
    if y_codes.shape[0] != n:
        raise ValueError(f"y_codes has {y_codes.shape[0]} entries but X has {n} rows.")
    if sizeof(Py_ssize_t) != sizeof(int64_t):
        raise RuntimeError("loss_gradient_pairs needs a 64-bit platform.")
    W.K = k * (k - 1) // 2
    W.P2 = p * (p + 1) // 2
    W.p = p
    W.k = k
    W.fused = True
    W.want_pairs = with_pairs and W.K > 0
    W.pairs_f32 = pairs_f32
    if n == 0:
        return 0.0, np.zeros((k, p)), (np.zeros((W.K, W.P2)) if with_pairs else None)
    route = _loss_gradient_route(n, p, k, path) if not with_pairs else "fused"
    if proba is not None:
        if route == "fused":
            raise ValueError("proba needs the block pass (with_pairs=False, path None, "
                             "'blocks' or 'gemm').")
        if proba.shape[0] != n or proba.shape[1] != k:
            raise ValueError(f"proba must have shape ({n}, {k}); got "
                             f"({proba.shape[0]}, {proba.shape[1]}).")
    if route != "fused":
        return _loss_gradient_blocks(X, y_codes, sample_weight, coef, fit_intercept, n_threads,
                                     None if route == "blocks" else "gemm", proba)
    W.path, W.block, W.panel, bounds = _plan(n, p, k, W.want_pairs, path)
    _init_x(&W.X, X, fit_intercept)
    W.P = NULL
    W.coef = &coef[0, 0]
    W.y = <const int64_t*>&y_codes[0]
    W.w = _weights(sample_weight)
    ia_arr, ic_arr = _packed_indices(p)
    ia = ia_arr
    ic = ic_arr
    W.ia = &ia[0]
    W.ic = &ic[0]
    W.kern = _kern
    W.off_grad = W.K * W.P2 if W.want_pairs else 0
    total = _run(&W, bounds, n_threads, W.off_grad + k * p + 1)
    off = W.off_grad
    if not with_pairs:
        pairs = None
    elif W.want_pairs:
        pairs = total[:off].reshape(W.K, W.P2)
    else:
        pairs = np.zeros((W.K, W.P2))
    grad = total[off:off + k * p].reshape(k, p)
    return float(total[off + k * p]), grad, pairs


def _loss_gradient_route(Py_ssize_t n, Py_ssize_t p, Py_ssize_t k, path=None):
    """How a loss + gradient pass without pairs runs: 'blocks' (the block pass
    of the Hessian-vector product, products as ``_block_plan`` picks), 'gemm'
    (the block pass, both products by dgemm) or 'fused' (the fused loops of
    ``_segment``, the pass with pairs minus the pairs).

    Rule: always the block pass (``path`` forces a route): it is never slower
    than the fused loops, from tiny to wide shapes.  The fused loops are the
    same arithmetic in 256-row blocks, whose feature rows are 2 KiB apart and
    alias in the caches; most of the block pass's gain is its block size,
    free of that aliasing, and its loop products (``_block_plan``).  The
    figures: bench/MEASUREMENTS.md.
    """
    if p == 0 or k == 0:
        return "fused"
    if path is None or path == "blocks":
        return "blocks"
    return "gemm" if path == "gemm" else "fused"


cdef object _loss_gradient_blocks(const floating[:, :] X, const Py_ssize_t[::1] y_codes,
                                  sample_weight, const double[:, ::1] coef,
                                  bint fit_intercept, int n_threads, route=None,
                                  float[:, ::1] proba=None):
    """Loss and gradient through the block pass (logits, softmax, loss and
    residual P - Y in SIMD loops, R^T X_b; see ``_block_plan``); the
    probabilities rounded to float32 into ``proba`` when given."""
    cdef Py_ssize_t k = coef.shape[0], p = coef.shape[1]
    cdef BWork W
    _init_bwork(&W, X, sample_weight, fit_intercept, coef, k)
    W.hvp = False
    W.y = <const int64_t*>&y_codes[0]
    if proba is not None:
        W.proba = &proba[0, 0]
        W.fill = True
    total = _block_pass(&W, X.shape[0], n_threads, route)
    return float(total[k * p]), total[:k * p].reshape(k, p), None


def hessian_vector_product(const floating[:, :] X, sample_weight, const double[:, ::1] coef,
                           const double[:, ::1] vector, bint fit_intercept, int n_threads,
                           route=None, float[:, ::1] proba=None, bint fill=False):
    """``H(coef) @ vector`` of the weighted multinomial cross-entropy, ``(k, p)``, one pass.

    ``(H v)_i = sum_n w_n x_n p_ni (s_ni - sum_j p_nj s_nj)`` with
    ``s_n = V x_n`` and ``x_n = [x_n, 1]`` when ``fit_intercept``; ``coef`` and
    ``vector`` are (k, p) C-ordered float64 softmax rows (binary: k = 2 rows
    ``[0, beta]``); ``sample_weight`` None or C-ordered float64.  X
    float32/float64 in any order, never copied as a whole (a row block at a
    time into per-thread scratch).  Per row block: the logits of
    ``[coef; vector]`` (2k rows, one product), softmax and residual in SIMD
    loops, ``R^T X_b`` (one product); each product by SIMD loops or dgemm as
    ``_block_plan`` picks, or as ``route`` ('simd' / 'gemm') forces.  Nothing
    of size n x k; bit-for-bit the same for any ``n_threads``.

    ``proba``: None, or an (n, k) C-ordered float32 buffer of the probabilities
    at ``coef`` (the caller's cache: ``_kernel.ProbaCache``).  ``fill=True``
    writes the softmax of the logits of ``coef``, rounded to float32, into it;
    ``fill=False`` reads it instead of computing the logits of ``coef`` and the
    softmax (a third of the flops).  Either way the product is computed with
    the rounded probabilities, each row renormalised in float64 (exactly the
    Hessian at probabilities within float32 rounding of ``softmax(coef x)``:
    symmetric PSD, zero along constant directions), so filling and reading
    give bit-identical products.  The buffer must belong to the same X,
    ``fit_intercept`` and ``coef``: that is the caller's bookkeeping.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t p = X.shape[1] + fit_intercept
    cdef Py_ssize_t k = coef.shape[0]
    cdef BWork W
    cdef const double[:, ::1] both
    if coef.shape[1] != p or vector.shape[0] != k or vector.shape[1] != p:
        raise ValueError(f"coef and vector must have shape ({k}, {p}); got ({k}, "
                         f"{coef.shape[1]}) and ({vector.shape[0]}, {vector.shape[1]}).")
    if n == 0 or p == 0 or k == 0:
        return np.zeros((k, p))
    if proba is not None and (proba.shape[0] != n or proba.shape[1] != k):
        raise ValueError(f"proba must have shape ({n}, {k}); got "
                         f"({proba.shape[0]}, {proba.shape[1]}).")
    both = np.concatenate([coef, vector])
    _init_bwork(&W, X, sample_weight, fit_intercept, both, k)
    W.hvp = True
    if proba is not None:
        W.proba = &proba[0, 0]
        W.fill = fill
    total = _block_pass(&W, n, n_threads, route)
    return total[:k * p].reshape(k, p)


# ------------------------------------------------------- input validation

cdef enum:
    # Validation runs in parallel only from this many elements: below it,
    # starting a thread team costs more than splitting the pass saves.  The
    # threshold lies between the largest arrays one thread checks faster and
    # the smallest two threads check faster, for both checks; a much higher one
    # would leave arrays that two threads check in half the time to one.
    PARALLEL_CHECK_MIN = 1 << 16


def all_finite(a, int n_threads=1):
    """True when the 1-D or 2-D float32/float64 array ``a`` (any strides) has no NaN/inf.

    One pass, SIMD, parallel over row chunks for large arrays; no temporaries.
    """
    arr = np.asarray(a)
    if arr.dtype != np.float64 and arr.dtype != np.float32 or arr.ndim > 2:
        return bool(np.isfinite(arr).all())
    if arr.size == 0:
        return True
    if arr.ndim == 1:
        arr = arr[:, None]
    cdef const char* data = <const char*>_data_address(arr)
    cdef Py_ssize_t nr = arr.shape[0], d = arr.shape[1]
    cdef Py_ssize_t s0 = arr.strides[0], s1 = arr.strides[1]
    cdef int f32 = arr.dtype == np.float32
    cdef int T = n_threads if arr.size >= PARALLEL_CHECK_MIN else 1
    cdef Py_ssize_t n_chunks = max(1, min(64, nr // 4096)) if T > 1 else 1
    cdef Py_ssize_t c, r0, r1
    cdef int ok = 1
    cdef const lr_kernels* kern = _kern
    with nogil:
        for c in prange(n_chunks, num_threads=T, schedule="static"):
            r0 = nr * c // n_chunks
            r1 = nr * (c + 1) // n_chunks
            ok &= kern.all_finite(data + r0 * s0, r1 - r0, d, s0, s1, f32)
    return bool(ok)


def proba_stats(const double[:, ::1] P, int n_threads=1):
    """``(all finite, min, max, max_n |sum_i P[n, i] - 1|)`` of C-ordered probabilities, one pass."""
    cdef Py_ssize_t n = P.shape[0], k = P.shape[1]
    cdef int T = n_threads if n * k >= PARALLEL_CHECK_MIN else 1
    cdef Py_ssize_t n_chunks = max(1, min(64, n // 4096)) if T > 1 else 1
    cdef double[:, ::1] part = np.empty((n_chunks, 4))
    cdef Py_ssize_t c, r, i, r0, r1
    cdef double v, s, lo, hi, worst, zero
    if n == 0 or k == 0:
        return True, 0.0, 0.0, 0.0
    with nogil:
        for c in prange(n_chunks, num_threads=T, schedule="static"):
            r0 = n * c // n_chunks
            r1 = n * (c + 1) // n_chunks
            lo = P[r0, 0]
            hi = P[r0, 0]
            worst = 0.0
            zero = 0.0
            for r in range(r0, r1):
                s = 0.0
                for i in range(k):
                    v = P[r, i]
                    s = s + v
                    zero = zero + v * 0.0
                    lo = min(lo, v)
                    hi = max(hi, v)
                worst = max(worst, fabs(s - 1.0))
            part[c, 0] = zero
            part[c, 1] = lo
            part[c, 2] = hi
            part[c, 3] = worst
    res = np.asarray(part)
    finite = bool(np.all(res[:, 0] == 0.0))
    return finite, float(res[:, 1].min()), float(res[:, 2].max()), float(res[:, 3].max())


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


def hessian_from_pairs(const double[:, ::1] pairs, Py_ssize_t k, Py_ssize_t p,
                       double[:, ::1] out):
    """Fill ``out`` (k p x k p) with the full class-major Hessian."""
    with nogil:
        _assemble(&pairs[0, 0], k, p, out)
