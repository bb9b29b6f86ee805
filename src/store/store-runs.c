/*
 * store-runs.c: inserting, claiming, keeping alive and releasing runs (see store-runs.h).
 */
#include "compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/buf.h"
#include "grid/run-config.h"
#include "store/store-runs.h"

/* Runs a statement that returns no rows, then finalizes it. */
static lr_status step_done(lr_store *s, sqlite3_stmt *st, const char *what, lr_err *err) {
  lr_status out = lr_store_step(s, st, what, err) < 0 ? err->code : LR_OK;
  sqlite3_finalize(st);
  return out;
}

static lr_status insert_run(lr_store *s, int64_t sweep_id, const lr_cell *c, bool *is_new,
                            lr_err *err) {
  lr_run_config cfg = {0};
  lr_run_summary sum;
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_run_config_parse(c->canonical, &cfg, err);
  if (rc != LR_OK)
    return rc;
  lr_run_summary_of(&cfg, &sum);
  rc = lr_store_prepare(s,
               "INSERT INTO runs(run_key, sweep_id, config, dataset, regularizer, reg_strength, "
               "rank, ensemble_size, seed, randomness, lr, backend) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
               "ON CONFLICT(run_key) DO NOTHING",
               &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_text(st, 1, c->run_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, sweep_id);
    sqlite3_bind_text(st, 3, c->canonical, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sum.dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, sum.regularizer, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, sum.reg_strength);
    sqlite3_bind_int64(st, 7, sum.rank);
    sqlite3_bind_int64(st, 8, sum.ensemble_size);
    lr_store_bind_u64(st, 9, sum.seed);
    sqlite3_bind_text(st, 10, sum.randomness, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 11, sum.lr);
    sqlite3_bind_text(st, 12, cfg.backend, -1, SQLITE_TRANSIENT);
    rc = step_done(s, st, "inserting a run", err);
    *is_new = sqlite3_changes(lr_store_db(s)) > 0;
  }
  if (rc == LR_OK)
    rc = lr_store_prepare(s,
                 "INSERT OR IGNORE INTO sweep_runs(sweep_id, run_id) "
                 "SELECT ?1, id FROM runs WHERE run_key = ?2",
                 &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_int64(st, 1, sweep_id);
    sqlite3_bind_text(st, 2, c->run_key, -1, SQLITE_STATIC);
    rc = step_done(s, st, "linking a run to its sweep", err);
  }
  lr_run_config_release(&cfg);
  return rc;
}

lr_status lr_runs_insert_sweep(lr_store *s, const lr_grid *g, int64_t *sweep_id, size_t *n_new,
                               lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_begin(s, err);
  *n_new = 0;
  if (rc != LR_OK)
    return rc;
  rc = lr_store_prepare(s,
               "INSERT INTO sweeps(name, path, base_dir, yaml, yaml_sha256, lorens_version) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name, yaml_sha256) DO UPDATE SET "
               "path = excluded.path, base_dir = excluded.base_dir RETURNING id",
               &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->base_dir, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->text, (int)g->text_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->text_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, PACKAGE_VERSION, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
      *sweep_id = sqlite3_column_int64(st, 0);
    else
      rc = lr_store_fail(s, err, "inserting the sweep");
    sqlite3_finalize(st);
  }
  for (size_t i = 0; rc == LR_OK && i < g->n_cells; i++) {
    bool is_new = false;
    rc = insert_run(s, *sweep_id, &g->cells[i], &is_new, err);
    *n_new += is_new;
  }
  if (rc == LR_OK)
    return lr_store_commit(s, err);
  lr_store_rollback(s);
  return rc;
}

lr_status lr_runs_count(lr_store *s, int64_t sweep_id, lr_run_counts *out, lr_err *err) {
  sqlite3_stmt *st = NULL;
  int step;
  lr_status rc = lr_store_prepare(s,
                         "SELECT r.status, count(*) FROM runs r JOIN sweep_runs sr ON "
                         "sr.run_id = r.id WHERE sr.sweep_id = ?1 GROUP BY r.status",
                         &st, err);
  memset(out, 0, sizeof *out);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    long n = (long)sqlite3_column_int64(st, 1);
    out->total += n;
    if (strcmp(status, "pending") == 0) out->pending = n;
    else if (strcmp(status, "running") == 0) out->running = n;
    else if (strcmp(status, "done") == 0) out->done = n;
    else if (strcmp(status, "failed") == 0) out->failed = n;
    else if (strcmp(status, "diverged") == 0) out->diverged = n;
    else if (strcmp(status, "interrupted") == 0) out->interrupted = n;
  }
  if (step != SQLITE_DONE)
    rc = lr_store_fail(s, err, "counting runs");
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_runs_reset_failed(lr_store *s, int64_t sweep_id, long *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "UPDATE runs SET status = 'pending', claim = NULL WHERE status = 'failed' "
                         "AND id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = ?1)",
                         &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, sweep_id);
  rc = step_done(s, st, "resetting failed runs", err);
  *n = rc == LR_OK ? sqlite3_changes(lr_store_db(s)) : 0;
  return rc;
}

static lr_status new_token(char *out, lr_err *err) {
  unsigned char raw[LR_CLAIM_TOKEN_LEN / 2];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno != EINTR)
      return lr_fail(err, LR_EIO, "getrandom: %s", strerror(errno));
    got += n > 0 ? (size_t)n : 0;
  }
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return LR_OK;
}

/* Is a running run's owner gone?  Columns: host, boot_id, pid, heartbeat. */
static bool owner_gone(sqlite3_stmt *st, const lr_owner *me, double stale_after, double now) {
  char why[96];
  lr_run_owner o = {(const char *)sqlite3_column_text(st, 3),
                    (const char *)sqlite3_column_text(st, 4), sqlite3_column_int64(st, 5),
                    sqlite3_column_type(st, 6) != SQLITE_NULL, sqlite3_column_double(st, 6)};
  return lr_run_owner_gone(&o, &me->id, me->pid, now, stale_after, why, sizeof why);
}

static lr_status take(lr_store *s, int64_t run_id, const lr_owner *me, const char *token,
                      double now, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "UPDATE runs SET status = 'running', attempts = attempts + 1, claim = ?2, "
                         "host = ?3, boot_id = ?4, pid = ?5, worker_pid = NULL, heartbeat = ?6, "
                         "started_at = ?6, finished_at = NULL, error = NULL, exit_status = NULL "
                         "WHERE id = ?1",
                         &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, me->id.host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, me->id.boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, me->pid);
    sqlite3_bind_double(st, 6, now);
    rc = step_done(s, st, "claiming a run", err);
  }
  return rc;
}

lr_status lr_runs_claim(lr_store *s, int64_t sweep_id, const lr_owner *me, double stale_after,
                        lr_claim *out, bool *found, lr_err *err) {
  sqlite3_stmt *st = NULL;
  double now = lr_wall_time();
  lr_status rc;
  *found = false;
  memset(out, 0, sizeof *out);
  if ((rc = new_token(out->token, err)) != LR_OK || (rc = lr_store_begin(s, err)) != LR_OK)
    return rc;
  rc = lr_store_prepare(s,
               "SELECT r.id, r.run_key, r.status, r.host, r.boot_id, r.pid, r.heartbeat, "
               "r.attempts FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id "
               "WHERE sr.sweep_id = ?1 AND r.status IN ('pending', 'interrupted', 'running') "
               "ORDER BY r.id",
               &st, err);
  if (rc == LR_OK) {
    int step;
    sqlite3_bind_int64(st, 1, sweep_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      const char *status = (const char *)sqlite3_column_text(st, 2);
      if (strcmp(status, "running") == 0 && !owner_gone(st, me, stale_after, now))
        continue;
      out->run_id = sqlite3_column_int64(st, 0);
      snprintf(out->run_key, sizeof out->run_key, "%s", (const char *)sqlite3_column_text(st, 1));
      out->attempts = (long)sqlite3_column_int64(st, 7) + 1;
      *found = true;
      break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
      rc = lr_store_fail(s, err, "looking for a run to claim");
    sqlite3_finalize(st);
  }
  if (rc == LR_OK && *found)
    rc = take(s, out->run_id, me, out->token, now, err);
  if (rc == LR_OK)
    return lr_store_commit(s, err);
  lr_store_rollback(s);
  *found = false;
  return rc;
}

static lr_status beat(lr_store *s, const lr_claim *c, pid_t worker_pid, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         worker_pid ? "UPDATE runs SET heartbeat = ?3, worker_pid = ?4 WHERE id = "
                                      "?1 AND claim = ?2"
                                    : "UPDATE runs SET heartbeat = ?3 WHERE id = ?1 AND claim = ?2",
                         &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  sqlite3_bind_text(st, 2, c->token, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 3, lr_wall_time());
  if (worker_pid)
    sqlite3_bind_int64(st, 4, worker_pid);
  return step_done(s, st, "writing a heartbeat", err);
}

lr_status lr_runs_started(lr_store *s, const lr_claim *c, pid_t worker_pid, lr_err *err) {
  return beat(s, c, worker_pid, err);
}

lr_status lr_runs_heartbeat(lr_store *s, const lr_claim *claims, size_t n, lr_err *err) {
  lr_status rc = n ? lr_store_begin(s, err) : LR_OK;
  for (size_t i = 0; rc == LR_OK && i < n; i++)
    rc = beat(s, &claims[i], 0, err);
  if (n == 0)
    return rc;
  if (rc == LR_OK)
    return lr_store_commit(s, err);
  lr_store_rollback(s);
  return rc;
}

lr_status lr_runs_release(lr_store *s, const lr_claim *c, const char *status,
                          const char *exit_status, const char *error, bool *applied, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "UPDATE runs SET status = ?3, claim = NULL, exit_status = ?4, error = ?5, "
                         "finished_at = ?6 WHERE id = ?1 AND claim = ?2 AND status = 'running'",
                         &st, err);
  *applied = false;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  sqlite3_bind_text(st, 2, c->token, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, exit_status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
  if (strcmp(status, "pending") == 0)
    sqlite3_bind_null(st, 6);
  else
    sqlite3_bind_double(st, 6, lr_wall_time());
  rc = step_done(s, st, "recording how a run ended", err);
  *applied = rc == LR_OK && sqlite3_changes(lr_store_db(s)) > 0;
  return rc;
}

lr_status lr_runs_status(lr_store *s, int64_t run_id, char *buf, size_t n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, "SELECT status FROM runs WHERE id = ?1", &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
  else
    rc = lr_store_fail(s, err, "reading a run's status");
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_runs_check_claim(lr_store *s, int64_t run_id, const char *token, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "SELECT 1 FROM runs WHERE id = ?1 AND claim = ?2 AND status = 'running'",
                         &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW)
    rc = lr_fail(err, LR_EINTERRUPTED,
                 "%s: this attempt no longer owns run %lld (it was found stale and taken over)",
                 lr_store_path(s), (long long)run_id);
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_runs_load_claimed(lr_store *s, const char *run_key, const char *claim,
                               int64_t *run_id, char **config_json, char **base_dir, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = LR_OK;
  if (lr_store_prepare(s,
                       "SELECT r.id, r.config, s.base_dir FROM runs r JOIN sweeps s ON s.id = "
                       "r.sweep_id WHERE r.run_key = ?1 AND r.claim = ?2 AND r.status = "
                       "'running'",
                       &st, err) != LR_OK)
    return err->code;
  sqlite3_bind_text(st, 1, run_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, claim, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *run_id = sqlite3_column_int64(st, 0);
    *config_json = strdup((const char *)sqlite3_column_text(st, 1));
    *base_dir = strdup((const char *)sqlite3_column_text(st, 2));
    if (!*config_json || !*base_dir)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  } else {
    rc = lr_fail(err, LR_ENOTFOUND, "%s: no run %s claimed by this attempt", lr_store_path(s),
                 run_key);
  }
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_runs_find_prefix(lr_store *s, const char *prefix, int64_t *run_id, char *key,
                              char *status, int *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                                  "SELECT id, run_key, status FROM runs WHERE substr(run_key, 1, "
                                  "length(?1)) = ?1 ORDER BY run_key LIMIT 2",
                                  &st, err);
  *n = 0;
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if ((*n)++ == 0) {
      *run_id = sqlite3_column_int64(st, 0);
      snprintf(key, 65, "%s", (const char *)sqlite3_column_text(st, 1));
      snprintf(status, 32, "%s", (const char *)sqlite3_column_text(st, 2));
    }
  }
  sqlite3_finalize(st);
  return LR_OK;
}

lr_status lr_sweeps_find(lr_store *s, const char *which, int64_t **ids, size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  int step = SQLITE_DONE;
  size_t cap = 0;
  lr_status rc = lr_store_prepare(
      s, "SELECT id FROM sweeps WHERE ?1 IS NULL OR name = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY id",
      &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_text(st, 1, which, -1, SQLITE_STATIC);
  while ((step = lr_store_step(s, st, "listing the sweeps", err)) == SQLITE_ROW) {
    if ((rc = LR_GROW(*ids, cap, *n + 1, err)) != LR_OK)
      break;
    (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
  }
  if (rc == LR_OK && step < 0)
    rc = err->code;
  sqlite3_finalize(st);
  return rc;
}
