// nabla_kernels.h — the C compute kernels behind NablaCore.
//
// Everything compute-bound lives here so that the instruction set can be chosen at run
// time (per-function target attributes + a CPU check) without any compiler flag in the
// package manifest. All arrays are dense and row-major. Lengths are `long` (64-bit).
// Every entry point is safe to call from any thread.
#ifndef NABLA_KERNELS_H
#define NABLA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------------------
// CPU features and threads
// ---------------------------------------------------------------------------------------

/// Instruction-set level the kernels dispatch to.
typedef enum {
    NABLA_ISA_SCALAR = 0,
    NABLA_ISA_AVX2 = 1,    // AVX2 + FMA
    NABLA_ISA_AVX512 = 2,  // AVX-512F (+VL/DQ/BW)
    NABLA_ISA_NEON = 3,    // arm64 Advanced SIMD
} nabla_isa;

/// The instruction set the kernels use on this CPU (detected once, cached).
nabla_isa nabla_cpu_isa(void);
/// Human-readable name of `nabla_cpu_isa()`: "avx512", "avx2", "neon", "scalar".
const char *nabla_cpu_isa_name(void);
/// Forces a lower ISA (for tests): pass -1 to restore detection. Returns the ISA in force.
nabla_isa nabla_force_isa(int isa);

/// Number of threads the kernels may use (default: online CPUs, or NABLA_NUM_THREADS).
int nabla_get_num_threads(void);
void nabla_set_num_threads(int n);

/// Runs fn(ctx, i) for i in [0, n) on the persistent worker pool (calling thread takes
/// part). Blocks until all are done. Used by NablaCore for Swift-side parallel loops.
void nabla_parallel_for(long n, void *ctx, void (*fn)(void *ctx, long i));

// ---------------------------------------------------------------------------------------
// Per-thread autograd mode flag (lives in C because C has cheap thread-locals)
// ---------------------------------------------------------------------------------------
int nabla_grad_enabled(void);
void nabla_set_grad_enabled(int enabled);
/// A fresh mark for one backward pass's topological sort (atomic, never repeats).
unsigned long long nabla_next_graph_mark(void);

/// How many graph captures are active in the process (a cheap test before the task-local).
long nabla_captures_active(void);
/// Adds `delta` (+1 or -1) to the count of active graph captures.
void nabla_captures_add(long delta);

/// Atomically loads a pointer slot (acquire ordering).
void *nabla_ptr_load(void *const *slot);
/// Atomically replaces `*slot` by `desired` if it holds `expected` (acq_rel); returns 1 on success.
int nabla_ptr_cas(void **slot, void *expected, void *desired);

// ---------------------------------------------------------------------------------------
// GEMM:  C[M,N] = alpha * op(A) * op(B) + beta * C     (row-major)
//   op(A) is A (M x K, leading dim lda) when transA == 0, else A^T with A stored K x M.
//   op(B) is B (K x N, leading dim ldb) when transB == 0, else B^T with B stored N x K.
//   beta == 0 means C is written without being read (may hold NaN/garbage).
// ---------------------------------------------------------------------------------------

/// Which GEMM path is active.
typedef enum {
    NABLA_BLAS_BUILTIN = 0,
    NABLA_BLAS_OPENBLAS = 1,
    NABLA_BLAS_ACCELERATE = 2,
} nabla_blas_backend;

/// The active GEMM backend. On first use, reads NABLA_BLAS (builtin|openblas|accelerate);
/// otherwise dlopens OpenBLAS (Linux) / Accelerate (macOS) and uses it, except on
/// x86 CPUs with AVX-512 or AVX2 (without Accelerate), where the built-in kernel measured faster.
nabla_blas_backend nabla_blas_active(void);
/// Name of the active backend plus detail, e.g. "openblas (libopenblas.so.0)" or
/// "builtin (avx512, 8x32)".
const char *nabla_blas_description(void);
/// Selects a backend; returns 0 on success, -1 if that backend is not available.
int nabla_blas_select(nabla_blas_backend backend);

void nabla_sgemm(int transA, int transB, long M, long N, long K, float alpha,
                 const float *A, long lda, const float *B, long ldb, float beta,
                 float *C, long ldc);
void nabla_dgemm(int transA, int transB, long M, long N, long K, double alpha,
                 const double *A, long lda, const double *B, long ldb, double beta,
                 double *C, long ldc);
/// Always the built-in kernel, whatever backend is active (for benchmarks and tests).
void nabla_sgemm_builtin(int transA, int transB, long M, long N, long K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float beta,
                         float *C, long ldc);
void nabla_dgemm_builtin(int transA, int transB, long M, long N, long K, double alpha,
                         const double *A, long lda, const double *B, long ldb, double beta,
                         double *C, long ldc);

// ---------------------------------------------------------------------------------------
// Element-wise float32 kernels on contiguous arrays (vectorised, 2 threads above a size
// threshold). `out` may alias an input.
// ---------------------------------------------------------------------------------------

typedef enum {
    NABLA_BIN_ADD = 0, NABLA_BIN_SUB = 1, NABLA_BIN_MUL = 2, NABLA_BIN_DIV = 3,
    NABLA_BIN_MAX = 4, NABLA_BIN_MIN = 5, NABLA_BIN_POW = 6,
} nabla_binary_op;

/// out[i] = a[i] op b[i]
void nabla_s_binary(nabla_binary_op op, const float *a, const float *b, float *out, long n);
/// out[i] = a[i] op s
void nabla_s_binary_scalar(nabla_binary_op op, const float *a, float s, float *out, long n);
/// out[i] = s op b[i]
void nabla_s_scalar_binary(nabla_binary_op op, float s, const float *b, float *out, long n);
/// Row broadcast: a is rows x cols, b has cols elements: out[r,c] = a[r,c] op b[c]
void nabla_s_binary_rows(nabla_binary_op op, const float *a, const float *b, float *out,
                         long rows, long cols);

typedef enum {
    NABLA_UN_NEG = 0, NABLA_UN_EXP = 1, NABLA_UN_LOG = 2, NABLA_UN_SQRT = 3,
    NABLA_UN_ABS = 4, NABLA_UN_TANH = 5, NABLA_UN_SIGMOID = 6, NABLA_UN_RELU = 7,
    NABLA_UN_SIN = 8, NABLA_UN_COS = 9, NABLA_UN_ERF = 10, NABLA_UN_SQUARE = 11,
    NABLA_UN_RECIPROCAL = 12, NABLA_UN_SIGN = 13,
} nabla_unary_op;

/// out[i] = f(x[i]). exp/tanh/sigmoid/log use SIMD polynomials (max rel. error ~2e-7;
/// exp saturates to 0 / +inf outside [-88, 88]; log of negative is NaN, of 0 is -inf).
void nabla_s_unary(nabla_unary_op op, const float *x, float *out, long n);

/// Fused backward helpers: out[i] = g[i] * f'(...)
/// tanh:    g * (1 - y*y)          (y = tanh output)
/// sigmoid: g * y * (1 - y)        (y = sigmoid output)
/// relu:    g * (x > 0)            (x = relu input; derivative 0 at 0, as PyTorch)
void nabla_s_tanh_backward(const float *y, const float *g, float *out, long n);
void nabla_s_sigmoid_backward(const float *y, const float *g, float *out, long n);
void nabla_s_relu_backward(const float *x, const float *g, float *out, long n);

/// y[i] += a * x[i]
void nabla_s_axpy(long n, float a, const float *x, float *y);
/// out[i] = lo <= x <= hi clamp (NaN passes through)
void nabla_s_clamp(const float *x, float lo, float hi, float *out, long n);

// ---------------------------------------------------------------------------------------
// Reductions (float32 in, accumulated with enough precision that sum of 10M ones is exact)
// ---------------------------------------------------------------------------------------
double nabla_s_sum(const float *x, long n);
float nabla_s_max(const float *x, long n);   // NaN if any NaN; -inf for n == 0
float nabla_s_min(const float *x, long n);
/// Column sums of a rows x cols matrix: out[c] = sum_r x[r,c] (bias gradients)
void nabla_s_sum_rows(const float *x, float *out, long rows, long cols);

/// Keeps large freed buffers in the heap for reuse instead of unmapping them (glibc's
/// mmap/trim thresholds). Idempotent; called by NablaCore before its first allocation.
void nabla_tune_allocator(void);

// ---------------------------------------------------------------------------------------
// Fused optimizer updates (float32, in place)
// ---------------------------------------------------------------------------------------
/// The instruction set the fused optimizer kernels dispatch to (the forced one when set).
nabla_isa nabla_optim_isa(void);
/// One Adam step without amsgrad, PyTorch's formula: g' = g + wd·x; m += (1−β1)(g' − m);
/// v = β2·v + (1−β2)·g'²; x −= step_size·m / (√v / √(1−β2ᵗ) + eps), with
/// step_size = lr / (1−β1ᵗ). (AdamW applies its decoupled decay before, with wd = 0.)
void nabla_s_adam_step(long n, float *x, const float *g, float *m, float *v, float beta1, float beta2,
                       float step_size, float bias_correction2_sqrt, float eps, float weight_decay);

// ---------------------------------------------------------------------------------------
// Convolution, pooling and normalisation (NCHW, dense). `s` = float32, `d` = float64.
// ---------------------------------------------------------------------------------------

/// The geometry of a 2-D convolution (a 1-D one has h = kh = sh = dh = 1 and ph = 0).
/// Padding is given at the top/left; the output size (oh, ow) fixes the bottom/right
/// padding, so asymmetric ('same') padding needs nothing more. cg = c / groups.
typedef struct {
    long n, c, h, w;       // input
    long oc, oh, ow;       // output
    long kh, kw, sh, sw, ph, pw, dh, dw;
    long groups, cg;
} nabla_conv_geom;

/// y[n, oc, oh, ow] = conv(x, w) + bias (bias may be NULL). w is [oc, cg, kh, kw].
void nabla_s_conv2d_forward(const nabla_conv_geom *g, const float *x, const float *w, const float *bias, float *y);
void nabla_d_conv2d_forward(const nabla_conv_geom *g, const double *x, const double *w, const double *bias, double *y);
/// Gradients of the convolution for upstream gy: gx (input), gw (weight), gb (bias); each
/// may be NULL. Every one given is overwritten (not accumulated).
void nabla_s_conv2d_backward(const nabla_conv_geom *g, const float *x, const float *w, const float *gy,
                             float *gx, float *gw, float *gb);
void nabla_d_conv2d_backward(const nabla_conv_geom *g, const double *x, const double *w, const double *gy,
                             double *gx, double *gw, double *gb);

/// Recurrent layers: one direction of one layer over a time-major sequence.
typedef enum {
    NABLA_RNN_LSTM = 0,   // gates i, f, g, o (PyTorch's order)
    NABLA_RNN_GRU = 1,    // gates r, z, n
    NABLA_RNN_TANH = 2,
    NABLA_RNN_RELU = 3,
} nabla_rnn_kind;

/// The geometry of a recurrent scan. G = 4 (LSTM), 3 (GRU) or 1 (RNN) gates of H units.
///
/// The packed state P is [S, B, H]: slots 0…T hold the hidden state before the first step
/// and after each step (forward: slot t before step t, slot t+1 after it; reverse: slot T
/// before the first step t = T-1, slot t after step t). For an LSTM slot T+1 holds the
/// final cell state. With lengths, T more slots (from y_slot) hold the output sequence,
/// zero at padded steps; without, the output is the state slots themselves.
/// A row b with lengths[b] = L is padding at steps t ≥ L: its state passes through unchanged.
typedef struct {
    long T, B, H;
    const int64_t *lengths;   // [B], each in 1…T, or NULL (every row has T steps)
    int reverse;              // run t = T-1 … 0
    int kind;                 // nabla_rnn_kind
    long y_slot;              // first output slot when lengths is given
} nabla_rnn_geom;

/// Forward. gx [T, B, G·H]: the input projections; gb [G·H] (or NULL) a bias added to them
/// at every step (b_ih + b_hh for an LSTM or RNN, b_ih for a GRU, whose b_hh is bhh, [3H],
/// or NULL). whh [G·H, H]. h0, c0 [B, H] or NULL (zeros).
/// Writes P (see the geometry), cs [T+1, B, H] (LSTM cell states by slot; NULL otherwise)
/// and acts [T, B, 4H] (LSTM: i, f, g, o; GRU: r, z, n, W_hn·h + b_hn; NULL for RNN).
/// For an LSTM acts may be gx itself (the gates are then overwritten in place).
void nabla_s_rnn_forward(const nabla_rnn_geom *g, const float *gx, const float *gb, const float *whh, const float *bhh,
                         const float *h0, const float *c0, float *P, float *cs, float *acts);
void nabla_d_rnn_forward(const nabla_rnn_geom *g, const double *gx, const double *gb, const double *whh, const double *bhh,
                         const double *h0, const double *c0, double *P, double *cs, double *acts);
/// Backward for the upstream gradient dP (shaped like P). Writes dgx [T, B, G·H] (zero at
/// padded steps), dh0 and dc0 [B, H] (each may be NULL), dwhh [G·H, H] and, for a GRU, dbhh
/// [3H] (may be NULL) using dgh [T, B, 3H] as work space (GRU only), and dgb [G·H] (may be
/// NULL), the gate bias's gradient (the column sums of dgx). Everything is overwritten.
void nabla_s_rnn_backward(const nabla_rnn_geom *g, const float *whh, const float *P, const float *cs,
                          const float *acts, const float *dP, float *dgx, float *dgh, float *dh0, float *dc0,
                          float *dwhh, float *dbhh, float *dgb);
void nabla_d_rnn_backward(const nabla_rnn_geom *g, const double *whh, const double *P, const double *cs,
                          const double *acts, const double *dP, double *dgx, double *dgh, double *dh0, double *dc0,
                          double *dwhh, double *dbhh, double *dgb);

/// Pooling over `planes` independent [h, w] planes (N·C for NCHW).
typedef struct {
    long planes, h, w, oh, ow;
    long kh, kw, sh, sw, ph, pw;
    int count_include_pad;   // average pooling: divide by the whole window (1) or the part inside (0)
} nabla_pool_geom;

/// Max pooling; indices (may be NULL) get each maximum's position in its plane (iy·w + ix),
/// the first maximum in a tie, the last NaN if any (as PyTorch).
void nabla_s_maxpool2d_forward(const nabla_pool_geom *g, const float *x, float *y, int64_t *indices);
void nabla_d_maxpool2d_forward(const nabla_pool_geom *g, const double *x, double *y, int64_t *indices);
/// gx = 0, then gx[plane, indices[i]] += gy[i].
void nabla_s_maxpool2d_backward(const nabla_pool_geom *g, const float *gy, const int64_t *indices, float *gx);
void nabla_d_maxpool2d_backward(const nabla_pool_geom *g, const double *gy, const int64_t *indices, double *gx);
void nabla_s_avgpool2d_forward(const nabla_pool_geom *g, const float *x, float *y);
void nabla_d_avgpool2d_forward(const nabla_pool_geom *g, const double *x, double *y);
/// gx is overwritten.
void nabla_s_avgpool2d_backward(const nabla_pool_geom *g, const float *gy, float *gx);
void nabla_d_avgpool2d_backward(const nabla_pool_geom *g, const double *gy, double *gx);

/// x is [outer, channels, inner]. Per channel: mean, biased variance and 1/sqrt(var + eps),
/// accumulated in double.
void nabla_s_channel_stats(const float *x, long outer, long channels, long inner, double eps,
                           float *mean, float *var, float *rstd);
void nabla_d_channel_stats(const double *x, long outer, long channels, long inner, double eps,
                           double *mean, double *var, double *rstd);
/// y = (x - mean[c]) · rstd[c] · scale[c] + shift[c] (scale, shift may be NULL).
void nabla_s_channel_normalize(const float *x, long outer, long channels, long inner, const float *mean,
                               const float *rstd, const float *scale, const float *shift, float *y);
void nabla_d_channel_normalize(const double *x, long outer, long channels, long inner, const double *mean,
                               const double *rstd, const double *scale, const double *shift, double *y);
/// The backward of channel_normalize when mean and rstd are the batch's own statistics:
/// gx, gscale = Σ gy·x̂, gshift = Σ gy (each may be NULL; scale NULL means 1).
void nabla_s_channel_normalize_backward(const float *x, const float *gy, long outer, long channels, long inner,
                                        const float *mean, const float *rstd, const float *scale,
                                        float *gx, float *gscale, float *gshift);
void nabla_d_channel_normalize_backward(const double *x, const double *gy, long outer, long channels, long inner,
                                        const double *mean, const double *rstd, const double *scale,
                                        double *gx, double *gscale, double *gshift);

/// Scaled dot-product attention over N = B·H independent (batch, head) pairs, tiled with an
/// online softmax (FlashAttention's scheme): memory beyond the inputs and outputs is one
/// score tile per thread and one log-sum-exp per query row, whatever L and S.
///
/// Every tensor is read or written through strides: element (b, h, i, e) of q is
/// q[b·q_sb + h·q_sh + i·q_sr + e] (the last axis is contiguous); likewise k, v, the output
/// o (and its gradient, which has the output's layout) and the gradients dq, dk, dv (each
/// with its own strides, so that all three can be parts of one packed buffer).
typedef struct {
    long B, H, L, S, E, Ev;
    long q_sb, q_sh, q_sr, k_sb, k_sh, k_sr, v_sb, v_sh, v_sr;
    long o_sb, o_sh, o_sr;
    long dq_sb, dq_sh, dq_sr, dk_sb, dk_sh, dk_sr, dv_sb, dv_sh, dv_sr;
    double scale;              // multiplies q·kᵀ
    int causal;                // key j is visible to query i only when j ≤ i (top-left aligned)
    const void *mask;          // additive mask (float or double as the kernel), or NULL;
    const int64_t *mask_offsets;  // [B·H]: the start in mask of pair n's [L or 1, S] block
    long mask_row_stride;      // S, or 0 when every query row shares one mask row
    double dropout;            // probability of zeroing an attention weight (training)
    uint64_t seed;             // dropout's counter-based random stream
} nabla_attn_geom;

/// Forward: out (through the o strides) and lse [B, H, L] (contiguous; the log-sum-exp of each row's scaled,
/// masked scores; +inf for a row with no visible key, whose output is 0).
void nabla_s_attention_forward(const nabla_attn_geom *g, const float *q, const float *k, const float *v,
                               float *out, float *lse);
void nabla_d_attention_forward(const nabla_attn_geom *g, const double *q, const double *k, const double *v,
                               double *out, double *lse);
/// Backward for the upstream gradient dout (laid out as out): writes dq, dk and dv (through
/// their strides; every element is overwritten), recomputing the weights tile by tile from lse.
void nabla_s_attention_backward(const nabla_attn_geom *g, const float *q, const float *k, const float *v,
                                const float *out, const float *lse, const float *dout,
                                float *dq, float *dk, float *dv);
void nabla_d_attention_backward(const nabla_attn_geom *g, const double *q, const double *k, const double *v,
                                const double *out, const double *lse, const double *dout,
                                double *dq, double *dk, double *dv);

/// Dropout with probability p in [0, 1): y[i] = x[i]/(1 − p), or 0 when the hash of (seed, i)
/// says so. The same call on the upstream gradient is the backward pass.
void nabla_s_dropout(const float *x, float *y, long n, double p, uint64_t seed);
void nabla_d_dropout(const double *x, double *y, long n, double p, uint64_t seed);
/// The exact GELU y = ½x(1 + erf(x/√2)) (float32: erf to 1.5e-7) and its backward
/// gx = g·(Φ(x) + x·φ(x)).
void nabla_s_gelu(const float *x, float *y, long n);
void nabla_d_gelu(const double *x, double *y, long n);
void nabla_s_gelu_backward(const float *x, const float *g, float *gx, long n);
void nabla_d_gelu_backward(const double *x, const double *g, double *gx, long n);

#ifdef __cplusplus
}
#endif

#endif
