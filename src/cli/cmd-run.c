/*
 * cmd-run.c: `lorens run GRID.yaml --db FILE`: inserts the sweep's runs by run_key (idempotent)
 * and runs every one not done, N at a time, one worker process each (scheduler.h).
 */
#include "compat.h"

#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "grid/grid.h"
#include "run/prepare.h"
#include "run/preflight.h"
#include "run/scheduler.h"
#include "store/run-summary.h"
#include "store/store-runs.h"
#include "store/store.h"

typedef struct run_opts {
  const char *grid, *db;
  lr_strings dirs;
  long jobs, threads, retries; /* -1: from the grid's runtime section */
  double timeout, stale_after; /* < 0: from the grid / the default */
  double progress_every;       /* < 0: the default */
  bool rerun_failed, quiet;
} run_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(run_opts, db, "db", 0, "FILE", "the results database (created if missing)"),
     .required = true},
    {LR_ARG_INT(run_opts, jobs, "jobs", 'j', "N", 1, 1024,
                "workers at a time (default: the grid's runtime.jobs)")},
    {LR_ARG_INT(run_opts, threads, "threads", 0, "N", 0, 4096,
                "threads per worker (default runtime.threads; 0 shares the cores)")},
    {LR_ARG_INT(run_opts, retries, "retries", 0, "K", 0, 4096,
                "attempts after a failure, in this invocation (runtime.retries)")},
    {LR_ARG_DOUBLE(run_opts, timeout, "timeout", 0, "SECONDS", 0, HUGE_VAL,
                   "per attempt, 0 for none (runtime.timeout)")},
    {LR_ARG_FLAG(run_opts, rerun_failed, "rerun-failed", 0,
                 "run the runs that failed before again")},
    {LR_ARG_FLAG(run_opts, quiet, "quiet", 'q', "print errors only (no summary table either)")},
    {LR_ARG_DOUBLE(run_opts, progress_every, "progress-every", 0, "SECONDS", 0, HUGE_VAL,
                   "when stderr is not a terminal (a log file), a progress line with the\n"
                   "ETA every SECONDS (default 60; 0: none)")},
    {LR_ARG_STRINGS(run_opts, dirs, "backend-dir", 0, "DIR",
                    "search DIR for backends first, in the workers and for prepare")},
    /* At least 10 s: schedulers beat every min(stale-after/6, 5) s, and a shorter limit would
     * take over the runs of any scheduler that a busy machine delays by a few seconds. */
    {LR_ARG_DOUBLE(run_opts, stale_after, "stale-after", 0, "SECONDS", 10, HUGE_VAL,
                   "heartbeat age after which another host's running run is taken over\n"
                   "(default 60, at least 10)")},
    LR_ARG_END,
};

static int parse_opts(int argc, char **argv, run_opts *o) {
  int rc = lr_options_parse(&lr_cmd_run, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  o->grid = argv[1];
  return LR_EXIT_OK;
}

/* Threads per worker: the grid's or the flag's; with 0 and several jobs, the cores shared out. */
static long threads_per_job(long threads, long jobs) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (threads > 0 || jobs <= 1)
    return threads;
  return cores / jobs > 1 ? cores / jobs : 1;
}

static void print_counts(FILE *fp, const lr_run_counts *c) {
  fprintf(fp, "%ld done, %ld diverged, %ld failed, %ld interrupted, %ld pending, %ld running",
          c->done, c->diverged, c->failed, c->interrupted, c->pending, c->running);
}

/* The sweep's summary table on stdout, after the scheduler's last line on stderr, so that
 * `lorens run ... > table.txt` keeps the table alone. */
static lr_status print_summary(lr_store *store, int64_t sweep_id, lr_err *err) {
  lr_summary sum;
  if (lr_summary_read(store, sweep_id, &sum, err) != LR_OK)
    return err->code;
  lr_summary_print(&sum, stdout);
  lr_summary_release(&sum);
  if (fflush(stdout) != 0)
    return lr_fail(err, LR_EIO, "cannot write the summary: %s", strerror(errno));
  return LR_OK;
}

static int run_sweep(const run_opts *o, lr_grid *g, lr_store *store, lr_err *err) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  int64_t sweep_id = 0;
  size_t n_new = 0;
  long reset = 0;
  lr_run_counts c;
  lr_sched_result res;
  lr_sched_opts so = {0};
  lr_preflight_opts pf;
  size_t problems;
  if (len <= 0) {
    lr_fail(err, LR_EIO, "cannot find the lorens program (/proc/self/exe): %s", strerror(errno));
    return LR_EXIT_FAILURE;
  }
  exe[len] = '\0';
  if (lr_runs_insert_sweep(store, g, &sweep_id, &n_new, err) != LR_OK ||
      (o->rerun_failed && lr_runs_reset_failed(store, sweep_id, &reset, err) != LR_OK) ||
      lr_runs_count(store, sweep_id, &c, err) != LR_OK)
    return LR_EXIT_FAILURE;
  if (!o->quiet) {
    fprintf(stderr, "sweep '%s': %zu runs (%zu new) in %s: ", g->name, g->n_cells, n_new, o->db);
    print_counts(stderr, &c);
    fputc('\n', stderr);
    if (reset)
      fprintf(stderr, "%ld failed runs will run again (--rerun-failed)\n", reset);
  }
  if (c.pending + c.interrupted + c.running == 0) {
    if (!o->quiet)
      fprintf(stderr, c.failed ? "nothing to do: every run has ended; %ld failed (see `lorens "
                                 "status --db %s`; --rerun-failed runs them again)\n"
                               : "nothing to do: all %ld runs are done%s\n",
              c.failed ? c.failed : c.done + c.diverged, c.failed ? o->db : "");
    /* Running a finished sweep again is how one gets its table back, so it is printed here too. */
    if (!o->quiet && print_summary(store, sweep_id, err) != LR_OK)
      return LR_EXIT_FAILURE;
    return c.failed ? LR_EXIT_FAILURE : LR_EXIT_OK;
  }
  /* Before claiming any run: what every run would fail on fails the sweep once (preflight.h),
   * and its runs stay pending for the next `lorens run`. */
  pf.backend_dirs = o->dirs.a;
  pf.n_backend_dirs = o->dirs.n;
  pf.db_path = o->db;
  if ((problems = lr_preflight(g, &pf, stderr)) > 0) {
    lr_fail(err, LR_EINVAL, "%zu problem%s above: no run of sweep '%s' was started; its runs "
            "stay pending", problems, problems == 1 ? "" : "s", g->name);
    return LR_EXIT_FAILURE;
  }
  so.db_path = o->db;
  so.worker_exe = exe;
  so.jobs = o->jobs > 0 ? o->jobs : g->runtime.jobs;
  so.threads = threads_per_job(o->threads >= 0 ? o->threads : g->runtime.threads, so.jobs);
  so.micro_batch_tokens = g->runtime.micro_batch_tokens;
  so.devices = g->runtime.devices;
  so.n_devices = g->runtime.n_devices;
  so.retries = o->retries >= 0 ? o->retries : g->runtime.retries;
  so.timeout = o->timeout >= 0 ? o->timeout : g->runtime.timeout;
  so.stale_after = o->stale_after >= 0 ? o->stale_after : 60;
  so.heartbeat_every = so.stale_after / 6 < 5 ? so.stale_after / 6 : 5;
  so.quiet = o->quiet;
  so.live = !o->quiet && isatty(STDERR_FILENO);
  so.progress_every = o->progress_every >= 0 ? o->progress_every : 60;
  so.backend_dirs = o->dirs.a;
  so.n_backend_dirs = o->dirs.n;
  if (lr_schedule(store, sweep_id, &so, &res, err) != LR_OK ||
      lr_runs_count(store, sweep_id, &c, err) != LR_OK)
    return LR_EXIT_FAILURE;
  if (!o->quiet) {
    fprintf(stderr, "sweep '%s': ", g->name);
    print_counts(stderr, &c);
    fprintf(stderr, " (this invocation: %ld started, %ld finished, %ld failed, %ld retried)\n",
            res.started, res.done, res.failed, res.retried);
    if (c.running)
      fprintf(stderr, "%ld runs are running under another scheduler; see `lorens status --db %s`\n",
              c.running, o->db);
  }
  /* No table after Ctrl-C: the user asked lorens to stop.  With failed runs it covers what
   * finished, and says how many did not. */
  if (res.signal)
    return 128 + res.signal;
  if (res.disk_full[0]) {
    lr_fail(err, LR_ENOSPC, "disk full: %s; %ld run%s interrupted and no more started",
            res.disk_full, res.interrupted, res.interrupted == 1 ? "" : "s");
    return LR_EXIT_FAILURE;
  }
  if (!o->quiet && print_summary(store, sweep_id, err) != LR_OK)
    return LR_EXIT_FAILURE;
  return c.failed ? LR_EXIT_FAILURE : LR_EXIT_OK;
}

static int run_run(int argc, char **argv) {
  run_opts o = {.jobs = -1, .threads = -1, .retries = -1, .timeout = -1, .stale_after = -1,
                .progress_every = -1};
  lr_grid g = {0};
  lr_store *store = NULL;
  lr_err err;
  int rc;
  lr_err_init(&err);
  if ((rc = parse_opts(argc, argv, &o)) == LR_EXIT_OK) {
    rc = LR_EXIT_FAILURE;
    lr_prepare_opts po = {o.dirs.a, o.dirs.n, o.threads > 0 ? (int)o.threads : 0, o.quiet};
    int stopped_by = 0;
    if (lr_grid_load(o.grid, &g, &err) == LR_OK &&
        lr_prepare_run(&g.prepare, &po, &stopped_by, &err) == LR_OK &&
        lr_store_open(o.db, LR_STORE_CREATE, &store, &err) == LR_OK)
      rc = run_sweep(&o, &g, store, &err);
    /* Stopped by a signal while preparing: exit as the sweep does when stopped (130 for ^C). */
    if (stopped_by)
      rc = 128 + stopped_by;
    /* Whatever the sweep's outcome, a file nobody else has open is left as one file, so that
     * it can be archived and read on read-only storage (docs/store.md). */
    if (store)
      lr_store_leave_wal(store);
    if (err.code != LR_OK)
      lr_err_print(&err, stderr);
    if (err.code == LR_ENOSPC)
      fprintf(stderr, "lorens: free some space, then run the same command again: the runs the "
                      "full disk stopped are run again\n");
  }
  lr_store_close(store);
  lr_grid_release(&g);
  lr_strings_release(&o.dirs);
  return rc;
}

const lr_command lr_cmd_run = {
    .name = "run", .args = "GRID.yaml", .options = options, .run = run_run, .help = lr_help_run,
    .summary = "Run a sweep: every run of a YAML grid not yet done, N at a time, into SQLite.",
    .args_missing = "which grid file?", .args_extra = "one grid file, please"};
