/*
 * cpu-kernels.c: the kernel table (plugins/common/kernels.h) on the CPU, with CBLAS for the
 * matrix products and OpenMP across rows, heads and sequences.
 *
 * Every parallel loop splits work into pieces whose results do not depend on how the pieces are
 * scheduled, and every reduction runs in a fixed order, so a run is bit-for-bit repeatable for a
 * given thread count.  Built with real = float for the backend and real = double for the gradient
 * tests (see real.h).
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include LORENS_CBLAS_HEADER

#include "cpu-attention-avx512.h"
#include "cpu-kernels.h"
#include "quant.h"

#ifdef LR_REAL_DOUBLE
#define GEMM cblas_dgemm
#define AXPY cblas_daxpy
#else
#define GEMM cblas_sgemm
#define AXPY cblas_saxpy
#endif

#define CTX(c) ((const lr_cpu_ctx *)(c))
#define NT(c) (CTX(c)->n_threads)

/* Loops over fewer elements than this run on one thread: forking a team costs microseconds, and
 * a descheduled team member (a busy machine) costs a whole time slice at the barrier. */
#define PAR_MIN 16384
#define PAR(c, work) if ((size_t)(work) >= PAR_MIN) num_threads(NT(c))

/* Elementwise loops that run on every hidden unit or attention score are compiled once more for
 * AVX-512 and AVX2 and picked at load time (an ifunc), since the plugin itself is built for the
 * baseline x86-64 (SSE2). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__SANITIZE_ADDRESS__)
#define LR_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LR_VECTOR_CLONES
#endif

/*
 * exp in the compute type.  The fp32 build uses a branch-free exp that vectorises (libm's expf
 * does not, and it took a tenth of a training step in SwiGLU and softmax): 2^k exp(r) with
 * r = x - k ln 2 in [-ln 2 / 2, ln 2 / 2] and Cephes' degree-6 polynomial for exp(r); within
 * 8.1e-8 relative of exp over [-87, 88] (libm's expf: 6.0e-8), x clamped to that range.
 */
static inline real real_exp(real x) {
#ifdef LR_REAL_DOUBLE
  return exp(x);
#else
  float k, r, p, scale;
  uint32_t bits;
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  k = x * 1.44269504088896341f + 12582912.0f; /* round to nearest: 1.5 * 2^23 */
  k -= 12582912.0f;
  r = x - k * 0.693145751953125f; /* ln 2 in two parts, so that r is exact */
  r -= k * 1.428606765330187045e-06f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  bits = (uint32_t)((int32_t)k + 127) << 23;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
#endif
}

/* Sums in double in a fixed order, whatever the vector width or the operands' alignment (a
 * vectoriser that peels iterations to align would change the order with the address, and two
 * passes over the same values at different addresses would round apart): term j goes into
 * partial sum j % LANES, and the partial sums are added in lane order. */
#define LANES 8

static inline double lanes_total(const double *part) {
  double total = 0;
  for (int l = 0; l < LANES; l++)
    total += part[l];
  return total;
}

/* sum of x[j] * y[j] * (z ? z[j] : 1) */
static inline double fixed_order_dot(const real *x, const real *y, const real *z, int n) {
  double part[LANES] = {0};
  for (int j = 0; j < n; j++)
    part[j % LANES] += (double)x[j] * y[j] * (z ? z[j] : 1);
  return lanes_total(part);
}

static inline double fixed_order_sum(const real *x, int n) {
  double part[LANES] = {0};
  for (int j = 0; j < n; j++)
    part[j % LANES] += (double)x[j];
  return lanes_total(part);
}

/* The logistic function in the compute type. */
static inline real sigmoid(real x) {
  return 1 / (1 + real_exp(-x));
}

/* ---- memory ------------------------------------------------------------------------------- */

#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* At least `bytes` (*size of them: whole huge pages) aligned to a huge page and advised to be
 * backed by them, which Linux does only for memory advised so when transparent huge pages are in
 * their "madvise" mode.  Not touched: the pages that are never touched take no memory. */
static void *huge_pages(size_t bytes, size_t *size) {
  void *p;
  *size = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
  p = aligned_alloc(HUGE_PAGE_BYTES, *size);
#ifdef MADV_HUGEPAGE
  if (p != NULL)
    madvise(p, *size, MADV_HUGEPAGE); /* advice: refused or not, the memory is as good */
#endif
  return p;
}

/* Backend memory, zero-filled.  An allocation of 2 MiB or more (the activations, the members'
 * buffers) is in huge pages: a step sweeps hundreds of MB of activations, and with 4 KiB pages
 * their TLB misses cost 3-4% of a SmolLM2 step (docs/precision.md). */
static void *cpu_alloc(void *ctx, size_t bytes) {
  size_t size;
  void *p;
  (void)ctx;
  if (bytes < HUGE_PAGE_BYTES)
    return calloc(1, bytes ? bytes : 1);
  if ((p = huge_pages(bytes, &size)) != NULL)
    memset(p, 0, size);
  return p;
}

static void cpu_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

static int cpu_transfer(void *ctx, void *dst, const void *src, size_t bytes) {
  (void)ctx;
  if (bytes)
    memcpy(dst, src, bytes);
  return 0;
}

static void cpu_zero(void *ctx, void *p, size_t bytes) {
  (void)ctx;
  if (bytes)
    memset(p, 0, bytes);
}

static void cpu_copy(void *ctx, void *dst, const void *src, size_t bytes) {
  (void)ctx;
  if (bytes)
    memmove(dst, src, bytes);
}

/* A failed bf16 product (out of memory inside oneDNN) surfaces here, as a device error would. */
static int cpu_sync(void *ctx, char *msg, size_t msg_len) {
  lr_cpu_ctx *c = (lr_cpu_ctx *)ctx;
  if (c->error[0] == '\0')
    return 0;
  snprintf(msg, msg_len, "%s", c->error);
  c->error[0] = '\0';
  return -1;
}

static const real *cpu_weights(void *ctx, const lorens_tensor *t, size_t n, void **owned) {
  real *out;
  (void)ctx;
  *owned = NULL;
#ifndef LR_REAL_DOUBLE
  if (t->dtype == LORENS_DTYPE_F32)
    return (const real *)t->data; /* the mapped file is used in place */
#endif
  out = malloc(n * sizeof *out);
  if (out == NULL)
    return NULL;
  if (t->dtype >= LORENS_DTYPE_GGML_BASE) {
    /* Quant blocks, row by row (the driver checked the type and the shape). */
    size_t cols = (size_t)t->shape[1], row_bytes = 0;
    int type = lr_quant_type_of_dtype(t->dtype);
    float *row = malloc(cols * sizeof *row);
    if (row == NULL || lr_quant_row_bytes(type, cols, &row_bytes) != LORENS_OK) {
      free(row);
      free(out);
      return NULL;
    }
    for (size_t r = 0; r < n / cols; r++) {
      lr_quant_dequantize_row(type, (const unsigned char *)t->data + r * row_bytes, row, cols);
      for (size_t j = 0; j < cols; j++)
        out[r * cols + j] = (real)row[j];
    }
    free(row);
    *owned = out;
    return out;
  }
  for (size_t i = 0; i < n; i++) {
    switch (t->dtype) {
    case LORENS_DTYPE_F32: out[i] = (real)((const float *)t->data)[i]; break;
    case LORENS_DTYPE_F16: out[i] = (real)lorens_f16_to_f32(((const uint16_t *)t->data)[i]); break;
    case LORENS_DTYPE_BF16: out[i] = (real)lorens_bf16_to_f32(((const uint16_t *)t->data)[i]); break;
    }
  }
  *owned = out;
  return out;
}

/* ---- frozen matrices in their stored type ------------------------------------------------- */

/* The largest tile of a frozen matrix expanded at once, in reals (4 MiB in fp32): every layer
 * matrix of a 135M-2B model fits in one, so its product is the same single GEMM as with fp32
 * weights; only a vocabulary head takes several.  Expanding costs one pass over the tile, against
 * T multiply-adds per element in the GEMM. */
#define TILE_REALS ((size_t)1 << 20)

int lr_cpu_takes_dtype(int32_t dtype) {
  int t = lr_quant_type_of_dtype(dtype);
  return t >= 0 && lr_quant_can_dequantize(t);
}

static size_t tile_rows(const lr_frozen *w) {
  size_t r = TILE_REALS / (size_t)w->cols;
  return r < 1 ? 1 : r > (size_t)w->rows ? (size_t)w->rows : r;
}

/* Row r of w as reals, into dst [cols]. */
static void expand_row(const lr_frozen *w, int r, real *dst) {
  const unsigned char *src = (const unsigned char *)w->data + (size_t)r * w->row_bytes;
  if (w->dtype == LORENS_DTYPE_F32) {
    memcpy(dst, src, (size_t)w->cols * sizeof *dst);
    return;
  }
#ifndef LR_REAL_DOUBLE /* the double build converts every frozen matrix to reals at open */
  lr_quant_dequantize_row(lr_quant_type_of_dtype(w->dtype), src, dst, (size_t)w->cols);
#endif
}

/* Rows r0 .. r0 + n of w as reals, into dst [n, cols]. */
static void frozen_rows(void *ctx, const lr_frozen *w, int r0, int n, real *dst) {
#pragma omp parallel for PAR(ctx, (size_t)n * w->cols) schedule(static)
  for (int r = 0; r < n; r++)
    expand_row(w, r0 + r, dst + (size_t)r * w->cols);
}

/* One row of a frozen matrix as reals: in place for fp32, else expanded into scratch. */
static const real *frozen_row(const lr_frozen *w, int r, real *scratch) {
  if (w->dtype == LORENS_DTYPE_F32)
    return (const real *)((const unsigned char *)w->data + (size_t)r * w->row_bytes);
  expand_row(w, r, scratch);
  return scratch;
}

static const real *cpu_weights(void *ctx, const lorens_tensor *t, size_t n, void **owned);

#ifndef LR_REAL_DOUBLE
/* Grows *buf to hold n elements; 0, or -1 when out of memory.  One per element type: a void **
 * would alias the typed pointers. */
static int grow_reals(real **buf, size_t *cap, size_t n) {
  real *p;
  if (n <= *cap)
    return 0;
  if ((p = realloc(*buf, n * sizeof *p)) == NULL)
    return -1;
  *buf = p;
  *cap = n;
  return 0;
}

static int grow_u16(uint16_t **buf, size_t *cap, size_t n) {
  uint16_t *p;
  if (n <= *cap)
    return 0;
  if ((p = realloc(*buf, n * sizeof *p)) == NULL)
    return -1;
  *buf = p;
  *cap = n;
  return 0;
}

/* Rows r0 .. r0 + n of w rounded to bf16, into dst [n, cols]: other types than F32 go through
 * a float chunk on the stack (a whole number of blocks of every type). */
static void frozen_rows_bf16(lr_cpu_ctx *c, const lr_frozen *w, int r0, int n, uint16_t *dst) {
  enum { CHUNK = 4 * LR_QUANT_MAX_BLOCK_ELEMS };
  size_t cols = (size_t)w->cols;
  int type = lr_quant_type_of_dtype(w->dtype);
  size_t block_elems = lr_quant_block_elems(type), block_bytes = lr_quant_block_bytes(type);
#pragma omp parallel for PAR(c, (size_t)n * cols) schedule(static)
  for (int r = 0; r < n; r++) {
    const unsigned char *src = (const unsigned char *)w->data + (size_t)(r0 + r) * w->row_bytes;
    uint16_t *out = dst + (size_t)r * cols;
    float tmp[CHUNK];
    if (w->dtype == LORENS_DTYPE_F32) {
      lr_bf16_round((const float *)src, out, cols);
      continue;
    }
    for (size_t done = 0; done < cols; done += CHUNK) {
      size_t m = cols - done < CHUNK ? cols - done : CHUNK;
      lr_quant_dequantize_row(type, src + done / block_elems * block_bytes, tmp, m);
      lr_bf16_round(tmp, out + done, m);
    }
  }
}

/* Converts w (F32 or F16) to a bf16 copy that *owned keeps, and points w at it. */
static int hold_bf16(lr_cpu_ctx *c, lr_frozen *w, void **owned) {
  size_t cols = (size_t)w->cols;
  uint16_t *copy = malloc((size_t)w->rows * cols * sizeof *copy);
  if (copy == NULL)
    return -1;
  frozen_rows_bf16(c, w, 0, w->rows, copy);
  w->data = copy;
  w->dtype = LORENS_DTYPE_BF16;
  w->row_bytes = cols * sizeof *copy;
  w->held_bytes = (size_t)w->rows * w->row_bytes;
  *owned = copy;
  return 0;
}

/* Lets the pages go that only [p, p + bytes) uses, if they come from a file (the model's
 * mapping): advice, which changes no byte; read again, they come back from the file. */
static void release_file_pages(const void *p, size_t bytes) {
#ifdef MADV_PAGEOUT
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (uintptr_t)p, hi = lo + bytes;
  lo = (lo + page - 1) / page * page;
  hi = hi / page * page;
  if (hi > lo)
    madvise((void *)lo, hi - lo, MADV_PAGEOUT);
#else
  (void)p;
  (void)bytes;
#endif
}

/*
 * Packed matrices live in chunks of huge pages that the context owns, one after another: a
 * product streams a matrix of several MB, whose TLB misses with 4 KiB pages cost it about as much
 * as packing saves, while a huge-page allocation of its own would round 3.5 MB up to 4 MiB.  A
 * chunk's unused end is never touched, so it takes no memory; nor do the gradients' layouts of a
 * session that only scores, which have chunks of their own (packs[1]) filled at the first input
 * gradient.
 */
typedef struct pack_chunk {
  struct pack_chunk *next;
  size_t used, cap;
} pack_chunk;

/* Only a chunk's last huge page is part used (its untouched ones take no memory), so chunks are
 * large: reserved address space, not memory. */
#define PACK_CHUNK_BYTES ((size_t)256 << 20)

/* `bytes` of the context's packing chunks `which`, 64-byte aligned; NULL when out of memory. */
static void *pack_space(lr_cpu_ctx *c, int which, size_t bytes) {
  pack_chunk *h = c->packs[which];
  size_t need = (bytes + 63) & ~(size_t)63, head = (sizeof *h + 63) & ~(size_t)63;
  void *p;
  if (h == NULL || h->cap - h->used < need) {
    size_t cap;
    if ((h = huge_pages(head + need > PACK_CHUNK_BYTES ? head + need : PACK_CHUNK_BYTES, &cap)) ==
        NULL)
      return NULL;
    *h = (pack_chunk){.next = c->packs[which], .used = head, .cap = cap};
    c->packs[which] = h;
  }
  p = (char *)h + h->used;
  h->used += need;
  return p;
}

/* Fills w's packed layout for the forward product (trans) or the input gradient from its stored
 * rows rounded to bf16 (cpu-bf16.h); the file's pages under them are let go again.  0, or -1
 * with the error kept. */
static int fill_packing(lr_cpu_ctx *c, const lr_frozen *w, int trans) {
  const uint16_t *rows16 = w->data;
  uint16_t *plain = NULL;
  int rc;
  if (w->dtype != LORENS_DTYPE_BF16) {
    if ((plain = malloc((size_t)w->rows * (size_t)w->cols * sizeof *plain)) == NULL) {
      snprintf(c->error, sizeof c->error, "out of memory (a bf16 copy of %d x %d to pack)",
               w->rows, w->cols);
      return -1;
    }
    frozen_rows_bf16(c, w, 0, w->rows, plain);
    rows16 = plain;
  }
  rc = lr_bf16_pack(c->bf16, c->n_threads, w->packed, trans, rows16, c->error, sizeof c->error);
  free(plain);
  release_file_pages(w->data, (size_t)w->rows * w->row_bytes);
  return rc;
}

/* Packs layer matrix w for oneDNN in `bytes` (lr_bf16_pack_bytes) of the context's chunks:
 * the forward layout now, the gradient's at the first input gradient (gemm_frozen_bf16). */
static int pack_bf16(lr_cpu_ctx *c, lr_frozen *w, const size_t bytes[2]) {
  void *head = pack_space(c, 0, bytes[0]), *grad = pack_space(c, 1, bytes[1]);
  if (head == NULL || grad == NULL ||
      (w->packed = lr_bf16_pack_plan(c->bf16, w->rows, w->cols, head, grad, c->error,
                                     sizeof c->error)) == NULL ||
      fill_packing(c, w, 1) != 0)
    return -1; /* the space taken stays in its chunks until the context is released */
  w->held_bytes = bytes[0] + bytes[1];
  return 0;
}

/* The bf16 scratch a product with w needs: a tile of its rows unless they are stored in bf16. */
static int grow_bf16_scratch(lr_cpu_ctx *c, const lr_frozen *w) {
  if (w->dtype == LORENS_DTYPE_BF16)
    return 0;
  return grow_u16(&c->tile16, &c->tile16_cap, tile_rows(w) * (size_t)w->cols);
}
#endif

/*
 * fp32 (in the float build) and every type quant.h expands stay where the host put them; the
 * tile scratch grows to the largest tile.  The double build (the gradient tests) converts every
 * matrix to doubles once, so that its products stay exact.
 */
static int cpu_frozen(void *ctx, const lorens_tensor *t, int table, lr_frozen *out,
                      void **owned) {
  lr_cpu_ctx *c = (lr_cpu_ctx *)ctx;
  int type = lr_quant_type_of_dtype(t->dtype);
  size_t row_bytes = 0;
  *owned = NULL;
  memset(out, 0, sizeof *out);
  out->rows = (int)t->shape[0];
  out->cols = (int)t->shape[1];
#ifndef LR_REAL_DOUBLE
  if (type >= 0 && lr_quant_row_bytes(type, (size_t)out->cols, &row_bytes) == LORENS_OK &&
      lr_cpu_takes_dtype(t->dtype)) {
    size_t cols = (size_t)out->cols, need = tile_rows(out) * cols;
    out->data = t->data;
    out->dtype = t->dtype;
    out->row_bytes = row_bytes;
    if (c->bf16) {
      /* A layer's matrix is rounded to bf16 and packed for both products once here, while the
       * budget lasts: otherwise every product would expand quant blocks whole and oneDNN would
       * repack the rows, twice a step.  Beyond it, F32 and F16 are held as plain bf16 copies;
       * BF16 and quant blocks stay as stored, rounded a tile at a time.  The fp32 tile holds one
       * row (embed, gather_logits). */
      size_t bytes[2];
      if (!table && lr_bf16_pack_bytes(c->bf16, out->rows, out->cols, bytes) == 0) {
        if (bytes[0] + bytes[1] <= c->bf16_hold_left) {
          if (pack_bf16(c, out, bytes) != 0)
            return -1;
          c->bf16_hold_left -= bytes[0] + bytes[1];
          c->bf16_packed++;
          return grow_reals(&c->tile, &c->tile_cap, cols);
        }
        c->bf16_unpacked++;
        c->bf16_unpacked_bytes += bytes[0] + bytes[1];
      }
      if ((t->dtype == LORENS_DTYPE_F32 || t->dtype == LORENS_DTYPE_F16) &&
          hold_bf16(c, out, owned) != 0)
        return -1;
      return grow_bf16_scratch(c, out) || grow_reals(&c->tile, &c->tile_cap, cols);
    }
    if (t->dtype != LORENS_DTYPE_F32)
      return grow_reals(&c->tile, &c->tile_cap, need);
    return 0;
  }
#else
  (void)c;
  (void)type;
  (void)row_bytes;
  (void)table;
#endif
  out->data = cpu_weights(ctx, t, (size_t)out->rows * (size_t)out->cols, owned);
  out->dtype = LORENS_DTYPE_F32;
  out->row_bytes = (size_t)out->cols * sizeof(real);
  out->held_bytes = *owned ? (size_t)out->rows * out->row_bytes : 0;
  return out->data ? 0 : -1;
}

void lr_cpu_ctx_release(lr_cpu_ctx *ctx) {
#ifndef LR_REAL_DOUBLE
  for (int i = 0; i < 2; i++)
    while (ctx->packs[i] != NULL) {
      pack_chunk *next = ctx->packs[i]->next;
      free(ctx->packs[i]);
      ctx->packs[i] = next;
    }
#endif
  free(ctx->tile);
  free(ctx->tile16);
  free(ctx->x16);
  free(ctx->rope);
  free(ctx->rope_freq);
  ctx->rope = NULL;
  ctx->rope_freq = NULL;
  ctx->rope_half = ctx->rope_positions = 0;
  ctx->tile = NULL;
  ctx->tile16 = ctx->x16 = NULL;
  ctx->tile_cap = ctx->tile16_cap = ctx->x16_cap = 0;
}

/* ---- linear algebra ----------------------------------------------------------------------- */

/*
 * BLAS runs single-threaded inside our OpenMP threads (the backend sets OpenBLAS to one thread):
 * two thread pools spinning against each other on the same cores cost more than they give.  A
 * product is split into one slice of rows (or of columns, when there are few rows) per thread;
 * each element is computed by exactly one call, in the same order whatever the split, so results
 * do not depend on the thread count.
 */
static void cpu_gemm(void *ctx, int ta, int tb, int m, int n, int k, real alpha, const real *a,
                     int lda, const real *b, int ldb, real beta, real *c, int ldc) {
  int nt = NT(ctx), by_rows = m >= n || n < 64;
  int len = by_rows ? m : n;
  if (m == 0 || n == 0)
    return;
  if (nt <= 1 || len < 32 * nt || (double)m * n * k < 1e6) {
    GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
         alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int part = 0; part < nt; part++) {
    /* Slices are multiples of 16 so that every thread gets whole SIMD panels. */
    int chunk = ((len + nt - 1) / nt + 15) / 16 * 16, lo = part * chunk;
    int hi = lo + chunk < len ? lo + chunk : len;
    if (lo >= hi)
      continue;
    if (by_rows)
      GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, hi - lo,
           n, k, alpha, ta ? a + lo : a + (size_t)lo * lda, lda, b, ldb, beta,
           c + (size_t)lo * ldc, ldc);
    else
      GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
           hi - lo, k, alpha, a, lda, tb ? b + (size_t)lo * ldb : b + lo, ldb, beta, c + lo, ldc);
  }
}

/* Products with a frozen matrix (kernels.h): fp32 straight to cpu_gemm; other types a tile of
 * rows at a time, expanded into the context's scratch.  The input gradient accumulates the
 * tiles' products in row order, so results do not depend on the thread count either. */
#ifndef LR_REAL_DOUBLE
/* The rows x [T, in] (leading dimension ldx) rounded to bf16, contiguous. */
static const uint16_t *input_bf16(lr_cpu_ctx *c, const real *x, int ldx, int T, int in) {
  if (grow_u16(&c->x16, &c->x16_cap, (size_t)T * (size_t)in) != 0)
    return NULL;
#pragma omp parallel for PAR(c, (size_t)T * in) schedule(static)
  for (int t = 0; t < T; t++)
    lr_bf16_round(x + (size_t)t * ldx, c->x16 + (size_t)t * in, (size_t)in);
  return c->x16;
}

/* gemm_frozen in precision bf16: both operands rounded to bf16, fp32 accumulation, a tile of
 * frozen rows at a time as in fp32 (one tile for every layer matrix up to 2B models).  A failure
 * is kept for the next sync; y is then left as it was. */
static void gemm_frozen_bf16(lr_cpu_ctx *c, int trans, int T, real alpha, const real *x, int ldx,
                             const lr_frozen *w, real beta, real *y, int ldy) {
  int in = trans ? w->cols : w->rows, step = (int)tile_rows(w);
  const uint16_t *xb;
  if (T == 0 || c->error[0])
    return;
  if ((xb = input_bf16(c, x, ldx, T, in)) == NULL) {
    snprintf(c->error, sizeof c->error, "out of memory (bf16 scratch of %d x %d)", T, in);
    return;
  }
  if (w->packed) {
    if (!lr_bf16_packed_has(w->packed, trans) && fill_packing(c, w, trans) != 0)
      return;
    lr_bf16_gemm_packed(c->bf16, c->n_threads, trans, T, alpha, xb, in, w->packed, beta, y, ldy,
                        c->error, sizeof c->error);
    return;
  }
  for (int r0 = 0; r0 < w->rows; r0 += step) {
    int n = w->rows - r0 < step ? w->rows - r0 : step, rc;
    const uint16_t *tile;
    if (w->dtype == LORENS_DTYPE_BF16) {
      tile = (const uint16_t *)((const unsigned char *)w->data + (size_t)r0 * w->row_bytes);
    } else {
      frozen_rows_bf16(c, w, r0, n, c->tile16);
      tile = c->tile16;
    }
    if (trans)
      rc = lr_bf16_gemm(c->bf16, c->n_threads, 1, T, n, w->cols, alpha, xb, in, tile, w->cols,
                        beta, y + r0, ldy, c->error, sizeof c->error);
    else
      rc = lr_bf16_gemm(c->bf16, c->n_threads, 0, T, w->cols, n, alpha, xb + r0, in, tile,
                        w->cols, r0 ? 1 : beta, y, ldy, c->error, sizeof c->error);
    if (rc != 0)
      return;
  }
}
#endif

static void cpu_gemm_frozen(void *ctx, int trans, int T, real alpha, const real *x, int ldx,
                            const lr_frozen *w, real beta, real *y, int ldy) {
  real *tile = ((lr_cpu_ctx *)ctx)->tile;
  int step;
#ifndef LR_REAL_DOUBLE
  if (((lr_cpu_ctx *)ctx)->bf16) {
    gemm_frozen_bf16((lr_cpu_ctx *)ctx, trans, T, alpha, x, ldx, w, beta, y, ldy);
    return;
  }
#endif
  if (w->dtype == LORENS_DTYPE_F32) {
    const real *a = (const real *)w->data;
    if (trans)
      cpu_gemm(ctx, 0, 1, T, w->rows, w->cols, alpha, x, ldx, a, w->cols, beta, y, ldy);
    else
      cpu_gemm(ctx, 0, 0, T, w->cols, w->rows, alpha, x, ldx, a, w->cols, beta, y, ldy);
    return;
  }
  step = (int)tile_rows(w);
  for (int r0 = 0; r0 < w->rows; r0 += step) {
    int n = w->rows - r0 < step ? w->rows - r0 : step;
    frozen_rows(ctx, w, r0, n, tile);
    if (trans)
      cpu_gemm(ctx, 0, 1, T, n, w->cols, alpha, x, ldx, tile, w->cols, beta, y + r0, ldy);
    else
      cpu_gemm(ctx, 0, 0, T, w->cols, n, alpha, x + r0, ldx, tile, w->cols, r0 ? 1 : beta, y,
               ldy);
  }
}

static void cpu_add_bias(void *ctx, real *y, const real *b, int rows, int n) {
#pragma omp parallel for PAR(ctx, (size_t)rows * n) schedule(static)
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < n; j++)
      y[(size_t)r * n + j] += b[j];
}

static void cpu_axpy(void *ctx, size_t n, real a, const real *x, real *y) {
  (void)ctx;
  AXPY((int)n, a, x, 1, y, 1);
}

/* Summed in double, in a fixed order, so the norm does not depend on the thread count. */
static double cpu_sumsq(void *ctx, const real *x, size_t n) {
  double s = 0;
  (void)ctx;
  for (size_t i = 0; i < n; i++)
    s += (double)x[i] * (double)x[i];
  return s;
}

static void cpu_scale(void *ctx, real *x, size_t n, real a) {
  (void)ctx;
  for (size_t i = 0; i < n; i++)
    x[i] *= a;
}

/* ---- layers ------------------------------------------------------------------------------- */

static void cpu_embed(void *ctx, real *out, const lr_frozen *table, const int32_t *tokens,
                      int rows, int dim) {
  (void)dim;
  /* Each row expands straight into its place in out: one row, one thread. */
#pragma omp parallel for PAR(ctx, (size_t)rows * dim) schedule(static)
  for (int r = 0; r < rows; r++)
    expand_row(table, tokens[r], out + (size_t)r * dim);
}

/* One row of rmsnorm; its sum of squares in double, in a fixed order. */
LR_VECTOR_CLONES static real rmsnorm_row(real *yr, const real *xr, const real *w, int dim,
                                         real eps) {
  real s = (real)(1.0 / sqrt(fixed_order_dot(xr, xr, NULL, dim) / dim + eps));
#pragma omp simd
  for (int j = 0; j < dim; j++)
    yr[j] = xr[j] * s * w[j];
  return s;
}

static void cpu_rmsnorm(void *ctx, real *out, real *rstd, const real *x, const real *w, int rows,
                        int dim, real eps) {
#pragma omp parallel for PAR(ctx, (size_t)rows * dim) schedule(static)
  for (int r = 0; r < rows; r++)
    rstd[r] = rmsnorm_row(out + (size_t)r * dim, x + (size_t)r * dim, w, dim, eps);
}

LR_VECTOR_CLONES static void rmsnorm_backward_row(real *dxr, const real *dy, const real *xr,
                                                  const real *w, real s, int dim) {
  real c = (real)(fixed_order_dot(w, dy, xr, dim) * s * s * s / dim);
#pragma omp simd
  for (int j = 0; j < dim; j++)
    dxr[j] += s * w[j] * dy[j] - xr[j] * c;
}

/* y = x * s * w with s = (mean(x^2) + eps)^-1/2:  dx = s * (w*dy) - x * s^3 / dim * sum(w*dy*x). */
static void cpu_rmsnorm_backward(void *ctx, real *dx, const real *dout, const real *x,
                                 const real *w, const real *rstd, int rows, int dim) {
#pragma omp parallel for PAR(ctx, (size_t)rows * dim) schedule(static)
  for (int r = 0; r < rows; r++)
    rmsnorm_backward_row(dx + (size_t)r * dim, dout + (size_t)r * dim, x + (size_t)r * dim, w,
                         rstd[r], dim);
}

static void cpu_rmsnorm_weight_grad(void *ctx, real *dw, const real *dout, const real *x,
                                    const real *rstd, int rows, int dim) {
#pragma omp parallel for PAR(ctx, (size_t)rows * dim) schedule(static)
  for (int j = 0; j < dim; j++) {
    double sum = 0;
    for (int r = 0; r < rows; r++)
      sum += (double)dout[(size_t)r * dim + j] * x[(size_t)r * dim + j] * rstd[r];
    dw[j] += (real)sum;
  }
}

/* The cosines and sines of positions 0 .. need - 1 for inv_freq [half], cached in the context
 * (a step rotates q and k forwards and their gradients back in every layer, always with the same
 * angles; they took 1.4% of a step); NULL when out of memory, and the caller computes them. */
static const real *rope_table(lr_cpu_ctx *c, const real *inv_freq, int half, int need) {
  int same = c->rope_half == half && memcmp(c->rope_freq, inv_freq, (size_t)half * sizeof *inv_freq) == 0;
  if (!same || c->rope_positions < need) {
    int have = same ? c->rope_positions : 0;
    int grow = need > 2 * have ? need : 2 * have;
    real *t = realloc(c->rope, (size_t)grow * half * 2 * sizeof *t);
    if (t == NULL)
      return NULL;
    c->rope = t;
    if (!same) { /* the frequencies the table is made from, compared by value on every call */
      real *f = realloc(c->rope_freq, (size_t)half * sizeof *f);
      if (f == NULL) {
        c->rope_half = c->rope_positions = 0;
        return NULL;
      }
      memcpy(f, inv_freq, (size_t)half * sizeof *f);
      c->rope_freq = f;
    }
    for (int p = have; p < grow; p++)
      for (int i = 0; i < half; i++) {
        /* The angle is formed in the compute type, as Hugging Face forms it in float32. */
        real angle = (real)p * inv_freq[i];
        t[((size_t)p * half + i) * 2] = (real)cos(angle);
        t[((size_t)p * half + i) * 2 + 1] = (real)sin(angle);
      }
    c->rope_half = half;
    c->rope_positions = grow;
  }
  return c->rope;
}

static void cpu_rope(void *ctx, real *x, const int32_t *pos, const real *inv_freq, int rows,
                     int n_heads, int head_dim, int inverse) {
  int half = head_dim / 2, max_pos = 0;
  const real *table;
  for (int r = 0; r < rows; r++)
    max_pos = pos[r] > max_pos ? pos[r] : max_pos;
  table = rows > 0 ? rope_table((lr_cpu_ctx *)ctx, inv_freq, half, max_pos + 1) : NULL;
#pragma omp parallel for PAR(ctx, (size_t)rows * n_heads * head_dim) schedule(static)
  for (int r = 0; r < rows; r++) {
    for (int i = 0; i < half; i++) {
      real c, s;
      if (table) {
        c = table[((size_t)pos[r] * half + i) * 2];
        s = table[((size_t)pos[r] * half + i) * 2 + 1];
      } else {
        real angle = (real)pos[r] * inv_freq[i];
        c = (real)cos(angle);
        s = (real)sin(angle);
      }
      if (inverse)
        s = -s;
      for (int h = 0; h < n_heads; h++) {
        real *v = x + (size_t)r * n_heads * head_dim + (size_t)h * head_dim;
        real a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
    }
  }
}

/* One (sequence, head) pair of attention: the unit of parallel work. */
typedef struct attn_job {
  int len, q_stride, kv_stride, hd;
  const real *q, *k, *v; /* first row of this sequence, already offset to the head */
  real *out;
  real *lse; /* the row's log-sum-exp for this head; rows n_heads apart */
  int lse_stride;
  /* Block-causal packing (lr_attn_shape): the prefix's rows, and each row's first own key
   * (NULL: causal). */
  int prefix;
  const int32_t *block_start;
} attn_job;

static attn_job attn_job_at(const lr_attn_shape *sh, int s, int h, const real *q, const real *k,
                            const real *v, real *out, real *lse) {
  attn_job j;
  int row = sh->seq_start[s], g = h / (sh->n_heads / sh->n_kv_heads);
  j.len = sh->seq_start[s + 1] - row;
  j.hd = sh->head_dim;
  j.q_stride = sh->n_heads * sh->head_dim;
  j.kv_stride = sh->n_kv_heads * sh->head_dim;
  j.q = q ? q + (size_t)row * j.q_stride + (size_t)h * j.hd : NULL;
  j.k = k ? k + (size_t)row * j.kv_stride + (size_t)g * j.hd : NULL;
  j.v = v ? v + (size_t)row * j.kv_stride + (size_t)g * j.hd : NULL;
  j.out = out ? out + (size_t)row * j.q_stride + (size_t)h * j.hd : NULL;
  j.lse = lse + (size_t)row * sh->n_heads + h;
  j.lse_stride = sh->n_heads;
  j.block_start = sh->block_start ? sh->block_start + row : NULL;
  j.prefix = sh->block_start ? sh->prefix[s] : 0;
  return j;
}

/* p[u] = exp(p[u] - shift) for u < n except gap0 <= u < gap1, which become 0. */
LR_VECTOR_CLONES static void exp_shifted(real *p, int n, real shift, int gap0, int gap1) {
#pragma omp simd
  for (int u = 0; u < n; u++)
    p[u] = real_exp(p[u] - shift);
  for (int u = gap0; u < gap1 && u < n; u++)
    p[u] = 0;
}

/* The keys row t does not see below its diagonal, [*gap0, *gap1): those between the prefix and
 * the row's own block when j packs blocks (keys prefix .. own - 1 of a row whose block starts
 * at own > prefix); none otherwise. */
static void row_gap(const attn_job *j, int t, int *gap0, int *gap1) {
  *gap0 = *gap1 = 0;
  if (j->block_start && j->block_start[t] > j->prefix) {
    *gap0 = j->prefix;
    *gap1 = j->block_start[t];
  }
}

/* Row-wise causal softmax of the scores S [len, len] in place, keeping each row's log-sum-exp
 * in j->lse; entries of keys a row does not see (above the diagonal among them) become 0. */
static void causal_softmax(real *S, int len, const attn_job *j) {
  for (int t = 0; t < len; t++) {
    real *p = S + (size_t)t * len, mx = -INFINITY;
    int gap0, gap1;
    row_gap(j, t, &gap0, &gap1);
    for (int u = 0; u <= t; u++)
      if ((u < gap0 || u >= gap1) && p[u] > mx)
        mx = p[u];
    exp_shifted(p, t + 1, mx, gap0, gap1);
    double sum = fixed_order_sum(p, t + 1);
    real inv = (real)(1.0 / sum);
    j->lse[(size_t)t * j->lse_stride] = (real)((double)mx + log(sum));
    for (int u = 0; u <= t; u++)
      p[u] *= inv;
    for (int u = t + 1; u < len; u++)
      p[u] = 0;
  }
}

/* The softmax rows again from the scores S [len, len] (in place) and the forward's lse. */
static void softmax_from_lse(real *S, int len, const attn_job *j) {
  for (int t = 0; t < len; t++) {
    real *p = S + (size_t)t * len;
    int gap0, gap1;
    row_gap(j, t, &gap0, &gap1);
    exp_shifted(p, t + 1, j->lse[(size_t)t * j->lse_stride], gap0, gap1);
    for (int u = t + 1; u < len; u++)
      p[u] = 0;
  }
}

/* How attention's products run: CBLAS, or the AVX-512 kernels (cpu-attention-avx512.h) in fp32
 * or, in a bf16 session, with bf16 operands (all but the scores).  The kernels take the float
 * build on a CPU with AVX-512F (and AVX512_BF16 for bf16) and heads of whole vectors, unless the
 * context asks for CBLAS. */
typedef enum { ATTN_CBLAS, ATTN_F32, ATTN_BF16 } attn_path;

static attn_path attention_path(const lr_cpu_ctx *c, const lr_attn_shape *sh) {
#ifdef LR_ATTN_AVX512
  if (c->attention_blas)
    return ATTN_CBLAS;
  if (c->bf16 && lr_cpu_attn_bf16_usable(sh->head_dim))
    return ATTN_BF16;
  return lr_cpu_attn_avx512_usable(sh->head_dim) ? ATTN_F32 : ATTN_CBLAS;
#else
  (void)c;
  (void)sh;
  return ATTN_CBLAS;
#endif
}

/* A thread's scratch for the kernels' packed operands (NULL for CBLAS, which needs none); out of
 * memory, NULL with the error kept for the next sync. */
static void *attention_scratch(lr_cpu_ctx *c, attn_path path, int max_len, int head_dim) {
  size_t bytes = 0;
  void *p;
#ifdef LR_ATTN_AVX512
  size_t f32 = lr_cpu_attn_pack_floats(max_len, head_dim) * sizeof(float);
  if (path == ATTN_F32)
    bytes = f32;
  else if (path == ATTN_BF16) /* the bf16 products and the fp32 scores */
    bytes = lr_cpu_attn_bf16_scratch_bytes(max_len, head_dim) > f32
                ? lr_cpu_attn_bf16_scratch_bytes(max_len, head_dim)
                : f32;
#else
  (void)path;
  (void)max_len;
  (void)head_dim;
#endif
  if (bytes == 0)
    return NULL;
  if ((p = malloc(bytes)) == NULL) {
#pragma omp critical(lr_cpu_error)
    snprintf(c->error, sizeof c->error, "out of memory for attention's scratch (%zu bytes)",
             bytes);
  }
  return p;
}

/* S = scale * A B^T over a head's columns (rows of A and B with their strides) for the [len, len]
 * block s: the scores (A = Q, B = K) or the softmax's output gradient (A = dO, B = V).  Entries
 * above the diagonal may be left unspecified (the kernels skip them). */
static void attn_scores(attn_path path, void *scratch, real *s, int len, const real *a, int lda,
                        const real *b, int ldb, int hd, real scale) {
#ifdef LR_ATTN_AVX512
  if (path == ATTN_F32) {
    lr_cpu_attn_scores(s, len, a, lda, b, ldb, hd, scale, scratch);
    return;
  }
  if (path == ATTN_BF16) {
    lr_cpu_attn_scores_bf16(s, len, a, lda, b, ldb, hd, scale, scratch);
    return;
  }
#else
  (void)path;
  (void)scratch;
#endif
  GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, hd, scale, a, lda, b, ldb, 0, s, len);
}

/* c (+)= M B, or M^T B when transposed, for a [len, len] block M of softmax rows (or their
 * gradient: zero above the diagonal) and rows of B (stride ldb) over a head's columns. */
static void attn_band(attn_path path, void *scratch, real *c, int ldc, int len, int hd,
                      const real *m, int transposed, const real *b, int ldb, int accumulate) {
#ifdef LR_ATTN_AVX512
  if (path == ATTN_F32) {
    lr_cpu_attn_band(c, ldc, len, hd, m, transposed ? 1 : len, transposed ? len : 1, b, ldb,
                     !transposed, accumulate);
    return;
  }
  if (path == ATTN_BF16) {
    lr_cpu_attn_band_bf16(c, ldc, len, hd, m, transposed, b, ldb, accumulate, scratch);
    return;
  }
#else
  (void)path;
  (void)scratch;
#endif
  GEMM(CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, CblasNoTrans, len, hd, len, 1, m,
       len, b, ldb, accumulate ? 1 : 0, c, ldc);
}

/* The scores S = scale Q K^T of j into p [len, len].  In bf16 the scores stay fp32: the softmax
 * exponentiates their rounding (docs/precision.md). */
static void attn_job_scores(const attn_job *j, attn_path path, void *scratch, real *p) {
  real scale = (real)(1.0 / sqrt((double)j->hd));
  attn_scores(path == ATTN_BF16 ? ATTN_F32 : path, scratch, p, j->len, j->q, j->q_stride, j->k,
              j->kv_stride, j->hd, scale);
}

/* P = softmax(scale Q K^T) with the causal mask, O = P V: two products and a softmax, with p a
 * [len, len] scratch for P. */
static void attn_forward_one(const attn_job *j, attn_path path, void *scratch, real *p) {
  attn_job_scores(j, path, scratch, p);
  causal_softmax(p, j->len, j);
  attn_band(path, scratch, j->out, j->q_stride, j->len, j->hd, p, 0, j->v, j->kv_stride, 0);
}

/* A thread's [max_len, max_len] scratch for softmax rows (or their gradient); out of memory,
 * NULL with the error kept for the next sync. */
static real *square_scratch(lr_cpu_ctx *c, int max_len) {
  real *p = malloc((size_t)max_len * max_len * sizeof *p);
  if (p == NULL) {
#pragma omp critical(lr_cpu_error)
    snprintf(c->error, sizeof c->error, "out of memory for attention's softmax rows (%d rows)",
             max_len);
  }
  return p;
}

static void cpu_attention(void *ctx, real *out, real *lse, const real *q, const real *k,
                          const real *v, const lr_attn_shape *sh) {
  int n_jobs = sh->n_seq * sh->n_heads, max_len = lr_attn_longest(sh);
  attn_path path = attention_path(CTX(ctx), sh);
  size_t work = (size_t)sh->seq_start[sh->n_seq] * sh->n_heads * sh->head_dim;
#pragma omp parallel PAR(ctx, work)
  {
    void *scratch = attention_scratch((lr_cpu_ctx *)ctx, path, max_len, sh->head_dim);
    real *p = square_scratch((lr_cpu_ctx *)ctx, max_len);
    int ready = p && (path == ATTN_CBLAS || scratch != NULL);
#pragma omp for schedule(dynamic, 1)
    for (int jx = 0; jx < n_jobs; jx++) {
      attn_job j = attn_job_at(sh, jx / sh->n_heads, jx % sh->n_heads, q, k, v, out, lse);
      if (ready)
        attn_forward_one(&j, path, scratch, p);
    }
    free(p);
    free(scratch);
  }
}

/*
 * Backward of one (sequence, head), with p and ds [len, len] scratch: P = exp(S - lse) from the
 * scores again, dP = dO V^T, dS = P * (dP - rowsum(dP * P)) * scale, dQ = dS K, dK += dS^T Q,
 * dV += P^T dO.  Query heads that share a key/value head add into the same dK/dV rows, so the
 * caller runs the heads of one group in sequence.
 */
static void attn_backward_one(const attn_job *j, const real *dout, real *dq, real *dk, real *dv,
                              real *probs, real *ds, attn_path path, void *scratch) {
  real scale = (real)(1.0 / sqrt((double)j->hd));
  int L = j->len;
  attn_job_scores(j, path, scratch, probs);
  softmax_from_lse(probs, L, j);
  attn_scores(path, scratch, ds, L, dout, j->q_stride, j->v, j->kv_stride, j->hd, 1);
  for (int t = 0; t < L; t++) {
    const real *p = probs + (size_t)t * L;
    real *d = ds + (size_t)t * L;
    double rowdot = 0;
    for (int u = 0; u <= t; u++)
      rowdot += (double)p[u] * d[u];
    for (int u = 0; u <= t; u++)
      d[u] = p[u] * (d[u] - (real)rowdot) * scale;
    for (int u = t + 1; u < L; u++)
      d[u] = 0;
  }
  attn_band(path, scratch, dq, j->q_stride, L, j->hd, ds, 0, j->k, j->kv_stride, 0);
  attn_band(path, scratch, dk, j->kv_stride, L, j->hd, ds, 1, j->q, j->q_stride, 1);
  attn_band(path, scratch, dv, j->kv_stride, L, j->hd, probs, 1, dout, j->q_stride, 1);
}

static void cpu_attention_backward(void *ctx, real *dq, real *dk, real *dv, const real *dout,
                                   const real *lse, const real *q, const real *k, const real *v,
                                   const lr_attn_shape *sh) {
  lr_cpu_ctx *c = ctx;
  int group = sh->n_heads / sh->n_kv_heads, n_jobs = sh->n_seq * sh->n_kv_heads;
  int max_len = lr_attn_longest(sh);
  attn_path path = attention_path(c, sh);
  size_t kv_rows = (size_t)sh->seq_start[sh->n_seq];
  memset(dk, 0, kv_rows * sh->n_kv_heads * sh->head_dim * sizeof *dk);
  memset(dv, 0, kv_rows * sh->n_kv_heads * sh->head_dim * sizeof *dv);
  /* One job per (sequence, kv head): its query heads write disjoint dQ columns and share dK, dV. */
  size_t work = kv_rows * sh->n_heads * sh->head_dim;
#pragma omp parallel PAR(ctx, work)
  {
    real *p = square_scratch(c, max_len), *ds = p ? square_scratch(c, max_len) : NULL;
    void *scratch = attention_scratch(c, path, max_len, sh->head_dim);
    int ready = ds && (path == ATTN_CBLAS || scratch != NULL);
#pragma omp for schedule(dynamic, 1)
    for (int jx = 0; jx < n_jobs; jx++) {
      int s = jx / sh->n_kv_heads, g = jx % sh->n_kv_heads;
      size_t row = (size_t)sh->seq_start[s];
      for (int h = g * group; ready && h < (g + 1) * group; h++) {
        attn_job j = attn_job_at(sh, s, h, q, k, v, NULL, (real *)lse);
        attn_backward_one(&j, dout + row * j.q_stride + (size_t)h * j.hd,
                          dq + row * j.q_stride + (size_t)h * j.hd,
                          dk + row * j.kv_stride + (size_t)g * j.hd,
                          dv + row * j.kv_stride + (size_t)g * j.hd, p, ds, path, scratch);
      }
    }
    free(scratch);
    free(ds);
    free(p);
  }
}


/* Elementwise kernels run over chunks of this many elements, one vectorised call each. */
#define CHUNK ((size_t)4096)
#define N_CHUNKS(n) (((n) + CHUNK - 1) / CHUNK)
#define CHUNK_LEN(n, c) ((n) - (c) * CHUNK < CHUNK ? (n) - (c) * CHUNK : CHUNK)

LR_VECTOR_CLONES static void swiglu_range(real *a, const real *g, const real *u, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    a[i] = g[i] * sigmoid(g[i]) * u[i];
}

static void cpu_swiglu(void *ctx, real *a, const real *g, const real *u, size_t n) {
#pragma omp parallel for PAR(ctx, n) schedule(static)
  for (size_t c = 0; c < N_CHUNKS(n); c++)
    swiglu_range(a + c * CHUNK, g + c * CHUNK, u + c * CHUNK, CHUNK_LEN(n, c));
}

LR_VECTOR_CLONES static void swiglu_backward_range(real *dg, real *du, const real *da,
                                                   const real *g, const real *u, size_t n) {
#pragma omp simd /* element i reads and writes only index i, even where dg is da */
  for (size_t i = 0; i < n; i++) {
    real sig = sigmoid(g[i]), silu = g[i] * sig, d = da[i]; /* dg may be da */
    du[i] = d * silu;
    dg[i] = d * u[i] * sig * (1 + g[i] * (1 - sig));
  }
}

static void cpu_swiglu_backward(void *ctx, real *dg, real *du, const real *da, const real *g,
                                const real *u, size_t n) {
#pragma omp parallel for PAR(ctx, n) schedule(static)
  for (size_t c = 0; c < N_CHUNKS(n); c++)
    swiglu_backward_range(dg + c * CHUNK, du + c * CHUNK, da + c * CHUNK, g + c * CHUNK,
                          u + c * CHUNK, CHUNK_LEN(n, c));
}

#ifndef LR_REAL_DOUBLE
LR_VECTOR_CLONES static void expand_bf16(real *dst, const uint16_t *src, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    dst[i] = lorens_bf16_to_f32(src[i]);
}

/* Rounds a chunk's g and u before a overwrites g (when it is g). */
static void cpu_swiglu_keep(void *ctx, real *a, uint16_t *g16, uint16_t *u16, const real *g,
                            const real *u, size_t n) {
#pragma omp parallel for PAR(ctx, n) schedule(static)
  for (size_t c = 0; c < N_CHUNKS(n); c++) {
    size_t at = c * CHUNK, len = CHUNK_LEN(n, c);
    lr_bf16_round(g + at, g16 + at, len);
    lr_bf16_round(u + at, u16 + at, len);
    swiglu_range(a + at, g + at, u + at, len);
  }
}

/* swiglu16 (da NULL) or swiglu16_backward, a chunk at a time through g and u expanded on the
 * stack, by the same range functions as from reals. */
static void swiglu16_chunks(void *ctx, real *a_or_dg, real *du, const real *da,
                            const uint16_t *g16, const uint16_t *u16, size_t n) {
#pragma omp parallel for PAR(ctx, n) schedule(static)
  for (size_t c = 0; c < N_CHUNKS(n); c++) {
    size_t at = c * CHUNK, len = CHUNK_LEN(n, c);
    real g[CHUNK], u[CHUNK];
    expand_bf16(g, g16 + at, len);
    expand_bf16(u, u16 + at, len);
    if (da)
      swiglu_backward_range(a_or_dg + at, du + at, da + at, g, u, len);
    else
      swiglu_range(a_or_dg + at, g, u, len);
  }
}

static void cpu_swiglu16(void *ctx, real *a, const uint16_t *g16, const uint16_t *u16,
                         size_t n) {
  swiglu16_chunks(ctx, a, NULL, NULL, g16, u16, n);
}

static void cpu_swiglu16_backward(void *ctx, real *dg, real *du, const real *da,
                                  const uint16_t *g16, const uint16_t *u16, size_t n) {
  swiglu16_chunks(ctx, dg, du, da, g16, u16, n);
}
#endif

static void cpu_dropout(void *ctx, real *out, const real *x, const int64_t *token_index, int rows,
                        int n, uint64_t seed, uint64_t step, uint32_t site, real p) {
  real keep_scale = (real)(1.0 / (1.0 - (double)p));
#pragma omp parallel for PAR(ctx, (size_t)rows * n) schedule(static)
  for (int r = 0; r < rows; r++) {
    uint64_t base = (uint64_t)token_index[r] * (uint64_t)n;
    for (int j = 0; j < n; j++) {
      size_t i = (size_t)r * n + j;
      out[i] = lorens_dropout_keep(seed, step, site, base + (uint64_t)j, (float)p) ? x[i] * keep_scale : 0;
    }
  }
}

static void cpu_gather_rows(void *ctx, real *out, const real *x, const int32_t *rows, int n,
                            int dim) {
  (void)ctx;
  for (int i = 0; i < n; i++)
    memcpy(out + (size_t)i * dim, x + (size_t)rows[i] * dim, (size_t)dim * sizeof *out);
}

static void cpu_scatter_add_rows(void *ctx, real *dx, const real *dout, const int32_t *rows,
                                 int n, int dim) {
  (void)ctx;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < dim; j++)
      dx[(size_t)rows[i] * dim + j] += dout[(size_t)i * dim + j];
}

static void cpu_gather_logits(void *ctx, real *out, const real *x, const lr_frozen *table,
                              const int32_t *ids, const uint32_t *count, int rows, int stride,
                              int dim) {
  real *scratch = ((lr_cpu_ctx *)ctx)->tile;
  for (int i = 0; i < rows; i++) {
    for (uint32_t c = 0; c < count[i]; c++) {
      const real *e = frozen_row(table, ids[(size_t)i * stride + c], scratch);
      const real *xi = x + (size_t)i * dim;
      real d = 0;
      for (int j = 0; j < dim; j++)
        d += xi[j] * e[j];
      out[(size_t)i * stride + c] = d;
    }
  }
}

static void cpu_gather_logits_backward(void *ctx, real *dx, const real *dlogits,
                                       const lr_frozen *table, const int32_t *ids,
                                       const uint32_t *count, int rows, int stride, int dim) {
  real *scratch = ((lr_cpu_ctx *)ctx)->tile;
  for (int i = 0; i < rows; i++) {
    for (uint32_t c = 0; c < count[i]; c++) {
      const real *e = frozen_row(table, ids[(size_t)i * stride + c], scratch);
      real g = dlogits[(size_t)i * stride + c];
      for (int j = 0; j < dim; j++)
        dx[(size_t)i * dim + j] += g * e[j];
    }
  }
}

static void cpu_adamw(void *ctx, real *p, const real *g, real *m, real *v, size_t n, real lr,
                      real beta1, real beta2, real eps, real wd, int64_t step) {
  double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
  real step_size = (real)(lr / bc1), bc2_sqrt = (real)sqrt(bc2);
  (void)ctx;
  for (size_t i = 0; i < n; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= step_size * m[i] / (sqrt(v[i]) / bc2_sqrt + eps);
  }
}

void lr_cpu_kernels_init(lr_kernels *k, lr_cpu_ctx *ctx) {
  memset(k, 0, sizeof *k);
  k->ctx = ctx;
  k->alloc = cpu_alloc;
  k->free = cpu_free;
  k->upload = cpu_transfer;
  k->download = cpu_transfer;
  k->zero = cpu_zero;
  k->copy = cpu_copy;
  k->sync = cpu_sync;
  k->weights = cpu_weights;
  k->frozen = cpu_frozen;
  k->gemm = cpu_gemm;
  k->gemm_frozen = cpu_gemm_frozen;
  k->add_bias = cpu_add_bias;
  k->axpy = cpu_axpy;
  k->sumsq = cpu_sumsq;
  k->scale = cpu_scale;
  k->embed = cpu_embed;
  k->rmsnorm = cpu_rmsnorm;
  k->rmsnorm_backward = cpu_rmsnorm_backward;
  k->rmsnorm_weight_grad = cpu_rmsnorm_weight_grad;
  k->rope = cpu_rope;
  k->attention = cpu_attention;
  k->attention_backward = cpu_attention_backward;
  k->swiglu = cpu_swiglu;
  k->swiglu_backward = cpu_swiglu_backward;
#ifndef LR_REAL_DOUBLE
  if (ctx->bf16) {
    k->swiglu_keep = cpu_swiglu_keep;
    k->swiglu16 = cpu_swiglu16;
    k->swiglu16_backward = cpu_swiglu16_backward;
  }
#endif
  k->dropout = cpu_dropout;
  k->gather_rows = cpu_gather_rows;
  k->scatter_add_rows = cpu_scatter_add_rows;
  k->gather_logits = cpu_gather_logits;
  k->gather_logits_backward = cpu_gather_logits_backward;
  k->adamw = cpu_adamw;
}
