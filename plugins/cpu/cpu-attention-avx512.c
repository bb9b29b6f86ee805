/*
 * cpu-attention-avx512.c: attention's products in AVX-512 (cpu-attention-avx512.h).
 *
 * Register-tiled kernels, all of the form "broadcast one element of A, multiply a row of vectors
 * of B": in fp32, scores (a tile of 6 rows x 32 keys, B transposed into a packed [head_dim, len]
 * scratch so that 32 keys are two loads) and band products (a tile of 6 rows x up to 64 columns
 * of head_dim, B read in place); in bf16, one tile for both with pairs of bf16 in place of
 * floats (below).  The plugin is built for baseline x86-64, so these functions carry their
 * target (avx512f, and avx512bf16) themselves and the caller checks the CPU first.
 */
#include "compat.h"

#include "cpu-attention-avx512.h"

#ifdef LR_ATTN_AVX512
#include <immintrin.h>
#include <stdint.h>
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

/* The mask of the first n lanes of a vector (all 16 for n >= 16, none for n <= 0). */
static __mmask16 first_lanes(int n) {
  return (__mmask16)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
}

/* The vectors of the key tile at u0, and (*last) the keys of its last vector that exist. */
static int key_tile(int len, int u0, __mmask16 *last) {
  int keys = len - u0 < KEYS ? len - u0 : KEYS, nv = (keys + 15) / 16;
  *last = first_lanes(keys - 16 * (nv - 1));
  return nv;
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
      __mmask16 last;
      int nv = key_tile(len, u0, &last);
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

/* ---- bf16: operands rounded to bf16 (nearest even), products by VDPBF16PS, fp32 sums ------- */
/*
 * VDPBF16PS adds to each fp32 lane the products of a pair of bf16 values, so both operands come
 * in pairs along the reduction index, as 32-bit elements: A's pair (a[r, 2p], a[r, 2p + 1])
 * broadcast, B's pairs (b[2p, c], b[2p + 1, c]) for 16 columns c in one vector.  The packers
 * below build those layouts from fp32 rows; a missing partner (an odd count) is 0.
 */
#define BF16 __attribute__((target("avx512f,avx512bf16")))

/* 16 floats rounded to bf16, as the low 16 bits of 32-bit lanes. */
BF16 TILE_INLINE __m512i bf16_lanes(__m512 x) {
  return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x));
}

/* dst[i] = bf16(lo[i]) | bf16(hi[i]) << 16 for i < n (hi NULL: 0), the pairs of two rows. */
BF16 static void pair_rows(uint32_t *dst, const float *lo, const float *hi, int n) {
  for (int i = 0; i < n; i += 16) {
    __mmask16 m = first_lanes(n - i);
    __m512i l = bf16_lanes(_mm512_maskz_loadu_ps(m, lo + i));
    __m512i h = hi ? bf16_lanes(_mm512_maskz_loadu_ps(m, hi + i)) : _mm512_setzero_si512();
    _mm512_mask_storeu_epi32(dst + i, m, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
  }
}

/* The pairs along a row: dst[p] = (bf16(x[2p]), bf16(x[2p + 1])) for p < (n + 1) / 2. */
BF16 static void pair_along(uint32_t *dst, const float *x, int n) {
  for (int i = 0; i < n; i += 32) {
    __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n - i), x + i);
    __m512 hi = _mm512_maskz_loadu_ps(first_lanes(n - i - 16), x + i + 16);
    _mm512_mask_storeu_epi32(dst + i / 2, first_lanes((n - i + 1) / 2),
                             (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
}

/* c[r, 0 .. 16 nv) = alpha * (c if accumulate) + sum over pairs p in [p0, p1) of
 * dot(a[r * a_row + p * a_col], b[p * ldb + ...]), the last vector stored under `last`. */
BF16 TILE_INLINE void tile_bf16(const int n_rows, const int nv, float *c, int ldc,
                                const uint32_t *a, ptrdiff_t a_row, ptrdiff_t a_col,
                                const uint32_t *b, size_t ldb, int p0, int p1, float alpha,
                                int accumulate, __mmask16 last) {
  __m512 acc[ROWS][COLS_MAX];
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps();
  for (int p = p0; p < p1; p++) {
    const uint32_t *bp = b + (size_t)p * ldb, *ap = a + p * a_col;
    __m512i bv[COLS_MAX];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      bv[v] = _mm512_loadu_si512((const void *)(bp + 16 * v));
#pragma GCC unroll 8
    for (int r = 0; r < n_rows; r++) {
      __m512i ar = _mm512_set1_epi32((int)ap[r * a_row]);
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)ar, (__m512bh)bv[v]);
    }
  }
  __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
  for (int r = 0; r < n_rows; r++)
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
      float *dst = c + (size_t)r * ldc + 16 * v;
      __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
      __m512 x = _mm512_mul_ps(acc[r][v], al);
      if (accumulate)
        x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), x);
      _mm512_mask_storeu_ps(dst, m, x);
    }
}

#define TILE16_CASE(R, NV)                                                                         \
  case (R) * 8 + (NV):                                                                             \
    tile_bf16(R, NV, c, ldc, a, a_row, a_col, b, ldb, p0, p1, alpha, accumulate, last);            \
    break

BF16 static void tile_bf16_dispatch(int n_rows, int nv, float *c, int ldc, const uint32_t *a,
                                    ptrdiff_t a_row, ptrdiff_t a_col, const uint32_t *b,
                                    size_t ldb, int p0, int p1, float alpha, int accumulate,
                                    __mmask16 last) {
  switch (n_rows * 8 + nv) {
    TILE16_CASE(1, 1); TILE16_CASE(2, 1); TILE16_CASE(3, 1); TILE16_CASE(4, 1);
    TILE16_CASE(5, 1); TILE16_CASE(6, 1); TILE16_CASE(1, 2); TILE16_CASE(2, 2);
    TILE16_CASE(3, 2); TILE16_CASE(4, 2); TILE16_CASE(5, 2); TILE16_CASE(6, 2);
    TILE16_CASE(1, 3); TILE16_CASE(2, 3); TILE16_CASE(3, 3); TILE16_CASE(4, 3);
    TILE16_CASE(5, 3); TILE16_CASE(6, 3); TILE16_CASE(1, 4); TILE16_CASE(2, 4);
    TILE16_CASE(3, 4); TILE16_CASE(4, 4); TILE16_CASE(5, 4); TILE16_CASE(6, 4);
  default:
    break;
  }
}

int lr_cpu_attn_bf16_usable(int head_dim) {
  static int cpu = -1;
  if (cpu < 0) {
    __builtin_cpu_init();
    cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16") ? 1 : 0;
  }
  return cpu && head_dim > 0 && head_dim % 16 == 0;
}

/* The scratch's parts, in 32-bit elements: the pairs of A (scores: a head's rows; band: a
 * [len, len] block, either way round) and of B (scores: transposed, keys padded to tiles; band:
 * pairs of rows). */
static size_t pairs_of(int len) {
  return ((size_t)len + 1) / 2;
}

static size_t a_pairs_elems(int len, int hd) {
  size_t block = (size_t)len * pairs_of(len), rows = (size_t)len * (size_t)(hd / 2);
  return block > rows ? block : rows;
}

static size_t b_pairs_elems(int len, int hd) {
  size_t scores = (size_t)(hd / 2) * padded_len(len), band = pairs_of(len) * (size_t)hd;
  return scores > band ? scores : band;
}

size_t lr_cpu_attn_bf16_scratch_bytes(int len, int head_dim) {
  return (a_pairs_elems(len, head_dim) + b_pairs_elems(len, head_dim)) * sizeof(uint32_t);
}

BF16 void lr_cpu_attn_scores_bf16(float *s, int len, const float *a, int lda, const float *b,
                                  int ldb, int hd, float alpha, void *scratch) {
  uint32_t *ap = scratch, *bt = ap + a_pairs_elems(len, hd);
  size_t ldbt = padded_len(len);
  int half = hd / 2;
  for (int t = 0; t < len; t++)
    pair_along(ap + (size_t)t * half, a + (size_t)t * lda, hd);
  /* B's pairs transposed: bt[p, u] = the pair p of key u; keys padded with zeros to tiles. */
  for (int u = 0; u < len; u++)
    for (int p0 = 0; p0 < half; p0 += 64) {
      int n = half - p0 < 64 ? half - p0 : 64;
      uint32_t key[64];
      pair_along(key, b + (size_t)u * ldb + 2 * p0, 2 * n);
      for (int p = 0; p < n; p++)
        bt[(size_t)(p0 + p) * ldbt + u] = key[p];
    }
  for (int p = 0; p < half; p++)
    memset(bt + (size_t)p * ldbt + len, 0, (ldbt - (size_t)len) * sizeof *bt);
  for (int r0 = 0; r0 < len; r0 += ROWS) {
    int n_rows = len - r0 < ROWS ? len - r0 : ROWS, r1 = r0 + n_rows;
    for (int u0 = 0; u0 < r1; u0 += KEYS) {
      __mmask16 last;
      int nv = key_tile(len, u0, &last);
      tile_bf16_dispatch(n_rows, nv, s + (size_t)r0 * len + u0, len, ap + (size_t)r0 * half,
                         half, 1, bt + u0, ldbt, 0, half, alpha, 0, last);
    }
  }
}

BF16 void lr_cpu_attn_band_bf16(float *c, int ldc, int len, int hd, const float *m,
                                int transposed, const float *b, int ldb, int accumulate,
                                void *scratch) {
  uint32_t *ap = scratch, *bp = ap + a_pairs_elems(len, hd);
  size_t np = pairs_of(len);
  ptrdiff_t a_row, a_col;
  /* m is zero above its diagonal, and a tile of rows r0 .. r0 + 5 reads pairs up to x = r0 + 5
   * (lower) or from x = r0 (transposed): so each row of pairs is packed only as far as a tile
   * reads it, about half the block. */
  if (transposed) { /* A(r, x) = m[x, r]: pairs of rows of m, ap[p, r], read for r < 2p + 6 */
    for (size_t p = 0; p < np; p++)
      pair_rows(ap + p * (size_t)len, m + 2 * p * (size_t)len,
                2 * p + 1 < (size_t)len ? m + (2 * p + 1) * (size_t)len : NULL,
                2 * (int)p + ROWS < len ? 2 * (int)p + ROWS : len);
    a_row = 1;
    a_col = len;
  } else { /* A(r, x) = m[r, x]: pairs along each row, ap[r, p], read for x < r + 6 */
    for (int r = 0; r < len; r++)
      pair_along(ap + (size_t)r * np, m + (size_t)r * len, r + ROWS < len ? r + ROWS : len);
    a_row = (ptrdiff_t)np;
    a_col = 1;
  }
  for (size_t p = 0; p < np; p++)
    pair_rows(bp + p * (size_t)hd, b + 2 * p * (size_t)ldb,
              2 * p + 1 < (size_t)len ? b + (2 * p + 1) * (size_t)ldb : NULL, hd);
  for (int r0 = 0; r0 < len; r0 += ROWS) {
    int n_rows = len - r0 < ROWS ? len - r0 : ROWS;
    /* The pairs where A may be non-zero: x <= r (A is softmax rows) or x >= r (transposed). */
    int p0 = transposed ? r0 / 2 : 0, p1 = transposed ? (int)np : (r0 + n_rows + 1) / 2;
    for (int c0 = 0; c0 < hd; c0 += 16 * COLS_MAX) {
      int nv = (hd - c0) / 16 < COLS_MAX ? (hd - c0) / 16 : COLS_MAX;
      tile_bf16_dispatch(n_rows, nv, c + (size_t)r0 * ldc + c0, ldc, ap + r0 * a_row, a_row,
                         a_col, bp + c0, (size_t)hd, p0, p1, 1, accumulate, (__mmask16)0xffff);
    }
  }
}
#endif /* LR_ATTN_AVX512 */
