/*
 * run-eval.h: from the choice probabilities of a run's members on one evaluation set to the rows
 * a paper table is made of: every member, and the ensembles of the first k members (k = 1..M,
 * the mean of their probabilities), with the diversity between those members.
 *
 * Diversity of an ensemble of k >= 2 members: disagreement is the fraction of (example, member
 * pair) whose top choices differ, over unordered pairs; pairwise KL is the mean over ordered pairs
 * (i, j), i != j, of KL(p_i || p_j) in nats, averaged over examples.
 */
#ifndef LORENS_RUN_EVAL_H
#define LORENS_RUN_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "metrics.h"

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
} lr_eval_row;

/* Fills rows[0 .. 2 * members): the members in order, then the ensembles k = 1..members. */
void lr_eval_rows(const lr_set_scores *s, lr_eval_row *rows);

/* Index of the largest of k probabilities (the first on ties). */
int lr_argmax(const double *p, int k);

#endif /* LORENS_RUN_EVAL_H */
