// nabla_rnn.c — recurrent layers (LSTM, GRU, Elman RNN): the whole sequence of one
// direction in one call, the batch split over the threads, one GEMM per step for the
// recurrent projection and a fused element-wise cell kernel. float32 and float64 from one
// source (nabla_rnn_impl.inc).
#include "nabla_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline long rnn_gates(int kind) { return kind == NABLA_RNN_LSTM ? 4 : kind == NABLA_RNN_GRU ? 3 : 1; }
static inline int rnn_active(const nabla_rnn_geom *g, long b, long t) { return !g->lengths || t < g->lengths[b]; }

// Inside a pool worker the GEMM stays on that thread (the built-in kernel knows it is in the
// pool); outside, it may use every thread.
static void rnn_sgemm_in(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
                         const float *B, long ldb, float beta, float *C, long ldc) {
    if (nabla_in_pool()) nabla_sgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else nabla_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void rnn_dgemm_in(int ta, int tb, long M, long N, long K, double alpha, const double *A, long lda,
                         const double *B, long ldb, double beta, double *C, long ldc) {
    if (nabla_in_pool()) nabla_dgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else nabla_dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// float64 cells: plain scalar code (float64 is for gradient checks, not speed).
static inline double d_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static void d_lstm_fwd(double *g, const double *gb, const double *cp, double *c, double *h, long H) {
    for (long j = 0; j < H; j++) {
        double i = d_sigmoid(g[j] + gb[j]), f = d_sigmoid(g[H + j] + gb[H + j]);
        double gg = tanh(g[2 * H + j] + gb[2 * H + j]), o = d_sigmoid(g[3 * H + j] + gb[3 * H + j]);
        double cc = f * cp[j] + i * gg;
        g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;
        c[j] = cc; h[j] = o * tanh(cc);
    }
}
static void d_lstm_bwd(const double *a, const double *cp, const double *c, const double *dh, double *dc, double *d, long H) {
    for (long j = 0; j < H; j++) {
        double i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], tc = tanh(c[j]);
        double dct = dc[j] + dh[j] * o * (1 - tc * tc);
        d[3 * H + j] = dh[j] * tc * o * (1 - o);
        d[j] = dct * gg * i * (1 - i);
        d[2 * H + j] = dct * i * (1 - gg * gg);
        d[H + j] = dct * cp[j] * f * (1 - f);
        dc[j] = dct * f;
    }
}
static void d_gru_fwd(const double *x, const double *xb, const double *gh, const double *b, const double *hp, double *a, double *h, long H) {
    for (long j = 0; j < H; j++) {
        double r = d_sigmoid(x[j] + xb[j] + gh[j] + b[j]), z = d_sigmoid(x[H + j] + xb[H + j] + gh[H + j] + b[H + j]);
        double m = gh[2 * H + j] + b[2 * H + j], n = tanh(x[2 * H + j] + xb[2 * H + j] + r * m);
        a[j] = r; a[H + j] = z; a[2 * H + j] = n; a[3 * H + j] = m;
        h[j] = n + z * (hp[j] - n);
    }
}
static void d_gru_bwd(const double *a, const double *hp, double *dh, double *dx, double *dg, long H) {
    for (long j = 0; j < H; j++) {
        double r = a[j], z = a[H + j], n = a[2 * H + j], m = a[3 * H + j];
        double dan = dh[j] * (1 - z) * (1 - n * n), dar = dan * m * r * (1 - r), daz = dh[j] * (hp[j] - n) * z * (1 - z);
        dx[j] = dar; dx[H + j] = daz; dx[2 * H + j] = dan;
        dg[j] = dar; dg[H + j] = daz; dg[2 * H + j] = dan * r;
        dh[j] *= z;
    }
}
static void d_tanh_row(double *x, long n) { for (long i = 0; i < n; i++) x[i] = tanh(x[i]); }
static void d_tanh_bw_row(const double *y, const double *g, double *out, long n) {
    for (long i = 0; i < n; i++) out[i] = g[i] * (1 - y[i] * y[i]);
}

#define CT float
#define CP s
#define GEMM_IN rnn_sgemm_in
#define GEMM_PRE nabla_s_gemm_prepacked
#define PACK_B nabla_s_pack_b
#define PACKED_B_SIZE nabla_s_packed_b_size
#define CELL_LSTM_FWD nabla_s_lstm_cell_fwd
#define CELL_LSTM_BWD nabla_s_lstm_cell_bwd
#define CELL_GRU_FWD nabla_s_gru_cell_fwd
#define CELL_GRU_BWD nabla_s_gru_cell_bwd
#define TANH_ROW nabla_s_tanh_rows
#define TANH_BW_ROW nabla_s_tanh_bw_rows
#include "nabla_rnn_impl.inc"
#undef CT
#undef CP
#undef GEMM_IN
#undef GEMM_PRE
#undef PACK_B
#undef PACKED_B_SIZE
#undef CELL_LSTM_FWD
#undef CELL_LSTM_BWD
#undef CELL_GRU_FWD
#undef CELL_GRU_BWD
#undef TANH_ROW
#undef TANH_BW_ROW

#define CT double
#define CP d
#define GEMM_IN rnn_dgemm_in
#define GEMM_PRE nabla_d_gemm_prepacked
#define PACK_B nabla_d_pack_b
#define PACKED_B_SIZE nabla_d_packed_b_size
#define CELL_LSTM_FWD d_lstm_fwd
#define CELL_LSTM_BWD d_lstm_bwd
#define CELL_GRU_FWD d_gru_fwd
#define CELL_GRU_BWD d_gru_bwd
#define TANH_ROW d_tanh_row
#define TANH_BW_ROW d_tanh_bw_row
#include "nabla_rnn_impl.inc"
