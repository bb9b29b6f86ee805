/*
 * metrics.h: accuracy, NLL, ECE and Brier score of multiple-choice predictions.
 *
 * Predictions arrive one example at a time (probabilities over that example's K choices and the
 * label); the accumulator keeps sums, so any number of examples costs constant memory.  Exact
 * definitions, tie rules and floors are in docs/metrics.md; in short, over n labelled examples:
 *
 *   accuracy  fraction with argmax_k p_k = label; the first index wins ties
 *   NLL       mean of -ln max(p_label, 1e-12), in nats
 *   Brier     mean of sum_k (p_k - [k = label])^2 (the multi-class score, 0..2)
 *   ECE       top-label ECE over B equal-width bins of the confidence c = max_k p_k: bin j holds
 *             c in [j/B, (j+1)/B), c = 1 in the last bin, and
 *             ECE = sum_j (n_j / n) |accuracy_j - mean confidence_j|.
 *
 * The bin count is a parameter of the accumulator (default LR_ECE_BINS_DEFAULT = 10, as in the
 * paper); the bins are a fixed array of LR_ECE_BINS_MAX so that an accumulator needs no malloc
 * and no release (24 KB each).
 */
#ifndef LORENS_METRICS_H
#define LORENS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define LR_ECE_BINS_DEFAULT 10
#define LR_ECE_BINS_MAX 1000

typedef struct lr_metrics_acc {
  size_t n;
  int bins;                 /* 1..LR_ECE_BINS_MAX; 0 after an invalid lr_metrics_init */
  double correct, nll, brier;
  double bin_n[LR_ECE_BINS_MAX], bin_conf[LR_ECE_BINS_MAX], bin_correct[LR_ECE_BINS_MAX];
} lr_metrics_acc;

typedef struct lr_metrics {
  size_t n;
  double accuracy, nll, ece, brier;
} lr_metrics;

/* Empties m for ECE over `bins` bins.  Returns false when bins is outside 1..LR_ECE_BINS_MAX; the
 * accumulator then still works but its ECE is NaN, so a bad count shows instead of being clamped. */
bool lr_metrics_init(lr_metrics_acc *m, int bins);
/* Adds one example: probs over k choices (summing to 1), label in [0, k).  A NaN probability
 * makes the metrics it reaches NaN (never a crash, never a silently finite value). */
void lr_metrics_add(lr_metrics_acc *m, const double *probs, int k, int label);
/* The metrics so far; all NaN (and n = 0) before the first example. */
void lr_metrics_finish(const lr_metrics_acc *m, lr_metrics *out);

/* The ECE bin of a confidence c among `bins`: the largest j with c >= j/bins, where j/bins is the
 * double nearest the quotient (so 0.5 and 0.7, as written, open bins 5 and 7 of 10), capped at
 * bins - 1 so that c = 1 lands in the last bin.  NaN and c < 0 give bin 0. */
int lr_ece_bin(double c, int bins);

#endif /* LORENS_METRICS_H */
