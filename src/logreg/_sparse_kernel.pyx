# cython: language_level=3
"""Data passes over a sparse X: a canonical CSR matrix plus a CSC index of it.

No pass shares an accumulator between threads, and no sum depends on the
thread count, so every result is bit-for-bit the same for any ``n_threads``:

* *row passes* (CSR, ``prange`` over row segments whose bounds depend on the
  shape only, ``segment_bounds``): per row the logits ``eta = x coef^T``, the
  softmax, the loss, the weighted residual ``r`` and, when wanted, the pair
  weights ``V`` (``w p_i p_j``, i < j).  ``r x^T`` is scattered into the
  segment's ``p x k`` buffer and the buffers are added in segment order --
  or, for wide X (those buffers would outweigh it), ``r`` goes to an
  ``(n, k)`` array for a column pass.
* *column passes* (CSC index, ``prange`` over columns): column ``a`` owns row
  ``a`` of the output -- of ``X^T R`` (``xt_product``), of the packed pair
  products ``M_ij[a, c >= a]`` (``pair_products``), of the preconditioner's
  class blocks -- and adds its rows in increasing order.

The CSC index (``cindptr``, ``crows``, ``cpos``) lists, column by column, the
rows of the non-zeros and their positions in the CSR arrays (int32 when they
fit): the values are read from the CSR ``data`` (nothing of X is duplicated
but the index).

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
from libc.math cimport exp, log, sqrt
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

cimport cython
import numpy as np

cdef extern from "_sparse_simd.h" nogil:
    double lr_sp_softmax_ce(double* eta, Py_ssize_t k, Py_ssize_t y)
    Py_ssize_t lr_sp_band_i32_f32_c32(const int32_t*, const int32_t*, const float*, const int32_t*,
                                      const int32_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i32_f32_c64(const int32_t*, const int32_t*, const float*, const int64_t*,
                                      const int64_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i32_f64_c32(const int32_t*, const int32_t*, const double*, const int32_t*,
                                      const int32_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i32_f64_c64(const int32_t*, const int32_t*, const double*, const int64_t*,
                                      const int64_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i64_f32_c32(const int64_t*, const int64_t*, const float*, const int32_t*,
                                      const int32_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i64_f32_c64(const int64_t*, const int64_t*, const float*, const int64_t*,
                                      const int64_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i64_f64_c32(const int64_t*, const int64_t*, const double*, const int32_t*,
                                      const int32_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    Py_ssize_t lr_sp_band_i64_f64_c64(const int64_t*, const int64_t*, const double*, const int64_t*,
                                      const int64_t*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                      const double*, Py_ssize_t, double*, Py_ssize_t, int)
    void lr_sp_xt_f32_c32(const Py_ssize_t*, const int32_t*, const float*, const double*,
                          Py_ssize_t, Py_ssize_t, Py_ssize_t, double*)
    void lr_sp_xt_f32_c64(const Py_ssize_t*, const int64_t*, const float*, const double*,
                          Py_ssize_t, Py_ssize_t, Py_ssize_t, double*)
    void lr_sp_xt_f64_c32(const Py_ssize_t*, const int32_t*, const double*, const double*,
                          Py_ssize_t, Py_ssize_t, Py_ssize_t, double*)
    void lr_sp_xt_f64_c64(const Py_ssize_t*, const int64_t*, const double*, const double*,
                          Py_ssize_t, Py_ssize_t, Py_ssize_t, double*)
    void lr_sp_hvp_i32_f32(const int32_t*, const int32_t*, const float*, Py_ssize_t,
                           Py_ssize_t, const double*, const double*, const double*,
                           Py_ssize_t, Py_ssize_t, int, double*)
    void lr_sp_hvp_i32_f64(const int32_t*, const int32_t*, const double*, Py_ssize_t,
                           Py_ssize_t, const double*, const double*, const double*,
                           Py_ssize_t, Py_ssize_t, int, double*)
    void lr_sp_hvp_i64_f32(const int64_t*, const int64_t*, const float*, Py_ssize_t,
                           Py_ssize_t, const double*, const double*, const double*,
                           Py_ssize_t, Py_ssize_t, int, double*)
    void lr_sp_hvp_i64_f64(const int64_t*, const int64_t*, const double*, Py_ssize_t,
                           Py_ssize_t, const double*, const double*, const double*,
                           Py_ssize_t, Py_ssize_t, int, double*)
    double lr_sp_loss_i32_f32(const int32_t*, const int32_t*, const float*, Py_ssize_t, Py_ssize_t,
                             const Py_ssize_t*, const double*, const double*, Py_ssize_t,
                             Py_ssize_t, int, double*, double*, double*, double*)
    double lr_sp_loss_i32_f64(const int32_t*, const int32_t*, const double*, Py_ssize_t, Py_ssize_t,
                             const Py_ssize_t*, const double*, const double*, Py_ssize_t,
                             Py_ssize_t, int, double*, double*, double*, double*)
    double lr_sp_loss_i64_f32(const int64_t*, const int64_t*, const float*, Py_ssize_t, Py_ssize_t,
                             const Py_ssize_t*, const double*, const double*, Py_ssize_t,
                             Py_ssize_t, int, double*, double*, double*, double*)
    double lr_sp_loss_i64_f64(const int64_t*, const int64_t*, const double*, Py_ssize_t, Py_ssize_t,
                             const Py_ssize_t*, const double*, const double*, Py_ssize_t,
                             Py_ssize_t, int, double*, double*, double*, double*)
    enum: LR_SP_MAX_K

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused data_t:
    float
    double

# the CSC index's rows and CSR positions: int32 whenever they fit (half the
# index's memory and traffic)
ctypedef fused cidx_t:
    int32_t
    int64_t

cdef enum:
    # rows per block of the row phase: the unit of parallel work and of the
    # fixed-order loss reduction
    ROW_BLOCK = 512
    # pair_products: bytes of CSR entries and pair weights per band of rows
    # (with a chunk's output slabs, about a core's L2 share), and column
    # chunks per thread: each chunk streams all of X once, so one per thread,
    # of equal work (more chunks for dynamic balance measured slower)
    PAIR_BAND_BYTES = 1 << 19
    PAIR_CHUNKS_PER_THREAD = 1
    # gradient-type passes: scatter updates per output entry and segment, and
    # the most segments (each holds a p x k buffer)
    SEGMENT_WORK_PER_OUTPUT = 4
    MAX_SEGMENTS = 64
    # columns per unit of parallel work of xt_product
    XT_GROUP = 64
    # preconditioner blocks per scratch buffer of invert_blocks
    INVERSE_CHUNK = 256


cdef inline Py_ssize_t _packed_row(Py_ssize_t a, Py_ssize_t p) noexcept nogil:
    """Offset of row ``a`` in the row-wise packed upper triangle of a ``p x p`` matrix."""
    return a * p - (a * (a - 1)) // 2


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


cdef inline Py_ssize_t _column_band(const index_t* indptr, const index_t* indices,
                                    const data_t* data, const cidx_t* crows,
                                    const cidx_t* cpos, Py_ssize_t t, Py_ssize_t t_end,
                                    Py_ssize_t r1, const double* V, Py_ssize_t K,
                                    double* slab, Py_ssize_t d, bint fit_intercept) noexcept nogil:
    """The C loop of ``_sparse_simd.h`` for these index and value types."""
    if index_t is int32_t and data_t is float and cidx_t is int32_t:
        return lr_sp_band_i32_f32_c32(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int32_t and data_t is float and cidx_t is int64_t:
        return lr_sp_band_i32_f32_c64(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int32_t and data_t is double and cidx_t is int32_t:
        return lr_sp_band_i32_f64_c32(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int32_t and data_t is double and cidx_t is int64_t:
        return lr_sp_band_i32_f64_c64(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int64_t and data_t is float and cidx_t is int32_t:
        return lr_sp_band_i64_f32_c32(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int64_t and data_t is float and cidx_t is int64_t:
        return lr_sp_band_i64_f32_c64(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    elif index_t is int64_t and data_t is double and cidx_t is int32_t:
        return lr_sp_band_i64_f64_c32(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)
    else:
        return lr_sp_band_i64_f64_c64(indptr, indices, data, crows, cpos, t, t_end, r1, V, K,
                                      slab, d, fit_intercept)



cdef inline void _hvp_rows(const index_t* indptr, const index_t* indices, const data_t* data,
                           Py_ssize_t r0, Py_ssize_t r1, const double* vector_t,
                           const double* P, const double* w, Py_ssize_t k, Py_ssize_t d,
                           bint fit_intercept, double* R) noexcept nogil:
    """The C row pass of ``_sparse_simd.h`` for these index and value types."""
    if index_t is int32_t and data_t is float:
        lr_sp_hvp_i32_f32(indptr, indices, data, r0, r1, vector_t, P, w, k, d, fit_intercept, R)
    elif index_t is int32_t and data_t is double:
        lr_sp_hvp_i32_f64(indptr, indices, data, r0, r1, vector_t, P, w, k, d, fit_intercept, R)
    elif index_t is int64_t and data_t is float:
        lr_sp_hvp_i64_f32(indptr, indices, data, r0, r1, vector_t, P, w, k, d, fit_intercept, R)
    else:
        lr_sp_hvp_i64_f64(indptr, indices, data, r0, r1, vector_t, P, w, k, d, fit_intercept, R)


cdef inline double _loss_rows(const index_t* indptr, const index_t* indices, const data_t* data,
                              Py_ssize_t r0, Py_ssize_t r1, const Py_ssize_t* y,
                              const double* w, const double* coef_t, Py_ssize_t k,
                              Py_ssize_t d, bint fit_intercept, double* V, double* P,
                              double* R, double* G) noexcept nogil:
    """The C row pass of ``loss_gradient`` (``_sparse_simd.h``) for these types."""
    if index_t is int32_t and data_t is float:
        return lr_sp_loss_i32_f32(indptr, indices, data, r0, r1, y, w, coef_t, k, d,
                                  fit_intercept, V, P, R, G)
    elif index_t is int32_t and data_t is double:
        return lr_sp_loss_i32_f64(indptr, indices, data, r0, r1, y, w, coef_t, k, d,
                                  fit_intercept, V, P, R, G)
    elif index_t is int64_t and data_t is float:
        return lr_sp_loss_i64_f32(indptr, indices, data, r0, r1, y, w, coef_t, k, d,
                                  fit_intercept, V, P, R, G)
    else:
        return lr_sp_loss_i64_f64(indptr, indices, data, r0, r1, y, w, coef_t, k, d,
                                  fit_intercept, V, P, R, G)


def segment_bounds(Py_ssize_t n, Py_ssize_t nnz, Py_ssize_t p, Py_ssize_t k):
    """Row boundaries of the segments of the gradient-type passes: from the
    shape only (never the thread count), so that the fixed-order reduction over
    segments gives the same bits for any ``n_threads``.  About
    ``SEGMENT_WORK_PER_OUTPUT`` scatter updates per output entry per segment
    (zeroing and reducing a segment's ``p x k`` buffer stay small against its
    work), at most ``MAX_SEGMENTS``."""
    cdef double work = (nnz + n) * <double>k
    cdef Py_ssize_t n_seg = <Py_ssize_t>(work / (SEGMENT_WORK_PER_OUTPUT * <double>(p * k)))
    n_seg = max(1, min(MAX_SEGMENTS, n_seg, n))
    return np.linspace(0, n, n_seg + 1).round().astype(np.intp)


cdef inline void _scatter_row(const index_t* indptr, const index_t* indices,
                              const data_t* data, Py_ssize_t row, const double* r,
                              Py_ssize_t d, Py_ssize_t k, bint fit_intercept,
                              double* G) noexcept nogil:
    """``G += [x_row, 1] (x) r``, ``G`` the ``(p, k)`` transpose of a gradient."""
    cdef Py_ssize_t i, e, a
    cdef double v
    for e in range(indptr[row], indptr[row + 1]):
        a = indices[e]
        v = data[e]
        for i in range(k):
            G[a * k + i] += v * r[i]
    if fit_intercept:
        for i in range(k):
            G[d * k + i] += r[i]


cdef double _reduce_segments(double* buf, Py_ssize_t n_seg, Py_ssize_t ld,
                             Py_ssize_t n_out, double* total, int n_threads) noexcept nogil:
    """``total[e] = ((buf_0[e] + buf_1[e]) + ...)`` in segment order (entry ``n_out``
    of each buffer holds its loss); returns the summed loss."""
    cdef Py_ssize_t e, j
    cdef double t
    for e in prange(n_out, num_threads=n_threads, schedule="static"):
        t = 0.0
        for j in range(n_seg):
            t = t + buf[j * ld + e]
        total[e] = t
    t = 0.0
    for j in range(n_seg):
        t = t + buf[j * ld + n_out]
    return t


def loss_gradient(const index_t[::1] indptr, const index_t[::1] indices,
                  const data_t[::1] data, const Py_ssize_t[::1] y, sample_weight,
                  const double[:, ::1] coef_t, bint fit_intercept, V, P, R, int n_threads):
    """One pass: ``(sum_n w_n CE_n, gradient (p, k))`` at ``coef`` (``coef_t`` its
    ``(p, k)`` transpose).

    Per row the softmax, the loss and the weighted residual
    ``w_n (p_ni - [i = y_n])`` (the true class's entry as ``-sum_{j != y} p_nj``:
    no ``p - 1`` cancellation), scattered into its segment's gradient buffer.
    Also fills ``V`` ``(n, K)`` (or None) with the pair weights
    ``w_n p_ni p_nj`` (i < j) and ``P`` ``(n, k)`` (or None) with the
    probabilities.  ``R`` ``(n, k)`` (or None): the residuals are written
    there instead, and the gradient is left to ``xt_product`` (returned None).
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = coef_t.shape[1]
    cdef Py_ssize_t p = coef_t.shape[0], d = p - fit_intercept
    cdef Py_ssize_t[::1] seg = segment_bounds(n, indices.shape[0], p, k)
    cdef Py_ssize_t n_seg = seg.shape[0] - 1, ld = p * k + 8
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    cdef bint want_v = V is not None, want_p = P is not None
    cdef double[:, ::1] Vm = V if want_v else np.empty((1, 1))
    cdef double[:, ::1] Pm = P if want_p else np.empty((1, 1))
    cdef bint scatter = R is None
    cdef double[:, ::1] Rm = np.empty((1, 1)) if scatter else R
    if not scatter:
        ld = 8
    cdef double[::1] buf = np.zeros(n_seg * ld)
    grad_arr = np.empty((p, k)) if scatter else None
    cdef double[:, ::1] grad = grad_arr if scatter else np.empty((1, 1))
    cdef int T = max(1, n_threads)
    cdef Py_ssize_t s, row, i, j, q, yr
    cdef double* eta
    cdef double* G
    cdef double w, acc, rest, loss
    cdef const double* wp = &wv[0] if weighted else NULL
    if k <= LR_SP_MAX_K:
        with nogil:
            for s in prange(n_seg, num_threads=T, schedule="dynamic", chunksize=1):
                G = &buf[s * ld]
                G[ld - 8] = _loss_rows(&indptr[0], &indices[0], &data[0], seg[s], seg[s + 1],
                                       &y[0], wp, &coef_t[0, 0], k, d, fit_intercept,
                                       &Vm[0, 0] if want_v else NULL,
                                       &Pm[0, 0] if want_p else NULL,
                                       NULL if scatter else &Rm[0, 0],
                                       G)
            if scatter:
                loss = _reduce_segments(&buf[0], n_seg, ld, p * k, &grad[0, 0], T)
            else:
                loss = _sum_blocks(&buf[0], n_seg, 8)
        return loss, grad_arr
    with nogil:
        for s in prange(n_seg, num_threads=T, schedule="dynamic", chunksize=1):
            eta = <double*>malloc(k * sizeof(double))
            G = &buf[s * ld]
            acc = 0.0
            for row in range(seg[s], seg[s + 1]):
                _row_logits(&indptr[0], &indices[0], &data[0], row, &coef_t[0, 0], d, k,
                            fit_intercept, eta)
                yr = y[row]
                w = wv[row] if weighted else 1.0
                acc = acc + w * lr_sp_softmax_ce(eta, k, yr)
                if want_p:
                    for i in range(k):
                        Pm[row, i] = eta[i]
                if want_v:
                    q = 0
                    for i in range(k):
                        for j in range(i + 1, k):
                            Vm[row, q] = w * eta[i] * eta[j]
                            q = q + 1
                rest = 0.0
                for i in range(k):
                    if i != yr:
                        rest = rest + eta[i]
                        eta[i] = w * eta[i]
                eta[yr] = -w * rest
                if scatter:
                    _scatter_row(&indptr[0], &indices[0], &data[0], row, eta, d, k,
                                 fit_intercept, G)
                else:
                    for i in range(k):
                        Rm[row, i] = eta[i]
            G[ld - 8] = acc
            free(eta)
        if scatter:
            loss = _reduce_segments(&buf[0], n_seg, ld, p * k, &grad[0, 0], T)
        else:
            loss = _sum_blocks(&buf[0], n_seg, 8)
    return loss, grad_arr


def hessian_vector_product(const index_t[::1] indptr, const index_t[::1] indices,
                           const data_t[::1] data, sample_weight,
                           const double[:, ::1] coef_t, const double[:, ::1] vector_t,
                           bint fit_intercept, double[:, ::1] P, bint fill, R,
                           int n_threads):
    """One pass: ``(H v)^T`` ``(p, k)``: per row ``r_i = w p_i (s_i - sum_j p_j s_j)``
    with ``s = x V^T``, scattered like a gradient.  ``P`` ``(n, k)`` holds the
    probabilities at ``coef`` (``fill``: computed here and written to it first).
    ``R`` ``(n, k)`` (or None): the rows ``r`` are written there instead (then
    ``xt_product`` makes the product; returns None)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = coef_t.shape[1]
    cdef Py_ssize_t p = coef_t.shape[0], d = p - fit_intercept
    cdef Py_ssize_t[::1] seg = segment_bounds(n, indices.shape[0], p, k)
    cdef Py_ssize_t n_seg = seg.shape[0] - 1, ld = p * k + 8
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    cdef bint scatter = R is None
    cdef double[:, ::1] Rm = np.empty((1, 1)) if scatter else R
    cdef double[::1] buf = np.zeros(n_seg * ld if scatter else 8)
    out_arr = np.empty((p, k)) if scatter else None
    cdef double[:, ::1] out = out_arr if scatter else np.empty((1, 1))
    cdef int T = max(1, n_threads)
    cdef Py_ssize_t s, row, i
    cdef double* sv
    cdef double* G
    cdef double w, ps
    cdef const double* wp = &wv[0] if weighted else NULL
    if not scatter and not fill and k <= LR_SP_MAX_K:
        with nogil:
            for s in prange(n_seg, num_threads=T, schedule="dynamic", chunksize=1):
                _hvp_rows(&indptr[0], &indices[0], &data[0], seg[s], seg[s + 1],
                          &vector_t[0, 0], &P[0, 0], wp, k, d, fit_intercept, &Rm[0, 0])
        return None
    with nogil:
        for s in prange(n_seg, num_threads=T, schedule="dynamic", chunksize=1):
            sv = <double*>malloc(k * sizeof(double))
            G = &buf[s * ld] if scatter else &buf[0]
            for row in range(seg[s], seg[s + 1]):
                if fill:
                    _row_logits(&indptr[0], &indices[0], &data[0], row, &coef_t[0, 0], d,
                                k, fit_intercept, sv)
                    lr_sp_softmax_ce(sv, k, 0)      # the probabilities only
                    for i in range(k):
                        P[row, i] = sv[i]
                _row_logits(&indptr[0], &indices[0], &data[0], row, &vector_t[0, 0], d, k,
                            fit_intercept, sv)
                w = wv[row] if weighted else 1.0
                ps = 0.0
                for i in range(k):
                    ps = ps + P[row, i] * sv[i]
                if scatter:
                    for i in range(k):
                        sv[i] = w * P[row, i] * (sv[i] - ps)
                    _scatter_row(&indptr[0], &indices[0], &data[0], row, sv, d, k,
                                 fit_intercept, G)
                else:
                    for i in range(k):
                        Rm[row, i] = w * P[row, i] * (sv[i] - ps)
            free(sv)
        if scatter:
            _reduce_segments(&buf[0], n_seg, ld, p * k, &out[0, 0], T)
    return out_arr


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
    cdef double w
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
                    partial[blk * stride + t] += w * lr_sp_softmax_ce(buf + 2 * k, k, yr)
            free(buf)
        for t in range(m):
            out[t] = _sum_blocks(&partial[t], n_blocks, stride)
    return out_arr


def xt_product(const Py_ssize_t[::1] cindptr, const cidx_t[::1] crows,
               const data_t[::1] cdata,
               const double[:, ::1] R, bint fit_intercept, int n_threads):
    """Column phase: ``[X, 1]^T R`` ``(p, k)``, column ``a`` owning output row ``a``
    (no reduction: for wide X, whose segment buffers would outweigh ``R``).
    ``cdata``: X's values in CSC order (read in sequence, not through ``cpos``)."""
    cdef Py_ssize_t d = cindptr.shape[0] - 1, n = R.shape[0], k = R.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    out_arr = np.zeros((p, k))
    cdef double[:, ::1] out = out_arr
    cdef Py_ssize_t a, t, i, row, g
    cdef double v
    cdef Py_ssize_t n_groups = (d + XT_GROUP - 1) // XT_GROUP
    if k <= LR_SP_MAX_K:
        with nogil:
            for g in prange(n_groups, num_threads=max(1, n_threads), schedule="dynamic"):
                if data_t is float and cidx_t is int32_t:
                    lr_sp_xt_f32_c32(&cindptr[0], &crows[0], &cdata[0], &R[0, 0], k,
                                     g * XT_GROUP, min(d, (g + 1) * XT_GROUP), &out[0, 0])
                elif data_t is double and cidx_t is int32_t:
                    lr_sp_xt_f64_c32(&cindptr[0], &crows[0], &cdata[0], &R[0, 0], k,
                                     g * XT_GROUP, min(d, (g + 1) * XT_GROUP), &out[0, 0])
                elif data_t is float:
                    lr_sp_xt_f32_c64(&cindptr[0], &crows[0], &cdata[0], &R[0, 0], k,
                                     g * XT_GROUP, min(d, (g + 1) * XT_GROUP), &out[0, 0])
                else:
                    lr_sp_xt_f64_c64(&cindptr[0], &crows[0], &cdata[0], &R[0, 0], k,
                                     g * XT_GROUP, min(d, (g + 1) * XT_GROUP), &out[0, 0])
            if fit_intercept:
                for row in range(n):
                    for i in range(k):
                        out[d, i] += R[row, i]
        return out_arr
    with nogil:
        for a in prange(d, num_threads=max(1, n_threads), schedule="dynamic", chunksize=64):
            for t in range(cindptr[a], cindptr[a + 1]):
                row = crows[t]
                v = cdata[t]
                for i in range(k):
                    out[a, i] += v * R[row, i]
        if fit_intercept:
            for row in range(n):
                for i in range(k):
                    out[d, i] += R[row, i]
    return out_arr


def pair_products(const index_t[::1] indptr, const index_t[::1] indices,
                  const data_t[::1] data, const Py_ssize_t[::1] cindptr,
                  const cidx_t[::1] crows, const cidx_t[::1] cpos,
                  const double[:, ::1] V, bint fit_intercept, int n_threads):
    """Packed ``M_q = [X, 1]^T diag(V[:, q]) [X, 1]`` for every column ``q`` of
    ``V``, entry-major ``(P2, K)`` (module docstring).

    The columns are split into ``PAIR_CHUNKS_PER_THREAD * n_threads``
    contiguous chunks of about equal work.  A chunk
    visits the rows in *bands* of consecutive rows whose CSR entries and
    pair weights fit in cache (``PAIR_BAND_BYTES``), each of its columns
    advancing its own cursor into the CSC index, so its output slabs and
    the band stay in the core's cache together.  Threads meet once, at the
    end (a barrier per band made every preempted thread stall the others).
    Every entry accumulates its rows in increasing order whatever the
    chunks, bands and threads, so the result is the same bits for any
    ``n_threads``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = cindptr.shape[0] - 1, K = V.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    cdef Py_ssize_t P2 = p * (p + 1) // 2
    cdef Py_ssize_t nnz = indices.shape[0]
    cdef int T = max(1, n_threads)
    out_arr = np.zeros((P2, K))
    cdef double[:, ::1] out = out_arr
    cdef double* op = &out[0, 0]
    # bytes a row brings into cache: its entries and its pair weights
    cdef double row_bytes = (nnz * (sizeof(data_t) + sizeof(index_t)) / max(n, 1)
                             + 8.0 * K + 16.0)
    cdef Py_ssize_t band = max(64, <Py_ssize_t>(PAIR_BAND_BYTES / row_bytes))
    cdef Py_ssize_t n_groups = max(1, min(d, PAIR_CHUNKS_PER_THREAD * T))
    cdef Py_ssize_t[::1] group_start = _balanced_column_groups(indptr, crows, cpos, cindptr,
                                                               n_groups)
    cursor_arr = np.array(cindptr[:d], dtype=np.intp)
    cdef Py_ssize_t[::1] cursor = cursor_arr
    cdef Py_ssize_t g, r0, r1, a, row, q
    cdef double* dst
    with nogil:
        for g in prange(n_groups, num_threads=T, schedule="dynamic", chunksize=1):
            r0 = 0
            while r0 < n:
                r1 = min(n, r0 + band)
                for a in range(group_start[g], group_start[g + 1]):
                    cursor[a] = _column_band(&indptr[0], &indices[0], &data[0], &crows[0],
                                             &cpos[0], cursor[a], cindptr[a + 1], r1,
                                             &V[0, 0], K, op + (_packed_row(a, p) - a) * K,
                                             d, fit_intercept)
                r0 = r1
        if fit_intercept:
            dst = op + _packed_row(d, p) * K
            for row in range(n):
                for q in range(K):
                    dst[q] = dst[q] + V[row, q]
    return out_arr


cdef object _balanced_column_groups(const index_t[::1] indptr, const cidx_t[::1] crows,
                                    const cidx_t[::1] cpos, const Py_ssize_t[::1] cindptr,
                                    Py_ssize_t n_groups):
    """Boundaries (n_groups + 1) of contiguous column groups of about equal pair
    work: column ``a`` costs the row tails ``c >= a`` of its entries."""
    cdef Py_ssize_t d = cindptr.shape[0] - 1, a, t, g
    cdef double total = 0.0, acc = 0.0
    work_arr = np.zeros(d)
    cdef double[::1] work = work_arr
    with nogil:
        for a in range(d):
            for t in range(cindptr[a], cindptr[a + 1]):
                work[a] += indptr[crows[t] + 1] - cpos[t] + 1
            total = total + work[a]
    bounds = np.zeros(n_groups + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] b = bounds
    g = 1
    for a in range(d):
        acc += work[a]
        while g < n_groups and acc >= total * g / n_groups:
            b[g] = a + 1
            g += 1
    for g in range(g, n_groups + 1):
        b[g] = d
    b[n_groups] = d
    return bounds


def class_blocks(const Py_ssize_t[::1] cindptr, const cidx_t[::1] crows,
                 const data_t[::1] cdata,
                 const double[:, ::1] P, sample_weight, bint fit_intercept, int n_threads):
    """The ``k x k`` diagonal blocks of the data Hessian, one per column ``a``:
    ``B_a = sum_n w_n x_na^2 (diag(p_n) - p_n p_n^T)``, shape ``(p, k, k)``.

    Each column accumulates ``sum c p`` and the upper triangle of
    ``sum c p p^T`` in a thread-local ``k (k + 3) / 2`` buffer (in L1 while its
    rows stream by), then writes its block once: half the multiply-adds of the
    full outer product, and no read-modify-write of the output per entry."""
    cdef Py_ssize_t d = cindptr.shape[0] - 1, n = P.shape[0], k = P.shape[1]
    cdef Py_ssize_t p = d + fit_intercept
    cdef double[::1] wv = (np.ones(1) if sample_weight is None
                           else np.asarray(sample_weight, dtype=np.float64))
    cdef bint weighted = sample_weight is not None
    out_arr = np.empty((p, k, k))
    cdef double[:, :, ::1] out = out_arr
    cdef Py_ssize_t a, t, row, width = k + k * (k + 1) // 2
    cdef double v, c
    cdef double* acc
    with nogil:
        for a in prange(p, num_threads=max(1, n_threads), schedule="dynamic", chunksize=16):
            acc = <double*>calloc(width, sizeof(double))
            if a < d:
                for t in range(cindptr[a], cindptr[a + 1]):
                    row = crows[t]
                    v = cdata[t]
                    c = v * v * (wv[row] if weighted else 1.0)
                    _class_block_update(acc, &P[row, 0], c, k)
            else:
                for row in range(n):
                    _class_block_update(acc, &P[row, 0], wv[row] if weighted else 1.0, k)
            _class_block_store(acc, &out[a, 0, 0], k)
            free(acc)
    return out_arr


cdef inline void _class_block_update(double* acc, const double* pr, double c,
                                     Py_ssize_t k) noexcept nogil:
    """``acc[:k] += c p``; ``acc[k:]`` (row-wise packed upper triangle) ``+= c p p^T``."""
    cdef Py_ssize_t i, j
    cdef double ci
    cdef double* tri = acc + k
    for i in range(k):
        ci = c * pr[i]
        acc[i] = acc[i] + ci
        for j in range(i, k):
            tri[j] = tri[j] + ci * pr[j]
        tri = tri + (k - i - 1)


cdef inline void _class_block_store(const double* acc, double* block,
                                    Py_ssize_t k) noexcept nogil:
    """``block = diag(acc[:k]) - sym(acc[k:])`` (``_class_block_update``'s layout)."""
    cdef Py_ssize_t i, j
    cdef const double* tri = acc + k
    for i in range(k):
        for j in range(i, k):
            block[i * k + j] = -tri[j]
            block[j * k + i] = -tri[j]
        block[i * k + i] = block[i * k + i] + acc[i]
        tri = tri + (k - i - 1)


def invert_blocks(const double[:, :, ::1] M, const double[::1] shift, int n_threads):
    """``inverse[a] = (M[a] + shift[a] 1 1^T)^-1`` (float32, ``(p, k, k)``) of
    symmetric positive definite ``k x k`` blocks, through their Cholesky
    factors (the shift is added to each scratch copy: no temporary of ``M``).  A block whose
    factorization breaks down (not positive definite to working precision)
    gets the inverse of its diagonal instead: it only steers CG.  Returns
    ``(inverse, number of such blocks)``."""
    cdef Py_ssize_t p = M.shape[0], k = M.shape[1], kk = k * k
    cdef Py_ssize_t n_chunks = (p + INVERSE_CHUNK - 1) // INVERSE_CHUNK
    inverse_arr = np.empty((p, k, k), dtype=np.float32)
    cdef float[:, :, ::1] inverse = inverse_arr
    cdef Py_ssize_t ch, a, i, j
    cdef Py_ssize_t failed = 0
    cdef double s
    cdef double* A
    with nogil:
        for ch in prange(n_chunks, num_threads=max(1, n_threads), schedule="static"):
            A = <double*>malloc(kk * sizeof(double))
            for a in range(ch * INVERSE_CHUNK, min(p, (ch + 1) * INVERSE_CHUNK)):
                memcpy(A, &M[a, 0, 0], kk * sizeof(double))
                if shift[a] != 0:
                    for i in range(kk):
                        A[i] = A[i] + shift[a]
                if _cholesky_inverse(A, k):
                    for i in range(kk):
                        (&inverse[a, 0, 0])[i] = <float>A[i]
                else:
                    failed += 1
                    for i in range(k):
                        for j in range(k):
                            inverse[a, i, j] = 0.0
                        s = M[a, i, i] + shift[a]
                        inverse[a, i, i] = <float>(1.0 / s if s > 0 else 0.0)
            free(A)
    return inverse_arr, failed


def block_solve(const float[:, :, ::1] inverse, const double[::1] r, int n_threads):
    """``out[:, a] = inverse[a] r[:, a]`` for ``r`` and ``out`` flat ``(k, p)``
    (the solver's class-major layout, read and written in place of a
    transpose)."""
    cdef Py_ssize_t p = inverse.shape[0], k = inverse.shape[1]
    out_arr = np.empty(k * p)
    cdef double[::1] out = out_arr
    cdef Py_ssize_t a, i, j
    cdef double s
    cdef const float* blk
    with nogil:
        for a in prange(p, num_threads=max(1, n_threads), schedule="static"):
            blk = &inverse[a, 0, 0]
            for i in range(k):
                s = 0.0
                for j in range(k):
                    s = s + blk[i * k + j] * r[j * p + a]
                out[i * p + a] = s
    return out_arr


cdef inline bint _cholesky_inverse(double* A, Py_ssize_t k) noexcept nogil:
    """In place ``A <- A^-1`` for a symmetric positive definite ``k x k`` ``A``
    (row-major): ``A = L L^T``, ``A^-1 = L^-T L^-1``.  False (``A`` then
    garbage) when a pivot is not positive."""
    cdef Py_ssize_t i, j, l
    cdef double s
    # lower triangle <- L, upper triangle (above the diagonal) keeps A
    for j in range(k):
        s = A[j * k + j]
        for l in range(j):
            s = s - A[j * k + l] * A[j * k + l]
        if not s > 0:
            return False
        A[j * k + j] = sqrt(s)
        for i in range(j + 1, k):
            s = A[j * k + i]            # A[i, j] from the untouched upper triangle
            for l in range(j):
                s = s - A[i * k + l] * A[j * k + l]
            A[i * k + j] = s / A[j * k + j]
    # lower triangle <- L^-1 (column by column, in place: column j needs only
    # L's entries right of it, and rows below)
    for j in range(k):
        A[j * k + j] = 1.0 / A[j * k + j]
        for i in range(j + 1, k):
            s = 0.0
            for l in range(j, i):
                s = s - A[i * k + l] * A[l * k + j]
            A[i * k + j] = s / A[i * k + i]
    # A^-1[i, j] = sum_{l >= max(i, j)} L^-1[l, i] L^-1[l, j]: the upper triangle
    # first (it only reads the lower one), then mirrored
    for i in range(k):
        for j in range(i, k):
            s = 0.0
            for l in range(j, k):
                s = s + A[l * k + i] * A[l * k + j]
            if j > i:
                A[i * k + j] = s
            else:
                A[i * k + i] = s
    for i in range(k):
        for j in range(i):
            A[i * k + j] = A[j * k + i]
    return True


def csc_index(const index_t[::1] indptr, const index_t[::1] indices, Py_ssize_t d,
              wide=False):
    """``(cindptr, crows, cpos)`` of a canonical CSR structure (module docstring):
    a counting sort by column, rows in increasing order within each column.
    ``crows`` and ``cpos`` are int32 when every row number and position fits
    (``wide``: int64 regardless, the layout of the largest X)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, nnz = indices.shape[0]
    cdef Py_ssize_t a
    cindptr_arr = np.zeros(d + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] cindptr = cindptr_arr
    cdef Py_ssize_t[::1] fill = np.empty(d, dtype=np.intp)
    with nogil:
        for a in range(nnz):
            cindptr[indices[a] + 1] += 1
        for a in range(d):
            cindptr[a + 1] += cindptr[a]
            fill[a] = cindptr[a]
    small = max(n, nnz) < 2**31 - 1 and not wide
    crows_arr = np.empty(nnz, dtype=np.int32 if small else np.int64)
    cpos_arr = np.empty(nnz, dtype=np.int32 if small else np.int64)
    if small:
        _csc_fill[index_t, int32_t](indptr, indices, fill, crows_arr, cpos_arr)
    else:
        _csc_fill[index_t, int64_t](indptr, indices, fill, crows_arr, cpos_arr)
    return cindptr_arr, crows_arr, cpos_arr


cdef void _csc_fill(const index_t[::1] indptr, const index_t[::1] indices,
                    Py_ssize_t[::1] fill, cidx_t[::1] crows, cidx_t[::1] cpos):
    cdef Py_ssize_t n = indptr.shape[0] - 1, row, e, a, t
    with nogil:
        for row in range(n):
            for e in range(indptr[row], indptr[row + 1]):
                a = indices[e]
                t = fill[a]
                crows[t] = <cidx_t>row
                cpos[t] = <cidx_t>e
                fill[a] = t + 1
