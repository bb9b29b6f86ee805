/*
 * test-metrics.c: accuracy, NLL, ECE and Brier against values worked out by hand, and the ECE's
 * bins at their edges (docs/metrics.md).
 */
#include "compat.h"

#include <math.h>

#include "../tap.h"
#include "train/metrics.h"

static void test_basics(void) {
  lr_metrics_acc acc;
  lr_metrics m;
  const double a[3] = {0.7, 0.2, 0.1}, b[2] = {0.4, 0.6}, c[4] = {0.25, 0.25, 0.25, 0.25};
  tap_ok(lr_metrics_init(&acc, LR_ECE_BINS_DEFAULT), "10 bins is a valid count");
  lr_metrics_finish(&acc, &m);
  tap_ok(m.n == 0 && isnan(m.accuracy) && isnan(m.ece), "no examples: n 0 and NaN metrics, not zeros");
  lr_metrics_add(&acc, a, 3, 0); /* right, confidence 0.7 */
  lr_metrics_add(&acc, b, 2, 0); /* wrong, confidence 0.6 */
  lr_metrics_add(&acc, c, 4, 3); /* a tie counts as choice 0: wrong, confidence 0.25 */
  lr_metrics_finish(&acc, &m);
  tap_is_int((long long)m.n, 3, "three examples");
  tap_is_near(m.accuracy, 1.0 / 3, 1e-12, 0, "accuracy 1/3");
  tap_is_near(m.nll, -(log(0.7) + log(0.4) + log(0.25)) / 3, 1e-12, 0, "NLL is the mean -log p(label)");
  /* Brier: (0.09+0.04+0.01) + (0.36+0.36) + (3*0.0625 + 0.5625) = 0.14 + 0.72 + 0.75 */
  tap_is_near(m.brier, (0.14 + 0.72 + 0.75) / 3, 1e-12, 0, "Brier is the multi-class squared error");
  /* Bins 7, 6 and 2 of 10, one example each: |1-0.7| + |0-0.6| + |0-0.25| over 3. */
  tap_is_near(m.ece, (0.3 + 0.6 + 0.25) / 3, 1e-12, 0, "ECE over 10 bins of the top probability");

  const double sure[2] = {1.0, 0.0};
  lr_metrics_init(&acc, LR_ECE_BINS_DEFAULT);
  lr_metrics_add(&acc, sure, 2, 1);
  lr_metrics_finish(&acc, &m);
  tap_is_near(m.nll, -log(1e-12), 1e-9, 0, "a zero probability on the label costs -ln 1e-12 (the floor)");
  tap_is_near(m.ece, 1.0, 1e-12, 0, "confidence 1 in the last bin, all wrong: ECE 1");
  tap_is_near(m.brier, 2.0, 1e-12, 0, "and Brier 2, its maximum");

  const double nan_label[2] = {0.5, NAN};
  lr_metrics_init(&acc, LR_ECE_BINS_DEFAULT);
  lr_metrics_add(&acc, nan_label, 2, 1);
  lr_metrics_finish(&acc, &m);
  tap_ok(isnan(m.nll) && isnan(m.brier), "a NaN probability on the label makes NLL and Brier NaN, not floored");
}

/* Five examples whose ECE depends on where the edges 0.5 and 1.0 go. */
static void add_edge_examples(lr_metrics_acc *acc) {
  const double p1[2] = {0.0, 1.0}, p2[2] = {0.92, 0.08}, p3[2] = {0.5, 0.5}, p4[2] = {0.55, 0.45};
  const double p5[3] = {0.5, 0.3, 0.2};
  lr_metrics_add(acc, p1, 2, 0); /* wrong, confidence exactly 1 */
  lr_metrics_add(acc, p2, 2, 0); /* right, 0.92 */
  lr_metrics_add(acc, p3, 2, 1); /* a tie: choice 0, so wrong, 0.5 exactly */
  lr_metrics_add(acc, p4, 2, 0); /* right, 0.55 */
  lr_metrics_add(acc, p5, 3, 1); /* wrong, 0.5 exactly */
}

static void test_ece_edges(void) {
  lr_metrics_acc acc;
  lr_metrics m;
  lr_metrics_init(&acc, 10);
  add_edge_examples(&acc);
  lr_metrics_finish(&acc, &m);
  /* 10 bins: bin 9 = [0.9, 1] holds 1.0 (wrong) and 0.92 (right): |1 - 1.92| = 0.92; bin 5 =
   * [0.5, 0.6) holds 0.5, 0.55, 0.5 (one right): |1 - 1.55| = 0.55.  (0.92 + 0.55) / 5 = 0.294.
   * Were 0.5 in bin 4 it would be 0.48; were 1.0 alone in an 11th bin, 0.326. */
  tap_is_near(m.ece, 0.294, 1e-12, 0, "ECE, 10 bins: 1.0 in the last bin, 0.5 opens bin 5");
  tap_is_near(m.accuracy, 0.4, 1e-12, 0, "the tie at 0.5 counts as choice 0");
  lr_metrics_init(&acc, 20);
  add_edge_examples(&acc);
  lr_metrics_finish(&acc, &m);
  /* 20 bins: 19 {1.0 wrong}: 1; 18 {0.92 right}: 0.08; 10 {0.5, 0.5 wrong}: 1; 11 {0.55 right}
   * (0.55 opens bin 11): 0.45.  2.53 / 5. */
  tap_is_near(m.ece, 2.53 / 5, 1e-12, 0, "ECE, 20 bins: 0.55 opens bin 11");
  lr_metrics_init(&acc, 1);
  add_edge_examples(&acc);
  lr_metrics_finish(&acc, &m);
  tap_is_near(m.ece, fabs(0.4 - 3.47 / 5), 1e-12, 0, "ECE, 1 bin: |accuracy - mean confidence|");

  tap_ok(!lr_metrics_init(&acc, 0) && !lr_metrics_init(&acc, LR_ECE_BINS_MAX + 1),
         "0 and %d bins are refused", LR_ECE_BINS_MAX + 1);
  add_edge_examples(&acc);
  lr_metrics_finish(&acc, &m);
  tap_ok(isnan(m.ece) && fabs(m.accuracy - 0.4) < 1e-12, "after a refused count ECE is NaN, the rest works");
  tap_ok(lr_metrics_init(&acc, LR_ECE_BINS_MAX), "%d bins is allowed", LR_ECE_BINS_MAX);
}

static void test_bins(void) {
  tap_is_int(lr_ece_bin(0.5, 10), 5, "0.5 is in bin 5 of 10");
  tap_is_int(lr_ece_bin(nextafter(0.5, 0), 10), 4, "just below 0.5 is in bin 4");
  tap_is_int(lr_ece_bin(0.3, 10), 3, "0.3 (the double) is in bin 3: it equals the edge 3/10");
  tap_is_int(lr_ece_bin(nextafter(0.3, 0), 10), 2, "just below 0.3 is in bin 2");
  tap_is_int(lr_ece_bin(0.6, 10), 6, "0.6 in bin 6 (linspace's edge 0.6000000000000001 would say 5)");
  tap_is_int(lr_ece_bin(0.7, 10), 7, "0.7 in bin 7");
  tap_is_int(lr_ece_bin(nextafter(0.7, 0), 10), 6, "just below 0.7 in bin 6");
  tap_is_int(lr_ece_bin(1.0, 10), 9, "1.0 in the last bin");
  tap_is_int(lr_ece_bin(nextafter(1.0, 0), 10), 9, "just below 1.0 in the last bin");
  tap_is_int(lr_ece_bin(0.0, 10), 0, "0 in bin 0");
  tap_is_int(lr_ece_bin(NAN, 10), 0, "NaN in bin 0 (no undefined conversion)");
  tap_is_int(lr_ece_bin(1.0, 1), 0, "one bin holds everything");
  {
    int bad = 0;
    for (int bins = 1; bins <= 200; bins++)
      for (int j = 0; j < bins; j++) {
        double edge = (double)j / bins;
        bad += lr_ece_bin(edge, bins) != j;
        bad += j > 0 && lr_ece_bin(nextafter(edge, 0), bins) != j - 1;
      }
    tap_is_int(bad, 0, "every edge j/B (B = 1..200) opens bin j, and the double below it is in j-1");
  }
}

int main(void) {
  test_basics();
  test_ece_edges();
  test_bins();
  return tap_done();
}
