/*
 * store-status.h: what `lorens status` reads: runs counted by status, overall and per sweep, and
 * the running and the failed, diverged or interrupted runs.  Run them inside one
 * lr_store_begin_read .. lr_store_commit for one snapshot.
 */
#ifndef LORENS_STORE_STATUS_H
#define LORENS_STORE_STATUS_H

#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Receives how many runs have `status`. */
typedef void (*lr_status_count_fn)(void *ctx, const char *status, long long n);

/* Receives how many of a sweep's runs have `status`; status NULL (n 0) for a sweep without runs.
 * A sweep's rows come together, sweeps in id order. */
typedef lr_status (*lr_sweep_count_fn)(void *ctx, int64_t sweep_id, const char *name,
                                       const char *status, long long n, lr_err *err);

/* Every run counted by status. */
lr_status lr_status_counts(lr_store *s, lr_status_count_fn fn, void *ctx, lr_err *err);

/* Every sweep with the runs it owns or shares (runs.sweep_id and sweep_runs, counted once). */
lr_status lr_status_sweep_counts(lr_store *s, lr_sweep_count_fn fn, void *ctx, lr_err *err);

/* The columns of lr_status_running's rows, with the runs table's types. */
enum {
  LR_RUNNING_RUN_KEY,
  LR_RUNNING_HOST,
  LR_RUNNING_BOOT_ID,
  LR_RUNNING_PID,
  LR_RUNNING_WORKER_PID,
  LR_RUNNING_ATTEMPTS,
  LR_RUNNING_HEARTBEAT,
  LR_RUNNING_STARTED_AT,
  LR_RUNNING_CLAIM,
  LR_RUNNING_NCOLS
};

/* The running runs, in id order. */
lr_status lr_status_running(lr_store *s, lr_row_fn fn, void *ctx, lr_err *err);

/* The columns of lr_status_problems's rows. */
enum {
  LR_PROBLEM_RUN_KEY,
  LR_PROBLEM_STATUS,
  LR_PROBLEM_ATTEMPTS,
  LR_PROBLEM_EXIT_STATUS,
  LR_PROBLEM_ERROR,
  LR_PROBLEM_NCOLS
};

/* The failed, diverged and interrupted runs, in id order. */
lr_status lr_status_problems(lr_store *s, lr_row_fn fn, void *ctx, lr_err *err);

#endif /* LORENS_STORE_STATUS_H */
