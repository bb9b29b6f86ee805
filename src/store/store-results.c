/*
 * store-results.c: members, evaluations and predictions rows (see store-results.h).
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc-util.h"
#include "store/store-results.h"

/* Steps st once and resets it for the next row. */
static lr_status step_reset(lr_store *s, sqlite3_stmt *st, const char *what, lr_err *err) {
  lr_status out = lr_store_step(s, st, what, err) < 0 ? err->code : LR_OK;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

lr_status lr_results_members(lr_store *s, int64_t run_id, uint32_t n,
                             const lr_member_seeds *seeds, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "INSERT INTO members(run_id, member, init_seed, data_seed, dropout_seed) "
                         "VALUES(?1, ?2, ?3, ?4, ?5)",
                         &st, err);
  for (uint32_t m = 0; rc == LR_OK && m < n; m++) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, m);
    /* uint64 seeds keep their bits as SQLite's signed 64-bit integers (docs/store.md). */
    lr_store_bind_u64(st, 3, seeds[m].init);
    lr_store_bind_u64(st, 4, seeds[m].data);
    lr_store_bind_u64(st, 5, seeds[m].dropout);
    rc = step_reset(s, st, "inserting a member", err);
  }
  sqlite3_finalize(st);
  return rc;
}

static lr_status write_rows(lr_store *s, int64_t run_id, long epoch, const char *selection,
                            const lr_set_scores *set, const lr_eval_row *rows, lr_err *err) {
  sqlite3_stmt *st = NULL;
  double now = lr_wall_time();
  lr_status rc = lr_store_prepare(s,
                         "INSERT INTO evaluations(run_id, kind, idx, selection, epoch, split, "
                         "dataset, ood, n, accuracy, nll, ece, brier, disagreement, pairwise_kl, "
                         "ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi, finite, created_at) "
                         "VALUES(?1, ?2, ?3, ?20, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                         "?14, ?15, ?16, ?17, ?18, ?19)",
                         &st, err);
  for (uint32_t i = 0; rc == LR_OK && i < 2 * set->members; i++) {
    const lr_eval_row *r = &rows[i];
    bool finite = true;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, r->ensemble ? "ensemble" : "member", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->idx);
    sqlite3_bind_int64(st, 4, epoch);
    sqlite3_bind_text(st, 5, set->split, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, set->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, set->ood);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->m.n);
    lr_store_bind_metric(st, 9, r->m.accuracy, &finite);
    lr_store_bind_metric(st, 10, r->m.nll, &finite);
    lr_store_bind_metric(st, 11, r->m.ece, &finite);
    lr_store_bind_metric(st, 12, r->m.brier, &finite);
    if (r->has_diversity) {
      lr_store_bind_metric(st, 13, r->disagreement, &finite);
      lr_store_bind_metric(st, 14, r->pairwise_kl, &finite);
    }
    /* Absent (NULL, finite untouched) on in-distribution sets, and MI on members and ensembles
     * of one, which have no MI. */
    if (r->has_ood) {
      lr_store_bind_metric(st, 15, r->auroc_maxprob, &finite);
      lr_store_bind_metric(st, 16, r->auroc_entropy, &finite);
      if (r->has_mi)
        lr_store_bind_metric(st, 17, r->auroc_mi, &finite);
    }
    sqlite3_bind_int(st, 18, finite);
    sqlite3_bind_double(st, 19, now);
    sqlite3_bind_text(st, 20, selection, -1, SQLITE_STATIC);
    rc = step_reset(s, st, "inserting an evaluation", err);
  }
  sqlite3_finalize(st);
  return rc;
}

static lr_status write_predictions(lr_store *s, int64_t run_id, long epoch,
                                   const lr_set_scores *set, lr_err *err) {
  sqlite3_stmt *st = NULL;
  char json[LR_DATASET_MAX_CHOICES * 26 + 4];
  lr_status rc = lr_store_prepare(s,
                         "INSERT INTO predictions(run_id, member, epoch, split, dataset, example, "
                         "example_id, label, pred, probs) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                         "?9, ?10)",
                         &st, err);
  for (size_t i = 0; rc == LR_OK && i < set->n; i++) {
    const lr_example *ex = &set->data->examples[i];
    for (uint32_t m = 0; rc == LR_OK && m < set->members; m++) {
      const double *p = set->probs + (i * set->members + m) * LR_DATASET_MAX_CHOICES;
      size_t len = 0;
      json[len++] = '[';
      /* JSON has no NaN: a diverged member's probabilities are null. */
      for (int j = 0; j < ex->n_choices; j++)
        len += (size_t)(isfinite(p[j]) ? snprintf(json + len, sizeof json - len,
                                                  j ? ",%.17g" : "%.17g", p[j])
                                       : snprintf(json + len, sizeof json - len,
                                                  j ? ",null" : "null"));
      json[len++] = ']';
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_int64(st, 2, m);
      sqlite3_bind_int64(st, 3, epoch);
      sqlite3_bind_text(st, 4, set->split, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 5, set->dataset, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 6, (sqlite3_int64)i);
      sqlite3_bind_text(st, 7, ex->id, -1, SQLITE_STATIC);
      if (ex->label >= 0)
        sqlite3_bind_int(st, 8, ex->label);
      sqlite3_bind_int(st, 9, lr_argmax(p, ex->n_choices));
      sqlite3_bind_text(st, 10, json, (int)len, SQLITE_STATIC);
      rc = step_reset(s, st, "inserting a prediction", err);
    }
  }
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_results_set(lr_store *s, int64_t run_id, long epoch, const char *selection,
                         const lr_set_scores *set, const lr_eval_row *rows, bool predictions,
                         lr_err *err) {
  lr_status rc = write_rows(s, run_id, epoch, selection, set, rows, err);
  return rc == LR_OK && predictions ? write_predictions(s, run_id, epoch, set, err) : rc;
}

lr_status lr_results_train_log(lr_store *s, int64_t run_id, const lr_log_row *rows, size_t n,
                               lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "INSERT INTO train_log(run_id, member, epoch, step, lr, loss, ce, kl, "
                         "grad_norm, finite, tokens, seconds) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                         "?8, ?9, ?10, ?11, ?12)",
                         &st, err);
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    const lr_log_row *r = &rows[i];
    bool finite = true;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, r->member);
    sqlite3_bind_int64(st, 3, r->epoch);
    sqlite3_bind_int64(st, 4, r->step);
    sqlite3_bind_double(st, 5, r->lr);
    lr_store_bind_metric(st, 6, r->loss, &finite);
    lr_store_bind_metric(st, 7, r->ce, &finite);
    lr_store_bind_metric(st, 8, r->kl, &finite);
    lr_store_bind_metric(st, 9, r->grad_norm, &finite);
    sqlite3_bind_int(st, 10, finite);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->tokens);
    sqlite3_bind_double(st, 12, r->seconds);
    rc = step_reset(s, st, "inserting a train log row", err);
  }
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_results_member(lr_store *s, int64_t run_id, uint32_t member, const char *status,
                            long best_epoch, int64_t diverged_step, const char *adapter_path,
                            lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "UPDATE members SET status = ?3, best_epoch = ?4, diverged_step = ?5, "
                         "adapter_path = coalesce(?6, adapter_path) WHERE run_id = ?1 AND "
                         "member = ?2",
                         &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, member);
  sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
  if (best_epoch >= 0)
    sqlite3_bind_int64(st, 4, best_epoch);
  if (diverged_step >= 0)
    sqlite3_bind_int64(st, 5, diverged_step);
  if (adapter_path)
    sqlite3_bind_text(st, 6, adapter_path, -1, SQLITE_STATIC);
  rc = step_reset(s, st, "updating a member", err);
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_results_clear(lr_store *s, int64_t run_id, long after_epoch, lr_err *err) {
  static const char *const all[] = {
      "DELETE FROM predictions WHERE run_id = ?1", "DELETE FROM evaluations WHERE run_id = ?1",
      "DELETE FROM train_log WHERE run_id = ?1", "DELETE FROM members WHERE run_id = ?1"};
  static const char *const later[] = {
      "DELETE FROM predictions WHERE run_id = ?1 AND epoch > ?2",
      "DELETE FROM evaluations WHERE run_id = ?1 AND epoch > ?2",
      "DELETE FROM train_log WHERE run_id = ?1 AND epoch > ?2"};
  const char *const *sql = after_epoch < 0 ? all : later;
  size_t n = after_epoch < 0 ? LR_ARRAY_LEN(all) : LR_ARRAY_LEN(later);
  lr_status rc = LR_OK;
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    sqlite3_stmt *st = NULL;
    if ((rc = lr_store_prepare(s, sql[i], &st, err)) != LR_OK)
      break;
    sqlite3_bind_int64(st, 1, run_id);
    if (after_epoch >= 0)
      sqlite3_bind_int64(st, 2, after_epoch);
    rc = step_reset(s, st, "clearing an earlier attempt", err);
    sqlite3_finalize(st);
  }
  return rc;
}

lr_status lr_results_last_epoch(lr_store *s, int64_t run_id, long *epoch, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s, "SELECT max(epoch) FROM evaluations WHERE run_id = ?1", &st, err);
  if (rc != LR_OK)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  if (sqlite3_step(st) == SQLITE_ROW)
    *epoch = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(st, 0);
  else
    rc = lr_store_fail(s, err, "reading the last evaluated epoch");
  sqlite3_finalize(st);
  return rc;
}

lr_status lr_results_finish(lr_store *s, int64_t run_id, const char *token, const char *status,
                            lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_prepare(s,
                         "UPDATE members SET status = 'done' WHERE run_id = ?1 AND status = "
                         "'training'",
                         &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_int64(st, 1, run_id);
    rc = step_reset(s, st, "finishing the members", err);
    sqlite3_finalize(st);
  }
  if (rc == LR_OK)
    rc = lr_store_prepare(s,
                 "UPDATE runs SET status = ?3, claim = NULL, finished_at = ?4, exit_status = "
                 "'exit 0' WHERE id = ?1 AND claim = ?2",
                 &st, err);
  if (rc == LR_OK) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, lr_wall_time());
    rc = step_reset(s, st, "finishing the run", err);
    if (rc == LR_OK && sqlite3_changes(lr_store_db(s)) != 1)
      rc = lr_fail(err, LR_EINTERRUPTED, "%s: run %lld is no longer claimed by this attempt",
                   lr_store_path(s), (long long)run_id);
    sqlite3_finalize(st);
  }
  return rc;
}

/*
 * Where a member's adapter is now, from malloc.  Stored paths are relative to the database's runs
 * directory (RUN_KEY/member-M) and resolve against where the file is now.  Files written before
 * that hold the absolute path of the time, .../DB.runs/RUN_KEY/member-M: its part after ".runs/"
 * resolves the same way, so a moved or copied database reads its own FILE.runs, never the
 * original's.  Any other absolute path (set by hand) is taken as it is.
 */
static char *adapter_dir(const char *runs_dir, const char *run_key, const char *stored) {
  char *needle = NULL, *out = NULL;
  const char *rel = stored, *at, *p;
  if (stored[0] == '/') {
    if (asprintf(&needle, ".runs/%s/", run_key) < 0)
      return NULL;
    for (at = NULL, p = stored; (p = strstr(p, needle)) != NULL; p++)
      at = p; /* the last: a directory above may end in ".runs" too */
    free(needle);
    if (at == NULL)
      return strdup(stored);
    rel = at + strlen(".runs/");
  }
  return asprintf(&out, "%s/%s", runs_dir, rel) < 0 ? NULL : out;
}

lr_status lr_results_adapters(lr_store *s, int64_t run_id, long member, lr_adapter_fn fn,
                              void *ctx, lr_err *err) {
  sqlite3_stmt *st = NULL;
  char *runs_dir = NULL;
  int step = SQLITE_DONE;
  lr_status rc = lr_store_prepare(s,
                                  "SELECT m.member, m.adapter_path, r.run_key FROM members AS m "
                                  "JOIN runs AS r ON r.id = m.run_id WHERE m.run_id = ?1 AND "
                                  "(?2 < 0 OR m.member = ?2) ORDER BY m.member",
                                  &st, err);
  if (rc == LR_OK)
    rc = lr_store_runs_dir(s, &runs_dir, err);
  if (rc == LR_OK) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, member);
  }
  while (rc == LR_OK && (step = lr_store_step(s, st, "reading the adapters", err)) == SQLITE_ROW) {
    const char *stored = (const char *)sqlite3_column_text(st, 1);
    char *dir = NULL;
    if (stored && (dir = adapter_dir(runs_dir, (const char *)sqlite3_column_text(st, 2),
                                     stored)) == NULL)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    if (rc == LR_OK)
      rc = fn(ctx, (long)sqlite3_column_int64(st, 0), dir, err);
    free(dir);
  }
  if (rc == LR_OK && step < 0)
    rc = err->code;
  sqlite3_finalize(st);
  free(runs_dir);
  return rc;
}
