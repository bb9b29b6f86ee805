/*
 * test-metrics-reference.c: accuracy, NLL, ECE, Brier, the AUROC, OOD scores, diversity and the
 * OOD rows of lr_eval_rows + lr_eval_ood against tests/fixtures/metrics/reference.json, made by
 * scikit-learn and numpy (tests/fixtures/make_metrics_reference.py), to 1e-12 relative.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../tap.h"
#include "train/metrics.h"
#include "train/ood.h"
#include "train/run-eval.h"

#define REL 1e-12
#define KMAX LR_DATASET_MAX_CHOICES

static double num(const json_t *o, const char *key) {
  return json_number_value(json_object_get(o, key));
}

/* Reads a JSON array of numbers into p; returns its length (0 when not an array of <= max). */
static int read_probs(const json_t *a, double *p, int max) {
  size_t i;
  json_t *v;
  if (!json_is_array(a) || json_array_size(a) > (size_t)max)
    return 0;
  json_array_foreach(a, i, v) p[i] = json_number_value(v);
  return (int)json_array_size(a);
}

static bool near(double got, double want) {
  return fabs(got - want) <= REL * fabs(want) || (want == 0 && fabs(got) <= 1e-15);
}

static void test_metrics(const json_t *cases) {
  size_t c;
  json_t *cs;
  json_array_foreach(cases, c, cs) {
    const char *name = json_string_value(json_object_get(cs, "name"));
    const json_t *exp = json_object_get(cs, "expected"), *examples = json_object_get(cs, "examples");
    lr_metrics_acc *acc = malloc(sizeof *acc);
    lr_metrics m;
    size_t i;
    json_t *ex;
    if (acc == NULL)
      return;
    lr_metrics_init(acc, (int)json_integer_value(json_object_get(cs, "bins")));
    json_array_foreach(examples, i, ex) {
      double p[KMAX];
      int k = read_probs(json_object_get(ex, "probs"), p, KMAX);
      lr_metrics_add(acc, p, k, (int)json_integer_value(json_object_get(ex, "label")));
    }
    lr_metrics_finish(acc, &m);
    tap_is_int((long long)m.n, (long long)json_array_size(examples), "%s: n", name);
    tap_is_near(m.accuracy, num(exp, "accuracy"), 0, REL, "%s: accuracy", name);
    tap_is_near(m.nll, num(exp, "nll"), 0, REL, "%s: NLL", name);
    tap_is_near(m.brier, num(exp, "brier"), 0, REL, "%s: Brier", name);
    tap_is_near(m.ece, num(exp, "ece"), 0, REL, "%s: ECE", name);
    free(acc);
  }
}

static void test_auroc(const json_t *cases) {
  size_t c;
  json_t *cs;
  json_array_foreach(cases, c, cs) {
    const json_t *id = json_object_get(cs, "id"), *ood = json_object_get(cs, "ood");
    size_t n = json_array_size(id) + json_array_size(ood), i, at = 0;
    lr_auroc_item *items = calloc(n, sizeof *items);
    json_t *v;
    if (items == NULL)
      return;
    json_array_foreach(id, i, v) items[at++] = (lr_auroc_item){json_number_value(v), true};
    json_array_foreach(ood, i, v) items[at++] = (lr_auroc_item){json_number_value(v), false};
    tap_is_near(lr_auroc(items, n), num(cs, "expected"), 1e-15, REL, "AUROC %s = roc_auc_score",
                json_string_value(json_object_get(cs, "name")));
    free(items);
  }
}

/* One set of the "ood" case as lr_set_scores; false when the fixture is malformed. */
static bool load_set(const json_t *rows, uint32_t M, const char *name, bool ood, lr_dataset *d,
                     lr_set_scores *s) {
  size_t n = json_array_size(rows), i;
  json_t *ex;
  lr_example *exs = calloc(n, sizeof *exs);
  memset(d, 0, sizeof *d);
  *s = (lr_set_scores){"eval", name, ood, d, n, M, calloc(n * M * KMAX + 1, sizeof(double))};
  d->examples = exs;
  d->n = n;
  if (exs == NULL || s->probs == NULL)
    return false;
  json_array_foreach(rows, i, ex) {
    const json_t *label = json_object_get(ex, "label"), *probs = json_object_get(ex, "probs");
    exs[i].label = json_is_integer(label) ? (int)json_integer_value(label) : -1;
    for (uint32_t m = 0; m < M; m++) {
      exs[i].n_choices = read_probs(json_array_get(probs, m), s->probs + (i * M + m) * KMAX, KMAX);
      if (exs[i].n_choices < 2)
        return false;
    }
  }
  return true;
}

/* Per-example entropy of member 0 and MI of all members, against numpy. */
static void test_scores(const lr_set_scores *s, const json_t *rows) {
  size_t bad_h = 0, bad_mi = 0, zero_mi = 0, want_zero = 0;
  for (size_t i = 0; i < s->n; i++) {
    const json_t *ex = json_array_get(rows, i);
    int K = s->data->examples[i].n_choices;
    const double *p = s->probs + i * s->members * KMAX;
    double mean[KMAX] = {0}, mi;
    for (uint32_t m = 0; m < s->members; m++)
      for (int j = 0; j < K; j++)
        mean[j] += p[m * KMAX + j] / s->members;
    mi = lr_mutual_info(p, KMAX, s->members, mean, K);
    bad_h += !near(lr_entropy(p, K), num(ex, "entropy0"));
    bad_mi += !near(mi, num(ex, "mi"));
    want_zero += num(ex, "mi") == 0;
    zero_mi += num(ex, "mi") == 0 && mi == 0;
  }
  tap_is_int((long long)bad_h, 0, "%s set: entropy of every example as numpy's", s->dataset);
  tap_is_int((long long)bad_mi, 0, "%s set: MI of every example as numpy's", s->dataset);
  tap_ok(want_zero > 0 && zero_mi == want_zero, "%s set: MI exactly 0 where members agree (%zu)",
         s->dataset, want_zero);
}

static void check_row(const lr_eval_row *r, const json_t *want) {
  const char *kind = r->ensemble ? "ensemble" : "member";
  bool has_mi = json_object_get(want, "auroc_mi") != NULL;
  tap_ok(strcmp(json_string_value(json_object_get(want, "kind")), kind) == 0 &&
             (long long)r->idx == json_integer_value(json_object_get(want, "idx")),
         "%s %u: the row the reference expects", kind, r->idx);
  tap_is_near(r->m.accuracy, num(want, "accuracy"), 0, REL, "%s %u: accuracy", kind, r->idx);
  tap_is_near(r->m.nll, num(want, "nll"), 0, REL, "%s %u: NLL", kind, r->idx);
  tap_is_near(r->m.ece, num(want, "ece"), 0, REL, "%s %u: ECE", kind, r->idx);
  tap_is_near(r->m.brier, num(want, "brier"), 0, REL, "%s %u: Brier", kind, r->idx);
  tap_ok(r->has_ood, "%s %u: has OOD metrics", kind, r->idx);
  tap_is_near(r->auroc_maxprob, num(want, "auroc_maxprob"), 0, REL, "%s %u: AUROC max prob",
              kind, r->idx);
  tap_is_near(r->auroc_entropy, num(want, "auroc_entropy"), 0, REL, "%s %u: AUROC entropy", kind,
              r->idx);
  tap_ok(r->has_mi == has_mi && r->has_diversity == has_mi, "%s %u: MI and diversity %s", kind,
         r->idx, has_mi ? "present" : "absent");
  if (has_mi) {
    tap_is_near(r->auroc_mi, num(want, "auroc_mi"), 0, REL, "%s %u: AUROC MI", kind, r->idx);
    tap_is_near(r->disagreement, num(want, "disagreement"), 0, REL, "%s %u: disagreement", kind,
                r->idx);
    tap_is_near(r->pairwise_kl, num(want, "pairwise_kl"), 0, REL, "%s %u: pairwise KL", kind,
                r->idx);
  } else {
    tap_ok(isnan(r->auroc_mi), "%s %u: AUROC MI is NaN", kind, r->idx);
  }
}

static void test_ood(const json_t *c) {
  uint32_t M = (uint32_t)json_integer_value(json_object_get(c, "members"));
  const json_t *want = json_object_get(c, "rows");
  lr_dataset did = {0}, dood = {0};
  lr_set_scores id = {0}, ood = {0};
  lr_eval_row *rows = calloc(2 * M + 1, sizeof *rows);
  lr_err err;
  lr_err_init(&err);
  if (rows && load_set(json_object_get(c, "id"), M, "in-distribution", false, &did, &id) &&
      load_set(json_object_get(c, "ood"), M, "OOD", true, &dood, &ood)) {
    test_scores(&id, json_object_get(c, "id"));
    test_scores(&ood, json_object_get(c, "ood"));
    lr_eval_rows(&ood, (int)json_integer_value(json_object_get(c, "bins")), rows);
    tap_is_int(lr_eval_ood(&id, &ood, rows, &err), LR_OK, "lr_eval_ood succeeds");
    tap_is_int((long long)json_array_size(want), 2 * M, "the reference has 2M rows");
    for (uint32_t i = 0; i < 2 * M && i < json_array_size(want); i++)
      check_row(&rows[i], json_array_get(want, i));
  } else {
    tap_ok(false, "the ood case of the fixture loads");
  }
  free((void *)did.examples);
  free((void *)dood.examples);
  free(id.probs);
  free(ood.probs);
  free(rows);
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR");
  char path[4096];
  json_error_t jerr;
  json_t *ref;
  if (top == NULL)
    tap_skip_all("TOP_SRCDIR is not set (run through make check)");
  snprintf(path, sizeof path, "%s/tests/fixtures/metrics/reference.json", top);
  ref = json_load_file(path, 0, &jerr);
  if (ref == NULL) {
    tap_ok(false, "%s:%d: %s", path, jerr.line, jerr.text);
    return tap_done();
  }
  tap_ok(json_array_size(json_object_get(ref, "metrics")) >= 5, "the fixture has metrics cases");
  test_metrics(json_object_get(ref, "metrics"));
  test_auroc(json_object_get(ref, "auroc"));
  test_ood(json_object_get(ref, "ood"));
  json_decref(ref);
  return tap_done();
}
