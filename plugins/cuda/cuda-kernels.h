/*
 * cuda-kernels.h: the kernel table (plugins/common/kernels.h) on an NVIDIA GPU: CUDA kernels for
 * the layers, cuBLAS for the matrix products, everything queued on one stream per session.
 *
 * Kernels do not fail where they are called (kernels.h): a launch or cuBLAS error is kept in the
 * context, the first one only, and reported by the next sync or download with the device's own
 * words and the call that saw it (a fault inside a kernel shows at the next launch or sync, so the
 * name is that of the call that saw it, not always the kernel that faulted).  After such an error
 * the context's memory calls and syncs refuse further work, since a CUDA context that met a
 * sticky error (an illegal address, a trap) cannot be used again.
 */
#ifndef LORENS_CUDA_KERNELS_H
#define LORENS_CUDA_KERNELS_H

#include <stddef.h>

#include "kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lr_cuda_ctx {
  int device;
  void *stream; /* cudaStream_t */
  void *blas;   /* cublasHandle_t, bound to stream */
  /* The first error met since the context was made: 0 or a cudaError_t / cuBLAS status, with
   * what met it, in words. */
  int failed;
  char error[256];
  /* Scratch the kernels grow as they need it (device memory): attention's panels of softmax
   * rows and their gradients, the bf16 copy of a frozen product's input, and the partial sums of
   * sumsq. */
  void *scratch;
  size_t scratch_bytes;
  void *x16;
  size_t x16_bytes;
  double *partials;
  /* Precision bf16 (set before the session's matrices are made): frozen matrices are held in
   * bf16 and their products take bf16 inputs with fp32 accumulation, as the CPU backend's bf16
   * path does. */
  int bf16;
  /* The most reals one of attention's panel buffers holds (attention-products.h); 0: 64 Mi
   * (256 MiB).  Sequences whose every head's [L, L] block fits go whole, longer ones in panels
   * of fewer query rows.  A test sets it small to cut short sequences into panels. */
  size_t attn_panel_reals;
  /* LORENS_CUDA_PROFILE set: the device time of each kernel-table call, by name, printed to
   * stderr when the context is released (each call then waits for its work, so a profiled run
   * is slower than a plain one). */
  struct lr_cuda_profile *profile;
} lr_cuda_ctx;

/* Makes the context on device (cudaSetDevice, a stream, a cuBLAS handle in fp32 math without
 * TF32).  0, or -1 with a message. */
int lr_cuda_ctx_init(lr_cuda_ctx *c, int device, char *msg, size_t len);
/* The best rate of several timed n x n x n products on the current device, in GFLOP/s: cuBLAS
 * SGEMM (bf16 0) or bf16 inputs with fp32 accumulation (bf16 1).  0 with a message on failure. */
double lr_cuda_peak_gflops(int bf16, char *msg, size_t len);
/* Frees what the context holds; safe after a failed init. */
void lr_cuda_ctx_release(lr_cuda_ctx *c);
/* Fills k with the CUDA kernels; c must outlive k. */
void lr_cuda_kernels_init(lr_kernels *k, lr_cuda_ctx *c);

#ifdef __cplusplus
}
#endif

#endif /* LORENS_CUDA_KERNELS_H */
