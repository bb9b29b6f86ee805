/*
 * cmd-worker.c: `lorens worker`: carries out one claimed run; `lorens run` starts it, one process
 * per run, so that whatever happens inside a backend costs only that run.
 */
#include "compat.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-args.h"
#include "commands.h"
#include "worker.h"

static int run_worker(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, NULL, 'd'},          {"run-key", required_argument, NULL, 'r'},
      {"claim", required_argument, NULL, 'c'},       {"backend-dir", required_argument, NULL, 'B'},
      {"threads", required_argument, NULL, 'T'},     {"progress-fd", required_argument, NULL, 'P'},
      {"device", required_argument, NULL, 'D'},
      {NULL, 0, NULL, 0}};
  lr_worker_opts o = {.progress_fd = -1};
  const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
  char msg[256];
  long fd = -1;
  int c, rc = LR_EXIT_OK;
  lr_err err;
  lr_err_init(&err);
  if (dirs == NULL)
    return LR_EXIT_FAILURE;
  opterr = 0;
  optind = 1;
  while (rc == LR_EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': o.db = optarg; break;
    case 'r': o.run_key = optarg; break;
    case 'c': o.claim = optarg; break;
    case 'B': dirs[o.n_backend_dirs++] = optarg; break;
    case 'T':
      if (!lr_parse_int("--threads", optarg, 0, 4096, &o.threads, msg, sizeof msg))
        rc = lr_usage_error(&lr_cmd_worker, "%s", msg);
      break;
    case 'D':
      if (!lr_parse_int("--device", optarg, 0, 1 << 16, &o.device, msg, sizeof msg))
        rc = lr_usage_error(&lr_cmd_worker, "%s", msg);
      break;
    case 'P':
      if (!lr_parse_int("--progress-fd", optarg, 0, 1 << 20, &fd, msg, sizeof msg))
        rc = lr_usage_error(&lr_cmd_worker, "%s", msg);
      o.progress_fd = (int)fd;
      break;
    default: rc = lr_usage_error(&lr_cmd_worker, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (rc == LR_EXIT_OK && (optind < argc || !o.db || !o.run_key || !o.claim))
    rc = lr_usage_error(&lr_cmd_worker, "--db, --run-key and --claim are required");
  o.backend_dirs = dirs;
  if (rc == LR_EXIT_OK && lr_worker_run(&o, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    rc = LR_EXIT_FAILURE;
  }
  free(dirs);
  return rc;
}

const lr_command lr_cmd_worker = {
    .name = "worker",
    .summary = "(internal) Carry out one claimed run of a sweep; `lorens run` starts it.",
    .usage = "lorens worker --db FILE --run-key KEY --claim TOKEN [--backend-dir DIR]...\n"
             "                     [--threads N] [--device N] [--progress-fd FD]",
    .help = "Not meant to be typed: `lorens run` claims a run in the database and starts one worker\n"
            "process per run with the claim's token.  The worker loads the run's model, tokenizer\n"
            "and data, evaluates its members and ensembles, and stores the results with the run's\n"
            "status in one transaction, only while the claim is still its own.\n",
    .run = run_worker,
};
