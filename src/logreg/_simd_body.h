/* One instruction set's copy of the block kernels of logreg._hessian.
 *
 * Included by _simd.h once per target, with
 *   LR_SUFFIX   name suffix (avx512, avx2, base)
 *   LR_L        lanes: doubles per vector (8, 4, 2; 1 = plain C, no vector extension)
 *   LR_MAXACC   vector accumulators a register tile may hold
 *   LR_ETMAX    largest tile width in packed entries
 *   LR_QTMAX    largest tile height in pairs (<= 8)
 *
 * Layout ("transposed block"): a block of b rows (b a multiple of 8) is held
 * feature-major, xT[a * b + r], so every operation runs along r, LR_L rows at a
 * time, whatever p and k are.  Rows past the end of the data are zero with
 * weight zero: they add exact zeros.  Accumulators keep one partial sum per
 * lane (C8[(q * ne + e) * LR_L + l]); lanes are added in a fixed order at the
 * end of a segment, so results never depend on threads.
 */

#define LR_CAT2(a, b) a##_##b
#define LR_CAT(a, b) LR_CAT2(a, b)
#define LR_FN(name) LR_CAT(name, LR_SUFFIX)

#if LR_L > 1
typedef double LR_FN(vd) __attribute__((vector_size(LR_L * 8)));
typedef int64_t LR_FN(vi) __attribute__((vector_size(LR_L * 8)));
typedef uint64_t LR_FN(vu) __attribute__((vector_size(LR_L * 8)));
#define VD LR_FN(vd)
#define VI LR_FN(vi)
#define VU LR_FN(vu)

LR_INLINE VD LR_FN(load)(const double* p) { VD v; memcpy(&v, p, sizeof v); return v; }
LR_INLINE void LR_FN(store)(double* p, VD v) { memcpy(p, &v, sizeof v); }
LR_INLINE VI LR_FN(loadi)(const int64_t* p) { VI v; memcpy(&v, p, sizeof v); return v; }
LR_INLINE VD LR_FN(splat)(double x) { VD v = {0}; return v + x; }
LR_INLINE VD LR_FN(bits_to_d)(VU u) { VD v; memcpy(&v, &u, sizeof v); return v; }
LR_INLINE VU LR_FN(d_to_bits)(VD d) { VU u; memcpy(&u, &d, sizeof u); return u; }
/* m is all-ones or all-zeros per lane */
LR_INLINE VD LR_FN(select)(VI m, VD a, VD b)
{
    VU ua = LR_FN(d_to_bits)(a), ub = LR_FN(d_to_bits)(b), um = (VU)m;
    return LR_FN(bits_to_d)((ua & um) | (ub & ~um));
}
LR_INLINE VD LR_FN(vmax)(VD a, VD b) { return LR_FN(select)((VI)(a > b), a, b); }
LR_INLINE VD LR_FN(vmin)(VD a, VD b) { return LR_FN(select)((VI)(a < b), a, b); }
/* 1.0 where y == i, else 0.0 */
LR_INLINE VD LR_FN(onehot)(VI y, int64_t i)
{
    VI iv = {0};
    iv += i;
    return LR_FN(select)((VI)(y == iv), LR_FN(splat)(1.0), LR_FN(splat)(0.0));
}

/* exp for x in [-708, 709]: round-to-nearest reduction x = n ln2 + r,
   |r| <= ln2/2, Taylor polynomial of degree 13 (truncation < 1e-17 relative),
   2^n put straight into the exponent bits.  About 1 ulp; never overflows. */
LR_INLINE VD LR_FN(vexp)(VD x)
{
    const double shifter = 6755399441055744.0;            /* 1.5 * 2^52 */
    x = LR_FN(vmax)(x, LR_FN(splat)(-708.0));
    x = LR_FN(vmin)(x, LR_FN(splat)(709.0));
    VD t = x * 1.4426950408889634 + shifter;
    VD nd = t - shifter;
    VD r = x - nd * 6.93147180369123816490e-01;            /* ln2 hi: n * hi exact */
    r = r - nd * 1.90821492927058770002e-10;               /* ln2 lo */
    VD q = LR_FN(splat)(1.0 / 6227020800.0);               /* 1/13! */
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    /* low mantissa bits of t hold n (two's complement, offset by 2^51) */
    VU n = LR_FN(d_to_bits)(t) - LR_FN(d_to_bits)(LR_FN(splat)(shifter));
    VU scale = (n + 1023) << 52;
    return q * LR_FN(bits_to_d)(scale);
}

/* log for positive normal x (fdlibm's e_log.c reduction and polynomial, < 1 ulp) */
LR_INLINE VD LR_FN(vlog)(VD x)
{
    const double shifter = 6755399441055744.0;
    VU bits = LR_FN(d_to_bits)(x);
    VU e = (bits >> 52) & 0x7ff;
    VD m = LR_FN(bits_to_d)((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    VI big = (VI)(m > 1.4142135623730951);
    m = LR_FN(select)(big, m * 0.5, m);
    e = e + ((VU)big & 1);
    /* exponent to double without a vector int->double instruction */
    VD ed = LR_FN(bits_to_d)(e + LR_FN(d_to_bits)(LR_FN(splat)(shifter))) - shifter - 1023.0;
    VD f = m - 1.0;
    VD s = f / (f + 2.0);
    VD z = s * s;
    VD w = z * z;
    VD t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
            + w * 1.531383769920937332e-01));
    VD t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
            + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    VD R = t2 + t1;
    VD hfsq = 0.5 * f * f;
    return ed * 6.93147180369123816490e-01
           - ((hfsq - (s * (hfsq + R) + ed * 1.90821492927058770002e-10)) - f);
}

#else  /* LR_L == 1: plain C, one row at a time */
#define VD double
#define VI int64_t
LR_INLINE VD LR_FN(load)(const double* p) { return *p; }
LR_INLINE void LR_FN(store)(double* p, VD v) { *p = v; }
LR_INLINE VI LR_FN(loadi)(const int64_t* p) { return *p; }
LR_INLINE VD LR_FN(splat)(double x) { return x; }
LR_INLINE VD LR_FN(vmax)(VD a, VD b) { return a > b ? a : b; }
LR_INLINE VD LR_FN(onehot)(VI y, int64_t i) { return y == i ? 1.0 : 0.0; }
LR_INLINE VD LR_FN(vexp)(VD x) { return exp(x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x)); }
LR_INLINE VD LR_FN(vlog)(VD x) { return log(x); }
#endif

#define LOAD LR_FN(load)
#define STORE LR_FN(store)
#define SPLAT LR_FN(splat)


/* ------------------------------------------------------------------ loads */

/* How far ahead transpose_rows prefetches (AVX-512 loop): the same column tile
   of the rows at least LR_PREFETCH_BYTES further on (at least
   LR_PREFETCH_ROWS rows), with LR_PREFETCH_HINT.  X streams from memory once
   per pass and this loop is where the block passes wait for it.  The distance
   is in bytes so that it covers the memory latency whatever the row length
   (a fixed count of short rows is too close); the floor in rows keeps long
   rows from prefetching only the very next step.  The hint brings the lines
   toward L2 rather than L1, leaving L1 to the rows being transposed.  The
   macros can be set at compile time to re-tune; the figures behind the
   defaults: bench/MEASUREMENTS.md. */
#ifndef LR_PREFETCH_ROWS
#define LR_PREFETCH_ROWS 16
#endif
#ifndef LR_PREFETCH_BYTES
#define LR_PREFETCH_BYTES 8192
#endif
#ifndef LR_PREFETCH_HINT
#define LR_PREFETCH_HINT _MM_HINT_T2
#endif

/* dst[a * ld + r] = row r, column a of a row-major block (unit column stride,
   row stride s0 bytes), for r < nrows, a < ncols: the block transposed. */
static void LR_FN(transpose_rows)(const char* src, Py_ssize_t s0, int f32,
                                  Py_ssize_t nrows, Py_ssize_t ncols,
                                  double* dst, Py_ssize_t ld)
{
    Py_ssize_t r = 0, a;
#if defined(LR_ISA_AVX512) || defined(LR_ISA_AVX2)
    Py_ssize_t a0;
#endif
#if defined(LR_ISA_AVX512)
    /* 8 rows x 8 columns at a time: masked loads (never past the row's end),
       an in-register transpose, 8 vector stores */
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    Py_ssize_t pf_rows = (LR_PREFETCH_BYTES + s0 - 1) / (s0 > 0 ? s0 : 1);
    pf_rows = pf_rows < LR_PREFETCH_ROWS ? LR_PREFETCH_ROWS : (pf_rows + 7) / 8 * 8;
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (; r + 8 <= nrows; r += 8) {
        for (a0 = 0; a0 < ncols; a0 += 8) {
            int w = (int)(ncols - a0 < 8 ? ncols - a0 : 8), i;
            __mmask8 m = (__mmask8)((1u << w) - 1u);
            __m512d x[8], t[8], u[8], c[8];
            for (i = 0; i < 8; i++) {
                const char* row = src + (r + i) * s0;
                x[i] = f32 ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, (const float*)row + a0))
                           : _mm512_maskz_loadu_pd(m, (const double*)row + a0);
            }
            if (r + pf_rows + 8 <= nrows)
                for (i = 0; i < 8; i++)
                    _mm_prefetch(src + (r + pf_rows + i) * s0 + a0 * (f32 ? 4 : 8),
                                 LR_PREFETCH_HINT);
            for (i = 0; i < 8; i += 2) {
                t[i] = _mm512_unpacklo_pd(x[i], x[i + 1]);
                t[i + 1] = _mm512_unpackhi_pd(x[i], x[i + 1]);
            }
            for (i = 0; i < 8; i += 4) {
                u[i] = _mm512_permutex2var_pd(t[i], lo, t[i + 2]);
                u[i + 1] = _mm512_permutex2var_pd(t[i + 1], lo, t[i + 3]);
                u[i + 2] = _mm512_permutex2var_pd(t[i], hi, t[i + 2]);
                u[i + 3] = _mm512_permutex2var_pd(t[i + 1], hi, t[i + 3]);
            }
            for (i = 0; i < 4; i++) {
                c[i] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0x44);
                c[i + 4] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0xEE);
            }
            for (i = 0; i < w; i++) _mm512_storeu_pd(dst + (a0 + i) * ld + r, c[i]);
        }
    }
#elif defined(LR_ISA_AVX2)
    for (; r + 4 <= nrows; r += 4) {
        for (a0 = 0; a0 < ncols; a0 += 4) {
            int w = (int)(ncols - a0 < 4 ? ncols - a0 : 4), i;
            __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(w), _mm256_set_epi64x(3, 2, 1, 0));
            __m256d x[4], t[4], c[4];
            for (i = 0; i < 4; i++) {
                const char* row = src + (r + i) * s0;
                x[i] = f32 ? _mm256_cvtps_pd(_mm_maskload_ps((const float*)row + a0,
                                                             _mm256_cvtepi64_epi32_lr(m)))
                           : _mm256_maskload_pd((const double*)row + a0, m);
            }
            t[0] = _mm256_unpacklo_pd(x[0], x[1]);
            t[1] = _mm256_unpackhi_pd(x[0], x[1]);
            t[2] = _mm256_unpacklo_pd(x[2], x[3]);
            t[3] = _mm256_unpackhi_pd(x[2], x[3]);
            c[0] = _mm256_permute2f128_pd(t[0], t[2], 0x20);
            c[1] = _mm256_permute2f128_pd(t[1], t[3], 0x20);
            c[2] = _mm256_permute2f128_pd(t[0], t[2], 0x31);
            c[3] = _mm256_permute2f128_pd(t[1], t[3], 0x31);
            for (i = 0; i < w; i++) _mm256_storeu_pd(dst + (a0 + i) * ld + r, c[i]);
        }
    }
#endif
    for (; r < nrows; r++) {
        const char* row = src + r * s0;
        if (f32) for (a = 0; a < ncols; a++) dst[a * ld + r] = ((const float*)row)[a];
        else for (a = 0; a < ncols; a++) dst[a * ld + r] = ((const double*)row)[a];
    }
}

/* xT (p x b) from rows r0 : r0 + bn of X; columns bn : nr zero (nr <= b, a
   multiple of 8); row d = 1 when fit_intercept (zero in the padding). */
static void LR_FN(load_x)(const lr_x* X, Py_ssize_t r0, Py_ssize_t bn, Py_ssize_t nr,
                          Py_ssize_t b, double* xT)
{
    const Py_ssize_t d = X->d, s0 = X->s0, s1 = X->s1, es = X->f32 ? 4 : 8;
    const char* base = X->data + r0 * s0;
    Py_ssize_t r, a;
    if (s1 == es && (s0 != es || d == 1)) {          /* rows contiguous (C order) */
        LR_FN(transpose_rows)(base, s0, X->f32, bn, d, xT, b);
    } else if (!X->f32 && s0 == 8) {                 /* columns contiguous (F order) */
        for (a = 0; a < d; a++)
            memcpy(xT + a * b, base + a * s1, (size_t)bn * sizeof(double));
    } else if (X->f32) {
        for (a = 0; a < d; a++) {
            const char* col = base + a * s1;
            for (r = 0; r < bn; r++) xT[a * b + r] = *(const float*)(col + r * s0);
        }
    } else {
        for (a = 0; a < d; a++) {
            const char* col = base + a * s1;
            for (r = 0; r < bn; r++) xT[a * b + r] = *(const double*)(col + r * s0);
        }
    }
    if (bn < nr)
        for (a = 0; a < d; a++) memset(xT + a * b + bn, 0, (size_t)(nr - bn) * sizeof(double));
    if (X->fit_intercept) {
        for (r = 0; r < bn; r++) xT[d * b + r] = 1.0;
        for (r = bn; r < nr; r++) xT[d * b + r] = 0.0;
    }
}

/* wv[r] = weight of row r (0 in the padding) */
static void LR_FN(load_w)(const double* w, Py_ssize_t r0, Py_ssize_t bn, Py_ssize_t nr,
                          double* wv)
{
    Py_ssize_t r;
    if (w) memcpy(wv, w + r0, (size_t)bn * sizeof(double));
    else for (r = 0; r < bn; r++) wv[r] = 1.0;
    for (r = bn; r < nr; r++) wv[r] = 0.0;
}

/* V[q * b + r] = wv_r p_ri p_rj, q = (i, j), i < j; P is n x k row-major */
static void LR_FN(pair_weights)(const double* P, Py_ssize_t k, Py_ssize_t r0,
                                Py_ssize_t bn, Py_ssize_t b, Py_ssize_t nr,
                                const double* wv, double* PT, double* V)
{
    Py_ssize_t r, i, j, q;
    LR_FN(transpose_rows)((const char*)(P + r0 * k), k * (Py_ssize_t)sizeof(double), 0,
                          bn, k, PT, b);
    for (i = 0; i < k; i++)
        for (r = bn; r < nr; r++) PT[i * b + r] = 0.0;
    q = 0;
    for (i = 0; i < k; i++) {
        for (j = i + 1; j < k; j++, q++) {
            for (r = 0; r < nr; r += LR_L) {
                VD wpi = LOAD(wv + r) * LOAD(PT + i * b + r);
                STORE(V + q * b + r, wpi * LOAD(PT + j * b + r));
            }
        }
    }
}

/* ------------------------------------------------------ fused forward pass */

static void LR_FN(logits)(const double* xT, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t p,
                          Py_ssize_t m, const double* C, double* eta);
static void LR_FN(lg_residual)(double* eta, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t k,
                               const int64_t* yv, const double* wv, double* loss_lanes,
                               double* P);

/* From xT, coef (k x p, row-major), labels and weights of one block:
   PT (k x b) probabilities, R (k x b) = w (p - onehot(y)), V (K x b) pair
   weights (when V != NULL); loss lanes += w (logsumexp - eta_y).
   eta is unused (the logits are made in R). */
static void LR_FN(forward)(const double* xT, Py_ssize_t b, Py_ssize_t nr,
                           Py_ssize_t p, Py_ssize_t k,
                           const double* coef, const int64_t* yv, const double* wv,
                           double* eta, double* PT, double* R, double* V,
                           double* loss_lanes)
{
    Py_ssize_t r, i, j, q;
    (void)eta;
    /* logits into R, which lg_residual turns into the residual (PT: p) */
    LR_FN(logits)(xT, b, nr, p, k, coef, R);
    LR_FN(lg_residual)(R, b, nr, k, yv, wv, loss_lanes, PT);
    if (V) {
        for (r = 0; r < nr; r += LR_L) {
            VD w = LOAD(wv + r);
            q = 0;
            for (i = 0; i < k; i++) {
                VD wpi = w * LOAD(PT + i * b + r);
                for (j = i + 1; j < k; j++, q++)
                    STORE(V + q * b + r, wpi * LOAD(PT + j * b + r));
            }
        }
    }
}

/* ------------------------------------------- the dgemm passes (elementwise) */

/* The middle of a dgemm block pass: eta holds m rows of b logits (class-major,
   eta[j * b + r]) that a dgemm wrote.  Rows nr..b are never touched; rows past
   the data (up to nr) must hold finite values and weight zero. */

/* The one softmax of the kernels, first half: for the LR_L rows at r, eta rows
   0..k-1 <- e_i = exp(eta_i - m), m the rows' maximum; returns s = sum_i e_i.
   The probabilities are e_i / s (the shift is exact near the maximum, so they
   sum to 1 to rounding whatever the size of the logits) and the log-sum-exp
   is m + log s, which callers use as log s - (eta_y - m). */
LR_INLINE VD LR_FN(exp_shifted)(double* eta, Py_ssize_t b, Py_ssize_t r, Py_ssize_t k, VD* max)
{
    Py_ssize_t i;
    VD m = LOAD(eta + r);
    for (i = 1; i < k; i++) m = LR_FN(vmax)(m, LOAD(eta + i * b + r));
    VD s = SPLAT(0.0);
    for (i = 0; i < k; i++) {
        VD e = LR_FN(vexp)(LOAD(eta + i * b + r) - m);
        s += e;
        STORE(eta + i * b + r, e);
    }
    *max = m;
    return s;
}

/* Hessian-vector product: rows 0..k-1 are the logits of coef, rows k..2k-1
   s = V x of the direction.  On return rows 0..k-1 hold the probabilities p
   and rows k..2k-1 the residual R_i = w p_i (s_i - sum_j p_j s_j). */
static void LR_FN(hvp_residual)(double* eta, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t k,
                                const double* wv)
{
    Py_ssize_t r, i;
    for (r = 0; r < nr; r += LR_L) {
        VD m;
        VD inv = 1.0 / LR_FN(exp_shifted)(eta, b, r, k, &m);
        VD t = SPLAT(0.0);
        for (i = 0; i < k; i++) {
            VD pr = LOAD(eta + i * b + r) * inv;
            VD q = pr * LOAD(eta + (k + i) * b + r);
            t += q;
            STORE(eta + i * b + r, pr);
            STORE(eta + (k + i) * b + r, q);
        }
        VD w = LOAD(wv + r);
        for (i = 0; i < k; i++)
            STORE(eta + (k + i) * b + r,
                  w * (LOAD(eta + (k + i) * b + r) - LOAD(eta + i * b + r) * t));
    }
}

/* Softmax of rows 0..k-1 in place (logits -> probabilities), the arithmetic
   of the first half of ``hvp_residual``. */
static void LR_FN(softmax)(double* eta, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t k)
{
    Py_ssize_t r, i;
    for (r = 0; r < nr; r += LR_L) {
        VD m;
        VD inv = 1.0 / LR_FN(exp_shifted)(eta, b, r, k, &m);
        for (i = 0; i < k; i++) STORE(eta + i * b + r, LOAD(eta + i * b + r) * inv);
    }
}

/* Hessian-vector product from given probabilities: rows 0..k-1 hold them (any
   positive scale: each row is first renormalised to sum 1 in float64, so
   float32-rounded probabilities give the exact Hessian at probabilities within
   rounding of the true ones: symmetric PSD, zero along constant directions),
   rows k..2k-1 s = V x.  On return rows 0..k-1 hold the renormalised
   probabilities and rows k..2k-1 the residual R_i = w p_i (s_i - sum_j p_j s_j). */
static void LR_FN(hvp_residual_p)(double* eta, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t k,
                                  const double* wv)
{
    Py_ssize_t r, i;
    for (r = 0; r < nr; r += LR_L) {
        VD s = SPLAT(0.0);
        for (i = 0; i < k; i++) s += LOAD(eta + i * b + r);
        VD inv = 1.0 / s;
        VD t = SPLAT(0.0);
        for (i = 0; i < k; i++) {
            VD pr = LOAD(eta + i * b + r) * inv;
            VD q = pr * LOAD(eta + (k + i) * b + r);
            t += q;
            STORE(eta + i * b + r, pr);
            STORE(eta + (k + i) * b + r, q);
        }
        VD w = LOAD(wv + r);
        for (i = 0; i < k; i++)
            STORE(eta + (k + i) * b + r,
                  w * (LOAD(eta + (k + i) * b + r) - LOAD(eta + i * b + r) * t));
    }
}

/* The probability cache of the Hessian-vector product: dst (bn x k, row-major
   float32) = rows 0..k-1, columns 0..bn-1 of eta rounded to float32, and eta
   gets the rounded values back (a product that fills the cache computes with
   what later products will read). */
static void LR_FN(store_proba)(double* eta, Py_ssize_t b, Py_ssize_t bn, Py_ssize_t k,
                               float* dst)
{
    Py_ssize_t r, i;
    for (r = 0; r < bn; r++)
        for (i = 0; i < k; i++) {
            float f = (float)eta[i * b + r];
            dst[r * k + i] = f;
            eta[i * b + r] = (double)f;
        }
}

/* eta rows 0..k-1 = src (bn x k, row-major float32) transposed and widened;
   columns bn..nr-1 (padding, weight zero) = 1. */
static void LR_FN(load_proba)(const float* src, Py_ssize_t b, Py_ssize_t bn, Py_ssize_t nr,
                              Py_ssize_t k, double* eta)
{
    Py_ssize_t r, i;
    LR_FN(transpose_rows)((const char*)src, k * (Py_ssize_t)sizeof(float), 1, bn, k, eta, b);
    for (i = 0; i < k; i++)
        for (r = bn; r < nr; r++) eta[i * b + r] = 1.0;
}

/* Loss and gradient: rows 0..k-1 are the logits; on return they hold the
   residual R_i = w (p_i - onehot(y)_i); loss lanes += w (logsumexp - eta_y).
   The same arithmetic as ``forward``; the probabilities p_i (the arithmetic of
   ``softmax``) also go to P (k x b, class-major) when P is not NULL. */
static void LR_FN(lg_residual)(double* eta, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t k,
                               const int64_t* yv, const double* wv, double* loss_lanes,
                               double* P)
{
    Py_ssize_t r, i;
    VD loss = LOAD(loss_lanes);
    for (r = 0; r < nr; r += LR_L) {
        /* eta_y, picked exactly (the other terms are +-0) before exp_shifted
           overwrites the logits */
        VI y = LR_FN(loadi)(yv + r);
        VD eta_y = SPLAT(0.0);
        for (i = 0; i < k; i++) eta_y += LOAD(eta + i * b + r) * LR_FN(onehot)(y, i);
        VD m;
        VD s = LR_FN(exp_shifted)(eta, b, r, k, &m);
        VD w = LOAD(wv + r);
        VD inv = 1.0 / s;
        loss += w * (LR_FN(vlog)(s) - (eta_y - m));
        /* p is stored before the residual reads it back (not fused into a
           multiply-add with the residual): the same bits with or without P */
        for (i = 0; i < k; i++) {
            VD pr = LOAD(eta + i * b + r) * inv;
            STORE(eta + i * b + r, pr);
            if (P) STORE(P + i * b + r, pr);
        }
        for (i = 0; i < k; i++)
            STORE(eta + i * b + r, w * (LOAD(eta + i * b + r) - LR_FN(onehot)(y, i)));
    }
    STORE(loss_lanes, loss);
}

/* One tile of ``logits``: NC rows of C (c0, row-major, p columns) times NV
   vectors of rows starting at r; each output is its own chain of multiply-adds
   over a = 0..p-1 (the same arithmetic for any tile shape). */
LR_INLINE void LR_FN(logits_tile)(const int NC, const int NV, const double* xT, Py_ssize_t b,
                                  Py_ssize_t r, Py_ssize_t p, const double* c0, double* eta)
{
    VD e[4][2];
    int j, v;
    Py_ssize_t a;
    for (j = 0; j < NC; j++)
        for (v = 0; v < NV; v++) e[j][v] = SPLAT(0.0);
    for (a = 0; a < p; a++) {
        VD x[2];
        for (v = 0; v < NV; v++) x[v] = LOAD(xT + a * b + r + v * LR_L);
        for (j = 0; j < NC; j++) {
            const double c = c0[j * p + a];
            for (v = 0; v < NV; v++) e[j][v] += x[v] * c;
        }
    }
    for (j = 0; j < NC; j++)
        for (v = 0; v < NV; v++) STORE(eta + j * b + r + v * LR_L, e[j][v]);
}

#define LR_LOGITS_CASE(NC, NV) \
    case NC: LR_FN(logits_tile)(NC, NV, xT, b, r, p, C + i * p, eta + i * b); break;

/* eta (m x b, class-major) = C (m x p, row-major) times the block xT, the
   first nr rows: tiles of up to four rows of C x two vectors of rows (eight
   independent chains share each load of xT and each coefficient), the
   alternative to a dgemm for narrow blocks */
static void LR_FN(logits)(const double* xT, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t p,
                          Py_ssize_t m, const double* C, double* eta)
{
    Py_ssize_t r, i;
    int nc;
    for (i = 0; i < m; i += nc) {
        nc = m - i >= 4 ? 4 : (int)(m - i);
        for (r = 0; r + 2 * LR_L <= nr; r += 2 * LR_L)
            switch (nc) {
                LR_LOGITS_CASE(1, 2) LR_LOGITS_CASE(2, 2) LR_LOGITS_CASE(3, 2)
                LR_LOGITS_CASE(4, 2)
            }
        for (; r < nr; r += LR_L)
            switch (nc) {
                LR_LOGITS_CASE(1, 1) LR_LOGITS_CASE(2, 1) LR_LOGITS_CASE(3, 1)
                LR_LOGITS_CASE(4, 1)
            }
    }
}

#undef LR_LOGITS_CASE

/* ----------------------------------------------------------- the products */

/* One register tile: C[q0 + jq][e0 + ie] (lanes) += sum_r V[q0 + jq][r] u_{e0 + ie}[r]
   for ET x QT outputs, where u_e = xT[ia[e]] * xT[ic[e]] (PROD) or xT[e].
   ET, QT and PROD are constants after inlining: the tile lives in registers. */
LR_INLINE void LR_FN(tile)(const int ET, const int QT, const int PROD,
                           const double* xT, Py_ssize_t b, Py_ssize_t nr,
                           const Py_ssize_t* ia, const Py_ssize_t* ic, Py_ssize_t e0,
                           const double* V, Py_ssize_t q0, double* C, Py_ssize_t ne)
{
    VD acc[8][LR_ETMAX];
    const double* ua[LR_ETMAX];
    const double* uc[LR_ETMAX];
    const double* vq[8];
    int ie, jq;
    Py_ssize_t r;
    for (ie = 0; ie < ET; ie++) {
        ua[ie] = xT + (PROD ? ia[e0 + ie] : e0 + ie) * b;
        uc[ie] = xT + (PROD ? ic[e0 + ie] : 0) * b;
    }
    for (jq = 0; jq < QT; jq++) {
        vq[jq] = V + (q0 + jq) * b;
        for (ie = 0; ie < ET; ie++)
            acc[jq][ie] = LOAD(C + ((q0 + jq) * ne + e0 + ie) * LR_L);
    }
    for (r = 0; r < nr; r += LR_L) {
        VD u[LR_ETMAX];
        for (ie = 0; ie < ET; ie++)
            u[ie] = PROD ? LOAD(ua[ie] + r) * LOAD(uc[ie] + r) : LOAD(ua[ie] + r);
        for (jq = 0; jq < QT; jq++) {
            VD v = LOAD(vq[jq] + r);
            for (ie = 0; ie < ET; ie++) acc[jq][ie] += u[ie] * v;
        }
    }
    for (jq = 0; jq < QT; jq++)
        for (ie = 0; ie < ET; ie++)
            STORE(C + ((q0 + jq) * ne + e0 + ie) * LR_L, acc[jq][ie]);
}

#define LR_ET_FOR(QT) (LR_MAXACC / (QT) < LR_ETMAX ? LR_MAXACC / (QT) : LR_ETMAX)

#define LR_TILE_CASE(QT, PROD)                                                    \
    case QT:                                                                      \
        for (; e0 + LR_ET_FOR(QT) <= ne; e0 += LR_ET_FOR(QT))                     \
            LR_FN(tile)(LR_ET_FOR(QT), QT, PROD, xT, b, nr, ia, ic, e0, V, q0, C, ne); \
        for (; e0 < ne; e0++)                                                     \
            LR_FN(tile)(1, QT, PROD, xT, b, nr, ia, ic, e0, V, q0, C, ne);        \
        break;

#define LR_TILE_SWITCH(PROD)                                                      \
    switch (qt) {                                                                 \
        LR_TILE_CASE(1, PROD) LR_TILE_CASE(2, PROD) LR_TILE_CASE(3, PROD)         \
        LR_TILE_CASE(4, PROD) LR_TILE_CASE(5, PROD) LR_TILE_CASE(6, PROD)         \
        LR_TILE_CASE(7, PROD) LR_TILE_CASE(8, PROD)                               \
    }

/* C (nq x ne x lanes) += products over the first nr rows of the block.
   Pairs are split into near-equal tiles of at most LR_QTMAX. */
static void LR_FN(accumulate)(int prod, const double* xT, Py_ssize_t b, Py_ssize_t nr,
                              const Py_ssize_t* ia, const Py_ssize_t* ic, Py_ssize_t ne,
                              const double* V, Py_ssize_t nq, double* C)
{
    Py_ssize_t n_tiles = (nq + LR_QTMAX - 1) / LR_QTMAX, t, q0 = 0;
    for (t = 0; t < n_tiles; t++) {
        Py_ssize_t q1 = (nq * (t + 1)) / n_tiles;
        int qt = (int)(q1 - q0);
        Py_ssize_t e0 = 0;
        if (prod) { LR_TILE_SWITCH(1) } else { LR_TILE_SWITCH(0) }
        q0 = q1;
    }
}

/* U (b x (e1 - e0), column-major, ld b): packed products u_e = xT[ia[e]] * xT[ic[e]]
   for the dgemm route */
static void LR_FN(outer_products)(const double* xT, Py_ssize_t b, Py_ssize_t nr,
                                  const Py_ssize_t* ia, const Py_ssize_t* ic,
                                  Py_ssize_t e0, Py_ssize_t e1, double* U)
{
    Py_ssize_t e, r;
    for (e = e0; e < e1; e++) {
        const double* xa = xT + ia[e] * b;
        const double* xc = xT + ic[e] * b;
        double* u = U + (e - e0) * b;
        for (r = 0; r < nr; r += LR_L) STORE(u + r, LOAD(xa + r) * LOAD(xc + r));
    }
}

/* outer_products rounded to float32 (the float32 gemm route) */
static void LR_FN(outer_products_f32)(const double* xT, Py_ssize_t b, Py_ssize_t nr,
                                      const Py_ssize_t* ia, const Py_ssize_t* ic,
                                      Py_ssize_t e0, Py_ssize_t e1, float* U)
{
    Py_ssize_t e, r;
    for (e = e0; e < e1; e++) {
        const double* xa = xT + ia[e] * b;
        const double* xc = xT + ic[e] * b;
        float* u = U + (e - e0) * b;
        for (r = 0; r < nr; r++) u[r] = (float)(xa[r] * xc[r]);
    }
}

/* dst[i] = src[i] rounded to float32, i < n */
static void LR_FN(round_f32)(const double* src, Py_ssize_t n, float* dst)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* Y (b x p, column-major, ld b) = diag(s) * block: the sqrt-scaled operand of dsyrk */
static void LR_FN(scale_rows)(const double* xT, Py_ssize_t b, Py_ssize_t nr, Py_ssize_t p,
                              const double* s, double* Y)
{
    Py_ssize_t a, r;
    for (a = 0; a < p; a++)
        for (r = 0; r < nr; r += LR_L)
            STORE(Y + a * b + r, LOAD(xT + a * b + r) * LOAD(s + r));
}

/* s = sqrt(V[q]) over the first nr rows (V >= 0) */
static void LR_FN(sqrt_row)(const double* v, Py_ssize_t nr, double* s)
{
    Py_ssize_t r;
    for (r = 0; r < nr; r++) s[r] = sqrt(v[r]);
}

/* out[e] = sum of the lanes of C[e], in a fixed order; n entries */
static void LR_FN(lane_sum)(const double* C, Py_ssize_t n, double* out)
{
    Py_ssize_t e;
    int l;
    for (e = 0; e < n; e++) {
        double s = 0.0;
        for (l = 0; l < LR_L; l++) s += C[e * LR_L + l];
        out[e] = s;
    }
}

/* 1 when x[r * s0 + a * s1] (r < nr, a < d; strides in bytes) are all finite.
   x * 0 is 0 for finite x and NaN otherwise; NaN survives the sums. */
static int LR_FN(all_finite)(const char* data, Py_ssize_t nr, Py_ssize_t d,
                             Py_ssize_t s0, Py_ssize_t s1, int f32)
{
    const Py_ssize_t es = f32 ? 4 : 8;
    Py_ssize_t i, j, len, outer, step;
    double acc = 0.0;
    VD vacc = SPLAT(0.0);
    if (s1 == es && s0 == d * es) { len = nr * d; outer = 1; step = 0; }
    else if (s1 == es) { len = d; outer = nr; step = s0; }
    else if (s0 == es) { len = nr; outer = d; step = s1; }
    else {
        for (i = 0; i < nr; i++)
            for (j = 0; j < d; j++) {
                const char* e = data + i * s0 + j * s1;
                acc += (f32 ? (double)*(const float*)e : *(const double*)e) * 0.0;
            }
        return acc == 0.0;
    }
    for (j = 0; j < outer; j++) {
        const char* base = data + j * step;
        i = 0;
        if (f32) {
            const float* x = (const float*)base;
            for (; i + LR_L <= len; i += LR_L) {
                VD v;
                int l;
#if LR_L > 1
                for (l = 0; l < LR_L; l++) v[l] = x[i + l];
#else
                (void)l;
                v = x[i];
#endif
                vacc += v * 0.0;
            }
            for (; i < len; i++) acc += (double)x[i] * 0.0;
        } else {
            const double* x = (const double*)base;
            /* x * 0 before any sum: adding two huge finite x could overflow */
            VD v1 = SPLAT(0.0), v2 = v1, v3 = v1;
            for (; i + 4 * LR_L <= len; i += 4 * LR_L) {
                vacc += LOAD(x + i) * 0.0;
                v1 += LOAD(x + i + LR_L) * 0.0;
                v2 += LOAD(x + i + 2 * LR_L) * 0.0;
                v3 += LOAD(x + i + 3 * LR_L) * 0.0;
            }
            vacc += v1 + v2 + v3;
            for (; i + LR_L <= len; i += LR_L) vacc += LOAD(x + i) * 0.0;
            for (; i < len; i++) acc += x[i] * 0.0;
        }
    }
    {
        double lanes[LR_L];
        int l;
        STORE(lanes, vacc);
        for (l = 0; l < LR_L; l++) acc += lanes[l];
    }
    return acc == 0.0;
}

static const lr_kernels LR_FN(kernels) = {
    LR_L,
    LR_FN(load_x),
    LR_FN(load_w),
    LR_FN(pair_weights),
    LR_FN(forward),
    LR_FN(accumulate),
    LR_FN(outer_products),
    LR_FN(outer_products_f32),
    LR_FN(round_f32),
    LR_FN(scale_rows),
    LR_FN(sqrt_row),
    LR_FN(lane_sum),
    LR_FN(all_finite),
    LR_FN(hvp_residual),
    LR_FN(lg_residual),
    LR_FN(logits),
    LR_FN(softmax),
    LR_FN(hvp_residual_p),
    LR_FN(store_proba),
    LR_FN(load_proba),
};

#undef VD
#undef VI
#undef VU
#undef LOAD
#undef STORE
#undef SPLAT
#undef LR_ET_FOR
#undef LR_TILE_CASE
#undef LR_TILE_SWITCH
#undef LR_FN
#undef LR_CAT
#undef LR_CAT2
