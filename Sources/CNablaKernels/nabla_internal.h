// nabla_internal.h — private declarations shared by the CNablaKernels sources.
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include "nabla_kernels.h"
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(_M_X64)
#define NABLA_X86 1
#include <immintrin.h>
#define NABLA_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define NABLA_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

#if defined(__aarch64__)
#define NABLA_ARM64 1
#include <arm_neon.h>
#endif

/// Current ISA (honours nabla_force_isa); cheap (one relaxed atomic load after first use).
nabla_isa nabla_isa_current(void);

/// Runs fn(ctx, i) for i in [0, n) on up to `nabla_get_num_threads()` threads.
/// Same as nabla_parallel_for, exposed for kernels.
void nabla_pool_run(long n, void *ctx, void (*fn)(void *ctx, long i));

/// Whether the calling thread is running a pool task (nested pool runs are serial).
int nabla_in_pool(void);

/// Per-thread scratch buffer (64-byte aligned, grown on demand, kept for the thread's life).
/// slot selects one of a few independent buffers.
void *nabla_scratch(int slot, size_t bytes);
/// Slots in use: 0 and 1 by the GEMM's packing, 2 and 3 by column sums, this one by
/// convolution's buffers (4, 5 and 6: a convolution calls the GEMM while holding them).
#define NABLA_SCRATCH_CONV 4
/// The recurrent scan's per-thread state buffers (it calls the GEMM while holding them).
#define NABLA_SCRATCH_RNN 7
/// Attention's per-thread tiles.
#define NABLA_SCRATCH_ATTN 8

// GEMM with op(B) [K, N] packed once (built-in kernel, one thread): for a product repeated
// with the same B, as a recurrent layer's W_hh at every step. Sizes are in elements.
size_t nabla_s_packed_b_size(long K, long N);
size_t nabla_d_packed_b_size(long K, long N);
void nabla_s_pack_b(int transB, const float *B, long ldb, long K, long N, float *Bp);
void nabla_d_pack_b(int transB, const double *B, long ldb, long K, long N, double *Bp);
void nabla_s_gemm_prepacked(int transA, long M, long N, long K, float alpha, const float *A, long lda,
                            const float *Bp, float beta, float *C, long ldc);
void nabla_d_gemm_prepacked(int transA, long M, long N, long K, double alpha, const double *A, long lda,
                            const double *Bp, double beta, double *C, long ldc);

// Recurrent cells on one batch row of H units (float32, vectorised; nabla_elementwise.c).
void nabla_s_lstm_cell_fwd(float *g, const float *gb, const float *cp, float *c, float *h, long H);
void nabla_s_lstm_cell_bwd(const float *a, const float *cp, const float *c, const float *dh, float *dc, float *d, long H);
void nabla_s_gru_cell_fwd(const float *x, const float *xb, const float *gh, const float *b, const float *hp, float *a, float *h, long H);
void nabla_s_gru_cell_bwd(const float *a, const float *hp, float *dh, float *dx, float *dg, long H);
void nabla_s_tanh_rows(float *x, long n);
void nabla_s_tanh_bw_rows(const float *y, const float *g, float *out, long n);
void nabla_s_relu_bw_rows(const float *y, const float *g, float *out, long n);

#include <string.h>

// e^x for float32 in plain arithmetic the compiler vectorises: Cody–Waite reduction by ln 2
// and a degree-6 polynomial (Cephes' expf coefficients); 0 below −87 (so e^−inf = 0), and
// the argument is clamped above at 88.
static inline float nabla_expf_poly(float x) {
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

// Dropout's decisions (attention weights, the dropout layer) come from a hash of (seed,
// position), so the backward pass finds the same mask without storing it. The hash is a 32-bit integer mixer ("lowbias32") over the
// index folded with the seed.
static inline uint32_t nabla_hash32(uint64_t seed, uint64_t idx) {
    uint32_t x = (uint32_t)idx * 0x9E3779B1u ^ (uint32_t)(idx >> 32) * 0x85EBCA77u ^ (uint32_t)seed;
    x ^= (uint32_t)(seed >> 32);
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}
// An element is kept when its hash is ≥ this: a fraction p of 2³² values is below it.
static inline uint32_t nabla_keep_threshold(double p) {
    if (p <= 0) return 0;
    double t = p * 4294967296.0;
    return t >= 4294967295.0 ? 0xffffffffu : (uint32_t)t;
}

#define NABLA_LIKELY(x) __builtin_expect(!!(x), 1)
#define NABLA_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
