/*
 * bench/quant-dequant.c [MIB]: the dequantization speed of every ggml type (plugins/common/quant.h).
 *
 * Built on demand (`make bench/quant-dequant` in the build directory).  For each type, one thread
 * dequantizes a buffer of random blocks holding about MIB MiB of output floats (default 16, larger
 * than the caches) row by row, as the frozen GEMM will, and prints the best of 5 passes in GB/s of
 * float32 written, GB/s of quantized bytes read, and ns per element, against memcpy of the same
 * output bytes in the same run (the anchor).  A benchmark, not a test: it asserts nothing.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"

static const int types[] = {LR_QTYPE_F32, LR_QTYPE_F16, LR_QTYPE_BF16, LR_QTYPE_Q4_0,
                            LR_QTYPE_Q4_1, LR_QTYPE_Q5_0, LR_QTYPE_Q5_1, LR_QTYPE_Q8_0,
                            LR_QTYPE_Q2_K, LR_QTYPE_Q3_K, LR_QTYPE_Q4_K, LR_QTYPE_Q5_K,
                            LR_QTYPE_Q6_K};

enum { ROW = 4096, PASSES = 5 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const double mib = argc > 1 ? atof(argv[1]) : 16;
  const size_t rows = mib > 0 ? (size_t)(mib * 1048576 / (4.0 * ROW)) + 1 : 1;
  const size_t n = rows * ROW;
  float *dst = malloc(sizeof *dst * n), *src_f = malloc(sizeof *src_f * n);
  uint8_t *src = malloc(4 * n);
  if (!dst || !src || !src_f) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  /* Random bytes with small f16 scales where they fall: the speed does not depend on values, but
   * NaN or subnormal floats could slow some machines down. */
  unsigned x = 1;
  for (size_t i = 0; i < 4 * n; i++) {
    x = x * 1103515245u + 12345u;
    src[i] = (uint8_t)((x >> 16) & 0x3b);
  }
  for (size_t i = 0; i < n; i++)
    src_f[i] = (float)(i % 97) * 0.01f;

  double best = 1e30;
  for (int p = 0; p < PASSES; p++) {
    const double t0 = now();
    for (size_t r = 0; r < rows; r++)
      memcpy(dst + r * ROW, src_f + r * ROW, sizeof *dst * ROW);
    const double t = now() - t0;
    best = t < best ? t : best;
  }
  const double anchor = 4.0 * (double)n / best / 1e9;
  printf("dequantization, 1 thread, rows of %d, %.1f MiB of float32 out, best of %d\n", ROW,
         4.0 * (double)n / 1048576, PASSES);
  printf("%-6s %10s %10s %8s %10s\n", "type", "out GB/s", "in GB/s", "ns/elem", "vs memcpy");
  printf("%-6s %10.2f %10.2f %8.3f %10.2f\n", "memcpy", anchor, anchor, best / (double)n * 1e9,
         1.0);
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    size_t row_bytes = 0;
    if (lr_quant_row_bytes(types[k], ROW, &row_bytes) != LORENS_OK)
      return 1;
    best = 1e30;
    for (int p = 0; p < PASSES; p++) {
      const double t0 = now();
      for (size_t r = 0; r < rows; r++)
        if (lr_quant_dequantize_row(types[k], src + r * row_bytes, dst + r * ROW, ROW) != LORENS_OK)
          return 1;
      const double t = now() - t0;
      best = t < best ? t : best;
    }
    const double out = 4.0 * (double)n / best / 1e9;
    printf("%-6s %10.2f %10.2f %8.3f %10.2f\n", lr_quant_name(types[k]), out,
           (double)(rows * row_bytes) / best / 1e9, best / (double)n * 1e9, out / anchor);
  }
  free(dst);
  free(src);
  free(src_f);
  return 0;
}
