/*
 * metrics.c: calibration and accuracy metrics (see metrics.h and docs/metrics.md).
 */
#include "compat.h"

#include <math.h>
#include <string.h>

#include "train/metrics.h"

/* Probabilities are floored here before the log, so one zero does not make the NLL infinite:
 * a wrong answer given probability 0 costs -ln 1e-12 = 27.63 nats. */
#define NLL_FLOOR 1e-12

bool lr_metrics_init(lr_metrics_acc *m, int bins) {
  bool ok = bins >= 1 && bins <= LR_ECE_BINS_MAX;
  memset(m, 0, sizeof *m);
  m->bins = ok ? bins : 0;
  return ok;
}

int lr_ece_bin(double c, int bins) {
  int j;
  if (!(c > 0))
    return 0; /* also NaN: (int)NaN would be undefined */
  if (c >= 1)
    return bins - 1;
  /* c * bins can round up or down across an edge; the two loops settle j against the edges
   * themselves, each of which is one correctly rounded division. */
  j = (int)(c * bins);
  if (j > bins - 1)
    j = bins - 1;
  while (j > 0 && c < (double)j / bins)
    j--;
  while (j < bins - 1 && c >= (double)(j + 1) / bins)
    j++;
  return j;
}

void lr_metrics_add(lr_metrics_acc *m, const double *probs, int k, int label) {
  int argmax = 0;
  double brier = 0, p_label = probs[label];
  for (int j = 1; j < k; j++)
    if (probs[j] > probs[argmax])
      argmax = j;
  for (int j = 0; j < k; j++)
    brier += (probs[j] - (j == label)) * (probs[j] - (j == label));
  m->n++;
  m->correct += argmax == label;
  /* Written so that a NaN probability stays NaN rather than being floored to 1e-12. */
  m->nll -= log(p_label < NLL_FLOOR ? NLL_FLOOR : p_label);
  m->brier += brier;
  if (m->bins > 0) {
    int bin = lr_ece_bin(probs[argmax], m->bins);
    m->bin_n[bin]++;
    m->bin_conf[bin] += probs[argmax];
    m->bin_correct[bin] += argmax == label;
  }
}

void lr_metrics_finish(const lr_metrics_acc *m, lr_metrics *out) {
  memset(out, 0, sizeof *out);
  out->n = m->n;
  if (m->n == 0) {
    out->accuracy = out->nll = out->ece = out->brier = NAN;
    return;
  }
  out->accuracy = m->correct / (double)m->n;
  out->nll = m->nll / (double)m->n;
  out->brier = m->brier / (double)m->n;
  /* (n_j / n) |correct_j / n_j - conf_j / n_j| = |correct_j - conf_j| / n. */
  for (int b = 0; b < m->bins; b++)
    if (m->bin_n[b] > 0)
      out->ece += fabs(m->bin_correct[b] - m->bin_conf[b]) / (double)m->n;
  if (m->bins == 0)
    out->ece = NAN;
}
