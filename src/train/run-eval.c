/*
 * run-eval.c: member and ensemble metrics of one evaluation set (see run-eval.h).
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/ood.h"
#include "train/run-eval.h"

/* Probabilities are floored before logs, as in metrics.c. */
#define P_FLOOR 1e-12

int lr_argmax(const double *p, int k) {
  int best = 0;
  for (int j = 1; j < k; j++)
    if (p[j] > p[best])
      best = j;
  return best;
}

static const double *probs_of(const lr_set_scores *s, size_t i, uint32_t m) {
  return s->probs + (i * s->members + m) * LR_DATASET_MAX_CHOICES;
}

/* The ensemble of members 0..k-1 on example i: the mean of their probabilities. */
static void ensemble_mean(const lr_set_scores *s, size_t i, uint32_t k, double *mean) {
  int K = s->data->examples[i].n_choices;
  memset(mean, 0, LR_DATASET_MAX_CHOICES * sizeof *mean);
  for (uint32_t m = 0; m < k; m++)
    for (int j = 0; j < K; j++)
      mean[j] += probs_of(s, i, m)[j] / k;
}

/* KL(p || q) in nats: a zero p_j contributes nothing, q_j is floored at P_FLOOR (written so that
 * NaN stays NaN). */
static double kl(const double *p, const double *q, int k) {
  double d = 0;
  for (int j = 0; j < k; j++)
    if (p[j] != 0)
      d += p[j] * (log(p[j]) - log(q[j] < P_FLOOR ? P_FLOOR : q[j]));
  return d;
}

static void diversity(const lr_set_scores *s, uint32_t k, lr_eval_row *row) {
  double disagree = 0, kls = 0;
  size_t pairs = 0;
  for (size_t i = 0; i < s->n; i++) {
    int K = s->data->examples[i].n_choices;
    for (uint32_t a = 0; a < k; a++)
      for (uint32_t b = a + 1; b < k; b++) {
        const double *pa = probs_of(s, i, a), *pb = probs_of(s, i, b);
        disagree += lr_argmax(pa, K) != lr_argmax(pb, K);
        kls += kl(pa, pb, K) + kl(pb, pa, K);
        pairs++;
      }
  }
  row->has_diversity = true;
  row->disagreement = pairs ? disagree / (double)pairs : NAN;
  row->pairwise_kl = pairs ? kls / (2.0 * (double)pairs) : NAN;
}

static void new_row(lr_eval_row *r, bool ensemble, uint32_t idx) {
  memset(r, 0, sizeof *r);
  r->ensemble = ensemble;
  r->idx = idx;
  r->auroc_maxprob = r->auroc_entropy = r->auroc_mi = NAN;
}

void lr_eval_rows(const lr_set_scores *s, int ece_bins, lr_eval_row *rows) {
  uint32_t M = s->members;
  lr_metrics_acc acc;
  double mean[LR_DATASET_MAX_CHOICES];
  for (uint32_t m = 0; m < M; m++) {
    lr_eval_row *r = &rows[m];
    new_row(r, false, m);
    lr_metrics_init(&acc, ece_bins);
    for (size_t i = 0; i < s->n; i++) {
      const lr_example *ex = &s->data->examples[i];
      if (ex->label >= 0)
        lr_metrics_add(&acc, probs_of(s, i, m), ex->n_choices, ex->label);
    }
    lr_metrics_finish(&acc, &r->m);
  }
  for (uint32_t k = 1; k <= M; k++) {
    lr_eval_row *r = &rows[M + k - 1];
    new_row(r, true, k);
    lr_metrics_init(&acc, ece_bins);
    for (size_t i = 0; i < s->n; i++) {
      const lr_example *ex = &s->data->examples[i];
      if (ex->label < 0)
        continue;
      ensemble_mean(s, i, k, mean);
      lr_metrics_add(&acc, mean, ex->n_choices, ex->label);
    }
    lr_metrics_finish(&acc, &r->m);
    if (k >= 2)
      diversity(s, k, r);
  }
}

/* ---- OOD detection ---------------------------------------------------------------------------- */

/* The ID scores (higher = more in-distribution) of example i of s under row r: max probability,
 * -entropy and -MI (NaN for a member or an ensemble of one). */
static void id_scores(const lr_set_scores *s, size_t i, const lr_eval_row *r, double out[3]) {
  int K = s->data->examples[i].n_choices;
  double mean[LR_DATASET_MAX_CHOICES];
  const double *p = mean;
  if (r->ensemble)
    ensemble_mean(s, i, r->idx, mean);
  else
    p = probs_of(s, i, r->idx);
  out[0] = lr_max_prob(p, K);
  out[1] = -lr_entropy(p, K);
  out[2] = r->ensemble && r->idx >= 2
               ? -lr_mutual_info(probs_of(s, i, 0), LR_DATASET_MAX_CHOICES, r->idx, mean, K)
               : NAN;
}

/* Fills items[c][0 .. n_id + n_ood) with score c of every ID, then every OOD example. */
static void fill_items(const lr_set_scores *id, const lr_set_scores *ood, const lr_eval_row *r,
                       lr_auroc_item *items[3]) {
  size_t at = 0;
  double sc[3];
  for (int pass = 0; pass < 2; pass++) {
    const lr_set_scores *s = pass == 0 ? id : ood;
    for (size_t i = 0; i < s->n; i++, at++) {
      id_scores(s, i, r, sc);
      for (int c = 0; c < 3; c++)
        items[c][at] = (lr_auroc_item){sc[c], pass == 0};
    }
  }
}

lr_status lr_eval_ood(const lr_set_scores *id, const lr_set_scores *ood, lr_eval_row *rows,
                      lr_err *err) {
  size_t n = id->n + ood->n;
  lr_auroc_item *items[3];
  if (id->members != ood->members)
    return lr_fail(err, LR_EINVAL,
                   "OOD set '%s' has %u members but the in-distribution set '%s' has %u",
                   ood->dataset, ood->members, id->dataset, id->members);
  items[0] = malloc(3 * (n ? n : 1) * sizeof *items[0]);
  if (items[0] == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  items[1] = items[0] + n;
  items[2] = items[1] + n;
  for (uint32_t i = 0; i < 2 * ood->members; i++) {
    lr_eval_row *r = &rows[i];
    fill_items(id, ood, r, items);
    r->has_ood = true;
    r->auroc_maxprob = lr_auroc(items[0], n);
    r->auroc_entropy = lr_auroc(items[1], n);
    r->has_mi = r->ensemble && r->idx >= 2;
    r->auroc_mi = r->has_mi ? lr_auroc(items[2], n) : NAN;
  }
  free(items[0]);
  return LR_OK;
}
