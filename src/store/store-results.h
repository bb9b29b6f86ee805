/*
 * store-results.h: what a run's worker writes: its members, evaluation rows and per-example
 * predictions, and the run's final status.
 *
 * The caller opens the transaction (lr_store_begin), checks its claim (lr_runs_check_claim) and
 * commits, so that one logical write (an epoch's evaluations, a run's completion) lands whole or
 * not at all.  Non-finite metrics are stored as NULL with finite = 0.
 */
#ifndef LORENS_STORE_RESULTS_H
#define LORENS_STORE_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"
#include "train/member-seeds.h"
#include "train/run-eval.h"
#include "train/trainer.h"

/* One members row per member, status 'training'. */
lr_status lr_results_members(lr_store *s, int64_t run_id, uint32_t n,
                             const lr_member_seeds *seeds, lr_err *err);

/* The evaluation rows of one set at one epoch (rows from lr_eval_rows, plus lr_eval_ood on an OOD
 * set); selection is "epoch", or "best" for the members at their early-stopping best epochs.
 * Metrics that a row does not have (diversity of members, OOD AUROCs of an in-distribution set,
 * MI of members) are NULL; a NaN one is NULL too, and NaN or infinity sets the row's finite = 0.
 * With predictions, also each member's predictions on every example (only for selection
 * "epoch": the predictions table has one row per member, epoch and example). */
lr_status lr_results_set(lr_store *s, int64_t run_id, long epoch, const char *selection,
                         const lr_set_scores *set, const lr_eval_row *rows, bool predictions,
                         lr_err *err);

/* Train log rows (finite 0 when loss, ce, kl or grad_norm is NaN or infinite). */
lr_status lr_results_train_log(lr_store *s, int64_t run_id, const lr_log_row *rows, size_t n,
                               lr_err *err);

/* A member's status ("training", "done", "stopped", "diverged"), best epoch (< 0: none),
 * divergence step (< 0: none) and adapter directory (NULL: unchanged), relative to the
 * database's runs directory (RUN_KEY/member-M; see lr_store_runs_dir). */
lr_status lr_results_member(lr_store *s, int64_t run_id, uint32_t member, const char *status,
                            long best_epoch, int64_t diverged_step, const char *adapter_path,
                            lr_err *err);

/* Deletes what an earlier attempt stored: everything (after_epoch < 0, members included), or the
 * train log, evaluations and predictions of epochs after after_epoch (a resumed run). */
lr_status lr_results_clear(lr_store *s, int64_t run_id, long after_epoch, lr_err *err);

/* The latest epoch with evaluations stored for the run, or -1. */
lr_status lr_results_last_epoch(lr_store *s, int64_t run_id, long *epoch, lr_err *err);

/* Marks the members still 'training' done, the run done (or diverged), and drops the claim. */
lr_status lr_results_finish(lr_store *s, int64_t run_id, const char *token, const char *status,
                            lr_err *err);

/* Receives a member and the directory of its saved adapter (NULL when none was saved), resolved
 * against where the database is now: FILE.runs/RUN_KEY/member-M (lr_store_runs_dir), also for
 * the absolute paths that older files hold.  A status other than LR_OK stops the listing and is
 * returned. */
typedef lr_status (*lr_adapter_fn)(void *ctx, long member, const char *adapter_path, lr_err *err);

/* The run's members in order, or only member `member` when it is >= 0, each handed to fn. */
lr_status lr_results_adapters(lr_store *s, int64_t run_id, long member, lr_adapter_fn fn,
                              void *ctx, lr_err *err);

#endif /* LORENS_STORE_RESULTS_H */
