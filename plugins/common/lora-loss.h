/*
 * lora-loss.h: the training loss on the host, from the logits at the answer positions.
 *
 * Per example: cross-entropy of the label under a softmax over the example's choice tokens or the
 * whole vocabulary, plus kl_weight times a KL divergence to the base model's distribution over the
 * choices or the vocabulary, in either direction.  The batch loss is the mean over examples.  The
 * logits are small (examples x choices, or examples x vocabulary), so this runs on the host in
 * double precision for every backend.
 */
#ifndef LORENS_LORA_LOSS_H
#define LORENS_LORA_LOSS_H

#include <lorens/backend.h>

#include "real.h"

typedef struct lr_loss_opts {
  int loss_support;  /* lorens_support */
  float kl_weight;
  int kl_support;    /* lorens_support */
  int kl_direction;  /* lorens_kl_direction */
  int objective;     /* lorens_objective; LORENS_OBJECTIVE_NEXT_TOKEN ignores the fields above */
} lr_loss_opts;

typedef struct lr_loss {
  double loss, ce, kl; /* means over the batch's examples */
} lr_loss;

/* True when the logits must cover the whole vocabulary (either term uses it). */
int lr_loss_needs_vocab(const lr_loss_opts *o);

/*
 * logits: n rows of `width` (the vocabulary when lr_loss_needs_vocab, else b->max_choices).
 * Writes the gradient of the batch loss into dlogits (same shape; NULL to skip) and the loss
 * parts into *out.
 */
void lr_loss_compute(const lorens_batch *b, const lr_loss_opts *o, int vocab, const real *logits,
                     real *dlogits, lr_loss *out);

/*
 * Choices of several tokens (lorens_support in backend.h), with choice_len [n * max_choices]:
 * logits holds, example after example, a vocabulary row for its prompt's last position and one
 * for each choice token but the choice's last, choice after choice: the rows that predict the
 * next token of a choice (lr_choice_rows of them).  Writes each choice's log-likelihood into
 * scores [n * max_choices]; with dlogits (same shape as logits), the loss of o (its supports
 * taken as the choices) over the softmax of the scores into *out and its gradient into dlogits.
 * Returns non-zero when out of memory.
 */
int lr_loss_multi(const lorens_batch *b, const uint32_t *choice_len, const lr_loss_opts *o,
                  int vocab, const real *logits, real *scores, real *dlogits, lr_loss *out);

/* The head rows lr_loss_multi reads for example i. */
size_t lr_choice_rows(const lorens_batch *b, const uint32_t *choice_len, uint32_t i);

/*
 * The next-token loss: logits has `rows` rows of the vocabulary, row i predicting targets[i]; the
 * loss and ce are the mean cross-entropy over the rows (kl is 0), dlogits (NULL to skip) its
 * gradient.
 */
void lr_loss_next_token(const real *logits, size_t rows, int vocab, const int32_t *targets,
                        real *dlogits, lr_loss *out);

#endif /* LORENS_LORA_LOSS_H */
