/*
 * store-slurm.c: the records of Slurm submissions (store-slurm.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/buf.h"
#include "base/proc-util.h"
#include "store/store-slurm.h"

lr_status lr_slurm_record(lr_store *s, int64_t sweep_id, long job_id, const char *submission,
                          size_t first_task, size_t n_tasks, char *const *const *task_keys,
                          const size_t *task_runs, lr_err *err) {
  sqlite3 *db = lr_store_db(s);
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_begin(s, err);
  if (rc != LR_OK)
    return rc;
  if (sqlite3_prepare_v2(db, "INSERT INTO slurm_jobs (job_id, sweep_id, submission, first_task, "
                             "n_tasks, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         -1, &st, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int64(st, 2, sweep_id);
  sqlite3_bind_text(st, 3, submission, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)first_task);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)n_tasks);
  sqlite3_bind_double(st, 6, lr_wall_time());
  if (sqlite3_step(st) != SQLITE_DONE)
    goto fail;
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO slurm_task_runs VALUES (?1, ?2, ?3)", -1,
                         &st, NULL) != SQLITE_OK)
    goto fail;
  for (size_t t = first_task; t < first_task + n_tasks; t++)
    for (size_t r = 0; r < task_runs[t]; r++) {
      sqlite3_bind_text(st, 1, submission, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, (sqlite3_int64)t);
      sqlite3_bind_text(st, 3, task_keys[t][r], -1, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
      sqlite3_reset(st);
    }
  sqlite3_finalize(st);
  return lr_store_commit(s, err);
fail:
  rc = lr_store_fail(s, err, "recording the submitted array");
  sqlite3_finalize(st);
  lr_store_rollback(s);
  return rc;
}

lr_status lr_slurm_jobs(lr_store *s, lr_slurm_job **out, size_t *n, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = LR_OK;
  *out = NULL;
  *n = 0;
  if (lr_store_file_version(s) < 2)
    return LR_OK;
  if ((rc = lr_store_prepare(s, "SELECT job_id, first_task, n_tasks, submission FROM slurm_jobs "
                                "ORDER BY id", &st, err)) != LR_OK)
    return rc;
  int step = SQLITE_DONE;
  size_t cap = 0;
  while (rc == LR_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = LR_GROW(*out, cap, *n + 1, err)) != LR_OK)
      break;
    (*out)[*n] = (lr_slurm_job){(long)sqlite3_column_int64(st, 0),
                                (long)sqlite3_column_int64(st, 1),
                                (long)sqlite3_column_int64(st, 2),
                                strdup((const char *)sqlite3_column_text(st, 3))};
    if ((*out)[(*n)++].submission == NULL)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  }
  if (rc == LR_OK && step != SQLITE_DONE)
    rc = lr_store_fail(s, err, "listing the submitted arrays");
  sqlite3_finalize(st);
  return rc;
}

void lr_slurm_jobs_free(lr_slurm_job *jobs, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(jobs[i].submission);
  free(jobs);
}

/* A run is live when a task that carries it maps, through its array's first task, to a live
 * (job id, array index). */
static const char unfinished_sql[] =
    "SELECT r.run_key, "
    "  EXISTS (SELECT 1 FROM slurm_task_runs AS t WHERE t.run_key = r.run_key), "
    "  EXISTS (SELECT 1 FROM slurm_task_runs AS t JOIN slurm_jobs AS j "
    "          ON j.submission = t.submission AND t.task >= j.first_task "
    "          AND t.task < j.first_task + j.n_tasks "
    "          JOIN temp.live_tasks AS l ON l.job_id = j.job_id "
    "          AND l.idx = t.task - j.first_task WHERE t.run_key = r.run_key) "
    "FROM runs AS r JOIN sweep_runs AS sr ON sr.run_id = r.id "
    "WHERE sr.sweep_id = ?1 AND r.status NOT IN ('done', 'diverged') ORDER BY r.id";

lr_status lr_slurm_unfinished(lr_store *s, int64_t sweep_id, const long *job_ids,
                              const long *indices, size_t n_live, lr_unfinished_run **out,
                              size_t *n, lr_err *err) {
  sqlite3 *db = lr_store_db(s);
  sqlite3_stmt *st = NULL;
  lr_status rc = lr_store_exec(s, "DROP TABLE IF EXISTS temp.live_tasks;"
                               "CREATE TEMP TABLE live_tasks (job_id INTEGER, idx INTEGER);", err);
  *out = NULL;
  *n = 0;
  if (rc != LR_OK)
    return rc;
  if (sqlite3_prepare_v2(db, "INSERT INTO live_tasks VALUES (?1, ?2)", -1, &st, NULL) != SQLITE_OK)
    return lr_store_fail(s, err, "listing the live tasks");
  for (size_t i = 0; i < n_live; i++) {
    sqlite3_bind_int64(st, 1, job_ids[i]);
    sqlite3_bind_int64(st, 2, indices[i]);
    if (sqlite3_step(st) != SQLITE_DONE) {
      rc = lr_store_fail(s, err, "listing the live tasks");
      break;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc == LR_OK && (rc = lr_store_prepare(s, unfinished_sql, &st, err)) == LR_OK) {
    sqlite3_bind_int64(st, 1, sweep_id);
    int step = SQLITE_DONE;
    size_t cap = 0;
    while (rc == LR_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
      lr_unfinished_run *u;
      if ((rc = LR_GROW(*out, cap, *n + 1, err)) != LR_OK)
        break;
      u = &(*out)[(*n)++];
      snprintf(u->run_key, sizeof u->run_key, "%s", (const char *)sqlite3_column_text(st, 0));
      u->submitted = sqlite3_column_int(st, 1) != 0;
      u->live = sqlite3_column_int(st, 2) != 0;
    }
    if (rc == LR_OK && step != SQLITE_DONE) /* a busy or damaged database is not "no more" */
      rc = lr_store_fail(s, err, "listing the unfinished runs");
  }
  sqlite3_finalize(st);
  lr_store_exec(s, "DROP TABLE IF EXISTS temp.live_tasks", &(lr_err){0});
  return rc;
}
