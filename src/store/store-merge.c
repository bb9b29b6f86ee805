/*
 * store-merge.c: a shard's runs into the main database (store-merge.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "base/file-copy.h"
#include "base/file-util.h"
#include "store/store-merge.h"

/* The runs a shard finished that main has not, as (shard id, main id, run_key). */
static const char map_sql[] =
    "CREATE TEMP TABLE collect_map AS "
    "SELECT s.id AS sid, m.id AS mid, s.run_key AS run_key "
    "FROM shard.runs AS s JOIN main.runs AS m ON m.run_key = s.run_key "
    "WHERE s.status IN ('done', 'diverged', 'failed') AND m.status NOT IN ('done', 'diverged')";

/* What an earlier attempt left in main goes, then the shard's rows come in under main's ids. */
static const char merge_sql[] =
    "DELETE FROM main.predictions WHERE run_id IN (SELECT mid FROM collect_map);"
    "DELETE FROM main.evaluations WHERE run_id IN (SELECT mid FROM collect_map);"
    "DELETE FROM main.train_log WHERE run_id IN (SELECT mid FROM collect_map);"
    "DELETE FROM main.members WHERE run_id IN (SELECT mid FROM collect_map);"
    "INSERT INTO main.members (run_id, member, init_seed, data_seed, dropout_seed, status, "
    "  best_epoch, diverged_step, adapter_path) "
    "SELECT c.mid, x.member, x.init_seed, x.data_seed, x.dropout_seed, x.status, x.best_epoch, "
    "  x.diverged_step, x.adapter_path "
    "FROM shard.members AS x JOIN collect_map AS c ON x.run_id = c.sid;"
    "INSERT INTO main.train_log (run_id, member, epoch, step, lr, loss, ce, kl, grad_norm, "
    "  finite, tokens, seconds) "
    "SELECT c.mid, x.member, x.epoch, x.step, x.lr, x.loss, x.ce, x.kl, x.grad_norm, x.finite, "
    "  x.tokens, x.seconds "
    "FROM shard.train_log AS x JOIN collect_map AS c ON x.run_id = c.sid;"
    "INSERT INTO main.evaluations (run_id, kind, idx, selection, epoch, split, dataset, ood, n, "
    "  accuracy, nll, ece, brier, ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi, "
    "  disagreement, pairwise_kl, finite, created_at) "
    "SELECT c.mid, x.kind, x.idx, x.selection, x.epoch, x.split, x.dataset, x.ood, x.n, "
    "  x.accuracy, x.nll, x.ece, x.brier, x.ood_auroc_maxprob, x.ood_auroc_entropy, "
    "  x.ood_auroc_mi, x.disagreement, x.pairwise_kl, x.finite, x.created_at "
    "FROM shard.evaluations AS x JOIN collect_map AS c ON x.run_id = c.sid ORDER BY x.id;"
    "INSERT INTO main.predictions (run_id, member, epoch, split, dataset, example, example_id, "
    "  label, pred, probs) "
    "SELECT c.mid, x.member, x.epoch, x.split, x.dataset, x.example, x.example_id, x.label, "
    "  x.pred, x.probs "
    "FROM shard.predictions AS x JOIN collect_map AS c ON x.run_id = c.sid;"
    "UPDATE main.runs SET (status, attempts, claim, host, boot_id, pid, worker_pid, heartbeat, "
    "  started_at, finished_at, error, exit_status) = "
    "  (SELECT s.status, s.attempts, NULL, s.host, s.boot_id, s.pid, s.worker_pid, s.heartbeat, "
    "   s.started_at, s.finished_at, s.error, s.exit_status "
    "   FROM shard.runs AS s JOIN collect_map AS c ON s.id = c.sid WHERE c.mid = main.runs.id) "
    "WHERE id IN (SELECT mid FROM collect_map);";

/* One integer a query on the connection returns (the first column of its first row), or -1. */
static long long query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Why the attached shard cannot be merged, or NULL when it can. */
static const char *shard_problem(sqlite3 *db, char *buf, size_t n) {
  sqlite3_stmt *st = NULL;
  long long app = query_int(db, "PRAGMA shard.application_id"),
            version = query_int(db, "PRAGMA shard.user_version");
  if (app != LR_STORE_APPLICATION_ID)
    return "not a lorens database";
  if (version < 1 || version > lr_store_schema_version()) {
    snprintf(buf, n, "schema version %lld, this lorens knows 1 to %d", version,
             lr_store_schema_version());
    return buf;
  }
  if (sqlite3_prepare_v2(db, "PRAGMA shard.quick_check", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    snprintf(buf, n, "cannot be checked: %s", sqlite3_errmsg(db));
  } else {
    const char *res = (const char *)sqlite3_column_text(st, 0);
    if (res && strcmp(res, "ok") == 0) {
      sqlite3_finalize(st);
      return NULL;
    }
    snprintf(buf, n, "fails SQLite's quick_check: %s", res ? res : "?");
  }
  sqlite3_finalize(st);
  return buf;
}

typedef struct key_list {
  char **keys;
  size_t n;
} key_list;

static lr_status add_key(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  key_list *k = ctx;
  char **grown = realloc(k->keys, (k->n + 1) * sizeof *grown);
  (void)ncols;
  if (grown == NULL || (grown[k->n] = strdup(row[0].s ? row[0].s : "")) == NULL) {
    if (grown)
      k->keys = grown;
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  k->keys = grown;
  k->n++;
  return LR_OK;
}

/* Copies the adapters of the mapped runs from the shard's runs directory into main's. */
static lr_status copy_artifacts(lr_store *main, const char *shard_db, lr_err *err) {
  key_list keys = {NULL, 0};
  sqlite3_stmt *st = NULL;
  char *main_runs = NULL;
  lr_status rc = lr_store_prepare(main, "SELECT run_key FROM collect_map ORDER BY run_key", &st,
                                  err);
  if (rc == LR_OK)
    rc = lr_store_each_row(main, st, "listing the runs to merge", add_key, &keys, err);
  sqlite3_finalize(st);
  if (rc == LR_OK)
    rc = lr_store_runs_dir(main, &main_runs, err);
  for (size_t i = 0; rc == LR_OK && i < keys.n; i++) {
    char *from = NULL, *to = NULL;
    struct stat sb;
    if (asprintf(&from, "%s.runs/%s", shard_db, keys.keys[i]) < 0 ||
        asprintf(&to, "%s/%s", main_runs, keys.keys[i]) < 0)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    else if (stat(from, &sb) == 0 && S_ISDIR(sb.st_mode))
      rc = lr_mkdir_p(main_runs, err) == LR_OK ? lr_publish(from, to, err) : err->code;
    free(from);
    free(to);
  }
  for (size_t i = 0; i < keys.n; i++)
    free(keys.keys[i]);
  free(keys.keys);
  free(main_runs);
  return rc;
}

lr_status lr_store_merge_shard(lr_store *main, const char *path, long *merged, char *why,
                               size_t why_len, lr_err *err) {
  sqlite3 *db = lr_store_db(main);
  sqlite3_stmt *st = NULL;
  const char *problem = NULL;
  long before = 0;
  lr_status rc = LR_OK;
  *merged = 0;
  why[0] = '\0';
  if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS shard", -1, &st, NULL) != SQLITE_OK)
    return lr_store_fail(main, err, "attaching a shard");
  sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_DONE) {
    snprintf(why, why_len, "cannot be opened: %s", sqlite3_errmsg(db));
    problem = why;
  }
  sqlite3_finalize(st);
  if (problem == NULL)
    problem = shard_problem(db, why, why_len);
  if (problem) {
    if (problem != why)
      snprintf(why, why_len, "%s", problem);
    sqlite3_exec(db, "DETACH DATABASE shard", NULL, NULL, NULL);
    return LR_OK;
  }
  rc = lr_store_begin(main, err);
  if (rc == LR_OK)
    rc = lr_store_exec(main, "DROP TABLE IF EXISTS temp.collect_map", err);
  if (rc == LR_OK)
    rc = lr_store_exec(main, map_sql, err);
  if (rc == LR_OK) {
    before = (long)query_int(db, "SELECT count(*) FROM collect_map");
    rc = copy_artifacts(main, path, err);
  }
  if (rc == LR_OK)
    rc = lr_store_exec(main, merge_sql, err);
  if (rc == LR_OK)
    rc = lr_store_exec(main, "DROP TABLE temp.collect_map", err);
  if (rc == LR_OK)
    rc = lr_store_commit(main, err);
  else
    lr_store_rollback(main);
  sqlite3_exec(db, "DETACH DATABASE shard", NULL, NULL, NULL);
  if (rc == LR_OK)
    *merged = before;
  return rc;
}

