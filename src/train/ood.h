/*
 * ood.h: out-of-distribution detection: per-example uncertainty scores and the AUROC with which
 * one of them separates in-distribution (ID) examples from out-of-distribution (OOD) ones.
 *
 * Scores, in nats over the example's own K choices (see docs/metrics.md):
 *   max probability      max_k p_k                                   higher = more ID
 *   predictive entropy   H(p) = -sum_k p_k ln p_k  (0 ln 0 = 0)      higher = more OOD
 *   mutual information   MI = H(mean_m p_m) - mean_m H(p_m), over the members of an ensemble
 *                        (k >= 2); exactly 0 when every member gives the same probabilities
 *                        (so an ensemble of identical members ties everywhere)  higher = more OOD
 *
 * AUROC treats ID as the positive class, with an ID score where higher means more ID (max
 * probability, -entropy, -MI).  It is the Mann-Whitney statistic
 *     AUROC = (#{(i, o): s_i > s_o} + #{(i, o): s_i = s_o} / 2) / (n_id n_ood)
 * over every (ID example, OOD example) pair, which equals scikit-learn's roc_auc_score with ID as
 * label 1.  Computed in O(n log n) by sorting; the pair counts are sums of half-integers, exact in
 * doubles, so the only rounding is the final division.
 */
#ifndef LORENS_OOD_H
#define LORENS_OOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One example's ID score and whether it is in-distribution. */
typedef struct lr_auroc_item {
  double score;
  bool id;
} lr_auroc_item;

/* AUROC of ID (positive) versus OOD; sorts items in place.  NaN when either class is empty or a
 * score is NaN. */
double lr_auroc(lr_auroc_item *items, size_t n);

/* max_k p_k. */
double lr_max_prob(const double *p, int k);

/* H(p) in nats; a zero probability contributes 0, a NaN or negative one makes it NaN. */
double lr_entropy(const double *p, int k);

/* MI of an ensemble of `members` members whose probabilities over k choices are at
 * p, p + stride, p + 2 stride, ...; mean is the ensemble's mean (the caller has it already).
 * NaN for fewer than 2 members. */
double lr_mutual_info(const double *p, size_t stride, uint32_t members, const double *mean, int k);

#endif /* LORENS_OOD_H */
