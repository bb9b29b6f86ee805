/*
 * cpu-bf16.h: bf16 matrix products with fp32 accumulation on the CPU, through oneDNN's matmul
 * (its brgemm kernels use AVX512_BF16 or AMX), and the fp32 -> bf16 rounding that feeds them.
 *
 * Only the products with the frozen base use it (cpu-kernels.c, runtime precision bf16): LoRA
 * matrices, their gradients, norms, softmax and the loss stay fp32.  Built only when configure
 * found oneDNN (HAVE_ONEDNN); without it lr_bf16_available says why and the backend runs fp32.
 */
#ifndef LORENS_CPU_BF16_H
#define LORENS_CPU_BF16_H

#include <stddef.h>
#include <stdint.h>

typedef struct lr_bf16 lr_bf16;

/* Non-zero when this build and this CPU multiply bf16 natively; otherwise 0 with the reason in
 * why ("built without oneDNN", "the CPU lacks AVX512_BF16 ..."). */
int lr_bf16_available(char *why, size_t len);

/* A oneDNN engine and stream; NULL with a message when oneDNN cannot start. */
lr_bf16 *lr_bf16_open(char *msg, size_t len);
void lr_bf16_close(lr_bf16 *b);

/*
 * c [m, n] = alpha * a [m, k] . op(b) + beta * c, row-major, a and b bf16, c fp32 with fp32
 * accumulation; op(b) is b [k, n], or b [n, k] transposed when tb.  Runs on n_threads OpenMP
 * threads.  Returns 0, or -1 with oneDNN's words in msg.
 */
int lr_bf16_gemm(lr_bf16 *bf, int n_threads, int tb, int m, int n, int k, float alpha,
                 const uint16_t *a, int lda, const uint16_t *b, int ldb, float beta, float *c,
                 int ldc, char *msg, size_t len);

/*
 * A frozen matrix W [rows, cols] packed once in the layouts oneDNN's matmul reads it in: one for
 * y = x W^T and one for dx = dy W.  A product with a plain matrix repacks its rows into that
 * layout on every call (about 4% of a SmolLM2 step); with the packed copy no call does.  The
 * layouts differ, and each has memory of its own that the caller gives (lr_bf16_pack_bytes:
 * bytes[0] for the forward layout after a header, bytes[1] for the gradient's, both 64-byte
 * aligned, outliving every product): a session fills the gradient's at its first input gradient,
 * so that one that only scores never touches that memory.
 */
typedef struct lr_bf16_packed lr_bf16_packed;
/* 0, or -1 when oneDNN cannot say. */
int lr_bf16_pack_bytes(lr_bf16 *bf, int rows, int cols, size_t bytes[2]);
/* Lays out the packing of W in head and grad (of lr_bf16_pack_bytes's sizes), with neither
 * layout filled yet; NULL with oneDNN's words. */
lr_bf16_packed *lr_bf16_pack_plan(lr_bf16 *bf, int rows, int cols, void *head, void *grad,
                                  char *msg, size_t len);
/* Whether the layout of the forward product (trans) or of the input gradient is filled. */
int lr_bf16_packed_has(const lr_bf16_packed *p, int trans);
/* Fills that layout from w [rows, cols], row-major bf16; 0, or -1 with oneDNN's words. */
int lr_bf16_pack(lr_bf16 *bf, int n_threads, lr_bf16_packed *p, int trans, const uint16_t *w,
                 char *msg, size_t len);
/* lr_bf16_gemm with b a packed W whose layout for the product is filled: trans, c [m, rows] =
 * alpha a [m, cols] W^T + beta c; else c [m, cols] = alpha a [m, rows] W + beta c. */
int lr_bf16_gemm_packed(lr_bf16 *bf, int n_threads, int trans, int m, float alpha,
                        const uint16_t *a, int lda, const lr_bf16_packed *w, float beta, float *c,
                        int ldc, char *msg, size_t len);

/* dst[i] = src[i] rounded to the nearest bf16, ties to even (NaN stays NaN).  Vectorised with
 * AVX512_BF16 where lr_bf16_available said yes (that instruction flushes subnormals to zero). */
void lr_bf16_round(const float *src, uint16_t *dst, size_t n);

#endif /* LORENS_CPU_BF16_H */
