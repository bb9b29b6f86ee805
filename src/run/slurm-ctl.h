/*
 * slurm-ctl.h: the Slurm commands lorens calls (sbatch, squeue, sacct, scontrol), one process
 * each, their output parsed.  A status query is one squeue call for every recorded array at
 * once (plus one sacct call for arrays squeue no longer knows), never one call per job: polling
 * job by job is what cluster administrators ask tools to stop doing.
 */
#ifndef LORENS_SLURM_CTL_H
#define LORENS_SLURM_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "store/store-slurm.h"

/* sbatch --parsable --array=SPEC [--export=ALL,NAME=VALUE] SCRIPT: the job id in *job_id.
 * Errors carry sbatch's own message. */
lr_status lr_sbatch(const char *script, const char *array_spec, const char *export_env,
                    long *job_id, lr_err *err);

/* scontrol requeue JOB: the job goes back to pending, keeping its array index.  Errors carry
 * scontrol's own message. */
lr_status lr_slurm_requeue(const char *job, lr_err *err);

/* MaxArraySize of the cluster (`scontrol show config`): array indices run 0 .. it - 1.  Slurm's
 * default, 1001, when it cannot be read. */
long lr_slurm_max_array_size(void);

/* One array task as Slurm reports it. */
typedef struct lr_slurm_task {
  long job_id, index;
  char state[24];     /* PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED ... */
  char reason[48];    /* squeue's reason, "" from sacct */
  char exit[48];      /* "exit 3", "signal 9 (SIGKILL)", "" while it runs */
} lr_slurm_task;

/* Whether Slurm still runs or queues a task in this state (PENDING, RUNNING, REQUEUED ...). */
bool lr_slurm_active(const char *state);

/* The tasks of the given array jobs that Slurm still knows: *out (from malloc), *n of them.
 * LR_EUNSUPPORTED with squeue's message when Slurm cannot be asked at all. */
lr_status lr_slurm_tasks(const long *job_ids, size_t n_jobs, lr_slurm_task **out, size_t *n,
                         lr_err *err);

/* lr_slurm_tasks for the recorded arrays (store/store-slurm.h). */
lr_status lr_slurm_tasks_of(const lr_slurm_job *jobs, size_t n_jobs, lr_slurm_task **out,
                            size_t *n, lr_err *err);

#endif /* LORENS_SLURM_CTL_H */
