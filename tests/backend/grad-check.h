/*
 * grad-check.h: central finite differences against analytic gradients, for the double-precision
 * build of the driver and kernels.
 */
#ifndef LORENS_GRAD_CHECK_H
#define LORENS_GRAD_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "real.h"

typedef double (*objective_fn)(void *ctx);

/* A small deterministic generator for test inputs (xorshift64*). */
static inline double test_uniform(uint64_t *state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (double)((*state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

static inline void test_fill(real *x, size_t n, double lo, double hi, uint64_t *state) {
  for (size_t i = 0; i < n; i++)
    x[i] = (real)(lo + (hi - lo) * test_uniform(state));
}

/*
 * The largest relative error between grad[i] and the finite difference of f in x[i], over up to
 * max_checks indices spread across 0..n-1.  The error is |a - fd| / max(|a| + |fd|, floor), so
 * entries whose true gradient is ~0 are compared absolutely.
 */
static inline double grad_check(objective_fn f, void *ctx, real *x, const real *grad, size_t n,
                                size_t max_checks, double h, size_t *worst_index) {
  double worst = 0;
  size_t stride = n > max_checks ? n / max_checks : 1;
  for (size_t i = 0; i < n; i += stride) {
    real keep = x[i];
    double f1, f2, b1, b2;
    x[i] = keep + (real)h;
    f1 = f(ctx);
    x[i] = keep + (real)(2 * h);
    f2 = f(ctx);
    x[i] = keep - (real)h;
    b1 = f(ctx);
    x[i] = keep - (real)(2 * h);
    b2 = f(ctx);
    x[i] = keep;
    /* Fourth-order central difference: truncation O(h^4), so h can be large enough that
     * rounding in f does not swamp the difference. */
    double fd = (8 * (f1 - b1) - (f2 - b2)) / (12 * h), a = grad[i];
    double scale = fabs(a) + fabs(fd);
    double err = fabs(a - fd) / (scale > 1e-6 ? scale : 1e-6);
    if (getenv("GRAD_CHECK_VERBOSE") && err > 1e-7)
      fprintf(stderr, "  [%zu] analytic %.12g fd %.12g err %.2e\n", i, a, fd, err);
    if (err > worst) {
      worst = err;
      if (worst_index)
        *worst_index = i;
    }
  }
  return worst;
}

#endif /* LORENS_GRAD_CHECK_H */
