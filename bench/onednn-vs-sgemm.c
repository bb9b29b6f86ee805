/*
 * bench/onednn-vs-sgemm.c [ROWS]: the frozen products of SmolLM2-135M's shapes (576x576,
 * 576x192, 576x1536, 1536x576) at ROWS rows (default 1024), forwards (y = x W^T) and as input
 * gradients (dx = dy W): OpenBLAS's sgemm against oneDNN's bf16 matmul (inputs rounded to bf16
 * in the timed loop, as the CPU backend rounds them), GFLOP/s of each and their ratio.  The
 * measurement behind docs/precision.md (the choice of oneDNN, and member stacking: compare 1024
 * with 5120 rows).  Not built by make:
 *   cc -O2 -fopenmp bench/onednn-vs-sgemm.c -o onednn-vs-sgemm \
 *      $(pkg-config --cflags --libs openblas) -ldnnl && OMP_NUM_THREADS=2 ./onednn-vs-sgemm
 */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x)                                                                        \
  do {                                                                                  \
    dnnl_status_t s_ = (x);                                                             \
    if (s_ != dnnl_success) {                                                           \
      fprintf(stderr, "%s:%d: oneDNN status %d\n", __FILE__, __LINE__, (int)s_);        \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* c [m, n] = a [m, k] . b, b read as [k, n] with layout tag (dnnl_ba: stored [n, k]). */
static void matmul(int m, int k, int n, dnnl_format_tag_t tag, const uint16_t *a,
                   const uint16_t *b, float *c) {
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t ma, mb, mc;
  CHECK(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dnnl_bf16, dnnl_ab));
  CHECK(dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_bf16, tag));
  CHECK(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_f32, dnnl_ab));
  CHECK(dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md));
  CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
  CHECK(dnnl_primitive_create(&prim, pd)); /* oneDNN's cache makes repeats cheap */
  CHECK(dnnl_memory_create(&ma, &a_md, engine, (void *)a));
  CHECK(dnnl_memory_create(&mb, &b_md, engine, (void *)b));
  CHECK(dnnl_memory_create(&mc, &c_md, engine, c));
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
  CHECK(dnnl_primitive_execute(prim, stream, 3, args));
  CHECK(dnnl_stream_wait(stream));
  dnnl_memory_destroy(ma);
  dnnl_memory_destroy(mb);
  dnnl_memory_destroy(mc);
  dnnl_primitive_destroy(prim);
  dnnl_primitive_desc_destroy(pd);
}

int main(int argc, char **argv) {
  enum { REPS = 20 };
  static const int shapes[][2] = {{576, 576}, {576, 192}, {576, 1536}, {1536, 576}};
  int T = argc > 1 ? atoi(argv[1]) : 1024;
  CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  printf("%d rows; GFLOP/s of sgemm and of oneDNN bf16 (with the rounding of the input)\n", T);
  for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
    int K = shapes[si][0], N = shapes[si][1];
    size_t big = (size_t)T * (K > N ? K : N);
    float *x = malloc(big * sizeof *x), *W = malloc((size_t)N * K * sizeof *W);
    float *y = malloc(big * sizeof *y);
    uint16_t *xb = malloc(big * sizeof *xb), *Wb = malloc((size_t)N * K * sizeof *Wb);
    double flops = 2.0 * T * K * N, t0, s32[2], s16[2];
    for (size_t i = 0; i < big; i++)
      x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++)
      Wb[i] = to_bf16(W[i] = (float)rand() / (float)RAND_MAX - 0.5f);
    for (int dir = 0; dir < 2; dir++) { /* 0: y = x W^T [T, N]; 1: dx = dy W [T, K] */
      int in = dir ? N : K, out = dir ? K : N;
      matmul(T, in, out, dir ? dnnl_ab : dnnl_ba, xb, Wb, y); /* warm up */
      t0 = now();
      for (int r = 0; r < REPS; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, dir ? CblasNoTrans : CblasTrans, T, out, in, 1,
                    x, in, W, K, 0, y, out);
      s32[dir] = (now() - t0) / REPS;
      t0 = now();
      for (int r = 0; r < REPS; r++) {
        for (size_t i = 0; i < (size_t)T * in; i++)
          xb[i] = to_bf16(x[i]);
        matmul(T, in, out, dir ? dnnl_ab : dnnl_ba, xb, Wb, y);
      }
      s16[dir] = (now() - t0) / REPS;
    }
    printf("%4dx%-4d  forward: sgemm %6.1f bf16 %6.1f (%.2fx)  input gradient: sgemm %6.1f bf16 "
           "%6.1f (%.2fx)\n", K, N, flops / s32[0] * 1e-9, flops / s16[0] * 1e-9, s32[0] / s16[0],
           flops / s32[1] * 1e-9, flops / s16[1] * 1e-9, s32[1] / s16[1]);
    free(x); free(W); free(y); free(xb); free(Wb);
  }
  dnnl_stream_destroy(stream);
  dnnl_engine_destroy(engine);
  return 0;
}
