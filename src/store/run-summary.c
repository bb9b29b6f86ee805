/*
 * run-summary.c: reading a sweep's summary table from the v_summary view (see run-summary.h);
 * run-summary-print.c prints it.
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/run-summary.h"

/* Longest "key=value ..." text that tells apart configurations with the same axes. */
#define OTHER_MAX 48

static const char rows_sql[] =
    "SELECT model, dataset, regularizer, reg_strength, rank, lr, randomness, backend,"
    " test_dataset, ood_dataset, n_runs, n_evaluated, ensemble_size, final_epoch,"
    " member_accuracy, member_nll, member_ece, member_ood_auroc_maxprob,"
    " ensemble_accuracy, ensemble_nll, ensemble_ece, ensemble_ood_auroc_maxprob,"
    " n_member_nonfinite + n_ensemble_nonfinite, first_run_id"
    " FROM v_summary WHERE sweep_id = ?1 ORDER BY first_run_id";

/* Every leaf of the configurations (seed left out) whose value is not the same in all of the
 * sweep's groups, one row per group and key: what can tell two groups with equal axes apart. */
static const char leaves_sql[] =
    "WITH g AS (SELECT first_run_id AS id FROM v_summary WHERE sweep_id = ?1),"
    " leaf AS ("
    "  SELECT g.id, substr(t.fullkey, 3) AS key,"
    "         CASE t.type WHEN 'null' THEN 'null' WHEN 'true' THEN 'true'"
    "                     WHEN 'false' THEN 'false' ELSE CAST(t.atom AS TEXT) END AS value"
    "  FROM g JOIN runs AS r ON r.id = g.id, json_tree(json_remove(r.config, '$.seed')) AS t"
    "  WHERE t.type NOT IN ('object', 'array'))"
    " SELECT id, key, value FROM leaf WHERE key IN ("
    "  SELECT key FROM leaf GROUP BY key"
    "  HAVING count(DISTINCT value) > 1 OR count(*) < (SELECT count(*) FROM g))"
    " ORDER BY key, id";

typedef struct leaf {
  int64_t id;        /* the group's first run */
  char *key, *value; /* from malloc */
} leaf;

/* A copy of s cut to max bytes, the cut marked with "...". */
static char *dup_cut(const char *s, size_t max) {
  size_t n = strlen(s);
  char *d = malloc((n > max ? max : n) + 1);
  if (d == NULL)
    return NULL;
  if (n <= max) {
    memcpy(d, s, n + 1);
  } else {
    memcpy(d, s, max - 3);
    memcpy(d + max - 3, "...", 4);
  }
  return d;
}

static const char *column_text(sqlite3_stmt *st, int col) {
  const char *s = (const char *)sqlite3_column_text(st, col);
  return s ? s : "";
}

/* Axis text: the model as its directory's name (the full path would fill the line); no strength
 * for "none", where it means nothing; numbers in their shortest form. */
static char *axis_text(sqlite3_stmt *st, int axis) {
  char buf[64];
  const char *s = buf;
  if (axis == LR_SUMMARY_MODEL) {
    const char *path = column_text(st, axis), *end = path + strlen(path), *base;
    while (end > path + 1 && end[-1] == '/')
      end--;
    for (base = end; base > path && base[-1] != '/'; base--)
      ;
    snprintf(buf, sizeof buf, "%.*s", (int)(end - base), base);
  } else if (axis == LR_SUMMARY_STRENGTH) {
    bool none = strcmp(column_text(st, LR_SUMMARY_REGULARIZER), "none") == 0;
    snprintf(buf, sizeof buf, none ? "" : "%g", sqlite3_column_double(st, axis));
  } else if (axis == LR_SUMMARY_RANK) {
    snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(st, axis));
  } else if (axis == LR_SUMMARY_LR) {
    snprintf(buf, sizeof buf, "%g", sqlite3_column_double(st, axis));
  } else {
    s = column_text(st, axis);
  }
  return dup_cut(s, LR_SUMMARY_VALUE_MAX);
}

static double metric(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static lr_status read_row(sqlite3_stmt *st, lr_summary_row *r, lr_err *err) {
  enum { C_N_RUNS = LR_SUMMARY_N_AXES, C_MEMBER = C_N_RUNS + 4 };
  memset(r, 0, sizeof *r);
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    if ((r->axis[a] = axis_text(st, a)) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
  r->n_runs = (long)sqlite3_column_int64(st, C_N_RUNS);
  r->n_evaluated = (long)sqlite3_column_int64(st, C_N_RUNS + 1);
  r->ensemble_size = (long)sqlite3_column_int64(st, C_N_RUNS + 2);
  r->epoch = sqlite3_column_type(st, C_N_RUNS + 3) == SQLITE_NULL
                 ? -1
                 : (long)sqlite3_column_int64(st, C_N_RUNS + 3);
  for (int m = 0; m < LR_SUMMARY_N_METRICS; m++) {
    r->member[m] = metric(st, C_MEMBER + m);
    r->ensemble[m] = metric(st, C_MEMBER + LR_SUMMARY_N_METRICS + m);
  }
  r->n_nonfinite = (long)sqlite3_column_int64(st, C_MEMBER + 2 * LR_SUMMARY_N_METRICS);
  r->first_run_id = sqlite3_column_int64(st, C_MEMBER + 2 * LR_SUMMARY_N_METRICS + 1);
  return LR_OK;
}

static lr_status read_rows(lr_store *s, lr_summary *sum, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, rows_sql, &st, err);
  int step = SQLITE_DONE;
  size_t cap = sum->n_rows; /* rows has no spare room yet */
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sum->sweep_id);
  while (rc == LR_OK && (step = lr_store_step(s, st, "reading v_summary", err)) == SQLITE_ROW) {
    if ((rc = LR_GROW(sum->rows, cap, sum->n_rows + 1, err)) != LR_OK)
      break;
    /* Counted before it is filled, so that release frees what a failed read_row allocated. */
    rc = read_row(st, &sum->rows[sum->n_rows++], err);
  }
  if (rc == LR_OK && step < 0)
    rc = err->code;
  sqlite3_finalize(st);
  return rc;
}

static bool same_label(const lr_summary *sum, const bool used[], size_t i, size_t j) {
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    if (used[a] && strcmp(sum->rows[i].axis[a], sum->rows[j].axis[a]) != 0)
      return false;
  return true;
}

static bool has_twin(const lr_summary *sum, const bool used[], size_t i) {
  for (size_t j = 0; j < sum->n_rows; j++)
    if (j != i && same_label(sum, used, i, j))
      return true;
  return false;
}

static const char *leaf_value(const leaf *l, size_t n, int64_t id, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (l[i].id == id && strcmp(l[i].key, key) == 0)
      return l[i].value;
  return "-"; /* the key is missing from this configuration */
}

/* "key=value ..." for each key whose value differs between row i and a row with its label. */
static char *other_text(const lr_summary *sum, const bool used[], size_t i, const leaf *l,
                        size_t n) {
  char buf[512];
  size_t len = 0;
  buf[0] = '\0';
  for (size_t k = 0; k < n; k++) {
    const char *mine;
    bool differs = false;
    if (k > 0 && strcmp(l[k].key, l[k - 1].key) == 0)
      continue; /* one look per key: the leaves come sorted by key */
    mine = leaf_value(l, n, sum->rows[i].first_run_id, l[k].key);
    for (size_t j = 0; j < sum->n_rows && !differs; j++)
      differs = j != i && same_label(sum, used, i, j) &&
                strcmp(mine, leaf_value(l, n, sum->rows[j].first_run_id, l[k].key)) != 0;
    if (differs && len < sizeof buf)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s=%s", len ? " " : "", l[k].key,
                              mine);
  }
  return dup_cut(buf, OTHER_MAX);
}

static lr_status read_leaves(lr_store *s, int64_t sweep_id, leaf **out, size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, leaves_sql, &st, err);
  int step = SQLITE_DONE;
  size_t cap = *n; /* *out has no spare room yet */
  leaf *bigger;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  while ((step = lr_store_step(s, st, "comparing configurations", err)) == SQLITE_ROW) {
    if ((rc = lr_grow(out, &cap, *n + 1, sizeof **out, err)) != LR_OK)
      break;
    bigger = *out;
    bigger[*n].id = sqlite3_column_int64(st, 0);
    bigger[*n].key = strdup(column_text(st, 1));
    bigger[*n].value = dup_cut(column_text(st, 2), LR_SUMMARY_VALUE_MAX);
    if (bigger[(*n)++].key == NULL || bigger[*n - 1].value == NULL) {
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
  }
  if (rc == LR_OK && step < 0)
    rc = err->code;
  sqlite3_finalize(st);
  return rc;
}

/*
 * Rows whose labels are equal are configurations that differ outside the axes (two lora.alpha,
 * two epoch budgets): each gets the configuration keys that tell it from its twins, read from
 * runs.config, since a table with two identical labels would be unreadable.
 */
static lr_status label_twins(lr_store *s, lr_summary *sum, lr_err *err) {
  bool used[LR_SUMMARY_N_AXES], any = false;
  leaf *leaves = NULL;
  size_t n = 0;
  lr_status rc = LR_OK;
  lr_summary_label_axes(sum, used);
  for (size_t i = 0; i < sum->n_rows && !any; i++)
    any = has_twin(sum, used, i);
  if (any)
    rc = read_leaves(s, sum->sweep_id, &leaves, &n, err);
  for (size_t i = 0; any && rc == LR_OK && i < sum->n_rows; i++)
    if (has_twin(sum, used, i) &&
        (sum->rows[i].other = other_text(sum, used, i, leaves, n)) == NULL)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    free(leaves[i].key);
    free(leaves[i].value);
  }
  free(leaves);
  return rc;
}

static lr_status read_sweep(lr_store *s, lr_summary *sum, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, "SELECT name FROM sweeps WHERE id = ?1", &st, err);
  int step;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sum->sweep_id);
  step = lr_store_step(s, st, "reading the sweep", err);
  if (step == SQLITE_ROW && (sum->name = strdup(column_text(st, 0))) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  else if (step == SQLITE_DONE)
    rc = lr_fail(err, LR_ENOTFOUND, "%s: no sweep with id %lld", lr_store_path(s),
                 (long long)sum->sweep_id);
  else if (step < 0)
    rc = err->code;
  sqlite3_finalize(st);
  return rc;
}

/* An older lorens wrote the file: say what to do rather than "no such table". */
static lr_status check_view(lr_store *s, lr_err *err) {
  sqlite3_stmt *st = NULL;
  int step;
  if (lr_store_prepare(s, "SELECT 1 FROM sqlite_schema WHERE type = 'view' AND name = 'v_summary'",
                       &st, err) != LR_OK)
    return err->code;
  step = lr_store_step(s, st, "looking for the v_summary view", err);
  sqlite3_finalize(st);
  if (step == SQLITE_DONE)
    return lr_fail(err, LR_EINVAL,
                   "%s: has no v_summary view (the file was last written by an older lorens; "
                   "`lorens run` on it adds the current views)",
                   lr_store_path(s));
  return step == SQLITE_ROW ? LR_OK : err->code;
}

lr_status lr_summary_read(lr_store *s, int64_t sweep_id, lr_summary *out, lr_err *err) {
  lr_status rc;
  memset(out, 0, sizeof *out);
  out->sweep_id = sweep_id;
  /* One snapshot: a scheduler may be writing while the table is read. */
  if ((rc = lr_store_exec(s, "BEGIN", err)) != LR_OK)
    return rc;
  rc = check_view(s, err);
  if (rc == LR_OK)
    rc = read_sweep(s, out, err);
  if (rc == LR_OK && (out->db_path = strdup(lr_store_path(s))) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    rc = lr_runs_count(s, sweep_id, &out->counts, err);
  if (rc == LR_OK)
    rc = read_rows(s, out, err);
  if (rc == LR_OK)
    rc = label_twins(s, out, err);
  if (rc == LR_OK)
    rc = lr_store_exec(s, "COMMIT", err);
  if (rc != LR_OK) {
    lr_store_rollback(s);
    lr_summary_release(out);
  }
  return rc;
}

void lr_summary_label_axes(const lr_summary *sum, bool used[LR_SUMMARY_N_AXES]) {
  bool any = false;
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++) {
    used[a] = false;
    for (size_t i = 1; i < sum->n_rows && !used[a]; i++)
      used[a] = strcmp(sum->rows[i].axis[a], sum->rows[0].axis[a]) != 0;
    any = any || used[a];
  }
  for (size_t i = 0; i < sum->n_rows && !any; i++)
    any = sum->rows[i].other != NULL;
  if (!any)
    used[LR_SUMMARY_DATASET] = true;
}

void lr_summary_release(lr_summary *sum) {
  for (size_t i = 0; i < sum->n_rows; i++) {
    for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
      free(sum->rows[i].axis[a]);
    free(sum->rows[i].other);
  }
  free(sum->rows);
  free(sum->name);
  free(sum->db_path);
  memset(sum, 0, sizeof *sum);
}
