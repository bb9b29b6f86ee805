/*
 * attention-products.h: the matrix products of attention over packed sequences (lr_attn_shape)
 * as strided batches of equal products, the form cuBLAS multiplies fastest.
 *
 * Per sequence of length L and query head h = g * group + j (g its key/value head) they are the
 * CPU backend's products: S_h = scale Q_h K_g^T and O_h = P_h V_g forwards; dP_h = dO_h V_g^T,
 * dQ_h = dS_h K_g, dK_g = the sum over j of dS_h^T Q_h and dV_g = the sum of P_h^T dO_h
 * backwards.  For a fixed j the heads g * group + j of every g sit a fixed stride apart in Q
 * (group * hd columns), in K and V (hd) and in probs (group * L^2), so each (sequence, j) is one
 * batch over g.  Each product covers whole [L, L] blocks, the masked triangle too: the backend's
 * softmax between them zeroes what a row does not see.
 *
 * These functions only lay the products out: they hand `gemm` pointers offset into the arrays
 * they are given, which may be device memory, and read only the shape's host arrays.  Plain C,
 * so that a test on a machine without a GPU checks the layout with a CPU gemm
 * (tests/backend/test-attention-products.c).
 */
#ifndef LORENS_ATTENTION_PRODUCTS_H
#define LORENS_ATTENTION_PRODUCTS_H

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

/* probs = Q K^T / sqrt(head_dim), every head's whole [L, L] block (laid out as lr_attn_shape). */
void lr_attn_scores(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *q,
                    const real *k, real *probs);
/* out = P V. */
void lr_attn_values(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *probs,
                    const real *v, real *out);
/* ds = dO V^T (laid out as probs): the softmax's output gradient, before its backward. */
void lr_attn_probs_grad(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx,
                        const real *dout, const real *v, real *ds);
/* From the scores' gradient ds: dq = dS K, and dk = dS^T Q, dv = P^T dO summed over each
 * group's query heads (all three overwritten). */
void lr_attn_input_grads(const lr_attn_shape *sh, lr_batched_gemm gemm, void *ctx, const real *ds,
                         const real *probs, const real *q, const real *k, const real *dout,
                         real *dq, real *dk, real *dv);

#ifdef __cplusplus
}
#endif

#endif /* LORENS_ATTENTION_PRODUCTS_H */
