/*
 * cuda-kernels.cu: the kernel table (kernels.h) in CUDA and cuBLAS, fp32.
 *
 * Each kernel computes what its CPU twin (plugins/cpu/cpu-kernels.c) computes, in the same
 * formulas and, where the CPU sums in double (norms, softmax denominators, reductions), in double
 * too, so that the two agree to fp32 rounding (tests/cuda/kernel-check.c measures it on a GPU).
 * Every reduction runs in a fixed order for a given launch shape, and no kernel uses atomics, so a
 * run is bit-for-bit repeatable on one device.  Products go to cuBLAS in its default math mode
 * (fp32, no TF32).  The layout conventions are kernels.h's: row-major, T token rows.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "quant.h"
}
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
  return 0;
}

extern "C" void lr_cuda_ctx_release(lr_cuda_ctx *c) {
  if (c->stream)
    cudaStreamSynchronize(STREAM(c));
  if (c->blas)
    cublasDestroy(BLAS(c));
  cudaFree(c->scratch);
  cudaFree(c->partials);
  if (c->stream)
    cudaStreamDestroy(STREAM(c));
  c->blas = c->stream = c->scratch = NULL;
  c->partials = NULL;
  c->scratch_bytes = 0;
}

/* The context's scratch, grown to at least bytes (contents not kept). */
static void *scratch(lr_cuda_ctx *c, size_t bytes) {
  if (bytes <= c->scratch_bytes)
    return c->scratch;
  cudaStreamSynchronize(STREAM(c));
  cudaFree(c->scratch);
  c->scratch = NULL;
  c->scratch_bytes = 0;
  if (check(c, cudaMalloc(&c->scratch, bytes), "scratch allocation") != 0)
    return NULL;
  c->scratch_bytes = bytes;
  return c->scratch;
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

static const real *cu_weights(void *ctx, const lorens_tensor *t, size_t n, void **owned) {
  float *dev = device_floats(CTX(ctx), t, n);
  *owned = dev;
  return dev;
}

static int cu_frozen(void *ctx, const lorens_tensor *t, lr_frozen *out, void **owned) {
  size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
  float *dev = device_floats(CTX(ctx), t, rows * cols);
  memset(out, 0, sizeof *out);
  *owned = dev;
  if (dev == NULL)
    return -1;
  out->data = dev;
  out->dtype = LORENS_DTYPE_F32;
  out->rows = (int)rows;
  out->cols = (int)cols;
  out->row_bytes = cols * sizeof(float);
  return 0;
}

/* ---- linear algebra ------------------------------------------------------------------------ */

/* Row-major C = alpha op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T: the same
 * call with the operands swapped. */
static void cu_gemm(void *ctx, int ta, int tb, int m, int n, int k, real alpha, const real *a,
                    int lda, const real *b, int ldb, real beta, real *cm, int ldc) {
  lr_cuda_ctx *c = CTX(ctx);
  if (m == 0 || n == 0 || c->failed)
    return;
  check_blas(c, cublasSgemm(BLAS(c), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                            n, m, k, &alpha, b, ldb, a, lda, &beta, cm, ldc), "gemm");
}

static void cu_gemm_frozen(void *ctx, int trans, int T, real alpha, const real *x, int ldx,
                           const lr_frozen *w, real beta, real *y, int ldy) {
  const real *a = (const real *)w->data;
  if (trans)
    cu_gemm(ctx, 0, 1, T, w->rows, w->cols, alpha, x, ldx, a, w->cols, beta, y, ldy);
  else
    cu_gemm(ctx, 0, 0, T, w->cols, w->rows, alpha, x, ldx, a, w->cols, beta, y, ldy);
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
  k_add_bias<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(y, b, total, n);
  LAUNCHED(CTX(ctx), "add_bias");
}

static __global__ void k_axpy(size_t n, real a, const real *x, real *y) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    y[i] += a * x[i];
}

static void cu_axpy(void *ctx, size_t n, real a, const real *x, real *y) {
  if (n == 0)
    return;
  k_axpy<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(n, a, x, y);
  LAUNCHED(CTX(ctx), "axpy");
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
  k_sumsq<<<SUMSQ_BLOCKS, THREADS, 0, STREAM(c)>>>(x, n, c->partials);
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
  k_scale<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(x, n, a);
  LAUNCHED(CTX(ctx), "scale");
}

/* ---- layers -------------------------------------------------------------------------------- */

/* Row r of an fp32 frozen matrix (cu_frozen makes every one fp32). */
static __device__ const real *frozen_row(const void *data, size_t row_bytes, int r) {
  return (const real *)((const unsigned char *)data + (size_t)r * row_bytes);
}

static __global__ void k_embed(real *out, const void *table, size_t row_bytes,
                               const int32_t *tokens, int rows, int dim) {
  for (int r = blockIdx.x; r < rows; r += gridDim.x) {
    const real *e = frozen_row(table, row_bytes, tokens[r]);
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
      out[(size_t)r * dim + j] = e[j];
  }
}

static void cu_embed(void *ctx, real *out, const lr_frozen *table, const int32_t *tokens,
                     int rows, int dim) {
  if (rows == 0)
    return;
  k_embed<<<blocks_for((size_t)rows, 1), 128, 0, STREAM(CTX(ctx))>>>(out, table->data,
                                                                     table->row_bytes, tokens,
                                                                     rows, dim);
  LAUNCHED(CTX(ctx), "embed");
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
  k_rmsnorm<<<blocks_for((size_t)rows, 1), THREADS, 0, STREAM(CTX(ctx))>>>(out, rstd, x, w, rows,
                                                                           dim, eps);
  LAUNCHED(CTX(ctx), "rmsnorm");
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
  k_rmsnorm_backward<<<blocks_for((size_t)rows, 1), THREADS, 0, STREAM(CTX(ctx))>>>(
      dx, dout, x, w, rstd, rows, dim);
  LAUNCHED(CTX(ctx), "rmsnorm_backward");
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
  k_rmsnorm_weight_grad<<<blocks_for((size_t)dim), THREADS, 0, STREAM(CTX(ctx))>>>(dw, dout, x,
                                                                                   rstd, rows, dim);
  LAUNCHED(CTX(ctx), "rmsnorm_weight_grad");
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
  k_rope<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(x, pos, inv_freq, rows, n_heads,
                                                               head_dim, inverse);
  LAUNCHED(CTX(ctx), "rope");
}

/*
 * Attention over packed sequences (lr_attn_shape).  A row finds its sequence by binary search in
 * seq_start.  Row t (local index) sees keys u <= t, except, with block_start, the keys between
 * the prefix and its own block: [gap0, gap1).
 */
typedef struct row_place {
  int s, start, len, t; /* sequence, its first row, its length, the row's index in it */
  int gap0, gap1;
} row_place;

static __device__ row_place place_row(const lr_attn_shape sh, int row) {
  row_place p;
  int lo = 0, hi = sh.n_seq - 1;
  while (lo < hi) { /* the last s with seq_start[s] <= row */
    int mid = (lo + hi + 1) / 2;
    if (sh.seq_start[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  p.s = lo;
  p.start = sh.seq_start[lo];
  p.len = sh.seq_start[lo + 1] - p.start;
  p.t = row - p.start;
  p.gap0 = p.gap1 = 0;
  if (sh.block_start && sh.block_start[row] > sh.prefix[lo]) {
    p.gap0 = sh.prefix[lo];
    p.gap1 = sh.block_start[row];
  }
  return p;
}

/* One thread's dot product of two head-sized rows, in order. */
static __device__ real dot(const real *a, const real *b, int n) {
  real d = 0;
  for (int e = 0; e < n; e++)
    d += a[e] * b[e];
  return d;
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

/* dst[e] = sum over u <= t of w[u] * m[(start + u) * stride + e], e < hd, across the block's
 * threads: a row of weights (softmax or score gradients) times the rows of V or K it covers. */
static __device__ void weighted_rows(real *dst, const real *w, const real *m, int start,
                                     int stride, int t, int hd) {
  for (int e = threadIdx.x; e < hd; e += blockDim.x) {
    real acc = 0;
    for (int u = 0; u <= t; u++)
      acc += w[u] * m[(size_t)(start + u) * stride + e];
    dst[e] = acc;
  }
}

/* One block per (row, head): the row's scores, its softmax (written to probs, zeros where it does
 * not look) and its output. */
static __global__ void k_attention(real *out, real *probs, const real *q, const real *k,
                                   const real *v, const lr_attn_shape sh, int rows) {
  __shared__ double dsh[ATTN_THREADS];
  __shared__ real rsh[ATTN_THREADS];
  int hd = sh.head_dim, qs = sh.n_heads * hd, kvs = sh.n_kv_heads * hd;
  real scale = (real)(1.0 / sqrt((double)hd));
  for (size_t job = blockIdx.x; job < (size_t)rows * sh.n_heads; job += gridDim.x) {
    int row = (int)(job / sh.n_heads), h = (int)(job % sh.n_heads);
    int g = h / (sh.n_heads / sh.n_kv_heads);
    row_place p = place_row(sh, row);
    real *pr = probs + sh.probs_start[p.s] + ((size_t)h * p.len + p.t) * p.len;
    const real *qr = q + (size_t)row * qs + (size_t)h * hd;
    real mx = -INFINITY;
    for (int u = threadIdx.x; u < p.len; u += blockDim.x) {
      real sc = 0;
      if (u <= p.t) { /* scores as the CPU's GEMM forms them: scale * dot */
        sc = scale * dot(qr, k + (size_t)(p.start + u) * kvs + (size_t)g * hd, hd);
        if (sees(&p, u) && sc > mx)
          mx = sc;
      }
      pr[u] = sc;
    }
    mx = block_max(mx, rsh);
    double sum = 0;
    for (int u = threadIdx.x; u < p.len; u += blockDim.x) {
      real e = sees(&p, u) ? expf(pr[u] - mx) : 0;
      pr[u] = e;
      sum += e;
    }
    sum = block_sum(sum, dsh);
    real inv = (real)(1.0 / sum);
    for (int u = threadIdx.x; u < p.len; u += blockDim.x)
      pr[u] *= inv;
    __syncthreads();
    weighted_rows(out + (size_t)row * qs + (size_t)h * hd, pr, v + (size_t)g * hd, p.start, kvs,
                  p.t, hd);
    __syncthreads();
  }
}

static void cu_attention(void *ctx, real *out, real *probs, const real *q, const real *k,
                         const real *v, const lr_attn_shape *sh) {
  lr_cuda_ctx *c = CTX(ctx);
  int rows = sh->rows;
  if (sh->n_seq == 0 || rows == 0 || c->failed)
    return;
  k_attention<<<blocks_for((size_t)rows * sh->n_heads, 1), ATTN_THREADS, 0, STREAM(c)>>>(
      out, probs, q, k, v, *sh, rows);
  LAUNCHED(c, "attention");
}

/* Backward, first half: per (row, head), dP = dO V^T over the keys the row sees,
 * dS = P * (dP - rowsum(P * dP)) * scale into ds (laid out as probs), and dQ = dS K. */
static __global__ void k_attention_backward_q(real *dq, real *ds, const real *dout,
                                              const real *probs, const real *k, const real *v,
                                              const lr_attn_shape sh, int rows) {
  __shared__ double dsh[ATTN_THREADS];
  int hd = sh.head_dim, qs = sh.n_heads * hd, kvs = sh.n_kv_heads * hd;
  real scale = (real)(1.0 / sqrt((double)hd));
  for (size_t job = blockIdx.x; job < (size_t)rows * sh.n_heads; job += gridDim.x) {
    int row = (int)(job / sh.n_heads), h = (int)(job % sh.n_heads);
    int g = h / (sh.n_heads / sh.n_kv_heads);
    row_place p = place_row(sh, row);
    size_t at = sh.probs_start[p.s] + ((size_t)h * p.len + p.t) * p.len;
    const real *pr = probs + at, *dor = dout + (size_t)row * qs + (size_t)h * hd;
    real *dr = ds + at;
    double rowdot = 0;
    for (int u = threadIdx.x; u < p.len; u += blockDim.x) {
      real d = 0;
      if (u <= p.t) {
        d = dot(dor, v + (size_t)(p.start + u) * kvs + (size_t)g * hd, hd);
        rowdot += (double)pr[u] * d;
      }
      dr[u] = d;
    }
    rowdot = block_sum(rowdot, dsh);
    for (int u = threadIdx.x; u < p.len; u += blockDim.x)
      dr[u] = u <= p.t ? pr[u] * (dr[u] - (real)rowdot) * scale : 0;
    __syncthreads();
    weighted_rows(dq + (size_t)row * qs + (size_t)h * hd, dr, k + (size_t)g * hd, p.start, kvs,
                  p.t, hd);
    __syncthreads();
  }
}

/* Second half: per (key row, kv head), dK = sum over the group's heads and the rows t >= u of
 * dS[t, u] Q[t], dV likewise of P[t, u] dO[t]; each block writes its rows whole. */
static __global__ void k_attention_backward_kv(real *dk, real *dv, const real *ds,
                                               const real *dout, const real *probs,
                                               const real *q, const lr_attn_shape sh, int rows) {
  int hd = sh.head_dim, qs = sh.n_heads * hd, kvs = sh.n_kv_heads * hd;
  int group = sh.n_heads / sh.n_kv_heads;
  for (size_t job = blockIdx.x; job < (size_t)rows * sh.n_kv_heads; job += gridDim.x) {
    int row = (int)(job / sh.n_kv_heads), g = (int)(job % sh.n_kv_heads);
    row_place p = place_row(sh, row);
    int u = p.t;
    for (int e = threadIdx.x; e < hd; e += blockDim.x) {
      real ak = 0, av = 0;
      for (int h = g * group; h < (g + 1) * group; h++) {
        size_t base = sh.probs_start[p.s] + (size_t)h * p.len * p.len;
        for (int t = u; t < p.len; t++) {
          size_t at = base + (size_t)t * p.len + u, r = (size_t)(p.start + t);
          ak += ds[at] * q[r * qs + (size_t)h * hd + e];
          av += probs[at] * dout[r * qs + (size_t)h * hd + e];
        }
      }
      dk[(size_t)row * kvs + (size_t)g * hd + e] = ak;
      dv[(size_t)row * kvs + (size_t)g * hd + e] = av;
    }
  }
}

static void cu_attention_backward(void *ctx, real *dq, real *dk, real *dv, const real *dout,
                                  const real *probs, const real *q, const real *k, const real *v,
                                  const lr_attn_shape *sh) {
  lr_cuda_ctx *c = CTX(ctx);
  int rows = sh->rows;
  real *ds;
  if (sh->n_seq == 0 || rows == 0 || c->failed)
    return;
  if ((ds = (real *)scratch(c, (size_t)sh->n_probs * sizeof *ds)) == NULL)
    return;
  k_attention_backward_q<<<blocks_for((size_t)rows * sh->n_heads, 1), ATTN_THREADS, 0,
                           STREAM(c)>>>(dq, ds, dout, probs, k, v, *sh, rows);
  if (LAUNCHED(c, "attention_backward") != 0)
    return;
  k_attention_backward_kv<<<blocks_for((size_t)rows * sh->n_kv_heads, 1), 64, 0, STREAM(c)>>>(
      dk, dv, ds, dout, probs, q, *sh, rows);
  LAUNCHED(c, "attention_backward");
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
  k_swiglu<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(a, g, u, n);
  LAUNCHED(CTX(ctx), "swiglu");
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
  k_swiglu_backward<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(dg, du, da, g, u, n);
  LAUNCHED(CTX(ctx), "swiglu_backward");
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
  k_dropout<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(
      out, x, token_index, rows, n, seed, step, site, p, (real)(1.0 / (1.0 - (double)p)));
  LAUNCHED(CTX(ctx), "dropout");
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
  k_gather_rows<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(out, x, rows, n, dim);
  LAUNCHED(CTX(ctx), "gather_rows");
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
  k_scatter_add_rows<<<blocks_for((size_t)dim), THREADS, 0, STREAM(CTX(ctx))>>>(dx, dout, rows, n,
                                                                                dim);
  LAUNCHED(CTX(ctx), "scatter_add_rows");
}

/* One warp per (example, choice): a dot product of dim, summed in the warp's fixed tree. */
static __global__ void k_gather_logits(real *out, const real *x, const void *table,
                                       size_t row_bytes, const int32_t *ids,
                                       const uint32_t *count, int rows, int stride, int dim) {
  int lane = threadIdx.x % 32;
  size_t warps = (size_t)gridDim.x * blockDim.x / 32;
  for (size_t w = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32; w < (size_t)rows * stride;
       w += warps) {
    int i = (int)(w / stride), cc = (int)(w % stride);
    if ((uint32_t)cc >= count[i])
      continue;
    const real *e = frozen_row(table, row_bytes, ids[w]), *xi = x + (size_t)i * dim;
    real d = 0;
    for (int j = lane; j < dim; j += 32)
      d += xi[j] * e[j];
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
  k_gather_logits<<<blocks_for(warps * 32), THREADS, 0, STREAM(CTX(ctx))>>>(
      out, x, table->data, table->row_bytes, ids, count, rows, stride, dim);
  LAUNCHED(CTX(ctx), "gather_logits");
}

static __global__ void k_gather_logits_backward(real *dx, const real *dlogits, const void *table,
                                                size_t row_bytes, const int32_t *ids,
                                                const uint32_t *count, int rows, int stride,
                                                int dim) {
  size_t total = (size_t)rows * dim;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    int i = (int)(idx / dim), j = (int)(idx % dim);
    real acc = dx[idx];
    for (uint32_t cc = 0; cc < count[i]; cc++)
      acc += dlogits[(size_t)i * stride + cc] *
             frozen_row(table, row_bytes, ids[(size_t)i * stride + cc])[j];
    dx[idx] = acc;
  }
}

static void cu_gather_logits_backward(void *ctx, real *dx, const real *dlogits,
                                      const lr_frozen *table, const int32_t *ids,
                                      const uint32_t *count, int rows, int stride, int dim) {
  size_t total = (size_t)rows * dim;
  if (total == 0)
    return;
  k_gather_logits_backward<<<blocks_for(total), THREADS, 0, STREAM(CTX(ctx))>>>(
      dx, dlogits, table->data, table->row_bytes, ids, count, rows, stride, dim);
  LAUNCHED(CTX(ctx), "gather_logits_backward");
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
  k_adamw<<<blocks_for(n), THREADS, 0, STREAM(CTX(ctx))>>>(p, g, m, v, n, lr, beta1, beta2, eps,
                                                           wd, (real)(lr / bc1),
                                                           (real)sqrt(bc2));
  LAUNCHED(CTX(ctx), "adamw");
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
