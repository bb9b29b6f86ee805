/*
 * cpu-attention-avx512.c: attention's products in AVX-512 (cpu-attention-avx512.h).
 *
 * Two register-tiled kernels, both of the form "broadcast one element of A, multiply a row of
 * vectors of B": scores (a tile of 6 rows x 32 keys, B transposed into a packed [head_dim, len]
 * scratch so that 32 keys are two loads) and band products (a tile of 6 rows x up to 64 columns
 * of head_dim, B read in place).  The plugin is built for baseline x86-64, so these functions
 * carry the avx512f target themselves and the caller checks the CPU first.
 */
#include "compat.h"

#include "cpu-attention-avx512.h"

#ifdef LR_ATTN_AVX512
#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f")))
#define TILE_INLINE static inline __attribute__((always_inline))
#define ROWS 6       /* rows of a tile: 6 x 2 or 6 x 4 accumulators fit the 32 registers */
#define KEYS 32      /* keys of a scores tile: two vectors */
#define COLS_MAX 4   /* vectors of head_dim per band tile (64 floats) */

int lr_cpu_attn_avx512_usable(int head_dim) {
  static int cpu = -1;
  if (cpu < 0) {
    __builtin_cpu_init();
    cpu = __builtin_cpu_supports("avx512f") ? 1 : 0;
  }
  return cpu && head_dim > 0 && head_dim % 16 == 0;
}

static size_t padded_len(int len) {
  return ((size_t)len + KEYS - 1) / KEYS * KEYS;
}

size_t lr_cpu_attn_pack_floats(int len, int head_dim) {
  return padded_len(len) * (size_t)head_dim;
}

/* s[r, u0 .. u0 + 16 nv) = alpha * sum over d of a[r, d] * bt[d, u0 ..], r < n_rows; the last
 * vector stored under `last` (the keys that exist). */
AVX512 TILE_INLINE void scores_tile(const int n_rows, const int nv, float *s, int lds,
                                    const float *a, int lda, const float *bt, size_t ldbt, int hd,
                                    float alpha, __mmask16 last) {
  __m512 acc[ROWS][2];
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps();
  for (int d = 0; d < hd; d++) {
    const float *row = bt + (size_t)d * ldbt;
    __m512 b[2];
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++)
      b[v] = _mm512_loadu_ps(row + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < n_rows; r++) {
      __m512 ar = _mm512_set1_ps(a[(size_t)r * lda + d]);
#pragma GCC unroll 2
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);
    }
  }
  __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      __m512 x = _mm512_mul_ps(acc[r][v], al);
      if (v == nv - 1)
        _mm512_mask_storeu_ps(s + (size_t)r * lds + 16 * v, last, x);
      else
        _mm512_storeu_ps(s + (size_t)r * lds + 16 * v, x);
    }
}

#define SCORES_CASE(R, NV)                                                                         \
  case (R) * 4 + (NV):                                                                             \
    scores_tile(R, NV, s, lds, a, lda, bt, ldbt, hd, alpha, last);                                 \
    break

AVX512 static void scores_dispatch(int n_rows, int nv, float *s, int lds, const float *a, int lda,
                                   const float *bt, size_t ldbt, int hd, float alpha,
                                   __mmask16 last) {
  switch (n_rows * 4 + nv) {
    SCORES_CASE(1, 1); SCORES_CASE(2, 1); SCORES_CASE(3, 1);
    SCORES_CASE(4, 1); SCORES_CASE(5, 1); SCORES_CASE(6, 1);
    SCORES_CASE(1, 2); SCORES_CASE(2, 2); SCORES_CASE(3, 2);
    SCORES_CASE(4, 2); SCORES_CASE(5, 2); SCORES_CASE(6, 2);
  default:
    break;
  }
}

AVX512 void lr_cpu_attn_scores(float *s, int len, const float *a, int lda, const float *b, int ldb,
                           int hd, float alpha, float *pack) {
  size_t ldbt = padded_len(len);
  /* B transposed, keys padded with zeros to whole tiles, so that every load is in bounds. */
  for (int d = 0; d < hd; d++) {
    float *row = pack + (size_t)d * ldbt;
    for (int u = 0; u < len; u++)
      row[u] = b[(size_t)u * ldb + d];
    memset(row + len, 0, (ldbt - (size_t)len) * sizeof *row);
  }
  for (int r0 = 0; r0 < len; r0 += ROWS) {
    int n_rows = len - r0 < ROWS ? len - r0 : ROWS, r1 = r0 + n_rows;
    /* Key tiles up to the tile's last row (the diagonal); later keys are never seen. */
    for (int u0 = 0; u0 < r1; u0 += KEYS) {
      int keys = len - u0 < KEYS ? len - u0 : KEYS, nv = (keys + 15) / 16;
      int in_last = keys - 16 * (nv - 1);
      __mmask16 last = (__mmask16)(in_last >= 16 ? 0xffff : (1u << in_last) - 1);
      scores_dispatch(n_rows, nv, s + (size_t)r0 * len + u0, len, a + (size_t)r0 * lda, lda,
                      pack + u0, ldbt, hd, alpha, last);
    }
  }
}

/* c[r, 0 .. 16 nv) (+)= sum over x in [x0, x1) of a[r * a_row + x * a_col] * b[x, 0 .. 16 nv). */
AVX512 TILE_INLINE void band_tile(const int n_rows, const int nv, float *c, int ldc,
                                  const float *a, ptrdiff_t a_row, ptrdiff_t a_col, const float *b,
                                  int ldb, int x0, int x1, int accumulate) {
  __m512 acc[ROWS][COLS_MAX];
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      acc[r][v] =
          accumulate ? _mm512_loadu_ps(c + (size_t)r * ldc + 16 * v) : _mm512_setzero_ps();
  for (int x = x0; x < x1; x++) {
    const float *bx = b + (size_t)x * ldb, *ax = a + x * a_col;
    __m512 bv[COLS_MAX];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      bv[v] = _mm512_loadu_ps(bx + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < n_rows; r++) {
      __m512 ar = _mm512_set1_ps(ax[r * a_row]);
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      _mm512_storeu_ps(c + (size_t)r * ldc + 16 * v, acc[r][v]);
}

#define BAND_CASE(R, NV)                                                                           \
  case (R) * 8 + (NV):                                                                             \
    band_tile(R, NV, c, ldc, a, a_row, a_col, b, ldb, x0, x1, accumulate);                         \
    break

AVX512 static void band_dispatch(int n_rows, int nv, float *c, int ldc, const float *a,
                                 ptrdiff_t a_row, ptrdiff_t a_col, const float *b, int ldb, int x0,
                                 int x1, int accumulate) {
  switch (n_rows * 8 + nv) {
    BAND_CASE(1, 1); BAND_CASE(2, 1); BAND_CASE(3, 1); BAND_CASE(4, 1); BAND_CASE(5, 1);
    BAND_CASE(6, 1); BAND_CASE(1, 2); BAND_CASE(2, 2); BAND_CASE(3, 2); BAND_CASE(4, 2);
    BAND_CASE(5, 2); BAND_CASE(6, 2); BAND_CASE(1, 3); BAND_CASE(2, 3); BAND_CASE(3, 3);
    BAND_CASE(4, 3); BAND_CASE(5, 3); BAND_CASE(6, 3); BAND_CASE(1, 4); BAND_CASE(2, 4);
    BAND_CASE(3, 4); BAND_CASE(4, 4); BAND_CASE(5, 4); BAND_CASE(6, 4);
  default:
    break;
  }
}

AVX512 void lr_cpu_attn_band(float *c, int ldc, int len, int hd, const float *a, ptrdiff_t a_row,
                         ptrdiff_t a_col, const float *b, int ldb, int lower, int accumulate) {
  for (int r0 = 0; r0 < len; r0 += ROWS) {
    int n_rows = len - r0 < ROWS ? len - r0 : ROWS;
    int x0 = lower ? 0 : r0, x1 = lower ? r0 + n_rows : len;
    for (int c0 = 0; c0 < hd; c0 += 16 * COLS_MAX) {
      int nv = (hd - c0) / 16 < COLS_MAX ? (hd - c0) / 16 : COLS_MAX;
      band_dispatch(n_rows, nv, c + (size_t)r0 * ldc + c0, ldc, a + r0 * a_row, a_row, a_col,
                    b + c0, ldb, x0, x1, accumulate);
    }
  }
}
#endif /* LR_ATTN_AVX512 */
