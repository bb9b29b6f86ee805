/*
 * tiny-model.h: small batches of multiple-choice examples for backend tests (the models come
 * from src/model/random-model.c).
 */
#ifndef LORENS_TINY_MODEL_H
#define LORENS_TINY_MODEL_H

#include <stdint.h>

#include <lorens/backend.h>

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

/* The training arguments of the backend tests: AdamW (0.9, 0.999, 1e-8), weight decay 0.01 on B,
 * gradients clipped to 1; batches, lr, loss and seeds as given (one per member). */
lorens_train_args tiny_train_args(const lorens_batch *batches, const float *lr, float *loss,
                                  const uint64_t *seeds);

#endif /* LORENS_TINY_MODEL_H */
