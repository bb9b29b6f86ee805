/*
 * selftest.cu: a kernel the CUDA backend's probe runs to prove that device code built here
 * actually executes on the GPU it found (driver, architecture and runtime all agree).
 */
#include <stdio.h>

#include <cuda_runtime.h>

#include "selftest.h"

static __global__ void axpb(const float *x, float *y, float a, float b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    y[i] = a * x[i] + b;
}

extern "C" int lr_cuda_kernel_selftest(char *msg, size_t msg_len) {
  enum { N = 1000 };
  float host_x[N], host_y[N];
  float *dx = NULL, *dy = NULL;
  cudaError_t rc;
  int bad = -1;
  for (int i = 0; i < N; i++)
    host_x[i] = (float)i;
  rc = cudaMalloc((void **)&dx, sizeof host_x);
  if (rc == cudaSuccess)
    rc = cudaMalloc((void **)&dy, sizeof host_y);
  if (rc == cudaSuccess)
    rc = cudaMemcpy(dx, host_x, sizeof host_x, cudaMemcpyHostToDevice);
  if (rc == cudaSuccess) {
    axpb<<<(N + 255) / 256, 256>>>(dx, dy, 2.0f, 1.0f, N);
    rc = cudaGetLastError();
  }
  if (rc == cudaSuccess)
    rc = cudaMemcpy(host_y, dy, sizeof host_y, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
  if (rc != cudaSuccess) {
    snprintf(msg, msg_len, "kernel self-test failed: %s", cudaGetErrorString(rc));
    return -1;
  }
  for (int i = 0; i < N && bad < 0; i++)
    if (host_y[i] != 2.0f * (float)i + 1.0f)
      bad = i;
  if (bad >= 0) {
    snprintf(msg, msg_len, "kernel self-test computed y[%d] = %g, want %g", bad,
             (double)host_y[bad], 2.0 * bad + 1.0);
    return -1;
  }
  return 0;
}
