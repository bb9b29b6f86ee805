/*
 * cmd-summary.c: `lorens summary --db FILE [--sweep ID|NAME]`: the table `lorens run` prints at
 * its end (run-summary.h), for a database that exists: every sweep in it, or the one asked for.
 * The database is opened read-only, so it is safe while a scheduler writes to it.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "store/run-summary.h"
#include "store/store-runs.h"
#include "store/store.h"

static lr_status print_sweeps(lr_store *s, const char *which, lr_err *err) {
  int64_t *ids = NULL;
  size_t n = 0;
  lr_status rc = lr_sweeps_find(s, which, &ids, &n, err);
  if (rc == LR_OK && n == 0 && which)
    rc = lr_fail(err, LR_ENOTFOUND, "%s: no sweep '%s' (`lorens status --db %s` lists them)",
                 lr_store_path(s), which, lr_store_path(s));
  else if (rc == LR_OK && n == 0)
    fprintf(stderr, "lorens: summary: %s holds no sweep yet\n", lr_store_path(s));
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    lr_summary sum;
    if ((rc = lr_summary_read(s, ids[i], &sum, err)) != LR_OK)
      break;
    if (i > 0)
      putchar('\n');
    lr_summary_print(&sum, stdout);
    lr_summary_release(&sum);
  }
  free(ids);
  return rc;
}

typedef struct summary_opts {
  const char *db, *sweep;
} summary_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(summary_opts, db, "db", 0, "FILE", "the database"), .required = true},
    {LR_ARG_STRING(summary_opts, sweep, "sweep", 0, "ID|NAME",
                   "only this sweep (`lorens status` lists ids and names)")},
    LR_ARG_END,
};

static int run_summary(int argc, char **argv) {
  summary_opts o = {NULL, NULL};
  lr_store *s = NULL;
  lr_err err;
  lr_status st;
  int rc = lr_options_parse(&lr_cmd_summary, argc, argv, &o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  st = lr_store_open(o.db, LR_STORE_READONLY, &s, &err);
  if (st == LR_OK)
    st = print_sweeps(s, o.sweep, &err);
  if (fflush(stdout) != 0 && st == LR_OK)
    st = lr_fail(&err, LR_EIO, "cannot write the summary");
  if (st != LR_OK)
    lr_err_print(&err, stderr);
  lr_store_close(s);
  return st == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

const lr_command lr_cmd_summary = {
    .name = "summary",
    .summary = "Print a sweep's table: single members against ensembles, per configuration.",
    .options = options,
    .help =
        "Prints the table `lorens run` prints at its end, for each sweep in the database (or the\n"
        "sweeps whose id or name is given with --sweep), from the v_summary view.  One row per\n"
        "configuration (runs that differ only in their seed), labelled by the axes that vary in\n"
        "the sweep; at its last evaluated epoch: accuracy, NLL and ECE on the test set (the\n"
        "first data.eval set not marked ood) and the AUROC by max probability on the first OOD\n"
        "set, of the mean single member and of the ensemble of all M members (means over the\n"
        "runs).  runs is the number of runs averaged (a/b when only a of b have been evaluated at\n"
        "that epoch); \"-\" marks a metric that does not exist (no such set, or only NaN).\n"
        "\n"
        "The database is opened read-only, so it is safe while a scheduler writes.\n"
        "\n"
        "Exit status: 0 success, 1 when the database cannot be read or has no such sweep,\n"
        "2 usage error.\n",
    .run = run_summary,
};
