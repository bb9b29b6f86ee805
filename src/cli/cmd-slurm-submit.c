/*
 * cmd-slurm-submit.c: `lorens slurm submit GRID.yaml --db FILE --shards DIR`: registers the
 * grid's runs in the main database as `lorens run` does, writes a submission directory under
 * --shards (src/run/slurm-submission.h), submits one job array per MaxArraySize tasks with sbatch,
 * records the array job ids, and returns at once (docs/slurm.md).
 */
#include "compat.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/file-util.h"
#include "base/proc-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "grid/grid.h"
#include "run/preflight.h"
#include "run/prepare.h"
#include "run/slurm-shards.h"
#include "run/slurm-ctl.h"
#include "run/slurm-submission.h"
#include "store/store-runs.h"
#include "store/store-slurm.h"
#include "store/store.h"

typedef struct submit_opts {
  const char *db, *shards, *partition, *gres, *time, *mem;
  long cpus, max_parallel, runs_per_task, retries, warning;
  double timeout;
  lr_strings dirs;
  bool only_missing, dry_run, quiet;
} submit_opts;

static const lr_option submit_options[] = {
    {LR_ARG_STRING(submit_opts, db, "db", 0, "FILE", "the main database (created if missing)"),
     .required = true},
    {LR_ARG_STRING(submit_opts, shards, "shards", 0, "DIR",
                   "where the tasks publish their results: a directory every node sees"),
     .required = true},
    {LR_ARG_STRING(submit_opts, partition, "partition", 'p', "P", "sbatch --partition")},
    {LR_ARG_STRING(submit_opts, gres, "gres", 0, "G", "sbatch --gres, e.g. gpu:1")},
    {LR_ARG_STRING(submit_opts, time, "time", 't', "T", "sbatch --time, per task")},
    {LR_ARG_INT(submit_opts, cpus, "cpus", 'c', "N", 1, 4096,
                "sbatch --cpus-per-task; the workers' threads too")},
    {LR_ARG_STRING(submit_opts, mem, "mem", 0, "M", "sbatch --mem, per task")},
    {LR_ARG_INT(submit_opts, max_parallel, "max-parallel", 0, "K", 1, 1000000,
                "tasks running at once (the array's %K)")},
    {LR_ARG_INT(submit_opts, runs_per_task, "runs-per-task", 0, "R", 1, 100000,
                "runs each task carries, one after another (default 1)")},
    {LR_ARG_INT(submit_opts, retries, "retries", 0, "K", 0, 4096,
                "attempts after a failure, inside a task (runtime.retries)")},
    {LR_ARG_DOUBLE(submit_opts, timeout, "timeout", 0, "SECONDS", 0, 1e12,
                   "per attempt of a run, 0 for none (runtime.timeout)")},
    {LR_ARG_INT(submit_opts, warning, "warning", 0, "SECONDS", 10, 86400,
                "ask Slurm for SIGUSR1 this long before a task's end, to save its state\n"
                "and requeue (default 120)")},
    {LR_ARG_FLAG(submit_opts, only_missing, "only-missing", 0,
                 "collect what was published, then submit again every run that is not\n"
                 "done and not in a task Slurm still runs or queues")},
    {LR_ARG_FLAG(submit_opts, dry_run, "dry-run", 'n',
                 "print the batch script and the task-to-run table; submit nothing")},
    {LR_ARG_STRINGS(submit_opts, dirs, "backend-dir", 0, "DIR",
                    "search DIR for backends first (on the nodes too)")},
    {LR_ARG_FLAG(submit_opts, quiet, "quiet", 'q', "print errors only")},
    LR_ARG_END,
};

/* The runs of the sweep submit chooses: run_key, and for --dry-run's table its grid axes. */
typedef struct chosen {
  char **keys;
  char **labels;
  size_t n, keys_cap, labels_cap;
  long earlier; /* runs not done that an earlier submission carries (without --only-missing) */
} chosen;

static void chosen_release(chosen *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->keys[i]);
    free(c->labels[i]);
  }
  free(c->keys);
  free(c->labels);
  memset(c, 0, sizeof *c);
}

static lr_status chosen_add(chosen *c, const char *key, const char *label, lr_err *err) {
  char *k, *l;
  if (LR_GROW(c->keys, c->keys_cap, c->n + 1, err) != LR_OK ||
      LR_GROW(c->labels, c->labels_cap, c->n + 1, err) != LR_OK)
    return err->code;
  if ((k = strdup(key)) == NULL || (l = strdup(label)) == NULL) {
    free(k);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  c->keys[c->n] = k;
  c->labels[c->n++] = l;
  return LR_OK;
}

/* The sweep's runs that are not done, less those an earlier submission carries: all of them, or
 * (only_missing) only those in tasks Slurm still runs or queues, which one query to Slurm finds. */
static lr_status choose_runs(lr_store *s, int64_t sweep_id, bool only_missing, chosen *out,
                             lr_err *err) {
  lr_slurm_job *jobs = NULL;
  lr_slurm_task *tasks = NULL;
  lr_unfinished_run *runs = NULL;
  long *live_jobs = NULL, *live_idx = NULL;
  size_t n_jobs = 0, n_tasks = 0, n_live = 0, n_runs = 0;
  lr_status rc = only_missing ? lr_slurm_jobs(s, &jobs, &n_jobs, err) : LR_OK;
  if (rc == LR_OK && n_jobs)
    rc = lr_slurm_tasks_of(jobs, n_jobs, &tasks, &n_tasks, err);
  if (rc == LR_OK && n_tasks &&
      (!(live_jobs = malloc(n_tasks * sizeof *live_jobs)) ||
       !(live_idx = malloc(n_tasks * sizeof *live_idx))))
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; rc == LR_OK && i < n_tasks; i++)
    if (lr_slurm_active(tasks[i].state)) {
      live_jobs[n_live] = tasks[i].job_id;
      live_idx[n_live++] = tasks[i].index;
    }
  if (rc == LR_OK)
    rc = lr_slurm_unfinished(s, sweep_id, live_jobs, live_idx, n_live, &runs, &n_runs, err);
  for (size_t i = 0; rc == LR_OK && i < n_runs; i++) {
    if (only_missing ? runs[i].live : runs[i].submitted)
      out->earlier++;
    else
      rc = chosen_add(out, runs[i].run_key, "", err); /* labels: --dry-run's table only */
  }
  lr_slurm_jobs_free(jobs, n_jobs);
  free(tasks);
  free(runs);
  free(live_jobs);
  free(live_idx);
  return rc;
}

/* A dry run's choice, with the database read-only (or absent: store NULL): the grid's runs that
 * the database does not have done; earlier submissions are not looked at. */
static lr_status choose_dry(lr_store *s, const lr_grid *g, chosen *out, lr_err *err) {
  lr_status rc = LR_OK;
  for (size_t i = 0; rc == LR_OK && i < g->n_cells; i++) {
    char key[65] = "", status[32] = "", *label = json_dumps(g->cells[i].axes, JSON_COMPACT);
    int64_t id = 0;
    int n = 0;
    if (s)
      rc = lr_runs_find_prefix(s, g->cells[i].run_key, &id, key, status, &n, err);
    if (rc == LR_OK && strcmp(status, "done") != 0 && strcmp(status, "diverged") != 0)
      rc = chosen_add(out, g->cells[i].run_key, label ? label : "", err);
    free(label);
  }
  return rc;
}

/* "SWEEP-YYYYmmdd-HHMMSS-PID" under the (absolute) shards directory, from malloc. */
static char *submission_dir(const char *shards_abs, const char *sweep) {
  char stamp[32], name[64], *out = NULL;
  time_t now = time(NULL);
  struct tm tm;
  size_t j = 0;
  for (size_t i = 0; sweep[i] && j < sizeof name - 1; i++)
    name[j++] = isalnum((unsigned char)sweep[i]) || sweep[i] == '-' || sweep[i] == '_'
                    ? sweep[i] : '_';
  name[j] = '\0';
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return asprintf(&out, "%s/%s-%s-%ld", shards_abs, name, stamp, (long)getpid()) < 0 ? NULL : out;
}

static void emit_script(FILE *fp, const void *ctx) {
  const void *const *a = ctx;
  lr_sbatch_script(fp, (const char *)a[0], (const lr_sbatch_opts *)a[1]);
}

/* Splits chosen runs into tasks of per_task runs (pointers into c; the submission owns none). */
static lr_status make_tasks(const chosen *c, long per_task, lr_submission *sub, lr_err *err) {
  size_t n = (c->n + (size_t)per_task - 1) / (size_t)per_task;
  sub->tasks = calloc(n, sizeof *sub->tasks);
  sub->task_runs = calloc(n, sizeof *sub->task_runs);
  if (!sub->tasks || !sub->task_runs)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t t = 0; t < n; t++) {
    sub->tasks[t] = c->keys + t * (size_t)per_task;
    sub->task_runs[t] = t + 1 < n ? (size_t)per_task : c->n - t * (size_t)per_task;
  }
  sub->n_tasks = n;
  return LR_OK;
}

static void print_table(const chosen *c, long per_task) {
  printf("%-6s  %-16s  %s\n", "task", "run_key", "run");
  for (size_t i = 0; i < c->n; i++)
    printf("%-6zu  %.16s  %s\n", i / (size_t)per_task, c->keys[i], c->labels[i]);
}

static int submit_sweep(const submit_opts *o, const char *const *extra, size_t n_extra,
                        lr_grid *g, lr_store *store, lr_err *err) {
  char exe[PATH_MAX], shards_abs[PATH_MAX], *dir = NULL, *script = NULL;
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  int64_t sweep_id = 0;
  size_t n_new = 0;
  long per_task = o->runs_per_task > 0 ? o->runs_per_task : 1;
  chosen c = {0};
  lr_submission sub = {0};
  lr_preflight_opts pf = {o->dirs.a, o->dirs.n, o->db};
  lr_collect_result cres;
  lr_sbatch_opts so = {0};
  int rc = LR_EXIT_FAILURE;
  if (len <= 0) {
    lr_fail(err, LR_EIO, "cannot find the lorens program (/proc/self/exe): %s", strerror(errno));
    return LR_EXIT_FAILURE;
  }
  exe[len] = '\0';
  if (!o->dry_run && lr_mkdir_p(o->shards, err) != LR_OK)
    return LR_EXIT_FAILURE;
  if (realpath(o->shards, shards_abs) == NULL) { /* a dry run's, not there yet */
    char cwd[PATH_MAX / 2];
    if (o->shards[0] != '/' && getcwd(cwd, sizeof cwd) && strlen(o->shards) < PATH_MAX / 2 - 1)
      snprintf(shards_abs, sizeof shards_abs, "%s/%.*s", cwd, PATH_MAX / 2 - 2, o->shards);
    else
      snprintf(shards_abs, sizeof shards_abs, "%s", o->shards);
  }
  if (o->dry_run) {
    if (choose_dry(store, g, &c, err) != LR_OK)
      goto out;
  } else if (lr_runs_insert_sweep(store, g, &sweep_id, &n_new, err) != LR_OK) {
    goto out;
  }
  if (o->only_missing && !o->dry_run) {
    if (lr_collect(store, shards_abs, stderr, &cres, err) != LR_OK)
      goto out;
    if (!o->quiet && cres.merged)
      fprintf(stderr, "collected %ld run%s from published shards first\n", cres.merged,
              cres.merged == 1 ? "" : "s");
  }
  if (!o->dry_run && choose_runs(store, sweep_id, o->only_missing, &c, err) != LR_OK)
    goto out;
  if (c.n == 0) {
    if (!o->quiet && c.earlier)
      fprintf(stderr, "nothing to submit: the %ld runs not done are in tasks submitted before "
                      "(`lorens slurm status --db %s`)\n", c.earlier, o->db);
    else if (!o->quiet)
      fprintf(stderr, "nothing to submit: every run of sweep '%s' is done\n", g->name);
    rc = LR_EXIT_OK;
    goto out;
  }
  if (lr_preflight(g, &pf, stderr) > 0) {
    lr_fail(err, LR_EINVAL, "problems above: nothing was submitted");
    goto out;
  }
  if ((dir = submission_dir(shards_abs, g->name)) == NULL ||
      asprintf(&script, "%s/job.sbatch", dir) < 0) {
    lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  sub.dir = dir;
  sub.grid_path = g->path;
  sub.base_dir = g->base_dir;
  sub.db = (char *)o->db;
  sub.backend_dirs = (char **)o->dirs.a;
  sub.n_backend_dirs = o->dirs.n;
  sub.threads = o->cpus > 0 ? o->cpus : g->runtime.threads;
  sub.retries = o->retries >= 0 ? o->retries : g->runtime.retries;
  sub.micro_batch_tokens = g->runtime.micro_batch_tokens;
  sub.timeout = o->timeout >= 0 ? o->timeout : g->runtime.timeout;
  if (make_tasks(&c, per_task, &sub, err) != LR_OK)
    goto out;
  so.lorens = exe;
  so.job_name = g->name;
  so.partition = o->partition;
  so.gres = o->gres;
  so.time = o->time;
  so.mem = o->mem;
  so.cpus = o->cpus;
  so.preempt_warning = o->warning > 0 ? o->warning : 120;
  so.extra = extra;
  so.n_extra = n_extra;
  if (o->dry_run) {
    lr_sbatch_script(stdout, dir, &so);
    putchar('\n');
    print_table(&c, per_task);
    printf("\n%zu run%s in %zu task%s (dry run: nothing written or submitted)\n", c.n,
           c.n == 1 ? "" : "s", sub.n_tasks, sub.n_tasks == 1 ? "" : "s");
    rc = LR_EXIT_OK;
    goto out;
  }
  {
    const void *ctx[2] = {dir, &so};
    if (lr_submission_write(&sub, g, err) != LR_OK ||
        lr_write_file_atomic(script, emit_script, ctx, err) != LR_OK)
      goto out;
  }
  {
    long max = lr_slurm_max_array_size(); /* indices 0 .. MaxArraySize - 1 */
    size_t first = 0;
    char ids[512] = "";
    if (max < 1)
      max = 1;
    while (first < sub.n_tasks) {
      size_t count = sub.n_tasks - first < (size_t)max ? sub.n_tasks - first : (size_t)max;
      char spec[64], env[64];
      long job = 0;
      if (o->max_parallel > 0)
        snprintf(spec, sizeof spec, "0-%zu%%%ld", count - 1, o->max_parallel);
      else
        snprintf(spec, sizeof spec, "0-%zu", count - 1);
      snprintf(env, sizeof env, "LORENS_TASK_OFFSET=%zu", first);
      if (lr_sbatch(script, spec, env, &job, err) != LR_OK)
        goto out;
      if (lr_slurm_record(store, sweep_id, job, sub.dir, first, count,
                          (char *const *const *)sub.tasks, sub.task_runs, err) != LR_OK) {
        /* Slurm has the array; without its record, --only-missing would submit it again. */
        fprintf(stderr, "lorens: slurm submit: job %ld was submitted but not recorded in %s; "
                        "`scancel %ld` before submitting again\n", job, o->db, job);
        goto out;
      }
      snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%ld", first ? ", " : "", job);
      first += count;
    }
    if (!o->quiet)
      fprintf(stderr, "sweep '%s': submitted %zu run%s as %zu array task%s (job %s) from %s\n"
                      "  follow:  lorens slurm status --db %s\n"
                      "  merge:   lorens collect --db %s --shards %s\n",
              g->name, c.n, c.n == 1 ? "" : "s", sub.n_tasks, sub.n_tasks == 1 ? "" : "s", ids,
              dir, o->db, o->db, o->shards);
    if (!o->quiet && c.earlier)
      fprintf(stderr, "  %ld run%s not done %s in tasks submitted before\n", c.earlier,
              c.earlier == 1 ? "" : "s", c.earlier == 1 ? "is" : "are");
  }
  rc = LR_EXIT_OK;
out:
  /* The submission borrowed its strings and the chosen keys. */
  free(sub.tasks);
  free(sub.task_runs);
  chosen_release(&c);
  free(dir);
  free(script);
  return rc;
}

static int run_submit(int argc, char **argv) {
  submit_opts o = {.retries = -1, .timeout = -1};
  lr_grid g = {0};
  lr_store *store = NULL;
  lr_err err;
  int rc, n_opts = argc;
  lr_err_init(&err);
  /* What follows "--" goes to sbatch as it is. */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      n_opts = i;
      break;
    }
  if ((rc = lr_options_parse(&lr_cmd_slurm_submit, n_opts, argv, &o, NULL)) == LR_EXIT_OK) {
    lr_prepare_opts po = {o.dirs.a, o.dirs.n, 0, o.quiet};
    int stopped_by = 0;
    rc = LR_EXIT_FAILURE;
    /* A dry run writes nothing: the database is read where it exists. */
    if (lr_grid_load(argv[1], &g, &err) == LR_OK &&
        (o.dry_run || lr_prepare_run(&g.prepare, &po, &stopped_by, &err) == LR_OK) &&
        (o.dry_run && access(o.db, F_OK) != 0
             ? LR_OK
             : lr_store_open(o.db, o.dry_run ? LR_STORE_READONLY : LR_STORE_CREATE, &store,
                             &err)) == LR_OK)
      rc = submit_sweep(&o, (const char *const *)argv + n_opts + 1,
                        n_opts < argc ? (size_t)(argc - n_opts - 1) : 0, &g, store, &err);
    if (stopped_by)
      rc = 128 + stopped_by;
    if (store && !o.dry_run)
      lr_store_leave_wal(store);
    if (err.code != LR_OK)
      lr_err_print(&err, stderr);
  }
  lr_store_close(store);
  lr_grid_release(&g);
  lr_strings_release(&o.dirs);
  return rc;
}

const lr_command lr_cmd_slurm_submit = {
    .name = "slurm submit", .args = "GRID.yaml", .options = submit_options, .run = run_submit,
    .help = lr_help_slurm, .args_missing = "which grid file?",
    .args_extra = "one grid file; sbatch's own options go after --",
    .summary = "Submit a sweep's runs to Slurm as job arrays, and return."};

