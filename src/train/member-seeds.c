/*
 * member-seeds.c: per-member seeds of the init, data and dropout streams (see member-seeds.h).
 */
#include "compat.h"

#include "base/rng.h"
#include "train/member-seeds.h"

enum { STREAM_INIT = 1, STREAM_DATA = 2, STREAM_DROPOUT = 3 };

static uint64_t seed_of(uint64_t run_seed, uint64_t stream, bool vary, uint32_t member) {
  return lr_seed_mix(lr_seed_mix(run_seed, stream), vary ? (uint64_t)member + 1 : 0);
}

void lr_member_seeds_of(uint64_t run_seed, bool vary_init, bool vary_data, bool vary_dropout,
                        uint32_t member, lr_member_seeds *out) {
  out->init = seed_of(run_seed, STREAM_INIT, vary_init, member);
  out->data = seed_of(run_seed, STREAM_DATA, vary_data, member);
  out->dropout = seed_of(run_seed, STREAM_DROPOUT, vary_dropout, member);
}
