/*
 * test-run-summary.c: the summary table's layout, from summaries built by hand: which axes label
 * the rows, "-" for missing metrics, columns that widen for wide values with the metrics' names
 * centred over them, what moves between the title and the columns (the test set, the epoch), and
 * the notes.  The numbers themselves, read from a database, are tests/cli/test-summary.sh's.
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/run-summary.h"
#include "../tap.h"

/* A row of the default configuration: every axis set, two runs of M = 3 at epoch 2. */
static void add_row(lr_summary *sum, const char *regularizer, const char *strength) {
  static const char *const axes[LR_SUMMARY_N_AXES] = {
      "tiny", "arc", "none", "", "8", "0.0001", "init+data+dropout", "cpu", "arc-test", "ood"};
  lr_summary_row *r;
  sum->rows = realloc(sum->rows, (sum->n_rows + 1) * sizeof *sum->rows);
  r = &sum->rows[sum->n_rows++];
  memset(r, 0, sizeof *r);
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    r->axis[a] = strdup(axes[a]);
  free(r->axis[LR_SUMMARY_REGULARIZER]);
  free(r->axis[LR_SUMMARY_STRENGTH]);
  r->axis[LR_SUMMARY_REGULARIZER] = strdup(regularizer);
  r->axis[LR_SUMMARY_STRENGTH] = strdup(strength);
  r->n_runs = r->n_evaluated = 2;
  r->ensemble_size = 3;
  r->epoch = 2;
  for (int m = 0; m < LR_SUMMARY_N_METRICS; m++) {
    r->member[m] = 0.5 + 0.01 * m;
    r->ensemble[m] = 0.6 + 0.01 * m;
  }
  r->first_run_id = (int64_t)sum->n_rows;
}

static void set_axis(lr_summary_row *r, int axis, const char *value) {
  free(r->axis[axis]);
  r->axis[axis] = strdup(value);
}

static void init(lr_summary *sum, const char *name) {
  memset(sum, 0, sizeof *sum);
  sum->name = strdup(name);
  sum->db_path = strdup("r.db");
}

/* The table as text (from malloc). */
static char *print(const lr_summary *sum) {
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&text, &len);
  lr_summary_print(sum, fp);
  fclose(fp);
  return text;
}

static void all_done(lr_summary *sum) {
  sum->counts.total = sum->counts.done = 2 * (long)sum->n_rows;
}

static void test_label_axes(void) {
  lr_summary sum;
  bool used[LR_SUMMARY_N_AXES];
  int n = 0;
  init(&sum, "s");
  add_row(&sum, "none", "");
  add_row(&sum, "kl", "0.1");
  add_row(&sum, "kl", "0.5");
  lr_summary_label_axes(&sum, used);
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    n += used[a];
  tap_ok(n == 2 && used[LR_SUMMARY_REGULARIZER] && used[LR_SUMMARY_STRENGTH],
         "the axes that vary, and only they, label the rows");
  lr_summary_release(&sum);

  init(&sum, "s");
  add_row(&sum, "none", "");
  lr_summary_label_axes(&sum, used);
  n = 0;
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    n += used[a];
  tap_ok(n == 1 && used[LR_SUMMARY_DATASET], "a single row is labelled by its training set");
  sum.rows[0].other = strdup("lora.alpha=4");
  add_row(&sum, "none", "");
  sum.rows[1].other = strdup("lora.alpha=8");
  lr_summary_label_axes(&sum, used);
  tap_ok(!used[LR_SUMMARY_DATASET], "rows told apart by other keys need no training set column");
  lr_summary_release(&sum);
  tap_ok(sum.rows == NULL && sum.name == NULL, "release leaves an empty summary");
}

static void test_table(void) {
  lr_summary sum;
  char *text;
  init(&sum, "paper");
  add_row(&sum, "none", "");
  add_row(&sum, "kl", "0.1");
  sum.rows[1].member[LR_SUMMARY_NLL] = 123.4564;
  sum.rows[1].ensemble[LR_SUMMARY_AUROC] = NAN;
  sum.rows[1].n_evaluated = 1;
  all_done(&sum);
  text = print(&sum);
  tap_is_str(text,
             "sweep 'paper': test set 'arc-test', OOD set 'ood', epoch 2\n"
             "                                   accuracy          NLL             ECE         OOD AUROC\n"
             "regularizer  strength  runs  M  member   ens.   member    ens.  member   ens.  member   ens.\n"
             "none                      2  3   0.500  0.600    0.510   0.610   0.520  0.620   0.530  0.630\n"
             "kl           0.1        1/2  3   0.500  0.600  123.456   0.610   0.520  0.620   0.530      -\n"
             "member: mean single member; ens.: ensemble of all M members; means over the runs (seeds);\n"
             "OOD AUROC by max probability\n"
             "runs a/b: a of the configuration's b runs have evaluations at that epoch\n",
             "the table: centred names, a widened NLL pair, - for NULL, a/b runs and its note");
  free(text);

  /* What differs between rows becomes a column; what is the same stays in the title. */
  set_axis(&sum.rows[1], LR_SUMMARY_TEST_SET, "mmlu");
  sum.rows[1].epoch = 3;
  sum.rows[1].n_evaluated = 2;
  sum.counts.pending = 1;
  sum.counts.failed = 2;
  sum.counts.total += 3;
  sum.rows[0].n_nonfinite = 2;
  sum.rows[1].n_nonfinite = 3;
  text = print(&sum);
  tap_like(text, "sweep 'paper': OOD set 'ood'\n", "a test set or an epoch that differs leaves the title");
  tap_like(text, "regularizer  strength  test set  runs  M  epoch  member", "for columns of their own");
  tap_like(text, "kl           0.1       mmlu         2  3      3   0.500", "with each row's values");
  tap_like(text, "7 runs: 4 done, 2 failed, 1 pending (`lorens status --db r.db` says why)\n",
           "runs not done are counted by status");
  tap_like(text, "\n5 evaluation rows with NaN or infinite metrics", "rows left out are counted");
  tap_ok(strstr(text, "runs a/b") == NULL, "no a/b note when every run was evaluated");
  free(text);
  lr_summary_release(&sum);
}

static void test_titles(void) {
  lr_summary sum;
  char *text;
  init(&sum, "bare");
  add_row(&sum, "none", "");
  set_axis(&sum.rows[0], LR_SUMMARY_OOD_SET, "");
  sum.rows[0].epoch = -1;
  sum.rows[0].n_evaluated = 0;
  for (int m = 0; m < LR_SUMMARY_N_METRICS; m++)
    sum.rows[0].member[m] = sum.rows[0].ensemble[m] = NAN;
  all_done(&sum);
  text = print(&sum);
  tap_like(text, "sweep 'bare': test set 'arc-test', no OOD set, nothing evaluated yet\n",
           "no OOD set and no evaluation say so");
  tap_like(text, "\narc         0/2  3       -      -       -", "a row of -");
  free(text);
  set_axis(&sum.rows[0], LR_SUMMARY_TEST_SET, "");
  text = print(&sum);
  tap_like(text, "sweep 'bare': no test or OOD set (data.eval is empty)\n",
           "no evaluation set at all says where they would come from");
  free(text);
  set_axis(&sum.rows[0], LR_SUMMARY_TEST_SET, "arc-test");

  /* A configuration that failed before its first evaluation does not bring in an epoch column. */
  add_row(&sum, "kl", "0.1");
  text = print(&sum);
  tap_ok(strstr(text, "epoch  member") == NULL && strstr(text, "epoch 2\n") != NULL,
         "rows without evaluations leave the epoch in the title");
  free(text);
  lr_summary_release(&sum);

  init(&sum, "empty");
  text = print(&sum);
  tap_is_str(text, "sweep 'empty': no runs\n", "a sweep without runs");
  free(text);
  lr_summary_release(&sum);
}

int main(void) {
  test_label_axes();
  test_table();
  test_titles();
  return tap_done();
}
