/*
 * ood.c: OOD scores and the AUROC (see ood.h and docs/metrics.md).
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>

#include "train/ood.h"

static int by_score(const void *a, const void *b) {
  double x = ((const lr_auroc_item *)a)->score, y = ((const lr_auroc_item *)b)->score;
  return (x > y) - (x < y);
}

double lr_auroc(lr_auroc_item *items, size_t n) {
  double n_id = 0, n_ood = 0, ood_below = 0, pairs_won = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(items[i].score))
      return NAN; /* the sort below needs a total order */
    if (items[i].id)
      n_id++;
    else
      n_ood++;
  }
  if (n_id == 0 || n_ood == 0)
    return NAN;
  qsort(items, n, sizeof *items, by_score);
  /* Walk groups of equal scores upwards: each ID example of a group beats every OOD example
   * below the group and ties with each OOD example inside it. */
  for (size_t a = 0, b; a < n; a = b) {
    double g_id = 0, g_ood = 0;
    for (b = a; b < n && items[b].score == items[a].score; b++) {
      if (items[b].id)
        g_id++;
      else
        g_ood++;
    }
    pairs_won += g_id * (ood_below + g_ood / 2);
    ood_below += g_ood;
  }
  return pairs_won / (n_id * n_ood);
}

double lr_max_prob(const double *p, int k) {
  double best = p[0];
  for (int j = 1; j < k; j++)
    if (p[j] > best || isnan(p[j]))
      best = p[j];
  return best;
}

double lr_entropy(const double *p, int k) {
  double h = 0;
  for (int j = 0; j < k; j++)
    if (p[j] != 0) /* 0 ln 0 = 0; NaN != 0, and ln of a negative is NaN */
      h -= p[j] * log(p[j]);
  return h;
}

double lr_mutual_info(const double *p, size_t stride, uint32_t members, const double *mean, int k) {
  double mean_h = 0;
  bool same = true;
  if (members < 2)
    return NAN;
  for (uint32_t m = 1; m < members && same; m++)
    for (int j = 0; j < k && same; j++)
      same = p[m * stride + j] == p[j];
  /* Members that agree exactly have MI 0 exactly; computed, rounding in the mean would leave
   * +-1e-17 that ranks examples which truly tie. */
  if (same)
    return 0;
  for (uint32_t m = 0; m < members; m++)
    mean_h += lr_entropy(p + m * stride, k);
  return lr_entropy(mean, k) - mean_h / members;
}
