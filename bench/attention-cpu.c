/*
 * bench/attention-cpu.c [ROUNDS] [LEN]: the CPU backend's attention, forward and backward, on
 * SmolLM2-135M's heads (9 query heads, 3 key/value heads, head_dim 64) over 8 sequences of LEN
 * rows (default 128, the benchmark's batch), on 2 threads, through each of its paths: CBLAS,
 * the AVX-512 kernels in fp32, and the same in a bf16 session (operands rounded, VDPBF16PS).
 * Prints the best time of ROUNDS rounds (default 20) of 10 calls each, per path.  Built on
 * demand: `make bench/attention-cpu && bench/attention-cpu`.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu-kernels.h"
#include "packed-shape.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int n);
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *filled(size_t n, unsigned mul) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; x && i < n; i++)
    x[i] = (float)((i * mul) % 1000) / 1000.0f - 0.5f;
  return x;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 20, len = argc > 2 ? atoi(argv[2]) : 128;
  int lens[8];
  char why[256];
  if (rounds < 1 || len < 1) {
    fprintf(stderr, "usage: attention-cpu [ROUNDS] [LEN]\n");
    return 2;
  }
  for (int i = 0; i < 8; i++)
    lens[i] = len;
  lr_attn_shape sh = packed_shape(lens, 8, 9, 3, 64, 0);
  size_t nq = (size_t)sh.rows * 9 * 64, nk = (size_t)sh.rows * 3 * 64;
  float *q = filled(nq, 7919), *k = filled(nk, 31), *v = filled(nk, 17), *dout = filled(nq, 104729);
  float *out = filled(nq, 1), *lse = filled((size_t)sh.rows * sh.n_heads, 1), *dq = filled(nq, 1);
  float *dk = filled(nk, 1), *dv = filled(nk, 1);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  openblas_set_num_threads(1); /* as the backend: OpenMP splits the work, BLAS runs in each */
#endif
  lr_bf16 *bf = lr_bf16_available(why, sizeof why) ? lr_bf16_open(why, sizeof why) : NULL;
  lr_cpu_ctx ctx[3] = {{.n_threads = 2, .attention_blas = 1}, {.n_threads = 2},
                       {.n_threads = 2, .bf16 = bf}};
  const char *name[3] = {"CBLAS", "AVX-512 fp32", "AVX-512 bf16"};
  lr_kernels K[3];
  double best[3][2];
  for (int i = 0; i < 3; i++) {
    lr_cpu_kernels_init(&K[i], &ctx[i]);
    best[i][0] = best[i][1] = 1e30;
  }
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < 3; i++) {
      if (i == 2 && bf == NULL)
        continue;
      double t0 = now();
      for (int c = 0; c < 10; c++)
        K[i].attention(K[i].ctx, out, lse, q, k, v, &sh);
      double t1 = now();
      for (int c = 0; c < 10; c++)
        K[i].attention_backward(K[i].ctx, dq, dk, dv, dout, lse, q, k, v, &sh);
      double t2 = now();
      best[i][0] = (t1 - t0) / 10 < best[i][0] ? (t1 - t0) / 10 : best[i][0];
      best[i][1] = (t2 - t1) / 10 < best[i][1] ? (t2 - t1) / 10 : best[i][1];
    }
  printf("attention, 8 x %d rows, 9/3 heads, head_dim 64, 2 threads, best of %d rounds:\n", len,
         rounds);
  for (int i = 0; i < 3; i++) {
    if (i == 2 && bf == NULL)
      printf("%-13s (not here: %s)\n", name[i], why);
    else
      printf("%-13s forward %7.2f ms  backward %7.2f ms\n", name[i], best[i][0] * 1e3,
             best[i][1] * 1e3);
  }
  for (int i = 0; i < 3; i++)
    lr_cpu_ctx_release(&ctx[i]);
  lr_bf16_close(bf);
  packed_shape_free(&sh);
  free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv);
  return 0;
}
