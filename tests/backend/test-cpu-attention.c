/*
 * test-cpu-attention.c: the CPU backend's attention in its AVX-512 kernels
 * (plugins/cpu/cpu-attention-avx512.c) against attention computed here in double, forward and
 * backward, and against the same kernel table with its products through CBLAS.
 *
 * Shapes: several sequences of odd lengths (one row, a tile and one, lengths across the 6-row and
 * 32-key tiles, up to 200 rows), head sizes 16 to 128 (one to eight vectors, so both the 64-float
 * column chunks and their remainders run), grouped-query heads and block-causal packing.  Every
 * output starts as garbage.  Bounds: 2e-6 relative (normwise) to double for the forward, 1e-5 for
 * the gradients (a sum of L products of fp32 values rounded once more than the forward); the
 * softmax rows bit-equal to CBLAS's path are not expected (the scores are summed in another
 * order), agreement with it within the same bounds.  The results do not depend on the thread
 * count: one thread and two give the same bits.
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
#include "../tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float *rnd(size_t n, double lo, double hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    x[i] = (float)(lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0);
  }
  return x;
}

/* The outputs of one forward and backward. */
typedef struct result {
  float *out, *probs, *dq, *dk, *dv;
} result;

static result run(lr_cpu_ctx *ctx, const lr_attn_shape *sh, const float *q, const float *k,
                  const float *v, const float *dout) {
  lr_kernels K;
  size_t nq = (size_t)sh->rows * sh->n_heads * sh->head_dim;
  size_t nk = (size_t)sh->rows * sh->n_kv_heads * sh->head_dim;
  result r = {rnd(nq, -9, 9), rnd((size_t)sh->n_probs, -9, 9), rnd(nq, -9, 9), rnd(nk, -9, 9),
              rnd(nk, -9, 9)};
  lr_cpu_kernels_init(&K, ctx);
  K.attention(K.ctx, r.out, r.probs, q, k, v, sh);
  K.attention_backward(K.ctx, r.dq, r.dk, r.dv, dout, r.probs, q, k, v, sh);
  return r;
}

static void result_free(result *r) {
  free(r->out);
  free(r->probs);
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

/* Attention and its backward in double, as the kernel table defines them. */
static result reference(const lr_attn_shape *sh, const float *q, const float *k, const float *v,
                        const float *dout) {
  int H = sh->n_heads, Hkv = sh->n_kv_heads, hd = sh->head_dim, group = H / Hkv;
  size_t nq = (size_t)sh->rows * H * hd, nk = (size_t)sh->rows * Hkv * hd;
  result r = {rnd(nq, 0, 0), rnd((size_t)sh->n_probs, 0, 0), rnd(nq, 0, 0), rnd(nk, 0, 0),
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
            sc += (double)Q(t)[e] * KV(k, u)[e];
          p[(size_t)t * L + u] = sc * scale;
          if (sees(sh, s, t, u) && sc * scale > mx)
            mx = sc * scale;
        }
        for (int u = 0; u < L; u++) {
          double e = sees(sh, s, t, u) ? exp(p[(size_t)t * L + u] - mx) : 0;
          p[(size_t)t * L + u] = e;
          sum += e;
        }
        for (int u = 0; u < L; u++) {
          double dp = 0;
          p[(size_t)t * L + u] /= sum;
          r.probs[sh->probs_start[s] + ((size_t)h * L + t) * L + u] = (float)p[(size_t)t * L + u];
          for (int e = 0; e < hd; e++)
            dp += (double)DO(t)[e] * KV(v, u)[e];
          dsc[(size_t)t * L + u] = dp;
          rowdot += p[(size_t)t * L + u] * dp;
        }
        for (int u = 0; u < L; u++)
          dsc[(size_t)t * L + u] = p[(size_t)t * L + u] * (dsc[(size_t)t * L + u] - rowdot) * scale;
        for (int e = 0; e < hd; e++) {
          double o = 0, dqe = 0;
          for (int u = 0; u < L; u++) {
            o += p[(size_t)t * L + u] * KV(v, u)[e];
            dqe += dsc[(size_t)t * L + u] * KV(k, u)[e];
          }
          r.out[(size_t)(row + t) * H * hd + (size_t)h * hd + e] = (float)o;
          r.dq[(size_t)(row + t) * H * hd + (size_t)h * hd + e] = (float)dqe;
        }
      }
      for (int u = 0; u < L; u++)
        for (int e = 0; e < hd; e++)
          for (int t = 0; t < L; t++) {
            dkh[(size_t)u * hd + e] += dsc[(size_t)t * L + u] * Q(t)[e];
            dvh[(size_t)u * hd + e] += p[(size_t)t * L + u] * DO(t)[e];
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

static void check(const int *lens, int n_seq, int H, int Hkv, int hd, int blocks) {
  lr_attn_shape sh = packed_shape(lens, n_seq, H, Hkv, hd, blocks);
  size_t nq = (size_t)sh.rows * H * hd, nk = (size_t)sh.rows * Hkv * hd;
  float *q = rnd(nq, -2, 2), *k = rnd(nk, -2, 2), *v = rnd(nk, -1, 1), *dout = rnd(nq, -1, 1);
  lr_cpu_ctx one = {.n_threads = 1}, two = {.n_threads = 2}, blas = {.n_threads = 1,
                                                                     .attention_blas = 1};
  result want = reference(&sh, q, k, v, dout), got = run(&one, &sh, q, k, v, dout),
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
      {"softmax rows", want.probs, got.probs, cb.probs, got2.probs, (size_t)sh.n_probs, 2e-6},
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
  check(one, 1, 4, 2, 16, 0);
  check(tile, 1, 2, 1, 32, 0);
  check(mixed, 5, 9, 3, 64, 0);  /* SmolLM2's heads */
  check(mixed, 5, 8, 8, 48, 1);  /* three vectors, block-causal */
  check(mixed, 5, 8, 2, 80, 1);  /* a 64-float chunk and one vector */
  check(smol, 2, 9, 3, 64, 0);
  check(long_, 2, 4, 1, 128, 0); /* Llama 2's heads: two chunks */
  return tap_done();
}
