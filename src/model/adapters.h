/*
 * adapters.h: where each LoRA adapter of a member lives, and how members start.
 *
 * The layout is the ABI's canonical order (lorens/backend.h, lorens_member_state): for each layer,
 * for each targeted projection in the order q, k, v, o, gate, up, down, A [rank, in] then
 * B [out, rank].  Initial values follow PEFT: A from kaiming_uniform(a = sqrt(5)), i.e. uniform
 * in +-1/sqrt(in), drawn from lorens' portable RNG so that every backend starts identically;
 * B = 0.
 */
#ifndef LORENS_ADAPTERS_H
#define LORENS_ADAPTERS_H

#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"
#include "base/rng.h"

typedef struct lr_adapter_site {
  int layer, target;  /* target: bit index of lorens_lora_target */
  uint32_t in, out;
  uint64_t offset;    /* of A in the member's weights; B follows at offset + rank * in */
} lr_adapter_site;

/* The short name of a target bit ("q", "k", ... "down"). */
const char *lr_target_name(int target);

/* Parses "q,v" or "q_proj,v_proj" (or "all") into a bit set; errors name the bad item and
 * suggest the closest name. */
lr_status lr_targets_parse(const char *text, uint32_t *out, lr_err *err);

/* Number of floats per member; fills sites (if not NULL, room for n_layers * 7) and *n_sites. */
uint64_t lr_adapter_layout(const lorens_model *m, uint32_t targets, uint32_t rank,
                           lr_adapter_site *sites, size_t *n_sites);

/* Writes a member's initial weights (n floats from lr_adapter_layout). */
void lr_adapter_init(const lorens_model *m, uint32_t targets, uint32_t rank, lr_rng *rng,
                     float *weights);

#endif /* LORENS_ADAPTERS_H */
