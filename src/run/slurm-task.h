/*
 * task.h: one Slurm array task of a submission (`lorens slurm task`, which the batch script
 * runs): its runs, one after another through the local executor (scheduler.h: a worker process
 * per run, timeouts, retries), into a database on node-local disk, published as a shard when they
 * have all ended (shards.h).
 *
 * Preemption and time limits: on SIGUSR1 (the batch script asks Slurm for it before the end,
 * --signal=B:USR1@N) or SIGTERM the task stops its run (marked interrupted; the trainer keeps a
 * checkpoint at every epoch), publishes its database and runs directory to
 * SUBMISSION/partial/task-N, and on SIGUSR1 requeues itself (`scontrol requeue`).  The next start
 * of the task, on whatever node, resumes from there.
 */
#ifndef LORENS_SLURM_TASK_H
#define LORENS_SLURM_TASK_H

#include <stddef.h>

#include "base/error.h"

typedef struct lr_task_opts {
  const char *submission;   /* the submission directory */
  long task;                /* its task number */
  const char *scratch;      /* node-local directory for the task's database */
  const char *job;          /* "ARRAYJOB_INDEX", for messages and the shard's marker */
  const char *requeue_job;  /* the job id `scontrol requeue` takes; NULL: do not requeue */
  bool quiet;
} lr_task_opts;

/* Runs the task; *exit_code is what the process should exit with: 0 when every run is done, 1
 * when some failed, 128 + the signal when it was stopped (its state saved). */
lr_status lr_slurm_task_run(const lr_task_opts *o, int *exit_code, lr_err *err);

#endif /* LORENS_SLURM_TASK_H */
