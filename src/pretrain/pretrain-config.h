/*
 * pretrain-config.h: what `lorens pretrain` builds and how it trains it, from a small YAML file.
 *
 *     model:     {dim: 128, layers: 4, heads: 4, kv_heads: 4, hidden: 352, context: 128,
 *                 tie_embeddings: true, rope_theta: 10000, norm_eps: 1e-5, init_std: 0.02}
 *     tokenizer: {vocab_size: 512}
 *     train:     {steps: 1500, batch: 16, lr: 3e-3, min_lr: 0.1, warmup: 100, schedule: cosine,
 *                 weight_decay: 0.1, grad_clip: 1.0, seed: 1, checkpoint_every: 100}
 *
 * Every key is optional (defaults above, hidden defaults to the LLaMA rule 8/3 * dim rounded up to
 * 32) and every one is checked: an unknown key, a wrong type or a value out of range is an error
 * at file:line:col naming the key, with a did-you-mean for typos.  docs/pretrain.md lists them.
 */
#ifndef LORENS_PRETRAIN_CONFIG_H
#define LORENS_PRETRAIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct lr_pretrain_config {
  /* model */
  long dim, layers, heads, kv_heads, hidden, context;
  bool tie_embeddings;
  double rope_theta, norm_eps, init_std;
  /* tokenizer: byte-level BPE trained on the corpus; the smallest size is bytes only */
  long vocab_size;
  /* train */
  long steps, batch, warmup, checkpoint_every;
  double lr, min_lr, weight_decay, grad_clip, beta1, beta2, adam_eps;
  int schedule; /* LR_SCHEDULE_* (run-config.h) */
  long seed;
} lr_pretrain_config;

void lr_pretrain_config_init(lr_pretrain_config *c);

/* Reads path over the defaults in *c. */
lr_status lr_pretrain_config_load(const char *path, lr_pretrain_config *c, lr_err *err);

/* The resolved configuration as canonical JSON (malloc'ed): what the output directory records,
 * and what a resumed run must match. */
char *lr_pretrain_config_json(const lr_pretrain_config *c);

#endif /* LORENS_PRETRAIN_CONFIG_H */
