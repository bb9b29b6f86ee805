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

static char *dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

static const char *const status_names[6] = {"pending", "running", "done", "failed", "diverged",
                                            "interrupted"};

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
                        "SELECT name, path, yaml_sha256, lorens_version, created_at, "
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
    out->backends = dup_col(st, 5);
    out->models = dup_col(st, 6);
    out->datasets = dup_col(st, 7);
    out->run_seconds = sqlite3_column_double(st, 8);
    out->train_tokens = sqlite3_column_double(st, 9);
    out->train_seconds = sqlite3_column_double(st, 10);
    out->randomness_kinds = (long)sqlite3_column_int64(st, 11);
  }
  sqlite3_finalize(st);
  if ((rc = lr_store_prepare(s, "SELECT r.status, count(*) FROM runs r JOIN sweep_runs x "
                                "ON x.run_id = r.id WHERE x.sweep_id = ?1 GROUP BY r.status",
                             &st, err)) != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, out->id);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    long count = (long)sqlite3_column_int64(st, 1);
    for (int i = 0; i < 6; i++)
      if (status && strcmp(status, status_names[i]) == 0)
        out->by_status[i] = count;
    out->runs += count;
  }
  sqlite3_finalize(st);
  if (!out->name || !out->path || !out->yaml_sha256 || !out->lorens_version || !out->created_at ||
      !out->backends || !out->models || !out->datasets)
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
  memset(sw, 0, sizeof *sw);
}

/* A run's group, as the panels name it: "TRAIN-SET / REGULARIZER [STRENGTH]". */
#define GROUP_SQL                                                                                  \
  "r.dataset || ' / ' || r.regularizer || CASE WHEN r.regularizer = 'none' THEN '' "             \
  "ELSE ' ' || printf('%g', r.reg_strength) END"

/* The epoch a figure at `epoch` ?2 shows for run r: ?2, or with ?2 < 0 the run's last. */
#define EPOCH_SQL                                                                                  \
  "CASE WHEN ?2 >= 0 THEN ?2 ELSE (SELECT max(l.epoch) FROM evaluations l "                      \
  "WHERE l.run_id = r.id AND l.selection = 'epoch' AND l.split = 'eval') END"

static lr_status read_rows(lr_store *s, const char *sql, int64_t sweep_id, long epoch,
                           lr_curve_row **rows, size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, sql, &st, err);
  *rows = NULL;
  *n = 0;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  if (sqlite3_bind_parameter_count(st) >= 2) /* the figures of one epoch */
    sqlite3_bind_int64(st, 2, epoch);
  while (rc == LR_OK && sqlite3_step(st) == SQLITE_ROW) {
    lr_curve_row *grown = realloc(*rows, (*n + 1) * sizeof *grown), *r;
    if (grown == NULL) {
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
    *rows = grown;
    r = &grown[(*n)++];
    memset(r, 0, sizeof *r);
    r->run_id = sqlite3_column_int64(st, 0);
    r->seed = (long)sqlite3_column_int64(st, 1);
    r->idx = (long)sqlite3_column_int64(st, 2);
    r->epoch = (long)sqlite3_column_int64(st, 3);
    r->ensemble = sqlite3_column_int(st, 4);
    r->finite = sqlite3_column_int(st, 5);
    snprintf(r->group, sizeof r->group, "%s", (const char *)sqlite3_column_text(st, 6));
    snprintf(r->eval_dataset, sizeof r->eval_dataset, "%s",
             (const char *)sqlite3_column_text(st, 7));
    for (int m = 0; m < LR_CURVE_METRICS; m++)
      r->metric[m] = sqlite3_column_type(st, 8 + m) == SQLITE_NULL
                         ? NAN : sqlite3_column_double(st, 8 + m);
  }
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_report_curves(lr_store *s, int64_t sweep_id, lr_curve_row **rows, size_t *n,
                           lr_err *err) {
  return read_rows(
      s,
      "SELECT r.id, r.seed, e.idx, e.epoch, e.kind = 'ensemble', e.finite, " GROUP_SQL ", "
      "  e.dataset, e.accuracy, e.nll, e.ece, e.brier "
      "FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweep_runs x ON x.run_id = r.id "
      "WHERE x.sweep_id = ?1 AND e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 "
      "  AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size)) "
      "ORDER BY 7, 8, 5, 1, 3, 4",
      sweep_id, -1, rows, n, err);
}

lr_status lr_report_ensemble_sizes(lr_store *s, int64_t sweep_id, long epoch, lr_curve_row **rows,
                                   size_t *n, lr_err *err) {
  return read_rows(
      s,
      "SELECT r.id, r.seed, e.idx, e.epoch, 1, e.finite, " GROUP_SQL ", "
      "  e.dataset, e.accuracy, e.nll, e.ece, e.brier "
      "FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweep_runs x ON x.run_id = r.id "
      "WHERE x.sweep_id = ?1 AND e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 "
      "  AND e.kind = 'ensemble' AND e.epoch = " EPOCH_SQL " "
      "ORDER BY 7, 8, 1, 3",
      sweep_id, epoch, rows, n, err);
}

lr_status lr_report_gains(lr_store *s, int64_t sweep_id, long epoch, lr_gain_row **rows,
                          size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(
      s,
      "SELECT r.id, r.seed, e.epoch, " GROUP_SQL ", e.dataset, e.disagreement, "
      "  e.accuracy - m.accuracy, m.nll - e.nll "
      "FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweep_runs x ON x.run_id = r.id "
      "JOIN (SELECT run_id, epoch, dataset, avg(accuracy) AS accuracy, avg(nll) AS nll "
      "      FROM evaluations WHERE kind = 'member' AND selection = 'epoch' AND split = 'eval' "
      "      AND finite GROUP BY run_id, epoch, dataset) AS m "
      "  ON m.run_id = r.id AND m.epoch = e.epoch AND m.dataset = e.dataset "
      "WHERE x.sweep_id = ?1 AND e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0 "
      "  AND e.kind = 'ensemble' AND e.idx = r.ensemble_size AND e.idx >= 2 AND e.finite "
      "  AND e.disagreement IS NOT NULL AND e.epoch = " EPOCH_SQL " "
      "ORDER BY 4, 5, 1",
      &st, err);
  *rows = NULL;
  *n = 0;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  sqlite3_bind_int64(st, 2, epoch);
  while (rc == LR_OK && sqlite3_step(st) == SQLITE_ROW) {
    lr_gain_row *grown = realloc(*rows, (*n + 1) * sizeof *grown), *g;
    if (grown == NULL) {
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
    *rows = grown;
    g = &grown[(*n)++];
    memset(g, 0, sizeof *g);
    g->run_id = sqlite3_column_int64(st, 0);
    g->seed = (long)sqlite3_column_int64(st, 1);
    g->epoch = (long)sqlite3_column_int64(st, 2);
    snprintf(g->group, sizeof g->group, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(g->eval_dataset, sizeof g->eval_dataset, "%s", (const char *)sqlite3_column_text(st, 4));
    g->disagreement = sqlite3_column_double(st, 5);
    g->accuracy_gain = sqlite3_column_double(st, 6);
    g->nll_gain = sqlite3_column_double(st, 7);
  }
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_report_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                void *ctx, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(
      s,
      "SELECT " GROUP_SQL ", p.dataset, r.id, p.member, p.example, p.label, p.probs, p.epoch "
      "FROM predictions p JOIN runs r ON r.id = p.run_id JOIN sweep_runs x ON x.run_id = r.id "
      "WHERE x.sweep_id = ?1 AND p.split = 'eval' AND p.epoch = " EPOCH_SQL " "
      "  AND NOT EXISTS (SELECT 1 FROM evaluations o WHERE o.run_id = r.id AND o.ood = 1 "
      "                  AND o.dataset = p.dataset) "
      "ORDER BY 1, 2, 3, 5, 4",
      &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  sqlite3_bind_int64(st, 2, epoch);
  rc = lr_store_each_row(s, st, "reading predictions", fn, ctx, err);
  sqlite3_finalize(st);
  return rc;
}
