/*
 * worker.h: one run, in its own process (`lorens worker`, started by the scheduler).
 *
 * The worker reads its run's resolved configuration from the store, loads the model, tokenizer
 * and datasets, opens one backend session holding the run's M members, evaluates every member and
 * the ensembles of the first k members on the validation and evaluation sets, and writes members,
 * evaluations and predictions with the run's final status in one transaction, guarded by its
 * claim.  A crash anywhere in here (a plugin's segfault included) costs only this process: the
 * scheduler records how it ended.
 *
 * Progress goes to a pipe as lines of key=value pairs ("phase=eval set=arc-test done=32
 * total=100"), which the scheduler shows.
 */
#ifndef LORENS_WORKER_H
#define LORENS_WORKER_H

#include <stddef.h>

#include "base/error.h"

typedef struct lr_worker_opts {
  const char *db;
  const char *run_key;
  const char *claim;              /* the token of the attempt this worker carries out */
  const char *const *backend_dirs;
  size_t n_backend_dirs;
  long threads;                   /* 0: the backend's default */
  long micro_batch_tokens;        /* 0: whole batches (lorens_session_desc) */
  long device;                    /* for GPU backends; 0 by default */
  int progress_fd;                /* -1: none */
} lr_worker_opts;

/* The exit status of a worker whose run hit a full disk (EX_TEMPFAIL): the scheduler marks the
 * run interrupted, not failed, so that a resume retries it, and starts no more runs. */
enum { LR_WORKER_EXIT_DISK_FULL = 75 };

lr_status lr_worker_run(const lr_worker_opts *o, lr_err *err);

#endif /* LORENS_WORKER_H */
