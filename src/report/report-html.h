/*
 * report-html.h: the page `lorens report` writes: one self-contained HTML file (inline CSS, SVG
 * figures drawn by lorens, no script, no font or file fetched), readable at 1280 px and
 * printable, and byte-stable for the same database.
 *
 * Every figure says how many rows are behind it (data-rows on its <svg>) and every plotted mark
 * carries its row's identity and value (data-run, data-idx, data-epoch, data-metric, data-v,
 * printed with %.17g) and a <title> tooltip, so that a test can read the numbers back and compare
 * them with the database's.  A figure that stands for more rows than LR_REPORT_DETAIL_ROWS shows
 * their means instead (data-n on each), and every section carries its runs (data-runs).
 */
#ifndef LORENS_REPORT_HTML_H
#define LORENS_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "store/store-report.h"

#include "report/report-ood.h"
#include "report/report-reliability.h"
#include "report/report-tables.h"

/* A figure over epochs or ensemble sizes with more rows behind it than this shows a mark per
 * epoch (or k) and kind of row, their mean (data-n: how many), rather than one per row. */
#define LR_REPORT_DETAIL_ROWS 120

/* What the page shows. */
typedef struct lr_report_data {
  const lr_report_sweep *sweep;
  const lr_curve_row *curves;     /* lr_report_curves */
  size_t n_curves;
  const lr_curve_row *sizes;      /* lr_report_ensemble_sizes */
  size_t n_sizes;
  const lr_reliability *reliability;
  size_t n_reliability;
  const lr_gain_row *gains;        /* lr_report_gains */
  size_t n_gains;
  const lr_ood_panel *ood;         /* lr_ood_read */
  size_t n_ood;
  const lr_ood_auroc *aurocs;      /* lr_report_ood_aurocs */
  size_t n_aurocs;
  const lr_report_table *tables;  /* the ready queries' results, over the whole database */
  size_t n_tables;
} lr_report_data;

/* Writes the page: the sweep's provenance; sections by the first key the sweep varies (when it
 * varies several), and for each group of runs (store-report.h) on each test set the metrics over
 * epochs (every member faint, the members' mean with one standard deviation, the full ensemble),
 * against the ensemble size, the gain from ensembling against disagreement and the reliability
 * diagram with the examples in each bin; then the group's OOD histograms; then the tables. */
void lr_report_write(FILE *fp, const lr_report_data *d);

#endif /* LORENS_REPORT_HTML_H */
