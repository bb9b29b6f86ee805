/*
 * report-html.h: the page `lorens report` writes: one self-contained HTML file (inline CSS, SVG
 * figures drawn by lorens, no script, no font or file fetched), readable at 1280 px and
 * printable, and byte-stable for the same database.
 *
 * Every figure says how many rows are behind it (data-rows on its <svg>) and every plotted mark
 * carries its row's identity and value (data-run, data-idx, data-epoch, data-metric, data-v,
 * printed with %.17g) and a <title> tooltip, so that a test can read the numbers back and compare
 * them with the database's.
 */
#ifndef LORENS_REPORT_HTML_H
#define LORENS_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "store/store-report.h"

#include "report/report-reliability.h"
#include "report/report-tables.h"

/* What the page shows. */
typedef struct lr_report_data {
  const lr_report_sweep *sweep;
  const lr_curve_row *curves;     /* lr_report_curves */
  size_t n_curves;
  const lr_curve_row *sizes;      /* lr_report_ensemble_sizes */
  size_t n_sizes;
  const lr_reliability *reliability;
  size_t n_reliability;
  long epoch;                     /* asked for; < 0: each run's last */
  const lr_gain_row *gains;        /* lr_report_gains */
  size_t n_gains;
  const lr_report_table *tables;  /* the ready queries' results, over the whole database */
  size_t n_tables;
} lr_report_data;

/* Writes the page: the sweep's provenance; for each group of runs (training set and
 * regularizer) on each test set the metrics over epochs (every member faint, the members' mean
 * with one standard deviation, the full ensemble), the metrics against the ensemble size, and
 * the reliability diagram with the examples in each bin. */
void lr_report_write(FILE *fp, const lr_report_data *d);

#endif /* LORENS_REPORT_HTML_H */
