/*
 * test-ood.c: the AUROC (Mann-Whitney, ties 1/2) and the OOD scores (max probability, entropy,
 * mutual information) on cases worked out by hand (docs/metrics.md).
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>

#include "../tap.h"
#include "train/ood.h"

/* AUROC of the ID scores a[0..na) against the OOD scores b[0..nb). */
static double auroc_of(const double *a, size_t na, const double *b, size_t nb) {
  lr_auroc_item items[32];
  size_t n = 0;
  for (size_t i = 0; i < na; i++)
    items[n++] = (lr_auroc_item){a[i], true};
  for (size_t i = 0; i < nb; i++)
    items[n++] = (lr_auroc_item){b[i], false};
  return lr_auroc(items, n);
}

static void test_auroc(void) {
  const double hi[3] = {3, 4, 5}, lo[2] = {1, 2}, same[3] = {0.25, 0.25, 0.25};
  /* ID 0.9 beats all 3 OOD (3); each ID 0.5 ties the OOD 0.5 and beats 0.3 and 0.1 (2 x 2.5);
   * ID 0.1 ties the OOD 0.1 (0.5): 8.5 of 12 pairs. */
  const double tid[4] = {0.5, 0.9, 0.1, 0.5}, tood[3] = {0.1, 0.5, 0.3};
  const double nan_id[2] = {0.2, NAN};
  tap_is_near(auroc_of(hi, 3, lo, 2), 1.0, 0, 0, "perfect separation: 1");
  tap_is_near(auroc_of(lo, 2, hi, 3), 0.0, 0, 0, "inverted: 0");
  tap_is_near(auroc_of(same, 3, same, 2), 0.5, 0, 0, "all tied: 1/2");
  tap_is_near(auroc_of(tid, 4, tood, 3), 8.5 / 12, 0, 0, "ties worked by hand: 8.5/12");
  tap_is_near(auroc_of(tood, 3, tid, 4), 3.5 / 12, 0, 0, "swapping the classes gives 1 - AUROC");
  tap_ok(isnan(auroc_of(hi, 3, lo, 0)) && isnan(auroc_of(hi, 0, lo, 2)), "an empty class: NaN");
  tap_ok(isnan(auroc_of(nan_id, 2, lo, 2)), "a NaN score: NaN");
  {
    /* 2000 examples on a grid of 7 values against a brute-force count over all pairs. */
    enum { N = 2000 };
    lr_auroc_item *items = malloc(N * sizeof *items);
    double won = 0, n_id = 0, n_ood = 0;
    unsigned x = 12345;
    for (size_t i = 0; items && i < N; i++) {
      x = x * 1103515245u + 12345u;
      items[i] = (lr_auroc_item){(double)((x >> 16) % 7), (x >> 8) % 3 != 0};
      n_id += items[i].id;
      n_ood += !items[i].id;
    }
    for (size_t i = 0; items && i < N; i++)
      for (size_t j = 0; j < N; j++)
        if (items[i].id && !items[j].id)
          won += items[i].score > items[j].score ? 1 : items[i].score == items[j].score ? 0.5 : 0;
    tap_is_near(items ? lr_auroc(items, N) : -1, won / (n_id * n_ood), 0, 0,
                "heavy ties over 2000 examples: exactly the pair count");
    free(items);
  }
}

static void test_scores(void) {
  const double half[2] = {0.5, 0.5}, sure[3] = {1, 0, 0}, uni[4] = {0.25, 0.25, 0.25, 0.25};
  const double a[3] = {0.7, 0.2, 0.1}, bad[2] = {NAN, 0.5}, neg[2] = {-0.1, 1.1};
  tap_is_near(lr_max_prob(a, 3), 0.7, 0, 0, "max probability");
  tap_ok(isnan(lr_max_prob(bad, 2)), "max probability of a NaN vector is NaN");
  tap_is_near(lr_entropy(half, 2), log(2), 1e-15, 0, "H(1/2, 1/2) = ln 2 nats");
  tap_is_near(lr_entropy(sure, 3), 0, 0, 0, "H(1, 0, 0) = 0 (0 ln 0 = 0)");
  tap_is_near(lr_entropy(uni, 4), log(4), 1e-15, 0, "H(uniform over 4) = ln 4");
  tap_is_near(lr_entropy(a, 3), -(0.7 * log(0.7) + 0.2 * log(0.2) + 0.1 * log(0.1)), 1e-15, 0,
              "H(0.7, 0.2, 0.1)");
  tap_ok(isnan(lr_entropy(bad, 2)) && isnan(lr_entropy(neg, 2)), "NaN or negative: NaN entropy");
}

static void test_mi(void) {
  /* Members at stride 4 (as in lr_set_scores, with a smaller stride). */
  const double opposite[8] = {1, 0, 0, 0, 0, 1, 0, 0}, mean_opp[2] = {0.5, 0.5};
  const double two[8] = {0.8, 0.2, 0, 0, 0.4, 0.6, 0, 0}, mean_two[2] = {0.6, 0.4};
  const double same[12] = {0.1, 0.2, 0.7, 0, 0.1, 0.2, 0.7, 0, 0.1, 0.2, 0.7, 0};
  double mean_same[3] = {0};
  double h = -(0.6 * log(0.6) + 0.4 * log(0.4));
  double h1 = -(0.8 * log(0.8) + 0.2 * log(0.2)), h2 = -(0.4 * log(0.4) + 0.6 * log(0.6));
  for (int m = 0; m < 3; m++)
    for (int j = 0; j < 3; j++)
      mean_same[j] += same[4 * m + j] / 3;
  tap_is_near(lr_mutual_info(opposite, 4, 2, mean_opp, 2), log(2), 1e-15, 0,
              "two sure members that disagree: MI = ln 2");
  tap_is_near(lr_mutual_info(two, 4, 2, mean_two, 2), h - (h1 + h2) / 2, 1e-15, 0,
              "MI = H(mean) - mean H");
  tap_ok(lr_mutual_info(same, 4, 3, mean_same, 3) == 0, "identical members: MI exactly 0");
  tap_ok(isnan(lr_mutual_info(two, 4, 1, two, 2)), "one member: no MI (NaN)");
}

int main(void) {
  test_auroc();
  test_scores();
  test_mi();
  return tap_done();
}
