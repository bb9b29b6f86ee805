/*
 * metrics.h: accuracy, NLL, ECE and Brier score of multiple-choice predictions.
 *
 * Predictions arrive one example at a time (probabilities over that example's K choices and the
 * label); the accumulator keeps sums, so any number of examples costs constant memory.  ECE uses
 * 15 equal-width bins of the top probability (Guo et al., 2017); the Brier score is the
 * multi-class one, sum over choices of (p_k - [k = label])^2, averaged over examples.
 */
#ifndef LORENS_METRICS_H
#define LORENS_METRICS_H

#include <stddef.h>

#define LR_ECE_BINS 15

typedef struct lr_metrics_acc {
  size_t n;
  double correct, nll, brier;
  double bin_n[LR_ECE_BINS], bin_conf[LR_ECE_BINS], bin_correct[LR_ECE_BINS];
} lr_metrics_acc;

typedef struct lr_metrics {
  size_t n;
  double accuracy, nll, ece, brier;
} lr_metrics;

void lr_metrics_init(lr_metrics_acc *m);
/* Adds one example: probs over k choices (summing to 1), label in [0, k). */
void lr_metrics_add(lr_metrics_acc *m, const double *probs, int k, int label);
void lr_metrics_finish(const lr_metrics_acc *m, lr_metrics *out);

#endif /* LORENS_METRICS_H */
