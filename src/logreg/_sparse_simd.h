/* The inner loop of the sparse pair products (logreg._sparse_kernel.pair_products),
 * in C so that it can be compiled twice -- for AVX2/FMA and for the baseline --
 * and picked at load time (GCC/Clang target_clones; the baseline only
 * elsewhere): the K-wide updates dst += x_a x_c V_n are short vector loops
 * that SSE2 runs at half the width.
 *
 * One call: the entries t of column a whose rows lie below r1 (a band of
 * rows); returns the first t not done.  `slab` points at entry (a, 0) of the
 * entry-major packed output, so that entry (a, c) sits at slab + c K.
 */
#ifndef LOGREG_SPARSE_SIMD_H
#define LOGREG_SPARSE_SIMD_H
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

#define LR_SP_COLUMN_BAND(NAME, IDX, DAT)                                              \
LR_SP_CLONES Py_ssize_t NAME(const IDX* indptr, const IDX* indices, const DAT* data,  \
                             const Py_ssize_t* crows, const Py_ssize_t* cpos,         \
                             Py_ssize_t t, Py_ssize_t t_end, Py_ssize_t r1,           \
                             const double* V, Py_ssize_t K, double* slab,             \
                             Py_ssize_t d, int fit_intercept)                         \
{                                                                                     \
    for (; t < t_end && crows[t] < r1; ++t) {                                         \
        const Py_ssize_t row = crows[t], end = (Py_ssize_t)indptr[row + 1];            \
        const double va = (double)data[cpos[t]];                                      \
        const double* Vn = V + row * K;                                               \
        for (Py_ssize_t f = cpos[t]; f < end; ++f) {                                  \
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
}

LR_SP_COLUMN_BAND(lr_sp_band_i32_f32, int32_t, float)
LR_SP_COLUMN_BAND(lr_sp_band_i32_f64, int32_t, double)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f32, int64_t, float)
LR_SP_COLUMN_BAND(lr_sp_band_i64_f64, int64_t, double)

#endif
