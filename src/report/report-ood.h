/*
 * report-ood.h: the OOD detection histograms of `lorens report`: how each uncertainty score
 * (max probability, entropy, mutual information; train/ood.h) is spread over a run's
 * in-distribution reference set and over its OOD set, from the stored per-example predictions.
 *
 * Bins: LR_OOD_BINS equal bins over [0, hi]; hi is 1 for the max probability and the largest
 * value in the panel (either set) for entropy and MI (1 when that is 0), and a value v falls in
 * bin floor(v / hi * LR_OOD_BINS), the last bin closed.  A NaN score is left out.
 */
#ifndef LORENS_REPORT_OOD_H
#define LORENS_REPORT_OOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store-report.h"
#include "store/store.h"

enum { LR_OOD_MAXPROB, LR_OOD_ENTROPY, LR_OOD_MI, LR_OOD_SCORES };
#define LR_OOD_BINS 20

/* One score's histogram over the ID reference ([0]) and the OOD set ([1]). */
typedef struct lr_ood_hist {
  double hi;
  long count[2][LR_OOD_BINS];
  long n[2];
} lr_ood_hist;

/* A group's runs on one OOD set at one epoch: every member's predictions pooled (max
 * probability and entropy), and each run's ensemble of all its members, the mean of their
 * probabilities (max probability, entropy, and MI when it has at least two members). */
typedef struct lr_ood_panel {
  lr_panel_key panel;       /* eval_dataset: the OOD set */
  char id_set[64];          /* the in-distribution reference */
  long epoch;               /* the last one seen when runs differ */
  lr_ood_hist members[2];   /* LR_OOD_MAXPROB, LR_OOD_ENTROPY */
  lr_ood_hist ensemble[LR_OOD_SCORES];
  bool has_mi;
} lr_ood_panel;

/* The sweep's OOD panels at `epoch` (< 0: each run's last), in the order of
 * lr_report_ood_predictions; *panels from malloc. */
lr_status lr_ood_read(lr_store *s, int64_t sweep_id, long epoch, lr_ood_panel **panels,
                      size_t *n, lr_err *err);

#endif /* LORENS_REPORT_OOD_H */
