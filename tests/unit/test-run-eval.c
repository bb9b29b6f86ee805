/*
 * test-run-eval.c: member and ensemble rows (ensembles of the first k members, diversity) on
 * probabilities worked out by hand, and the members' seeds.
 */
#include "compat.h"

#include <math.h>
#include <string.h>

#include "../tap.h"
#include "member-seeds.h"
#include "run-eval.h"

#define K LR_DATASET_MAX_CHOICES

static void set_probs(double *probs, size_t i, uint32_t M, uint32_t m, double p0, double p1) {
  probs[(i * M + m) * K] = p0;
  probs[(i * M + m) * K + 1] = p1;
}

static void test_rows(void) {
  lr_example ex[2];
  lr_dataset data;
  double probs[2 * 2 * K] = {0};
  lr_eval_row rows[4];
  lr_set_scores s = {"eval", "toy", false, &data, 2, 2, probs};
  memset(ex, 0, sizeof ex);
  memset(&data, 0, sizeof data);
  ex[0].n_choices = ex[1].n_choices = 2;
  ex[0].label = 0;
  ex[1].label = 1;
  data.examples = ex;
  data.n = 2;
  /* Member 0: right and sure on both; member 1: wrong on both. */
  set_probs(probs, 0, 2, 0, 0.9, 0.1);
  set_probs(probs, 1, 2, 0, 0.2, 0.8);
  set_probs(probs, 0, 2, 1, 0.3, 0.7);
  set_probs(probs, 1, 2, 1, 0.6, 0.4);
  lr_eval_rows(&s, rows);
  tap_ok(!rows[0].ensemble && rows[0].idx == 0 && !rows[1].ensemble && rows[1].idx == 1,
         "rows 0 and 1 are the members");
  tap_ok(rows[2].ensemble && rows[2].idx == 1 && rows[3].ensemble && rows[3].idx == 2,
         "rows 2 and 3 the ensembles of 1 and 2 members");
  tap_is_near(rows[0].m.accuracy, 1, 1e-12, 0, "member 0 is always right");
  tap_is_near(rows[1].m.accuracy, 0, 1e-12, 0, "member 1 always wrong");
  tap_is_near(rows[2].m.nll, rows[0].m.nll, 1e-15, 0, "an ensemble of one is its member");
  tap_ok(!rows[2].has_diversity, "and has no diversity");
  /* Ensemble of 2: means (0.6, 0.4) and (0.4, 0.6): both right. */
  tap_is_near(rows[3].m.accuracy, 1, 1e-12, 0, "the mean of both members is right twice");
  tap_is_near(rows[3].m.nll, -log(0.6), 1e-12, 0, "with NLL -log 0.6");
  tap_is_near(rows[3].disagreement, 1, 1e-12, 0, "the two members disagree on every example");
  {
    double kl0 = 0.9 * log(0.9 / 0.3) + 0.1 * log(0.1 / 0.7), kl0r = 0.3 * log(0.3 / 0.9) + 0.7 * log(0.7 / 0.1);
    double kl1 = 0.2 * log(0.2 / 0.6) + 0.8 * log(0.8 / 0.4), kl1r = 0.6 * log(0.6 / 0.2) + 0.4 * log(0.4 / 0.8);
    tap_is_near(rows[3].pairwise_kl, (kl0 + kl0r + kl1 + kl1r) / 4, 1e-12, 0,
                "pairwise KL: the mean over ordered pairs and examples");
  }
}

static void test_seeds(void) {
  lr_member_seeds a, b, c;
  lr_member_seeds_of(7, true, true, true, 0, &a);
  lr_member_seeds_of(7, true, true, true, 1, &b);
  tap_ok(a.init != b.init && a.data != b.data && a.dropout != b.dropout,
         "varying sources give members different seeds");
  tap_ok(a.init != a.data && a.data != a.dropout && a.init != a.dropout,
         "the three streams of a member differ");
  lr_member_seeds_of(7, false, true, false, 0, &a);
  lr_member_seeds_of(7, false, true, false, 3, &b);
  tap_ok(a.init == b.init && a.dropout == b.dropout && a.data != b.data,
         "fixed sources give every member the same seed; data still varies");
  lr_member_seeds_of(8, false, false, false, 0, &c);
  lr_member_seeds_of(7, false, false, false, 0, &a);
  tap_ok(a.init != c.init, "the run seed changes every stream");
  lr_member_seeds_of(7, true, true, true, 2, &a);
  lr_member_seeds_of(7, true, true, true, 2, &b);
  tap_ok(memcmp(&a, &b, sizeof a) == 0, "the seeds are a function of (run seed, member)");
}

int main(void) {
  test_rows();
  test_seeds();
  return tap_done();
}
