/*
 * cmd-collect.c: `lorens collect --db FILE --shards DIR`: merges the shards that Slurm array
 * tasks published under DIR into the main database (src/run/slurm-shards.h).
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "run/slurm-shards.h"
#include "store/store.h"

typedef struct collect_opts {
  const char *db, *shards;
  bool quiet;
} collect_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(collect_opts, db, "db", 0, "FILE", "the main database (the one submitted from)"),
     .required = true},
    {LR_ARG_STRING(collect_opts, shards, "shards", 0, "DIR",
                   "the shard directory given to `lorens slurm submit`"),
     .required = true},
    {LR_ARG_FLAG(collect_opts, quiet, "quiet", 'q', "print problems only")},
    LR_ARG_END,
};

static int run_collect(int argc, char **argv) {
  collect_opts o = {0};
  lr_store *store = NULL;
  lr_collect_result res;
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_collect, argc, argv, &o, NULL);
  lr_err_init(&err);
  if (rc != LR_EXIT_OK)
    return rc;
  rc = LR_EXIT_FAILURE;
  if (lr_store_open(o.db, 0, &store, &err) == LR_OK &&
      lr_collect(store, o.shards, stderr, &res, &err) == LR_OK) {
    if (!o.quiet)
      fprintf(stderr, "collected %ld shard%s from %s: %ld run%s merged into %s%s\n",
              res.shards - res.skipped, res.shards - res.skipped == 1 ? "" : "s", o.shards,
              res.merged, res.merged == 1 ? "" : "s", o.db,
              res.skipped ? " (some shards were left alone: see above)" : "");
    rc = res.skipped ? LR_EXIT_FAILURE : LR_EXIT_OK;
  }
  if (store)
    lr_store_leave_wal(store);
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  lr_store_close(store);
  return rc;
}

const lr_command lr_cmd_collect = {
    .name = "collect", .options = options, .run = run_collect, .help = lr_help_collect,
    .summary = "Merge the shards of Slurm array tasks into the main database, by run_key."};
