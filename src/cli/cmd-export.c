/*
 * cmd-export.c: `lorens export --db FILE --run KEY [--member i] [--best] DIR`: copies a run's
 * trained adapters, saved by its worker in PEFT layout, to DIR, ready for `lorens predict
 * --adapter` or for PEFT's PeftModel.from_pretrained.
 */
#include "compat.h"

#include <stddef.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "store/store-results.h"
#include "store/store-runs.h"
#include "store/store.h"

#define ADAPTER_MAX_BYTES ((size_t)16 << 30)

static const char *const adapter_files[] = {"adapter_config.json", "adapter_model.safetensors"};

typedef struct bytes {
  const char *data;
  size_t len;
} bytes;

static void emit_bytes(FILE *fp, const void *ctx) {
  const bytes *b = ctx;
  fwrite(b->data, 1, b->len, fp);
}

static lr_status copy_adapter(const char *from, const char *to, lr_err *err) {
  lr_status rc = LR_OK;
  if (mkdir(to, 0777) != 0 && errno != EEXIST)
    return lr_fail_at(err, LR_EIO, to, 0, 0, "cannot create the directory: %s", strerror(errno));
  for (size_t i = 0; rc == LR_OK && i < LR_ARRAY_LEN(adapter_files); i++) {
    char *src = NULL, *dst = NULL, *data = NULL;
    size_t len = 0;
    if (asprintf(&src, "%s/%s", from, adapter_files[i]) < 0 ||
        asprintf(&dst, "%s/%s", to, adapter_files[i]) < 0)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    if (rc == LR_OK)
      rc = lr_read_file(src, ADAPTER_MAX_BYTES, "an adapter file", &data, &len, err);
    if (rc == LR_OK) {
      bytes b = {data, len};
      rc = lr_write_file_atomic(dst, emit_bytes, &b, err);
    }
    free(data);
    free(src);
    free(dst);
  }
  return rc;
}

/* The run whose key starts with `key`: exactly one, or an error that says why. */
static lr_status find_run(lr_store *s, const char *key, int64_t *id, char *full, char *status,
                          lr_err *err) {
  int n = 0;
  lr_status rc = lr_runs_find_prefix(s, key, id, full, status, &n, err);
  if (rc != LR_OK)
    return rc;
  if (n == 0)
    return lr_fail(err, LR_ENOTFOUND, "%s: no run with a key starting '%s'", lr_store_path(s), key);
  if (n > 1)
    return lr_fail(err, LR_EINVAL, "%s: several runs have keys starting '%s'; give more of it",
                   lr_store_path(s), key);
  return LR_OK;
}

/* Where the adapters go, for lr_results_adapters. */
typedef struct export_to {
  const char *db;
  const char *full; /* the run's key */
  long member;      /* the one asked for, or -1 */
  int best;
  const char *dir;
  bool check_only; /* the first pass: is every adapter there? */
  int copied;
} export_to;

static lr_status export_member(void *ctx, long m, const char *path, lr_err *err) {
  export_to *e = ctx;
  char from[4096], to[4096];
  struct stat sb;
  lr_status rc;
  if (path == NULL)
    return lr_fail(err, LR_ENOTFOUND, "run %.12s member %ld has no saved adapter", e->full, m);
  snprintf(from, sizeof from, "%s%s", path, e->best ? "-best" : "");
  /* Said here, before anything is copied: a database moved or copied without its FILE.runs/
   * has its results but not its adapters. */
  if (e->best && stat(from, &sb) != 0 && stat(path, &sb) == 0)
    return lr_fail_at(err, LR_ENOTFOUND, from, 0, 0,
                      "run %.12s member %ld has no early-stopping best adapter", e->full, m);
  if (stat(from, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return lr_fail_at(err, LR_ENOTFOUND, from, 0, 0,
                      "run %.12s member %ld: no such adapter directory (a database's adapters "
                      "are in FILE.runs/ beside it: move or copy %s.runs/ with %s)",
                      e->full, m, e->db, e->db);
  if (e->check_only) {
    e->copied++;
    return LR_OK;
  }
  if (e->member >= 0)
    snprintf(to, sizeof to, "%s", e->dir);
  else
    snprintf(to, sizeof to, "%s/member-%ld", e->dir, m);
  rc = copy_adapter(from, to, err);
  if (rc == LR_OK)
    printf("%s\n", to);
  e->copied++;
  return rc;
}

static lr_status export_run(const char *db, const char *key, long member, int best,
                            const char *dir, lr_err *err) {
  lr_store *s = NULL;
  int64_t id = 0;
  char full[65] = "", status[32] = "";
  export_to e = {db, full, member, best, dir, true, 0};
  lr_status rc = lr_store_open(db, LR_STORE_READONLY, &s, err);
  if (rc == LR_OK)
    rc = find_run(s, key, &id, full, status, err);
  if (rc == LR_OK && strcmp(status, "done") != 0 && strcmp(status, "diverged") != 0)
    rc = lr_fail(err, LR_EINVAL, "run %.12s is %s; only finished runs have adapters", full, status);
  /* Every adapter is found before DIR is made: a failed export leaves nothing behind. */
  if (rc == LR_OK)
    rc = lr_results_adapters(s, id, member, export_member, &e, err);
  if (rc == LR_OK && e.copied == 0)
    rc = lr_fail(err, LR_ENOTFOUND, "run %.12s has no member %ld", full, member);
  e.check_only = false;
  e.copied = 0;
  if (rc == LR_OK && member < 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
    rc = lr_fail_at(err, LR_EIO, dir, 0, 0, "cannot create the directory: %s", strerror(errno));
  if (rc == LR_OK)
    rc = lr_results_adapters(s, id, member, export_member, &e, err);
  lr_store_close(s);
  return rc;
}

typedef struct export_opts {
  const char *db, *run;
  long member;
  bool best;
} export_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(export_opts, db, "db", 0, "FILE", "the database"), .required = true},
    {LR_ARG_STRING(export_opts, run, "run", 0, "KEY", "the run: its run_key or a unique prefix"),
     .required = true},
    {LR_ARG_INT(export_opts, member, "member", 0, "N", 0, 1 << 20, "only this member, into DIR")},
    {LR_ARG_FLAG(export_opts, best, "best", 0, "the early-stopping best epoch's adapters")},
    LR_ARG_END,
};

static int run_export(int argc, char **argv) {
  export_opts o = {.member = -1};
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_export, argc, argv, &o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (export_run(o.db, o.run, o.member, o.best, argv[1], &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  return LR_EXIT_OK;
}

const lr_command lr_cmd_export = {
    .name = "export", .args = "DIR", .options = options, .run = run_export, .help = lr_help_export,
    .summary = "Copy a finished run's trained adapters (PEFT layout) to a directory.",
    .args_missing = "missing the output directory", .args_extra = "one output directory, please"};
