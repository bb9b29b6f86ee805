/*
 * store-report.c: the report's rows (store-report.h).
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store-report.h"
#include "store/store-runs.h"
#include "text/dataset.h"

static char *dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

lr_status lr_report_sweep_read(lr_store *s, const char *which, lr_report_sweep *out, lr_err *err) {
  int64_t *ids = NULL;
  size_t n = 0;
  sqlite3_stmt *st = NULL;
  lr_status rc;
  memset(out, 0, sizeof *out);
  if ((rc = lr_sweeps_find(s, which, &ids, &n, err)) != LR_OK)
    return rc;
  if (n == 0) {
    free(ids);
    return which ? lr_fail(err, LR_ENOTFOUND, "%s: no sweep named '%s'", lr_store_path(s), which)
                 : lr_fail(err, LR_ENOTFOUND, "%s: no sweep", lr_store_path(s));
  }
  if (which == NULL && n > 1) {
    free(ids);
    return lr_fail(err, LR_EINVAL, "%s holds %zu sweeps: say which with --sweep NAME|ID "
                   "(`lorens status --db %s` lists them)", lr_store_path(s), n, lr_store_path(s));
  }
  out->id = ids[n - 1];
  free(ids);
  rc = lr_store_prepare(s,
                        "SELECT name, path, yaml_sha256, lorens_version, created_at, yaml, "
                        "  base_dir, "
                        "  (SELECT group_concat(b, ', ') FROM (SELECT DISTINCT r.backend AS b "
                        "     FROM runs r JOIN sweep_runs x ON x.run_id = r.id "
                        "     WHERE x.sweep_id = ?1 ORDER BY 1)), "
                        "  (SELECT group_concat(m, ', ') FROM (SELECT DISTINCT "
                        "     json_extract(r.config, '$.model') AS m FROM runs r "
                        "     JOIN sweep_runs x ON x.run_id = r.id WHERE x.sweep_id = ?1 "
                        "     ORDER BY 1)), "
                        "  (SELECT group_concat(d, ', ') FROM (SELECT DISTINCT r.dataset AS d "
                        "     FROM runs r JOIN sweep_runs x ON x.run_id = r.id "
                        "     WHERE x.sweep_id = ?1 ORDER BY 1)), "
                        "  (SELECT total(r.finished_at - r.started_at) FROM runs r "
                        "     JOIN sweep_runs x ON x.run_id = r.id WHERE x.sweep_id = ?1 "
                        "     AND r.finished_at IS NOT NULL AND r.started_at IS NOT NULL), "
                        "  (SELECT total(t.tokens) FROM train_log t JOIN sweep_runs x "
                        "     ON x.run_id = t.run_id WHERE x.sweep_id = ?1), "
                        "  (SELECT total(t.seconds) FROM train_log t JOIN sweep_runs x "
                        "     ON x.run_id = t.run_id WHERE x.sweep_id = ?1), "
                        "  (SELECT count(DISTINCT r.randomness) FROM runs r JOIN sweep_runs x "
                        "     ON x.run_id = r.id WHERE x.sweep_id = ?1) "
                        "FROM sweeps WHERE id = ?1",
                        &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, out->id);
  if (sqlite3_step(st) == SQLITE_ROW) {
    out->name = dup_col(st, 0);
    out->path = dup_col(st, 1);
    out->yaml_sha256 = dup_col(st, 2);
    out->lorens_version = dup_col(st, 3);
    out->created_at = dup_col(st, 4);
    out->yaml = dup_col(st, 5);
    out->base_dir = dup_col(st, 6);
    out->backends = dup_col(st, 7);
    out->models = dup_col(st, 8);
    out->datasets = dup_col(st, 9);
    out->run_seconds = sqlite3_column_double(st, 10);
    out->train_tokens = sqlite3_column_double(st, 11);
    out->train_seconds = sqlite3_column_double(st, 12);
    out->randomness_kinds = (long)sqlite3_column_int64(st, 13);
  }
  sqlite3_finalize(st);
  if ((rc = lr_runs_count(s, out->id, &out->counts, err)) != LR_OK)
    return rc;
  if (!out->name || !out->path || !out->yaml_sha256 || !out->lorens_version || !out->created_at ||
      !out->backends || !out->models || !out->datasets || !out->yaml || !out->base_dir)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  return LR_OK;
}

void lr_report_sweep_release(lr_report_sweep *sw) {
  free(sw->name);
  free(sw->path);
  free(sw->yaml_sha256);
  free(sw->lorens_version);
  free(sw->created_at);
  free(sw->backends);
  free(sw->models);
  free(sw->datasets);
  free(sw->axes);
  free(sw->yaml);
  free(sw->base_dir);
  memset(sw, 0, sizeof *sw);
}

/*
 * The panels.  A group is the runs whose configurations are equal but for the seed (as the views'
 * group_id), named by the axes the caller gives, or else by the configuration keys that vary over
 * the sweep (the training set first, the evaluation sets, the regularizer's keys, then the others
 * by name).  An axis is a dotted path; paths under data.train (or data itself) are the
 * "dataset", under data.eval the "evaluation sets", under ensemble.randomness the randomness
 * sources (as runs.randomness names them), the whole regularizer mapping as runs.regularizer
 * and reg_strength name it, and an array element stands for its array.
 * temp.report_group holds each run's group: its order (by the axes' values, numbers as numbers),
 * section (the first axis, when there are several) and label.
 */
#define AXES_MAX 16

static const char varied_keys_sql[] =
    "SELECT substr(j.fullkey, 3) "
    "FROM runs r JOIN sweep_runs x ON x.run_id = r.id, json_tree(json_remove(r.config, '$.seed')) j "
    "WHERE x.sweep_id = ?1 AND j.type NOT IN ('object', 'array') "
    "GROUP BY j.fullkey "
    "HAVING count(DISTINCT j.type || ':' || quote(j.atom)) > 1 "
    "    OR count(*) < (SELECT count(*) FROM sweep_runs WHERE sweep_id = ?1) "
    "ORDER BY j.fullkey NOT LIKE '$.data.train%', j.fullkey NOT LIKE '$.data.eval%', "
    "  j.fullkey NOT LIKE '$.regularizer%', j.fullkey";

static int has_prefix(const char *path, const char *prefix) {
  size_t n = strlen(prefix);
  return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

/* The axis a dotted path belongs to, into buf: "dataset", "evaluation sets", "validation set",
 * "ensemble.randomness", "regularizer", or the path up to its first array index.  NULL for the
 * seed. */
static const char *axis_of(const char *path, char *buf, size_t size) {
  if (strcmp(path, "seed") == 0)
    return NULL;
  if (strcmp(path, "data") == 0 || has_prefix(path, "data.train"))
    return "dataset";
  if (has_prefix(path, "data.eval"))
    return "evaluation sets";
  if (has_prefix(path, "data.validation"))
    return "validation set";
  if (has_prefix(path, "ensemble.randomness"))
    return "ensemble.randomness";
  if (strcmp(path, "regularizer") == 0) /* whole mappings: named as runs.regularizer names them */
    return "regularizer";
  snprintf(buf, size, "%.*s", (int)strcspn(path, "["), path);
  return buf;
}

/* An axis's value over run r as SQL, for ordering (label 0) or as "axis=value" text (label 1);
 * param: the ?N its "$.path" is bound to; its name is ?(N + AXES_MAX). */
static void axis_sql(char *buf, size_t size, const char *axis, int param, int label) {
  const char *value;
  char other[160];
  if (strcmp(axis, "dataset") == 0)
    value = "r.dataset";
  else if (strcmp(axis, "evaluation sets") == 0)
    value = "(SELECT group_concat(json_extract(e.value, '$.name'), '+') "
            "FROM json_each(r.config, '$.data.eval') e)";
  else if (strcmp(axis, "validation set") == 0)
    value = "coalesce(json_extract(r.config, '$.data.validation.name'), 'none')";
  else if (strcmp(axis, "ensemble.randomness") == 0)
    value = "r.randomness";
  else if (strcmp(axis, "regularizer") == 0)
    value = "r.regularizer || CASE WHEN r.regularizer = 'none' THEN '' "
            "ELSE ' ' || printf('%g', r.reg_strength) END";
  else if (label) /* objects and arrays without JSON's quotes */
    value = (snprintf(other, sizeof other, "replace(coalesce(json_extract(r.config, ?%d), "
                                           "'null'), '\"', '')", param), other);
  else
    value = (snprintf(other, sizeof other, "json_extract(r.config, ?%d)", param), other);
  if (label)
    snprintf(buf, size, "?%d || '=' || %s", param + AXES_MAX, value);
  else
    snprintf(buf, size, "%s", value);
}

lr_status lr_report_group_runs(lr_store *s, lr_report_sweep *sw, const char *const *paths,
                               size_t n_paths, lr_err *err) {
  char *axes[AXES_MAX], *derived[64], part[512], buf[160];
  size_t n_axes = 0, n_derived = 0;
  sqlite3_stmt *st = NULL;
  sqlite3_str *sql, *names;
  char *text;
  lr_status rc = lr_store_exec(s, "DROP TABLE IF EXISTS temp.report_group; "
                                  "CREATE TEMP TABLE report_group (run_id INTEGER PRIMARY KEY, "
                                  "ord INTEGER NOT NULL, section TEXT NOT NULL, "
                                  "grp TEXT NOT NULL)", err);
  if (rc != LR_OK)
    return rc;
  if (paths == NULL) { /* the keys whose values differ between the runs */
    if ((rc = lr_store_prepare(s, varied_keys_sql, &st, err)) != LR_OK)
      return rc;
    sqlite3_bind_int64(st, 1, sw->id);
    while (sqlite3_step(st) == SQLITE_ROW && n_derived < 64)
      if ((derived[n_derived] = strdup((const char *)sqlite3_column_text(st, 0))) != NULL)
        n_derived++;
    sqlite3_finalize(st);
    paths = (const char *const *)derived;
    n_paths = n_derived;
  }
  /* Each path's axis once, in order; more than AXES_MAX are told apart by ord alone. */
  for (size_t i = 0; i < n_paths && n_axes < AXES_MAX; i++) {
    const char *axis = axis_of(paths[i], buf, sizeof buf);
    size_t j;
    for (j = 0; axis && j < n_axes && strcmp(axes[j], axis) != 0; j++)
      ;
    if (axis && j == n_axes && (axes[n_axes] = strdup(axis)) != NULL)
      n_axes++;
  }
  for (size_t i = 0; i < n_derived; i++)
    free(derived[i]);
  /* Axis i's "$.path" is parameter ?(2 + i), its name ?(2 + i + AXES_MAX). */
  sql = sqlite3_str_new(NULL);
  names = sqlite3_str_new(NULL);
  sqlite3_str_appendall(sql, "INSERT INTO temp.report_group "
                             "SELECT r.id, dense_rank() OVER (ORDER BY ");
  for (size_t i = 0; i < n_axes; i++) {
    axis_sql(part, sizeof part, axes[i], (int)i + 2, 0);
    sqlite3_str_appendf(sql, "%s, ", part);
  }
  sqlite3_str_appendall(sql, "json_remove(r.config, '$.seed')), ");
  if (n_axes >= 2) {
    axis_sql(part, sizeof part, axes[0], 2, 1);
    sqlite3_str_appendf(sql, "%s, ", part);
  } else {
    sqlite3_str_appendall(sql, "'', ");
  }
  if (n_axes == 0)
    sqlite3_str_appendall(sql, "'all runs'");
  for (size_t i = n_axes >= 2 ? 1 : 0; i < n_axes; i++) {
    axis_sql(part, sizeof part, axes[i], (int)i + 2, 1);
    sqlite3_str_appendf(sql, "%s%s", part, i + 1 < n_axes ? " || ', ' || " : "");
  }
  sqlite3_str_appendall(sql, " FROM runs r JOIN sweep_runs x ON x.run_id = r.id "
                             "WHERE x.sweep_id = ?1");
  for (size_t i = 0; i < n_axes; i++) /* the axes, as the provenance lists them */
    sqlite3_str_appendf(names, "%s%s", i ? ", " : "", axes[i]);
  if ((text = sqlite3_str_finish(sql)) == NULL) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  } else if ((rc = lr_store_prepare(s, text, &st, err)) == LR_OK) {
    sqlite3_bind_int64(st, 1, sw->id);
    for (size_t i = 0; i < n_axes; i++) {
      sqlite3_bind_text(st, (int)i + 2, sqlite3_mprintf("$.%s", axes[i]), -1, sqlite3_free);
      sqlite3_bind_text(st, (int)i + 2 + AXES_MAX, axes[i], -1, SQLITE_STATIC);
    }
    if (lr_store_step(s, st, "grouping the sweep's runs", err) < 0)
      rc = err->code;
    sqlite3_finalize(st);
  }
  sqlite3_free(text);
  for (size_t i = 0; i < n_axes; i++)
    free(axes[i]);
  text = sqlite3_str_finish(names);
  free(sw->axes);
  sw->axes = strdup(n_axes ? (text ? text : "") : "nothing but the seed");
  sqlite3_free(text);
  if (rc == LR_OK && sw->axes == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  return rc;
}

/* A run's panel group: its order, section and label (columns "g.ord, g.section, g.grp"). */
#define GROUP_JOIN "JOIN temp.report_group g ON g.run_id = r.id "

/* Each of sweep ?1's runs with the epoch a figure at `epoch` ?2 shows: ?2, or with ?2 < 0 the
 * run's last; computed once per query rather than once per row. */
#define RUN_EPOCH_CTE                                                                              \
  "run_epoch (run_id, epoch) AS MATERIALIZED (SELECT x.run_id, CASE WHEN ?2 >= 0 THEN ?2 ELSE "  \
  "  (SELECT max(l.epoch) FROM evaluations l WHERE l.run_id = x.run_id "                          \
  "   AND l.selection = 'epoch' AND l.split = 'eval') END "                                        \
  "  FROM sweep_runs x WHERE x.sweep_id = ?1) "

static void copy_text(char *dst, size_t size, const unsigned char *src) {
  snprintf(dst, size, "%s", src ? (const char *)src : "");
}

/* The panel of columns col .. col + 3 (g.ord, g.section, g.grp, dataset). */
static void panel_read(sqlite3_stmt *st, int col, lr_panel_key *k) {
  k->ord = (long)sqlite3_column_int64(st, col);
  copy_text(k->section, sizeof k->section, sqlite3_column_text(st, col + 1));
  copy_text(k->group, sizeof k->group, sqlite3_column_text(st, col + 2));
  copy_text(k->eval_dataset, sizeof k->eval_dataset, sqlite3_column_text(st, col + 3));
}

void lr_panel_key_of(const lr_value *row, lr_panel_key *k) {
  k->ord = (long)row[0].i;
  snprintf(k->section, sizeof k->section, "%s", row[1].s ? row[1].s : "");
  snprintf(k->group, sizeof k->group, "%s", row[2].s ? row[2].s : "");
  snprintf(k->eval_dataset, sizeof k->eval_dataset, "%s", row[3].s ? row[3].s : "");
}

bool lr_panel_same(const lr_panel_key *a, const lr_panel_key *b) {
  return a->ord == b->ord && strcmp(a->eval_dataset, b->eval_dataset) == 0;
}

/* Room for one more element of size `size` in *items (n used, *cap allocated), doubling. */
static void *grow(void **items, size_t n, size_t *cap, size_t size) {
  if (n == *cap) {
    size_t want = *cap ? 2 * *cap : 64;
    void *grown = realloc(*items, want * size);
    if (grown == NULL)
      return NULL;
    *items = grown;
    *cap = want;
  }
  return (char *)*items + n * size;
}

/* Reads every row of sql (sweep ?1, and epoch ?2 where it has one) into *items, an array of
 * elements of `size` bytes, each zeroed and then filled from its row by fill. */
static lr_status read_items(lr_store *s, const char *sql, int64_t sweep_id, long epoch,
                            size_t size, void (*fill)(sqlite3_stmt *st, void *item), void **items,
                            size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  lr_status rc = lr_store_prepare(s, sql, &st, err);
  *items = NULL;
  *n = 0;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  if (sqlite3_bind_parameter_count(st) >= 2)
    sqlite3_bind_int64(st, 2, epoch);
  while (rc == LR_OK && sqlite3_step(st) == SQLITE_ROW) {
    void *item = grow(items, *n, &cap, size);
    if (item == NULL) {
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
    (*n)++;
    memset(item, 0, size);
    fill(st, item);
  }
  sqlite3_finalize(st);
  return rc;
}

static void fill_curve(sqlite3_stmt *st, void *item) {
  lr_curve_row *r = item;
  r->run_id = sqlite3_column_int64(st, 0);
  r->seed = (long)sqlite3_column_int64(st, 1);
  r->idx = (long)sqlite3_column_int64(st, 2);
  r->epoch = (long)sqlite3_column_int64(st, 3);
  r->ensemble = sqlite3_column_int(st, 4);
  r->finite = sqlite3_column_int(st, 5);
  panel_read(st, 6, &r->panel);
  for (int m = 0; m < LR_CURVE_METRICS; m++)
    r->metric[m] = sqlite3_column_type(st, 10 + m) == SQLITE_NULL
                       ? NAN : sqlite3_column_double(st, 10 + m);
}

static lr_status read_rows(lr_store *s, const char *sql, int64_t sweep_id, long epoch,
                           lr_curve_row **rows, size_t *n, lr_err *err) {
  return read_items(s, sql, sweep_id, epoch, sizeof **rows, fill_curve, (void **)rows, n, err);
}

lr_status lr_report_curves(lr_store *s, int64_t sweep_id, lr_curve_row **rows, size_t *n,
                           lr_err *err) {
  return read_rows(
      s,
      "SELECT r.id, r.seed, e.idx, e.epoch, e.kind = 'ensemble', e.finite, g.ord, g.section, "
      "  g.grp, e.dataset, e.accuracy, e.nll, e.ece, e.brier "
      "FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweep_runs x ON x.run_id = r.id "
      GROUP_JOIN
      "WHERE x.sweep_id = ?1 AND e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 "
      "  AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size)) "
      /* a group's test sets as the grid lists them */
      "ORDER BY g.ord, (SELECT i.key FROM json_each(r.config, '$.data.eval') i "
      "                 WHERE json_extract(i.value, '$.name') = e.dataset), e.dataset, 5, 1, 3, 4",
      sweep_id, -1, rows, n, err);
}

lr_status lr_report_ensemble_sizes(lr_store *s, int64_t sweep_id, long epoch, lr_curve_row **rows,
                                   size_t *n, lr_err *err) {
  return read_rows(
      s,
      "WITH " RUN_EPOCH_CTE
      "SELECT r.id, r.seed, e.idx, e.epoch, 1, e.finite, g.ord, g.section, g.grp, e.dataset, "
      "  e.accuracy, e.nll, e.ece, e.brier "
      "FROM run_epoch t JOIN runs r ON r.id = t.run_id " GROUP_JOIN
      "JOIN evaluations e ON e.run_id = t.run_id AND e.epoch = t.epoch "
      "WHERE e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 AND e.kind = 'ensemble' "
      "ORDER BY g.ord, e.dataset, 1, 3",
      sweep_id, epoch, rows, n, err);
}

static void fill_gain(sqlite3_stmt *st, void *item) {
  lr_gain_row *g = item;
  g->run_id = sqlite3_column_int64(st, 0);
  g->seed = (long)sqlite3_column_int64(st, 1);
  g->epoch = (long)sqlite3_column_int64(st, 2);
  panel_read(st, 3, &g->panel);
  g->disagreement = sqlite3_column_double(st, 7);
  g->accuracy_gain = sqlite3_column_double(st, 8);
  g->nll_gain = sqlite3_column_double(st, 9);
}

lr_status lr_report_gains(lr_store *s, int64_t sweep_id, long epoch, lr_gain_row **rows,
                          size_t *n, lr_err *err) {
  return read_items(
      s,
      "WITH " RUN_EPOCH_CTE
      "SELECT r.id, r.seed, e.epoch, g.ord, g.section, g.grp, e.dataset, e.disagreement, "
      "  e.accuracy - m.accuracy, m.nll - e.nll "
      "FROM run_epoch t JOIN runs r ON r.id = t.run_id " GROUP_JOIN
      "JOIN evaluations e ON e.run_id = t.run_id AND e.epoch = t.epoch "
      "JOIN (SELECT l.run_id, l.epoch, l.dataset, avg(l.accuracy) AS accuracy, "
      "        avg(l.nll) AS nll "
      "      FROM evaluations l JOIN run_epoch u ON u.run_id = l.run_id AND u.epoch = l.epoch "
      "      WHERE l.kind = 'member' AND l.selection = 'epoch' AND l.split = 'eval' AND l.finite "
      "      GROUP BY l.run_id, l.epoch, l.dataset) AS m "
      "  ON m.run_id = r.id AND m.epoch = e.epoch AND m.dataset = e.dataset "
      "WHERE e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 "
      "  AND e.kind = 'ensemble' AND e.idx = r.ensemble_size AND e.idx >= 2 AND e.finite "
      "  AND e.disagreement IS NOT NULL "
      "ORDER BY g.ord, e.dataset, 1",
      sweep_id, epoch, sizeof **rows, fill_gain, (void **)rows, n, err);
}

/* Hands fn every row of sql (sweep ?1, epoch ?2). */
static lr_status each_row_of(lr_store *s, const char *sql, int64_t sweep_id, long epoch,
                             const char *what, lr_row_fn fn, void *ctx, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, sql, &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  sqlite3_bind_int64(st, 2, epoch);
  rc = lr_store_each_row(s, st, what, fn, ctx, err);
  sqlite3_finalize(st);
  return rc;
}

/* The sets each run's configuration marks OOD. */
#define OOD_OF_RUN_CTE                                                                             \
  "ood (run_id, dataset) AS MATERIALIZED (SELECT t.run_id, json_extract(o.value, '$.name') "      \
  "  FROM run_epoch t JOIN runs r ON r.id = t.run_id, json_each(r.config, '$.data.eval') o "     \
  "  WHERE json_extract(o.value, '$.ood')) "

lr_status lr_report_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                void *ctx, lr_err *err) {
  return each_row_of(
      s,
      "WITH " RUN_EPOCH_CTE ", " OOD_OF_RUN_CTE
      "SELECT g.ord, g.section, g.grp, p.dataset, r.id, p.member, p.example, p.label, p.probs, "
      "  p.epoch "
      "FROM run_epoch t JOIN runs r ON r.id = t.run_id " GROUP_JOIN
      "JOIN predictions p ON p.run_id = t.run_id AND p.epoch = t.epoch "
      "WHERE p.split = 'eval' "
      "  AND NOT EXISTS (SELECT 1 FROM ood o WHERE o.run_id = p.run_id AND o.dataset = p.dataset) "
      "ORDER BY g.ord, p.dataset, r.id, p.example, p.member",
      sweep_id, epoch, "reading predictions", fn, ctx, err);
}

/* Each run's OOD sets (by the configuration, which says which sets are OOD) with the run's
 * in-distribution reference as the worker chose it (run-eval.h): its first evaluation set not
 * marked OOD, else its validation set. */
#define OOD_SETS_SQL                                                                               \
  "WITH " RUN_EPOCH_CTE ", sets AS MATERIALIZED (SELECT r.id AS run_id, g.ord, g.section, g.grp, " \
  "  json_extract(o.value, '$.name') AS ood_set, t.epoch, "                                       \
  "  (SELECT json_extract(i.value, '$.name') FROM json_each(r.config, '$.data.eval') i "        \
  "   WHERE NOT json_extract(i.value, '$.ood') ORDER BY i.key LIMIT 1) AS id_set, "             \
  "  json_extract(r.config, '$.data.validation.name') AS validation_set "                        \
  "  FROM run_epoch t JOIN runs r ON r.id = t.run_id " GROUP_JOIN ", "                          \
  "    json_each(r.config, '$.data.eval') o "                                                    \
  "  WHERE json_extract(o.value, '$.ood')) "

lr_status lr_report_ood_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                    void *ctx, lr_err *err) {
  return each_row_of(
      s,
      OOD_SETS_SQL
      "SELECT t.ord, t.section, t.grp, t.ood_set, t.run_id, p.dataset = t.ood_set "
      "    AND p.split = 'eval', p.member, p.example, p.probs, p.epoch, "
      "  coalesce(t.id_set, t.validation_set || ' (validation)', 'the validation set') "
      "FROM sets t JOIN predictions p ON p.run_id = t.run_id AND p.epoch = t.epoch "
      "  AND ((p.split = 'eval' AND p.dataset = t.ood_set) "
      "    OR (t.id_set IS NOT NULL AND p.split = 'eval' AND p.dataset = t.id_set) "
      "    OR (t.id_set IS NULL AND p.split = 'validation')) "
      "ORDER BY t.ord, t.ood_set, t.run_id, 6, p.example, p.member",
      sweep_id, epoch, "reading OOD predictions", fn, ctx, err);
}

static void fill_auroc(sqlite3_stmt *st, void *item) {
  lr_ood_auroc *a = item;
  panel_read(st, 0, &a->panel);
  a->ensemble = sqlite3_column_int(st, 4);
  a->n = (long)sqlite3_column_int64(st, 5);
  for (int j = 0; j < 3; j++)
    a->auroc[j] = sqlite3_column_type(st, 6 + j) == SQLITE_NULL
                      ? NAN : sqlite3_column_double(st, 6 + j);
}

lr_status lr_report_ood_aurocs(lr_store *s, int64_t sweep_id, long epoch, lr_ood_auroc **rows,
                               size_t *n, lr_err *err) {
  return read_items(
      s,
      OOD_SETS_SQL
      "SELECT t.ord, t.section, t.grp, t.ood_set, e.kind = 'ensemble', count(*), "
      "  avg(e.ood_auroc_maxprob), avg(e.ood_auroc_entropy), avg(e.ood_auroc_mi) "
      "FROM sets t JOIN runs r ON r.id = t.run_id JOIN evaluations e ON e.run_id = t.run_id "
      "  AND e.epoch = t.epoch AND e.dataset = t.ood_set AND e.split = 'eval' "
      "  AND e.selection = 'epoch' AND e.finite "
      "WHERE e.kind = 'member' OR e.idx = r.ensemble_size "
      "GROUP BY t.ord, t.ood_set, e.kind ORDER BY t.ord, t.ood_set, 5",
      sweep_id, epoch, sizeof **rows, fill_auroc, (void **)rows, n, err);
}

/* The probabilities of a JSON array into probs: how many, or -1 when the text is not an array of
 * at most LR_DATASET_MAX_CHOICES numbers. */
static int probs_parse(const char *p, double *probs) {
  int k = 0;
  if (p == NULL || *p++ != '[')
    return -1;
  for (;;) {
    char *end;
    while (*p == ' ')
      p++;
    if (*p == ']')
      return k;
    if (k == LR_DATASET_MAX_CHOICES)
      return -1;
    probs[k++] = strtod(p, &end);
    if (end == p)
      return -1;
    p = end;
    while (*p == ' ')
      p++;
    if (*p == ',')
      p++;
    else if (*p != ']')
      return -1;
  }
}

lr_status lr_report_probs_of(const char *db, const char *set, int64_t run, int64_t member,
                             int64_t epoch, int64_t example, const char *json, double *probs,
                             int *k, lr_err *err) {
  if ((*k = probs_parse(json, probs)) >= 0)
    return LR_OK;
  return lr_fail(err, LR_EPARSE, "%s: predictions of run %lld, member %lld, set '%s', epoch %lld, "
                 "example %lld: probs '%.60s' is not a JSON array of at most %d numbers",
                 db, (long long)run, (long long)member, set ? set : "", (long long)epoch,
                 (long long)example, json ? json : "", LR_DATASET_MAX_CHOICES);
}
