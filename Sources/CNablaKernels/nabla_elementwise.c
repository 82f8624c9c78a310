// nabla_elementwise.c — vectorised element-wise float32 kernels and reductions.
// The kernels are written once (nabla_ew_impl.inc) and instantiated per instruction set.
#include "nabla_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Ranges at least this long (per thread) are written with streaming stores.
#define EW_NT_MIN (1L << 21)

typedef struct {
    void (*unary)(int op, const float *x, float *out, long n);
    void (*binary)(int op, const float *a, const float *b, float *out, long n);
    void (*binary_s)(int op, const float *a, float s, float *out, long n);
    void (*s_binary)(int op, float s, const float *b, float *out, long n);
    void (*tanh_bw)(const float *y, const float *g, float *out, long n);
    void (*sigmoid_bw)(const float *y, const float *g, float *out, long n);
    void (*relu_bw)(const float *x, const float *g, float *out, long n);
    void (*axpy)(long n, float a, const float *x, float *y);
    void (*clamp)(const float *x, float lo, float hi, float *out, long n);
    double (*sum)(const float *x, long n);
    float (*maxv)(const float *x, long n);
    float (*minv)(const float *x, long n);
    void (*colsum)(const float *x, long rows, long cols, long ldx, double *acc, float *tmp);
    void (*lstm_fwd)(float *g, const float *gb, const float *cp, float *c, float *h, long H);
    void (*lstm_bwd)(const float *a, const float *cp, const float *c, const float *dh, float *dc, float *d, long H);
    void (*gru_fwd)(const float *x, const float *xb, const float *gh, const float *b, const float *hp, float *a, float *h, long H);
    void (*gru_bwd)(const float *a, const float *hp, float *dh, float *dx, float *dg, long H);
} ew_vtable;

// ---------------------------------------------------------------------------------------
// Scalar instantiation (portable)
// ---------------------------------------------------------------------------------------
static inline int32_t sc_f2i(float f) { int32_t i; memcpy(&i, &f, 4); return i; }
static inline float sc_i2f(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
static inline int32_t sc_cvti(float x) { return x != x ? 0 : (int32_t)x; }
static inline float sc_round(float x) {  // |x| < 2^22
    volatile float big = 12582912.0f;
    float b = big;
    return (x + b) - b;
}
#define VT float
#define VIT int32_t
#define VMT int
#define VL 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSET(x) ((float)(x))
#define VZERO() 0.0f
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VRCP(a) (1.0f / (a))
#define VRCP_STEPS 0
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VSQRT(a) sqrtf(a)
#define VABS(a) fabsf(a)
#define VNEG(a) (-(a))
#define VCOPYSIGN(a, s) copysignf(a, s)
#define VMAXX(a, b) ((a) > (b) ? (a) : (b))
#define VMINX(a, b) ((a) < (b) ? (a) : (b))
#define VCMPLT(a, b) ((a) < (b))
#define VCMPGT(a, b) ((a) > (b))
#define VCMPEQ(a, b) ((a) == (b))
#define VISNAN(a) ((a) != (a))
#define VSEL(m, a, b) ((m) ? (a) : (b))
#define VMOR(a, b) ((a) || (b))
#define VROUND(x) sc_round(x)
// Converting NaN (exp's input after the clamp, which keeps NaN) to an integer is undefined
// in C; the vector instructions give a fixed value instead. NaN becomes 0 here, and the
// result is NaN all the same (the polynomial carries it).
#define VCVTI(x) sc_cvti(x)
#define VI2F(i) ((float)(i))
#define VCASTFI(v) sc_f2i(v)
#define VCASTIF(i) sc_i2f(i)
#define VIADD(a, b) ((a) + (b))
#define VISUB(a, b) ((a) - (b))
#define VISLL(a, n) ((int32_t)((uint32_t)(a) << (n)))
#define VISRA(a, n) ((a) >> (n))
#define VISRL(a, n) ((int32_t)((uint32_t)(a) >> (n)))
#define VIAND(a, b) ((a) & (b))
#define VIOR(a, b) ((a) | (b))
#define VISET(x) ((int32_t)(x))
#define VHAS_NT 0
#define VNT_ALIGN 64
#define VSTREAM(p, v) VSTORE(p, v)
#define VSFENCE() ((void)0)
#define VFAST_FMA 0
#define F(name) sc_##name
#include "nabla_ew_impl.inc"
#undef F
#undef VFAST_FMA
#undef VHAS_NT
#undef VNT_ALIGN
#undef VSTREAM
#undef VSFENCE
#undef VT
#undef VIT
#undef VMT
#undef VL
#undef VLOAD
#undef VSTORE
#undef VSET
#undef VZERO
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VRCP
#undef VRCP_STEPS
#undef VFMA
#undef VSQRT
#undef VABS
#undef VNEG
#undef VCOPYSIGN
#undef VMAXX
#undef VMINX
#undef VCMPLT
#undef VCMPGT
#undef VCMPEQ
#undef VISNAN
#undef VSEL
#undef VMOR
#undef VROUND
#undef VCVTI
#undef VI2F
#undef VCASTFI
#undef VCASTIF
#undef VIADD
#undef VISUB
#undef VISLL
#undef VISRA
#undef VISRL
#undef VIAND
#undef VIOR
#undef VISET

#if defined(NABLA_X86)
// ---------------------------------------------------------------------------------------
// AVX-512 instantiation
// ---------------------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define VT __m512
#define VIT __m512i
#define VMT __mmask16
#define VL 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET(x) _mm512_set1_ps((float)(x))
#define VZERO() _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VDIV(a, b) _mm512_div_ps((a), (b))
#define VRCP(a) _mm512_rcp14_ps(a)
#define VRCP_STEPS 1
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VABS(a) _mm512_abs_ps(a)
#define VNEG(a) _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u)))
#define VCOPYSIGN(a, s) _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(a), _mm512_castps_si512(s), _mm512_set1_epi32(0x7fffffff), 0xE4))
#define VMAXX(a, b) _mm512_max_ps((a), (b))
#define VMINX(a, b) _mm512_min_ps((a), (b))
#define VCMPLT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define VCMPGT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define VCMPEQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define VISNAN(a) _mm512_cmp_ps_mask((a), (a), _CMP_UNORD_Q)
#define VSEL(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define VMOR(a, b) ((__mmask16)((a) | (b)))
#define VROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVTI(x) _mm512_cvtps_epi32(x)
#define VI2F(i) _mm512_cvtepi32_ps(i)
#define VCASTFI(v) _mm512_castps_si512(v)
#define VCASTIF(i) _mm512_castsi512_ps(i)
#define VIADD(a, b) _mm512_add_epi32((a), (b))
#define VISUB(a, b) _mm512_sub_epi32((a), (b))
#define VISLL(a, n) _mm512_slli_epi32((a), (n))
#define VISRA(a, n) _mm512_srai_epi32((a), (n))
#define VISRL(a, n) _mm512_srli_epi32((a), (n))
#define VIAND(a, b) _mm512_and_si512((a), (b))
#define VIOR(a, b) _mm512_or_si512((a), (b))
#define VISET(x) _mm512_set1_epi32((int)(x))
#define VHAS_NT 1
#define VNT_ALIGN 64
#define VSTREAM(p, v) _mm512_stream_ps((p), (v))
#define VSFENCE() _mm_sfence()
#define VFAST_FMA 1
#define F(name) a512_##name
#include "nabla_ew_impl.inc"
#undef F
#undef VFAST_FMA
#undef VHAS_NT
#undef VNT_ALIGN
#undef VSTREAM
#undef VSFENCE
#undef VT
#undef VIT
#undef VMT
#undef VL
#undef VLOAD
#undef VSTORE
#undef VSET
#undef VZERO
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VRCP
#undef VRCP_STEPS
#undef VFMA
#undef VSQRT
#undef VABS
#undef VNEG
#undef VCOPYSIGN
#undef VMAXX
#undef VMINX
#undef VCMPLT
#undef VCMPGT
#undef VCMPEQ
#undef VISNAN
#undef VSEL
#undef VMOR
#undef VROUND
#undef VCVTI
#undef VI2F
#undef VCASTFI
#undef VCASTIF
#undef VIADD
#undef VISUB
#undef VISLL
#undef VISRA
#undef VISRL
#undef VIAND
#undef VIOR
#undef VISET
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---------------------------------------------------------------------------------------
// AVX2 instantiation
// ---------------------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define VT __m256
#define VIT __m256i
#define VMT __m256
#define VL 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET(x) _mm256_set1_ps((float)(x))
#define VZERO() _mm256_setzero_ps()
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VDIV(a, b) _mm256_div_ps((a), (b))
#define VRCP(a) _mm256_rcp_ps(a)
#define VRCP_STEPS 1
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VABS(a) _mm256_and_ps((a), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))
#define VNEG(a) _mm256_xor_ps((a), _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)))
#define VCOPYSIGN(a, s) _mm256_or_ps(VABS(a), _mm256_and_ps((s), _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))))
#define VMAXX(a, b) _mm256_max_ps((a), (b))
#define VMINX(a, b) _mm256_min_ps((a), (b))
#define VCMPLT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define VCMPGT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define VCMPEQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define VISNAN(a) _mm256_cmp_ps((a), (a), _CMP_UNORD_Q)
#define VSEL(m, a, b) _mm256_blendv_ps((b), (a), (m))
#define VMOR(a, b) _mm256_or_ps((a), (b))
#define VROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVTI(x) _mm256_cvtps_epi32(x)
#define VI2F(i) _mm256_cvtepi32_ps(i)
#define VCASTFI(v) _mm256_castps_si256(v)
#define VCASTIF(i) _mm256_castsi256_ps(i)
#define VIADD(a, b) _mm256_add_epi32((a), (b))
#define VISUB(a, b) _mm256_sub_epi32((a), (b))
#define VISLL(a, n) _mm256_slli_epi32((a), (n))
#define VISRA(a, n) _mm256_srai_epi32((a), (n))
#define VISRL(a, n) _mm256_srli_epi32((a), (n))
#define VIAND(a, b) _mm256_and_si256((a), (b))
#define VIOR(a, b) _mm256_or_si256((a), (b))
#define VISET(x) _mm256_set1_epi32((int)(x))
#define VHAS_NT 1
#define VNT_ALIGN 32
#define VSTREAM(p, v) _mm256_stream_ps((p), (v))
#define VSFENCE() _mm_sfence()
#define VFAST_FMA 1
#define F(name) a256_##name
#include "nabla_ew_impl.inc"
#undef F
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // NABLA_X86

#if defined(NABLA_ARM64)
// ---------------------------------------------------------------------------------------
// NEON instantiation (the vector macros below replace the AVX2 ones, which are not defined
// on arm64).
// ---------------------------------------------------------------------------------------
#define VT float32x4_t
#define VIT int32x4_t
#define VMT uint32x4_t
#define VL 4
#define VLOAD(p) vld1q_f32(p)
#define VSTORE(p, v) vst1q_f32((p), (v))
#define VSET(x) vdupq_n_f32((float)(x))
#define VZERO() vdupq_n_f32(0.0f)
#define VADD(a, b) vaddq_f32((a), (b))
#define VSUB(a, b) vsubq_f32((a), (b))
#define VMUL(a, b) vmulq_f32((a), (b))
#define VDIV(a, b) vdivq_f32((a), (b))
#define VRCP(a) vrecpeq_f32(a)
#define VRCP_STEPS 2
#define VFMA(a, b, c) vfmaq_f32((c), (a), (b))
#define VSQRT(a) vsqrtq_f32(a)
#define VABS(a) vabsq_f32(a)
#define VNEG(a) vnegq_f32(a)
#define VCOPYSIGN(a, s) vbslq_f32(vdupq_n_u32(0x80000000u), (s), (a))
#define VMAXX(a, b) vmaxq_f32((a), (b))
#define VMINX(a, b) vminq_f32((a), (b))
#define VCMPLT(a, b) vcltq_f32((a), (b))
#define VCMPGT(a, b) vcgtq_f32((a), (b))
#define VCMPEQ(a, b) vceqq_f32((a), (b))
#define VISNAN(a) vmvnq_u32(vceqq_f32((a), (a)))
#define VSEL(m, a, b) vbslq_f32((m), (a), (b))
#define VMOR(a, b) vorrq_u32((a), (b))
#define VROUND(x) vrndnq_f32(x)
#define VCVTI(x) vcvtnq_s32_f32(x)
#define VI2F(i) vcvtq_f32_s32(i)
#define VCASTFI(v) vreinterpretq_s32_f32(v)
#define VCASTIF(i) vreinterpretq_f32_s32(i)
#define VIADD(a, b) vaddq_s32((a), (b))
#define VISUB(a, b) vsubq_s32((a), (b))
#define VISLL(a, n) vshlq_n_s32((a), (n))
#define VISRA(a, n) vshrq_n_s32((a), (n))
#define VISRL(a, n) vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), (n)))
#define VIAND(a, b) vandq_s32((a), (b))
#define VIOR(a, b) vorrq_s32((a), (b))
#define VISET(x) vdupq_n_s32((int)(x))
#define VHAS_NT 0
#define VNT_ALIGN 16
#define VSTREAM(p, v) VSTORE(p, v)
#define VSFENCE() ((void)0)
#define VFAST_FMA 1
#define F(name) neon_##name
#include "nabla_ew_impl.inc"
#undef F
#endif

static const ew_vtable *ew(void) {
    switch (nabla_isa_current()) {
#if defined(NABLA_X86)
    case NABLA_ISA_AVX512: return &a512_vtable;
    case NABLA_ISA_AVX2: return &a256_vtable;
#endif
#if defined(NABLA_ARM64)
    case NABLA_ISA_NEON: return &neon_vtable;
#endif
    default: return &sc_vtable;
    }
}

// ---------------------------------------------------------------------------------------
// Threading: above these sizes the work is split over the pool.
// ---------------------------------------------------------------------------------------
#define EW_PAR_MIN 200000L          // cheap ops (add, relu, ...)
#define EW_PAR_MIN_HEAVY 40000L     // transcendental ops (exp, tanh, ...)
#define EW_CHUNK_ALIGN 64L

typedef enum { J_UNARY, J_BINARY, J_BINARY_S, J_S_BINARY, J_TANH_BW, J_SIGMOID_BW, J_RELU_BW, J_AXPY, J_CLAMP } job_kind;

typedef struct {
    const ew_vtable *vt;
    job_kind kind;
    int op;
    const float *a, *b;
    float *out;
    float s, s2;
    long n, chunk;
} ew_job;

static void ew_run_range(const ew_job *j, long lo, long hi) {
    long n = hi - lo;
    const ew_vtable *vt = j->vt;
    switch (j->kind) {
    case J_UNARY: vt->unary(j->op, j->a + lo, j->out + lo, n); break;
    case J_BINARY: vt->binary(j->op, j->a + lo, j->b + lo, j->out + lo, n); break;
    case J_BINARY_S: vt->binary_s(j->op, j->a + lo, j->s, j->out + lo, n); break;
    case J_S_BINARY: vt->s_binary(j->op, j->s, j->b + lo, j->out + lo, n); break;
    case J_TANH_BW: vt->tanh_bw(j->a + lo, j->b + lo, j->out + lo, n); break;
    case J_SIGMOID_BW: vt->sigmoid_bw(j->a + lo, j->b + lo, j->out + lo, n); break;
    case J_RELU_BW: vt->relu_bw(j->a + lo, j->b + lo, j->out + lo, n); break;
    case J_AXPY: vt->axpy(n, j->s, j->a + lo, j->out + lo); break;
    case J_CLAMP: vt->clamp(j->a + lo, j->s, j->s2, j->out + lo, n); break;
    }
}

static void ew_task(void *ctx, long part) {
    const ew_job *j = (const ew_job *)ctx;
    long lo = part * j->chunk;
    long hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    if (lo < hi) ew_run_range(j, lo, hi);
}

static int is_heavy(const ew_job *j) {
    if (j->kind == J_UNARY)
        return j->op == NABLA_UN_EXP || j->op == NABLA_UN_LOG || j->op == NABLA_UN_TANH ||
               j->op == NABLA_UN_SIGMOID || j->op == NABLA_UN_SIN || j->op == NABLA_UN_COS ||
               j->op == NABLA_UN_ERF;
    return j->op == NABLA_BIN_POW && (j->kind == J_BINARY || j->kind == J_BINARY_S || j->kind == J_S_BINARY);
}

static void ew_dispatch(ew_job *j) {
    long n = j->n;
    if (n <= 0) return;
    long thr = is_heavy(j) ? EW_PAR_MIN_HEAVY : EW_PAR_MIN;
    int nt = nabla_get_num_threads();
    if (nt <= 1 || n < thr) {
        ew_run_range(j, 0, n);
        return;
    }
    long parts = nt;
    long chunk = (n + parts - 1) / parts;
    chunk = (chunk + EW_CHUNK_ALIGN - 1) / EW_CHUNK_ALIGN * EW_CHUNK_ALIGN;
    j->chunk = chunk;
    nabla_pool_run((n + chunk - 1) / chunk, j, ew_task);
}

// ---------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------

void nabla_s_binary(nabla_binary_op op, const float *a, const float *b, float *out, long n) {
    ew_job j = {ew(), J_BINARY, (int)op, a, b, out, 0, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_binary_scalar(nabla_binary_op op, const float *a, float s, float *out, long n) {
    ew_job j = {ew(), J_BINARY_S, (int)op, a, NULL, out, s, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_scalar_binary(nabla_binary_op op, float s, const float *b, float *out, long n) {
    ew_job j = {ew(), J_S_BINARY, (int)op, NULL, b, out, s, 0, n, 0};
    ew_dispatch(&j);
}

typedef struct {
    const ew_vtable *vt;
    int op;
    const float *a, *b;
    float *out;
    long rows, cols, rows_per;
} rows_job;

static void rows_task(void *ctx, long part) {
    const rows_job *j = (const rows_job *)ctx;
    long r0 = part * j->rows_per;
    long r1 = r0 + j->rows_per < j->rows ? r0 + j->rows_per : j->rows;
    for (long r = r0; r < r1; r++)
        j->vt->binary(j->op, j->a + r * j->cols, j->b, j->out + r * j->cols, j->cols);
}

void nabla_s_binary_rows(nabla_binary_op op, const float *a, const float *b, float *out,
                         long rows, long cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_job j = {ew(), (int)op, a, b, out, rows, cols, rows};
    long total = rows * cols;
    int nt = nabla_get_num_threads();
    if (nt > 1 && total >= (op == NABLA_BIN_POW ? EW_PAR_MIN_HEAVY : EW_PAR_MIN) && rows >= 2) {
        long parts = nt < rows ? nt : rows;
        j.rows_per = (rows + parts - 1) / parts;
        nabla_pool_run((rows + j.rows_per - 1) / j.rows_per, &j, rows_task);
        return;
    }
    rows_task(&j, 0);
}

void nabla_s_unary(nabla_unary_op op, const float *x, float *out, long n) {
    ew_job j = {ew(), J_UNARY, (int)op, x, NULL, out, 0, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_tanh_backward(const float *y, const float *g, float *out, long n) {
    ew_job j = {ew(), J_TANH_BW, 0, y, g, out, 0, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_sigmoid_backward(const float *y, const float *g, float *out, long n) {
    ew_job j = {ew(), J_SIGMOID_BW, 0, y, g, out, 0, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_relu_backward(const float *x, const float *g, float *out, long n) {
    ew_job j = {ew(), J_RELU_BW, 0, x, g, out, 0, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_axpy(long n, float a, const float *x, float *y) {
    ew_job j = {ew(), J_AXPY, 0, x, NULL, y, a, 0, n, 0};
    ew_dispatch(&j);
}

void nabla_s_clamp(const float *x, float lo, float hi, float *out, long n) {
    ew_job j = {ew(), J_CLAMP, 0, x, NULL, out, lo, hi, n, 0};
    ew_dispatch(&j);
}

// ---- reductions ---------------------------------------------------------------------------

#define RED_MAX_PARTS 64

typedef struct {
    const ew_vtable *vt;
    const float *x;
    long n, chunk;
    int kind;  // 0 sum, 1 max, 2 min
    double dres[RED_MAX_PARTS];
    float fres[RED_MAX_PARTS];
} red_job;

static void red_task(void *ctx, long part) {
    red_job *j = (red_job *)ctx;
    long lo = part * j->chunk;
    long hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    if (lo >= hi) {
        j->dres[part] = 0;
        j->fres[part] = j->kind == 1 ? -INFINITY : INFINITY;
        return;
    }
    if (j->kind == 0) j->dres[part] = j->vt->sum(j->x + lo, hi - lo);
    else if (j->kind == 1) j->fres[part] = j->vt->maxv(j->x + lo, hi - lo);
    else j->fres[part] = j->vt->minv(j->x + lo, hi - lo);
}

static void red_run(red_job *j, long *parts_out) {
    int nt = nabla_get_num_threads();
    long parts = 1;
    if (nt > 1 && j->n >= EW_PAR_MIN) parts = nt < RED_MAX_PARTS ? nt : RED_MAX_PARTS;
    long chunk = (j->n + parts - 1) / parts;
    chunk = (chunk + EW_CHUNK_ALIGN - 1) / EW_CHUNK_ALIGN * EW_CHUNK_ALIGN;
    if (chunk < 1) chunk = 1;
    j->chunk = chunk;
    parts = (j->n + chunk - 1) / chunk;
    if (parts <= 1) { parts = 1; red_task(j, 0); }
    else nabla_pool_run(parts, j, red_task);
    *parts_out = parts;
}

double nabla_s_sum(const float *x, long n) {
    if (n <= 0) return 0;
    red_job j;
    j.vt = ew(); j.x = x; j.n = n; j.kind = 0;
    long parts;
    red_run(&j, &parts);
    double s = 0;
    for (long p = 0; p < parts; p++) s += j.dres[p];
    return s;
}

float nabla_s_max(const float *x, long n) {
    if (n <= 0) return -INFINITY;
    red_job j;
    j.vt = ew(); j.x = x; j.n = n; j.kind = 1;
    long parts;
    red_run(&j, &parts);
    float m = -INFINITY;
    for (long p = 0; p < parts; p++) {
        if (j.fres[p] != j.fres[p]) return j.fres[p];
        if (j.fres[p] > m) m = j.fres[p];
    }
    return m;
}

float nabla_s_min(const float *x, long n) {
    if (n <= 0) return INFINITY;
    red_job j;
    j.vt = ew(); j.x = x; j.n = n; j.kind = 2;
    long parts;
    red_run(&j, &parts);
    float m = INFINITY;
    for (long p = 0; p < parts; p++) {
        if (j.fres[p] != j.fres[p]) return j.fres[p];
        if (j.fres[p] < m) m = j.fres[p];
    }
    return m;
}

typedef struct {
    const ew_vtable *vt;
    const float *x;
    float *out;
    long rows, cols, cchunk;
} colsum_job;

static void colsum_task(void *ctx, long part) {
    colsum_job *j = (colsum_job *)ctx;
    long c0 = part * j->cchunk;
    long c1 = c0 + j->cchunk < j->cols ? c0 + j->cchunk : j->cols;
    if (c0 >= c1) return;
    long w = c1 - c0;
    double *acc = (double *)nabla_scratch(2, (size_t)w * sizeof(double));
    float *tmp = (float *)nabla_scratch(3, (size_t)w * sizeof(float));
    for (long c = 0; c < w; c++) acc[c] = 0;
    j->vt->colsum(j->x + c0, j->rows, w, j->cols, acc, tmp);
    for (long c = 0; c < w; c++) j->out[c0 + c] = (float)acc[c];
}

void nabla_s_sum_rows(const float *x, float *out, long rows, long cols) {
    if (cols <= 0) return;
    if (rows <= 0) {
        for (long c = 0; c < cols; c++) out[c] = 0;
        return;
    }
    if (cols == 1) {  // a contiguous column: plain sum
        out[0] = (float)nabla_s_sum(x, rows);
        return;
    }
    if (cols < 16) {  // narrow rows: scalar double accumulation beats the vector path
        double acc[16] = {0};
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) acc[c] += x[r * cols + c];
        for (long c = 0; c < cols; c++) out[c] = (float)acc[c];
        return;
    }
    colsum_job j = {ew(), x, out, rows, cols, cols};
    int nt = nabla_get_num_threads();
    if (nt > 1 && rows * cols >= EW_PAR_MIN && cols >= 256) {
        long chunk = (cols + nt - 1) / nt;
        chunk = (chunk + EW_CHUNK_ALIGN - 1) / EW_CHUNK_ALIGN * EW_CHUNK_ALIGN;
        j.cchunk = chunk;
        nabla_pool_run((cols + chunk - 1) / chunk, &j, colsum_task);
        return;
    }
    colsum_task(&j, 0);
}

// ---------------------------------------------------------------------------------------
// Recurrent cells (one batch row), for nabla_rnn.c
// ---------------------------------------------------------------------------------------
void nabla_s_lstm_cell_fwd(float *g, const float *gb, const float *cp, float *c, float *h, long H) { ew()->lstm_fwd(g, gb, cp, c, h, H); }
void nabla_s_lstm_cell_bwd(const float *a, const float *cp, const float *c, const float *dh, float *dc, float *d, long H) {
    ew()->lstm_bwd(a, cp, c, dh, dc, d, H);
}
void nabla_s_gru_cell_fwd(const float *x, const float *xb, const float *gh, const float *b, const float *hp, float *a, float *h, long H) {
    ew()->gru_fwd(x, xb, gh, b, hp, a, h, H);
}
void nabla_s_gru_cell_bwd(const float *a, const float *hp, float *dh, float *dx, float *dg, long H) { ew()->gru_bwd(a, hp, dh, dx, dg, H); }
void nabla_s_tanh_rows(float *x, long n) { ew()->unary(NABLA_UN_TANH, x, x, n); }
void nabla_s_tanh_bw_rows(const float *y, const float *g, float *out, long n) { ew()->tanh_bw(y, g, out, n); }
void nabla_s_relu_bw_rows(const float *y, const float *g, float *out, long n) { ew()->relu_bw(y, g, out, n); }
