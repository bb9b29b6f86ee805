/*
 * adapters.c: the canonical adapter layout and PEFT-style initialisation (see adapters.h).
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/suggest.h"
#include "model/adapters.h"

static const char *const short_names[LORENS_LORA_TARGET_COUNT] = {"q", "k", "v", "o",
                                                                  "gate", "up", "down"};
static const char *const hf_names[LORENS_LORA_TARGET_COUNT] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

const char *lr_target_name(int target) {
  return target >= 0 && target < LORENS_LORA_TARGET_COUNT ? short_names[target] : "?";
}

static int target_index(const char *name, size_t len) {
  for (int t = 0; t < LORENS_LORA_TARGET_COUNT; t++) {
    if ((strlen(short_names[t]) == len && strncmp(name, short_names[t], len) == 0) ||
        (strlen(hf_names[t]) == len && strncmp(name, hf_names[t], len) == 0))
      return t;
  }
  return -1;
}

lr_status lr_targets_parse(const char *text, uint32_t *out, lr_err *err) {
  *out = 0;
  if (strcmp(text, "all") == 0) {
    *out = (1u << LORENS_LORA_TARGET_COUNT) - 1;
    return LR_OK;
  }
  while (*text) {
    size_t len = strcspn(text, ",");
    int t = target_index(text, len);
    if (t < 0) {
      char word[64];
      const char *guess;
      snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), text);
      guess = lr_suggest(word, short_names, LORENS_LORA_TARGET_COUNT);
      if (guess == NULL)
        guess = lr_suggest(word, hf_names, LORENS_LORA_TARGET_COUNT);
      return lr_fail(err, LR_EINVAL, "unknown LoRA target '%s'%s%s%s (targets: q,k,v,o,gate,up,down or all)",
                     word, guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    }
    *out |= 1u << t;
    text += len + (text[len] == ',');
  }
  if (*out == 0)
    return lr_fail(err, LR_EINVAL, "no LoRA targets given");
  return LR_OK;
}

static void target_dims(const lorens_model *m, int t, uint32_t *in, uint32_t *out) {
  uint32_t d = (uint32_t)m->dim, f = (uint32_t)m->hidden_dim;
  uint32_t q = (uint32_t)(m->n_heads * m->head_dim), kv = (uint32_t)(m->n_kv_heads * m->head_dim);
  static const int in_is[LORENS_LORA_TARGET_COUNT] = {0, 0, 0, 1, 0, 0, 2};
  static const int out_is[LORENS_LORA_TARGET_COUNT] = {1, 3, 3, 0, 2, 2, 0};
  const uint32_t dims[4] = {d, q, f, kv};
  *in = dims[in_is[t]];
  *out = dims[out_is[t]];
}

/* Steps *site to the next targeted (layer, target) after it; site->layer = -1 starts. */
static bool next_site(const lorens_model *m, uint32_t targets, uint32_t rank, lr_adapter_site *site) {
  int l = site->layer, t = site->target;
  uint64_t off = l < 0 ? 0 : site->offset + (uint64_t)rank * (site->in + site->out);
  if (l < 0)
    l = 0, t = -1;
  for (;;) {
    if (++t == LORENS_LORA_TARGET_COUNT)
      t = 0, l++;
    if (l >= m->n_layers)
      return false;
    if ((targets >> t) & 1u)
      break;
  }
  site->layer = l;
  site->target = t;
  site->offset = off;
  target_dims(m, t, &site->in, &site->out);
  return true;
}

uint64_t lr_adapter_layout(const lorens_model *m, uint32_t targets, uint32_t rank,
                           lr_adapter_site *sites, size_t *n_sites) {
  lr_adapter_site s = {-1, 0, 0, 0, 0};
  uint64_t total = 0;
  size_t n = 0;
  while (next_site(m, targets, rank, &s)) {
    if (sites)
      sites[n] = s;
    n++;
    total = s.offset + (uint64_t)rank * (s.in + s.out);
  }
  if (n_sites)
    *n_sites = n;
  return total;
}

void lr_adapter_init(const lorens_model *m, uint32_t targets, uint32_t rank, lr_rng *rng,
                     float *weights) {
  lr_adapter_site s = {-1, 0, 0, 0, 0};
  memset(weights, 0, lr_adapter_layout(m, targets, rank, NULL, NULL) * sizeof *weights);
  while (next_site(m, targets, rank, &s)) {
    /* kaiming_uniform(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / in). */
    double bound = 1.0 / sqrt((double)s.in);
    for (uint64_t i = 0; i < (uint64_t)rank * s.in; i++)
      weights[s.offset + i] = (float)(bound * (2 * lr_rng_uniform(rng) - 1));
  }
}
