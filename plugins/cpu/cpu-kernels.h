/*
 * cpu-kernels.h: the CPU implementation of the kernel table.
 */
#ifndef LORENS_CPU_KERNELS_H
#define LORENS_CPU_KERNELS_H

#include "kernels.h"

typedef struct lr_cpu_ctx {
  int n_threads; /* OpenMP threads for every parallel loop */
} lr_cpu_ctx;

/* Fills k with the CPU kernels; ctx must outlive k. */
void lr_cpu_kernels_init(lr_kernels *k, lr_cpu_ctx *ctx);

#endif /* LORENS_CPU_KERNELS_H */
