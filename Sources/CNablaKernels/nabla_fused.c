// nabla_fused.c — fused element-wise layers, each one pass split over the threads:
// dropout with a hashed mask (nothing stored: the backward pass hashes again), and the exact
// GELU x·Φ(x) = ½x(1 + erf(x/√2)) and its derivative (instead of five element-wise ops). float32 uses a polynomial
// erf (Abramowitz & Stegun 7.1.26, absolute error ≤ 1.5e-7) in arithmetic the compiler
// vectorises, compiled per instruction set; float64 uses the C library's erf.
#include "nabla_internal.h"

#include <math.h>

#define GELU_CHUNK 16384

// erf(z) for float32: 1 − t·(a1 + t·(a2 + …))·e^(−z²), t = 1/(1 + p|z|), odd in z.
static inline float gelu_erff(float z) {
    float a = z < 0 ? -z : z;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float y = 1.0f - poly * nabla_expf_poly(-a * a);
    return z < 0 ? -y : y;
}

// y = x·keep/(1 − p) where keep is the hash of (seed, index) ≥ threshold; the backward pass
// is the same map applied to the gradient.
#define DROPOUT_BODY(P, CT)                                                                                   \
    static void P(const CT *restrict x, CT *restrict y, long i0, long n, uint64_t seed, uint32_t thresh, CT scale) { \
        for (long i = 0; i < n; i++)                                                                          \
            y[i] = nabla_hash32(seed, (uint64_t)(i0 + i)) >= thresh ? x[i] * scale : 0;                        \
    }

#define GELU_BODY(P)                                                                                          \
    static void P##fwd(const float *restrict x, float *restrict y, long n) {                                   \
        for (long i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + gelu_erff(x[i] * 0.70710678118654752f));   \
    }                                                                                                         \
    static void P##bwd(const float *restrict x, const float *restrict g, float *restrict gx, long n) {         \
        for (long i = 0; i < n; i++) {                                                                        \
            float v = x[i];                                                                                   \
            float cdf = 0.5f * (1.0f + gelu_erff(v * 0.70710678118654752f));                                  \
            gx[i] = g[i] * (cdf + v * 0.39894228040143268f * nabla_expf_poly(-0.5f * v * v));                   \
        }                                                                                                     \
    }

GELU_BODY(gelu_s_)
DROPOUT_BODY(dropout_s, float)
DROPOUT_BODY(dropout_d, double)
#if defined(NABLA_X86)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
GELU_BODY(gelu_a2_)
DROPOUT_BODY(dropout_a2, float)
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
GELU_BODY(gelu_a5_)
DROPOUT_BODY(dropout_a5, float)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

typedef struct { const float *x, *g; float *out; long n; int backward; } gelu_ctx;

static void gelu_task(void *vctx, long t) {
    const gelu_ctx *c = (const gelu_ctx *)vctx;
    long i0 = t * GELU_CHUNK, n = c->n - i0 < GELU_CHUNK ? c->n - i0 : GELU_CHUNK;
    const float *x = c->x + i0, *g = c->g ? c->g + i0 : NULL;
    float *out = c->out + i0;
    switch (nabla_isa_current()) {
#if defined(NABLA_X86)
    case NABLA_ISA_AVX512: if (c->backward) gelu_a5_bwd(x, g, out, n); else gelu_a5_fwd(x, out, n); return;
    case NABLA_ISA_AVX2: if (c->backward) gelu_a2_bwd(x, g, out, n); else gelu_a2_fwd(x, out, n); return;
#endif
    default: if (c->backward) gelu_s_bwd(x, g, out, n); else gelu_s_fwd(x, out, n); return;
    }
}

static void gelu_run(const float *x, const float *g, float *out, long n, int backward) {
    if (n <= 0) return;
    gelu_ctx c = {x, g, out, n, backward};
    nabla_pool_run((n + GELU_CHUNK - 1) / GELU_CHUNK, &c, gelu_task);
}

void nabla_s_gelu(const float *x, float *y, long n) { gelu_run(x, NULL, y, n, 0); }
void nabla_s_gelu_backward(const float *x, const float *g, float *gx, long n) { gelu_run(x, g, gx, n, 1); }

void nabla_d_gelu(const double *x, double *y, long n) {
    for (long i = 0; i < n; i++) y[i] = 0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440));
}
void nabla_d_gelu_backward(const double *x, const double *g, double *gx, long n) {
    for (long i = 0; i < n; i++) {
        double v = x[i];
        gx[i] = g[i] * (0.5 * (1.0 + erf(v * 0.70710678118654752440)) + v * 0.39894228040143267794 * exp(-0.5 * v * v));
    }
}

typedef struct { const void *x; void *y; long n; uint64_t seed; uint32_t thresh; double scale; int dbl; } dropout_ctx;

static void dropout_task(void *vctx, long t) {
    const dropout_ctx *c = (const dropout_ctx *)vctx;
    long i0 = t * GELU_CHUNK, n = c->n - i0 < GELU_CHUNK ? c->n - i0 : GELU_CHUNK;
    if (c->dbl) { dropout_d((const double *)c->x + i0, (double *)c->y + i0, i0, n, c->seed, c->thresh, c->scale); return; }
    const float *x = (const float *)c->x + i0;
    float *y = (float *)c->y + i0;
    switch (nabla_isa_current()) {
#if defined(NABLA_X86)
    case NABLA_ISA_AVX512: dropout_a5(x, y, i0, n, c->seed, c->thresh, (float)c->scale); return;
    case NABLA_ISA_AVX2: dropout_a2(x, y, i0, n, c->seed, c->thresh, (float)c->scale); return;
#endif
    default: dropout_s(x, y, i0, n, c->seed, c->thresh, (float)c->scale); return;
    }
}

static void dropout_run(const void *x, void *y, long n, double p, uint64_t seed, int dbl) {
    if (n <= 0) return;
    dropout_ctx c = {x, y, n, seed, nabla_keep_threshold(p), 1.0 / (1.0 - p), dbl};
    nabla_pool_run((n + GELU_CHUNK - 1) / GELU_CHUNK, &c, dropout_task);
}

void nabla_s_dropout(const float *x, float *y, long n, double p, uint64_t seed) { dropout_run(x, y, n, p, seed, 0); }
void nabla_d_dropout(const double *x, double *y, long n, double p, uint64_t seed) { dropout_run(x, y, n, p, seed, 1); }
