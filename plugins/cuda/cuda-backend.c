/*
 * cuda-backend.c: the CUDA backend plugin: the shared LLaMA-LoRA driver (llama-lora.c) over the
 * CUDA kernels of cuda-kernels.cu, on the session's device: in fp32, or with the frozen base in
 * bf16 where a session asks for precision bf16 (docs/precision.md).
 *
 * Its probe looks for a device, runs a kernel built by nvcc (selftest.cu) and a cuBLAS SGEMM on
 * it, and checks both results on the host: a machine without a GPU, or with a driver too old for
 * the code built here, reports itself unusable before any session opens.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <lorens/backend.h>

#include "cuda-kernels.h"
#include "llama-lora.h"
#include "net-session.h"
#include "selftest.h"

struct lorens_session {
  lr_cuda_ctx ctx;
  lr_kernels kernels;
  lr_net *net;
};

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

static lorens_status session_open(const lorens_session_desc *d, const lorens_host *host,
                                  lorens_session **out, char *msg, size_t len) {
  lorens_session *s;
  lorens_status rc;
  int count = 0;
  (void)host;
  *out = NULL;
  if (d == NULL || d->struct_size < LORENS_SESSION_DESC_SIZE_1_0) {
    snprintf(msg, len, "session description missing or older than ABI 1.0");
    return LORENS_EABI;
  }
  if (cudaGetDeviceCount(&count) != cudaSuccess || d->device < 0 || d->device >= count) {
    snprintf(msg, len, "CUDA device %d: this machine has %d", (int)d->device, count);
    return LORENS_EDEVICE;
  }
  if ((s = calloc(1, sizeof *s)) == NULL) {
    snprintf(msg, len, "out of memory");
    return LORENS_ENOMEM;
  }
  if (lr_cuda_ctx_init(&s->ctx, d->device, msg, len) != 0) {
    lr_cuda_ctx_release(&s->ctx);
    free(s);
    return LORENS_EDEVICE;
  }
  s->ctx.bf16 = LORENS_HAS_FIELD(d, lorens_session_desc, precision) &&
                d->precision == LORENS_PRECISION_BF16;
  lr_cuda_kernels_init(&s->kernels, &s->ctx);
  rc = lr_net_open(&s->kernels, d, &s->net, msg, len);
  if (rc == LORENS_OK && s->kernels.sync(s->kernels.ctx, msg, len) != 0)
    rc = LORENS_EDEVICE;
  if (rc != LORENS_OK) {
    lr_net_close(s->net);
    lr_cuda_ctx_release(&s->ctx);
    free(s);
    return rc;
  }
  *out = s;
  return LORENS_OK;
}

/* Every shared session call starts here (net-session.c): the calling thread's current device
 * becomes the session's, so that sessions on several devices in one process each allocate and
 * launch on their own. */
lr_net *lr_session_net(lorens_session *s) {
  cudaSetDevice(s->ctx.device);
  return s->net;
}

uint32_t lr_session_precision(lorens_session *s) {
  return s->ctx.bf16 ? LORENS_PRECISION_BF16 : LORENS_PRECISION_FP32;
}

static void session_close(lorens_session *s) {
  if (s == NULL)
    return;
  cudaSetDevice(s->ctx.device);
  lr_net_close(s->net);
  lr_cuda_ctx_release(&s->ctx);
  free(s);
}

/* cuBLAS's rate on device 0 (where `lorens bench` runs) for 8192^3 products: SGEMM for fp32
 * (no TF32, as the kernels multiply), bf16 operands with fp32 accumulation for bf16. */
static double peak_gflops_at(int n_threads, uint32_t precision, char *msg, size_t len) {
  cudaError_t rc;
  (void)n_threads;
  if (precision != LORENS_PRECISION_FP32 && precision != LORENS_PRECISION_BF16) {
    snprintf(msg, len, "unknown precision %u", precision);
    return 0;
  }
  if ((rc = cudaSetDevice(0)) != cudaSuccess) {
    snprintf(msg, len, "CUDA device 0: %s", cudaGetErrorString(rc));
    return 0;
  }
  return lr_cuda_peak_gflops(precision == LORENS_PRECISION_BF16, msg, len);
}

static double peak_gflops(int n_threads, char *msg, size_t len) {
  return peak_gflops_at(n_threads, LORENS_PRECISION_FP32, msg, len);
}

static const lorens_backend descriptor = {
    .abi_major = LORENS_BACKEND_ABI_MAJOR,
    .abi_minor = LORENS_BACKEND_ABI_MINOR,
    .struct_size = sizeof(lorens_backend),
    .name = "cuda",
    .version = PACKAGE_VERSION,
    .description = "NVIDIA GPUs through CUDA and cuBLAS, fp32 (bf16 frozen products on tensor cores)",
    .probe = probe,
    .session_open = session_open,
    .session_info = lr_session_info,
    .member_get = lr_session_member_get,
    .member_set = lr_session_member_set,
    .train_step = lr_session_train_step,
    .score = lr_session_score,
    .session_close = session_close,
    .peak_gflops = peak_gflops,
    .peak_gflops_at = peak_gflops_at,
};

LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return &descriptor;
}
