/* SIMD block kernels of logreg._hessian, with run-time dispatch.
 *
 * The build stays portable (no -march): on x86-64 with GCC or Clang the block
 * kernels (_simd_body.h) are compiled three times, for AVX-512 (8 lanes),
 * AVX2+FMA (4 lanes) and the x86-64 baseline (2 lanes), and lr_select() picks
 * the best one the CPU and OS support when the module is imported.  Other
 * compilers and CPUs get the GNU-vector baseline, or plain C (1 lane) when
 * the compiler has no vector extension.
 */
#ifndef LOGREG_SIMD_H
#define LOGREG_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <Python.h>

typedef struct {
    const char* data;
    Py_ssize_t s0, s1;      /* strides in bytes */
    Py_ssize_t d;           /* columns of X */
    int f32;                /* float32 (else float64) */
    int fit_intercept;      /* append the constant row */
} lr_x;

typedef struct {
    int lanes;
    void (*load_x)(const lr_x*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, double*);
    void (*load_w)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, double*);
    void (*pair_weights)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t, const double*, double*, double*);
    void (*forward)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*,
                    const int64_t*, const double*, double*, double*, double*, double*,
                    double*);
    void (*accumulate)(int, const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                       const Py_ssize_t*, Py_ssize_t, const double*, Py_ssize_t, double*);
    void (*outer_products)(const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                           const Py_ssize_t*, Py_ssize_t, Py_ssize_t, double*);
    void (*outer_products_f32)(const double*, Py_ssize_t, Py_ssize_t, const Py_ssize_t*,
                               const Py_ssize_t*, Py_ssize_t, Py_ssize_t, float*);
    void (*round_f32)(const double*, Py_ssize_t, float*);
    void (*scale_rows)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*,
                       double*);
    void (*sqrt_row)(const double*, Py_ssize_t, double*);
    void (*lane_sum)(const double*, Py_ssize_t, double*);
    int (*all_finite)(const char*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, int);
    void (*hvp_residual)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*);
    void (*lg_residual)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const int64_t*,
                        const double*, double*, double*);
    void (*logits)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                   const double*, double*);
    void (*softmax)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t);
    void (*hvp_residual_p)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*);
    void (*store_proba)(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, float*);
    void (*load_proba)(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       double*);
} lr_kernels;

#if (defined(__GNUC__) || defined(__clang__)) && (SIZE_MAX > 0xffffffffu)
#define LR_INLINE static inline __attribute__((always_inline))
#define LR_VECTORS 1
#else
#define LR_INLINE static inline
#define LR_VECTORS 0
#endif

#if LR_VECTORS && (defined(__x86_64__) || defined(_M_X64)) && !defined(LOGREG_NO_DISPATCH)
#define LR_X86_DISPATCH 1
#else
#define LR_X86_DISPATCH 0
#endif

#if LR_X86_DISPATCH
#include <immintrin.h>
#endif

/* ---- the baseline copy: no target attribute, compiler defaults ---- */
#define LR_SUFFIX base
#if LR_VECTORS
#define LR_L 2
#define LR_MAXACC 6
#define LR_ETMAX 4
#else
#define LR_L 1
#define LR_MAXACC 8
#define LR_ETMAX 4
#endif
#define LR_QTMAX 4
#include "_simd_body.h"
#undef LR_SUFFIX
#undef LR_L
#undef LR_MAXACC
#undef LR_ETMAX
#undef LR_QTMAX

#if LR_X86_DISPATCH
/* ---- AVX2 + FMA: 16 ymm registers ---- */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define LR_SUFFIX avx2
#define LR_ISA_AVX2 1
/* the low 32 bits of each 64-bit lane (a 64-bit lane mask -> a 32-bit one) */
static inline __m128i _mm256_cvtepi64_epi32_lr(__m256i m)
{
    __m256 f = _mm256_castsi256_ps(m);
    __m128 lo = _mm256_castps256_ps128(f), hi = _mm256_extractf128_ps(f, 1);
    return _mm_castps_si128(_mm_shuffle_ps(lo, hi, 0x88));
}
#define LR_L 4
#define LR_MAXACC 10
#define LR_ETMAX 5
#define LR_QTMAX 5
#include "_simd_body.h"
#undef LR_ISA_AVX2
#undef LR_SUFFIX
#undef LR_L
#undef LR_MAXACC
#undef LR_ETMAX
#undef LR_QTMAX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* ---- AVX-512: 32 zmm registers ---- */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma")
#endif
#define LR_SUFFIX avx512
#define LR_ISA_AVX512 1
#define LR_L 8
#define LR_MAXACC 24
#define LR_ETMAX 8
#define LR_QTMAX 8
#include "_simd_body.h"
#undef LR_ISA_AVX512
#undef LR_SUFFIX
#undef LR_L
#undef LR_MAXACC
#undef LR_ETMAX
#undef LR_QTMAX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  /* LR_X86_DISPATCH */

/* Instruction-set levels: 0 baseline, 1 AVX2+FMA, 2 AVX-512. */
static int lr_best_level(void)
{
#if LR_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

static const char* lr_level_name(int level)
{
    if (level == 2) return "avx512";
    if (level == 1) return "avx2";
#if LR_VECTORS
    return "baseline";
#else
    return "scalar";
#endif
}

static int lr_clamp_level(int level)
{
    int best = lr_best_level();
    if (level > best) level = best;
    if (level < 0) level = 0;
    return level;
}

/* The kernels of a level, clamped to what this CPU supports. */
static const lr_kernels* lr_select(int level)
{
    level = lr_clamp_level(level);
#if LR_X86_DISPATCH
    if (level == 2) return &kernels_avx512;
    if (level == 1) return &kernels_avx2;
#endif
    return &kernels_base;
}

#endif  /* LOGREG_SIMD_H */
