/*
 * cpu-attention-avx512.h: the products of causal attention for one (sequence, head) in AVX-512,
 * for the float build on x86-64.
 *
 * Why not CBLAS: attention's products are small (L x L x head_dim per head, L a sequence's
 * length), strided (a head's columns inside rows of all heads) and triangular (a row sees only
 * the keys before it).  OpenBLAS computes the whole square and packs both operands on every call;
 * these kernels skip the blocks above the diagonal and read q, k, v in place, so on SmolLM2's
 * shape attention takes about two thirds of the time it took through sgemm (docs/precision.md).
 *
 * Every result is summed in one fixed order (over the reduction index, ascending), whatever the
 * thread count.
 */
#ifndef LORENS_CPU_ATTENTION_AVX512_H
#define LORENS_CPU_ATTENTION_AVX512_H

#include <stddef.h>

#if !defined(LR_REAL_DOUBLE) && defined(__x86_64__) && defined(__GNUC__)
#define LR_ATTN_AVX512 1

/* Whether these kernels can run heads of this size here: the CPU has AVX-512F and head_dim is a
 * multiple of 16 (one vector). */
int lr_cpu_attn_avx512_usable(int head_dim);

/* Floats of scratch lr_cpu_attn_scores needs for a sequence of len rows. */
size_t lr_cpu_attn_pack_floats(int len, int head_dim);

/* s[t, u] = alpha * dot(a[t], b[u]) over head_dim for every u <= t of a [len, len] row-major
 * block (row stride len); entries above the diagonal are left unspecified (the caller's softmax
 * or its backward overwrites them).  a and b are rows with strides lda and ldb; pack is scratch
 * of lr_cpu_attn_pack_floats floats. */
void lr_cpu_attn_scores(float *s, int len, const float *a, int lda, const float *b, int ldb,
                    int head_dim, float alpha, float *pack);

/* c[r, 0:head_dim] (+)= sum over x of A(r, x) * b[x, 0:head_dim] for r < len, where A(r, x) =
 * a[r * a_row + x * a_col] is triangular and x runs only where it may be non-zero: x <= r when
 * lower (P V and dS K: A is a block of softmax rows), x >= r otherwise (P^T dO and dS^T Q).
 * accumulate adds to c, else c is overwritten. */
void lr_cpu_attn_band(float *c, int ldc, int len, int head_dim, const float *a, ptrdiff_t a_row,
                  ptrdiff_t a_col, const float *b, int ldb, int lower, int accumulate);

/* The same products with their operands rounded to bf16 (to nearest even) and fp32 sums, for
 * sessions of precision bf16 (VDPBF16PS: twice the products per instruction): every product of
 * attention but the scores, which the softmax exponentiates (docs/precision.md).  Usable where
 * the CPU has AVX512_BF16 too. */
int lr_cpu_attn_bf16_usable(int head_dim);

/* Bytes of scratch the two functions below need for a sequence of len rows. */
size_t lr_cpu_attn_bf16_scratch_bytes(int len, int head_dim);

/* lr_cpu_attn_scores with a and b rounded to bf16. */
void lr_cpu_attn_scores_bf16(float *s, int len, const float *a, int lda, const float *b, int ldb,
                             int head_dim, float alpha, void *scratch);

/* lr_cpu_attn_band with A a [len, len] block m (row stride len), rounded to bf16 with b:
 * A(r, x) = m[r, x] (lower: softmax rows or their gradient) or, transposed, m[x, r]. */
void lr_cpu_attn_band_bf16(float *c, int ldc, int len, int head_dim, const float *m,
                           int transposed, const float *b, int ldb, int accumulate, void *scratch);
#endif

#endif /* LORENS_CPU_ATTENTION_AVX512_H */
