/*
 * attention-products.c: attention's products as strided batches (attention-products.h).
 */
#include "compat.h"

#include <math.h>

#include "attention-products.h"

/* Where sequence s and query head j of each group start in Q-like (Q, O, dO, dQ), K-like (K, V,
 * dK, dV) and probs-like (probs, ds) arrays, and the strides from one group to the next. */
typedef struct attn_seq {
  int L, group, G, hd, qs, kvs;
  size_t q0, kv0, p0;
  long long q_step, p_step;
} attn_seq;

static attn_seq attn_seq_at(const lr_attn_shape *sh, int s) {
  attn_seq a;
  int row = sh->host_seq_start[s];
  a.L = sh->host_seq_start[s + 1] - row;
  a.G = sh->n_kv_heads;
  a.group = sh->n_heads / sh->n_kv_heads;
  a.hd = sh->head_dim;
  a.qs = sh->n_heads * a.hd;
  a.kvs = sh->n_kv_heads * a.hd;
  a.q0 = (size_t)row * (size_t)a.qs;
  a.kv0 = (size_t)row * (size_t)a.kvs;
  a.p0 = (size_t)sh->host_probs_start[s];
  a.q_step = (long long)a.group * a.hd;
  a.p_step = (long long)a.group * a.L * a.L;
  return a;
}

/* Query head j of every group, in a Q-like array and a probs-like one. */
static size_t q_at(const attn_seq *a, int j) { return a->q0 + (size_t)j * (size_t)a->hd; }
static size_t p_at(const attn_seq *a, int j) { return a->p0 + (size_t)j * a->L * a->L; }

/* dst_h = alpha X_h Y_g^T for X Q-like and Y K-like: the scores, and dP. */
static void per_head_outer(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, real alpha,
                           const real *x, const real *y, real *dst) {
  for (int s = 0; s < sh->n_seq; s++) {
    attn_seq a = attn_seq_at(sh, s);
    for (int j = 0; j < a.group; j++)
      gemm(ctx, 0, 1, a.L, a.L, a.hd, alpha, x + q_at(&a, j), a.qs, a.q_step, y + a.kv0, a.kvs,
           a.hd, 0, dst + p_at(&a, j), a.L, a.p_step, a.G);
  }
}

void lr_attn_scores(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *q,
                    const real *k, real *probs) {
  per_head_outer(sh, gemm, ctx, (real)(1.0 / sqrt((double)sh->head_dim)), q, k, probs);
}

void lr_attn_probs_grad(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx,
                        const real *dout, const real *v, real *ds) {
  per_head_outer(sh, gemm, ctx, 1, dout, v, ds);
}

void lr_attn_values(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *probs,
                    const real *v, real *out) {
  for (int s = 0; s < sh->n_seq; s++) {
    attn_seq a = attn_seq_at(sh, s);
    for (int j = 0; j < a.group; j++)
      gemm(ctx, 0, 0, a.L, a.hd, a.L, 1, probs + p_at(&a, j), a.L, a.p_step, v + a.kv0, a.kvs,
           a.hd, 0, out + q_at(&a, j), a.qs, a.q_step, a.G);
  }
}

void lr_attn_input_grads(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *ds,
                         const real *probs, const real *q, const real *k, const real *dout,
                         real *dq, real *dk, real *dv) {
  for (int s = 0; s < sh->n_seq; s++) {
    attn_seq a = attn_seq_at(sh, s);
    for (int j = 0; j < a.group; j++) {
      real beta = j ? 1 : 0; /* the group's query heads add into one dK, dV */
      gemm(ctx, 0, 0, a.L, a.hd, a.L, 1, ds + p_at(&a, j), a.L, a.p_step, k + a.kv0, a.kvs, a.hd,
           0, dq + q_at(&a, j), a.qs, a.q_step, a.G);
      gemm(ctx, 1, 0, a.L, a.hd, a.L, 1, ds + p_at(&a, j), a.L, a.p_step, q + q_at(&a, j), a.qs,
           a.q_step, beta, dk + a.kv0, a.kvs, a.hd, a.G);
      gemm(ctx, 1, 0, a.L, a.hd, a.L, 1, probs + p_at(&a, j), a.L, a.p_step, dout + q_at(&a, j),
           a.qs, a.q_step, beta, dv + a.kv0, a.kvs, a.hd, a.G);
    }
  }
}
