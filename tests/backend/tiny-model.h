/*
 * tiny-model.h: small random LLaMA-family models and batches built in memory, for backend tests.
 */
#ifndef LORENS_TINY_MODEL_H
#define LORENS_TINY_MODEL_H

#include <stdint.h>

#include <lorens/backend.h>

typedef struct tiny_spec {
  int vocab, dim, hidden, layers, heads, kv_heads, head_dim;
  int tied, qkv_bias, llama3_rope;
  uint64_t seed;
} tiny_spec;

typedef struct tiny_model {
  lorens_model model;
  lorens_tensor *layers;
  float *data; /* every tensor's values, one allocation */
} tiny_model;

void tiny_model_init(tiny_model *t, const tiny_spec *s);
void tiny_model_release(tiny_model *t);

/* A batch of n examples with the given lengths and answer positions; K = 4 choices (the last
 * example has 3).  Arrays are malloc'ed inside *store and freed by tiny_batch_release. */
typedef struct tiny_batch {
  lorens_batch b;
  int32_t *tokens, *choice_ids, *labels;
  uint32_t *offsets, *answer_pos, *n_choices;
  float *kl_target;
} tiny_batch;

void tiny_batch_init(tiny_batch *tb, int vocab, int n, const uint32_t *lengths,
                     const uint32_t *answer_pos, uint64_t seed);
void tiny_batch_release(tiny_batch *tb);

#endif /* LORENS_TINY_MODEL_H */
