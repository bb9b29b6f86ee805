/*
 * report-reliability.h: the reliability diagrams' bins, from the stored per-example predictions
 * (store/store-report.h), in ECE's bins as the trainer computes ECE (train/metrics.h).
 */
#ifndef LORENS_REPORT_RELIABILITY_H
#define LORENS_REPORT_RELIABILITY_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store-report.h"
#include "store/store.h"
#include "train/metrics.h"

/* The reliability of one group of runs on one test set at one epoch: the members' predictions
 * pooled, and those of each run's ensemble of all its members (the mean of their
 * probabilities). */
typedef struct lr_reliability {
  lr_panel_key panel;
  long epoch;               /* the last one seen when runs differ */
  lr_metrics_acc members, ensemble;
} lr_reliability;

/* The sweep's panels at `epoch` (< 0: each run's last), in the order of
 * lr_report_predictions; *panels from malloc.  Unlabelled examples are left out. */
lr_status lr_reliability_read(lr_store *s, int64_t sweep_id, long epoch, lr_reliability **panels,
                              size_t *n, lr_err *err);

#endif /* LORENS_REPORT_RELIABILITY_H */
