/*
 * store-status.c: the reads behind `lorens status` (see store-status.h).
 */
#include "compat.h"

#include "store/store-status.h"

lr_status lr_status_counts(lr_store *s, lr_status_count_fn fn, void *ctx, lr_err *err) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (lr_store_prepare(s, "SELECT status, count(*) FROM runs GROUP BY status", &st, err))
    return err->code;
  while ((rc = lr_store_step(s, st, "counting runs", err)) == SQLITE_ROW)
    fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LR_OK : err->code;
}

lr_status lr_status_sweep_counts(lr_store *s, lr_sweep_count_fn fn, void *ctx, lr_err *err) {
  static const char sql[] =
      "SELECT s.id, s.name, r.status, count(r.id) FROM sweeps AS s"
      " LEFT JOIN (SELECT sweep_id, run_id FROM sweep_runs UNION SELECT sweep_id, id FROM runs)"
      "   AS m ON m.sweep_id = s.id"
      " LEFT JOIN runs AS r ON r.id = m.run_id"
      " GROUP BY s.id, r.status ORDER BY s.id";
  sqlite3_stmt *st = NULL;
  lr_status out = LR_OK;
  int rc = SQLITE_DONE;
  if (lr_store_prepare(s, sql, &st, err))
    return err->code;
  while (out == LR_OK && (rc = lr_store_step(s, st, "counting runs per sweep", err)) == SQLITE_ROW)
    out = fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
             (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3), err);
  sqlite3_finalize(st);
  if (out == LR_OK && rc != SQLITE_DONE)
    out = err->code;
  return out;
}

/* Runs one fixed query, handing each row to fn. */
static lr_status rows(lr_store *s, const char *sql, const char *what, lr_row_fn fn, void *ctx,
                      lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status out;
  if (lr_store_prepare(s, sql, &st, err) != LR_OK)
    return err->code;
  out = lr_store_each_row(s, st, what, fn, ctx, err);
  sqlite3_finalize(st);
  return out;
}

lr_status lr_status_running(lr_store *s, lr_row_fn fn, void *ctx, lr_err *err) {
  return rows(s,
              "SELECT run_key, host, boot_id, pid, worker_pid, attempts, heartbeat, started_at,"
              " claim FROM runs WHERE status = 'running' ORDER BY id",
              "listing running runs", fn, ctx, err);
}

lr_status lr_status_problems(lr_store *s, lr_row_fn fn, void *ctx, lr_err *err) {
  return rows(s,
              "SELECT run_key, status, attempts, exit_status, error FROM runs"
              " WHERE status IN ('failed', 'diverged', 'interrupted') ORDER BY id",
              "listing failed runs", fn, ctx, err);
}
