/*
 * store-runs.h: the life of a run in the store: inserted pending, claimed by one scheduler,
 * kept alive by heartbeats, finished (done, failed, diverged) or interrupted.
 *
 * A claim is a fresh random token written with the owner (host, boot id, pid) in one IMMEDIATE
 * transaction, so two schedulers on one database never claim the same run.  Every later write of
 * the attempt (heartbeats, results, the final status) checks the token: an attempt that lost its
 * claim (found stale and taken over) can no longer write anything.  The worker of a claimed run
 * deletes what an earlier, unfinished attempt left (all of it, or the epochs after the checkpoint
 * it resumes from), so a run's rows always come from one line of training.
 */
#ifndef LORENS_STORE_RUNS_H
#define LORENS_STORE_RUNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/proc-util.h"
#include "grid/grid.h"
#include "store/store.h"

#define LR_CLAIM_TOKEN_LEN 32

typedef struct lr_claim {
  int64_t run_id;
  char run_key[65];
  char token[LR_CLAIM_TOKEN_LEN + 1];
  long attempts;  /* including this one */
} lr_claim;

typedef struct lr_owner {
  lr_host_id id;
  pid_t pid;      /* the scheduler */
} lr_owner;

typedef struct lr_run_counts {
  long pending, running, done, failed, diverged, interrupted, total;
} lr_run_counts;

/* Inserts the sweep and its cells (runs already present by run_key are kept as they are) in one
 * transaction.  *n_new: runs that were not in the database before. */
lr_status lr_runs_insert_sweep(lr_store *s, const lr_grid *g, int64_t *sweep_id, size_t *n_new,
                               lr_err *err);

lr_status lr_runs_count(lr_store *s, int64_t sweep_id, lr_run_counts *out, lr_err *err);

/* Failed runs of the sweep go back to pending; *n says how many. */
lr_status lr_runs_reset_failed(lr_store *s, int64_t sweep_id, long *n, lr_err *err);

/*
 * Claims the sweep's first run that is pending, interrupted, or running under an owner that is
 * gone: same host and boot with a dead pid, same host after a reboot, or a heartbeat older than
 * stale_after seconds.  *found is false when there is none.
 */
lr_status lr_runs_claim(lr_store *s, int64_t sweep_id, const lr_owner *me, double stale_after,
                        lr_claim *out, bool *found, lr_err *err);

/* Records the worker's pid and a heartbeat for one claimed run. */
lr_status lr_runs_started(lr_store *s, const lr_claim *c, pid_t worker_pid, lr_err *err);

/* Heartbeats for every run claimed by this scheduler, one transaction. */
lr_status lr_runs_heartbeat(lr_store *s, const lr_claim *claims, size_t n, lr_err *err);

/*
 * Ends an attempt: status is "failed", "interrupted" or "pending" (to be retried), with how the
 * worker ended and the tail of its stderr.  Does nothing (and says so in *applied) when the claim
 * was lost or the worker already finished the run itself.
 */
lr_status lr_runs_release(lr_store *s, const lr_claim *c, const char *status,
                          const char *exit_status, const char *error, bool *applied, lr_err *err);

/* The current status of a run ("done", ...) into buf. */
lr_status lr_runs_status(lr_store *s, int64_t run_id, char *buf, size_t n, lr_err *err);

/* For a worker: checks inside a transaction that the claim still holds (LR_EINTERRUPTED if not). */
lr_status lr_runs_check_claim(lr_store *s, int64_t run_id, const char *token, lr_err *err);

/* For a worker: the run that run_key names, if claimed with token `claim` and still running: its
 * id, configuration JSON and its sweep's base directory (both from malloc).  LR_ENOTFOUND
 * ("FILE: no run KEY claimed by this attempt") when it is not. */
lr_status lr_runs_load_claimed(lr_store *s, const char *run_key, const char *claim,
                               int64_t *run_id, char **config_json, char **base_dir, lr_err *err);

/* The run whose key starts with `prefix`: *n is 0, 1, or 2 for several.  When *n > 0, the first
 * (in key order) is in *run_id, key[65] and status[32]. */
lr_status lr_runs_find_prefix(lr_store *s, const char *prefix, int64_t *run_id, char *key,
                              char *status, int *n, lr_err *err);

/* The ids of the sweeps whose name or id (as text) is `which`, or of all when which is NULL, in
 * the order they were registered (names need not be unique: a grid edited under the same name is
 * a new sweep); appended to *ids (from malloc, *n of them). */
lr_status lr_sweeps_find(lr_store *s, const char *which, int64_t **ids, size_t *n, lr_err *err);

#endif /* LORENS_STORE_RUNS_H */
