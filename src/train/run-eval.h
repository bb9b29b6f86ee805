/*
 * run-eval.h: from the choice probabilities of a run's members on one evaluation set to the rows
 * a paper table is made of: every member, and the ensembles of the first k members (k = 1..M,
 * the mean of their probabilities), with the diversity between those members.
 *
 * Diversity of an ensemble of k >= 2 members: disagreement is the fraction of (example, member
 * pair) whose top choices differ, over unordered pairs; pairwise KL is the mean over ordered pairs
 * (i, j), i != j, of KL(p_i || p_j) in nats, averaged over examples.  Both use every example of
 * the set, labelled or not (they need no label); accuracy, NLL, ECE and Brier use the labelled ones.
 *
 * An OOD set's rows also get the AUROC with which each member and ensemble separates an
 * in-distribution reference set from it (lr_eval_ood; ood.h).  docs/metrics.md has every formula.
 */
#ifndef LORENS_RUN_EVAL_H
#define LORENS_RUN_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "text/dataset.h"
#include "train/metrics.h"

/* One evaluation set scored by every member. */
typedef struct lr_set_scores {
  const char *split;        /* "validation" or "eval" */
  const char *dataset;      /* its name in the grid */
  bool ood;
  const lr_dataset *data;   /* examples 0..n-1 (ids, labels, choice counts) */
  size_t n;
  uint32_t members;
  double *probs;            /* [n][members][LR_DATASET_MAX_CHOICES] */
} lr_set_scores;

typedef struct lr_eval_row {
  bool ensemble;            /* false: member idx; true: ensemble of members 0..idx-1 */
  uint32_t idx;
  lr_metrics m;             /* over the labelled examples */
  bool has_diversity;       /* ensembles of >= 2 members */
  double disagreement, pairwise_kl;
  bool has_ood;             /* set by lr_eval_ood on the rows of an OOD set */
  double auroc_maxprob, auroc_entropy;
  bool has_mi;              /* has_ood and an ensemble of >= 2 members */
  double auroc_mi;          /* NaN unless has_mi */
} lr_eval_row;

/* Fills rows[0 .. 2 * members): the members in order, then the ensembles k = 1..members, with
 * ECE over ece_bins bins (LR_ECE_BINS_DEFAULT unless the caller has a reason; an ece_bins outside
 * 1..LR_ECE_BINS_MAX gives NaN ECEs).  No OOD metrics: has_ood is false. */
void lr_eval_rows(const lr_set_scores *s, int ece_bins, lr_eval_row *rows);

/* Adds the OOD detection metrics to rows, the rows lr_eval_rows made for the OOD set `ood`, with
 * `id` as the in-distribution reference (the caller chooses it; the worker uses the first non-OOD
 * evaluation set).  Every example of both sets counts, labelled or not.  Member m is scored by its
 * own probabilities; the ensemble of the first k members by their mean, and by MI for k >= 2.
 * Fails (LR_EINVAL) when the sets have different member counts, LR_ENOMEM when out of memory;
 * rows are then left as they were. */
lr_status lr_eval_ood(const lr_set_scores *id, const lr_set_scores *ood, lr_eval_row *rows,
                      lr_err *err);

/* Index of the largest of k probabilities (the first on ties). */
int lr_argmax(const double *p, int k);

#endif /* LORENS_RUN_EVAL_H */
