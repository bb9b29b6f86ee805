/*
 * test-kernel-grads.c: each CPU kernel's backward against finite differences of its forward, in
 * double precision (the kernels built with real = double).
 *
 * For a kernel y = f(x) the check uses the scalar objective <R, f(x)> with a random R: its
 * gradient is the kernel's backward applied to R.
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cpu-kernels.h"
#include "grad-check.h"

#define TOL 1e-6

static lr_kernels K;
/* One thread: these check arithmetic, not scheduling (test-cpu-backend runs two). */
static lr_cpu_ctx CTX = {.n_threads = 1};
static uint64_t rng = 0x1234567887654321ull;

static double dot(const real *a, const real *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

static real *rnd(size_t n, double lo, double hi) {
  real *x = malloc(n * sizeof *x);
  test_fill(x, n, lo, hi, &rng);
  return x;
}

/* ---- rmsnorm ---- */
typedef struct { real *x, *w, *R, *out, *rstd; int rows, dim; } norm_ctx;
static double norm_obj(void *p) {
  norm_ctx *c = p;
  K.rmsnorm(K.ctx, c->out, c->rstd, c->x, c->w, c->rows, c->dim, 1e-5);
  return dot(c->R, c->out, (size_t)c->rows * c->dim);
}
static void test_rmsnorm(void) {
  norm_ctx c = {rnd(3 * 16, -2, 2), rnd(16, 0.5, 1.5), rnd(3 * 16, -1, 1), rnd(48, 0, 0),
                rnd(3, 0, 0), 3, 16};
  real *dx = calloc(48, sizeof *dx);
  norm_obj(&c);
  K.rmsnorm_backward(K.ctx, dx, c.R, c.x, c.w, c.rstd, 3, 16);
  tap_ok(grad_check(norm_obj, &c, c.x, dx, 48, 48, 1e-3, NULL) < TOL, "rmsnorm backward = finite differences");
  /* The backward accumulates into dx. */
  real *dx2 = malloc(48 * sizeof *dx2);
  for (int i = 0; i < 48; i++)
    dx2[i] = 1;
  K.rmsnorm_backward(K.ctx, dx2, c.R, c.x, c.w, c.rstd, 3, 16);
  tap_is_near(dx2[5], dx[5] + 1, 1e-12, 0, "rmsnorm backward adds into dx");
  free(c.x); free(c.w); free(c.R); free(c.out); free(c.rstd); free(dx); free(dx2);
}

/* ---- rope ---- */
typedef struct { real *x, *y, *R, *freq; int32_t *pos; int rows, heads, hd; } rope_ctx;
static double rope_obj(void *p) {
  rope_ctx *c = p;
  size_t n = (size_t)c->rows * c->heads * c->hd;
  memcpy(c->y, c->x, n * sizeof *c->y);
  K.rope(K.ctx, c->y, c->pos, c->freq, c->rows, c->heads, c->hd, 0);
  return dot(c->R, c->y, n);
}
static void test_rope(void) {
  int32_t pos[4] = {0, 1, 5, 17};
  real freq[4] = {1.0, 0.3, 0.05, 0.001};
  rope_ctx c = {rnd(4 * 2 * 8, -1, 1), rnd(64, 0, 0), rnd(64, -1, 1), freq, pos, 4, 2, 8};
  real *g = malloc(64 * sizeof *g), *back = malloc(64 * sizeof *back);
  memcpy(g, c.R, 64 * sizeof *g);
  K.rope(K.ctx, g, pos, freq, 4, 2, 8, 1);
  tap_ok(grad_check(rope_obj, &c, c.x, g, 64, 64, 1e-3, NULL) < TOL, "rope backward (inverse rotation) = finite differences");
  rope_obj(&c);
  memcpy(back, c.y, 64 * sizeof *back);
  K.rope(K.ctx, back, pos, freq, 4, 2, 8, 1);
  tap_is_near(back[13], c.x[13], 1e-12, 0, "rope then inverse rope is the identity");
  tap_is_near(c.y[3], c.x[3], 1e-15, 0, "position 0 is not rotated");
  free(c.x); free(c.y); free(c.R); free(g); free(back);
}

/* ---- attention (two sequences, grouped-query) ---- */
enum { AT = 9, AH = 4, AKV = 2, AHD = 4 };
typedef struct { real *q, *k, *v, *out, *lse, *R; lr_attn_shape sh; } attn_ctx;
static double attn_obj(void *p) {
  attn_ctx *c = p;
  K.attention(K.ctx, c->out, c->lse, c->q, c->k, c->v, &c->sh);
  return dot(c->R, c->out, (size_t)AT * AH * AHD);
}
/* Causal, or (blocks) block-causal: sequence 1 (rows 4-8) is a prefix of 2 rows and two blocks,
 * rows 6-7 and row 8, each seeing the prefix and itself (lr_attn_shape). */
static void test_attention(int blocks) {
  int32_t ss[3] = {0, 4, 9}, bs[AT] = {0, 0, 0, 0, 0, 0, 2, 2, 4}, pre[2] = {4, 2};
  const char *what = blocks ? "block-causal attention" : "attention";
  attn_ctx c = {rnd(AT * AH * AHD, -1, 1), rnd(AT * AKV * AHD, -1, 1), rnd(AT * AKV * AHD, -1, 1),
                rnd(AT * AH * AHD, 0, 0), rnd(AT * AH, 0, 0), rnd(AT * AH * AHD, -1, 1),
                {2, ss, AH, AKV, AHD, blocks ? bs : NULL, blocks ? pre : NULL, AT, ss}};
  size_t nq = AT * AH * AHD, nk = AT * AKV * AHD;
  real *dq = malloc(nq * sizeof *dq), *dk = malloc(nk * sizeof *dk), *dv = malloc(nk * sizeof *dv);
  attn_obj(&c);
  K.attention_backward(K.ctx, dq, dk, dv, c.R, c.lse, c.q, c.k, c.v, &c.sh);
  tap_ok(grad_check(attn_obj, &c, c.q, dq, nq, nq, 1e-3, NULL) < TOL, "%s dq = finite differences", what);
  tap_ok(grad_check(attn_obj, &c, c.k, dk, nk, nk, 1e-3, NULL) < TOL, "%s dk = finite differences (shared kv heads)", what);
  tap_ok(grad_check(attn_obj, &c, c.v, dv, nk, nk, 1e-3, NULL) < TOL, "%s dv = finite differences", what);
  /* Causality and independence of sequences: the first row of each sequence attends only to itself. */
  tap_is_near(c.out[4 * AH * AHD + 1], c.v[4 * AKV * AHD + 1], 1e-12, 0,
              "%s: a sequence's first position sees only itself (not the previous sequence)", what);
  if (blocks) {
    /* Row 8 is the last row of the causal sequence rows 4, 5, 8: run that one alone. */
    static const int rows[3] = {4, 5, 8};
    int32_t ss1[2] = {0, 3};
    attn_ctx d = {rnd(3 * AH * AHD, 0, 0), rnd(3 * AKV * AHD, 0, 0), rnd(3 * AKV * AHD, 0, 0),
                  rnd(3 * AH * AHD, 0, 0), rnd(3 * AH, 0, 0), NULL,
                  {1, ss1, AH, AKV, AHD, NULL, NULL, 3, ss1}};
    double err = 0, hidden = 0;
    for (int r = 0; r < 3; r++) {
      memcpy(d.q + r * AH * AHD, c.q + rows[r] * AH * AHD, AH * AHD * sizeof *d.q);
      memcpy(d.k + r * AKV * AHD, c.k + rows[r] * AKV * AHD, AKV * AHD * sizeof *d.k);
      memcpy(d.v + r * AKV * AHD, c.v + rows[r] * AKV * AHD, AKV * AHD * sizeof *d.v);
    }
    K.attention(K.ctx, d.out, d.lse, d.q, d.k, d.v, &d.sh);
    attn_obj(&c); /* the finite differences left the last perturbation's output */
    for (int j = 0; j < AH * AHD; j++)
      err = fmax(err, fabs((double)d.out[2 * AH * AHD + j] - (double)c.out[8 * AH * AHD + j]));
    for (int h = 0; h < AH; h++) /* the keys row 8 does not see count in no denominator */
      hidden = fmax(hidden, fabs((double)d.lse[2 * AH + h] - (double)c.lse[8 * AH + h]));
    tap_ok(err < 1e-12 && hidden < 1e-12,
           "%s: a block sees the prefix and itself, not the block before it (err %.1e)", what,
           err);
    free(d.q); free(d.k); free(d.v); free(d.out); free(d.lse);
  }
  free(c.q); free(c.k); free(c.v); free(c.out); free(c.lse); free(c.R); free(dq); free(dk); free(dv);
}

/* ---- swiglu ---- */
typedef struct { real *g, *u, *a, *R; size_t n; } swi_ctx;
static double swi_obj(void *p) {
  swi_ctx *c = p;
  K.swiglu(K.ctx, c->a, c->g, c->u, c->n);
  return dot(c->R, c->a, c->n);
}
static void test_swiglu(void) {
  swi_ctx c = {rnd(40, -4, 4), rnd(40, -2, 2), rnd(40, 0, 0), rnd(40, -1, 1), 40};
  real *dg = malloc(40 * sizeof *dg), *du = malloc(40 * sizeof *du);
  K.swiglu_backward(K.ctx, dg, du, c.R, c.g, c.u, 40);
  tap_ok(grad_check(swi_obj, &c, c.g, dg, 40, 40, 1e-3, NULL) < TOL, "swiglu dgate = finite differences");
  tap_ok(grad_check(swi_obj, &c, c.u, du, 40, 40, 1e-3, NULL) < TOL, "swiglu dup = finite differences");
  free(c.g); free(c.u); free(c.a); free(c.R); free(dg); free(du);
}

/* ---- choice logits ---- */
typedef struct { real *x, *table, *out, *R; int32_t *ids; uint32_t *count; } gl_ctx;
static lr_frozen gl_table(const gl_ctx *c) {
  return (lr_frozen){.data = c->table, .dtype = LORENS_DTYPE_F32, .rows = 10, .cols = 8,
                     .row_bytes = 8 * sizeof(real)};
}
static double gl_obj(void *p) {
  gl_ctx *c = p;
  lr_frozen t = gl_table(c);
  memset(c->out, 0, 2 * 3 * sizeof *c->out);
  K.gather_logits(K.ctx, c->out, c->x, &t, c->ids, c->count, 2, 3, 8);
  return dot(c->R, c->out, 6);
}
static void test_gather_logits(void) {
  int32_t ids[6] = {4, 1, 7, 2, 2, 0};
  uint32_t count[2] = {3, 2};
  gl_ctx c = {rnd(16, -1, 1), rnd(10 * 8, -1, 1), rnd(6, 0, 0), rnd(6, -1, 1), ids, count};
  real *dx = calloc(16, sizeof *dx);
  lr_frozen t = gl_table(&c);
  c.R[5] = 0; /* unused slot */
  K.gather_logits_backward(K.ctx, dx, c.R, &t, ids, count, 2, 3, 8);
  tap_ok(grad_check(gl_obj, &c, c.x, dx, 16, 16, 1e-3, NULL) < TOL, "choice logits backward = finite differences");
  free(c.x); free(c.table); free(c.out); free(c.R); free(dx);
}

/* ---- dropout ---- */
static void test_dropout(void) {
  enum { ROWS = 64, N = 256 };
  int64_t idx[ROWS];
  real *x = rnd(ROWS * N, 1, 2), *y = malloc(ROWS * N * sizeof *y), *y2 = malloc(ROWS * N * sizeof *y2);
  size_t kept = 0, same = 0;
  for (int r = 0; r < ROWS; r++)
    idx[r] = 100 + r;
  K.dropout(K.ctx, y, x, idx, ROWS, N, 42, 7, 3, 0.25);
  for (size_t i = 0; i < ROWS * N; i++) {
    kept += y[i] != 0;
    if (y[i] != 0 && fabs((double)y[i] - x[i] / 0.75) > 1e-12)
      break;
  }
  tap_is_near((double)kept / (ROWS * N), 0.75, 0.02, 0, "dropout keeps about 1 - p of the inputs (%zu kept)", kept);
  K.dropout(K.ctx, y2, x, idx, ROWS, N, 42, 7, 3, 0.25);
  tap_ok(memcmp(y, y2, ROWS * N * sizeof *y) == 0, "the same (seed, step, site, index) gives the same mask");
  K.dropout(K.ctx, y2, x, idx, ROWS, N, 42, 8, 3, 0.25);
  for (size_t i = 0; i < ROWS * N; i++)
    same += (y[i] != 0) == (y2[i] != 0);
  tap_ok(same < ROWS * N * 0.7, "another step draws another mask (%zu of %d agree)", same, ROWS * N);
  tap_ok(lorens_dropout_keep(42, 7, 3, (uint64_t)(100 + 2) * N + 5, 0.25f) == (y[2 * N + 5] != 0),
         "masks are keyed by the packed token index, as the ABI says");
  free(x); free(y); free(y2);
}

/* ---- AdamW: PyTorch's formula, step by step ---- */
static void test_adamw(void) {
  real p[1] = {0.5}, g[1] = {0.2}, m[1] = {0}, v[1] = {0};
  double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  double ep = 0.5, em = 0, ev = 0;
  for (int step = 1; step <= 3; step++) {
    K.adamw(K.ctx, p, g, m, v, 1, lr, b1, b2, eps, wd, step);
    ep *= 1 - lr * wd;
    em = b1 * em + (1 - b1) * 0.2;
    ev = b2 * ev + (1 - b2) * 0.04;
    ep -= lr / (1 - pow(b1, step)) * em / (sqrt(ev) / sqrt(1 - pow(b2, step)) + eps);
  }
  tap_is_near(p[0], ep, 1e-14, 0, "AdamW matches PyTorch's update after 3 steps");
  tap_is_near(m[0], em, 1e-15, 0, "AdamW first moment");
  tap_is_near(v[0], ev, 1e-15, 0, "AdamW second moment");
}

static void test_f16_bf16(void) {
  tap_is_near(lorens_f16_to_f32(0x3c00), 1.0, 0, 0, "f16 1.0");
  tap_is_near(lorens_f16_to_f32(0xc000), -2.0, 0, 0, "f16 -2.0");
  tap_is_near(lorens_f16_to_f32(0x0001), 5.960464477539063e-08, 0, 0, "f16 smallest subnormal");
  tap_is_near(lorens_f16_to_f32(0x7bff), 65504.0, 0, 0, "f16 largest normal");
  tap_ok(isinf(lorens_f16_to_f32(0x7c00)), "f16 infinity");
  tap_is_near(lorens_bf16_to_f32(0x3f80), 1.0, 0, 0, "bf16 1.0");
  tap_is_near(lorens_bf16_to_f32(0x4049), 3.140625, 0, 0, "bf16 3.140625");
}

int main(void) {
  lr_cpu_kernels_init(&K, &CTX);
  test_rmsnorm();
  test_rope();
  test_attention(0);
  test_attention(1);
  test_swiglu();
  test_gather_logits();
  test_dropout();
  test_adamw();
  test_f16_bf16();
  return tap_done();
}
