/*
 * task.c: one Slurm array task (task.h).
 */
#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-copy.h"
#include "base/file-util.h"
#include "grid/grid.h"
#include "run/scheduler.h"
#include "run/slurm-ctl.h"
#include "run/slurm-shards.h"
#include "run/slurm-submission.h"
#include "run/slurm-task.h"
#include "store/store-runs.h"
#include "store/store.h"

/* Set by SIGUSR1, Slurm's warning before a time limit or preemption: the scheduler polls it
 * (lr_sched_opts.stop) and stops, marking its run interrupted; before the scheduler starts, the
 * task skips its runs.  Either way it then saves what it has. */
static volatile sig_atomic_t warned;

static void on_warning(int sig) {
  (void)sig;
  warned = 1;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The task's directory on node-local disk, and its database there. */
static lr_status local_paths(const lr_task_opts *o, char **dir, char **db, lr_err *err) {
  const char *base = strrchr(o->submission, '/');
  base = base && base[1] ? base + 1 : o->submission;
  if (asprintf(dir, "%s/lorens-%s-task-%ld", o->scratch, base, o->task) < 0 ||
      asprintf(db, "%s/task-%ld.db", *dir, o->task) < 0)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  return lr_mkdir_p(*dir, err);
}

/* The task's sweep: the submission's grid with only this task's runs. */
static lr_status task_grid(const lr_submission *s, const char *yaml, long task, lr_grid *g,
                           lr_err *err) {
  if (lr_grid_parse(s->grid_path, yaml, strlen(yaml), s->base_dir, g, err) != LR_OK)
    return err->code;
  if (lr_grid_keep_cells(g, (const char *const *)s->tasks[task], s->task_runs[task]) !=
      s->task_runs[task])
    return lr_fail(err, LR_EINVAL,
                   "%s/grid.yaml: gives %zu of task %ld's %zu runs here (its paths resolve "
                   "against %s): is this the lorens that submitted it?",
                   s->dir, g->n_cells, task, s->task_runs[task], s->base_dir);
  return LR_OK;
}

static lr_status run_runs(const lr_task_opts *o, const lr_submission *s, lr_store *store,
                          int64_t sweep_id, lr_sched_result *res, lr_err *err) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  lr_sched_opts so = {0};
  if (len <= 0)
    return lr_fail(err, LR_EIO, "cannot find the lorens program (/proc/self/exe): %s",
                   strerror(errno));
  exe[len] = '\0';
  so.db_path = lr_store_path(store);
  so.worker_exe = exe;
  so.jobs = 1;
  so.threads = s->threads;
  so.micro_batch_tokens = s->micro_batch_tokens;
  so.retries = s->retries;
  so.timeout = s->timeout;
  so.stale_after = 60;
  so.heartbeat_every = 5;
  so.quiet = o->quiet;
  so.progress_every = o->quiet ? 0 : 60;
  so.backend_dirs = (const char *const *)s->backend_dirs;
  so.n_backend_dirs = s->n_backend_dirs;
  so.stop = &warned;
  return lr_schedule(store, sweep_id, &so, res, err);
}

lr_status lr_slurm_task_run(const lr_task_opts *o, int *exit_code, lr_err *err) {
  lr_submission s;
  lr_grid g = {0};
  lr_store *store = NULL;
  char *yaml = NULL, *dir = NULL, *db = NULL, *partial = NULL, *note = NULL;
  int64_t sweep_id = 0;
  size_t n_new = 0;
  lr_run_counts c = {0};
  lr_sched_result res = {0};
  struct sigaction sa, old;
  lr_status rc;
  *exit_code = 1;
  /* From the start: SIGUSR1's default action would end the task without saving anything. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_warning;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, &old);
  if ((rc = lr_submission_read(o->submission, &s, &yaml, err)) != LR_OK) {
    sigaction(SIGUSR1, &old, NULL);
    return rc;
  }
  if (o->task < 0 || (size_t)o->task >= s.n_tasks) {
    rc = lr_fail(err, LR_EINVAL, "%s: task %ld: the submission has tasks 0 to %zu",
                 o->submission, o->task, s.n_tasks - 1);
    goto out;
  }
  if ((rc = task_grid(&s, yaml, o->task, &g, err)) != LR_OK ||
      (rc = local_paths(o, &dir, &db, err)) != LR_OK)
    goto out;
  if (asprintf(&partial, "%s/partial/task-%ld", o->submission, o->task) < 0) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  /* A task preempted elsewhere resumes from what it saved (here, its own copy is as new). */
  if (access(db, F_OK) != 0 && is_dir(partial)) {
    if (!o->quiet)
      fprintf(stderr, "lorens: task %ld resumes from %s\n", o->task, partial);
    if ((rc = lr_remove_tree(dir, err)) != LR_OK || (rc = lr_copy_tree(partial, dir, err)) != LR_OK)
      goto out;
  }
  if ((rc = lr_store_open(db, LR_STORE_CREATE, &store, err)) != LR_OK ||
      (rc = lr_runs_insert_sweep(store, &g, &sweep_id, &n_new, err)) != LR_OK)
    goto out;
  if (!warned)
    rc = run_runs(o, &s, store, sweep_id, &res, err);
  if (rc == LR_OK)
    rc = lr_runs_count(store, sweep_id, &c, err);
  lr_store_leave_wal(store);
  lr_store_close(store);
  store = NULL;
  if (rc != LR_OK)
    goto out;
  if (res.signal || warned) {
    /* Stopped before the end: save the state where the next start, on any node, finds it. */
    char *pdir = NULL;
    if (asprintf(&pdir, "%s/partial", o->submission) < 0)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    else if ((rc = lr_mkdir_p(pdir, err)) == LR_OK)
      rc = lr_publish(dir, partial, err);
    free(pdir);
    if (rc == LR_OK && !o->quiet)
      fprintf(stderr, "lorens: task %ld stopped (%s): its state is saved in %s%s\n", o->task,
              warned ? "Slurm's warning signal" : "terminated", partial,
              warned && o->requeue_job ? "; requeueing" : "");
    if (rc == LR_OK && warned && o->requeue_job)
      rc = lr_slurm_requeue(o->requeue_job, err);
    *exit_code = 128 + (warned ? SIGUSR1 : res.signal);
    goto out;
  }
  if (asprintf(&note, "job %s, task %ld: %ld done, %ld diverged, %ld failed", o->job, o->task,
               c.done, c.diverged, c.failed) < 0) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = lr_shard_publish(db, o->submission, o->task, note, err)) != LR_OK)
    goto out;
  lr_remove_tree(partial, &(lr_err){0});
  lr_remove_tree(dir, &(lr_err){0});
  if (!o->quiet)
    fprintf(stderr, "lorens: %s: published to %s/shards\n", note, o->submission);
  *exit_code = c.failed || c.pending || c.interrupted ? 1 : 0;
out:
  sigaction(SIGUSR1, &old, NULL);
  lr_store_close(store);
  lr_grid_release(&g);
  lr_submission_release(&s);
  free(yaml);
  free(dir);
  free(db);
  free(partial);
  free(note);
  return rc;
}
