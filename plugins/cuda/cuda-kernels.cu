/*
 * cuda-kernels.cu: the kernel table (kernels.h) in CUDA and cuBLAS.
 *
 * Each kernel computes what its CPU twin (plugins/cpu/cpu-kernels.c) computes, in the same
 * formulas and, where the CPU sums in double (norms, softmax denominators, reductions), in double
 * too, so that the two agree to fp32 rounding (tests/cuda/test-cuda-kernels.c measures it on a
 * GPU).  Every reduction runs in a fixed order for a given launch shape, and no kernel uses
 * atomics, so a run is bit-for-bit repeatable on one device.  Products go to cuBLAS in its default
 * math mode (fp32, no TF32); in precision bf16 the products with frozen matrices take bf16
 * operands (rounded to nearest even, as the CPU rounds them) with fp32 accumulation, on the
 * tensor cores.  The layout conventions are kernels.h's: row-major, T token rows.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

extern "C" {
#include "quant.h"
}
#include "attention-products.h"
#include "cuda-kernels.h"

#define CTX(p) ((lr_cuda_ctx *)(p))
#define STREAM(c) ((cudaStream_t)(c)->stream)
#define BLAS(c) ((cublasHandle_t)(c)->blas)

enum { THREADS = 256 };

static unsigned blocks_for(size_t n, unsigned per = THREADS) {
  size_t b = (n + per - 1) / per;
  return (unsigned)(b < 65535u * 16u ? b : 65535u * 16u); /* kernels loop over what is left */
}

/* ---- errors -------------------------------------------------------------------------------- */

static void note_error(lr_cuda_ctx *c, int code, const char *what, const char *words) {
  if (c->failed)
    return;
  c->failed = code ? code : -1;
  snprintf(c->error, sizeof c->error, "CUDA error in %s: %s", what, words);
}

static int check(lr_cuda_ctx *c, cudaError_t rc, const char *what) {
  if (rc != cudaSuccess)
    note_error(c, (int)rc, what, cudaGetErrorString(rc));
  return rc == cudaSuccess ? 0 : -1;
}

static int check_blas(lr_cuda_ctx *c, cublasStatus_t st, const char *what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    note_error(c, (int)st, what, cublasGetStatusString(st));
  return st == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

/* After a launch: a bad configuration shows at once, a fault in the kernel at the next sync. */
#define LAUNCHED(c, what) check((c), cudaGetLastError(), (what))

/* ---- profile (LORENS_CUDA_PROFILE) ---------------------------------------------------------- */

enum { PROFILE_SLOTS = 48 };

struct lr_cuda_profile {
  cudaEvent_t start, stop;
  int n;
  struct {
    const char *name; /* a string literal: compared by address */
    double ms;
    long calls;
  } slot[PROFILE_SLOTS];
};

static void profile_begin(lr_cuda_ctx *c) {
  if (c->profile)
    cudaEventRecord(c->profile->start, STREAM(c));
}

/* Waits for the call's work and adds its device time to name's slot. */
static void profile_end(lr_cuda_ctx *c, const char *name) {
  struct lr_cuda_profile *p = c->profile;
  float ms = 0;
  int i;
  if (p == NULL || cudaEventRecord(p->stop, STREAM(c)) != cudaSuccess ||
      cudaEventSynchronize(p->stop) != cudaSuccess ||
      cudaEventElapsedTime(&ms, p->start, p->stop) != cudaSuccess)
    return;
  for (i = 0; i < p->n && p->slot[i].name != name; i++)
    ;
  if (i == p->n) {
    if (p->n == PROFILE_SLOTS)
      return;
    p->slot[p->n++].name = name;
  }
  p->slot[i].ms += ms;
  p->slot[i].calls++;
}

static void profile_print(const struct lr_cuda_profile *p) {
  double total = 0;
  int order[PROFILE_SLOTS];
  for (int i = 0; i < p->n; i++) {
    total += p->slot[i].ms;
    order[i] = i;
  }
  for (int i = 1; i < p->n; i++) /* by time, largest first */
    for (int j = i; j > 0 && p->slot[order[j]].ms > p->slot[order[j - 1]].ms; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  fprintf(stderr, "cuda profile: %-24s %10s %12s %7s\n", "call", "calls", "ms", "share");
  for (int i = 0; i < p->n; i++) {
    int k = order[i];
    fprintf(stderr, "cuda profile: %-24s %10ld %12.3f %6.1f%%\n", p->slot[k].name,
            p->slot[k].calls, p->slot[k].ms, total > 0 ? 100 * p->slot[k].ms / total : 0.0);
  }
  fprintf(stderr, "cuda profile: %-24s %10s %12.3f\n", "total", "", total);
}

/* ---- context ------------------------------------------------------------------------------- */

extern "C" int lr_cuda_ctx_init(lr_cuda_ctx *c, int device, char *msg, size_t len) {
  cudaStream_t s = NULL;
  cublasHandle_t h = NULL;
  cudaError_t rc;
  cublasStatus_t st;
  memset(c, 0, sizeof *c);
  c->device = device;
  if ((rc = cudaSetDevice(device)) != cudaSuccess ||
      (rc = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) != cudaSuccess) {
    snprintf(msg, len, "CUDA device %d: %s", device, cudaGetErrorString(rc));
    return -1;
  }
  c->stream = s;
  if ((st = cublasCreate(&h)) != CUBLAS_STATUS_SUCCESS ||
      (st = cublasSetStream(h, s)) != CUBLAS_STATUS_SUCCESS ||
      (st = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
    snprintf(msg, len, "cuBLAS on device %d: %s", device, cublasGetStatusString(st));
    if (h)
      cublasDestroy(h);
    return -1;
  }
  c->blas = h;
  if (getenv("LORENS_CUDA_PROFILE") && *getenv("LORENS_CUDA_PROFILE") &&
      (c->profile = (struct lr_cuda_profile *)calloc(1, sizeof *c->profile)) != NULL &&
      (cudaEventCreate(&c->profile->start) != cudaSuccess ||
       cudaEventCreate(&c->profile->stop) != cudaSuccess)) {
    snprintf(msg, len, "CUDA device %d: cannot make the profile's events", device);
    return -1;
  }
  return 0;
}

extern "C" void lr_cuda_ctx_release(lr_cuda_ctx *c) {
  if (c->stream)
    cudaStreamSynchronize(STREAM(c));
  if (c->blas)
    cublasDestroy(BLAS(c));
  cudaFree(c->scratch);
  cudaFree(c->x16);
  cudaFree(c->partials);
  if (c->stream)
    cudaStreamDestroy(STREAM(c));
  if (c->profile) {
    if (c->profile->n)
      profile_print(c->profile);
    cudaEventDestroy(c->profile->start);
    cudaEventDestroy(c->profile->stop);
    free(c->profile);
  }
  c->blas = c->stream = c->scratch = c->x16 = NULL;
  c->partials = NULL;
  c->profile = NULL;
  c->scratch_bytes = c->x16_bytes = 0;
}

/* A scratch buffer of the context (*buf, *have bytes), grown to at least bytes (contents not
 * kept). */
static void *grow(lr_cuda_ctx *c, void **buf, size_t *have, size_t bytes) {
  if (bytes <= *have)
    return *buf;
  cudaStreamSynchronize(STREAM(c)); /* queued kernels may still read it */
  cudaFree(*buf);
  *buf = NULL;
  *have = 0;
  if (check(c, cudaMalloc(buf, bytes), "scratch allocation") != 0)
    return NULL;
  *have = bytes;
  return *buf;
}

static void *scratch(lr_cuda_ctx *c, size_t bytes) {
  return grow(c, &c->scratch, &c->scratch_bytes, bytes);
}

/* ---- memory -------------------------------------------------------------------------------- */

static void *cu_alloc(void *ctx, size_t bytes) {
  lr_cuda_ctx *c = CTX(ctx);
  void *p = NULL;
  if (c->failed)
    return NULL;
  cudaError_t rc = cudaMalloc(&p, bytes ? bytes : 1);
  if (rc == cudaErrorMemoryAllocation) {
    cudaGetLastError(); /* out of memory is not sticky: the caller reports it */
    return NULL;
  }
  if (check(c, rc, "alloc") != 0) /* anything else is: a fault of an earlier kernel, say */
    return NULL;
  if (check(c, cudaMemsetAsync(p, 0, bytes ? bytes : 1, STREAM(c)), "alloc") != 0) {
    cudaFree(p);
    return NULL;
  }
  return p;
}

static void cu_free(void *ctx, void *p) {
  lr_cuda_ctx *c = CTX(ctx);
  if (p == NULL)
    return;
  cudaStreamSynchronize(STREAM(c)); /* queued kernels may still read it */
  cudaFree(p);
}

/* Host memory the caller may reuse at once: both directions wait for the copy. */
static int cu_upload(void *ctx, void *dst, const void *src, size_t bytes) {
  lr_cuda_ctx *c = CTX(ctx);
  if (c->failed)
    return -1;
  if (bytes == 0)
    return 0;
  if (check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, STREAM(c)), "upload"))
    return -1;
  return check(c, cudaStreamSynchronize(STREAM(c)), "upload");
}

static int cu_download(void *ctx, void *dst, const void *src, size_t bytes) {
  lr_cuda_ctx *c = CTX(ctx);
  if (c->failed)
    return -1;
  if (bytes == 0)
    return check(c, cudaStreamSynchronize(STREAM(c)), "download");
  if (check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, STREAM(c)), "download"))
    return -1;
  return check(c, cudaStreamSynchronize(STREAM(c)), "download");
}

static void cu_zero(void *ctx, void *p, size_t bytes) {
  lr_cuda_ctx *c = CTX(ctx);
  if (bytes && !c->failed)
    check(c, cudaMemsetAsync(p, 0, bytes, STREAM(c)), "zero");
}

static void cu_copy(void *ctx, void *dst, const void *src, size_t bytes) {
  lr_cuda_ctx *c = CTX(ctx);
  if (bytes && !c->failed)
    check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, STREAM(c)), "copy");
}

static int cu_sync(void *ctx, char *msg, size_t msg_len) {
  lr_cuda_ctx *c = CTX(ctx);
  if (!c->failed)
    check(c, cudaStreamSynchronize(STREAM(c)), "a queued kernel");
  if (c->failed) {
    snprintf(msg, msg_len, "%s", c->error);
    return -1;
  }
  return 0;
}

/* A base tensor as n fp32 values in device memory: converted on the host (F16, BF16 and ggml
 * blocks through quant.h, which the CPU backend uses too), then uploaded. */
static float *device_floats(lr_cuda_ctx *c, const lorens_tensor *t, size_t n) {
  float *host = NULL, *dev = NULL;
  int type = lr_quant_type_of_dtype(t->dtype);
  size_t cols = t->ndim == 2 ? (size_t)t->shape[1] : n, row_bytes = 0;
  const float *src = (const float *)t->data;
  if (t->dtype != LORENS_DTYPE_F32) {
    if (type < 0 || cols == 0 || n % cols != 0 ||
        lr_quant_row_bytes(type, cols, &row_bytes) != LORENS_OK ||
        (host = (float *)malloc(n * sizeof *host)) == NULL)
      return NULL;
    for (size_t r = 0; r < n / cols; r++)
      lr_quant_dequantize_row(type, (const unsigned char *)t->data + r * row_bytes,
                              host + r * cols, cols);
    src = host;
  }
  dev = (float *)cu_alloc(c, n * sizeof *dev);
  if (dev && cu_upload(c, dev, src, n * sizeof *dev) != 0) {
    cu_free(c, dev);
    dev = NULL;
  }
  free(host);
  return dev;
}

/* dst[r, j] = src[r * ld + j] rounded to bf16, to nearest even (as the CPU's lr_bf16_round). */
static __global__ void k_round_bf16(__nv_bfloat16 *dst, const real *src, int rows, int cols,
                                    int ld) {
  size_t total = (size_t)rows * cols;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i / cols * (size_t)ld + i % cols]);
}

static const real *cu_weights(void *ctx, const lorens_tensor *t, size_t n, void **owned) {
  float *dev = device_floats(CTX(ctx), t, n);
  *owned = dev;
  return dev;
}

/* A frozen matrix in fp32, or in precision bf16 rounded to bf16 once here (from whatever type
 * the file stores: ggml blocks are expanded on the host first, as for fp32). */
static int cu_frozen(void *ctx, const lorens_tensor *t, int table, lr_frozen *out,
                     void **owned) {
  lr_cuda_ctx *c = CTX(ctx);
  (void)table; /* every matrix is expanded: device memory holds them all alike */
  size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
  float *dev = device_floats(c, t, rows * cols);
  memset(out, 0, sizeof *out);
  *owned = dev;
  if (dev == NULL)
    return -1;
  out->data = dev;
  out->dtype = LORENS_DTYPE_F32;
  out->rows = (int)rows;
  out->cols = (int)cols;
  out->row_bytes = cols * sizeof(float);
  if (c->bf16) {
    __nv_bfloat16 *w16 = (__nv_bfloat16 *)cu_alloc(c, rows * cols * sizeof *w16);
    if (w16 != NULL) {
      k_round_bf16<<<blocks_for(rows * cols), THREADS, 0, STREAM(c)>>>(w16, dev, (int)rows,
                                                                       (int)cols, (int)cols);
      LAUNCHED(c, "frozen");
    }
    cu_free(c, dev); /* waits for the rounding */
    *owned = w16;
    if (w16 == NULL)
      return -1;
    out->data = w16;
    out->dtype = LORENS_DTYPE_BF16;
    out->row_bytes = cols * sizeof *w16;
  }
  out->held_bytes = out->row_bytes * rows;
  return 0;
}

/* ---- linear algebra ------------------------------------------------------------------------ */

/* Row-major C = alpha op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T: the same
 * call with the operands swapped. */
static void gemm_f32(lr_cuda_ctx *c, int ta, int tb, int m, int n, int k, real alpha,
                     const real *a, int lda, const real *b, int ldb, real beta, real *cm,
                     int ldc) {
  if (m == 0 || n == 0 || c->failed)
    return;
  check_blas(c, cublasSgemm(BLAS(c), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                            n, m, k, &alpha, b, ldb, a, lda, &beta, cm, ldc), "gemm");
}

static void cu_gemm(void *ctx, int ta, int tb, int m, int n, int k, real alpha, const real *a,
                    int lda, const real *b, int ldb, real beta, real *cm, int ldc) {
  profile_begin(CTX(ctx));
  gemm_f32(CTX(ctx), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
  profile_end(CTX(ctx), "gemm");
}

/* A product with a bf16 frozen matrix: x rounded to bf16 into the context's x16, then one
 * cuBLAS product of bf16 operands with fp32 accumulation (tensor cores) into fp32 y. */
static void gemm_frozen_bf16(lr_cuda_ctx *c, int trans, int T, real alpha, const real *x, int ldx,
                             const lr_frozen *w, real beta, real *y, int ldy) {
  int in = trans ? w->cols : w->rows, out = trans ? w->rows : w->cols;
  __nv_bfloat16 *x16;
  if (T == 0 || c->failed)
    return;
  if ((x16 = (__nv_bfloat16 *)grow(c, &c->x16, &c->x16_bytes,
                                   (size_t)T * in * sizeof *x16)) == NULL)
    return;
  k_round_bf16<<<blocks_for((size_t)T * in), THREADS, 0, STREAM(c)>>>(x16, x, T, in, ldx);
  if (LAUNCHED(c, "gemm_frozen") != 0)
    return;
  /* Row-major y[T, out] = x16 op(W) is column-major y^T = op(W)^T x16^T (gemm_f32). */
  check_blas(c, cublasGemmEx(BLAS(c), trans ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, out, T, in,
                             &alpha, w->data, CUDA_R_16BF, w->cols, x16, CUDA_R_16BF, in, &beta,
                             y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "gemm_frozen");
}

static void cu_gemm_frozen(void *ctx, int trans, int T, real alpha, const real *x, int ldx,
                           const lr_frozen *w, real beta, real *y, int ldy) {
  lr_cuda_ctx *c = CTX(ctx);
  const real *a = (const real *)w->data;
  profile_begin(c);
  if (w->dtype == LORENS_DTYPE_BF16)
    gemm_frozen_bf16(c, trans, T, alpha, x, ldx, w, beta, y, ldy);
  else if (trans)
    gemm_f32(c, 0, 1, T, w->rows, w->cols, alpha, x, ldx, a, w->cols, beta, y, ldy);
  else
    gemm_f32(c, 0, 0, T, w->cols, w->rows, alpha, x, ldx, a, w->cols, beta, y, ldy);
  profile_end(c, trans ? "gemm_frozen x W^T" : "gemm_frozen dy W");
}

static __global__ void k_add_bias(real *y, const real *b, size_t total, int n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x)
    y[i] += b[i % (size_t)n];
}

static void cu_add_bias(void *ctx, real *y, const real *b, int rows, int n) {
  size_t total = (size_t)rows * n;
  if (total == 0)
    return;
  profile_begin(CTX(ctx));
  k_add_bias<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(y, b, total, n);
  LAUNCHED(CTX(ctx), "add_bias");
  profile_end(CTX(ctx), "add_bias");
}

static __global__ void k_axpy(size_t n, real a, const real *x, real *y) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    y[i] += a * x[i];
}

static void cu_axpy(void *ctx, size_t n, real a, const real *x, real *y) {
  if (n == 0)
    return;
  profile_begin(CTX(ctx));
  k_axpy<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(n, a, x, y);
  LAUNCHED(CTX(ctx), "axpy");
  profile_end(CTX(ctx), "axpy");
}

/* Block sums in double: each of SUMSQ_BLOCKS blocks takes a fixed stride of x and reduces its
 * threads in a fixed tree; the host adds the block sums in order. */
enum { SUMSQ_BLOCKS = 256 };

static __device__ double block_sum(double v, double *shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  double r = shared[0];
  __syncthreads();
  return r;
}

static __global__ void k_sumsq(const real *x, size_t n, double *partials) {
  __shared__ double sh[THREADS];
  double s = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    s += (double)x[i] * (double)x[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0)
    partials[blockIdx.x] = s;
}

static double cu_sumsq(void *ctx, const real *x, size_t n) {
  lr_cuda_ctx *c = CTX(ctx);
  double host[SUMSQ_BLOCKS], sum = 0;
  if (n == 0 || c->failed)
    return 0;
  if (c->partials == NULL &&
      check(c, cudaMalloc((void **)&c->partials, sizeof host), "sumsq allocation") != 0)
    return 0;
  profile_begin(c);
  k_sumsq<<<SUMSQ_BLOCKS, THREADS, 0, STREAM(c)>>>(x, n, c->partials);
  profile_end(c, "sumsq");
  if (LAUNCHED(c, "sumsq") != 0 || cu_download(c, host, c->partials, sizeof host) != 0)
    return 0;
  for (int i = 0; i < SUMSQ_BLOCKS; i++)
    sum += host[i];
  return sum;
}

static __global__ void k_scale(real *x, size_t n, real a) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    x[i] *= a;
}

static void cu_scale(void *ctx, real *x, size_t n, real a) {
  if (n == 0)
    return;
  profile_begin(CTX(ctx));
  k_scale<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(x, n, a);
  LAUNCHED(CTX(ctx), "scale");
  profile_end(CTX(ctx), "scale");
}

/* ---- layers -------------------------------------------------------------------------------- */

/* Entry (r, j) of a frozen matrix, which cu_frozen makes fp32 or (bf16 set) bf16. */
static __device__ real frozen_at(const void *data, size_t row_bytes, int bf16, int r, int j) {
  const unsigned char *row = (const unsigned char *)data + (size_t)r * row_bytes;
  return bf16 ? __bfloat162float(((const __nv_bfloat16 *)row)[j]) : ((const real *)row)[j];
}

static __global__ void k_embed(real *out, const void *table, size_t row_bytes, int bf16,
                               const int32_t *tokens, int rows, int dim) {
  for (int r = blockIdx.x; r < rows; r += gridDim.x)
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      out[(size_t)r * dim + j] = frozen_at(table, row_bytes, bf16, tokens[r], j);
}

static void cu_embed(void *ctx, real *out, const lr_frozen *table, const int32_t *tokens,
                     int rows, int dim) {
  if (rows == 0)
    return;
  profile_begin(CTX(ctx));
  k_embed<<<blocks_for((size_t)rows, 1), 128, 0, STREAM(CTX(ctx))>>>(
      out, table->data, table->row_bytes, table->dtype == LORENS_DTYPE_BF16, tokens, rows, dim);
  LAUNCHED(CTX(ctx), "embed");
  profile_end(CTX(ctx), "embed");
}

/* One block per row: the sum of squares in double, as the CPU forms it. */
static __global__ void k_rmsnorm(real *out, real *rstd, const real *x, const real *w, int rows,
                                 int dim, real eps) {
  __shared__ double sh[THREADS];
  for (int r = blockIdx.x; r < rows; r += gridDim.x) {
    const real *xr = x + (size_t)r * dim;
    real *yr = out + (size_t)r * dim;
    double ss = 0;
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      ss += (double)xr[j] * xr[j];
    ss = block_sum(ss, sh);
    real s = (real)(1.0 / sqrt(ss / dim + eps));
    if (threadIdx.x == 0)
      rstd[r] = s;
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      yr[j] = xr[j] * s * w[j];
  }
}

static void cu_rmsnorm(void *ctx, real *out, real *rstd, const real *x, const real *w, int rows,
                       int dim, real eps) {
  if (rows == 0)
    return;
  profile_begin(CTX(ctx));
  k_rmsnorm<<<blocks_for((size_t)rows, 1), THREADS, 0, STREAM(CTX(ctx))>>>(out, rstd, x, w, rows,
                                                                           dim, eps);
  LAUNCHED(CTX(ctx), "rmsnorm");
  profile_end(CTX(ctx), "rmsnorm");
}

static __global__ void k_rmsnorm_backward(real *dx, const real *dout, const real *x, const real *w,
                                          const real *rstd, int rows, int dim) {
  __shared__ double sh[THREADS];
  for (int r = blockIdx.x; r < rows; r += gridDim.x) {
    const real *xr = x + (size_t)r * dim, *dy = dout + (size_t)r * dim;
    real *dxr = dx + (size_t)r * dim;
    real s = rstd[r];
    double dot = 0;
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      dot += (double)w[j] * dy[j] * xr[j];
    dot = block_sum(dot, sh);
    real cf = (real)(dot * s * s * s / dim);
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      dxr[j] += s * w[j] * dy[j] - xr[j] * cf;
  }
}

static void cu_rmsnorm_backward(void *ctx, real *dx, const real *dout, const real *x,
                                const real *w, const real *rstd, int rows, int dim) {
  if (rows == 0)
    return;
  profile_begin(CTX(ctx));
  k_rmsnorm_backward<<<blocks_for((size_t)rows, 1), THREADS, 0, STREAM(CTX(ctx))>>>(
      dx, dout, x, w, rstd, rows, dim);
  LAUNCHED(CTX(ctx), "rmsnorm_backward");
  profile_end(CTX(ctx), "rmsnorm_backward");
}

/* One thread per column, down the rows in order (coalesced across the threads of a block). */
static __global__ void k_rmsnorm_weight_grad(real *dw, const real *dout, const real *x,
                                             const real *rstd, int rows, int dim) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < dim; j += gridDim.x * blockDim.x) {
    double sum = 0;
    for (int r = 0; r < rows; r++)
      sum += (double)dout[(size_t)r * dim + j] * x[(size_t)r * dim + j] * rstd[r];
    dw[j] += (real)sum;
  }
}

static void cu_rmsnorm_weight_grad(void *ctx, real *dw, const real *dout, const real *x,
                                   const real *rstd, int rows, int dim) {
  if (dim == 0)
    return;
  profile_begin(CTX(ctx));
  k_rmsnorm_weight_grad<<<blocks_for((size_t)dim), THREADS, 0, STREAM(CTX(ctx))>>>(dw, dout, x,
                                                                                   rstd, rows, dim);
  LAUNCHED(CTX(ctx), "rmsnorm_weight_grad");
  profile_end(CTX(ctx), "rmsnorm_weight_grad");
}

/* One thread per (row, frequency), over the heads: the angle in fp32 as Hugging Face forms it,
 * its cosine and sine in double rounded once, as on the CPU. */
static __global__ void k_rope(real *x, const int32_t *pos, const real *inv_freq, int rows,
                              int n_heads, int head_dim, int inverse) {
  int half = head_dim / 2;
  size_t total = (size_t)rows * half;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    int r = (int)(idx / half), i = (int)(idx % half);
    real angle = (real)pos[r] * inv_freq[i];
    real cs = (real)cos((double)angle), sn = (real)sin((double)angle);
    if (inverse)
      sn = -sn;
    for (int h = 0; h < n_heads; h++) {
      real *v = x + (size_t)r * n_heads * head_dim + (size_t)h * head_dim;
      real a = v[i], b = v[i + half];
      v[i] = a * cs - b * sn;
      v[i + half] = b * cs + a * sn;
    }
  }
}

static void cu_rope(void *ctx, real *x, const int32_t *pos, const real *inv_freq, int rows,
                    int n_heads, int head_dim, int inverse) {
  size_t total = (size_t)rows * (head_dim / 2);
  if (total == 0)
    return;
  profile_begin(CTX(ctx));
  k_rope<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(x, pos, inv_freq, rows, n_heads,
                                                               head_dim, inverse);
  LAUNCHED(CTX(ctx), "rope");
  profile_end(CTX(ctx), "rope");
}

/*
 * Attention over packed sequences (lr_attn_shape), as the CPU computes it, a panel of query rows
 * at a time (attention-products.h): the products as cuBLAS strided batches, between them each
 * row's masked softmax (keeping its log-sum-exp) and in the backward the softmax rows again from
 * it and dS = P (dP - rowsum(P dP)) scale, one block per (panel row, head).  Row t of the
 * sequence sees keys u <= t, except, with block_start, the keys between the prefix and its own
 * block: [gap0, gap1).
 */
typedef struct row_place {
  int row, t;     /* the row among the packed rows, and within its sequence */
  int gap0, gap1; /* the keys below its diagonal it does not see */
  size_t at;      /* its entries for the head in a panel buffer */
} row_place;

static __device__ row_place place_row(const lr_attn_shape sh, const lr_attn_panel pn, int i,
                                      int h) {
  row_place p;
  p.t = pn.r0 + i;
  p.row = pn.start + p.t;
  p.gap0 = p.gap1 = 0;
  if (sh.block_start && sh.block_start[p.row] > sh.prefix[pn.s]) {
    p.gap0 = sh.prefix[pn.s];
    p.gap1 = sh.block_start[p.row];
  }
  p.at = ((size_t)h * pn.rows + i) * pn.keys;
  return p;
}

static __device__ bool sees(const row_place *p, int u) {
  return u <= p->t && (u < p->gap0 || u >= p->gap1);
}

static __device__ real block_max(real v, real *shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s && shared[threadIdx.x + s] > shared[threadIdx.x])
      shared[threadIdx.x] = shared[threadIdx.x + s];
    __syncthreads();
  }
  real r = shared[0];
  __syncthreads();
  return r;
}

enum { ATTN_THREADS = 128 };

/* One block per (panel row, head): the row of scores becomes its softmax over the keys it sees
 * (the denominator summed in double, as the CPU sums it), zeros elsewhere, and lse[row, h] the
 * log of that denominator with the row's maximum added back. */
static __global__ void k_attention_softmax(real *pnl, real *lse, const lr_attn_shape sh,
                                           const lr_attn_panel pn) {
  __shared__ double dsh[ATTN_THREADS];
  __shared__ real rsh[ATTN_THREADS];
  for (size_t job = blockIdx.x; job < (size_t)pn.rows * sh.n_heads; job += gridDim.x) {
    int i = (int)(job / sh.n_heads), h = (int)(job % sh.n_heads);
    row_place p = place_row(sh, pn, i, h);
    real *pr = pnl + p.at, mx = -INFINITY;
    for (int u = threadIdx.x; u <= p.t; u += blockDim.x)
      if (sees(&p, u) && pr[u] > mx)
        mx = pr[u];
    mx = block_max(mx, rsh);
    double sum = 0;
    for (int u = threadIdx.x; u <= p.t; u += blockDim.x) {
      real e = sees(&p, u) ? expf(pr[u] - mx) : 0;
      pr[u] = e;
      sum += e;
    }
    sum = block_sum(sum, dsh);
    real inv = (real)(1.0 / sum);
    for (int u = threadIdx.x; u < pn.keys; u += blockDim.x)
      pr[u] = u <= p.t ? pr[u] * inv : 0;
    if (threadIdx.x == 0)
      lse[(size_t)p.row * sh.n_heads + h] = (real)((double)mx + log(sum));
    __syncthreads();
  }
}

/* One block per (panel row, head): the softmax row again, exp(score - lse) where the row sees
 * the key, zero elsewhere. */
static __global__ void k_attention_probs(real *pnl, const real *lse, const lr_attn_shape sh,
                                         const lr_attn_panel pn) {
  for (size_t job = blockIdx.x; job < (size_t)pn.rows * sh.n_heads; job += gridDim.x) {
    int i = (int)(job / sh.n_heads), h = (int)(job % sh.n_heads);
    row_place p = place_row(sh, pn, i, h);
    real *pr = pnl + p.at, shift = lse[(size_t)p.row * sh.n_heads + h];
    for (int u = threadIdx.x; u < pn.keys; u += blockDim.x)
      pr[u] = sees(&p, u) ? expf(pr[u] - shift) : 0;
  }
}

/* One block per (panel row, head): dP (in ds, laid out as the softmax rows) becomes
 * dS = P (dP - rowsum(P dP)) scale, zero above the diagonal. */
static __global__ void k_attention_softmax_backward(real *ds, const real *pnl,
                                                    const lr_attn_shape sh,
                                                    const lr_attn_panel pn, real scale) {
  __shared__ double dsh[ATTN_THREADS];
  for (size_t job = blockIdx.x; job < (size_t)pn.rows * sh.n_heads; job += gridDim.x) {
    int i = (int)(job / sh.n_heads), h = (int)(job % sh.n_heads);
    row_place p = place_row(sh, pn, i, h);
    const real *pr = pnl + p.at;
    real *dr = ds + p.at;
    double rowdot = 0;
    for (int u = threadIdx.x; u <= p.t; u += blockDim.x)
      rowdot += (double)pr[u] * dr[u];
    rowdot = block_sum(rowdot, dsh);
    for (int u = threadIdx.x; u < pn.keys; u += blockDim.x)
      dr[u] = u <= p.t ? pr[u] * (dr[u] - (real)rowdot) * scale : 0;
    __syncthreads();
  }
}

/* lr_batched_gemm on cuBLAS: gemm_f32's operand swap, strided-batched. */
static void cublas_batched(void *ctx, int ta, int tb, int m, int n, int k, real alpha,
                           const real *a, int lda, long long sa, const real *b, int ldb,
                           long long sb, real beta, real *cm, int ldc, long long sc, int batch) {
  lr_cuda_ctx *c = CTX(ctx);
  if (c->failed)
    return;
  check_blas(c, cublasSgemmStridedBatched(BLAS(c), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                          ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb,
                                          sb, a, lda, sa, &beta, cm, ldc, sc, batch),
             "attention");
}

/* Query rows per panel (lr_cuda_ctx.attn_panel_reals). */
static int panel_rows(const lr_cuda_ctx *c, const lr_attn_shape *sh) {
  return lr_attn_panel_rows(sh, c->attn_panel_reals ? c->attn_panel_reals : (size_t)64 << 20);
}

static int attention_ready(lr_cuda_ctx *c, const lr_attn_shape *sh) {
  if (sh->n_seq == 0 || sh->rows == 0 || c->failed)
    return 0;
  if (sh->host_seq_start == NULL) {
    note_error(c, -1, "attention", "the attention shape lacks its host arrays");
    return 0;
  }
  return 1;
}

/* Scratch for n panel buffers of the shape's panels of `rows` rows (NULL: the error is kept). */
static real *attention_panels(lr_cuda_ctx *c, const lr_attn_shape *sh, int rows, int n,
                              size_t *each) {
  *each = lr_attn_panel_reals(sh, rows);
  return (real *)scratch(c, (size_t)n * *each * sizeof(real));
}

static void cu_attention(void *ctx, real *out, real *lse, const real *q, const real *k,
                         const real *v, const lr_attn_shape *sh) {
  lr_cuda_ctx *c = CTX(ctx);
  size_t each;
  real *pnl;
  if (!attention_ready(c, sh))
    return;
  int rows = panel_rows(c, sh);
  if ((pnl = attention_panels(c, sh, rows, 1, &each)) == NULL)
    return;
  profile_begin(c);
  for (int s = 0; s < sh->n_seq && !c->failed; s++) {
    int L = sh->host_seq_start[s + 1] - sh->host_seq_start[s];
    for (int r0 = 0; r0 < L && !c->failed; r0 += rows) {
      lr_attn_panel pn = lr_attn_panel_at(sh, s, r0, rows);
      lr_attn_panel_scores(sh, &pn, cublas_batched, c, q, k, pnl);
      k_attention_softmax<<<blocks_for((size_t)pn.rows * sh->n_heads, 1), ATTN_THREADS, 0,
                            STREAM(c)>>>(pnl, lse, *sh, pn);
      if (LAUNCHED(c, "attention") == 0)
        lr_attn_panel_values(sh, &pn, cublas_batched, c, pnl, v, out);
    }
  }
  profile_end(c, "attention");
}

static void cu_attention_backward(void *ctx, real *dq, real *dk, real *dv, const real *dout,
                                  const real *lse, const real *q, const real *k, const real *v,
                                  const lr_attn_shape *sh) {
  lr_cuda_ctx *c = CTX(ctx);
  real scale = (real)(1.0 / sqrt((double)sh->head_dim)), *pnl, *ds;
  size_t each, kv = (size_t)sh->rows * sh->n_kv_heads * sh->head_dim * sizeof(real);
  if (!attention_ready(c, sh))
    return;
  int rows = panel_rows(c, sh);
  if ((pnl = attention_panels(c, sh, rows, 2, &each)) == NULL)
    return;
  ds = pnl + each;
  /* The panels add into dK and dV. */
  if (check(c, cudaMemsetAsync(dk, 0, kv, STREAM(c)), "attention_backward") ||
      check(c, cudaMemsetAsync(dv, 0, kv, STREAM(c)), "attention_backward"))
    return;
  profile_begin(c);
  for (int s = 0; s < sh->n_seq && !c->failed; s++) {
    int L = sh->host_seq_start[s + 1] - sh->host_seq_start[s];
    for (int r0 = 0; r0 < L && !c->failed; r0 += rows) {
      lr_attn_panel pn = lr_attn_panel_at(sh, s, r0, rows);
      unsigned blocks = blocks_for((size_t)pn.rows * sh->n_heads, 1);
      lr_attn_panel_scores(sh, &pn, cublas_batched, c, q, k, pnl);
      k_attention_probs<<<blocks, ATTN_THREADS, 0, STREAM(c)>>>(pnl, lse, *sh, pn);
      if (LAUNCHED(c, "attention_backward") != 0)
        break;
      lr_attn_panel_probs_grad(sh, &pn, cublas_batched, c, dout, v, ds);
      k_attention_softmax_backward<<<blocks, ATTN_THREADS, 0, STREAM(c)>>>(ds, pnl, *sh, pn,
                                                                           scale);
      if (LAUNCHED(c, "attention_backward") == 0)
        lr_attn_panel_input_grads(sh, &pn, cublas_batched, c, ds, pnl, q, k, dout, dq, dk, dv);
    }
  }
  profile_end(c, "attention_backward");
}

static __device__ real sigmoid(real x) {
  return 1 / (1 + expf(-x));
}

static __global__ void k_swiglu(real *a, const real *g, const real *u, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    a[i] = g[i] * sigmoid(g[i]) * u[i];
}

static void cu_swiglu(void *ctx, real *a, const real *g, const real *u, size_t n) {
  if (n == 0)
    return;
  profile_begin(CTX(ctx));
  k_swiglu<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(a, g, u, n);
  LAUNCHED(CTX(ctx), "swiglu");
  profile_end(CTX(ctx), "swiglu");
}

/* dg may be da (kernels.h): each element reads da before it writes dg. */
static __global__ void k_swiglu_backward(real *dg, real *du, const real *da, const real *g,
                                         const real *u, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    real sig = sigmoid(g[i]), silu = g[i] * sig, d = da[i];
    du[i] = d * silu;
    dg[i] = d * u[i] * sig * (1 + g[i] * (1 - sig));
  }
}

static void cu_swiglu_backward(void *ctx, real *dg, real *du, const real *da, const real *g,
                               const real *u, size_t n) {
  if (n == 0)
    return;
  profile_begin(CTX(ctx));
  k_swiglu_backward<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(dg, du, da, g, u, n);
  LAUNCHED(CTX(ctx), "swiglu_backward");
  profile_end(CTX(ctx), "swiglu_backward");
}

/* The masks are lorens_dropout_keep's, the function the CPU backend calls: identical bits. */
static __global__ void k_dropout(real *out, const real *x, const int64_t *token_index, int rows,
                                 int n, uint64_t seed, uint64_t step, uint32_t site, real p,
                                 real keep_scale) {
  size_t total = (size_t)rows * n;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / (size_t)n, j = i % (size_t)n;
    uint64_t index = (uint64_t)token_index[r] * (uint64_t)n + j;
    out[i] = lorens_dropout_keep(seed, step, site, index, (float)p) ? x[i] * keep_scale : 0;
  }
}

static void cu_dropout(void *ctx, real *out, const real *x, const int64_t *token_index, int rows,
                       int n, uint64_t seed, uint64_t step, uint32_t site, real p) {
  size_t total = (size_t)rows * n;
  if (total == 0)
    return;
  profile_begin(CTX(ctx));
  k_dropout<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(
      out, x, token_index, rows, n, seed, step, site, p, (real)(1.0 / (1.0 - (double)p)));
  LAUNCHED(CTX(ctx), "dropout");
  profile_end(CTX(ctx), "dropout");
}

static __global__ void k_gather_rows(real *out, const real *x, const int32_t *rows, int n,
                                     int dim) {
  size_t total = (size_t)n * dim;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x)
    out[i] = x[(size_t)rows[i / dim] * dim + i % dim];
}

static void cu_gather_rows(void *ctx, real *out, const real *x, const int32_t *rows, int n,
                           int dim) {
  size_t total = (size_t)n * dim;
  if (total == 0)
    return;
  profile_begin(CTX(ctx));
  k_gather_rows<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(out, x, rows, n, dim);
  LAUNCHED(CTX(ctx), "gather_rows");
  profile_end(CTX(ctx), "gather_rows");
}

/* One thread per column, over the rows in order: repeated rows add up as on the CPU, without
 * atomics. */
static __global__ void k_scatter_add_rows(real *dx, const real *dout, const int32_t *rows, int n,
                                          int dim) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < dim; j += gridDim.x * blockDim.x)
    for (int i = 0; i < n; i++)
      dx[(size_t)rows[i] * dim + j] += dout[(size_t)i * dim + j];
}

static void cu_scatter_add_rows(void *ctx, real *dx, const real *dout, const int32_t *rows, int n,
                                int dim) {
  if (n == 0 || dim == 0)
    return;
  profile_begin(CTX(ctx));
  k_scatter_add_rows<<<blocks_for((size_t)dim), THREADS, 0, STREAM(CTX(ctx))>>>(dx, dout, rows, n,
                                                                                dim);
  LAUNCHED(CTX(ctx), "scatter_add_rows");
  profile_end(CTX(ctx), "scatter_add_rows");
}

/* One warp per (example, choice): a dot product of dim, summed in the warp's fixed tree. */
static __global__ void k_gather_logits(real *out, const real *x, const void *table,
                                       size_t row_bytes, int bf16, const int32_t *ids,
                                       const uint32_t *count, int rows, int stride, int dim) {
  int lane = threadIdx.x % 32;
  size_t warps = (size_t)gridDim.x * blockDim.x / 32;
  for (size_t w = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32; w < (size_t)rows * stride;
       w += warps) {
    int i = (int)(w / stride), cc = (int)(w % stride);
    if ((uint32_t)cc >= count[i])
      continue;
    const real *xi = x + (size_t)i * dim;
    real d = 0;
    for (int j = lane; j < dim; j += 32)
      d += xi[j] * frozen_at(table, row_bytes, bf16, ids[w], j);
    for (int off = 16; off > 0; off >>= 1)
      d += __shfl_down_sync(0xffffffffu, d, off);
    if (lane == 0)
      out[w] = d;
  }
}

static void cu_gather_logits(void *ctx, real *out, const real *x, const lr_frozen *table,
                             const int32_t *ids, const uint32_t *count, int rows, int stride,
                             int dim) {
  size_t warps = (size_t)rows * stride;
  if (warps == 0)
    return;
  profile_begin(CTX(ctx));
  k_gather_logits<<<blocks_for(warps * 32), THREADS, 0, STREAM(CTX(ctx))>>>(
      out, x, table->data, table->row_bytes, table->dtype == LORENS_DTYPE_BF16, ids, count, rows,
      stride, dim);
  LAUNCHED(CTX(ctx), "gather_logits");
  profile_end(CTX(ctx), "gather_logits");
}

static __global__ void k_gather_logits_backward(real *dx, const real *dlogits, const void *table,
                                                size_t row_bytes, int bf16, const int32_t *ids,
                                                const uint32_t *count, int rows, int stride,
                                                int dim) {
  size_t total = (size_t)rows * dim;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    int i = (int)(idx / dim), j = (int)(idx % dim);
    real acc = dx[idx];
    for (uint32_t cc = 0; cc < count[i]; cc++)
      acc += dlogits[(size_t)i * stride + cc] *
             frozen_at(table, row_bytes, bf16, ids[(size_t)i * stride + cc], j);
    dx[idx] = acc;
  }
}

static void cu_gather_logits_backward(void *ctx, real *dx, const real *dlogits,
                                      const lr_frozen *table, const int32_t *ids,
                                      const uint32_t *count, int rows, int stride, int dim) {
  size_t total = (size_t)rows * dim;
  if (total == 0)
    return;
  profile_begin(CTX(ctx));
  k_gather_logits_backward<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(
      dx, dlogits, table->data, table->row_bytes, table->dtype == LORENS_DTYPE_BF16, ids, count,
      rows, stride, dim);
  LAUNCHED(CTX(ctx), "gather_logits_backward");
  profile_end(CTX(ctx), "gather_logits_backward");
}

/* PyTorch's AdamW as the CPU forms it: the bias corrections on the host in double, the update's
 * denominator in double. */
static __global__ void k_adamw(real *p, const real *g, real *m, real *v, size_t n, real lr,
                               real beta1, real beta2, real eps, real wd, real step_size,
                               real bc2_sqrt) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    p[i] *= 1 - lr * wd;
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= step_size * m[i] / (sqrt((double)v[i]) / bc2_sqrt + eps);
  }
}

static void cu_adamw(void *ctx, real *p, const real *g, real *m, real *v, size_t n, real lr,
                     real beta1, real beta2, real eps, real wd, int64_t step) {
  double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
  if (n == 0)
    return;
  profile_begin(CTX(ctx));
  k_adamw<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(p, g, m, v, n, lr, beta1, beta2, eps,
                                                           wd, (real)(lr / bc1),
                                                           (real)sqrt(bc2));
  LAUNCHED(CTX(ctx), "adamw");
  profile_end(CTX(ctx), "adamw");
}

/* ---- the device's peak ---------------------------------------------------------------------- */

/* Values of a few hundredths, not zeros: a tensor core multiplies zeros faster than data. */
static __global__ void k_fill_peak(float *f, __nv_bfloat16 *h, size_t n, unsigned salt) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float v = (float)((i * 2654435761u + salt) % 13u) * 0.01f;
    if (f)
      f[i] = v;
    else
      h[i] = __float2bfloat16_rn(v);
  }
}

extern "C" double lr_cuda_peak_gflops(int bf16, char *msg, size_t len) {
  enum { N = 8192, REPS = 6 };
  size_t n = (size_t)N * N, elt = bf16 ? 2 : 4;
  void *a = NULL, *b = NULL;
  float *cm = NULL, alpha = 1, beta = 0, ms = 0;
  cublasHandle_t h = NULL;
  cudaEvent_t e0 = NULL, e1 = NULL;
  cudaError_t rc;
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  double best = 0;
  if ((rc = cudaMalloc(&a, n * elt)) != cudaSuccess || (rc = cudaMalloc(&b, n * elt)) != cudaSuccess ||
      (rc = cudaMalloc((void **)&cm, n * sizeof *cm)) != cudaSuccess ||
      (rc = cudaEventCreate(&e0)) != cudaSuccess || (rc = cudaEventCreate(&e1)) != cudaSuccess)
    goto out;
  if ((st = cublasCreate(&h)) != CUBLAS_STATUS_SUCCESS)
    goto out;
  k_fill_peak<<<1024, THREADS>>>(bf16 ? NULL : (float *)a, bf16 ? (__nv_bfloat16 *)a : NULL, n, 1);
  k_fill_peak<<<1024, THREADS>>>(bf16 ? NULL : (float *)b, bf16 ? (__nv_bfloat16 *)b : NULL, n, 7);
  for (int r = 0; r < REPS && st == CUBLAS_STATUS_SUCCESS && rc == cudaSuccess; r++) {
    cudaEventRecord(e0);
    if (bf16)
      st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, N, N, &alpha, a, CUDA_R_16BF, N, b,
                        CUDA_R_16BF, N, &beta, cm, CUDA_R_32F, N, CUBLAS_COMPUTE_32F,
                        CUBLAS_GEMM_DEFAULT);
    else
      st = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, N, N, N, &alpha, (const float *)a, N,
                       (const float *)b, N, &beta, cm, N);
    cudaEventRecord(e1);
    if ((rc = cudaEventSynchronize(e1)) == cudaSuccess &&
        (rc = cudaEventElapsedTime(&ms, e0, e1)) == cudaSuccess && r > 0 && ms > 0) {
      double g = 2.0 * N * N * N / (ms * 1e-3) / 1e9; /* the first product warms cuBLAS */
      best = g > best ? g : best;
    }
  }
out:
  if (rc != cudaSuccess || st != CUBLAS_STATUS_SUCCESS) {
    snprintf(msg, len, "%s", rc != cudaSuccess ? cudaGetErrorString(rc) : cublasGetStatusString(st));
    best = 0;
  }
  if (h)
    cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(cm);
  if (e0)
    cudaEventDestroy(e0);
  if (e1)
    cudaEventDestroy(e1);
  return best;
}

extern "C" void lr_cuda_kernels_init(lr_kernels *k, lr_cuda_ctx *c) {
  memset(k, 0, sizeof *k);
  k->ctx = c;
  k->alloc = cu_alloc;
  k->free = cu_free;
  k->upload = cu_upload;
  k->download = cu_download;
  k->zero = cu_zero;
  k->copy = cu_copy;
  k->sync = cu_sync;
  k->weights = cu_weights;
  k->frozen = cu_frozen;
  k->gemm = cu_gemm;
  k->gemm_frozen = cu_gemm_frozen;
  k->add_bias = cu_add_bias;
  k->axpy = cu_axpy;
  k->sumsq = cu_sumsq;
  k->scale = cu_scale;
  k->embed = cu_embed;
  k->rmsnorm = cu_rmsnorm;
  k->rmsnorm_backward = cu_rmsnorm_backward;
  k->rmsnorm_weight_grad = cu_rmsnorm_weight_grad;
  k->rope = cu_rope;
  k->attention = cu_attention;
  k->attention_backward = cu_attention_backward;
  k->swiglu = cu_swiglu;
  k->swiglu_backward = cu_swiglu_backward;
  k->dropout = cu_dropout;
  k->gather_rows = cu_gather_rows;
  k->scatter_add_rows = cu_scatter_add_rows;
  k->gather_logits = cu_gather_logits;
  k->gather_logits_backward = cu_gather_logits_backward;
  k->adamw = cu_adamw;
}
