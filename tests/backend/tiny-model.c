/*
 * tiny-model.c: small test batches (see tiny-model.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "grad-check.h"
#include "tiny-model.h"

void tiny_batch_init(tiny_batch *tb, int vocab, int n, const uint32_t *lengths,
                     const uint32_t *answer_pos, uint64_t seed) {
  uint64_t rng = seed | 1;
  uint32_t total = 0;
  memset(tb, 0, sizeof *tb);
  for (int i = 0; i < n; i++)
    total += lengths[i];
  tb->tokens = malloc(total * sizeof *tb->tokens);
  tb->offsets = malloc((size_t)(n + 1) * sizeof *tb->offsets);
  tb->answer_pos = malloc((size_t)n * sizeof *tb->answer_pos);
  tb->n_choices = malloc((size_t)n * sizeof *tb->n_choices);
  tb->choice_ids = calloc((size_t)n * 4, sizeof *tb->choice_ids);
  tb->labels = malloc((size_t)n * sizeof *tb->labels);
  tb->kl_target = calloc((size_t)n * (size_t)vocab, sizeof *tb->kl_target);
  tb->offsets[0] = 0;
  for (int i = 0; i < n; i++) {
    tb->offsets[i + 1] = tb->offsets[i] + lengths[i];
    tb->answer_pos[i] = answer_pos[i];
    tb->n_choices[i] = i == n - 1 ? 3 : 4;
    tb->labels[i] = (int32_t)(i % (int)tb->n_choices[i]);
    for (uint32_t c = 0; c < tb->n_choices[i]; c++)
      tb->choice_ids[i * 4 + (int)c] = (int32_t)((c * 7 + (uint32_t)i * 3 + 1) % (uint32_t)vocab);
  }
  for (uint32_t t = 0; t < total; t++)
    tb->tokens[t] = (int32_t)(test_uniform(&rng) * vocab);
  tb->b.n = (uint32_t)n;
  tb->b.max_choices = 4;
  tb->b.tokens = tb->tokens;
  tb->b.offsets = tb->offsets;
  tb->b.answer_pos = tb->answer_pos;
  tb->b.n_choices = tb->n_choices;
  tb->b.choice_ids = tb->choice_ids;
  tb->b.labels = tb->labels;
}

lorens_train_args tiny_train_args(const lorens_batch *batches, const float *lr, float *loss,
                                  const uint64_t *seeds) {
  lorens_train_args a = {0};
  a.struct_size = sizeof a;
  a.batches = batches;
  a.lr = lr;
  a.weight_decay_b = 0.01f;
  a.adam_beta1 = 0.9f;
  a.adam_beta2 = 0.999f;
  a.adam_eps = 1e-8f;
  a.grad_clip = 1.0f;
  a.loss = loss;
  a.dropout_seeds = seeds;
  return a;
}

void tiny_batch_release(tiny_batch *tb) {
  free(tb->tokens);
  free(tb->offsets);
  free(tb->answer_pos);
  free(tb->n_choices);
  free(tb->choice_ids);
  free(tb->labels);
  free(tb->kl_target);
  memset(tb, 0, sizeof *tb);
}
