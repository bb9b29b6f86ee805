/*
 * random-model.h: a LLaMA-family model of any shape with random weights, built in memory, for
 * benchmarks and tests that need no checkpoint.
 */
#ifndef LORENS_RANDOM_MODEL_H
#define LORENS_RANDOM_MODEL_H

#include <lorens/backend.h>

#include "base/error.h"

typedef struct lr_random_model_spec {
  int vocab, dim, hidden, layers, heads, kv_heads; /* head_dim = dim / heads */
  int tied;
  uint64_t seed;
  int qkv_bias;     /* q/k/v biases, as Qwen2 has */
  int llama3_rope;  /* llama3 RoPE scaling (factor 4, original context 8: it matters at once) */
  int random_norms; /* RMSNorm weights in [0.8, 1.2] instead of 1, so gradient tests see them */
} lr_random_model_spec;

typedef struct lr_random_model {
  lorens_model model;
  lorens_tensor *layers; /* from malloc */
  float *data;           /* every tensor, one allocation */
} lr_random_model;

lr_status lr_random_model_init(lr_random_model *rm, const lr_random_model_spec *spec, lr_err *err);
void lr_random_model_release(lr_random_model *rm);

#endif /* LORENS_RANDOM_MODEL_H */
