# cython: language_level=3
"""Data passes over a sparse X: a canonical CSR matrix plus a CSC index of it.

Every pass is split into a *row phase* and a *column phase*, so that no
thread ever shares an accumulator and no reduction depends on the thread
count (results are bit-for-bit the same for any ``n_threads``):

* row phase (CSR, ``prange`` over fixed row blocks): per row the logits
  ``eta = x coef^T``, the softmax, the per-row loss, the weighted residual
  ``R`` (``n x k``) and, when wanted, the pair weights ``V`` (``n x K``,
  ``w p_i p_j`` for ``i < j``).  Losses are summed per block, then over
  blocks in block order.
* column phase (CSC index, ``prange`` over columns): column ``a`` owns row
  ``a`` of the outputs -- of ``X^T R`` and of the packed pair products
  ``M_ij[a, c >= a]`` -- so threads write disjoint entries, each in the
  fixed order of the column's rows.

The CSC index (``cindptr``, ``crows``, ``cpos``) lists, column by column, the
rows of the non-zeros and their positions in the CSR arrays: the values are
read from the CSR ``data`` (nothing of X is duplicated but the index).

Pair products from each row's sparse outer product: for the entry ``(n, a)``
the row's entries ``c >= a`` (CSR order: indices are sorted) give
``x_na x_nc V_n`` -- ``nnz_n (nnz_n + 1) / 2`` updates of ``K`` entries per
row instead of ``p (p + 1) / 2``.  They are stored *entry-major*
(``(P2, K)``, ``P2 = p (p + 1) / 2`` row-wise packed upper triangle), so
that the ``K`` pairs of one entry are contiguous and column ``a``'s slab of
the output, ``(p - a) K`` doubles, stays in cache while its rows stream by.

The intercept is a virtual last column of ones: never stored.

The kernel trusts its inputs (``logreg._validation.check_X_sparse``):
canonical CSR (sorted indices, no duplicates), float32/float64 values,
int32/int64 indices, all finite.  Index arithmetic is 64-bit.
"""
from cython.parallel cimport prange
from libc.math cimport exp, log
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc

cimport cython
import numpy as np

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused data_t:
    float
    double

cdef enum:
    # rows per block of the row phase: the unit of parallel work and of the
    # fixed-order loss reduction
    ROW_BLOCK = 512


cdef inline Py_ssize_t _packed_row(Py_ssize_t a, Py_ssize_t p) noexcept nogil:
    """Offset of row ``a`` in the row-wise packed upper triangle of a ``p x p`` matrix."""
    return a * p - (a * (a - 1)) // 2


cdef inline double _softmax_row(double* eta, Py_ssize_t k) noexcept nogil:
    """In place ``eta <- softmax(eta)``; returns ``logsumexp(eta)``."""
    cdef Py_ssize_t i
    cdef double m = eta[0], s = 0.0, lse
    for i in range(1, k):
        if eta[i] > m:
            m = eta[i]
    for i in range(k):
        eta[i] = exp(eta[i] - m)
        s = s + eta[i]
    lse = m + log(s)
    for i in range(k):
        eta[i] = eta[i] / s
    return lse


cdef inline void _row_logits(const index_t* indptr, const index_t* indices,
                             const data_t* data, Py_ssize_t row, const double* coef_t,
                             Py_ssize_t d, Py_ssize_t k, bint fit_intercept,
                             double* eta) noexcept nogil:
    """``eta = x_row coef^T`` (+ intercepts), ``coef_t`` the ``(p, k)`` transpose."""
    cdef Py_ssize_t i, e, a
    cdef double v
    for i in range(k):
        eta[i] = coef_t[d * k + i] if fit_intercept else 0.0
    for e in range(indptr[row], indptr[row + 1]):
        a = indices[e]
        v = data[e]
        for i in range(k):
            eta[i] = eta[i] + v * coef_t[a * k + i]


cdef inline double _sum_blocks(const double* partial, Py_ssize_t n_blocks,
                               Py_ssize_t stride) noexcept nogil:
    cdef Py_ssize_t b
    cdef double total = 0.0
    for b in range(n_blocks):
        total = total + partial[b * stride]
    return total


def row_statistics(const index_t[::1] indptr, const index_t[::1] indices,
                   const data_t[::1] data, const Py_ssize_t[::1] y, sample_weight,
                   const double[:, ::1] coef_t, bint fit_intercept,
                   double[:, ::1] R, V, P, int n_threads):
    """Row phase of a statistics pass; returns ``sum_n w_n CE_n``.

    Fills ``R`` ``(n, k)`` with ``w_n (p_ni - [i = y_n])`` (the true class's
    entry as ``-sum_{j != y} p_nj``: no ``p - 1`` cancellation), ``V``
    ``(n, K)`` (or None) with ``w_n p_ni p_nj`` (i < j) and ``P`` ``(n, k)``
    (or None) with the probabilities.  ``coef_t`` is ``(p, k)``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = coef_t.shape[1]
    cdef Py_ssize_t d = coef_t.shape[0] - fit_intercept
    cdef Py_ssize_t K = k * (k - 1) // 2
    cdef Py_ssize_t n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    cdef bint want_v = V is not None, want_p = P is not None
    cdef double[:, ::1] Vm = V if want_v else np.empty((1, 1))
    cdef double[:, ::1] Pm = P if want_p else np.empty((1, 1))
    partial_arr = np.zeros(n_blocks * 8)      # one cache line per block
    cdef double[::1] partial = partial_arr
    cdef Py_ssize_t blk, row, i, j, q, yr
    cdef double* eta
    cdef double lse, w, acc, rest
    with nogil:
        for blk in prange(n_blocks, num_threads=max(1, n_threads), schedule="dynamic"):
            eta = <double*>malloc(k * sizeof(double))
            acc = 0.0
            for row in range(blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK)):
                _row_logits(&indptr[0], &indices[0], &data[0], row, &coef_t[0, 0], d, k,
                            fit_intercept, eta)
                yr = y[row]
                w = wv[row] if weighted else 1.0
                rest = eta[yr]
                lse = _softmax_row(eta, k)
                acc = acc + w * (lse - rest)
                rest = 0.0
                for i in range(k):
                    if i != yr:
                        R[row, i] = w * eta[i]
                        rest = rest + eta[i]
                R[row, yr] = -w * rest
                if want_p:
                    for i in range(k):
                        Pm[row, i] = eta[i]
                if want_v:
                    q = 0
                    for i in range(k):
                        for j in range(i + 1, k):
                            Vm[row, q] = w * eta[i] * eta[j]
                            q = q + 1
            partial[blk * 8] = acc
            free(eta)
        acc = _sum_blocks(&partial[0], n_blocks, 8)
    return acc


def hvp_residuals(const index_t[::1] indptr, const index_t[::1] indices,
                  const data_t[::1] data, sample_weight, const double[:, ::1] coef_t,
                  const double[:, ::1] vector_t, bint fit_intercept, double[:, ::1] P,
                  bint fill, double[:, ::1] R, int n_threads):
    """Row phase of a Hessian-vector product: ``R_ni = w_n p_ni (s_ni - sum_j p_nj s_nj)``
    with ``s_n = x_n V^T``; ``P`` ``(n, k)`` holds the probabilities at ``coef``
    (``fill``: computed here and written to it first)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = coef_t.shape[1]
    cdef Py_ssize_t d = coef_t.shape[0] - fit_intercept
    cdef Py_ssize_t n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    cdef Py_ssize_t blk, row, i
    cdef double* s
    cdef double w, ps
    with nogil:
        for blk in prange(n_blocks, num_threads=max(1, n_threads), schedule="dynamic"):
            s = <double*>malloc(k * sizeof(double))
            for row in range(blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK)):
                if fill:
                    _row_logits(&indptr[0], &indices[0], &data[0], row, &coef_t[0, 0], d,
                                k, fit_intercept, s)
                    _softmax_row(s, k)
                    for i in range(k):
                        P[row, i] = s[i]
                _row_logits(&indptr[0], &indices[0], &data[0], row, &vector_t[0, 0], d, k,
                            fit_intercept, s)
                w = wv[row] if weighted else 1.0
                ps = 0.0
                for i in range(k):
                    ps = ps + P[row, i] * s[i]
                for i in range(k):
                    R[row, i] = w * P[row, i] * (s[i] - ps)
            free(s)
    return R


def losses_along(const index_t[::1] indptr, const index_t[::1] indices,
                 const data_t[::1] data, const Py_ssize_t[::1] y, sample_weight,
                 const double[:, ::1] coef_t, const double[:, ::1] direction_t,
                 const double[::1] steps, bint fit_intercept, int n_threads):
    """``sum_n w_n CE_n`` at ``coef + t direction`` for each ``t`` in ``steps``
    (logits of both from one read of each row; a log-sum-exp per step)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = coef_t.shape[1]
    cdef Py_ssize_t d = coef_t.shape[0] - fit_intercept
    cdef Py_ssize_t m = steps.shape[0]
    cdef Py_ssize_t n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t stride = ((m + 7) // 8) * 8
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    partial_arr = np.zeros(max(1, n_blocks * stride))
    cdef double[::1] partial = partial_arr
    out_arr = np.zeros(m)
    cdef double[::1] out = out_arr
    cdef Py_ssize_t blk, row, i, t, yr
    cdef double* buf
    cdef double w, lse, zy
    with nogil:
        for blk in prange(n_blocks, num_threads=max(1, n_threads), schedule="dynamic"):
            buf = <double*>malloc(3 * k * sizeof(double))
            for row in range(blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK)):
                _row_logits(&indptr[0], &indices[0], &data[0], row, &coef_t[0, 0], d, k,
                            fit_intercept, buf)
                _row_logits(&indptr[0], &indices[0], &data[0], row, &direction_t[0, 0], d,
                            k, fit_intercept, buf + k)
                yr = y[row]
                w = wv[row] if weighted else 1.0
                for t in range(m):
                    for i in range(k):
                        buf[2 * k + i] = buf[i] + steps[t] * buf[k + i]
                    zy = buf[2 * k + yr]
                    lse = _softmax_row(buf + 2 * k, k)
                    partial[blk * stride + t] += w * (lse - zy)
            free(buf)
        for t in range(m):
            out[t] = _sum_blocks(&partial[t], n_blocks, stride)
    return out_arr


def xt_product(const Py_ssize_t[::1] cindptr, const Py_ssize_t[::1] crows,
               const Py_ssize_t[::1] cpos, const data_t[::1] data,
               const double[:, ::1] R, bint fit_intercept, int n_threads):
    """Column phase: ``[X, 1]^T R``, ``(p, k)``; column ``a`` owns output row ``a``."""
    cdef Py_ssize_t d = cindptr.shape[0] - 1, n = R.shape[0], k = R.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    out_arr = np.zeros((p, k))
    cdef double[:, ::1] out = out_arr
    cdef Py_ssize_t a, t, i, row
    cdef double v
    with nogil:
        for a in prange(d, num_threads=max(1, n_threads), schedule="dynamic", chunksize=8):
            for t in range(cindptr[a], cindptr[a + 1]):
                row = crows[t]
                v = data[cpos[t]]
                for i in range(k):
                    out[a, i] += v * R[row, i]
        if fit_intercept:
            for row in range(n):
                for i in range(k):
                    out[d, i] += R[row, i]
    return out_arr


def pair_products(const index_t[::1] indptr, const index_t[::1] indices,
                  const data_t[::1] data, const Py_ssize_t[::1] cindptr,
                  const Py_ssize_t[::1] crows, const Py_ssize_t[::1] cpos,
                  const double[:, ::1] V, bint fit_intercept, int n_threads):
    """Packed ``M_q = [X, 1]^T diag(V[:, q]) [X, 1]`` for every column ``q`` of
    ``V``, entry-major ``(P2, K)`` (module docstring)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = cindptr.shape[0] - 1, K = V.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    out_arr = np.zeros((P2, K))
    cdef double[:, ::1] out = out_arr
    cdef double* op = &out[0, 0]
    cdef Py_ssize_t a, t, f, q, row, c, base, end
    cdef double va, xx
    cdef const double* Vn
    cdef double* dst
    with nogil:
        for a in prange(d, num_threads=max(1, n_threads), schedule="dynamic", chunksize=1):
            base = _packed_row(a, p) - a       # entry (a, c) sits at base + c
            for t in range(cindptr[a], cindptr[a + 1]):
                row = crows[t]
                va = data[cpos[t]]
                Vn = &V[row, 0]
                end = indptr[row + 1]
                for f in range(cpos[t], end):
                    c = indices[f]
                    xx = va * data[f]
                    dst = op + (base + c) * K
                    for q in range(K):
                        dst[q] = dst[q] + xx * Vn[q]
                if fit_intercept:
                    dst = op + (base + d) * K
                    for q in range(K):
                        dst[q] = dst[q] + va * Vn[q]
        if fit_intercept:
            dst = op + _packed_row(d, p) * K
            for row in range(n):
                for q in range(K):
                    dst[q] = dst[q] + V[row, q]
    return out_arr


def class_blocks(const Py_ssize_t[::1] cindptr, const Py_ssize_t[::1] crows,
                 const Py_ssize_t[::1] cpos, const data_t[::1] data,
                 const double[:, ::1] P, sample_weight, bint fit_intercept, int n_threads):
    """The ``k x k`` diagonal blocks of the data Hessian, one per column ``a``:
    ``B_a = sum_n w_n x_na^2 (diag(p_n) - p_n p_n^T)``, shape ``(p, k, k)``."""
    cdef Py_ssize_t d = cindptr.shape[0] - 1, n = P.shape[0], k = P.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    out_arr = np.zeros((p, k, k))
    cdef double[:, :, ::1] out = out_arr
    cdef Py_ssize_t a, t, i, j, row
    cdef double v, c
    with nogil:
        for a in prange(d, num_threads=max(1, n_threads), schedule="dynamic", chunksize=8):
            for t in range(cindptr[a], cindptr[a + 1]):
                row = crows[t]
                v = data[cpos[t]]
                c = v * v * (wv[row] if weighted else 1.0)
                for i in range(k):
                    out[a, i, i] += c * P[row, i]
                    for j in range(k):
                        out[a, i, j] -= c * P[row, i] * P[row, j]
        if fit_intercept:
            for row in range(n):
                c = wv[row] if weighted else 1.0
                for i in range(k):
                    out[d, i, i] += c * P[row, i]
                    for j in range(k):
                        out[d, i, j] -= c * P[row, i] * P[row, j]
    return out_arr
