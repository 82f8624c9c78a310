// nabla_conv.c — convolution (im2col + GEMM, images split over the threads), pooling and
// normalisation statistics, for float32 and float64 (nabla_conv_impl.inc written once).
#include "nabla_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

#define CT float
#define CP s
#define CGEMM conv_sgemm
#include "nabla_conv_impl.inc"
#undef CT
#undef CP
#undef CGEMM

#define CT double
#define CP d
#define CGEMM conv_dgemm
#include "nabla_conv_impl.inc"
#undef CT
#undef CP
#undef CGEMM
