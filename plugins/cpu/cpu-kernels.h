/*
 * cpu-kernels.h: the CPU implementation of the kernel table.
 */
#ifndef LORENS_CPU_KERNELS_H
#define LORENS_CPU_KERNELS_H

#include <stdint.h>

#include "cpu-bf16.h"
#include "kernels.h"

typedef struct lr_cpu_ctx {
  int n_threads; /* OpenMP threads for every parallel loop */
  /* Scratch for the rows of a frozen matrix in a stored type (F16, BF16, quant blocks), expanded
   * to reals a tile at a time for a GEMM; sized by the `frozen` kernel at open. */
  real *tile;
  size_t tile_cap; /* reals */
  /* Precision bf16 (set before lr_cpu_kernels_init; the float build only): the frozen products
   * round their inputs to bf16 and multiply through oneDNN with fp32 accumulation, and the
   * gate and up activations are kept in bf16 (kernels.h: swiglu_keep). */
  lr_bf16 *bf16;
  /* Bytes that packing layer matrices for oneDNN may still take: those within it are rounded
   * and packed once at open instead of expanded and repacked in every product (set by the
   * backend; 0: none). */
  size_t bf16_hold_left;
  /* Layer matrices packed, and left unpacked for want of budget with what packing them would
   * take (the backend tells the host). */
  int bf16_packed, bf16_unpacked;
  size_t bf16_unpacked_bytes;
  /* The memory of packed frozen matrices (cpu-kernels.c): [0] the forward layouts, [1] the
   * input gradients'. */
  struct pack_chunk *packs[2];
  uint16_t *tile16, *x16; /* a tile of frozen rows and the product's input, rounded */
  size_t tile16_cap, x16_cap;
  char error[256];        /* a failed bf16 product or scratch, reported by the next sync */
  /* Attention's products through CBLAS even where the AVX-512 kernels could run them (a
   * comparison for tests and benchmarks: LORENS_CPU_ATTENTION=blas). */
  int attention_blas;
  /* RoPE's cosines and sines, [rope_positions][rope_half][2], and a copy of the inv_freq
   * [rope_half] they were made from. */
  real *rope, *rope_freq;
  int rope_half, rope_positions;
} lr_cpu_ctx;

/* Fills k with the CPU kernels; ctx must outlive k. */
void lr_cpu_kernels_init(lr_kernels *k, lr_cpu_ctx *ctx);

/* Frees what the kernels allocated in ctx (the scratch, not bf16, which the caller owns); ctx can
 * be used again afterwards. */
void lr_cpu_ctx_release(lr_cpu_ctx *ctx);

/* Whether the CPU kernels multiply frozen matrices of this dtype as stored (takes_dtype). */
int lr_cpu_takes_dtype(int32_t dtype);

#endif /* LORENS_CPU_KERNELS_H */
