/*
 * member-seeds.h: the three seeds of each ensemble member.
 *
 * From a run's seed S and a member index m, each randomness source s (init = 1, data = 2,
 * dropout = 3) gets
 *     seed_s(m) = mix(mix(S, s), vary_s ? m + 1 : 0)
 * where mix(x, t) is splitmix64 applied to x XOR (t * 0xd1b54a32d192ed03) (lr_seed_mix).  A
 * source that is `fixed` gives every member the seed of index "0", so with all three fixed every
 * member starts, sees the data and drops out identically.  The streams are independent of each
 * other and of the member count: member 2 of an ensemble of 5 has the seeds of member 2 of 3.
 */
#ifndef LORENS_MEMBER_SEEDS_H
#define LORENS_MEMBER_SEEDS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lr_member_seeds {
  uint64_t init, data, dropout;
} lr_member_seeds;

void lr_member_seeds_of(uint64_t run_seed, bool vary_init, bool vary_data, bool vary_dropout,
                        uint32_t member, lr_member_seeds *out);

#endif /* LORENS_MEMBER_SEEDS_H */
