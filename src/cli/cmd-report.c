/*
 * cmd-report.c: `lorens report --db FILE [--sweep NAME|ID] -o report.html`: a sweep's results as
 * one self-contained HTML page with SVG figures (src/report/report-html.h).
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/file-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "report/report-html.h"
#include "store/store-report.h"
#include "store/store.h"

typedef struct report_opts {
  const char *db, *sweep, *out;
  bool quiet;
} report_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(report_opts, db, "db", 0, "FILE", "the results database"), .required = true},
    {LR_ARG_STRING(report_opts, sweep, "sweep", 0, "NAME|ID",
                   "which sweep (default: the database's only one)")},
    {LR_ARG_STRING(report_opts, out, "out", 'o', "FILE", "the HTML file to write"),
     .required = true},
    {LR_ARG_FLAG(report_opts, quiet, "quiet", 'q', "print errors only")},
    LR_ARG_END,
};

typedef struct page {
  const lr_report_sweep *sw;
  const lr_curve_row *rows;
  size_t n;
} page;

static void emit_page(FILE *fp, const void *ctx) {
  const page *p = ctx;
  lr_report_write(fp, p->sw, p->rows, p->n);
}

static int run_report(int argc, char **argv) {
  report_opts o = {0};
  lr_store *store = NULL;
  lr_report_sweep sw = {0};
  lr_curve_row *rows = NULL;
  size_t n = 0;
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_report, argc, argv, &o, NULL);
  lr_err_init(&err);
  if (rc != LR_EXIT_OK)
    return rc;
  rc = LR_EXIT_FAILURE;
  if (lr_store_open(o.db, LR_STORE_READONLY, &store, &err) == LR_OK &&
      lr_report_sweep_read(store, o.sweep, &sw, &err) == LR_OK &&
      lr_report_curves(store, sw.id, &rows, &n, &err) == LR_OK) {
    page p = {&sw, rows, n};
    if (lr_write_file_atomic(o.out, emit_page, &p, &err) == LR_OK) {
      rc = LR_EXIT_OK;
      if (!o.quiet)
        fprintf(stderr, "sweep '%s': %ld runs, %zu evaluation rows drawn: %s\n", sw.name, sw.runs,
                n, o.out);
    }
  }
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  free(rows);
  lr_report_sweep_release(&sw);
  lr_store_close(store);
  return rc;
}

const lr_command lr_cmd_report = {
    .name = "report", .options = options, .run = run_report, .help = lr_help_report,
    .summary = "Write a sweep's results as one self-contained HTML page with SVG figures."};
