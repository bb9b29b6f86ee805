/*
 * kernels.h: the table of kernels and memory operations a backend provides to the model driver.
 *
 * The driver (llama-lora.c) knows the structure of a LLaMA-family decoder with LoRA adapters and
 * sequences its forward and backward passes; it never touches tensor memory itself, because on a
 * GPU backend that memory is on the device.  Everything it needs done to tensors is a call through
 * this table.  The CPU backend implements it with CBLAS and OpenMP (plugins/cpu/cpu-kernels.c); a
 * GPU backend implements the same table with its own kernels, and each of its kernels can be
 * tested against the CPU twin on random inputs.
 *
 * Conventions: matrices are row-major; `T` is a number of token rows; pointers marked dev are in
 * the backend's memory; integer index arrays (tokens, positions) are dev memory too, uploaded by
 * the driver.  Math kernels do not fail: errors of an asynchronous device surface at the next
 * download or sync, which do.
 */
#ifndef LORENS_KERNELS_H
#define LORENS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "real.h"

/* The packed sequences attention runs over.  Sequence s is rows seq_start[s] .. seq_start[s+1]
 * (length L_s).  Attention is causal within a sequence, or block-causal when block_start is set:
 * a shared prefix (a prompt) followed by blocks (its choices) that each see the prefix and
 * themselves.  Counting rows from the start of their sequence, row t then sees keys
 * 0 .. prefix[s] - 1 and block_start[t] .. t (rows of the prefix have block_start 0, so they see
 * every row before them); the keys it does not see get probability 0. */
typedef struct lr_attn_shape {
  int n_seq;
  const int32_t *seq_start; /* dev, n_seq + 1 */
  int n_heads, n_kv_heads, head_dim;
  const int32_t *block_start; /* dev, one per row, within its sequence; NULL: causal */
  const int32_t *prefix;      /* dev, n_seq: rows of the shared prefix (with block_start) */
  /* Host copies of what a device backend needs to size its launches without reading its own
   * memory back: seq_start[n_seq], and the whole array (a GPU backend runs its products per
   * sequence). */
  int rows;
  const int32_t *host_seq_start; /* host, n_seq + 1 */
} lr_attn_shape;

/* The longest sequence of the shape, from its host array. */
static inline int lr_attn_longest(const lr_attn_shape *sh) {
  int most = 0;
  for (int s = 0; s < sh->n_seq; s++)
    if (sh->host_seq_start[s + 1] - sh->host_seq_start[s] > most)
      most = sh->host_seq_start[s + 1] - sh->host_seq_start[s];
  return most;
}

/* A frozen matrix of the base model [rows, cols] as the backend keeps it: fp32 reals that gemm
 * reads directly, or rows in the tensor's stored type (F16, BF16, ggml quant blocks) that the
 * matrix kernels below expand a tile at a time, or a layout of the backend's own (packed) that
 * its products read instead of data.  The driver never reads `data` or `packed`. */
typedef struct lr_frozen {
  const void *data; /* dev */
  int32_t dtype;    /* lorens_dtype or LORENS_DTYPE_GGML(t); real for LORENS_DTYPE_F32 */
  int rows, cols;
  size_t row_bytes;
  void *packed;       /* NULL, or the backend's own copy (CPU bf16: cpu-bf16.h) */
  size_t held_bytes;  /* memory the backend took for it: a copy, a packing (0: none) */
} lr_frozen;

typedef struct lr_kernels {
  void *ctx;

  /* ---- memory: return 0 on success, non-zero with a message on failure -------------------- */
  void *(*alloc)(void *ctx, size_t bytes); /* zero-filled; NULL when out of memory */
  void (*free)(void *ctx, void *p);
  int (*upload)(void *ctx, void *dst_dev, const void *src_host, size_t bytes);
  int (*download)(void *ctx, void *dst_host, const void *src_dev, size_t bytes);
  void (*zero)(void *ctx, void *p_dev, size_t bytes);
  void (*copy)(void *ctx, void *dst_dev, const void *src_dev, size_t bytes); /* no overlap */
  /* Waits for queued work; returns non-zero with a message if any of it failed. */
  int (*sync)(void *ctx, char *msg, size_t msg_len);
  /* A frozen base tensor as n reals in backend memory.  May return the host data itself when no
   * conversion or copy is needed (then *owned is NULL); otherwise *owned must be freed. */
  const real *(*weights)(void *ctx, const lorens_tensor *t, size_t n, void **owned);
  /* A frozen base matrix as the kernels below read it: in its stored type where the backend
   * multiplies that type (takes_dtype), else converted.  table: a vocabulary table (embedding,
   * head), read a few rows at a time as often as whole; a layer's matrix otherwise, which every
   * product reads whole.  *owned as for weights (a backend may also keep what it made in memory
   * of its own); out->held_bytes says how much it took.  Returns 0, or non-zero when out of
   * memory. */
  int (*frozen)(void *ctx, const lorens_tensor *t, int table, lr_frozen *out, void **owned);

  /* ---- linear algebra ---------------------------------------------------------------------- */
  /* C[m,n] = alpha * op(A) op(B) + beta * C, op = transpose when ta/tb (BLAS semantics). */
  void (*gemm)(void *ctx, int ta, int tb, int m, int n, int k, real alpha, const real *a, int lda,
               const real *b, int ldb, real beta, real *c, int ldc);
  /* Products with a frozen matrix W [rows, cols], x and y row-major with leading dimensions:
   * trans: y[T, rows] = alpha * x[T, cols] W^T + beta * y (a linear layer's forward);
   * else:  y[T, cols] = alpha * x[T, rows] W + beta * y (its input gradient). */
  void (*gemm_frozen)(void *ctx, int trans, int T, real alpha, const real *x, int ldx,
                      const lr_frozen *w, real beta, real *y, int ldy);
  /* y[T,n] += b[n] for every row. */
  void (*add_bias)(void *ctx, real *y, const real *b, int rows, int n);
  /* y[i] += a * x[i] */
  void (*axpy)(void *ctx, size_t n, real a, const real *x, real *y);
  /* returns sum of x[i]^2 (a reduction the host needs: synchronous) */
  double (*sumsq)(void *ctx, const real *x, size_t n);
  void (*scale)(void *ctx, real *x, size_t n, real a);

  /* ---- layers ------------------------------------------------------------------------------ */
  /* out[T,dim] = rows of the embedding table for tokens[T]. */
  void (*embed)(void *ctx, real *out, const lr_frozen *table, const int32_t *tokens, int rows,
                int dim);
  /* out = x / rms(x) * w per row; rstd[T] keeps 1/rms for the backward. */
  void (*rmsnorm)(void *ctx, real *out, real *rstd, const real *x, const real *w, int rows,
                  int dim, real eps);
  /* dx += d(rmsnorm)/dx applied to dout. */
  void (*rmsnorm_backward)(void *ctx, real *dx, const real *dout, const real *x, const real *w,
                           const real *rstd, int rows, int dim);
  /* dw[j] += sum over rows of dout[r,j] * x[r,j] * rstd[r]: the norm weight's gradient (full
   * training only). */
  void (*rmsnorm_weight_grad)(void *ctx, real *dw, const real *dout, const real *x,
                              const real *rstd, int rows, int dim);
  /* Rotates x[T, n_heads*head_dim] in place by position (rotate_half layout); inverse rotates
   * (the backward of a rotation is its inverse).  inv_freq[head_dim/2] holds the frequencies. */
  void (*rope)(void *ctx, real *x, const int32_t *pos, const real *inv_freq, int rows, int n_heads,
               int head_dim, int inverse);
  /* Causal (or block-causal, lr_attn_shape) grouped-query attention per sequence, scaled by
   * 1/sqrt(head_dim).  q[T, H*hd], k, v [T, Hkv*hd], out[T, H*hd]; query head h reads key/value
   * head h / (H / Hkv).  lse[T, H] keeps, for each row and head, the log of its softmax's
   * denominator (the log-sum-exp of the scaled scores it sees), so that the backward rebuilds the
   * softmax rows as exp(score - lse) without anyone keeping [L, L] blocks between the passes. */
  void (*attention)(void *ctx, real *out, real *lse, const real *q, const real *k,
                    const real *v, const lr_attn_shape *shape);
  /* dq, dk, dv (all overwritten) from dout, with the forward's lse. */
  void (*attention_backward)(void *ctx, real *dq, real *dk, real *dv, const real *dout,
                             const real *lse, const real *q, const real *k, const real *v,
                             const lr_attn_shape *shape);
  /* a = silu(g) * u elementwise. */
  void (*swiglu)(void *ctx, real *a, const real *g, const real *u, size_t n);
  /* dg, du (overwritten) from da; dg may be da itself (in place), du may not. */
  void (*swiglu_backward)(void *ctx, real *dg, real *du, const real *da, const real *g,
                          const real *u, size_t n);
  /* Optional (NULL: g and u are kept in reals): in precision bf16, the gate and up activations
   * kept for the backward as bf16, as the products that read their gradients round them anyway.
   * swiglu_keep is swiglu (a may be g) that also rounds g and u into g16, u16; swiglu16 and
   * swiglu16_backward are swiglu and its backward from those. */
  void (*swiglu_keep)(void *ctx, real *a, uint16_t *g16, uint16_t *u16, const real *g,
                      const real *u, size_t n);
  void (*swiglu16)(void *ctx, real *a, const uint16_t *g16, const uint16_t *u16, size_t n);
  void (*swiglu16_backward)(void *ctx, real *dg, real *du, const real *da, const uint16_t *g16,
                            const uint16_t *u16, size_t n);
  /* out[T,n] = x * keep / (1 - p) with masks from lorens_dropout_keep(seed, step, site,
   * token_index[t] * n + j, p). */
  void (*dropout)(void *ctx, real *out, const real *x, const int64_t *token_index, int rows, int n,
                  uint64_t seed, uint64_t step, uint32_t site, real p);
  /* out[i] = x[rows[i]] (n rows of width dim); and its backward, dx[rows[i]] += dout[i]. */
  void (*gather_rows)(void *ctx, real *out, const real *x, const int32_t *rows, int n, int dim);
  void (*scatter_add_rows)(void *ctx, real *dx, const real *dout, const int32_t *rows, int n,
                           int dim);
  /* out[i, c] = dot(x[i], table[ids[i*stride + c]]) for c < count[i]; the choice logits. */
  void (*gather_logits)(void *ctx, real *out, const real *x, const lr_frozen *table,
                        const int32_t *ids, const uint32_t *count, int rows, int stride, int dim);
  /* dx[i] += sum_c dlogits[i,c] * table[ids[i,c]] (the backward of gather_logits w.r.t. x). */
  void (*gather_logits_backward)(void *ctx, real *dx, const real *dlogits,
                                 const lr_frozen *table, const int32_t *ids, const uint32_t *count,
                                 int rows, int stride, int dim);
  /* AdamW on n parameters: PyTorch's form (decay p by lr*wd, then the bias-corrected update). */
  void (*adamw)(void *ctx, real *p, const real *g, real *m, real *v, size_t n, real lr, real beta1,
                real beta2, real eps, real wd, int64_t step);
} lr_kernels;

#endif /* LORENS_KERNELS_H */
