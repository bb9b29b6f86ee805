/*
 * test-metrics.c: accuracy, NLL, ECE and Brier against values worked out by hand.
 */
#include "compat.h"

#include <math.h>

#include "../tap.h"
#include "metrics.h"

int main(void) {
  lr_metrics_acc acc;
  lr_metrics m;
  const double a[3] = {0.7, 0.2, 0.1}, b[2] = {0.4, 0.6}, c[4] = {0.25, 0.25, 0.25, 0.25};
  lr_metrics_init(&acc);
  lr_metrics_finish(&acc, &m);
  tap_ok(m.n == 0 && isnan(m.accuracy), "no examples: n 0 and NaN metrics, not zeros");
  lr_metrics_add(&acc, a, 3, 0); /* right, confidence 0.7 */
  lr_metrics_add(&acc, b, 2, 0); /* wrong, confidence 0.6 */
  lr_metrics_add(&acc, c, 4, 3); /* a tie counts as choice 0: wrong, confidence 0.25 */
  lr_metrics_finish(&acc, &m);
  tap_is_int((long long)m.n, 3, "three examples");
  tap_is_near(m.accuracy, 1.0 / 3, 1e-12, 0, "accuracy 1/3");
  tap_is_near(m.nll, -(log(0.7) + log(0.4) + log(0.25)) / 3, 1e-12, 0, "NLL is the mean -log p(label)");
  /* Brier: (0.09+0.04+0.01) + (0.36+0.36) + (3*0.0625 + 0.5625) = 0.14 + 0.72 + 0.75 */
  tap_is_near(m.brier, (0.14 + 0.72 + 0.75) / 3, 1e-12, 0, "Brier is the multi-class squared error");
  /* Three bins each holding one example: |1-0.7| + |0-0.6| + |0-0.25| over 3. */
  tap_is_near(m.ece, (0.3 + 0.6 + 0.25) / 3, 1e-12, 0, "ECE over 15 bins of the top probability");
  const double sure[2] = {1.0, 0.0};
  lr_metrics_init(&acc);
  lr_metrics_add(&acc, sure, 2, 1);
  lr_metrics_finish(&acc, &m);
  tap_ok(isfinite(m.nll) && m.nll > 20, "a zero probability on the label gives a large finite NLL");
  tap_is_near(m.ece, 1.0, 1e-12, 0, "confidence 1 in the last bin, all wrong: ECE 1");
  return tap_done();
}
