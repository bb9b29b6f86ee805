/*
 * cmd-slurm-task.c: `lorens slurm task --submission DIR`: what a submission's batch script runs,
 * one array task (src/run/slurm-task.h).
 */
#include "compat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "run/slurm-task.h"

typedef struct task_opts {
  const char *submission, *scratch;
  long task;
  bool quiet;
} task_opts;

static const lr_option task_options[] = {
    {LR_ARG_STRING(task_opts, submission, "submission", 0, "DIR", "the submission directory"),
     .required = true},
    {LR_ARG_INT(task_opts, task, "task", 0, "N", 0, 1L << 40,
                "the task (default: LORENS_TASK_OFFSET + SLURM_ARRAY_TASK_ID)")},
    {LR_ARG_STRING(task_opts, scratch, "scratch", 0, "DIR",
                   "node-local directory for the task's database (default: $TMPDIR or /tmp)")},
    {LR_ARG_FLAG(task_opts, quiet, "quiet", 'q', "print errors only")},
    LR_ARG_END,
};

static long env_long(const char *name, long fallback) {
  const char *v = getenv(name);
  char *end = NULL;
  long x;
  if (v == NULL || *v == '\0')
    return fallback;
  errno = 0;
  x = strtol(v, &end, 10);
  return errno || *end ? fallback : x;
}

static int run_task(int argc, char **argv) {
  task_opts o = {.task = -1};
  lr_task_opts to = {0};
  lr_err err;
  char job[64], requeue_job[32];
  int exit_code = 1, rc = lr_options_parse(&lr_cmd_slurm_task, argc, argv, &o, NULL);
  lr_err_init(&err);
  if (rc != LR_EXIT_OK)
    return rc;
  if (o.task < 0) {
    long idx = env_long("SLURM_ARRAY_TASK_ID", -1);
    if (idx < 0)
      return lr_usage_error(&lr_cmd_slurm_task, "no --task and no SLURM_ARRAY_TASK_ID");
    o.task = env_long("LORENS_TASK_OFFSET", 0) + idx;
  }
  snprintf(job, sizeof job, "%s_%s", getenv("SLURM_ARRAY_JOB_ID") ? getenv("SLURM_ARRAY_JOB_ID") : "-",
           getenv("SLURM_ARRAY_TASK_ID") ? getenv("SLURM_ARRAY_TASK_ID") : "-");
  snprintf(requeue_job, sizeof requeue_job, "%s", getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "");
  to.submission = o.submission;
  to.task = o.task;
  to.scratch = o.scratch ? o.scratch : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  to.job = job;
  to.requeue_job = requeue_job[0] ? requeue_job : NULL;
  to.quiet = o.quiet;
  if (lr_slurm_task_run(&to, &exit_code, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  return exit_code;
}

const lr_command lr_cmd_slurm_task = {
    .name = "slurm task", .options = task_options, .run = run_task, .help = lr_help_slurm,
    .summary = "(internal) Run one array task of a submission; its batch script calls it."};

