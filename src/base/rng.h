/*
 * rng.h: the portable random number generator of lorens.
 *
 * Everything random that must be the same on every machine and backend (LoRA A initial values,
 * data shuffles, member seeds) comes from here: xoshiro256** seeded through splitmix64, with
 * floats made from the top bits, so a seed gives the same stream everywhere.
 */
#ifndef LORENS_RNG_H
#define LORENS_RNG_H

#include <stdint.h>

typedef struct lr_rng {
  uint64_t s[4];
} lr_rng;

void lr_rng_seed(lr_rng *r, uint64_t seed);
uint64_t lr_rng_next(lr_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double lr_rng_uniform(lr_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t lr_rng_below(lr_rng *r, uint64_t n);

/* splitmix64's output function: derives independent seeds from (seed, stream) pairs. */
uint64_t lr_seed_mix(uint64_t seed, uint64_t stream);

#endif /* LORENS_RNG_H */
