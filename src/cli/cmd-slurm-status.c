/*
 * cmd-slurm-status.c: `lorens slurm status --db FILE`: one squeue call (and one sacct call for
 * arrays squeue has forgotten) for every recorded array, with the shards present: tasks
 * published, running, pending, failed or lost, why each failed, and the runs by status.
 */
#include "compat.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "run/slurm-shards.h"
#include "run/slurm-submission.h"
#include "run/slurm-ctl.h"
#include "store/store-slurm.h"
#include "store/store-status.h"
#include "store/store.h"

typedef struct status_opts {
  const char *db;
  long tail;
} status_opts;

static const lr_option status_options[] = {
    {LR_ARG_STRING(status_opts, db, "db", 0, "FILE", "the main database"), .required = true},
    {LR_ARG_INT(status_opts, tail, "tail", 0, "N", 0, 1000,
                "lines of a failed task's log to show (default 5)")},
    LR_ARG_END,
};

/* The last n lines of a file, each prefixed, to fp. */
static void print_tail(FILE *fp, const char *path, long n) {
  char *text = NULL, *p;
  size_t len = 0;
  lr_err ignored;
  long seen = 0;
  if (n <= 0 || lr_read_file(path, (size_t)64 << 20, "a log", &text, &len, &ignored) != LR_OK)
    return;
  p = text + len;
  while (p > text && (p[-1] == '\n'))
    *--p = '\0';
  while (p > text && seen < n)
    if (*--p == '\n')
      seen++;
  if (*p == '\n')
    p++;
  for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
    fprintf(fp, "      | %s\n", line);
  free(text);
}

typedef struct run_totals {
  long long done, diverged, failed, other;
} run_totals;

static void add_total(void *ctx, const char *status, long long n) {
  run_totals *t = ctx;
  if (strcmp(status, "done") == 0)
    t->done += n;
  else if (strcmp(status, "diverged") == 0)
    t->diverged += n;
  else if (strcmp(status, "failed") == 0)
    t->failed += n;
  else
    t->other += n;
}

/* Where a task stands, from its shard and what Slurm says. */
enum { T_PUBLISHED, T_RUNNING, T_PENDING, T_FAILED, T_LOST, T_STATES };

static const lr_slurm_task *find_task(const lr_slurm_task *t, size_t n, long job, long idx) {
  for (size_t i = 0; i < n; i++)
    if (t[i].job_id == job && t[i].index == idx)
      return &t[i];
  return NULL;
}

static int run_status_cmd(int argc, char **argv) {
  status_opts o = {.tail = 5};
  lr_store *store = NULL;
  lr_err err;
  lr_slurm_job *jobs = NULL;
  size_t n_jobs = 0, n_tasks = 0;
  lr_slurm_task *tasks = NULL;
  long n_task[T_STATES] = {0}, n_run[T_STATES] = {0};
  int rc = lr_options_parse(&lr_cmd_slurm_status, argc, argv, &o, NULL);
  lr_err_init(&err);
  if (rc != LR_EXIT_OK)
    return rc;
  rc = LR_EXIT_FAILURE;
  if (lr_store_open(o.db, LR_STORE_READONLY, &store, &err) != LR_OK)
    goto out;
  if (lr_slurm_jobs(store, &jobs, &n_jobs, &err) != LR_OK)
    goto out;
  if (n_jobs == 0) {
    printf("no Slurm submissions in %s\n", o.db);
    rc = LR_EXIT_OK;
    goto out;
  }
  if (lr_slurm_tasks_of(jobs, n_jobs, &tasks, &n_tasks, &err) != LR_OK) {
    /* Without Slurm (on a machine that only sees the files) the shards still say a lot. */
    fprintf(stderr, "lorens: %s; showing the shards alone\n", err.msg);
    lr_err_init(&err);
  }
  for (size_t j = 0; j < n_jobs; j++) {
    const lr_slurm_job *jr = &jobs[j];
    lr_submission sub;
    /* How many runs each task carries: from its submission's task file, when it is readable. */
    bool have_sub = lr_submission_read(jr->submission, &sub, NULL, &(lr_err){0}) == LR_OK;
    printf("array job %ld: %s, tasks %ld-%ld\n", jr->job_id, jr->submission, jr->first_task,
           jr->first_task + jr->n_tasks - 1);
    for (long i = 0; i < jr->n_tasks; i++) {
      const lr_slurm_task *t = find_task(tasks, n_tasks, jr->job_id, i);
      long task = jr->first_task + i, runs = have_sub && (size_t)task < sub.n_tasks
                                                  ? (long)sub.task_runs[task] : 0;
      char log[PATH_MAX];
      int state = lr_shard_published(jr->submission, task)       ? T_PUBLISHED
                  : t && strcmp(t->state, "RUNNING") == 0        ? T_RUNNING
                  : t && lr_slurm_active(t->state)               ? T_PENDING
                  : t                                            ? T_FAILED
                                                                 : T_LOST;
      n_task[state]++;
      n_run[state] += runs;
      if (state == T_PUBLISHED || state == T_RUNNING || state == T_PENDING)
        continue;
      snprintf(log, sizeof log, "%s/logs/%ld_%ld.out", jr->submission, jr->job_id, i);
      if (state == T_FAILED)
        printf("  task %ld (%ld_%ld): %s, %s%s%s, no shard; log %s\n", task, jr->job_id, i,
               t->state, t->exit[0] ? t->exit : "no exit status",
               t->reason[0] && strcmp(t->reason, "None") ? ", " : "",
               t->reason[0] && strcmp(t->reason, "None") ? t->reason : "", log);
      else
        printf("  task %ld (%ld_%ld): not known to Slurm and no shard (lost); log %s\n", task,
               jr->job_id, i, log);
      print_tail(stdout, log, o.tail);
    }
    if (have_sub)
      lr_submission_release(&sub);
  }
  printf("tasks: %ld published, %ld running, %ld pending, %ld failed, %ld lost\n",
         n_task[T_PUBLISHED], n_task[T_RUNNING], n_task[T_PENDING], n_task[T_FAILED],
         n_task[T_LOST]);
  printf("their runs: %ld published, %ld running, %ld pending, %ld in failed tasks, %ld lost\n",
         n_run[T_PUBLISHED], n_run[T_RUNNING], n_run[T_PENDING], n_run[T_FAILED], n_run[T_LOST]);
  {
    run_totals c = {0};
    if (lr_status_counts(store, add_total, &c, &err) != LR_OK)
      goto out;
    printf("runs in %s: %lld done, %lld diverged, %lld failed, %lld not finished (`lorens "
           "collect` merges what the tasks published)\n", o.db, c.done, c.diverged, c.failed,
           c.other);
  }
  rc = n_task[T_FAILED] || n_task[T_LOST] ? LR_EXIT_FAILURE : LR_EXIT_OK;
out:
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  lr_slurm_jobs_free(jobs, n_jobs);
  free(tasks);
  lr_store_close(store);
  return rc;
}

const lr_command lr_cmd_slurm_status = {
    .name = "slurm status", .options = status_options, .run = run_status_cmd,
    .help = lr_help_slurm,
    .summary = "Where the submitted arrays stand: one query to Slurm, and the shards."};

