// nabla_gemm.c — GEMM: the built-in packed kernels (AVX-512 / AVX2 / NEON / scalar,
// chosen at run time), and run-time discovery of OpenBLAS / Accelerate through dlopen.
#define _GNU_SOURCE
#include "nabla_internal.h"

#include <dlfcn.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The packing loops copy short rows (a panel's 6 to 32 elements); a memcpy call per row cost
// more than the copy (measured: 19 % of an LSTM epoch), so they stay inline vector loops.
#if defined(__clang__)
#define GEMM_NO_MEMCPY __attribute__((no_builtin("memcpy", "memmove")))
#else
#define GEMM_NO_MEMCPY
#endif

#define GEMM_MAX_TILE (16 * 64)
// Below this many multiply-adds (M*N*K) the GEMM runs on one thread.
#define GEMM_PAR_MIN_FLOPS (120.0 * 120.0 * 120.0)
// Up to this many multiply-adds, skip packing and use the direct kernel.
#define GEMM_DIRECT_MAX_FLOPS (64 * 64 * 64)

#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

typedef void (*sukr_fn)(long kc, const float *A, const float *B, float *C, long ldc, float alpha,
                        float beta);
typedef void (*dukr_fn)(long kc, const double *A, const double *B, double *C, long ldc,
                        double alpha, double beta);
typedef void (*spack_fn)(int trans, const float *X, long ldx, long i0, long p0, long mc, long kc,
                         int r, float *out);
typedef void (*dpack_fn)(int trans, const double *X, long ldx, long i0, long p0, long mc, long kc,
                         int r, double *out);
// Micro-kernel description; pack_a / pack_b are optional ISA-specific packers (NULL: generic).
typedef struct { int mr, nr; long kc, mc, nc; sukr_fn ukr; const char *name; spack_fn pack_a, pack_b; } s_ukr_desc;
typedef struct { int mr, nr; long kc, mc, nc; dukr_fn ukr; const char *name; dpack_fn pack_a, pack_b; } d_ukr_desc;

// ---------------------------------------------------------------------------------------
// Micro-kernels: C[MR x NR] = alpha * Ap * Bp + beta * C   (beta == 0: C not read)
// ---------------------------------------------------------------------------------------

// Generic register-blocked micro-kernel body for x86 vector types.
#define DEF_UKR_X86(NAME, TARGET, T, V, MR, NV, VL, LOAD, STORE, SET1, FMA, MUL, ZERO, PF)    \
    TARGET static void NAME(long kc, const T *restrict A, const T *restrict B, T *restrict C, \
                            long ldc, T alpha, T beta) {                                      \
        V c[MR][NV];                                                                          \
        UNROLL for (int r = 0; r < MR; r++) UNROLL for (int v = 0; v < NV; v++) c[r][v] =     \
            ZERO();                                                                           \
        UNROLL for (int r = 0; r < MR; r++) PF((const char *)(C + r * ldc));                  \
        for (long k = 0; k < kc; k++) {                                                       \
            V b[NV];                                                                          \
            UNROLL for (int v = 0; v < NV; v++) b[v] = LOAD(B + v * VL);                      \
            PF((const char *)(A + 8 * MR));                                                   \
            UNROLL for (int r = 0; r < MR; r++) {                                             \
                V a = SET1(A[r]);                                                             \
                UNROLL for (int v = 0; v < NV; v++) c[r][v] = FMA(a, b[v], c[r][v]);          \
            }                                                                                 \
            A += MR;                                                                          \
            B += NV * VL;                                                                     \
        }                                                                                     \
        V va = SET1(alpha);                                                                   \
        if (beta == 0) {                                                                      \
            UNROLL for (int r = 0; r < MR; r++) UNROLL for (int v = 0; v < NV; v++)           \
                STORE(C + r * ldc + v * VL, MUL(va, c[r][v]));                                \
        } else {                                                                              \
            V vb = SET1(beta);                                                                \
            UNROLL for (int r = 0; r < MR; r++) UNROLL for (int v = 0; v < NV; v++)           \
                STORE(C + r * ldc + v * VL,                                                   \
                      FMA(vb, LOAD(C + r * ldc + v * VL), MUL(va, c[r][v])));                 \
        }                                                                                     \
    }

#if defined(NABLA_X86)
#define PF_T0(p) _mm_prefetch((p), _MM_HINT_T0)
DEF_UKR_X86(s_ukr_avx512, NABLA_TARGET_AVX512, float, __m512, 12, 2, 16, _mm512_loadu_ps,
            _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps,
            PF_T0)
DEF_UKR_X86(s_ukr_avx2, NABLA_TARGET_AVX2, float, __m256, 6, 2, 8, _mm256_loadu_ps,
            _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_setzero_ps,
            PF_T0)
DEF_UKR_X86(d_ukr_avx512, NABLA_TARGET_AVX512, double, __m512d, 12, 2, 8, _mm512_loadu_pd,
            _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd,
            PF_T0)
DEF_UKR_X86(d_ukr_avx2, NABLA_TARGET_AVX2, double, __m256d, 6, 2, 4, _mm256_loadu_pd,
            _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd, _mm256_setzero_pd,
            PF_T0)
#endif

#if defined(NABLA_ARM64)
#define NEON_PF(p) __builtin_prefetch(p)
static inline float32x4_t nz_f32(void) { return vdupq_n_f32(0); }
static inline float64x2_t nz_f64(void) { return vdupq_n_f64(0); }
static inline float32x4_t nfma_f32(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }
static inline float64x2_t nfma_f64(float64x2_t a, float64x2_t b, float64x2_t c) { return vfmaq_f64(c, a, b); }
static inline void nst_f32(float *p, float32x4_t v) { vst1q_f32(p, v); }
static inline void nst_f64(double *p, float64x2_t v) { vst1q_f64(p, v); }
#define NOTARGET
DEF_UKR_X86(s_ukr_neon, NOTARGET, float, float32x4_t, 8, 3, 4, vld1q_f32, nst_f32, vdupq_n_f32,
            nfma_f32, vmulq_f32, nz_f32, NEON_PF)
DEF_UKR_X86(d_ukr_neon, NOTARGET, double, float64x2_t, 8, 3, 2, vld1q_f64, nst_f64, vdupq_n_f64,
            nfma_f64, vmulq_f64, nz_f64, NEON_PF)
#endif

#if defined(NABLA_X86)
// In-register 16x16 transpose: r[i] holds row i on entry and column i on exit.
NABLA_TARGET_AVX512 static inline void tr16_avx512(__m512 *r) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int m = 0; m < 4; m++) {
        t[m] = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88);
        t[4 + m] = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xdd);
        t[8 + m] = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xdd);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0xdd);
        r[4 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0xdd);
    }
}

static void s_pack_a(int transA, const float *A, long lda, long i0, long p0, long mc, long kc,
                     int mr, float *restrict Ap);
static void s_pack_b(int transB, const float *B, long ldb, long p0, long j0, long kc, long nc,
                     int nr, float *restrict Bp);

// Packs A (not transposed) into 12-row panels with 16x16 transposes (rows 12..15 unused).
NABLA_TARGET_AVX512 static void s_pack_a_avx512(int transA, const float *A, long lda, long i0,
                                                long p0, long mc, long kc, int mr, float *Ap) {
    if (transA || mr != 12) {
        s_pack_a(transA, A, lda, i0, p0, mc, kc, mr, Ap);
        return;
    }
    long full = mc / 12 * 12;
    for (long ip = 0; ip < full; ip += 12) {
        const float *src = A + (i0 + ip) * lda + p0;
        float *dst = Ap + ip * kc;
        long k = 0;
        for (; k + 16 <= kc; k += 16) {
            __m512 r[16];
            for (int i = 0; i < 12; i++) r[i] = _mm512_loadu_ps(src + i * lda + k);
            for (int i = 12; i < 16; i++) r[i] = _mm512_setzero_ps();
            tr16_avx512(r);
            for (int kk = 0; kk < 16; kk++) _mm512_mask_storeu_ps(dst + (k + kk) * 12, 0x0FFF, r[kk]);
        }
        for (; k < kc; k++)
            for (int i = 0; i < 12; i++) dst[k * 12 + i] = src[i * lda + k];
    }
    if (full < mc) s_pack_a(0, A, lda, i0 + full, p0, mc - full, kc, mr, Ap + full * kc);
}

// Packs op(B) = B^T (B stored N x K) into 32-column panels with 16x16 transposes.
NABLA_TARGET_AVX512 static void s_pack_b_avx512(int transB, const float *B, long ldb, long p0,
                                                long j0, long kc, long nc, int nr, float *Bp) {
    if (!transB || nr != 32) {
        s_pack_b(transB, B, ldb, p0, j0, kc, nc, nr, Bp);
        return;
    }
    long full = nc / 32 * 32;
    for (long jp = 0; jp < full; jp += 32) {
        const float *src = B + (j0 + jp) * ldb + p0;
        float *dst = Bp + jp * kc;
        long k = 0;
        for (; k + 16 <= kc; k += 16) {
            for (int h = 0; h < 2; h++) {
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (16 * h + i) * ldb + k);
                tr16_avx512(r);
                for (int kk = 0; kk < 16; kk++) _mm512_storeu_ps(dst + (k + kk) * 32 + 16 * h, r[kk]);
            }
        }
        for (; k < kc; k++)
            for (int c = 0; c < 32; c++) dst[k * 32 + c] = src[c * ldb + k];
    }
    if (full < nc) s_pack_b(1, B, ldb, p0, j0 + full, kc, nc - full, nr, Bp + full * kc);
}

// 8x8 transpose of r[0..7] in place (AVX2).
NABLA_TARGET_AVX2 static inline void tr8_avx2(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Packs A (not transposed) into 6-row panels with 8x8 transposes (rows 6 and 7 unused).
// The scalar version's strided stores cost as much as a small GEMM's arithmetic (a
// recurrent layer packs its state at every step). Each k writes 8 floats of which the
// next k's store overwrites 2; the last one runs 2 floats into the next panel (written
// afterwards) or the buffer's slack.
NABLA_TARGET_AVX2 static void s_pack_a_avx2(int transA, const float *A, long lda, long i0,
                                            long p0, long mc, long kc, int mr, float *Ap) {
    if (mr != 6) {
        s_pack_a(transA, A, lda, i0, p0, mc, kc, mr, Ap);
        return;
    }
    if (transA) {
        // op(A) = Aᵀ: a panel's 6 values for one k are contiguous. One 8-lane load and store
        // per k: the 2 extra lanes read the same row (or, at its end, the next row, which
        // exists for every k but the block's last, done in scalar) and are overwritten by the
        // next k's store (the last k's land in the next panel, written afterwards, or the
        // buffer's slack).
        long full = mc / 6 * 6;
        for (long ip = 0; ip < full; ip += 6) {
            const float *src = A + p0 * lda + i0 + ip;
            float *dst = Ap + ip * kc;
            long k = 0;
            for (; k + 1 < kc; k++) _mm256_storeu_ps(dst + k * 6, _mm256_loadu_ps(src + k * lda));
            for (int r = 0; r < 6; r++) dst[k * 6 + r] = src[k * lda + r];
        }
        if (full < mc) s_pack_a(1, A, lda, i0 + full, p0, mc - full, kc, mr, Ap + full * kc);
        return;
    }
    long full = mc / 6 * 6;
    for (long ip = 0; ip < full; ip += 6) {
        const float *src = A + (i0 + ip) * lda + p0;
        float *dst = Ap + ip * kc;
        long k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 6; i++) r[i] = _mm256_loadu_ps(src + i * lda + k);
            r[6] = r[7] = _mm256_setzero_ps();
            tr8_avx2(r);
            for (int kk = 0; kk < 8; kk++) _mm256_storeu_ps(dst + (k + kk) * 6, r[kk]);
        }
        for (; k < kc; k++)
            for (int i = 0; i < 6; i++) dst[k * 6 + i] = src[i * lda + k];
    }
    if (full < mc) s_pack_a(0, A, lda, i0 + full, p0, mc - full, kc, mr, Ap + full * kc);
}

// Packs op(B) = B^T (B stored N x K) into 16-column panels with 8x8 transposes.
NABLA_TARGET_AVX2 static void s_pack_b_avx2(int transB, const float *B, long ldb, long p0,
                                            long j0, long kc, long nc, int nr, float *Bp) {
    if (!transB || nr != 16) {
        s_pack_b(transB, B, ldb, p0, j0, kc, nc, nr, Bp);
        return;
    }
    long full = nc / 16 * 16;
    for (long jp = 0; jp < full; jp += 16) {
        const float *src = B + (j0 + jp) * ldb + p0;
        float *dst = Bp + jp * kc;
        long k = 0;
        for (; k + 8 <= kc; k += 8) {
            for (int h = 0; h < 2; h++) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (8 * h + i) * ldb + k);
                tr8_avx2(r);
                for (int kk = 0; kk < 8; kk++) _mm256_storeu_ps(dst + (k + kk) * 16 + 8 * h, r[kk]);
            }
        }
        for (; k < kc; k++)
            for (int c = 0; c < 16; c++) dst[k * 16 + c] = src[c * ldb + k];
    }
    if (full < nc) s_pack_b(1, B, ldb, p0, j0 + full, kc, nc - full, nr, Bp + full * kc);
}
#endif

// Portable scalar micro-kernels (4x4).
#define DEF_UKR_SCALAR(NAME, T)                                                               \
    static void NAME(long kc, const T *restrict A, const T *restrict B, T *restrict C,        \
                     long ldc, T alpha, T beta) {                                             \
        T c[4][4] = {{0}};                                                                    \
        for (long k = 0; k < kc; k++) {                                                       \
            for (int r = 0; r < 4; r++) {                                                     \
                T a = A[r];                                                                   \
                for (int j = 0; j < 4; j++) c[r][j] += a * B[j];                              \
            }                                                                                 \
            A += 4;                                                                           \
            B += 4;                                                                           \
        }                                                                                     \
        for (int r = 0; r < 4; r++)                                                           \
            for (int j = 0; j < 4; j++)                                                       \
                C[r * ldc + j] = beta == 0 ? alpha * c[r][j]                                  \
                                           : alpha * c[r][j] + beta * C[r * ldc + j];         \
    }
DEF_UKR_SCALAR(s_ukr_scalar, float)
DEF_UKR_SCALAR(d_ukr_scalar, double)

static const s_ukr_desc s_ukr_scalar_desc = {4, 4, 256, 128, 2048, s_ukr_scalar, "scalar, 4x4", NULL, NULL};
static const d_ukr_desc d_ukr_scalar_desc = {4, 4, 256, 128, 2048, d_ukr_scalar, "scalar, 4x4", NULL, NULL};
#if defined(NABLA_X86)
static const s_ukr_desc s_ukr_avx512_desc = {12, 32, 256, 192, 4096, s_ukr_avx512, "avx512, 12x32", s_pack_a_avx512, s_pack_b_avx512};
static const s_ukr_desc s_ukr_avx2_desc = {6, 16, 256, 96, 4096, s_ukr_avx2, "avx2, 6x16", s_pack_a_avx2, s_pack_b_avx2};
static const d_ukr_desc d_ukr_avx512_desc = {12, 16, 256, 96, 4096, d_ukr_avx512, "avx512, 12x16", NULL, NULL};
static const d_ukr_desc d_ukr_avx2_desc = {6, 8, 256, 96, 4096, d_ukr_avx2, "avx2, 6x8", NULL, NULL};
#endif
#if defined(NABLA_ARM64)
static const s_ukr_desc s_ukr_neon_desc = {8, 12, 256, 128, 4096, s_ukr_neon, "neon, 8x12", NULL, NULL};
static const d_ukr_desc d_ukr_neon_desc = {8, 6, 256, 128, 4096, d_ukr_neon, "neon, 8x6", NULL, NULL};
#endif

static const s_ukr_desc *s_ukr_for(nabla_isa isa) {
    switch (isa) {
#if defined(NABLA_X86)
    case NABLA_ISA_AVX512: return &s_ukr_avx512_desc;
    case NABLA_ISA_AVX2: return &s_ukr_avx2_desc;
#endif
#if defined(NABLA_ARM64)
    case NABLA_ISA_NEON: return &s_ukr_neon_desc;
#endif
    default: return &s_ukr_scalar_desc;
    }
}
static const d_ukr_desc *d_ukr_for(nabla_isa isa) {
    switch (isa) {
#if defined(NABLA_X86)
    case NABLA_ISA_AVX512: return &d_ukr_avx512_desc;
    case NABLA_ISA_AVX2: return &d_ukr_avx2_desc;
#endif
#if defined(NABLA_ARM64)
    case NABLA_ISA_NEON: return &d_ukr_neon_desc;
#endif
    default: return &d_ukr_scalar_desc;
    }
}

// ---------------------------------------------------------------------------------------
// Driver instantiations
// ---------------------------------------------------------------------------------------
#define GT float
#define GS(name) s_##name
#include "nabla_gemm_driver.inc"
#undef GT
#undef GS
#define GT double
#define GS(name) d_##name
#include "nabla_gemm_driver.inc"
#undef GT
#undef GS

// AVX-512 direct kernels for tiny float products (no packing).
#if defined(NABLA_X86)
static inline __mmask16 tail_mask16(long r) {
    return r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1);
}

// C[i0:i0+4, j0:j0+32] for op(B) = B (row-major K x N): 4 rows x 2 vectors, 8 chains.
NABLA_TARGET_AVX512 static void s_direct4_avx512(int transA, long i0, long j0, long N, long K,
                                                 float alpha, const float *A, long lda,
                                                 const float *B, long ldb, float beta, float *C,
                                                 long ldc) {
    __mmask16 m0 = tail_mask16(N - j0), m1 = tail_mask16(N - j0 - 16);
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00;
    const float *b = B + j0;
    long sa_r = transA ? 1 : lda, sa_k = transA ? lda : 1;
    const float *a = A + i0 * sa_r;
    for (long k = 0; k < K; k++, b += ldb, a += sa_k) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[sa_r]);
        __m512 a2 = _mm512_set1_ps(a[2 * sa_r]), a3 = _mm512_set1_ps(a[3 * sa_r]);
        c00 = _mm512_fmadd_ps(a0, b0, c00); c01 = _mm512_fmadd_ps(a0, b1, c01);
        c10 = _mm512_fmadd_ps(a1, b0, c10); c11 = _mm512_fmadd_ps(a1, b1, c11);
        c20 = _mm512_fmadd_ps(a2, b0, c20); c21 = _mm512_fmadd_ps(a2, b1, c21);
        c30 = _mm512_fmadd_ps(a3, b0, c30); c31 = _mm512_fmadd_ps(a3, b1, c31);
    }
    __m512 acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < 4; r++) {
        float *cp = C + (i0 + r) * ldc + j0;
        __m512 r0 = _mm512_mul_ps(va, acc[r][0]), r1 = _mm512_mul_ps(va, acc[r][1]);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cp), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cp + 16), r1);
        }
        _mm512_mask_storeu_ps(cp, m0, r0);
        _mm512_mask_storeu_ps(cp + 16, m1, r1);
    }
}

// One row, C[i, j0:j0+32]; k is split over 4 independent chains (latency of long K).
NABLA_TARGET_AVX512 static void s_direct1_avx512(int transA, long i, long j0, long N, long K,
                                                 float alpha, const float *A, long lda,
                                                 const float *B, long ldb, float beta, float *C,
                                                 long ldc) {
    __mmask16 m0 = tail_mask16(N - j0), m1 = tail_mask16(N - j0 - 16);
    __m512 z = _mm512_setzero_ps();
    __m512 p0[4] = {z, z, z, z}, p1[4] = {z, z, z, z};
    const float *b = B + j0;
    long sa_k = transA ? lda : 1;
    const float *a = transA ? A + i : A + i * lda;
    long k = 0;
    if (m1) {
        for (; k + 4 <= K; k += 4) {
            for (int u = 0; u < 4; u++) {
                __m512 av = _mm512_set1_ps(a[(k + u) * sa_k]);
                const float *bk = b + (k + u) * ldb;
                p0[u] = _mm512_fmadd_ps(av, _mm512_loadu_ps(bk), p0[u]);
                p1[u] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m1, bk + 16), p1[u]);
            }
        }
        for (; k < K; k++) {
            __m512 av = _mm512_set1_ps(a[k * sa_k]);
            const float *bk = b + k * ldb;
            p0[0] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m0, bk), p0[0]);
            p1[0] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m1, bk + 16), p1[0]);
        }
    } else {
        for (; k + 4 <= K; k += 4) {
            for (int u = 0; u < 4; u++) {
                __m512 av = _mm512_set1_ps(a[(k + u) * sa_k]);
                p0[u] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m0, b + (k + u) * ldb), p0[u]);
            }
        }
        for (; k < K; k++)
            p0[0] = _mm512_fmadd_ps(_mm512_set1_ps(a[k * sa_k]), _mm512_maskz_loadu_ps(m0, b + k * ldb), p0[0]);
    }
    __m512 r0 = _mm512_add_ps(_mm512_add_ps(p0[0], p0[1]), _mm512_add_ps(p0[2], p0[3]));
    __m512 r1 = _mm512_add_ps(_mm512_add_ps(p1[0], p1[1]), _mm512_add_ps(p1[2], p1[3]));
    float *cp = C + i * ldc + j0;
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    r0 = _mm512_mul_ps(va, r0);
    r1 = _mm512_mul_ps(va, r1);
    if (beta != 0) {
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cp), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cp + 16), r1);
    }
    _mm512_mask_storeu_ps(cp, m0, r0);
    if (m1) _mm512_mask_storeu_ps(cp + 16, m1, r1);
}

NABLA_TARGET_AVX512 static void s_dot_avx512(long M, long N, long K, float alpha, const float *A,
                                             long lda, const float *B, long ldb, float beta,
                                             float *C, long ldc) {
    long kr = K & 15;
    __mmask16 km = (__mmask16)((1u << kr) - 1);
    for (long i = 0; i < M; i++) {
        const float *a = A + i * lda;
        float *c = C + i * ldc;
        for (long j = 0; j < N; j++) {
            const float *b = B + j * ldb;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
            long k = 0;
            for (; k + 32 <= K; k += 32) {
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16), acc1);
            }
            for (; k + 16 <= K; k += 16)
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc0);
            if (kr)
                acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(km, a + k), _mm512_maskz_loadu_ps(km, b + k), acc1);
            float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
            c[j] = beta == 0 ? alpha * s : alpha * s + beta * c[j];
        }
    }
}

static void s_direct_avx512(int transA, int transB, long M, long N, long K, float alpha,
                            const float *A, long lda, const float *B, long ldb, float beta,
                            float *C, long ldc) {
    if (transB) {
        if (!transA && (long)N * K > 16384) {  // GEMV-like: stream B once as dot products
            s_dot_avx512(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
        // Small: transpose op(B) into a K x N scratch and use the row kernels.
        float *bt = (float *)nabla_scratch(1, (size_t)(K * N) * sizeof(float) + 64);
        for (long j = 0; j < N; j++)
            for (long k = 0; k < K; k++) bt[k * N + j] = B[j * ldb + k];
        B = bt;
        ldb = N;
    }
    long i = 0;
    for (; i + 4 <= M; i += 4)
        for (long j0 = 0; j0 < N; j0 += 32)
            s_direct4_avx512(transA, i, j0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    for (; i < M; i++)
        for (long j0 = 0; j0 < N; j0 += 32)
            s_direct1_avx512(transA, i, j0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#endif

static void s_builtin(nabla_isa isa, int transA, int transB, long M, long N, long K, float alpha,
                      const float *A, long lda, const float *B, long ldb, float beta, float *C,
                      long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) {
        s_scale_c(M, N, beta, C, ldc);
        return;
    }
    double flops = (double)M * (double)N * (double)K;
    // The AVX-512 direct kernel beats packing up to ~64^3; the portable one only for tiny sizes.
    double direct_max = isa == NABLA_ISA_AVX512 ? (double)GEMM_DIRECT_MAX_FLOPS : 24.0 * 24.0 * 24.0;
    if (flops <= direct_max || (M == 1 && !transB) || (M <= 2 && transB && !transA)) {
#if defined(NABLA_X86)
        if (isa == NABLA_ISA_AVX512) {
            s_direct_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
#endif
        s_gemm_direct_generic(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    s_gemm_builtin_packed(s_ukr_for(isa), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void d_builtin(nabla_isa isa, int transA, int transB, long M, long N, long K, double alpha,
                      const double *A, long lda, const double *B, long ldb, double beta, double *C,
                      long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) {
        d_scale_c(M, N, beta, C, ldc);
        return;
    }
    double flops = (double)M * (double)N * (double)K;
    if (flops <= 24.0 * 24.0 * 24.0) {
        d_gemm_direct_generic(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    d_gemm_builtin_packed(d_ukr_for(isa), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nabla_sgemm_builtin(int transA, int transB, long M, long N, long K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float beta, float *C,
                         long ldc) {
    s_builtin(nabla_isa_current(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

size_t nabla_s_packed_b_size(long K, long N) { return s_packed_b_size(s_ukr_for(nabla_isa_current()), K, N); }
size_t nabla_d_packed_b_size(long K, long N) { return d_packed_b_size(d_ukr_for(nabla_isa_current()), K, N); }
void nabla_s_pack_b(int transB, const float *B, long ldb, long K, long N, float *Bp) {
    s_pack_b_all(s_ukr_for(nabla_isa_current()), transB, B, ldb, K, N, Bp);
}
void nabla_d_pack_b(int transB, const double *B, long ldb, long K, long N, double *Bp) {
    d_pack_b_all(d_ukr_for(nabla_isa_current()), transB, B, ldb, K, N, Bp);
}
void nabla_s_gemm_prepacked(int transA, long M, long N, long K, float alpha, const float *A, long lda,
                            const float *Bp, float beta, float *C, long ldc) {
    s_gemm_prepacked(s_ukr_for(nabla_isa_current()), transA, M, N, K, alpha, A, lda, Bp, beta, C, ldc);
}
void nabla_d_gemm_prepacked(int transA, long M, long N, long K, double alpha, const double *A, long lda,
                            const double *Bp, double beta, double *C, long ldc) {
    d_gemm_prepacked(d_ukr_for(nabla_isa_current()), transA, M, N, K, alpha, A, lda, Bp, beta, C, ldc);
}

void nabla_dgemm_builtin(int transA, int transB, long M, long N, long K, double alpha,
                         const double *A, long lda, const double *B, long ldb, double beta,
                         double *C, long ldc) {
    d_builtin(nabla_isa_current(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// ---------------------------------------------------------------------------------------
// External BLAS discovery
// ---------------------------------------------------------------------------------------

typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               float *C, int ldc);
typedef void (*cblas_dgemm_fn)(int order, int ta, int tb, int M, int N, int K, double alpha,
                               const double *A, int lda, const double *B, int ldb, double beta,
                               double *C, int ldc);
typedef void (*set_threads_fn)(int n);

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static atomic_int g_backend = NABLA_BLAS_BUILTIN;
static cblas_sgemm_fn g_ext_sgemm[3];
static cblas_dgemm_fn g_ext_dgemm[3];
static set_threads_fn g_openblas_set_threads;
static char g_ext_lib[3][160];
static char g_blas_note[160];
static char g_desc_buf[4][256];
static atomic_int g_desc_idx;

static int try_load(int which, const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return 0;
    cblas_sgemm_fn s = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
    cblas_dgemm_fn d = (cblas_dgemm_fn)dlsym(h, "cblas_dgemm");
    if (!s || !d) {
        dlclose(h);
        return 0;
    }
    g_ext_sgemm[which] = s;
    g_ext_dgemm[which] = d;
    const char *base = strrchr(path, '/');
    snprintf(g_ext_lib[which], sizeof g_ext_lib[which], "%s", base ? base + 1 : path);
    if (which == NABLA_BLAS_OPENBLAS) {
        g_openblas_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
        const char *ob = getenv("OPENBLAS_NUM_THREADS");
        if (g_openblas_set_threads && !(ob && *ob)) g_openblas_set_threads(nabla_get_num_threads());
    }
    return 1;
}

static int load_openblas(void) {
    static const char *paths[] = {
        "libopenblas.so.0",
        "libopenblas.so",
#if defined(__x86_64__)
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
#elif defined(__aarch64__)
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
#endif
#if defined(__APPLE__)
        "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
        "/usr/local/opt/openblas/lib/libopenblas.dylib",
#endif
        "/usr/lib64/libopenblas.so.0",
        "/usr/local/lib/libopenblas.so.0",
        NULL};
    for (int i = 0; paths[i]; i++)
        if (try_load(NABLA_BLAS_OPENBLAS, paths[i])) return 1;
    return 0;
}

// OpenBLAS is loaded on demand: loading it starts its own thread pool, whose idle
// threads cost time even when the built-in kernel does all the work.
static pthread_mutex_t g_ob_mutex = PTHREAD_MUTEX_INITIALIZER;
static int g_ob_tried, g_have_ob;

static int ensure_openblas(void) {
    pthread_mutex_lock(&g_ob_mutex);
    if (!g_ob_tried) { g_ob_tried = 1; g_have_ob = load_openblas(); }
    int have = g_have_ob;
    pthread_mutex_unlock(&g_ob_mutex);
    return have;
}

// Whether an OpenBLAS library file is installed (without loading it).
static int openblas_installed(void) {
    static const char *files[] = {
#if defined(__x86_64__)
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
#elif defined(__aarch64__)
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
#endif
        "/usr/lib64/libopenblas.so.0", "/usr/local/lib/libopenblas.so.0", NULL};
    for (int i = 0; files[i]; i++) if (access(files[i], R_OK) == 0) return 1;
    return 0;
}

static int load_accelerate(void) {
#if defined(__APPLE__)
    return try_load(NABLA_BLAS_ACCELERATE,
                    "/System/Library/Frameworks/Accelerate.framework/Accelerate");
#else
    return 0;
#endif
}

static void blas_init(void) {
    const char *e = getenv("NABLA_BLAS");
    int have_acc = load_accelerate();
    // On x86 (AVX-512, AVX2) the built-in kernel is preferred (see below): load OpenBLAS only if asked.
    const nabla_isa isa = nabla_isa_current();
    int builtin_preferred = (isa == NABLA_ISA_AVX512 || isa == NABLA_ISA_AVX2) && !have_acc;
    int have_ob = (!builtin_preferred || (e && !strcmp(e, "openblas"))) ? ensure_openblas() : 0;
    int choice = -1;
    if (e && *e) {
        if (!strcmp(e, "builtin")) choice = NABLA_BLAS_BUILTIN;
        else if (!strcmp(e, "openblas")) {
            if (have_ob) choice = NABLA_BLAS_OPENBLAS;
            else {
                choice = NABLA_BLAS_BUILTIN;
                snprintf(g_blas_note, sizeof g_blas_note, "; NABLA_BLAS=openblas unavailable");
            }
        } else if (!strcmp(e, "accelerate")) {
            if (have_acc) choice = NABLA_BLAS_ACCELERATE;
            else {
                choice = NABLA_BLAS_BUILTIN;
                snprintf(g_blas_note, sizeof g_blas_note, "; NABLA_BLAS=accelerate unavailable");
            }
        } else {
            snprintf(g_blas_note, sizeof g_blas_note, "; unknown NABLA_BLAS=%.40s", e);
        }
    }
    if (choice < 0) {
        // Automatic choice. On AVX-512 the built-in 12x32 kernel measured 1.6-1.9x
        // OpenBLAS's float32 GEMM on one thread and 1.4-1.7x on two (BENCHMARKS.md), and a
        // training step that mixes GEMMs with Nabla's own kernels avoids two thread pools
        // spinning against each other; elsewhere a system BLAS is preferred when found.
        // On AVX2 (an AMD EPYC, 2 cores) the built-in kernel measured 1.03-1.41x OpenBLAS's
        // float32 GEMM, a tie on the MLP epoch and 8 % faster on the CNN epoch, where
        // OpenBLAS's idle threads compete with the convolution's workers.
        if (builtin_preferred) {
            choice = NABLA_BLAS_BUILTIN;
            if (openblas_installed()) snprintf(g_blas_note, sizeof g_blas_note, "; OpenBLAS found, NABLA_BLAS=openblas selects it");
        } else {
            choice = have_acc ? NABLA_BLAS_ACCELERATE : have_ob ? NABLA_BLAS_OPENBLAS : NABLA_BLAS_BUILTIN;
        }
    }
    atomic_store(&g_backend, choice);
}

// Acquire pairs with the (sequentially consistent, so releasing) store in blas_init and
// nabla_blas_select: a thread that sees a BLAS backend also sees the function pointers
// stored before it was selected. A relaxed load raced with nabla_blas_select (it could see
// the new backend and a NULL pointer).
static inline int blas_backend(void) {
    pthread_once(&g_blas_once, blas_init);
    return atomic_load_explicit(&g_backend, memory_order_acquire);
}

void nabla_blas_threads_changed(int n) {
    pthread_once(&g_blas_once, blas_init);
    if (g_openblas_set_threads) g_openblas_set_threads(n);
}

nabla_blas_backend nabla_blas_active(void) { return (nabla_blas_backend)blas_backend(); }

int nabla_blas_select(nabla_blas_backend backend) {
    blas_backend();
    if (backend == NABLA_BLAS_OPENBLAS) ensure_openblas();
    if (backend == NABLA_BLAS_BUILTIN || ((backend == NABLA_BLAS_OPENBLAS || backend == NABLA_BLAS_ACCELERATE) && g_ext_sgemm[backend])) {
        atomic_store(&g_backend, (int)backend);
        return 0;
    }
    return -1;
}

const char *nabla_blas_description(void) {
    int b = blas_backend();
    char *buf = g_desc_buf[atomic_fetch_add(&g_desc_idx, 1) & 3];
    if (b == NABLA_BLAS_BUILTIN)
        snprintf(buf, 256, "builtin (%s%s)", s_ukr_for(nabla_isa_current())->name, g_blas_note);
    else
        snprintf(buf, 256, "%s (%s)", b == NABLA_BLAS_OPENBLAS ? "openblas" : "accelerate", g_ext_lib[b]);
    return buf;
}

// Tiny products stay on the built-in direct kernel even when an external BLAS is active:
// the call overhead of the library dominates there (with AVX-512 the direct kernel wins up
// to about 64^3 multiply-adds).
static inline double ext_min_flops(void) {
    return nabla_isa_current() == NABLA_ISA_AVX512 ? (double)GEMM_DIRECT_MAX_FLOPS : 4096.0;
}

static int fits_int(long M, long N, long K, long lda, long ldb, long ldc) {
    const long lim = 0x7fffffffL;
    return M <= lim && N <= lim && K <= lim && lda <= lim && ldb <= lim && ldc <= lim;
}

void nabla_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A,
                 long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    int b = blas_backend();
    if (b != NABLA_BLAS_BUILTIN && M > 0 && N > 0 && K > 0 &&
        (double)M * (double)N * (double)K > ext_min_flops() && fits_int(M, N, K, lda, ldb, ldc)) {
        g_ext_sgemm[b](CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
                       transB ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)M, (int)N, (int)K, alpha, A,
                       (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    s_builtin(nabla_isa_current(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nabla_dgemm(int transA, int transB, long M, long N, long K, double alpha, const double *A,
                 long lda, const double *B, long ldb, double beta, double *C, long ldc) {
    int b = blas_backend();
    if (b != NABLA_BLAS_BUILTIN && M > 0 && N > 0 && K > 0 &&
        (double)M * (double)N * (double)K > 4096.0 && fits_int(M, N, K, lda, ldb, ldc)) {
        g_ext_dgemm[b](CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
                       transB ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)M, (int)N, (int)K, alpha, A,
                       (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    d_builtin(nabla_isa_current(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
