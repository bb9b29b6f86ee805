/*
 * report-reliability.c: reliability bins from the stored predictions (report-reliability.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-reliability.h"
#include "store/store-report.h"
#include "text/dataset.h"

/* The panels so far, and the example whose members are being averaged into its ensemble.  The
 * predictions arrive by panel, run and example, each example's members together. */
typedef struct builder {
  const char *db;           /* for messages */
  lr_reliability *panels;
  size_t n;
  int64_t run, example;
  double sum[LR_DATASET_MAX_CHOICES];
  int k, members, label;
} builder;

/* Adds the ensemble's prediction of the example collected so far, and starts afresh. */
static void flush_example(builder *b) {
  if (b->members > 0 && b->n > 0) {
    double probs[LR_DATASET_MAX_CHOICES];
    for (int j = 0; j < b->k; j++)
      probs[j] = b->sum[j] / b->members;
    lr_metrics_add(&b->panels[b->n - 1].ensemble, probs, b->k, b->label);
  }
  b->members = 0;
  memset(b->sum, 0, sizeof b->sum);
}

static lr_status add_prediction(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  builder *b = ctx;
  lr_panel_key key;
  double probs[LR_DATASET_MAX_CHOICES];
  int k;
  (void)ncols;
  if (row[LR_PRED_LABEL].type != LR_VALUE_INT)
    return LR_OK; /* unlabelled: no calibration to speak of */
  if (lr_report_probs_of(b->db, row[LR_PRED_EVAL].s, row[LR_PRED_RUN].i, row[LR_PRED_MEMBER].i,
                         row[LR_PRED_EPOCH].i, row[LR_PRED_EXAMPLE].i, row[LR_PRED_PROBS].s, probs,
                         &k, err) != LR_OK)
    return err->code;
  if (k == 0 || row[LR_PRED_LABEL].i < 0 || row[LR_PRED_LABEL].i >= k)
    return LR_OK;
  lr_panel_key_of(row, &key);
  if (b->n == 0 || !lr_panel_same(&b->panels[b->n - 1].panel, &key)) {
    lr_reliability *grown;
    flush_example(b);
    if ((grown = realloc(b->panels, (b->n + 1) * sizeof *grown)) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    b->panels = grown;
    memset(&grown[b->n], 0, sizeof *grown);
    grown[b->n].panel = key;
    lr_metrics_init(&grown[b->n].members, LR_ECE_BINS_DEFAULT);
    lr_metrics_init(&grown[b->n].ensemble, LR_ECE_BINS_DEFAULT);
    b->n++;
    b->run = b->example = -1;
  }
  if (row[LR_PRED_RUN].i != b->run || row[LR_PRED_EXAMPLE].i != b->example) {
    flush_example(b);
    b->run = row[LR_PRED_RUN].i;
    b->example = row[LR_PRED_EXAMPLE].i;
  }
  lr_metrics_add(&b->panels[b->n - 1].members, probs, k, (int)row[LR_PRED_LABEL].i);
  for (int j = 0; j < k; j++)
    b->sum[j] += probs[j];
  b->k = k;
  b->label = (int)row[LR_PRED_LABEL].i;
  b->members++;
  b->panels[b->n - 1].epoch = (long)row[LR_PRED_EPOCH].i;
  return LR_OK;
}

lr_status lr_reliability_read(lr_store *s, int64_t sweep_id, long epoch, lr_reliability **panels,
                              size_t *n, lr_err *err) {
  builder b = {lr_store_path(s), NULL, 0, -1, -1, {0}, 0, 0, 0};
  lr_status rc = lr_report_predictions(s, sweep_id, epoch, add_prediction, &b, err);
  if (rc == LR_OK)
    flush_example(&b);
  if (rc != LR_OK) {
    free(b.panels);
    b.panels = NULL;
    b.n = 0;
  }
  *panels = b.panels;
  *n = b.n;
  return rc;
}
