/*
 * store-slurm.h: what the main database records of Slurm submissions (tables slurm_jobs and
 * slurm_task_runs, docs/store.md): the arrays submitted, which runs each task carries, and the
 * runs still to submit.
 */
#ifndef LORENS_STORE_SLURM_H
#define LORENS_STORE_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* One recorded array job. */
typedef struct lr_slurm_job {
  long job_id, first_task, n_tasks;
  char *submission;
} lr_slurm_job;

/* Records array job job_id of the submission: its tasks first_task .. first_task + n_tasks - 1,
 * task t carrying task_runs[t] run_keys task_keys[t] (indexed by the submission's task number),
 * in one transaction. */
lr_status lr_slurm_record(lr_store *s, int64_t sweep_id, long job_id, const char *submission,
                          size_t first_task, size_t n_tasks, char *const *const *task_keys,
                          const size_t *task_runs, lr_err *err);

/* Every recorded array job, oldest first (an older file without the tables has none). */
lr_status lr_slurm_jobs(lr_store *s, lr_slurm_job **out, size_t *n, lr_err *err);
void lr_slurm_jobs_free(lr_slurm_job *jobs, size_t n);

/* A run of the sweep not done (nor diverged), with whether a recorded task carries it and
 * whether one of the live tasks does. */
typedef struct lr_unfinished_run {
  char run_key[65];
  bool submitted, live;
} lr_unfinished_run;

/* The sweep's unfinished runs in registration order; live tasks are (job_ids[i], indices[i]),
 * the array index of each task Slurm still runs or queues. */
lr_status lr_slurm_unfinished(lr_store *s, int64_t sweep_id, const long *job_ids,
                              const long *indices, size_t n_live, lr_unfinished_run **out,
                              size_t *n, lr_err *err);

#endif /* LORENS_STORE_SLURM_H */
