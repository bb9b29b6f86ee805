/*
 * packed-shape.h: test helpers shared by the attention tests of both backends: packed sequences
 * of given lengths as an lr_attn_shape (host arrays), random inputs, and the normwise relative
 * error the backend comparisons report.
 */
#ifndef LORENS_TESTS_PACKED_SHAPE_H
#define LORENS_TESTS_PACKED_SHAPE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

/* Sequences of the given lengths with H heads: seq_start and (blocks) the
 * block-causal packing in which every sequence longer than 3 rows is a prefix of 3 rows followed
 * by blocks of 2.  Every array is malloc'ed; packed_shape_free releases them. */
static inline lr_attn_shape packed_shape(const int *lens, int n_seq, int H, int Hkv, int hd,
                                         int blocks) {
  int32_t *ss = calloc((size_t)n_seq + 1, sizeof *ss), *bs = NULL, *pre = NULL;
  for (int s = 0; s < n_seq; s++)
    ss[s + 1] = ss[s] + lens[s];
  if (blocks) {
    bs = calloc((size_t)ss[n_seq] + 1, sizeof *bs);
    pre = calloc((size_t)n_seq, sizeof *pre);
    for (int s = 0; s < n_seq; s++) {
      if (lens[s] <= 3)
        continue;
      pre[s] = 3;
      for (int t = 3; t < lens[s]; t++)
        bs[ss[s] + t] = 3 + (t - 3) / 2 * 2;
    }
  }
  return (lr_attn_shape){n_seq, ss, H, Hkv, hd, bs, pre, ss[n_seq], ss};
}

static inline void packed_shape_free(lr_attn_shape *sh) {
  free((void *)sh->seq_start);
  free((void *)sh->block_start);
  free((void *)sh->prefix);
}

/* n floats uniform in [lo, hi) from the xorshift generator *state (malloc'ed; at least one). */
static inline float *xorshift_floats(uint64_t *state, size_t n, double lo, double hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  for (size_t i = 0; x && i < n; i++) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    x[i] = (float)(lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0);
  }
  return x;
}

/* max |got - want| / max |want| over n values (NaN anywhere makes it NaN). */
static inline double rel_err_f32(const float *want, const float *got, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    num = d > num || isnan(d) ? d : num;
    den = fmax(den, fabs((double)want[i]));
  }
  return den > 0 ? num / den : num;
}

#endif /* LORENS_TESTS_PACKED_SHAPE_H */
