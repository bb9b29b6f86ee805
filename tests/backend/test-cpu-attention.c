/*
 * test-cpu-attention.c: the CPU backend's attention in its AVX-512 kernels
 * (plugins/cpu/cpu-attention-avx512.c) against attention computed here in double, forward and
 * backward, and against the same kernel table with its products through CBLAS.
 *
 * Shapes: several sequences of odd lengths (one row, a tile and one, lengths across the 6-row and
 * 32-key tiles, up to 200 rows), head sizes 16 to 128 (one to eight vectors, so both the 64-float
 * column chunks and their remainders run), grouped-query heads and block-causal packing.  Every
 * output starts as garbage.  Bounds: 2e-6 relative (normwise) to double for the forward (O and
 * each row's log-sum-exp), 1e-5 for the gradients (a sum of L products of fp32 values rounded
 * once more than the forward, with the softmax rows rebuilt from the log-sum-exp); results
 * bit-equal to CBLAS's path are not expected (the scores are summed in another order), agreement
 * with it within the same bounds.  The results do not depend on the thread
 * count: one thread and two give the same bits.
 *
 * A bf16 session's attention (operands of every product but the scores rounded to bf16,
 * VDPBF16PS) against the same double reference with those operands rounded: the log-sum-exp
 * bit-equal to fp32's (the scores stay fp32), the products within 1e-3 (measured up to 4.9e-4 on
 * the longest sequences: the softmax rows and their gradient are rounded from fp32 values, which
 * sit on the other side of a bf16 rounding boundary now and then, most of all dS, formed by a
 * cancelling difference, and one such element of weight p moves a product by 2^-8 p of an
 * operand); and at least that far from the fp32 results (they differ by 1.6e-3 or more), so that
 * a path that forgot to round would fail.  The bf16 kernels also run on scratch
 * filled with NaN, so that reading past what they packed fails.
 */
#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-attention-avx512.h"
#include "cpu-kernels.h"
#include "packed-shape.h"
#include "quant.h"
#include "../tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float *rnd(size_t n, double lo, double hi) {
  return xorshift_floats(&rng, n, lo, hi);
}

/* The outputs of one forward and backward. */
typedef struct result {
  float *out, *lse, *dq, *dk, *dv;
} result;

static result run(lr_cpu_ctx *ctx, const lr_attn_shape *sh, const float *q, const float *k,
                  const float *v, const float *dout) {
  lr_kernels K;
  size_t nq = (size_t)sh->rows * sh->n_heads * sh->head_dim;
  size_t nk = (size_t)sh->rows * sh->n_kv_heads * sh->head_dim;
  result r = {rnd(nq, -9, 9), rnd((size_t)sh->rows * sh->n_heads, -9, 9), rnd(nq, -9, 9),
              rnd(nk, -9, 9), rnd(nk, -9, 9)};
  lr_cpu_kernels_init(&K, ctx);
  K.attention(K.ctx, r.out, r.lse, q, k, v, sh);
  K.attention_backward(K.ctx, r.dq, r.dk, r.dv, dout, r.lse, q, k, v, sh);
  return r;
}

static void result_free(result *r) {
  free(r->out);
  free(r->lse);
  free(r->dq);
  free(r->dk);
  free(r->dv);
}

/* Whether row t of a sequence sees key u (lr_attn_shape's rule, rows counted in the sequence). */
static int sees(const lr_attn_shape *sh, int s, int t, int u) {
  if (u > t)
    return 0;
  if (sh->block_start == NULL || u < sh->prefix[s])
    return 1;
  return u >= sh->block_start[sh->seq_start[s] + t];
}

/* x rounded to bf16 (to nearest even) when bf16, else x. */
static double op(double x, int bf16) {
  uint32_t bits;
  float f = (float)x;
  if (!bf16)
    return x;
  bits = (uint32_t)lr_quant_f32_to_bf16(f) << 16;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Attention and its backward in double, as the kernel table defines them; with bf16, every
 * operand of a product but the scores' is rounded to bf16 first, as a bf16 session's kernels
 * round them (the softmax rows and their gradient from fp32 values). */
static result reference(const lr_attn_shape *sh, const float *q, const float *k, const float *v,
                        const float *dout, int bf16) {
  int H = sh->n_heads, Hkv = sh->n_kv_heads, hd = sh->head_dim, group = H / Hkv;
  size_t nq = (size_t)sh->rows * H * hd, nk = (size_t)sh->rows * Hkv * hd;
  result r = {rnd(nq, 0, 0), rnd((size_t)sh->rows * H, 0, 0), rnd(nq, 0, 0), rnd(nk, 0, 0),
              rnd(nk, 0, 0)};
  double scale = 1 / sqrt((double)hd);
  for (int s = 0; s < sh->n_seq; s++) {
    int row = sh->seq_start[s], L = sh->seq_start[s + 1] - row;
    double *p = calloc((size_t)L * L, sizeof *p), *dsc = calloc((size_t)L * L, sizeof *dsc);
    double *dkh = calloc((size_t)L * hd, sizeof *dkh), *dvh = calloc((size_t)L * hd, sizeof *dvh);
    for (int h = 0; h < H; h++) {
      int g = h / group;
#define Q(t) (q + (size_t)(row + (t)) * H * hd + (size_t)h * hd)
#define DO(t) (dout + (size_t)(row + (t)) * H * hd + (size_t)h * hd)
#define KV(x, t) ((x) + (size_t)(row + (t)) * Hkv * hd + (size_t)g * hd)
      for (int t = 0; t < L; t++) {
        double mx = -INFINITY, sum = 0, rowdot = 0;
        for (int u = 0; u < L; u++) {
          double sc = 0;
          for (int e = 0; sees(sh, s, t, u) && e < hd; e++)
            sc += (double)Q(t)[e] * KV(k, u)[e]; /* the scores stay fp32 */
          p[(size_t)t * L + u] = sc * scale;
          if (sees(sh, s, t, u) && sc * scale > mx)
            mx = sc * scale;
        }
        for (int u = 0; u < L; u++) {
          double e = sees(sh, s, t, u) ? exp(p[(size_t)t * L + u] - mx) : 0;
          p[(size_t)t * L + u] = e;
          sum += e;
        }
        r.lse[(size_t)(row + t) * H + h] = (float)(mx + log(sum));
        for (int u = 0; u < L; u++) {
          double dp = 0;
          p[(size_t)t * L + u] /= sum;
          for (int e = 0; e < hd; e++)
            dp += op(DO(t)[e], bf16) * op(KV(v, u)[e], bf16);
          dsc[(size_t)t * L + u] = dp;
          rowdot += p[(size_t)t * L + u] * dp;
        }
        for (int u = 0; u < L; u++)
          dsc[(size_t)t * L + u] = p[(size_t)t * L + u] * (dsc[(size_t)t * L + u] - rowdot) * scale;
        for (int e = 0; e < hd; e++) {
          double o = 0, dqe = 0;
          for (int u = 0; u < L; u++) {
            o += op(p[(size_t)t * L + u], bf16) * op(KV(v, u)[e], bf16);
            dqe += op(dsc[(size_t)t * L + u], bf16) * op(KV(k, u)[e], bf16);
          }
          r.out[(size_t)(row + t) * H * hd + (size_t)h * hd + e] = (float)o;
          r.dq[(size_t)(row + t) * H * hd + (size_t)h * hd + e] = (float)dqe;
        }
      }
      for (int u = 0; u < L; u++)
        for (int e = 0; e < hd; e++)
          for (int t = 0; t < L; t++) {
            dkh[(size_t)u * hd + e] += op(dsc[(size_t)t * L + u], bf16) * op(Q(t)[e], bf16);
            dvh[(size_t)u * hd + e] += op(p[(size_t)t * L + u], bf16) * op(DO(t)[e], bf16);
          }
      if (h % group == group - 1) { /* the group's last head: its kv head's gradients are whole */
        for (int u = 0; u < L; u++)
          for (int e = 0; e < hd; e++) {
            size_t at = (size_t)(row + u) * Hkv * hd + (size_t)g * hd + e;
            r.dk[at] = (float)dkh[(size_t)u * hd + e];
            r.dv[at] = (float)dvh[(size_t)u * hd + e];
          }
        memset(dkh, 0, (size_t)L * hd * sizeof *dkh);
        memset(dvh, 0, (size_t)L * hd * sizeof *dvh);
      }
#undef Q
#undef DO
#undef KV
    }
    free(p);
    free(dsc);
    free(dkh);
    free(dvh);
  }
  return r;
}

static lr_bf16 *bf; /* a bf16 session's handle; NULL where the build or CPU has none */

/* A bf16 session's attention against the reference with rounded operands, on both thread counts;
 * and far enough from fp32's that the rounding is shown to happen. */
static void check_bf16(const lr_attn_shape *sh, const char *shape, const float *q, const float *k,
                       const float *v, const float *dout, const result *f32) {
  size_t nq = (size_t)sh->rows * sh->n_heads * sh->head_dim;
  size_t nk = (size_t)sh->rows * sh->n_kv_heads * sh->head_dim;
  lr_cpu_ctx one = {.n_threads = 1, .bf16 = bf}, two = {.n_threads = 2, .bf16 = bf};
  result want = reference(sh, q, k, v, dout, 1), got = run(&one, sh, q, k, v, dout),
         got2 = run(&two, sh, q, k, v, dout);
  struct {
    const char *what;
    const float *want, *got, *got2, *f32;
    size_t n;
    double tol;
  } cmp[] = {
      {"log-sum-exp", want.lse, got.lse, got2.lse, f32->lse, (size_t)sh->rows * sh->n_heads, 1e-5},
      {"O", want.out, got.out, got2.out, f32->out, nq, 1e-3},
      {"dQ", want.dq, got.dq, got2.dq, f32->dq, nq, 1e-3},
      {"dK", want.dk, got.dk, got2.dk, f32->dk, nk, 1e-3},
      {"dV", want.dv, got.dv, got2.dv, f32->dv, nk, 1e-3},
  };
  for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
    double err = rel_err_f32(cmp[i].want, cmp[i].got, cmp[i].n);
    double off = rel_err_f32(cmp[i].f32, cmp[i].got, cmp[i].n);
    tap_ok(!isnan(err) && err <= cmp[i].tol, "%s, bf16: %s against double of bf16 operands (%.1e)",
           shape, cmp[i].what, err);
    if (i == 0) /* the scores stay fp32, so the softmax is fp32's */
      tap_ok(memcmp(cmp[i].got, cmp[i].f32, cmp[i].n * sizeof(float)) == 0,
             "%s, bf16: log-sum-exp the same as fp32's (scores in fp32)", shape);
    else
      tap_ok(sh->rows == 1 || off > cmp[i].tol,
             "%s, bf16: %s %.1e from fp32's (operands rounded)", shape, cmp[i].what, off);
    tap_ok(memcmp(cmp[i].got, cmp[i].got2, cmp[i].n * sizeof(float)) == 0,
           "%s, bf16: %s the same with one thread and two", shape, cmp[i].what);
  }
  result_free(&want);
  result_free(&got);
  result_free(&got2);
  lr_cpu_ctx_release(&one);
  lr_cpu_ctx_release(&two);
}

/*
 * The bf16 kernels directly, on scratch filled with NaN: each reads only what it packed (a tile
 * reading past the packed part of a row would bring a NaN into its sums).  A [len, len] block
 * that is zero above its diagonal, as softmax rows are, times rows of B, either way round, and
 * the scores of two sets of rows; against double of the rounded operands.
 */
static void check_bf16_scratch(int len, int hd) {
  size_t bytes = lr_cpu_attn_bf16_scratch_bytes(len, hd);
  unsigned char *scratch = malloc(bytes);
  float *m = rnd((size_t)len * len, -1, 1), *b = rnd((size_t)len * hd, -1, 1);
  float *c = rnd((size_t)len * hd, -1, 1), *s = rnd((size_t)len * len, 0, 0);
  for (int r = 0; r < len; r++)
    for (int x = r + 1; x < len; x++)
      m[(size_t)r * len + x] = 0;
  for (int transposed = 0; transposed < 2; transposed++) {
    double num = 0, den = 0;
    memset(scratch, 0xff, bytes);
    float *c0 = malloc((size_t)len * hd * sizeof *c0);
    memcpy(c0, c, (size_t)len * hd * sizeof *c0);
    lr_cpu_attn_band_bf16(c0, hd, len, hd, m, transposed, b, hd, 1, scratch);
    for (int r = 0; r < len; r++)
      for (int e = 0; e < hd; e++) {
        double want = c[(size_t)r * hd + e];
        for (int x = 0; x < len; x++)
          want += op(transposed ? m[(size_t)x * len + r] : m[(size_t)r * len + x], 1) *
                  op(b[(size_t)x * hd + e], 1);
        num = fmax(num, fabs(want - c0[(size_t)r * hd + e]));
        den = fmax(den, fabs(want));
      }
    tap_ok(num / den <= 1e-6, "bf16 band product%s on NaN scratch, len %d, hd %d (%.1e)",
           transposed ? ", transposed," : "", len, hd, num / den);
    free(c0);
  }
  double num = 0, den = 0;
  memset(scratch, 0xff, bytes);
  lr_cpu_attn_scores_bf16(s, len, c, hd, b, hd, hd, 0.5f, scratch);
  for (int t = 0; t < len; t++)
    for (int u = 0; u <= t; u++) {
      double want = 0;
      for (int e = 0; e < hd; e++)
        want += op(c[(size_t)t * hd + e], 1) * op(b[(size_t)u * hd + e], 1);
      num = fmax(num, fabs(0.5 * want - s[(size_t)t * len + u]));
      den = fmax(den, fabs(0.5 * want));
    }
  tap_ok(num / den <= 1e-6, "bf16 scores on NaN scratch, len %d, hd %d (%.1e)", len, hd,
         num / den);
  free(scratch);
  free(m);
  free(b);
  free(c);
  free(s);
}

static void check(const int *lens, int n_seq, int H, int Hkv, int hd, int blocks) {
  lr_attn_shape sh = packed_shape(lens, n_seq, H, Hkv, hd, blocks);
  size_t nq = (size_t)sh.rows * H * hd, nk = (size_t)sh.rows * Hkv * hd;
  float *q = rnd(nq, -2, 2), *k = rnd(nk, -2, 2), *v = rnd(nk, -1, 1), *dout = rnd(nq, -1, 1);
  lr_cpu_ctx one = {.n_threads = 1}, two = {.n_threads = 2}, blas = {.n_threads = 1,
                                                                     .attention_blas = 1};
  result want = reference(&sh, q, k, v, dout, 0), got = run(&one, &sh, q, k, v, dout),
         got2 = run(&two, &sh, q, k, v, dout), cb = run(&blas, &sh, q, k, v, dout);
  char shape[96];
  snprintf(shape, sizeof shape, "%d seqs, T %d, H %d/%d, hd %d%s", n_seq, sh.rows, H, Hkv, hd,
           blocks ? ", blocks" : "");
  struct {
    const char *what;
    const float *want, *got, *blas, *got2;
    size_t n;
    double tol;
  } cmp[] = {
      {"log-sum-exp", want.lse, got.lse, cb.lse, got2.lse, (size_t)sh.rows * H, 2e-6},
      {"O", want.out, got.out, cb.out, got2.out, nq, 2e-6},
      {"dQ", want.dq, got.dq, cb.dq, got2.dq, nq, 1e-5},
      {"dK", want.dk, got.dk, cb.dk, got2.dk, nk, 1e-5},
      {"dV", want.dv, got.dv, cb.dv, got2.dv, nk, 1e-5},
  };
  for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
    double err = rel_err_f32(cmp[i].want, cmp[i].got, cmp[i].n);
    double err_blas = rel_err_f32(cmp[i].blas, cmp[i].got, cmp[i].n);
    tap_ok(!isnan(err) && err <= cmp[i].tol, "%s: %s against double (%.1e)", shape, cmp[i].what,
           err);
    tap_ok(!isnan(err_blas) && err_blas <= cmp[i].tol, "%s: %s against CBLAS's path (%.1e)",
           shape, cmp[i].what, err_blas);
    tap_ok(memcmp(cmp[i].got, cmp[i].got2, cmp[i].n * sizeof(float)) == 0,
           "%s: %s the same with one thread and two", shape, cmp[i].what);
  }
  if (bf)
    check_bf16(&sh, shape, q, k, v, dout, &got);
  result_free(&want);
  result_free(&got);
  result_free(&got2);
  result_free(&cb);
  lr_cpu_ctx_release(&one);
  lr_cpu_ctx_release(&two);
  lr_cpu_ctx_release(&blas);
  packed_shape_free(&sh);
  free(q);
  free(k);
  free(v);
  free(dout);
}

int main(void) {
  static const int one[] = {1}, tile[] = {7}, mixed[] = {7, 1, 33, 130, 31}, smol[] = {128, 128},
                   long_[] = {200, 65};
#ifdef LR_ATTN_AVX512
  if (!lr_cpu_attn_avx512_usable(16))
    tap_skip_all("the CPU lacks AVX-512F: attention runs through CBLAS");
#else
  tap_skip_all("no AVX-512 kernels in this build");
#endif
  char why[256];
  if (lr_bf16_available(why, sizeof why) && lr_cpu_attn_bf16_usable(16))
    bf = lr_bf16_open(why, sizeof why);
  if (bf == NULL)
    tap_diag("no bf16 checks: %s", lr_cpu_attn_bf16_usable(16) ? why : "the CPU lacks AVX512_BF16");
  if (bf) {
    static const int lens[] = {1, 2, 7, 12, 13, 33, 70};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
      check_bf16_scratch(lens[i], i % 2 ? 64 : 48);
  }
  check(one, 1, 4, 2, 16, 0);
  check(tile, 1, 2, 1, 32, 0);
  check(mixed, 5, 9, 3, 64, 0);  /* SmolLM2's heads */
  check(mixed, 5, 8, 8, 48, 1);  /* three vectors, block-causal */
  check(mixed, 5, 8, 2, 80, 1);  /* a 64-float chunk and one vector */
  check(smol, 2, 9, 3, 64, 0);
  check(long_, 2, 4, 1, 128, 0); /* Llama 2's heads: two chunks */
  lr_bf16_close(bf);
  return tap_done();
}
