/* The inner loops of the sparse passes (logreg._sparse_kernel), in C so that
 * they can be compiled twice -- for AVX2/FMA and for the baseline -- and
 * picked at load time (GCC/Clang target_clones; the baseline only
 * elsewhere): their k- and K-wide updates are short vector loops that SSE2
 * runs at half the width.  Each loop is also instantiated for the common
 * widths as compile-time constants (k = 2..8 classes; one pair, the Gram
 * matrix): the compiler then keeps a row's values and a column's
 * accumulators in registers and drops the remainder loops.  (Constant pair
 * counts K = 3..28 measured no faster: those updates wait on the output
 * slab's cache lines, not on arithmetic.)
 *
 * Pair products, one call: the entries t of column a whose rows lie below r1
 * (a band of rows); returns the first t not done.  `slab` points at entry (a, 0) of the
 * entry-major packed output, so that entry (a, c) sits at slab + c K.
 */
#ifndef LOGREG_SPARSE_SIMD_H
#define LOGREG_SPARSE_SIMD_H
#include <math.h>
#include <stdint.h>
#include <Python.h>

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__APPLE__)
#define LR_SP_CLONES __attribute__((target_clones("arch=haswell", "default")))
#endif
#endif
#ifndef LR_SP_CLONES
#define LR_SP_CLONES
#endif

#if defined(__GNUC__)
#define LR_SP_INLINE static inline __attribute__((always_inline))
#else
#define LR_SP_INLINE static inline
#endif

#define LR_SP_COLUMN_BAND(NAME, IDX, DAT, CIDX)                                              \
LR_SP_INLINE Py_ssize_t NAME##_body(const IDX* indptr, const IDX* indices,            \
                                    const DAT* data, const CIDX* crows,               \
                                    const CIDX* cpos, Py_ssize_t t,                   \
                                    Py_ssize_t t_end, Py_ssize_t r1, const double* V, \
                                    const Py_ssize_t K, double* slab, Py_ssize_t d,   \
                                    int fit_intercept)                                \
{                                                                                     \
    for (; t < t_end && crows[t] < r1; ++t) {                                         \
        const Py_ssize_t row = (Py_ssize_t)crows[t], end = (Py_ssize_t)indptr[row + 1]; \
        const Py_ssize_t pos = (Py_ssize_t)cpos[t];                                   \
        const double va = (double)data[pos];                                          \
        const double* Vn = V + row * K;                                               \
        for (Py_ssize_t f = pos; f < end; ++f) {                                      \
            const double xx = va * (double)data[f];                                   \
            double* dst = slab + (Py_ssize_t)indices[f] * K;                          \
            _Pragma("GCC ivdep")                                                      \
            for (Py_ssize_t q = 0; q < K; ++q)                                        \
                dst[q] += xx * Vn[q];                                                 \
        }                                                                             \
        if (fit_intercept) {                                                          \
            double* dst = slab + d * K;                                               \
            _Pragma("GCC ivdep")                                                      \
            for (Py_ssize_t q = 0; q < K; ++q)                                        \
                dst[q] += va * Vn[q];                                                 \
        }                                                                             \
    }                                                                                 \
    return t;                                                                         \
}                                                                                     \
LR_SP_CLONES Py_ssize_t NAME(const IDX* indptr, const IDX* indices, const DAT* data,  \
                             const CIDX* crows, const CIDX* cpos,                     \
                             Py_ssize_t t, Py_ssize_t t_end, Py_ssize_t r1,           \
                             const double* V, Py_ssize_t K, double* slab,             \
                             Py_ssize_t d, int fit_intercept)                         \
{                                                                                     \
    switch (K) {                                                                      \
    case 1: return NAME##_body(indptr, indices, data, crows, cpos, t, t_end, r1, V, 1, slab, d, fit_intercept);   \
    default: return NAME##_body(indptr, indices, data, crows, cpos, t, t_end, r1, V, K, slab, d, fit_intercept);  \
    }                                                                                 \
}

LR_SP_COLUMN_BAND(lr_sp_band_i32_f32_c32, int32_t, float, int32_t)
LR_SP_COLUMN_BAND(lr_sp_band_i32_f32_c64, int32_t, float, int64_t)
LR_SP_COLUMN_BAND(lr_sp_band_i32_f64_c32, int32_t, double, int32_t)
LR_SP_COLUMN_BAND(lr_sp_band_i32_f64_c64, int32_t, double, int64_t)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f32_c32, int64_t, float, int32_t)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f32_c64, int64_t, float, int64_t)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f64_c32, int64_t, double, int32_t)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f64_c64, int64_t, double, int64_t)

/* the widest k of the row and column passes below (their accumulators live
 * on the stack); wider k runs the kernel's own loops */
#define LR_SP_MAX_K 64

/* Column pass of X^T R: output rows a0 <= a < a1 of [X]^T R (k wide), each
 * from its column's entries in row order (k <= LR_SP_MAX_K; a register
 * accumulator per class when k is a constant). */
#define LR_SP_XT_COLUMNS(NAME, DAT, CIDX)                                                   \
LR_SP_INLINE void NAME##_body(const Py_ssize_t* cindptr, const CIDX* crows,           \
                              const DAT* cdata, const double* R, const Py_ssize_t k,  \
                              Py_ssize_t a0, Py_ssize_t a1, double* out)              \
{                                                                                     \
    double acc[LR_SP_MAX_K];                                                          \
    for (Py_ssize_t a = a0; a < a1; ++a) {                                            \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            acc[i] = 0.0;                                                             \
        for (Py_ssize_t t = cindptr[a]; t < cindptr[a + 1]; ++t) {                    \
            const double v = (double)cdata[t];                                        \
            const double* r = R + (Py_ssize_t)crows[t] * k;                           \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                acc[i] += v * r[i];                                                   \
        }                                                                             \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            out[a * k + i] = acc[i];                                                  \
    }                                                                                 \
}                                                                                     \
LR_SP_CLONES void NAME(const Py_ssize_t* cindptr, const CIDX* crows,                  \
                       const DAT* cdata, const double* R, Py_ssize_t k,               \
                       Py_ssize_t a0, Py_ssize_t a1, double* out)                     \
{                                                                                     \
    switch (k) {                                                                      \
    case 2: NAME##_body(cindptr, crows, cdata, R, 2, a0, a1, out); break;             \
    case 3: NAME##_body(cindptr, crows, cdata, R, 3, a0, a1, out); break;             \
    case 4: NAME##_body(cindptr, crows, cdata, R, 4, a0, a1, out); break;             \
    case 5: NAME##_body(cindptr, crows, cdata, R, 5, a0, a1, out); break;             \
    case 6: NAME##_body(cindptr, crows, cdata, R, 6, a0, a1, out); break;             \
    case 7: NAME##_body(cindptr, crows, cdata, R, 7, a0, a1, out); break;             \
    case 8: NAME##_body(cindptr, crows, cdata, R, 8, a0, a1, out); break;             \
    default: NAME##_body(cindptr, crows, cdata, R, k, a0, a1, out); break;            \
    }                                                                                 \
}

LR_SP_XT_COLUMNS(lr_sp_xt_f32_c32, float, int32_t)
LR_SP_XT_COLUMNS(lr_sp_xt_f64_c32, double, int32_t)
LR_SP_XT_COLUMNS(lr_sp_xt_f32_c64, float, int64_t)
LR_SP_XT_COLUMNS(lr_sp_xt_f64_c64, double, int64_t)

/* Row pass of the Hessian-vector product: for rows r0 <= n < r1,
 * s = [x_n, 1] V^T (V^T the (p, k) vector_t), then
 * R[n] = w_n p_n (s - p_n . s), p_n the row's probabilities P[n]
 * (k <= LR_SP_MAX_K; w NULL: unit weights). */
#define LR_SP_HVP_ROWS(NAME, IDX, DAT)                                                \
LR_SP_INLINE void NAME##_body(const IDX* indptr, const IDX* indices, const DAT* data, \
                              Py_ssize_t r0, Py_ssize_t r1, const double* vector_t,   \
                              const double* P, const double* w, const Py_ssize_t k,   \
                              Py_ssize_t d, int fit_intercept, double* R)             \
{                                                                                     \
    double s[LR_SP_MAX_K];                                                            \
    for (Py_ssize_t n = r0; n < r1; ++n) {                                            \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            s[i] = fit_intercept ? vector_t[d * k + i] : 0.0;                         \
        for (Py_ssize_t e = (Py_ssize_t)indptr[n]; e < (Py_ssize_t)indptr[n + 1]; ++e) { \
            const double v = (double)data[e];                                         \
            const double* c = vector_t + (Py_ssize_t)indices[e] * k;                  \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                s[i] += v * c[i];                                                     \
        }                                                                             \
        const double* pn = P + n * k;                                                 \
        double ps = 0.0;                                                              \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            ps += pn[i] * s[i];                                                       \
        const double wn = w ? w[n] : 1.0;                                             \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            R[n * k + i] = wn * pn[i] * (s[i] - ps);                                  \
    }                                                                                 \
}                                                                                     \
LR_SP_CLONES void NAME(const IDX* indptr, const IDX* indices, const DAT* data,        \
                       Py_ssize_t r0, Py_ssize_t r1, const double* vector_t,          \
                       const double* P, const double* w, Py_ssize_t k, Py_ssize_t d,  \
                       int fit_intercept, double* R)                                  \
{                                                                                     \
    switch (k) {                                                                      \
    case 2: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 2, d, fit_intercept, R); break; \
    case 3: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 3, d, fit_intercept, R); break; \
    case 4: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 4, d, fit_intercept, R); break; \
    case 5: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 5, d, fit_intercept, R); break; \
    case 6: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 6, d, fit_intercept, R); break; \
    case 7: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 7, d, fit_intercept, R); break; \
    case 8: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, 8, d, fit_intercept, R); break; \
    default: NAME##_body(indptr, indices, data, r0, r1, vector_t, P, w, k, d, fit_intercept, R); break; \
    }                                                                                 \
}

LR_SP_HVP_ROWS(lr_sp_hvp_i32_f32, int32_t, float)
LR_SP_HVP_ROWS(lr_sp_hvp_i32_f64, int32_t, double)
LR_SP_HVP_ROWS(lr_sp_hvp_i64_f32, int64_t, float)
LR_SP_HVP_ROWS(lr_sp_hvp_i64_f64, int64_t, double)

/* The softmax of the sparse passes, one row of k logits in place (logits ->
 * probabilities); returns the row's cross-entropy at class y as
 * log(s) - (eta_y - m), m the largest logit and s = sum_i exp(eta_i - m): the
 * shift is exact near the maximum, so the loss keeps its digits whatever the
 * size of the logits (m + log(s) - eta_y would round log(s) away against a
 * large m), the dense kernel's arithmetic. */
LR_SP_INLINE double lr_sp_softmax_ce(double* eta, const Py_ssize_t k, const Py_ssize_t y)
{
    double m = eta[0], sum = 0.0;
    for (Py_ssize_t i = 1; i < k; ++i)
        if (eta[i] > m)
            m = eta[i];
    const double zy = eta[y] - m;
    for (Py_ssize_t i = 0; i < k; ++i) {
        eta[i] = exp(eta[i] - m);
        sum += eta[i];
    }
    for (Py_ssize_t i = 0; i < k; ++i)
        eta[i] = eta[i] / sum;
    return log(sum) - zy;
}

/* Row pass of the loss and gradient: for rows r0 <= n < r1 the logits
 * eta = [x_n, 1] coef_t (coef_t (p, k)), the softmax, w_n CE_n (summed and
 * returned), the pair weights V[n] = w p_i p_j (i < j) and probabilities
 * P[n] when those are not NULL, and the weighted residual
 * r = w (p - e_y) (the true class's entry as -sum_{j != y} p_j: no p - 1
 * cancellation), written to R[n] or, R NULL, scattered into G ((p, k), the
 * segment's gradient buffer).  k <= LR_SP_MAX_K; w NULL: unit weights. */
#define LR_SP_LOSS_ROWS(NAME, IDX, DAT)                                               \
LR_SP_INLINE double NAME##_body(const IDX* indptr, const IDX* indices, const DAT* data, \
                                Py_ssize_t r0, Py_ssize_t r1, const Py_ssize_t* y,    \
                                const double* w, const double* coef_t, const Py_ssize_t k, \
                                Py_ssize_t d, int fit_intercept, double* V, double* P, \
                                double* R, double* G)                                 \
{                                                                                     \
    double eta[LR_SP_MAX_K];                                                          \
    double acc = 0.0;                                                                 \
    const Py_ssize_t K = k * (k - 1) / 2;                                             \
    for (Py_ssize_t n = r0; n < r1; ++n) {                                            \
        const Py_ssize_t e0 = (Py_ssize_t)indptr[n], e1 = (Py_ssize_t)indptr[n + 1];   \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            eta[i] = fit_intercept ? coef_t[d * k + i] : 0.0;                         \
        for (Py_ssize_t e = e0; e < e1; ++e) {                                        \
            const double v = (double)data[e];                                         \
            const double* c = coef_t + (Py_ssize_t)indices[e] * k;                    \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                eta[i] += v * c[i];                                                   \
        }                                                                             \
        const Py_ssize_t yn = y[n];                                                   \
        const double wn = w ? w[n] : 1.0;                                             \
        acc += wn * lr_sp_softmax_ce(eta, k, yn);                                     \
        if (P)                                                                        \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                P[n * k + i] = eta[i];                                                \
        if (V) {                                                                      \
            double* vn = V + n * K;                                                   \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                for (Py_ssize_t j = i + 1; j < k; ++j)                                \
                    *vn++ = wn * eta[i] * eta[j];                                     \
        }                                                                             \
        double rest = 0.0;                                                            \
        for (Py_ssize_t i = 0; i < k; ++i)                                            \
            if (i != yn) {                                                            \
                rest += eta[i];                                                       \
                eta[i] = wn * eta[i];                                                 \
            }                                                                         \
        eta[yn] = -wn * rest;                                                         \
        if (R) {                                                                      \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                R[n * k + i] = eta[i];                                                \
            continue;                                                                 \
        }                                                                             \
        for (Py_ssize_t e = e0; e < e1; ++e) {                                        \
            const double v = (double)data[e];                                         \
            double* g = G + (Py_ssize_t)indices[e] * k;                               \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                g[i] += v * eta[i];                                                   \
        }                                                                             \
        if (fit_intercept)                                                            \
            for (Py_ssize_t i = 0; i < k; ++i)                                        \
                G[d * k + i] += eta[i];                                               \
    }                                                                                 \
    return acc;                                                                       \
}                                                                                     \
LR_SP_CLONES double NAME(const IDX* indptr, const IDX* indices, const DAT* data,      \
                         Py_ssize_t r0, Py_ssize_t r1, const Py_ssize_t* y,           \
                         const double* w, const double* coef_t, Py_ssize_t k,         \
                         Py_ssize_t d, int fit_intercept, double* V, double* P,       \
                         double* R, double* G)                                        \
{                                                                                     \
    switch (k) {                                                                      \
    case 2: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 2, d, fit_intercept, V, P, R, G); \
    case 3: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 3, d, fit_intercept, V, P, R, G); \
    case 4: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 4, d, fit_intercept, V, P, R, G); \
    case 5: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 5, d, fit_intercept, V, P, R, G); \
    case 6: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 6, d, fit_intercept, V, P, R, G); \
    case 7: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 7, d, fit_intercept, V, P, R, G); \
    case 8: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, 8, d, fit_intercept, V, P, R, G); \
    default: return NAME##_body(indptr, indices, data, r0, r1, y, w, coef_t, k, d, fit_intercept, V, P, R, G); \
    }                                                                                 \
}

LR_SP_LOSS_ROWS(lr_sp_loss_i32_f32, int32_t, float)
LR_SP_LOSS_ROWS(lr_sp_loss_i32_f64, int32_t, double)
LR_SP_LOSS_ROWS(lr_sp_loss_i64_f32, int64_t, float)
LR_SP_LOSS_ROWS(lr_sp_loss_i64_f64, int64_t, double)

#endif
