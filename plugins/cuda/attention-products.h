/*
 * attention-products.h: the matrix products of attention over packed sequences (lr_attn_shape)
 * as strided batches of equal products, the form cuBLAS multiplies fastest, one panel of query
 * rows at a time so that no [L, L] block per head is ever kept whole for long sequences.
 *
 * A panel is query rows r0 .. r0 + rows - 1 of one sequence against its keys 0 .. keys - 1,
 * keys = r0 + rows: a causal row sees no later key, so a sequence cut into panels also skips
 * most of the masked triangle.  Its scores (and softmax rows, and their gradients) for query
 * head h are the [rows, keys] block at h * rows * keys of a panel buffer.
 *
 * Per panel and query head h = g * group + j (g its key/value head) the products are the CPU
 * backend's: S_h = scale Q_h K_g^T and O_h = P_h V_g forwards; dP_h = dO_h V_g^T,
 * dQ_h = dS_h K_g, dK_g += dS_h^T Q_h and dV_g += P_h^T dO_h backwards.  For a fixed j the
 * heads g * group + j of every g sit a fixed stride apart in Q (group * hd columns), in K and V
 * (hd) and in the panel (group * rows * keys), so each (panel, j) is one batch over g.
 *
 * These functions only lay the products out: they hand `gemm` pointers offset into the arrays
 * they are given, which may be device memory, and read only the shape's host arrays.  Plain C,
 * so that a test on a machine without a GPU checks the layout with a CPU gemm
 * (tests/backend/test-attention-products.c).
 */
#ifndef LORENS_ATTENTION_PRODUCTS_H
#define LORENS_ATTENTION_PRODUCTS_H

#include <stddef.h>

#include "kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* kernels.h's gemm (row-major C = alpha op(A) op(B) + beta C) over `batch` problems, problem p
 * reading a + p * stride_a and b + p * stride_b and writing c + p * stride_c. */
typedef void (*lr_batched_gemm)(void *ctx, int ta, int tb, int m, int n, int k, real alpha,
                                const real *a, int lda, long long stride_a, const real *b,
                                int ldb, long long stride_b, real beta, real *c, int ldc,
                                long long stride_c, int batch);

typedef struct lr_attn_panel {
  int s;     /* the sequence */
  int start; /* its first row among the packed rows */
  int r0;    /* the panel's first query row, within the sequence */
  int rows;  /* query rows */
  int keys;  /* keys 0 .. keys - 1 of the sequence: r0 + rows */
} lr_attn_panel;

/* Query rows per panel for sequences of the shape, so that a panel's buffer (n_heads * rows *
 * keys reals) stays within budget reals where a sequence does not fit whole: the whole longest
 * sequence when it fits, else a multiple of 64 rows (at least one row). */
int lr_attn_panel_rows(const lr_attn_shape *sh, size_t budget);
/* Reals a panel buffer needs for panels of `rows` rows (the largest panel of the shape). */
size_t lr_attn_panel_reals(const lr_attn_shape *sh, int rows);
/* The panel of sequence s starting at query row r0, of up to `rows` rows. */
lr_attn_panel lr_attn_panel_at(const lr_attn_shape *sh, int s, int r0, int rows);

/* p = scale Q K^T over the panel, every head's whole [rows, keys] block. */
void lr_attn_panel_scores(const lr_attn_shape *sh, const lr_attn_panel *pn, lr_batched_gemm gemm,
                          void *ctx, const real *q, const real *k, real *p);
/* The panel's rows of out = P V. */
void lr_attn_panel_values(const lr_attn_shape *sh, const lr_attn_panel *pn, lr_batched_gemm gemm,
                          void *ctx, const real *p, const real *v, real *out);
/* ds = dO V^T over the panel (laid out as p): the softmax's output gradient, before its
 * backward. */
void lr_attn_panel_probs_grad(const lr_attn_shape *sh, const lr_attn_panel *pn,
                              lr_batched_gemm gemm, void *ctx, const real *dout, const real *v,
                              real *ds);
/* From the panel's scores gradient ds and softmax rows p: its rows of dq = dS K (overwritten),
 * and dk += dS^T Q, dv += P^T dO over its keys (the caller zeroes dk and dv before the first
 * panel). */
void lr_attn_panel_input_grads(const lr_attn_shape *sh, const lr_attn_panel *pn,
                               lr_batched_gemm gemm, void *ctx, const real *ds, const real *p,
                               const real *q, const real *k, const real *dout, real *dq, real *dk,
                               real *dv);

#ifdef __cplusplus
}
#endif

#endif /* LORENS_ATTENTION_PRODUCTS_H */
