/*
 * test-attention-products.c: the layout of the CUDA backend's attention products
 * (plugins/cuda/attention-products.c) checked on the CPU, where no GPU is needed: the same
 * functions drive a strided-batched gemm made of the CPU kernel table's gemm, a panel at a time,
 * with the CUDA kernels' steps between the products written here in C (the masked softmax
 * keeping each row's log-sum-exp, the softmax rows again from it, dS = P (dP - rowsum(P dP))
 * scale), and the results must equal what the CPU backend's attention computes.  Shapes with
 * several sequences of odd lengths, grouped-query heads (groups of 3 and 4, and none),
 * block-causal packing; each with the sequences whole and cut into panels (of 64 rows, of a few
 * rows, of one row), so that panels with their own key ranges add into dK and dV.
 *
 * Agreement within 1e-5 relative (normwise): the same fp32 products, summed in another order.
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

/* Whether row t of the panel's sequence sees key u (lr_attn_shape's rule). */
static int sees(const lr_attn_shape *sh, const lr_attn_panel *pn, int t, int u) {
  if (u > t)
    return 0;
  if (sh->block_start == NULL || u < sh->prefix[pn->s])
    return 1;
  return u >= sh->block_start[pn->start + t];
}

/* The CUDA kernels' steps between the products, row by row of a panel, for every head.
 * step 0: softmax keeping lse; 1: the softmax rows from lse; 2: dS from dP (in ds) and P. */
static void panel_rows_step(const lr_attn_shape *sh, const lr_attn_panel *pn, int step, real *p,
                            real *lse, real *ds) {
  double scale = 1 / sqrt((double)sh->head_dim);
  for (int h = 0; h < sh->n_heads; h++)
    for (int i = 0; i < pn->rows; i++) {
      int t = pn->r0 + i;
      real *pr = p + ((size_t)h * pn->rows + i) * pn->keys, *l = lse + (size_t)(pn->start + t) *
                                                                        sh->n_heads + h;
      real *dr = ds ? ds + ((size_t)h * pn->rows + i) * pn->keys : NULL;
      double mx = -INFINITY, sum = 0, rowdot = 0;
      if (step == 0) {
        for (int u = 0; u < pn->keys; u++)
          if (sees(sh, pn, t, u) && pr[u] > mx)
            mx = pr[u];
        for (int u = 0; u < pn->keys; u++)
          sum += pr[u] = sees(sh, pn, t, u) ? (real)exp(pr[u] - mx) : 0;
        for (int u = 0; u < pn->keys; u++)
          pr[u] = (real)(pr[u] / sum);
        *l = (real)(mx + log(sum));
      } else if (step == 1) {
        for (int u = 0; u < pn->keys; u++)
          pr[u] = sees(sh, pn, t, u) ? (real)exp(pr[u] - *l) : 0;
      } else {
        for (int u = 0; u < pn->keys; u++)
          rowdot += (double)pr[u] * dr[u];
        for (int u = 0; u < pn->keys; u++)
          dr[u] = (real)(pr[u] * (dr[u] - rowdot) * scale);
      }
    }
}

#define TOL 1e-5

/* Attention forward and backward a panel at a time, as the CUDA backend runs it. */
static void by_panels(const lr_attn_shape *sh, int rows, const real *q, const real *k,
                      const real *v, const real *dout, real *out, real *lse, real *dq, real *dk,
                      real *dv) {
  size_t each = lr_attn_panel_reals(sh, rows), nk;
  real *p = rnd(each, -9, 9), *ds = rnd(each, -9, 9);
  nk = (size_t)sh->rows * sh->n_kv_heads * sh->head_dim;
  for (int s = 0; s < sh->n_seq; s++)
    for (int r0 = 0; r0 < sh->host_seq_start[s + 1] - sh->host_seq_start[s]; r0 += rows) {
      lr_attn_panel pn = lr_attn_panel_at(sh, s, r0, rows);
      lr_attn_panel_scores(sh, &pn, cpu_batched, NULL, q, k, p);
      panel_rows_step(sh, &pn, 0, p, lse, NULL);
      lr_attn_panel_values(sh, &pn, cpu_batched, NULL, p, v, out);
    }
  memset(dk, 0, nk * sizeof *dk);
  memset(dv, 0, nk * sizeof *dv);
  for (int s = 0; s < sh->n_seq; s++)
    for (int r0 = 0; r0 < sh->host_seq_start[s + 1] - sh->host_seq_start[s]; r0 += rows) {
      lr_attn_panel pn = lr_attn_panel_at(sh, s, r0, rows);
      memset(p, 0xff, each * sizeof *p); /* NaN: nothing of an earlier panel is read */
      lr_attn_panel_scores(sh, &pn, cpu_batched, NULL, q, k, p);
      panel_rows_step(sh, &pn, 1, p, lse, NULL);
      lr_attn_panel_probs_grad(sh, &pn, cpu_batched, NULL, dout, v, ds);
      panel_rows_step(sh, &pn, 2, p, lse, ds);
      lr_attn_panel_input_grads(sh, &pn, cpu_batched, NULL, ds, p, q, k, dout, dq, dk, dv);
    }
  free(p);
  free(ds);
}

static void check(const int *lens, int n_seq, int H, int Hkv, int hd, int blocks) {
  lr_attn_shape sh = packed_shape(lens, n_seq, H, Hkv, hd, blocks);
  int T = sh.rows, max_len = 0;
  size_t nq = (size_t)T * H * hd, nk = (size_t)T * Hkv * hd, nl = (size_t)T * H;
  float *q = rnd(nq, -1, 1), *k = rnd(nk, -1, 1), *v = rnd(nk, -1, 1), *dout = rnd(nq, -1, 1);
  float *out = rnd(nq, 0, 0), *lse = rnd(nl, 0, 0), *dq = rnd(nq, 0, 0), *dk = rnd(nk, 0, 0),
        *dv = rnd(nk, 0, 0);
  for (int s = 0; s < n_seq; s++)
    max_len = lens[s] > max_len ? lens[s] : max_len;
  C.attention(C.ctx, out, lse, q, k, v, &sh);
  C.attention_backward(C.ctx, dq, dk, dv, dout, lse, q, k, v, &sh);
  /* Budgets for: whole sequences, panels of 64 rows, of 5 rows, of one row. */
  size_t budgets[] = {(size_t)H * max_len * max_len, (size_t)H * max_len * 64,
                      (size_t)H * max_len * 5, 1};
  for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
    int rows = lr_attn_panel_rows(&sh, budgets[b]);
    char shape[128];
    snprintf(shape, sizeof shape, "%d seqs, T %d, H %d/%d, hd %d%s, panels of %d rows", n_seq,
             T, H, Hkv, hd, blocks ? ", blocks" : "", rows);
    if (b == 0)
      tap_ok(rows == max_len, "%s: whole sequences fit their budget", shape);
    else
      tap_ok(lr_attn_panel_reals(&sh, rows) <= budgets[b] || rows == 1,
             "%s: a panel (%zu reals) within its budget (%zu)", shape,
             lr_attn_panel_reals(&sh, rows), budgets[b]);
    /* What the products write starts as garbage: they must overwrite it. */
    float *o_got = rnd(nq, -9, 9), *l_got = rnd(nl, -9, 9), *dq_got = rnd(nq, -9, 9),
          *dk_got = rnd(nk, -9, 9), *dv_got = rnd(nk, -9, 9);
    by_panels(&sh, rows, q, k, v, dout, o_got, l_got, dq_got, dk_got, dv_got);
    struct { const char *what; const float *want, *got; size_t n; } cmp[] = {
        {"O = P V", out, o_got, nq},
        {"log-sum-exp", lse, l_got, nl},
        {"dQ", dq, dq_got, nq},
        {"dK, summed over the group", dk, dk_got, nk},
        {"dV, summed over the group", dv, dv_got, nk},
    };
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
      double err = rel_err_f32(cmp[i].want, cmp[i].got, cmp[i].n);
      tap_ok(!isnan(err) && err <= TOL, "%s: %s as the CPU backend's attention (%.1e)", shape,
             cmp[i].what, err);
    }
    void *got[] = {o_got, l_got, dq_got, dk_got, dv_got};
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
      free(got[i]);
  }
  packed_shape_free(&sh);
  void *all[] = {q, k, v, dout, out, lse, dq, dk, dv};
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
