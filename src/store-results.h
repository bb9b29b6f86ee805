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

#include <stdint.h>

#include "error.h"
#include "member-seeds.h"
#include "run-eval.h"
#include "store.h"

/* One members row per member, status 'training'. */
lr_status lr_results_members(lr_store *s, int64_t run_id, uint32_t n,
                             const lr_member_seeds *seeds, lr_err *err);

/* The evaluation rows of one set at one epoch (rows from lr_eval_rows, plus lr_eval_ood on an OOD
 * set) and, per member, its predictions on every example.  Metrics that a row does not have
 * (diversity of members, OOD AUROCs of an in-distribution set, MI of members) are NULL; one that
 * is NaN or infinite is NULL too, with the row's finite = 0. */
lr_status lr_results_set(lr_store *s, int64_t run_id, long epoch, const lr_set_scores *set,
                         const lr_eval_row *rows, lr_err *err);

/* Marks every member and the run itself done (or diverged) and drops the claim. */
lr_status lr_results_finish(lr_store *s, int64_t run_id, const char *token, const char *status,
                            lr_err *err);

#endif /* LORENS_STORE_RESULTS_H */
