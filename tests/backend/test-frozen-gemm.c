/*
 * test-frozen-gemm.c: the CPU kernels' products with frozen matrices kept in their stored type
 * (kernels.h: frozen, gemm_frozen, embed, gather_logits) against the same products computed in
 * double from the matrix dequantized whole with quant.h, for every type the CPU backend takes.
 * Each matrix holds more than one tile (TILE_REALS in cpu-kernels.c), so tiles' boundaries and
 * the accumulation of the input gradient across tiles are exercised; two thread counts must give
 * bit-identical results.  In precision bf16 (oneDNN) the same products are checked against
 * bf16-rounded operands, with quantized matrices expanded a tile per product and packed for
 * oneDNN (within the session's budget for that).
 */
#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cpu-kernels.h"
#include "quant.h"

enum { T = 5 }; /* rows of x */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

/* Random rows of `type`; a row whose values are not all finite and modest (a random f16 scale
 * can be inf or NaN) is drawn again.  Returns the dequantized matrix in *w. */
static unsigned char *random_rows(int type, size_t rows, size_t cols, size_t rb, float **w) {
  unsigned char *data = malloc(rows * rb);
  float *deq = malloc(rows * cols * sizeof *deq);
  for (size_t r = 0; r < rows; r++) {
    for (;;) {
      int ok = 1;
      for (size_t i = 0; i < rb; i++)
        data[r * rb + i] = (unsigned char)next_u32();
      lr_quant_dequantize_row(type, data + r * rb, deq + r * cols, cols);
      for (size_t j = 0; j < cols && ok; j++)
        ok = isfinite(deq[r * cols + j]) && fabsf(deq[r * cols + j]) < 1e4f;
      if (ok)
        break;
    }
  }
  *w = deq;
  return data;
}

/* n values in [-1, 1] in steps of 2 / steps. */
static float *random_values(size_t n, uint32_t steps) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (float)(next_u32() % (steps + 1)) / (float)(steps / 2) - 1.0f;
  return v;
}

/* The two results (y, dx) of each of two product runs. */
static void alloc_outputs(float *y[2], float *dx[2], size_t rows, size_t cols) {
  for (int i = 0; i < 2; i++) {
    y[i] = malloc(T * rows * sizeof *y[i]);
    dx[i] = malloc(T * cols * sizeof *dx[i]);
  }
}

static double rel_err(const float *got, const double *want, size_t n) {
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs(got[i] - want[i]));
    scale = fmax(scale, fabs(want[i]));
  }
  return worst / scale;
}

/* How the frozen kernel kept a matrix (products' *kept). */
enum { KEPT_COPY, KEPT_AS_STORED, KEPT_PACKED, KEPT_OTHER, KEPT_FAILED };

/* y = 0.5 x W^T + 0.25 y (trans) or dx = 0.5 dy W + 0.25 dx, with n_threads; in bf16 when bf
 * is not NULL, with `hold` bytes for packing layer matrices (table: W is a vocabulary table,
 * never packed).  *kept: KEPT_AS_STORED, a converted copy (KEPT_COPY; in bf16, only a plain
 * bf16 copy counts), KEPT_PACKED (bf16 only), or something else. */
static void products(int n_threads, lr_bf16 *bf, size_t hold, int table, const lorens_tensor *t,
                     const float *x, const float *dy, float *y, float *dx, const float *y0,
                     const float *dx0, int *kept) {
  lr_cpu_ctx ctx = {.n_threads = n_threads, .bf16 = bf, .bf16_hold_left = hold};
  lr_kernels k;
  lr_frozen f;
  void *owned = NULL;
  int rows = (int)t->shape[0], cols = (int)t->shape[1];
  lr_cpu_kernels_init(&k, &ctx);
  if (k.frozen(k.ctx, t, table, &f, &owned) != 0) {
    *kept = KEPT_FAILED;
    return;
  }
  if (owned == NULL && f.data == t->data && f.dtype == t->dtype && f.packed == NULL)
    *kept = KEPT_AS_STORED;
  else if (f.packed != NULL)
    *kept = bf != NULL && f.held_bytes > 0 ? KEPT_PACKED : KEPT_OTHER;
  else
    *kept = bf == NULL || f.dtype == LORENS_DTYPE_BF16 ? KEPT_COPY : KEPT_OTHER;
  memcpy(y, y0, (size_t)T * rows * sizeof *y);
  memcpy(dx, dx0, (size_t)T * cols * sizeof *dx);
  k.gemm_frozen(k.ctx, 1, T, 0.5f, x, cols, &f, 0.25f, y, rows);
  /* A packing fills the input gradient's layout at the first dy W, not before. */
  if (*kept == KEPT_PACKED && lr_bf16_packed_has(f.packed, 0))
    *kept = KEPT_OTHER;
  k.gemm_frozen(k.ctx, 0, T, 0.5f, dy, rows, &f, 0.25f, dx, cols);
  if (*kept == KEPT_PACKED && !lr_bf16_packed_has(f.packed, 0))
    *kept = KEPT_OTHER;
  free(owned);
  lr_cpu_ctx_release(&ctx);
}

static void check_type(int type) {
  const char *name = lr_quant_name(type);
  size_t cols = lr_quant_block_elems(type) * 3, rb = 0;
  size_t rows = ((size_t)1 << 20) / cols + 37; /* one tile and part of a second */
  float *w, *x, *dy, *y0, *dx0, *y[2], *dx[2];
  double *ywant, *dxwant;
  int kept[2];
  lr_quant_row_bytes(type, cols, &rb);
  unsigned char *data = random_rows(type, rows, cols, rb, &w);
  lorens_tensor t = {data, lr_quant_dtype_of_type(type), 2, {(int64_t)rows, (int64_t)cols}};
  x = random_values(T * cols, 2000);
  dx0 = random_values(T * cols, 2000);
  dy = random_values(T * rows, 2000);
  y0 = random_values(T * rows, 2000);
  ywant = malloc(T * rows * sizeof *ywant);
  dxwant = malloc(T * cols * sizeof *dxwant);
  alloc_outputs(y, dx, rows, cols);
  for (size_t a = 0; a < T; a++) {
    for (size_t r = 0; r < rows; r++) {
      double s = 0;
      for (size_t j = 0; j < cols; j++)
        s += (double)x[a * cols + j] * w[r * cols + j];
      ywant[a * rows + r] = 0.5 * s + 0.25 * y0[a * rows + r];
    }
    for (size_t j = 0; j < cols; j++)
      dxwant[a * cols + j] = 0.25 * dx0[a * cols + j];
    for (size_t r = 0; r < rows; r++)
      for (size_t j = 0; j < cols; j++)
        dxwant[a * cols + j] += 0.5 * (double)dy[a * rows + r] * w[r * cols + j];
  }
  products(1, NULL, SIZE_MAX, 0, &t, x, dy, y[0], dx[0], y0, dx0, &kept[0]);
  products(2, NULL, SIZE_MAX, 0, &t, x, dy, y[1], dx[1], y0, dx0, &kept[1]);
  tap_ok(kept[0] == KEPT_AS_STORED && kept[1] == KEPT_AS_STORED,
         "%s: the frozen matrix is read in place, as stored", name);
  tap_ok(rel_err(y[0], ywant, T * rows) < 1e-5, "%s: x W^T over %zu rows in tiles (err %.1e)", name,
         rows, rel_err(y[0], ywant, T * rows));
  tap_ok(rel_err(dx[0], dxwant, T * cols) < 1e-5, "%s: dy W accumulated across tiles (err %.1e)",
         name, rel_err(dx[0], dxwant, T * cols));
  tap_ok(memcmp(y[0], y[1], T * rows * sizeof *y[0]) == 0 &&
             memcmp(dx[0], dx[1], T * cols * sizeof *dx[0]) == 0,
         "%s: 1 and 2 threads agree bit for bit", name);
  {
    /* Rows of the table: the embedding and the choice logits. */
    lr_cpu_ctx ctx = {.n_threads = 2};
    lr_kernels k;
    lr_frozen f;
    void *owned = NULL;
    int32_t ids[3] = {0, (int32_t)rows - 1, (int32_t)(rows / 2)};
    uint32_t count[1] = {3};
    float *emb = malloc(3 * cols * sizeof *emb), logits[3];
    double lwant[3];
    lr_cpu_kernels_init(&k, &ctx);
    k.frozen(k.ctx, &t, 1, &f, &owned);
    k.embed(k.ctx, emb, &f, ids, 3, (int)cols);
    k.gather_logits(k.ctx, logits, x, &f, ids, count, 1, 3, (int)cols);
    int same = 1;
    for (int i = 0; i < 3; i++) {
      same &= memcmp(emb + (size_t)i * cols, w + (size_t)ids[i] * cols, cols * sizeof *emb) == 0;
      lwant[i] = 0;
      for (size_t j = 0; j < cols; j++)
        lwant[i] += (double)x[j] * w[(size_t)ids[i] * cols + j];
    }
    tap_ok(same, "%s: embed expands rows exactly", name);
    tap_ok(rel_err(logits, lwant, 3) < 1e-5, "%s: choice logits from expanded rows", name);
    free(emb);
    free(owned);
    lr_cpu_ctx_release(&ctx);
  }
  for (int i = 0; i < 2; i++) {
    free(y[i]);
    free(dx[i]);
  }
  free(data); free(w); free(x); free(dy); free(y0); free(dx0); free(ywant); free(dxwant);
}

static float to_bf16(float f) {
  uint32_t u = (uint32_t)lr_quant_f32_to_bf16(f) << 16;
  memcpy(&f, &u, sizeof f);
  return f;
}

/*
 * Precision bf16: the same products with both operands rounded to bf16 (by quant.h's scalar
 * rounding, not the kernels' vector one) and summed in double, against oneDNN's fp32
 * accumulation: within 1e-5 of that, while the unrounded product is 1e-3 away or more, so a
 * path that skipped the rounding of either operand would fail.
 */
static void check_type_bf16(int type, lr_bf16 *bf) {
  const char *name = type == LR_QTYPE_F32 ? "F32" : lr_quant_name(type);
  size_t cols = (type == LR_QTYPE_F32 ? 32 : lr_quant_block_elems(type)) * 3, rb = 0;
  size_t rows = ((size_t)1 << 20) / cols + 37; /* one tile and part of a second */
  float *w, *x, *dy, *y0, *dx0, *y[2], *dx[2];
  double *ywant, *dxwant, *yexact;
  int kept;
  size_t packed = 0, pack[2] = {0, 0};
  unsigned char *data;
  if (type == LR_QTYPE_F32) {
    rb = cols * sizeof(float);
    w = random_values(rows * cols, 20000);
    data = malloc(rows * rb);
    memcpy(data, w, rows * rb);
  } else {
    lr_quant_row_bytes(type, cols, &rb);
    data = random_rows(type, rows, cols, rb, &w);
  }
  lorens_tensor t = {data, lr_quant_dtype_of_type(type), 2, {(int64_t)rows, (int64_t)cols}};
  /* Finer steps than bf16's, so that rounding the inputs changes them. */
  x = random_values(T * cols, 20000);
  dx0 = random_values(T * cols, 2000);
  dy = random_values(T * rows, 20000);
  y0 = random_values(T * rows, 2000);
  ywant = malloc(T * rows * sizeof *ywant);
  yexact = malloc(T * rows * sizeof *yexact);
  dxwant = malloc(T * cols * sizeof *dxwant);
  alloc_outputs(y, dx, rows, cols);
  for (size_t a = 0; a < T; a++) {
    for (size_t r = 0; r < rows; r++) {
      double s = 0, e = 0;
      for (size_t j = 0; j < cols; j++) {
        s += (double)to_bf16(x[a * cols + j]) * to_bf16(w[r * cols + j]);
        e += (double)x[a * cols + j] * w[r * cols + j];
      }
      ywant[a * rows + r] = 0.5 * s + 0.25 * y0[a * rows + r];
      yexact[a * rows + r] = 0.5 * e + 0.25 * y0[a * rows + r];
    }
    for (size_t j = 0; j < cols; j++)
      dxwant[a * cols + j] = 0.25 * dx0[a * cols + j];
    for (size_t r = 0; r < rows; r++)
      for (size_t j = 0; j < cols; j++)
        dxwant[a * cols + j] += 0.5 * (double)to_bf16(dy[a * rows + r]) * to_bf16(w[r * cols + j]);
  }
  /* The packed layouts take at least twice a plain copy's bytes (one per product). */
  if (lr_bf16_pack_bytes(bf, (int)rows, (int)cols, pack) == 0)
    packed = pack[0] + pack[1];
  tap_ok(packed >= rows * cols * 4,
         "bf16 %s: packing takes %zu + %zu bytes, for %zu weights", name, pack[0], pack[1],
         rows * cols);
  /* One byte short of that: F32 and F16 held as a plain bf16 copy, the rest stay as stored. */
  products(2, bf, packed - 1, 0, &t, x, dy, y[0], dx[0], y0, dx0, &kept);
  if (type == LR_QTYPE_F32 || type == LR_QTYPE_F16)
    tap_ok(kept == KEPT_COPY, "bf16 %s: the frozen matrix is held as a bf16 copy", name);
  else
    tap_ok(kept == KEPT_AS_STORED, "bf16 %s: the frozen matrix is read in place, as stored",
           name);
  products(2, bf, SIZE_MAX, 1, &t, x, dy, y[1], dx[1], y0, dx0, &kept);
  tap_ok(kept == (type == LR_QTYPE_F32 || type == LR_QTYPE_F16 ? KEPT_COPY : KEPT_AS_STORED),
         "bf16 %s: a vocabulary table is never packed, whatever the budget", name);
  /* Exactly the packed size: packed.  Not always the same bits as the tiles: one product sums
   * over all rows where tiles add up their partial sums, and oneDNN may block small products'
   * sums differently for plain and packed weights. */
  products(2, bf, packed, 0, &t, x, dy, y[1], dx[1], y0, dx0, &kept);
  tap_ok(kept == KEPT_PACKED && rel_err(y[1], ywant, T * rows) < 1e-5 &&
             rel_err(dx[1], dxwant, T * cols) < 1e-5,
         "bf16 %s: packed within the budget (dy W's layout at the first dy W): x W^T and dy W "
         "(errs %.1e, %.1e)", name,
         rel_err(y[1], ywant, T * rows), rel_err(dx[1], dxwant, T * cols));
  products(2, bf, 0, 0, &t, x, dy, y[1], dx[1], y0, dx0, &kept);
  tap_ok(rel_err(y[0], ywant, T * rows) < 1e-5 && rel_err(y[0], yexact, T * rows) > 1e-4,
         "bf16 %s: x W^T of bf16-rounded operands (err %.1e; %.1e from the fp32 product)", name,
         rel_err(y[0], ywant, T * rows), rel_err(y[0], yexact, T * rows));
  tap_ok(rel_err(dx[0], dxwant, T * cols) < 1e-5, "bf16 %s: dy W across tiles (err %.1e)", name,
         rel_err(dx[0], dxwant, T * cols));
  tap_ok(memcmp(y[0], y[1], T * rows * sizeof *y[0]) == 0 &&
             memcmp(dx[0], dx[1], T * cols * sizeof *dx[0]) == 0,
         "bf16 %s: a second run gives the same bits", name);
  for (int i = 0; i < 2; i++) {
    free(y[i]);
    free(dx[i]);
  }
  free(data); free(w); free(x); free(dy); free(y0); free(dx0); free(ywant); free(yexact);
  free(dxwant);
}

int main(void) {
  static const int types[] = {LR_QTYPE_F16,  LR_QTYPE_BF16, LR_QTYPE_Q4_0, LR_QTYPE_Q4_1,
                              LR_QTYPE_Q5_0, LR_QTYPE_Q5_1, LR_QTYPE_Q8_0, LR_QTYPE_Q2_K,
                              LR_QTYPE_Q3_K, LR_QTYPE_Q4_K, LR_QTYPE_Q5_K, LR_QTYPE_Q6_K};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    check_type(types[i]);
  tap_ok(!lr_cpu_takes_dtype(LORENS_DTYPE_GGML(LR_QTYPE_IQ2_XS)) &&
             !lr_cpu_takes_dtype(LORENS_DTYPE_GGML(LR_QTYPE_LIMIT)) &&
             lr_cpu_takes_dtype(LORENS_DTYPE_GGML(LR_QTYPE_Q4_1)) &&
             lr_cpu_takes_dtype(LORENS_DTYPE_F32),
         "takes_dtype: the types quant.h expands, and no other");
  {
    char why[160];
    lr_bf16 *bf = lr_bf16_available(why, sizeof why) ? lr_bf16_open(why, sizeof why) : NULL;
    if (bf == NULL) {
      tap_skip(why, "precision bf16");
    } else {
      check_type_bf16(LR_QTYPE_F32, bf);
      for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        check_type_bf16(types[i], bf);
    }
    lr_bf16_close(bf);
  }
  return tap_done();
}
