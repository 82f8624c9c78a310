// nabla_attention.c — scaled dot-product attention, tiled with an online softmax so that the
// L×S weight matrix is never stored: the forward pass keeps one BR×BC score tile per thread
// and the log-sum-exp of each query row; the backward pass recomputes each tile's weights
// from it. float64 (for gradient checks) and float32 (for speed, compiled per instruction
// set and chosen at run time) from one source, nabla_attn_impl.inc.
#include "nabla_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define BR 64   // query rows per tile
#define BC 64   // keys per tile

// Dropout's decisions come from a hash of (seed, position), so the backward pass finds the
// same mask without storing it. The hash is a 32-bit integer mixer ("lowbias32") over the
// index folded with the seed.
static inline uint32_t attn_hash(uint64_t seed, uint64_t idx) {
    uint32_t x = (uint32_t)idx * 0x9E3779B1u ^ (uint32_t)(idx >> 32) * 0x85EBCA77u ^ (uint32_t)seed;
    x ^= (uint32_t)(seed >> 32);
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}
// An element is kept when its hash is ≥ this: a fraction p of 2³² values is below it.
static inline uint32_t attn_threshold(double p) {
    if (p <= 0) return 0;
    double t = p * 4294967296.0;
    return t >= 4294967295.0 ? 0xffffffffu : (uint32_t)t;
}

// e^x for float32 in plain arithmetic the compiler vectorises: Cody–Waite reduction by ln 2
// and a degree-6 polynomial (Cephes' expf coefficients); 0 below −87 (so e^−inf = 0), and
// the argument is clamped above at 88.
static inline float attn_expf(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return x < -87.0f ? 0.0f : p * s;
}

// float64: the library's exp and log.
#define CT double
#define F(name) attn_d_##name
#define AEXP(x) exp(x)
#define ALOG(x) log(x)
#include "nabla_attn_impl.inc"
#undef F
#undef CT
#undef AEXP
#undef ALOG

// float32, portable build.
#define CT float
#define AEXP(x) attn_expf(x)
#define ALOG(x) logf(x)
#define F(name) attn_s_##name
#include "nabla_attn_impl.inc"
#undef F

#if defined(NABLA_X86)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define F(name) attn_a2_##name
#include "nabla_attn_impl.inc"
#undef F
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define F(name) attn_a5_##name
#include "nabla_attn_impl.inc"
#undef F
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#undef CT
#undef AEXP
#undef ALOG

void nabla_s_attention_forward(const nabla_attn_geom *g, const float *q, const float *k, const float *v, float *out, float *lse) {
#if defined(NABLA_X86)
    switch (nabla_isa_current()) {
    case NABLA_ISA_AVX512: attn_a5_forward(g, q, k, v, out, lse); return;
    case NABLA_ISA_AVX2: attn_a2_forward(g, q, k, v, out, lse); return;
    default: break;
    }
#endif
    attn_s_forward(g, q, k, v, out, lse);
}

void nabla_d_attention_forward(const nabla_attn_geom *g, const double *q, const double *k, const double *v, double *out, double *lse) {
    attn_d_forward(g, q, k, v, out, lse);
}

void nabla_s_attention_backward(const nabla_attn_geom *g, const float *q, const float *k, const float *v, const float *out,
                                const float *lse, const float *dout, float *dq, float *dk, float *dv) {
#if defined(NABLA_X86)
    switch (nabla_isa_current()) {
    case NABLA_ISA_AVX512: attn_a5_backward(g, q, k, v, out, lse, dout, dq, dk, dv); return;
    case NABLA_ISA_AVX2: attn_a2_backward(g, q, k, v, out, lse, dout, dq, dk, dv); return;
    default: break;
    }
#endif
    attn_s_backward(g, q, k, v, out, lse, dout, dq, dk, dv);
}

void nabla_d_attention_backward(const nabla_attn_geom *g, const double *q, const double *k, const double *v, const double *out,
                                const double *lse, const double *dout, double *dq, double *dk, double *dv) {
    attn_d_backward(g, q, k, v, out, lse, dout, dq, dk, dv);
}
