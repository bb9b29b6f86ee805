/*
 * test-run-eval.c: member and ensemble rows (ensembles of the first k members, diversity, OOD
 * AUROCs) on probabilities worked out by hand, their evaluations rows in the store, and the
 * members' seeds.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../tap.h"
#include "../tmpdir.h"
#include "store/store-results.h"
#include "train/member-seeds.h"
#include "train/run-eval.h"

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
  lr_eval_rows(&s, LR_ECE_BINS_DEFAULT, rows);
  tap_ok(!rows[0].ensemble && rows[0].idx == 0 && !rows[1].ensemble && rows[1].idx == 1,
         "rows 0 and 1 are the members");
  tap_ok(rows[2].ensemble && rows[2].idx == 1 && rows[3].ensemble && rows[3].idx == 2,
         "rows 2 and 3 the ensembles of 1 and 2 members");
  tap_is_near(rows[0].m.accuracy, 1, 1e-12, 0, "member 0 is always right");
  tap_is_near(rows[1].m.accuracy, 0, 1e-12, 0, "member 1 always wrong");
  tap_is_near(rows[2].m.nll, rows[0].m.nll, 1e-15, 0, "an ensemble of one is its member");
  tap_ok(!rows[2].has_diversity, "and has no diversity");
  tap_ok(!rows[0].has_ood && !rows[3].has_ood && isnan(rows[3].auroc_mi),
         "no OOD metrics until lr_eval_ood");
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

/*
 * Two members, two choices.  In-distribution: (0.9, 0.1) / (0.8, 0.2) and (0.2, 0.8) / (0.9, 0.1).
 * OOD: (0.6, 0.4) / (0.4, 0.6) labelled 0, and (0.9, 0.1) / (0.5, 0.5) unlabelled.
 */
typedef struct toy_sets {
  lr_example id_ex[2], ood_ex[2];
  lr_dataset id_data, ood_data;
  double id_probs[2 * 2 * K], ood_probs[2 * 2 * K];
  lr_set_scores id, ood;
} toy_sets;

static void make_toy(toy_sets *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < 2; i++) {
    t->id_ex[i].n_choices = t->ood_ex[i].n_choices = 2;
    t->id_ex[i].label = i == 0 ? 0 : 1;
  }
  t->ood_ex[0].label = 0;
  t->ood_ex[1].label = -1;
  t->id_data.examples = t->id_ex;
  t->ood_data.examples = t->ood_ex;
  t->id_data.n = t->ood_data.n = 2;
  set_probs(t->id_probs, 0, 2, 0, 0.9, 0.1);
  set_probs(t->id_probs, 0, 2, 1, 0.8, 0.2);
  set_probs(t->id_probs, 1, 2, 0, 0.2, 0.8);
  set_probs(t->id_probs, 1, 2, 1, 0.9, 0.1);
  set_probs(t->ood_probs, 0, 2, 0, 0.6, 0.4);
  set_probs(t->ood_probs, 0, 2, 1, 0.4, 0.6);
  set_probs(t->ood_probs, 1, 2, 0, 0.9, 0.1);
  set_probs(t->ood_probs, 1, 2, 1, 0.5, 0.5);
  t->id = (lr_set_scores){"eval", "arc-easy", false, &t->id_data, 2, 2, t->id_probs};
  t->ood = (lr_set_scores){"eval", "obqa", true, &t->ood_data, 2, 2, t->ood_probs};
}

static double h2(double p) {
  return -(p * log(p) + (1 - p) * log(1 - p));
}

static void test_ood_rows(void) {
  toy_sets t;
  lr_eval_row rows[4], before[4];
  lr_err err;
  lr_err_init(&err);
  make_toy(&t);
  lr_eval_rows(&t.ood, LR_ECE_BINS_DEFAULT, rows);
  tap_is_int(lr_eval_ood(&t.id, &t.ood, rows, &err), LR_OK, "lr_eval_ood succeeds");
  tap_ok(rows[0].has_ood && rows[1].has_ood && rows[2].has_ood && rows[3].has_ood,
         "every row of the OOD set has OOD metrics");
  tap_is_int((long long)rows[0].m.n, 1, "accuracy and co. count the labelled OOD example only");
  tap_is_near(rows[3].disagreement, 0.5, 1e-15, 0,
              "diversity counts every example, labelled or not: the members disagree on 1 of 2");
  /* Member 0, max probability: ID {0.9, 0.2 -> 0.8}, OOD {0.6, 0.9}: 0.9 beats 0.6 and ties 0.9
   * (1.5), 0.8 beats 0.6 (1): 2.5 of 4.  With two choices entropy orders the same way, and the
   * ID (0.9, 0.1) and the OOD (0.9, 0.1) tie exactly. */
  tap_is_near(rows[0].auroc_maxprob, 0.625, 0, 0, "member 0: AUROC by max probability 0.625");
  tap_is_near(rows[0].auroc_entropy, 0.625, 0, 0, "member 0: by entropy 0.625 (the tie counts 1/2)");
  tap_ok(!rows[0].has_mi && isnan(rows[0].auroc_mi), "a member has no MI");
  /* Member 1: ID {0.8, 0.9} above OOD {0.6, 0.5}. */
  tap_is_near(rows[1].auroc_maxprob, 1, 0, 0, "member 1 separates perfectly");
  tap_is_near(rows[2].auroc_maxprob, rows[0].auroc_maxprob, 0, 0, "the ensemble of one is member 0");
  tap_ok(!rows[2].has_mi, "and has no MI");
  /* Ensemble of 2: means ID (0.85, 0.15), (0.55, 0.45); OOD (0.5, 0.5), (0.7, 0.3).  Max
   * probability: 0.85 beats both, 0.55 beats 0.5 only: 3 of 4. */
  tap_is_near(rows[3].auroc_maxprob, 0.75, 0, 0, "ensemble of 2: by max probability 0.75");
  /* -H: ID -0.4227, -0.6881; OOD -0.6931, -0.6109: 2 + 1 of 4. */
  tap_is_near(rows[3].auroc_entropy, 0.75, 0, 0, "by entropy 0.75");
  {
    double mi_id0 = h2(0.85) - (h2(0.9) + h2(0.8)) / 2, mi_id1 = h2(0.55) - (h2(0.2) + h2(0.9)) / 2;
    double mi_ood0 = log(2) - h2(0.6), mi_ood1 = h2(0.7) - (h2(0.9) + log(2)) / 2;
    tap_ok(mi_id0 < mi_ood0 && mi_ood0 < mi_ood1 && mi_ood1 < mi_id1,
           "MI: ID 0 < OOD 0 < OOD 1 < ID 1 (%.4f %.4f %.4f %.4f)", mi_id0, mi_ood0, mi_ood1, mi_id1);
    tap_ok(rows[3].has_mi, "the ensemble of 2 has MI");
    tap_is_near(rows[3].auroc_mi, 0.5, 0, 0, "so AUROC by MI is 2 of 4 pairs");
  }
  memcpy(before, rows, sizeof rows);
  t.ood.members = 1;
  tap_is_int(lr_eval_ood(&t.id, &t.ood, rows, &err), LR_EINVAL, "sets with different members: EINVAL");
  tap_like(err.msg, "has 1 members but the in-distribution set 'arc-easy' has 2", "saying so");
  tap_ok(memcmp(before, rows, sizeof rows) == 0, "and the rows are left alone");
}

static void test_stored(void) {
  char root[1024], path[1200];
  toy_sets t;
  lr_eval_row rows[4];
  lr_store *s = NULL;
  lr_err err;
  sqlite3_stmt *st = NULL;
  int n = 0;
  lr_err_init(&err);
  make_toy(&t);
  if (tmpdir_make(root, sizeof root, "run-eval") != 0) {
    tap_ok(false, "a scratch directory");
    return;
  }
  tmpdir_path(path, sizeof path, root, "r.db");
  if (lr_store_open(path, LR_STORE_CREATE, &s, &err) == LR_OK &&
      lr_store_exec(s,
                    "INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, "
                    "lorens_version) VALUES (1, 'x', 'x.yaml', '/', '', 'ab', '0');"
                    "INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, "
                    "reg_strength, rank, ensemble_size, seed, randomness, lr, backend) VALUES "
                    "(1, 'k', 1, '{}', 'arc-easy', 'none', 0, 8, 2, 0, 'all', 1e-4, 'cpu')",
                    &err) == LR_OK) {
    lr_eval_rows(&t.id, LR_ECE_BINS_DEFAULT, rows);
    lr_results_set(s, 1, 0, "epoch", &t.id, rows, true, &err);
    lr_eval_rows(&t.ood, LR_ECE_BINS_DEFAULT, rows);
    if (lr_eval_ood(&t.id, &t.ood, rows, &err) == LR_OK)
      rows[1].auroc_entropy = NAN; /* as a member with NaN probabilities would give */
    lr_results_set(s, 1, 0, "epoch", &t.ood, rows, true, &err);
  }
  tap_is_int(err.code, LR_OK, "the rows of both sets are stored%s%s", err.msg[0] ? ": " : "",
             err.msg);
  if (s && sqlite3_prepare_v2(lr_store_db(s),
                              "SELECT ood, kind, idx, ood_auroc_maxprob, ood_auroc_entropy, "
                              "ood_auroc_mi, finite FROM evaluations ORDER BY ood, kind DESC, idx",
                              -1, &st, NULL) == SQLITE_OK) {
    /* ID set: members 0, 1, ensembles 1, 2: no AUROCs, finite.  OOD: the same four rows. */
    static const char *const want[8] = {
        "0 member 0 - - - 1",       "0 member 1 - - - 1",         "0 ensemble 1 - - - 1",
        "0 ensemble 2 - - - 1",     "1 member 0 0.625 0.625 - 1", "1 member 1 1 - - 0",
        "1 ensemble 1 0.625 0.625 - 1", "1 ensemble 2 0.75 0.75 0.5 1"};
    while (sqlite3_step(st) == SQLITE_ROW && n < 8) {
      char got[128] = "", col[32];
      snprintf(got, sizeof got, "%d %s %d", sqlite3_column_int(st, 0),
               (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2));
      for (int c = 3; c <= 5; c++) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL)
          snprintf(col, sizeof col, " -");
        else
          snprintf(col, sizeof col, " %.6g", sqlite3_column_double(st, c));
        strncat(got, col, sizeof got - strlen(got) - 1);
      }
      snprintf(col, sizeof col, " %d", sqlite3_column_int(st, 6));
      strncat(got, col, sizeof got - strlen(got) - 1);
      tap_is_str(got, want[n], "evaluations row %d", n);
      n++;
    }
    sqlite3_finalize(st);
  }
  tap_is_int(n, 8, "eight rows: NULL AUROCs on the ID set and on members' MI; NaN is NULL with "
                   "finite 0");
  lr_store_close(s);
  tmpdir_remove(root);
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
  test_ood_rows();
  test_stored();
  test_seeds();
  return tap_done();
}
