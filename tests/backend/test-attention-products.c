/*
 * test-attention-products.c: the layout of the CUDA backend's attention products
 * (plugins/cuda/attention-products.c) checked on the CPU, where no GPU is needed: the same
 * functions drive a strided-batched gemm made of the CPU kernel table's gemm, and their results
 * must equal what the CPU backend's attention computes.  Shapes with several sequences of odd
 * lengths, grouped-query heads (groups of 3 and 4, and none), and block-causal packing.
 *
 * Checked: the scores (every entry of every head's [L, L] block, against scale * q.k summed in
 * double), O = P V from the CPU's softmax rows, dP = dO V^T, and dQ, dK, dV from dS formed here
 * as the CPU forms it.  Agreement within 1e-5 relative (normwise): the same fp32 products, summed
 * in another order.
 */
#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention-products.h"
#include "cpu-kernels.h"
#include "packed-shape.h"
#include "../tap.h"

static lr_kernels C;
static lr_cpu_ctx cpu_ctx = {.n_threads = 1};
static uint64_t rng = 0x2545f4914f6cdd1dull;

static float *rnd(size_t n, double lo, double hi) {
  return xorshift_floats(&rng, n, lo, hi);
}

/* lr_batched_gemm as a loop of the CPU's gemm. */
static void cpu_batched(void *ctx, int ta, int tb, int m, int n, int k, real alpha, const real *a,
                        int lda, long long sa, const real *b, int ldb, long long sb, real beta,
                        real *c, int ldc, long long sc, int batch) {
  (void)ctx;
  for (int p = 0; p < batch; p++)
    C.gemm(C.ctx, ta, tb, m, n, k, alpha, a + p * sa, lda, b + p * sb, ldb, beta, c + p * sc, ldc);
}

#define TOL 1e-5

static void check(const int *lens, int n_seq, int H, int Hkv, int hd, int blocks) {
  lr_attn_shape sh = packed_shape(lens, n_seq, H, Hkv, hd, blocks);
  const int32_t *ss = sh.seq_start;
  const int64_t *ps = sh.probs_start;
  int T = sh.rows, group = H / Hkv;
  char shape[96];
  size_t nq = (size_t)T * H * hd, nk = (size_t)T * Hkv * hd, np = (size_t)ps[n_seq];
  float *q = rnd(nq, -1, 1), *k = rnd(nk, -1, 1), *v = rnd(nk, -1, 1), *dout = rnd(nq, -1, 1);
  float *out = rnd(nq, 0, 0), *probs = rnd(np, 0, 0), *dq = rnd(nq, 0, 0), *dk = rnd(nk, 0, 0),
        *dv = rnd(nk, 0, 0);
  /* What the products write starts as garbage: they must overwrite it. */
  float *s_got = rnd(np, -9, 9), *s_want = rnd(np, 0, 0), *o_got = rnd(nq, -9, 9),
        *dp_got = rnd(np, -9, 9), *dp_want = rnd(np, 0, 0), *ds = rnd(np, 0, 0),
        *dq_got = rnd(nq, -9, 9), *dk_got = rnd(nk, -9, 9), *dv_got = rnd(nk, -9, 9);
  snprintf(shape, sizeof shape, "%d seqs, T %d, H %d/%d, hd %d%s", n_seq, T, H, Hkv, hd,
           blocks ? ", blocks" : "");
  C.attention(C.ctx, out, probs, q, k, v, &sh);
  C.attention_backward(C.ctx, dq, dk, dv, dout, probs, q, k, v, &sh);
  /* The whole blocks the products form, and dS from dP as the CPU forms it. */
  for (int s = 0; s < n_seq; s++) {
    int L = lens[s];
    for (int h = 0; h < H; h++) {
      int g = h / group;
      for (int t = 0; t < L; t++) {
        size_t at = (size_t)ps[s] + ((size_t)h * L + t) * L;
        const float *qt = q + (size_t)(ss[s] + t) * H * hd + (size_t)h * hd,
                    *dot_ = dout + (size_t)(ss[s] + t) * H * hd + (size_t)h * hd;
        for (int u = 0; u < L; u++) {
          const float *ku = k + (size_t)(ss[s] + u) * Hkv * hd + (size_t)g * hd,
                      *vu = v + (size_t)(ss[s] + u) * Hkv * hd + (size_t)g * hd;
          double sc = 0, dp = 0;
          for (int e = 0; e < hd; e++) {
            sc += (double)qt[e] * ku[e];
            dp += (double)dot_[e] * vu[e];
          }
          s_want[at + u] = (float)(sc / sqrt((double)hd));
          dp_want[at + u] = (float)dp;
        }
        double rowdot = 0;
        for (int u = 0; u <= t; u++)
          rowdot += (double)probs[at + u] * dp_want[at + u];
        for (int u = 0; u < L; u++)
          ds[at + u] = u <= t ? (float)(probs[at + u] * (dp_want[at + u] - rowdot) / sqrt((double)hd))
                              : 0;
      }
    }
  }
  lr_attn_scores(&sh, cpu_batched, NULL, q, k, s_got);
  lr_attn_values(&sh, cpu_batched, NULL, probs, v, o_got);
  lr_attn_probs_grad(&sh, cpu_batched, NULL, dout, v, dp_got);
  lr_attn_input_grads(&sh, cpu_batched, NULL, ds, probs, q, k, dout, dq_got, dk_got, dv_got);
  struct { const char *what; const float *want, *got; size_t n; } cmp[] = {
      {"scores, whole blocks", s_want, s_got, np},
      {"O = P V", out, o_got, nq},
      {"dP = dO V^T, whole blocks", dp_want, dp_got, np},
      {"dQ", dq, dq_got, nq},
      {"dK, summed over the group", dk, dk_got, nk},
      {"dV, summed over the group", dv, dv_got, nk},
  };
  for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
    double err = rel_err_f32(cmp[i].want, cmp[i].got, cmp[i].n);
    tap_ok(!isnan(err) && err <= TOL, "%s: %s as the CPU backend's attention (%.1e)", shape,
           cmp[i].what, err);
  }
  packed_shape_free(&sh);
  void *all[] = {q, k, v, dout, out, probs, dq, dk, dv, s_got, s_want, o_got,
                 dp_got, dp_want, ds, dq_got, dk_got, dv_got};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    free(all[i]);
}

int main(void) {
  static const int one[] = {1}, mixed[] = {7, 1, 33, 130}, two[] = {64, 17};
  lr_cpu_kernels_init(&C, &cpu_ctx);
  check(one, 1, 4, 2, 16, 0);
  check(mixed, 4, 9, 3, 64, 0);
  check(mixed, 4, 8, 8, 32, 1);
  check(mixed, 4, 8, 2, 64, 1);
  check(two, 2, 12, 3, 24, 0);
  lr_cpu_ctx_release(&cpu_ctx);
  return tap_done();
}
