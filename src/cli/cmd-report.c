/*
 * cmd-report.c: `lorens report --db FILE [--sweep NAME|ID] -o report.html`: a sweep's results as
 * one self-contained HTML page with SVG figures (src/report/report-html.h).
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "grid/grid.h"
#include "report/report-html.h"
#include "report/report-ood.h"
#include "report/report-reliability.h"
#include "report/report-tables.h"
#include "store/store-report.h"
#include "store/store.h"

typedef struct report_opts {
  const char *db, *sweep, *out;
  long epoch;
  bool quiet;
} report_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(report_opts, db, "db", 0, "FILE", "the results database"), .required = true},
    {LR_ARG_STRING(report_opts, sweep, "sweep", 0, "NAME|ID",
                   "which sweep (default: the database's only one)")},
    {LR_ARG_STRING(report_opts, out, "out", 'o', "FILE", "the HTML file to write"),
     .required = true},
    {LR_ARG_INT(report_opts, epoch, "epoch", 0, "N", 0, 1L << 30,
                "the epoch of the reliability, ensemble-size, gain and OOD figures\n"
                "(default: each run's last)")},
    {LR_ARG_FLAG(report_opts, quiet, "quiet", 'q', "print errors only")},
    LR_ARG_END,
};

/* Groups the runs by the axes of the sweep's own grid; when its text no longer parses (a grid of
 * an older lorens), by the keys that differ between its runs. */
static lr_status group_runs(lr_store *store, lr_report_sweep *sw, lr_err *err) {
  lr_grid g;
  lr_err ignored;
  lr_status rc;
  lr_err_init(&ignored);
  memset(&g, 0, sizeof g);
  if (lr_grid_parse(sw->path, sw->yaml, strlen(sw->yaml), sw->base_dir, &g, &ignored) == LR_OK)
    rc = lr_report_group_runs(store, sw, (const char *const *)g.axes, g.n_axes, err);
  else
    rc = lr_report_group_runs(store, sw, NULL, 0, err);
  lr_grid_release(&g);
  return rc;
}

static void emit_page(FILE *fp, const void *ctx) {
  lr_report_write(fp, (const lr_report_data *)ctx);
}

static int run_report(int argc, char **argv) {
  report_opts o = {.epoch = -1};
  lr_store *store = NULL;
  lr_report_sweep sw = {0};
  lr_curve_row *rows = NULL, *sizes = NULL;
  lr_gain_row *gains = NULL;
  size_t n = 0, n_sizes = 0, n_gains = 0;
  lr_reliability *rel = NULL;
  size_t n_rel = 0, n_ood = 0, n_aurocs = 0;
  lr_ood_panel *ood = NULL;
  lr_ood_auroc *aurocs = NULL;
  lr_report_table tables[3];
  memset(tables, 0, sizeof tables);
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_report, argc, argv, &o, NULL);
  lr_err_init(&err);
  if (rc != LR_EXIT_OK)
    return rc;
  rc = LR_EXIT_FAILURE;
  if (lr_store_open(o.db, LR_STORE_READONLY, &store, &err) == LR_OK &&
      lr_report_sweep_read(store, o.sweep, &sw, &err) == LR_OK &&
      group_runs(store, &sw, &err) == LR_OK &&
      lr_report_curves(store, sw.id, &rows, &n, &err) == LR_OK &&
      lr_report_ensemble_sizes(store, sw.id, o.epoch, &sizes, &n_sizes, &err) == LR_OK &&
      lr_reliability_read(store, sw.id, o.epoch, &rel, &n_rel, &err) == LR_OK &&
      lr_report_gains(store, sw.id, o.epoch, &gains, &n_gains, &err) == LR_OK &&
      lr_ood_read(store, sw.id, o.epoch, &ood, &n_ood, &err) == LR_OK &&
      lr_report_ood_aurocs(store, sw.id, o.epoch, &aurocs, &n_aurocs, &err) == LR_OK &&
      lr_report_table_read(o.db, lr_paper_table_sql, "The paper's table",
                           "db/queries/paper-table.sql", &tables[0], &err) == LR_OK &&
      lr_report_table_read(o.db, lr_failures_sql, "Runs that need attention",
                           "db/queries/failures.sql", &tables[1], &err) == LR_OK &&
      /* The randomness-source comparison, when the sweep varies the source. */
      (sw.randomness_kinds < 2 ||
       lr_report_table_read(o.db, lr_randomness_sql, "The randomness sources compared",
                            "db/queries/randomness.sql", &tables[2], &err) == LR_OK)) {
    long e_min = -1, e_max = -1;
    for (size_t i = 0; i < n; i++) {
      e_min = e_min < 0 || rows[i].epoch < e_min ? rows[i].epoch : e_min;
      e_max = rows[i].epoch > e_max ? rows[i].epoch : e_max;
    }
    if (o.epoch >= 0 && n > 0 && n_sizes == 0) { /* a typo, most likely: say what there is */
      lr_fail(&err, LR_EINVAL, "--epoch %ld: the sweep '%s' has no evaluation at that epoch "
              "(its runs were evaluated at epochs %ld to %ld)", o.epoch, sw.name, e_min, e_max);
      goto done;
    }
    lr_report_data d = {.sweep = &sw,
                        .curves = rows,
                        .n_curves = n,
                        .sizes = sizes,
                        .n_sizes = n_sizes,
                        .reliability = rel,
                        .n_reliability = n_rel,
                        .gains = gains,
                        .n_gains = n_gains,
                        .ood = ood,
                        .n_ood = n_ood,
                        .aurocs = aurocs,
                        .n_aurocs = n_aurocs,
                        .tables = tables,
                        .n_tables = sw.randomness_kinds < 2 ? 2u : 3u};
    if (lr_write_file_atomic(o.out, emit_page, &d, &err) == LR_OK) {
      rc = LR_EXIT_OK;
      if (!o.quiet)
        fprintf(stderr, "sweep '%s': %ld runs, %zu evaluation rows drawn: %s\n", sw.name,
                sw.counts.total, n, o.out);
    }
  }
done:
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  free(rows);
  free(sizes);
  free(gains);
  free(rel);
  free(ood);
  free(aurocs);
  lr_report_table_release(&tables[0]);
  lr_report_table_release(&tables[1]);
  lr_report_table_release(&tables[2]);
  lr_report_sweep_release(&sw);
  lr_store_close(store);
  return rc;
}

const lr_command lr_cmd_report = {
    .name = "report", .options = options, .run = run_report, .help = lr_help_report,
    .summary = "Write a sweep's results as one self-contained HTML page with SVG figures."};
