/*
 * checkpoint.h: a run's training state at the end of an epoch, so that a run killed in the
 * middle of training resumes from its last completed epoch and ends with the numbers an
 * uninterrupted run would have.
 *
 * One safetensors file (written atomically) holds, per member i, tensors "member.i.weights",
 * "member.i.adam_m", "member.i.adam_v" and, with early stopping, "member.i.best" (the adapters of
 * its best epoch); the metadata holds the epoch, the member count, the parameter count and per
 * member a JSON object with the AdamW step, the early-stopping state and whether it diverged.
 * Data orders and dropout masks are functions of (seed, epoch, step), so they need no state.
 */
#ifndef LORENS_CHECKPOINT_H
#define LORENS_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "train/early-stop.h"
#include "train/trainer.h"

typedef struct lr_ckpt_member {
  float *weights, *adam_m, *adam_v;  /* n_params each */
  float *best;                       /* n_params, or NULL without early stopping */
  int64_t step;
  lr_es_state es;
} lr_ckpt_member;

/* m and train: `members` entries each (train: whether each member still trains or diverged). */
lr_status lr_checkpoint_save(const char *path, long epoch, uint32_t members, uint64_t n_params,
                             const lr_ckpt_member *m, const lr_member_train *train, lr_err *err);

/* Reads a checkpoint into the caller's buffers (same members and n_params, or it is refused).
 * *found is false, and nothing is read, when the file does not exist. */
lr_status lr_checkpoint_load(const char *path, uint32_t members, uint64_t n_params, long *epoch,
                             lr_ckpt_member *m, lr_member_train *train, bool *found, lr_err *err);

#endif /* LORENS_CHECKPOINT_H */
