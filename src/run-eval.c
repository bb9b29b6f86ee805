/*
 * run-eval.c: member and ensemble metrics of one evaluation set (see run-eval.h).
 */
#include "compat.h"

#include <math.h>
#include <string.h>

#include "run-eval.h"

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

static double kl(const double *p, const double *q, int k) {
  double d = 0;
  for (int j = 0; j < k; j++)
    if (p[j] > 0)
      d += p[j] * (log(p[j]) - log(q[j] > P_FLOOR ? q[j] : P_FLOOR));
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

void lr_eval_rows(const lr_set_scores *s, lr_eval_row *rows) {
  uint32_t M = s->members;
  lr_metrics_acc acc;
  double mean[LR_DATASET_MAX_CHOICES];
  for (uint32_t m = 0; m < M; m++) {
    lr_eval_row *r = &rows[m];
    memset(r, 0, sizeof *r);
    r->idx = m;
    lr_metrics_init(&acc);
    for (size_t i = 0; i < s->n; i++) {
      const lr_example *ex = &s->data->examples[i];
      if (ex->label >= 0)
        lr_metrics_add(&acc, probs_of(s, i, m), ex->n_choices, ex->label);
    }
    lr_metrics_finish(&acc, &r->m);
  }
  for (uint32_t k = 1; k <= M; k++) {
    lr_eval_row *r = &rows[M + k - 1];
    memset(r, 0, sizeof *r);
    r->ensemble = true;
    r->idx = k;
    lr_metrics_init(&acc);
    for (size_t i = 0; i < s->n; i++) {
      const lr_example *ex = &s->data->examples[i];
      if (ex->label < 0)
        continue;
      memset(mean, 0, sizeof mean);
      for (uint32_t m = 0; m < k; m++)
        for (int j = 0; j < ex->n_choices; j++)
          mean[j] += probs_of(s, i, m)[j] / k;
      lr_metrics_add(&acc, mean, ex->n_choices, ex->label);
    }
    lr_metrics_finish(&acc, &r->m);
    if (k >= 2)
      diversity(s, k, r);
  }
}
