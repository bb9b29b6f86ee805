/*
 * metrics.c: calibration and accuracy metrics (see metrics.h).
 */
#include "compat.h"

#include <math.h>
#include <string.h>

#include "metrics.h"

/* Probabilities are clamped here before the log, so one zero does not make the NLL infinite. */
#define NLL_FLOOR 1e-12

void lr_metrics_init(lr_metrics_acc *m) {
  memset(m, 0, sizeof *m);
}

void lr_metrics_add(lr_metrics_acc *m, const double *probs, int k, int label) {
  int argmax = 0, bin;
  double brier = 0;
  for (int j = 1; j < k; j++)
    if (probs[j] > probs[argmax])
      argmax = j;
  for (int j = 0; j < k; j++)
    brier += (probs[j] - (j == label)) * (probs[j] - (j == label));
  m->n++;
  m->correct += argmax == label;
  m->nll -= log(probs[label] > NLL_FLOOR ? probs[label] : NLL_FLOOR);
  m->brier += brier;
  bin = (int)(probs[argmax] * LR_ECE_BINS);
  bin = bin < 0 ? 0 : bin >= LR_ECE_BINS ? LR_ECE_BINS - 1 : bin;
  m->bin_n[bin]++;
  m->bin_conf[bin] += probs[argmax];
  m->bin_correct[bin] += argmax == label;
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
  for (int b = 0; b < LR_ECE_BINS; b++)
    if (m->bin_n[b] > 0)
      out->ece += fabs(m->bin_correct[b] - m->bin_conf[b]) / (double)m->n;
}
