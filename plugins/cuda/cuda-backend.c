/*
 * cuda-backend.c: the CUDA backend plugin.
 *
 * What it does today is find out whether it can run: its probe looks for a device, runs a kernel
 * built by nvcc (selftest.cu) and a cuBLAS SGEMM on it, and checks both results on the host.  The
 * session calls (training and scoring) arrive with the model driver and its CUDA kernels; until
 * then the descriptor carries no session calls, which the host reports.
 */
#include "compat.h"

#include <stdio.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <lorens/backend.h>

#include "selftest.h"

/* A 2x3 by 3x2 product checked against the host; catches a cuBLAS that loads but cannot run. */
static int cublas_selftest(char *msg, size_t len) {
  static const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
  static const float want[4] = {76, 100, 103, 136}; /* column-major A(2x3) * B(3x2) */
  float c[4] = {0}, alpha = 1.0f, beta = 0.0f, *da = NULL, *db = NULL, *dc = NULL;
  cublasHandle_t h = NULL;
  cublasStatus_t st = cublasCreate(&h);
  cudaError_t rc = cudaSuccess;
  if (st != CUBLAS_STATUS_SUCCESS) {
    snprintf(msg, len, "cuBLAS cannot start: %s", cublasGetStatusString(st));
    return -1;
  }
  rc = cudaMalloc((void **)&da, sizeof a);
  if (rc == cudaSuccess)
    rc = cudaMalloc((void **)&db, sizeof b);
  if (rc == cudaSuccess)
    rc = cudaMalloc((void **)&dc, sizeof c);
  if (rc == cudaSuccess)
    rc = cudaMemcpy(da, a, sizeof a, cudaMemcpyHostToDevice);
  if (rc == cudaSuccess)
    rc = cudaMemcpy(db, b, sizeof b, cudaMemcpyHostToDevice);
  if (rc == cudaSuccess)
    st = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, da, 2, db, 3, &beta, dc, 2);
  if (rc == cudaSuccess && st == CUBLAS_STATUS_SUCCESS)
    rc = cudaMemcpy(c, dc, sizeof c, cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  cublasDestroy(h);
  if (rc != cudaSuccess || st != CUBLAS_STATUS_SUCCESS) {
    snprintf(msg, len, "cuBLAS self-test failed: %s",
             rc != cudaSuccess ? cudaGetErrorString(rc) : cublasGetStatusString(st));
    return -1;
  }
  for (int i = 0; i < 4; i++) {
    if (c[i] != want[i]) {
      snprintf(msg, len, "cuBLAS self-test computed c[%d] = %g, want %g", i, (double)c[i],
               (double)want[i]);
      return -1;
    }
  }
  return 0;
}

static int probe(char *msg, size_t len) {
  struct cudaDeviceProp prop;
  int count = 0, driver = 0, runtime = 0;
  cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess) {
    snprintf(msg, len, "no usable CUDA device: %s", cudaGetErrorString(rc));
    return 0;
  }
  if (count == 0) {
    snprintf(msg, len, "no CUDA device");
    return 0;
  }
  rc = cudaGetDeviceProperties(&prop, 0);
  if (rc != cudaSuccess) {
    snprintf(msg, len, "cannot query CUDA device 0: %s", cudaGetErrorString(rc));
    return 0;
  }
  if (lr_cuda_kernel_selftest(msg, len) != 0 || cublas_selftest(msg, len) != 0)
    return 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  snprintf(msg, len,
           "%d device(s); device 0: %s, %.1f GiB, compute %d.%d; driver %d.%d, runtime %d.%d; "
           "kernel and cuBLAS self-tests passed",
           count, prop.name, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
           prop.major, prop.minor, driver / 1000, driver % 1000 / 10, runtime / 1000,
           runtime % 1000 / 10);
  /* A working GPU is preferred to the CPU backend (which reports 1). */
  return 100;
}

static const lorens_backend descriptor = {
    .abi_major = LORENS_BACKEND_ABI_MAJOR,
    .abi_minor = LORENS_BACKEND_ABI_MINOR,
    .struct_size = sizeof(lorens_backend),
    .name = "cuda",
    .version = PACKAGE_VERSION,
    .description = "NVIDIA GPUs through CUDA and cuBLAS (device probe only; training not yet)",
    .probe = probe,
};

LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return &descriptor;
}
