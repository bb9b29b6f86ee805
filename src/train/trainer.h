/*
 * trainer.h: training a run's M members, one epoch at a time, in one backend session.
 *
 * The training set is tokenized once (lr_train_set).  In every epoch each member sees the whole
 * set in its own order, a permutation drawn from lr_seed_mix(data seed, epoch), in batches of
 * batch_size (the last one smaller); every step is one backend train_step that moves each still
 * training member by one AdamW step on its own batch, at the learning rate of the schedule
 * (lr-schedule.h), with dropout masks keyed by the member's dropout seed and the global step.
 * A member whose loss is not finite is marked diverged at that step and trains no more.
 * Orders and masks depend only on (seed, epoch, step), so an epoch resumed from a checkpoint
 * trains exactly as it would have.
 */
#ifndef LORENS_TRAINER_H
#define LORENS_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"
#include "grid/run-config.h"
#include "model/backend-session.h"
#include "text/dataset.h"
#include "text/prompt.h"
#include "text/tokenizer.h"
#include "train/member-seeds.h"

/* A tokenized, labelled training set, with the base model's probabilities for the KL term. */
typedef struct lr_train_set {
  lr_ids tokens;           /* every example, one after another: its prompt, and with choice_len
                              its choices' tokens after it */
  uint32_t *offsets;       /* n + 1 */
  uint32_t *prompt_len;    /* n: the prompt's tokens (the whole example without choice_len) */
  uint32_t *choice_len;    /* n * LR_DATASET_MAX_CHOICES: each choice's tokens, packed after the
                              prompt (plugin ABI 1.4, lorens_support); NULL: one token each */
  uint32_t *n_choices;     /* n */
  int32_t *choice_ids;     /* n * LR_DATASET_MAX_CHOICES */
  int32_t *labels;         /* n */
  size_t n, max_len;       /* examples, longest (prompt and choices) */
  float *kl_target;        /* n * kl_width probabilities, or NULL */
  size_t kl_width;         /* LR_DATASET_MAX_CHOICES or the vocabulary size */
} lr_train_set;

/* Renders and tokenizes data[0..n) for training: every example needs a label.  With the cloze
 * template each choice is its whole continuation (choice_len), trained on by its log-likelihood
 * as it is evaluated; with the others each choice needs one scoring token (lr_prompt_fold).
 * Errors name the example.  Examples that cannot be scored (lr_prompt_bad) are left out and go
 * into report, when there is one (the caller decides); without one they fail the build, all
 * named in one error. */
lr_status lr_train_set_build(lr_tokenizer *tok, const lr_prompt_opts *po, const lr_dataset *data,
                             size_t n, lr_train_set *out, lr_prompt_report *report, lr_err *err);
void lr_train_set_release(lr_train_set *s);

/* The base model's probabilities (adapters off) over each example's choices, or over the whole
 * vocabulary (vocab > 0), into s->kl_target: computed once per run, shared by all members. */
lr_status lr_train_set_kl_targets(lr_session *session, int32_t vocab, size_t batch,
                                  lr_train_set *s, lr_err *err);

/* One optimizer step of one member, as the train log stores it. */
typedef struct lr_log_row {
  uint32_t member;
  long epoch;
  int64_t step;            /* global, from 0 */
  double lr, loss, ce, kl, grad_norm, seconds;
  uint64_t tokens;
} lr_log_row;

typedef struct lr_member_train {
  bool training;           /* false once stopped early or diverged */
  bool diverged;
  int64_t diverged_step;
} lr_member_train;

typedef void (*lr_train_progress_fn)(void *ctx, long epoch, int64_t step, int64_t steps,
                                     double mean_loss, double tokens_per_s);

typedef struct lr_trainer {
  lr_session *session;
  const lr_run_config *cfg;
  const lr_train_set *set;
  const lr_member_seeds *seeds;
  uint32_t members;
  lr_member_train *state;  /* members entries, kept by the caller (checkpointed) */
  int64_t steps_per_epoch, total_steps;
  lr_log_row *log;         /* the rows of the last epoch trained */
  size_t n_log, cap_log;
  lr_train_progress_fn progress;
  void *progress_ctx;
  /* Batch buffers, members of each. */
  int32_t *tokens, *choice_ids, *labels;
  uint32_t *offsets, *answer_pos, *n_choices;
  uint32_t *choice_len;             /* with the set's choice_len */
  const uint32_t **choice_len_of;   /* members pointers into choice_len, for train_step */
  float *kl_target;
  lorens_batch *batches;
} lr_trainer;

/* Sets up a trainer over a built set; state must hold `members` entries. */
lr_status lr_trainer_init(lr_trainer *t, lr_err *err);
void lr_trainer_release(lr_trainer *t);

/* Trains epoch `epoch` (1-based) for every member still training; the epoch's rows are in
 * t->log afterwards. */
lr_status lr_trainer_epoch(lr_trainer *t, long epoch, lr_err *err);

#endif /* LORENS_TRAINER_H */
