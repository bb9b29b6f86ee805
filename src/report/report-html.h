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

/* Writes the page for the sweep: its provenance, then the metrics over epochs of each group of
 * runs (training set and regularizer) on each test set: every member faint, the members' mean
 * with one standard deviation, and the full ensemble. */
void lr_report_write(FILE *fp, const lr_report_sweep *sw, const lr_curve_row *rows, size_t n);

#endif /* LORENS_REPORT_HTML_H */
