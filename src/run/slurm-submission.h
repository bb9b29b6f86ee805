/*
 * submission.h: what `lorens slurm submit` leaves in the shard directory for its array tasks,
 * which read nothing else (never the main database, which may be on another machine's disk):
 *
 *   SHARDS/SUBMISSION/grid.yaml    the sweep's YAML text, as registered
 *   SHARDS/SUBMISSION/tasks.json   the grid's base directory, the worker options, and each
 *                                  task's run_keys
 *   SHARDS/SUBMISSION/job.sbatch   the batch script, kept for the record
 *   SHARDS/SUBMISSION/logs/        one log per array task (%A_%a.out)
 *   SHARDS/SUBMISSION/shards/      the tasks' published results (shards.h)
 *   SHARDS/SUBMISSION/partial/     a preempted task's state, until it resumes
 *
 * SUBMISSION is "SWEEP-YYYYmmdd-HHMMSS-PID", so submissions never share a directory.
 */
#ifndef LORENS_SLURM_SUBMISSION_H
#define LORENS_SLURM_SUBMISSION_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "grid/grid.h"

typedef struct lr_submission {
  char *dir;            /* absolute */
  char *grid_path;      /* the grid file as registered (for messages) */
  char *base_dir;       /* relative paths of the grid resolve against it */
  char *db;             /* the main database, absolute (for messages and `lorens collect`) */
  char **backend_dirs;
  size_t n_backend_dirs;
  long threads, retries, micro_batch_tokens;
  double timeout;
  char ***tasks;        /* tasks[i]: its run_keys */
  size_t *task_runs;    /* how many each has */
  size_t n_tasks;
} lr_submission;

/* Writes grid.yaml and tasks.json of s into s->dir (created, with logs/ and shards/). */
lr_status lr_submission_write(const lr_submission *s, const lr_grid *g, lr_err *err);

/* Reads the submission in dir (tasks.json); with yaml not NULL, the grid's text into *yaml (from
 * malloc). */
lr_status lr_submission_read(const char *dir, lr_submission *s, char **yaml, lr_err *err);

void lr_submission_release(lr_submission *s);

/* What the batch script passes to sbatch and runs. */
typedef struct lr_sbatch_opts {
  const char *lorens;       /* the program, absolute */
  const char *job_name;
  const char *partition, *gres, *time, *mem; /* NULL: the cluster's defaults */
  long cpus;                /* per task; 0: the cluster's default */
  long preempt_warning;     /* seconds before the end: --signal=B:USR1@N */
  const char *const *extra; /* more #SBATCH options, verbatim */
  size_t n_extra;
} lr_sbatch_opts;

/* Prints the batch script of submission dir s to fp. */
void lr_sbatch_script(FILE *fp, const char *dir, const lr_sbatch_opts *o);

#endif /* LORENS_SLURM_SUBMISSION_H */
