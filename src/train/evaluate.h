/*
 * evaluate.h: choice probabilities of a multiple-choice dataset, from a backend session.
 *
 * Every example is rendered with a prompt template, packed into batches and scored by the backend
 * at its answer position; the choice logits of each member (or of the base model) become
 * probabilities by a softmax over that example's choices.  When a choice letter takes several
 * tokens (a tiny vocabulary), its log-likelihood is the sum over its tokens, each read at its own
 * position.  `lorens predict` and the run worker both score through here, so a sweep's zero-shot
 * numbers are exactly what `predict` prints.
 */
#ifndef LORENS_EVALUATE_H
#define LORENS_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"
#include "model/backend-session.h"
#include "text/dataset.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

typedef struct lr_scorer {
  lr_session *session;
  int32_t which;             /* LORENS_SCORE_BASE, or LORENS_SCORE_ALL for every member */
  uint32_t members;          /* outputs per example: the session's members, or 1 for the base */
  int32_t vocab_size;
  lr_tokenizer *tok;
  lr_prompt_opts prompt;
  size_t batch;              /* examples per backend call, >= 1 */
  bool fold;                 /* score every choice at one position (lr_prompt_fold), as a run's
                                training does; predict scores the tokenizer's own continuations */
  const lr_prompt *prompts;  /* the data set's prompts, built once (lr_prompts_build); NULL:
                                built batch by batch */
} lr_scorer;

/*
 * Called once per example, in dataset order: probs[m * LR_DATASET_MAX_CHOICES + k] is member m's
 * probability of choice k (k < ex->n_choices).  Returning non-LR_OK stops the scoring.
 */
typedef lr_status (*lr_score_fn)(void *ctx, size_t index, const lr_example *ex,
                                 const lr_prompt *p, const double *probs, lr_err *err);

lr_status lr_score_dataset(const lr_scorer *s, const lr_dataset *data, lr_score_fn fn, void *ctx,
                           lr_err *err);

/* Every example's prompt, as lr_score_dataset would build it, so that a data set scored every
 * epoch is rendered and tokenized once, and so that every example is checked against the
 * model's context before the first forward pass.  Examples that do not fit (their prompt's misfit
 * is set) go into report, when there is one, and the build goes on: the caller decides; without
 * one they fail the build, all of them named in one error.  Release with
 * lr_prompts_release(p, data->n). */
lr_status lr_prompts_build(const lr_scorer *s, const lr_dataset *data, lr_prompt **out,
                           lr_prompt_report *report, lr_err *err);
void lr_prompts_release(lr_prompt *p, size_t n);

/* Softmax over k logits (float) into probs (double), stable. */
void lr_choice_softmax(const float *logits, int k, double *probs);

#endif /* LORENS_EVALUATE_H */
