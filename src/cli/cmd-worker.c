/*
 * cmd-worker.c: `lorens worker`: carries out one claimed run; `lorens run` starts it, one process
 * per run, so that whatever happens inside a backend costs only that run.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "run/worker.h"

typedef struct worker_args {
  lr_worker_opts w;
  lr_strings dirs;
  long progress_fd;
} worker_args;

static const lr_option options[] = {
    {LR_ARG_STRING(worker_args, w.db, "db", 0, "FILE", "the database"), .required = true},
    {LR_ARG_STRING(worker_args, w.run_key, "run-key", 0, "KEY", "the run"), .required = true},
    {LR_ARG_STRING(worker_args, w.claim, "claim", 0, "TOKEN", "the claim's token"),
     .required = true},
    {LR_ARG_STRINGS(worker_args, dirs, "backend-dir", 0, "DIR", "search DIR for backends first")},
    {LR_ARG_INT(worker_args, w.threads, "threads", 0, "N", 0, 4096,
                "threads (0: the backend's default)")},
    {LR_ARG_INT(worker_args, w.device, "device", 0, "N", 0, 1 << 16, "the GPU, for GPU backends")},
    {LR_ARG_INT(worker_args, w.micro_batch_tokens, "micro-batch", 0, "N", 0, 1 << 30,
                "train in micro-batches of at most N tokens (0: whole batches)")},
    {LR_ARG_INT(worker_args, progress_fd, "progress-fd", 0, "FD", 0, 1 << 20,
                "write progress lines to FD")},
    LR_ARG_END,
};

static int run_worker(int argc, char **argv) {
  worker_args a = {.progress_fd = -1};
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_worker, argc, argv, &a, NULL);
  lr_err_init(&err);
  a.w.backend_dirs = a.dirs.a;
  a.w.n_backend_dirs = a.dirs.n;
  a.w.progress_fd = (int)a.progress_fd;
  if (rc == LR_EXIT_OK && lr_worker_run(&a.w, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    rc = err.code == LR_ENOSPC ? LR_WORKER_EXIT_DISK_FULL : LR_EXIT_FAILURE;
  }
  lr_strings_release(&a.dirs);
  return rc;
}

const lr_command lr_cmd_worker = {
    .name = "worker", .options = options, .run = run_worker, .help = lr_help_worker,
    .summary = "(internal) Carry out one claimed run of a sweep; `lorens run` starts it."};
