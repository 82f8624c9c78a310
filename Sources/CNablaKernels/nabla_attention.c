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

// float64: the library's exp and log.
#define CT double
#define F(name) attn_d_##name
#define AEXP(x) exp(x)
#define ALOG(x) log(x)
#define TGEMM nabla_dgemm_builtin
#include "nabla_attn_impl.inc"
#undef F
#undef CT
#undef AEXP
#undef ALOG
#undef TGEMM

// float32, portable build.
#define CT float
#define AEXP(x) nabla_expf_poly(x)
#define ALOG(x) logf(x)
#define TGEMM nabla_sgemm_builtin
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
#undef TGEMM

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
