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
  if (st != LR_OK)
    lr_err_print(&err, stderr);
  lr_store_close(s);
  return st == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

const lr_command lr_cmd_summary = {
    .name = "summary", .options = options, .run = run_summary, .help = lr_help_summary,
    .summary = "Print a sweep's table: single members against ensembles, per configuration."};
