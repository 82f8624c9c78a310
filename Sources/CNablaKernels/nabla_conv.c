// nabla_conv.c — convolution (im2col + GEMM, images split over the threads), pooling and
// normalisation statistics, for float32 and float64 (nabla_conv_impl.inc written once).
#include "nabla_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#define CONV_NO_MEMCPY __attribute__((no_builtin("memcpy", "memset")))
#else
#define CONV_NO_MEMCPY
#endif

// Inside a pool worker every image's GEMM runs on that thread. The built-in kernel knows it
// is inside the pool and stays on one thread; an external BLAS would start its own threads
// from each worker, so workers use the built-in kernel unless NABLA_CONV_GEMM=blas.
static int conv_use_blas_in_workers(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *e = getenv("NABLA_CONV_GEMM");
        cached = e && !strcmp(e, "blas");
    }
    return cached;
}

static void conv_sgemm(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
                       const float *B, long ldb, float beta, float *C, long ldc) {
    if (nabla_in_pool() && !conv_use_blas_in_workers())
        nabla_sgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        nabla_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void conv_dgemm(int ta, int tb, long M, long N, long K, double alpha, const double *A, long lda,
                       const double *B, long ldb, double beta, double *C, long ldc) {
    if (nabla_in_pool() && !conv_use_blas_in_workers())
        nabla_dgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        nabla_dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}


// Max pooling of one plane with a 2×2 window and stride 2 (the common case), float32,
// AVX2: eight (or four) outputs per step, each the first maximum of its window (or its
// last NaN, as PyTorch). A row's last step overlaps the one before when the width is not a multiple of
// the step (recomputing an output is harmless). Returns how many output columns per row
// it did (all of them, or 0 when the rows are too narrow).
#if defined(NABLA_X86)
// Take y when it is larger, or NaN (a later NaN replaces an earlier one, as in PyTorch).
#define TAKE_Y8(x, yv) _mm256_or_ps(_mm256_cmp_ps(yv, x, _CMP_GT_OQ), _mm256_cmp_ps(yv, yv, _CMP_UNORD_Q))
#define TAKE_Y4(x, yv) _mm_or_ps(_mm_cmp_ps(yv, x, _CMP_GT_OQ), _mm_cmp_ps(yv, yv, _CMP_UNORD_Q))
NABLA_TARGET_AVX2 static long pool2_rows_avx2(const float *xp, long w, long oh, long ow, float *y, int64_t *idx) {
    if (ow < 4) return 0;
    const __m256i steps8 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m128i steps4 = _mm_setr_epi32(0, 2, 4, 6);
    for (long oy = 0; oy < oh; oy++) {
        const float *r0 = xp + 2 * oy * w, *r1 = r0 + w;
        const __m256i b64 = _mm256_set1_epi64x(2 * oy * w);
        float *yr = y + oy * ow;
        int64_t *ir = idx + oy * ow;
        if (ow >= 8) {
            for (long next = 0; next < ow; next += 8) {
                const long ox = next + 8 <= ow ? next : ow - 8;
                __m256 l0 = _mm256_loadu_ps(r0 + 2 * ox), h0 = _mm256_loadu_ps(r0 + 2 * ox + 8);
                __m256 l1 = _mm256_loadu_ps(r1 + 2 * ox), h1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
                // Even and odd columns, back in order (the shuffle works per 128-bit lane).
                __m256 a = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0x88)), 0xD8));
                __m256 b = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0xDD)), 0xD8));
                __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l1, h1, 0x88)), 0xD8));
                __m256 d = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l1, h1, 0xDD)), 0xD8));
                __m256 tb = TAKE_Y8(a, b), td = TAKE_Y8(c, d);
                __m256 ab = _mm256_blendv_ps(a, b, tb), cd = _mm256_blendv_ps(c, d, td);
                __m256 tcd = TAKE_Y8(ab, cd);
                _mm256_storeu_ps(yr + ox, _mm256_blendv_ps(ab, cd, tcd));
                // Offsets in the window: 0, 1 (row 0), w, w + 1 (row 1).
                __m256i oab = _mm256_and_si256(_mm256_castps_si256(tb), _mm256_set1_epi32(1));
                __m256i ocd = _mm256_add_epi32(_mm256_set1_epi32((int)w), _mm256_and_si256(_mm256_castps_si256(td), _mm256_set1_epi32(1)));
                __m256i off = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(oab), _mm256_castsi256_ps(ocd), tcd));
                off = _mm256_add_epi32(off, _mm256_add_epi32(steps8, _mm256_set1_epi32((int)(2 * ox))));
                _mm256_storeu_si256((__m256i *)(ir + ox), _mm256_add_epi64(b64, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(off))));
                _mm256_storeu_si256((__m256i *)(ir + ox + 4), _mm256_add_epi64(b64, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(off, 1))));
            }
        } else {
            for (long next = 0; next < ow; next += 4) {
                const long ox = next + 4 <= ow ? next : ow - 4;
                __m128 l0 = _mm_loadu_ps(r0 + 2 * ox), h0 = _mm_loadu_ps(r0 + 2 * ox + 4);
                __m128 l1 = _mm_loadu_ps(r1 + 2 * ox), h1 = _mm_loadu_ps(r1 + 2 * ox + 4);
                __m128 a = _mm_shuffle_ps(l0, h0, 0x88), b = _mm_shuffle_ps(l0, h0, 0xDD);
                __m128 c = _mm_shuffle_ps(l1, h1, 0x88), d = _mm_shuffle_ps(l1, h1, 0xDD);
                __m128 tb = TAKE_Y4(a, b), td = TAKE_Y4(c, d);
                __m128 ab = _mm_blendv_ps(a, b, tb), cd = _mm_blendv_ps(c, d, td);
                __m128 tcd = TAKE_Y4(ab, cd);
                _mm_storeu_ps(yr + ox, _mm_blendv_ps(ab, cd, tcd));
                __m128i oab = _mm_and_si128(_mm_castps_si128(tb), _mm_set1_epi32(1));
                __m128i ocd = _mm_add_epi32(_mm_set1_epi32((int)w), _mm_and_si128(_mm_castps_si128(td), _mm_set1_epi32(1)));
                __m128i off = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(oab), _mm_castsi128_ps(ocd), tcd));
                off = _mm_add_epi32(off, _mm_add_epi32(steps4, _mm_set1_epi32((int)(2 * ox))));
                _mm256_storeu_si256((__m256i *)(ir + ox), _mm256_add_epi64(b64, _mm256_cvtepi32_epi64(off)));
            }
        }
    }
    return ow;
}
#undef TAKE_Y8
#undef TAKE_Y4
#endif

static long conv_s_pool2_fast(const float *xp, long w, long oh, long ow, float *y, int64_t *idx) {
#if defined(NABLA_X86)
    if (nabla_isa_current() >= NABLA_ISA_AVX2 && w < 0x3fffffffL) return pool2_rows_avx2(xp, w, oh, ow, y, idx);
#endif
    (void)xp; (void)w; (void)oh; (void)ow; (void)y; (void)idx;
    return 0;
}
static long conv_d_pool2_fast(const double *xp, long w, long oh, long ow, double *y, int64_t *idx) {
    (void)xp; (void)w; (void)oh; (void)ow; (void)y; (void)idx;
    return 0;
}

#define CT float
#define CP s
#define CGEMM conv_sgemm
#define POOL2_FAST conv_s_pool2_fast
#include "nabla_conv_impl.inc"
#undef CT
#undef CP
#undef CGEMM
#undef POOL2_FAST

#define CT double
#define CP d
#define CGEMM conv_dgemm
#define POOL2_FAST conv_d_pool2_fast
#include "nabla_conv_impl.inc"
#undef CT
#undef CP
#undef CGEMM
#undef POOL2_FAST
