/*
 * rng.c: xoshiro256** (Blackman and Vigna) seeded by splitmix64 (see rng.h).
 */
#include "compat.h"

#include "base/rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t lr_seed_mix(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
  return splitmix64(&x);
}

void lr_rng_seed(lr_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t lr_rng_next(lr_rng *r) {
  uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double lr_rng_uniform(lr_rng *r) {
  return (double)(lr_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's nearly-divisionless method would be faster; rejection keeps it obviously unbiased. */
uint64_t lr_rng_below(lr_rng *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
  do
    x = lr_rng_next(r);
  while (x >= limit);
  return x % n;
}
