// nabla_optim.c — fused optimizer updates (float32), vectorised per ISA and split over
// the worker pool for large tensors. The arithmetic is exactly the single-tensor update
// of PyTorch's Adam/AdamW (see NablaNN's Optimizers.swift for the formulas).
#include "nabla_kernels.h"
#include "nabla_internal.h"
#include <math.h>

#if NABLA_X86
#include <immintrin.h>
#endif

typedef struct {
    float *x; const float *g; float *m; float *v;
    float b1, b2, step_size, bc2_sqrt, eps, wd;
    long n, chunk;
} adam_args;

static void adam_scalar(const adam_args *a, long lo, long hi) {
    for (long j = lo; j < hi; j++) {
        float gj = a->g[j] + a->wd * a->x[j];
        a->m[j] += (1.0f - a->b1) * (gj - a->m[j]);
        a->v[j] = a->b2 * a->v[j] + (1.0f - a->b2) * gj * gj;
        a->x[j] -= a->step_size * a->m[j] / (sqrtf(a->v[j]) / a->bc2_sqrt + a->eps);
    }
}

#if NABLA_X86
NABLA_TARGET_AVX512
static void adam_avx512(const adam_args *a, long lo, long hi) {
    const __m512 b1c = _mm512_set1_ps(1.0f - a->b1), b2 = _mm512_set1_ps(a->b2), b2c = _mm512_set1_ps(1.0f - a->b2);
    const __m512 ss = _mm512_set1_ps(a->step_size), bc = _mm512_set1_ps(a->bc2_sqrt), eps = _mm512_set1_ps(a->eps);
    const __m512 wd = _mm512_set1_ps(a->wd);
    long j = lo;
    for (; j + 16 <= hi; j += 16) {
        __m512 x = _mm512_loadu_ps(a->x + j), g = _mm512_loadu_ps(a->g + j);
        __m512 m = _mm512_loadu_ps(a->m + j), v = _mm512_loadu_ps(a->v + j);
        // Same operation order as the scalar loop, without fused multiply-adds, so the
        // vector path rounds exactly like the reference loop.
        g = _mm512_add_ps(g, _mm512_mul_ps(wd, x));
        m = _mm512_add_ps(m, _mm512_mul_ps(b1c, _mm512_sub_ps(g, m)));
        v = _mm512_add_ps(_mm512_mul_ps(b2, v), _mm512_mul_ps(_mm512_mul_ps(b2c, g), g));
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), bc), eps);
        x = _mm512_sub_ps(x, _mm512_div_ps(_mm512_mul_ps(ss, m), den));
        _mm512_storeu_ps(a->m + j, m); _mm512_storeu_ps(a->v + j, v); _mm512_storeu_ps(a->x + j, x);
    }
    adam_scalar(a, j, hi);
}

NABLA_TARGET_AVX2
static void adam_avx2(const adam_args *a, long lo, long hi) {
    const __m256 b1c = _mm256_set1_ps(1.0f - a->b1), b2 = _mm256_set1_ps(a->b2), b2c = _mm256_set1_ps(1.0f - a->b2);
    const __m256 ss = _mm256_set1_ps(a->step_size), bc = _mm256_set1_ps(a->bc2_sqrt), eps = _mm256_set1_ps(a->eps);
    const __m256 wd = _mm256_set1_ps(a->wd);
    long j = lo;
    for (; j + 8 <= hi; j += 8) {
        __m256 x = _mm256_loadu_ps(a->x + j), g = _mm256_loadu_ps(a->g + j);
        __m256 m = _mm256_loadu_ps(a->m + j), v = _mm256_loadu_ps(a->v + j);
        g = _mm256_add_ps(g, _mm256_mul_ps(wd, x));
        m = _mm256_add_ps(m, _mm256_mul_ps(b1c, _mm256_sub_ps(g, m)));
        v = _mm256_add_ps(_mm256_mul_ps(b2, v), _mm256_mul_ps(_mm256_mul_ps(b2c, g), g));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), bc), eps);
        x = _mm256_sub_ps(x, _mm256_div_ps(_mm256_mul_ps(ss, m), den));
        _mm256_storeu_ps(a->m + j, m); _mm256_storeu_ps(a->v + j, v); _mm256_storeu_ps(a->x + j, x);
    }
    adam_scalar(a, j, hi);
}
#endif

// The instruction set the fused updates use: the forced one (nabla_force_isa) when set,
// else the detected one — so tests that force a level run that level's code.
nabla_isa nabla_optim_isa(void) { return nabla_isa_current(); }

static void adam_range(const adam_args *a, long lo, long hi) {
#if NABLA_X86
    switch (nabla_optim_isa()) {
    case NABLA_ISA_AVX512: adam_avx512(a, lo, hi); return;
    case NABLA_ISA_AVX2: adam_avx2(a, lo, hi); return;
    default: break;
    }
#endif
    adam_scalar(a, lo, hi);
}

static void adam_chunk(void *ctx, long i) {
    const adam_args *a = (const adam_args *)ctx;
    long lo = i * a->chunk, hi = lo + a->chunk < a->n ? lo + a->chunk : a->n;
    adam_range(a, lo, hi);
}

void nabla_s_adam_step(long n, float *x, const float *g, float *m, float *v, float beta1, float beta2,
                       float step_size, float bias_correction2_sqrt, float eps, float weight_decay) {
    adam_args a = { x, g, m, v, beta1, beta2, step_size, bias_correction2_sqrt, eps, weight_decay, n, n };
    if (n >= 65536 && nabla_get_num_threads() > 1) {
        long parts = nabla_get_num_threads();
        a.chunk = ((n + parts - 1) / parts + 15) & ~15L;
        nabla_parallel_for((n + a.chunk - 1) / a.chunk, &a, adam_chunk);
    } else {
        adam_range(&a, 0, n);
    }
}
