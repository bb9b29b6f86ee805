/*
 * run-summary.h: the summary table of a sweep, printed at the end of `lorens run` and by
 * `lorens summary`.
 *
 * One row per configuration (a group of the sweep's runs that differ only in their seed): the mean
 * single member against the ensemble of all M members, at the configuration's last evaluated
 * epoch, for accuracy, NLL and ECE on its test set and the AUROC by max probability on its OOD
 * set.  The numbers are the v_summary view's (db/views.sql, docs/store.md); this file reads them
 * and prints them.  Rows are labelled by the axes that vary among the sweep's configurations, and
 * configurations that differ only outside those axes (lora.alpha, train.epochs ...) also by the
 * configuration keys that tell them apart.
 */
#ifndef LORENS_RUN_SUMMARY_H
#define LORENS_RUN_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "store/store-runs.h"
#include "store/store.h"

/* The axes a row can be labelled by, in the order of the table's columns. */
enum {
  LR_SUMMARY_MODEL,
  LR_SUMMARY_DATASET,
  LR_SUMMARY_REGULARIZER,
  LR_SUMMARY_STRENGTH,
  LR_SUMMARY_RANK,
  LR_SUMMARY_LR,
  LR_SUMMARY_RANDOMNESS,
  LR_SUMMARY_BACKEND,
  LR_SUMMARY_TEST_SET,
  LR_SUMMARY_OOD_SET,
  LR_SUMMARY_N_AXES
};

/* The metrics, in the order of the table's pairs of columns. */
enum { LR_SUMMARY_ACCURACY, LR_SUMMARY_NLL, LR_SUMMARY_ECE, LR_SUMMARY_AUROC,
       LR_SUMMARY_N_METRICS };

/* Longest axis value printed; longer ones end in "...". */
#define LR_SUMMARY_VALUE_MAX 24

typedef struct lr_summary_row {
  char *axis[LR_SUMMARY_N_AXES]; /* each axis as printed, "" when unknown; from malloc */
  char *other;                   /* "key=value ..." telling the row from rows with the same axes,
                                    NULL when no other row has them; from malloc */
  long n_runs;                   /* the configuration's runs in the sweep, any status */
  long n_evaluated;              /* those with evaluations at `epoch` */
  long ensemble_size;            /* M */
  long epoch;                    /* the last evaluated epoch; -1 when none was */
  long n_nonfinite;              /* evaluation rows left out of the means (NaN or infinite) */
  double member[LR_SUMMARY_N_METRICS];   /* NaN where the view has NULL */
  double ensemble[LR_SUMMARY_N_METRICS];
  int64_t first_run_id;          /* the configuration's first run in the sweep */
} lr_summary_row;

typedef struct lr_summary {
  int64_t sweep_id;
  char *name;          /* the sweep's name; from malloc */
  char *db_path;       /* the database, for the hint to `lorens status`; from malloc */
  lr_run_counts counts; /* the sweep's runs by status */
  lr_summary_row *rows; /* in the order of their first runs (the grid's order); from malloc */
  size_t n_rows;
} lr_summary;

/*
 * Reads the summary of one sweep from an open database, in one read transaction.  Needs the
 * v_summary view: a file last written by a lorens without it is refused with a message that says
 * so (any writable open, such as `lorens run`, adds it).  On failure *out holds nothing to release.
 */
lr_status lr_summary_read(lr_store *s, int64_t sweep_id, lr_summary *out, lr_err *err);

/* Which axes label the rows: used[a] is set for every axis with more than one value among the
 * rows; when none has and no row has `other` text, for the training set's axis alone (so a
 * single row says what it is). */
void lr_summary_label_axes(const lr_summary *sum, bool used[LR_SUMMARY_N_AXES]);

/* Prints the table: a title line, two header lines, a line per row, and notes under it (what the
 * columns mean; runs not done; rows left out).  NULL metrics print as "-". */
void lr_summary_print(const lr_summary *sum, FILE *fp);

void lr_summary_release(lr_summary *sum);

#endif /* LORENS_RUN_SUMMARY_H */
