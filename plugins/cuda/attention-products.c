/*
 * attention-products.c: attention's products as strided batches, a panel at a time
 * (attention-products.h).
 */
#include "compat.h"

#include <math.h>

#include "attention-products.h"

int lr_attn_panel_rows(const lr_attn_shape *sh, size_t budget) {
  int max_len = lr_attn_longest(sh);
  if (max_len == 0)
    return 1;
  size_t per_row = (size_t)sh->n_heads * (size_t)max_len; /* the last panel's keys are L */
  if (per_row * (size_t)max_len <= budget)
    return max_len;
  size_t rows = budget / per_row;
  if (rows >= 64)
    rows -= rows % 64;
  return rows ? (int)rows : 1;
}

size_t lr_attn_panel_reals(const lr_attn_shape *sh, int rows) {
  size_t most = 0;
  for (int s = 0; s < sh->n_seq; s++) {
    int L = sh->host_seq_start[s + 1] - sh->host_seq_start[s];
    for (int r0 = 0; r0 < L; r0 += rows) {
      lr_attn_panel pn = lr_attn_panel_at(sh, s, r0, rows);
      size_t n = (size_t)sh->n_heads * (size_t)pn.rows * (size_t)pn.keys;
      most = n > most ? n : most;
    }
  }
  return most;
}

lr_attn_panel lr_attn_panel_at(const lr_attn_shape *sh, int s, int r0, int rows) {
  lr_attn_panel pn;
  int L = sh->host_seq_start[s + 1] - sh->host_seq_start[s];
  pn.s = s;
  pn.start = sh->host_seq_start[s];
  pn.r0 = r0;
  pn.rows = L - r0 < rows ? L - r0 : rows;
  pn.keys = r0 + pn.rows;
  return pn;
}

/* Where query head j of every group starts in Q-like (Q, O, dO, dQ: the panel's rows), K-like
 * (K, V, dK, dV: the sequence's keys) and panel arrays, and the strides from group to group. */
typedef struct panel_at {
  int group, G, hd, qs, kvs;
  size_t kv0;
  long long q_step, p_step;
} panel_at;

static panel_at panel_place(const lr_attn_shape *sh, const lr_attn_panel *pn) {
  panel_at a;
  a.G = sh->n_kv_heads;
  a.group = sh->n_heads / sh->n_kv_heads;
  a.hd = sh->head_dim;
  a.qs = sh->n_heads * a.hd;
  a.kvs = sh->n_kv_heads * a.hd;
  a.kv0 = (size_t)pn->start * (size_t)a.kvs;
  a.q_step = (long long)a.group * a.hd;
  a.p_step = (long long)a.group * pn->rows * pn->keys;
  return a;
}

static size_t q_at(const lr_attn_panel *pn, const panel_at *a, int j) {
  return (size_t)(pn->start + pn->r0) * (size_t)a->qs + (size_t)j * (size_t)a->hd;
}

static size_t p_at(const lr_attn_panel *pn, int j) {
  return (size_t)j * (size_t)pn->rows * (size_t)pn->keys;
}

/* dst_h = alpha X_h Y_g^T for X Q-like and Y K-like: the scores, and dP. */
static void per_head_outer(const lr_attn_shape *sh, const lr_attn_panel *pn, lr_batched_gemm gemm,
                           void *ctx, real alpha, const real *x, const real *y, real *dst) {
  panel_at a = panel_place(sh, pn);
  for (int j = 0; j < a.group; j++)
    gemm(ctx, 0, 1, pn->rows, pn->keys, a.hd, alpha, x + q_at(pn, &a, j), a.qs, a.q_step,
         y + a.kv0, a.kvs, a.hd, 0, dst + p_at(pn, j), pn->keys, a.p_step, a.G);
}

void lr_attn_panel_scores(const lr_attn_shape *sh, const lr_attn_panel *pn, lr_batched_gemm gemm,
                          void *ctx, const real *q, const real *k, real *p) {
  per_head_outer(sh, pn, gemm, ctx, (real)(1.0 / sqrt((double)sh->head_dim)), q, k, p);
}

void lr_attn_panel_probs_grad(const lr_attn_shape *sh, const lr_attn_panel *pn,
                              lr_batched_gemm gemm, void *ctx, const real *dout, const real *v,
                              real *ds) {
  per_head_outer(sh, pn, gemm, ctx, 1, dout, v, ds);
}

void lr_attn_panel_values(const lr_attn_shape *sh, const lr_attn_panel *pn, lr_batched_gemm gemm,
                          void *ctx, const real *p, const real *v, real *out) {
  panel_at a = panel_place(sh, pn);
  for (int j = 0; j < a.group; j++)
    gemm(ctx, 0, 0, pn->rows, a.hd, pn->keys, 1, p + p_at(pn, j), pn->keys, a.p_step, v + a.kv0,
         a.kvs, a.hd, 0, out + q_at(pn, &a, j), a.qs, a.q_step, a.G);
}

void lr_attn_panel_input_grads(const lr_attn_shape *sh, const lr_attn_panel *pn,
                               lr_batched_gemm gemm, void *ctx, const real *ds, const real *p,
                               const real *q, const real *k, const real *dout, real *dq, real *dk,
                               real *dv) {
  panel_at a = panel_place(sh, pn);
  for (int j = 0; j < a.group; j++) {
    gemm(ctx, 0, 0, pn->rows, a.hd, pn->keys, 1, ds + p_at(pn, j), pn->keys, a.p_step, k + a.kv0,
         a.kvs, a.hd, 0, dq + q_at(pn, &a, j), a.qs, a.q_step, a.G);
    gemm(ctx, 1, 0, pn->keys, a.hd, pn->rows, 1, ds + p_at(pn, j), pn->keys, a.p_step,
         q + q_at(pn, &a, j), a.qs, a.q_step, 1, dk + a.kv0, a.kvs, a.hd, a.G);
    gemm(ctx, 1, 0, pn->keys, a.hd, pn->rows, 1, p + p_at(pn, j), pn->keys, a.p_step,
         dout + q_at(pn, &a, j), a.qs, a.q_step, 1, dv + a.kv0, a.kvs, a.hd, a.G);
  }
}
