/*
 * scheduler.h: the local executor: runs a sweep's runs that are not done, N at a time, each in
 * its own worker process (`lorens worker`).
 *
 * The scheduler claims a run (store-runs.h), starts a worker with the claim's token, keeps the
 * claim alive with heartbeats, watches the worker's stderr (its tail becomes the run's error) and
 * progress pipe, enforces the per-run timeout, and records how each worker ended: a segfault,
 * abort, OOM kill or hang inside a backend marks only that run failed.  Workers die with the
 * scheduler (PR_SET_PDEATHSIG), so a scheduler killed with SIGKILL leaves runs whose owner is gone,
 * which the next scheduler finds stale and runs again.  SIGINT and SIGTERM stop launching, pass
 * the signal on to the workers, and mark their runs interrupted.
 */
#ifndef LORENS_SCHEDULER_H
#define LORENS_SCHEDULER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

typedef struct lr_sched_opts {
  const char *db_path;
  const char *worker_exe;          /* the lorens binary started as `lorens worker` */
  long jobs;                       /* workers at a time, >= 1 */
  long threads;                    /* per worker; 0: the backend's default */
  long micro_batch_tokens;         /* passed to each worker; 0: whole batches */
  const long *devices;             /* handed to workers round-robin by slot; may be NULL */
  size_t n_devices;
  long retries;                    /* extra attempts of a run that fails, in this invocation */
  double timeout;                  /* seconds per attempt; 0: none */
  double stale_after;              /* heartbeat age after which another host's run is stale */
  double heartbeat_every;          /* seconds */
  bool quiet;
  bool live;                       /* redraw one progress line (stderr is a terminal) */
  double progress_every;           /* not live: a progress line every this many seconds; 0: none */
  const char *const *backend_dirs;
  size_t n_backend_dirs;
  /* The caller's own stop request (Slurm's warning signal, whose handler sets it): once it is
   * non-zero the sweep stops as on SIGTERM, however early it was set.  May be NULL. */
  const volatile sig_atomic_t *stop;
} lr_sched_opts;

typedef struct lr_sched_result {
  long started, done, failed, retried, interrupted;
  int signal;                      /* SIGINT, SIGTERM or SIGHUP that stopped the sweep, else 0 */
  /* A run hit a full disk: it was marked interrupted and no more runs were started.  disk_full
   * holds the worker's message ("FILE: cannot write: No space left on device"), else "". */
  char disk_full[512];
} lr_sched_result;

lr_status lr_schedule(lr_store *store, int64_t sweep_id, const lr_sched_opts *o,
                      lr_sched_result *res, lr_err *err);

#endif /* LORENS_SCHEDULER_H */
