/*
 * test-store.c: the results database: creating, reopening, migrating from every earlier schema
 * version, refusing files that are not ours or are too new, the schema's constraints and cascades,
 * the value conventions (uint64 seeds, non-finite metrics) and views scripts; and the readers that
 * keep SQL inside the store (typed rows, the reads of status, query, export, summary and workers).
 */
#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store-query.h"
#include "store/store-results.h"
#include "store/store-runs.h"
#include "store/store-status.h"
#include "store/store.h"
#include "../tap.h"
#include "../tmpdir.h"

static char root[1024];

/*
 * Rows valid at each schema version, inserted into a database at that version before migrating it
 * to the latest.  fixtures[k] may use only what migrations 1..k created.  Adding migration N
 * means adding fixtures[N] here (the migration test fails until then).
 */
static const char *const fixtures[] = {
    /* 0: an empty database has no tables. */
    "",
    /* 1 */
    "INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)"
    "  VALUES (1, 'demo', 'experiments/demo.yaml', '/home/r', 'name: demo', 'ab12', '0.1.0');"
    "INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,"
    "  ensemble_size, seed, randomness, lr, backend, status, attempts)"
    "  VALUES (1, 'k1', 1, '{}', 'arc-easy', 'none', 0, 8, 2, 0, 'all', 1e-4, 'cpu', 'done', 1),"
    "         (2, 'k2', 1, '{}', 'arc-easy', 'l2', 0.1, 8, 2, 1, 'init', 1e-4, 'cpu', 'pending', 0);"
    "INSERT INTO sweep_runs VALUES (1, 1), (1, 2);"
    "INSERT INTO members (run_id, member, init_seed, data_seed, dropout_seed)"
    "  VALUES (1, 0, 1, 2, -3), (1, 1, 4, 5, 6);"
    "INSERT INTO train_log (run_id, member, epoch, step, loss, finite) VALUES (1, 0, 0, 1, 1.5, 1);"
    "INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, n, accuracy, finite)"
    "  VALUES (1, 'ensemble', 2, 0, 'eval', 'arc-easy', 10, 0.5, 1);"
    "INSERT INTO predictions (run_id, member, epoch, split, dataset, example, label, pred, probs)"
    "  VALUES (1, 0, 0, 'eval', 'arc-easy', 0, 1, 1, '[0.25,0.75]');",
    /* 2: Slurm submissions */
    "INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)"
    "  VALUES (1, 'demo', 'experiments/demo.yaml', '/home/r', 'name: demo', 'ab12', '0.1.0');"
    "INSERT INTO slurm_jobs (job_id, sweep_id, submission, first_task, n_tasks, submitted_at)"
    "  VALUES (81234, 1, '/shared/shards/demo-20261204-101500-42', 0, 2, 1733300000.5);"
    "INSERT INTO slurm_task_runs VALUES ('/shared/shards/demo-20261204-101500-42', 0, 'k1'),"
    "  ('/shared/shards/demo-20261204-101500-42', 1, 'k2');",
};

static char *path_in(char *buf, size_t n, const char *name) {
  return tmpdir_path(buf, n, root, name);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* The first column of the first row, as an integer (LLONG_MIN on any error). */
static long long int_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long v = INT64_MIN;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The first column of the first row, as text, into buf ("" on error). */
static const char *text_of(sqlite3 *db, const char *sql, char *buf, size_t n) {
  sqlite3_stmt *st = NULL;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0))
    snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static const char *formatted(const lr_err *e) {
  static char buf[LR_ERR_FILE_MAX + LR_ERR_MSG_MAX + 8];
  lr_err_format(e, buf, sizeof buf);
  return buf;
}

/* A raw connection, for building databases lr_store_open would not make. */
static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    tap_diag("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static bool raw_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    tap_diag("SQL failed: %s", msg ? msg : "?");
    sqlite3_free(msg);
    return false;
  }
  return true;
}

/* The schema as text: every object's type, name and SQL with white space runs squeezed. */
static char *schema_text(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  size_t len = 0, cap = 1 << 16;
  char *out = calloc(1, cap);
  if (out == NULL ||
      sqlite3_prepare_v2(db, "SELECT type, name, coalesce(sql, '') FROM sqlite_schema "
                             "ORDER BY type, name", -1, &st, NULL) != SQLITE_OK)
    return out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char line[8192];
    int n = snprintf(line, sizeof line, "%s %s ", (const char *)sqlite3_column_text(st, 0),
                     (const char *)sqlite3_column_text(st, 1));
    bool space = false;
    for (const char *p = (const char *)sqlite3_column_text(st, 2); *p && n + 2 < (int)sizeof line;
         p++) {
      if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        space = true;
        continue;
      }
      if (space)
        line[n++] = ' ';
      space = false;
      line[n++] = *p;
    }
    line[n++] = '\n';
    line[n] = '\0';
    while (len + (size_t)n + 1 > cap) {
      char *bigger = realloc(out, cap *= 2);
      if (bigger == NULL)
        break;
      out = bigger;
    }
    if (len + (size_t)n + 1 <= cap) {
      memcpy(out + len, line, (size_t)n + 1);
      len += (size_t)n;
    }
  }
  sqlite3_finalize(st);
  return out;
}

/* ---- create, reopen, settings -------------------------------------------------------------------- */

static void test_create_and_reopen(void) {
  char path[1200], buf[64];
  lr_store *s = NULL;
  lr_err err;
  sqlite3 *db;
  int latest = lr_store_schema_version();
  path_in(path, sizeof path, "new.db");
  tap_ok(latest >= 1, "the embedded schema has migrations (latest %d)", latest);
  lr_err_init(&err);
  tap_is_int(lr_store_script_version(lr_schema_sql, "db/schema.sql", &err), latest,
             "lr_store_schema_version counts the embedded script's migrations");

  lr_err_init(&err);
  if (!tap_is_int(lr_store_open(path, LR_STORE_CREATE, &s, &err), LR_OK, "a new database opens"))
    tap_diag("%s", formatted(&err));
  if (s == NULL)
    return;
  db = lr_store_db(s);
  tap_is_str(lr_store_path(s), path, "the store keeps its path");
  tap_is_int(lr_store_file_version(s), latest, "a new database is at the latest version");
  tap_is_int(int_of(db, "PRAGMA user_version"), latest, "PRAGMA user_version is the latest");
  tap_is_int(int_of(db, "SELECT version FROM schema_version"), latest,
             "schema_version holds the latest version");
  tap_is_int(int_of(db, "SELECT count(*) FROM schema_version"), 1, "schema_version has one row");
  tap_is_int(int_of(db, "PRAGMA application_id"), LR_STORE_APPLICATION_ID,
             "the application_id marks the file as lorens'");
  tap_is_str(text_of(db, "PRAGMA journal_mode", buf, sizeof buf), "wal", "WAL mode is on");
  tap_is_int(int_of(db, "PRAGMA foreign_keys"), 1, "foreign keys are on");
  tap_is_int(int_of(db, "PRAGMA synchronous"), 1, "synchronous is NORMAL");
  tap_is_int(int_of(db, "PRAGMA busy_timeout"), LR_STORE_BUSY_TIMEOUT_MS, "the busy timeout is set");
  tap_is_int(int_of(db, "SELECT count(*) FROM run_status_counts"), 6,
             "run_status_counts lists all six statuses");
  lr_store_close(s);

  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_OK, "it reopens without LR_STORE_CREATE");
  if (s) {
    tap_is_int(lr_store_file_version(s), latest, "at the latest version");
    tap_is_int(int_of(lr_store_db(s), "SELECT count(*) FROM schema_version"), 1,
               "reopening adds no schema_version row");
  }
  lr_store_close(s);

  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_OK, "it opens read-only");
  if (s) {
    tap_is_int(lr_store_exec(s, "INSERT INTO schema_version VALUES (9)", &err), LR_EIO,
               "a read-only store refuses writes");
    tap_like(formatted(&err), "attempt to write a readonly database", "with SQLite's message");
    tap_like(formatted(&err), path, "naming the file");
  }
  lr_store_close(s);
  lr_store_close(NULL);
}

static void test_missing(void) {
  char path[1200];
  lr_store *s = (lr_store *)1;
  lr_err err;
  path_in(path, sizeof path, "missing.db");

  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_ENOTFOUND,
             "a read-only open of a missing file fails");
  tap_ok(s == NULL, "and gives no store");
  tap_like(formatted(&err), "missing.db: does not exist", "saying the file does not exist");
  tap_ok(!exists(path), "and does not create it");

  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY | LR_STORE_CREATE, &s, &err), LR_ENOTFOUND,
             "read-only wins over LR_STORE_CREATE");
  tap_ok(!exists(path), "still nothing created");

  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_ENOTFOUND,
             "a writable open without LR_STORE_CREATE fails on a missing file");
  tap_ok(!exists(path), "without creating it");
}

/* ---- migrations ---------------------------------------------------------------------------------- */

/* Row counts of every table of db, as "name=count;..." in name order. */
static void table_counts(sqlite3 *db, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  size_t used = 0;
  out[0] = '\0';
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  while (sqlite3_step(st) == SQLITE_ROW && used < n) {
    char sql[256];
    const char *name = (const char *)sqlite3_column_text(st, 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", name);
    used += (size_t)snprintf(out + used, n - used, "%s=%lld;", name, int_of(db, sql));
  }
  sqlite3_finalize(st);
}

/* Does every table of `before` still have at least its rows in `after`? Both from table_counts. */
static bool rows_kept(const char *before, const char *after) {
  char item[256];
  for (const char *p = before; *p;) {
    const char *semi = strchr(p, ';'), *eq = strchr(p, '=');
    size_t len = (size_t)(eq - p);
    const char *q;
    if (semi == NULL || eq == NULL || len + 2 > sizeof item)
      return false;
    memcpy(item, p, len + 1); /* "name=" */
    item[len + 1] = '\0';
    q = strstr(after, item);
    while (q && q != after && q[-1] != ';')
      q = strstr(q + 1, item);
    if (q == NULL || atoll(q + len + 1) < atoll(eq + 1))
      return false;
    p = semi + 1;
  }
  return true;
}

static void test_migrations_from_every_version(void) {
  int latest = lr_store_schema_version();
  char fresh_path[1200];
  char *fresh_schema = NULL;
  lr_store *s = NULL;
  lr_err err;
  tap_ok((int)LR_ARRAY_LEN(fixtures) > latest,
         "every schema version has fixture rows in this test (%d of %d)",
         (int)LR_ARRAY_LEN(fixtures) - 1, latest);
  path_in(fresh_path, sizeof fresh_path, "fresh.db");
  lr_err_init(&err);
  if (lr_store_open(fresh_path, LR_STORE_CREATE, &s, &err) == LR_OK)
    fresh_schema = schema_text(lr_store_db(s));
  lr_store_close(s);

  /* Version latest too: opening a current database must change nothing. */
  for (int k = 0; k <= latest && k < (int)LR_ARRAY_LEN(fixtures); k++) {
    char path[1200], name[64], before[2048], after[2048], buf[64];
    sqlite3 *db;
    char *schema;
    snprintf(name, sizeof name, "v%d.db", k);
    path_in(path, sizeof path, name);
    db = raw_open(path);
    if (db == NULL)
      continue;
    lr_err_init(&err);
    if (!tap_is_int(lr_store_migrate_to(db, k, path, &err), LR_OK, "v%d: migrations 1..%d run", k,
                    k))
      tap_diag("%s", formatted(&err));
    tap_is_int(int_of(db, "PRAGMA user_version"), k, "v%d: the file is at version %d", k, k);
    tap_ok(raw_exec(db, fixtures[k]), "v%d: rows valid at version %d go in", k, k);
    table_counts(db, before, sizeof before);
    sqlite3_close(db);

    lr_err_init(&err);
    if (!tap_is_int(lr_store_open(path, 0, &s, &err), LR_OK, "v%d: lr_store_open migrates it", k))
      tap_diag("%s", formatted(&err));
    if (s == NULL)
      continue;
    db = lr_store_db(s);
    tap_is_int(lr_store_file_version(s), latest, "v%d: now at the latest version", k);
    tap_is_int(int_of(db, "PRAGMA user_version"), latest, "v%d: user_version is the latest", k);
    tap_is_int(int_of(db, "SELECT version FROM schema_version"), latest,
               "v%d: schema_version is the latest", k);
    tap_is_str(text_of(db, "PRAGMA integrity_check", buf, sizeof buf), "ok",
               "v%d: integrity_check is ok", k);
    tap_is_int(int_of(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0,
               "v%d: foreign_key_check finds nothing", k);
    table_counts(db, after, sizeof after);
    if (!tap_ok(rows_kept(before, after), "v%d: every row is still there", k))
      tap_diag("before %s, after %s", before, after);
    schema = schema_text(db);
    tap_is_str(schema, fresh_schema ? fresh_schema : "(none)",
               "v%d: the schema is a fresh database's", k);
    free(schema);
    lr_store_close(s);
  }
  free(fresh_schema);
}

/* A script of three migrations, the second run by a later call, and failures. */
static void test_migration_engine(void) {
  static const char good[] =
      "-- header\n"
      "-- migration 1: first\n"
      "CREATE TABLE schema_version (version INTEGER NOT NULL);\n"
      "CREATE TABLE a (x INTEGER PRIMARY KEY);\n"
      "-- migration 2: second\n"
      "CREATE TABLE b (y INTEGER REFERENCES a (x));\n"
      "INSERT INTO a VALUES (1);\n"
      "-- migration 3: third\n"
      "ALTER TABLE a ADD COLUMN z TEXT;\n";
  static const char failing[] =
      "-- migration 1: first\n"
      "CREATE TABLE schema_version (version INTEGER NOT NULL);\n"
      "CREATE TABLE a (x INTEGER PRIMARY KEY);\n"
      "-- migration 2: half good\n"
      "CREATE TABLE c (q INTEGER);\n"
      "\n"
      "/* a comment */ INSERT INTO nowhere VALUES (1);\n";
  static const char dangling[] =
      "-- migration 1: first\n"
      "CREATE TABLE schema_version (version INTEGER NOT NULL);\n"
      "CREATE TABLE a (x INTEGER PRIMARY KEY);\n"
      "CREATE TABLE b (y INTEGER REFERENCES a (x));\n"
      "-- migration 2: bad reference\n"
      "INSERT INTO b VALUES (42);\n";
  char path[1200];
  sqlite3 *db;
  lr_err err;

  lr_err_init(&err);
  tap_is_int(lr_store_script_version(good, "good.sql", &err), 3, "a script's migrations counted");
  tap_is_int(lr_store_script_version("-- migration 1: a\n-- migration 3: b\n", "gap.sql", &err), -1,
             "a gap in the migration numbers is refused");
  tap_is_str(formatted(&err), "gap.sql:2: migration 3 follows migration 1 (want 2)",
             "naming the line and the numbers");
  lr_err_init(&err);
  tap_is_int(lr_store_script_version("\n-- migration one: a\n", "bad.sql", &err), -1,
             "a malformed marker is refused");
  tap_like(formatted(&err), "bad.sql:2: malformed migration marker", "naming its line");

  path_in(path, sizeof path, "engine.db");
  if ((db = raw_open(path)) == NULL)
    return;
  lr_err_init(&err);
  if (!tap_is_int(lr_store_migrate_script(db, good, "good.sql", 2, path, &err), LR_OK,
                  "migrate to 2"))
    tap_diag("%s", formatted(&err));
  tap_is_int(int_of(db, "PRAGMA user_version"), 2, "user_version 2");
  tap_is_int(int_of(db, "SELECT version FROM schema_version"), 2, "schema_version 2");
  tap_is_int(int_of(db, "SELECT count(*) FROM a"), 1, "migration 2 ran");
  tap_is_int(int_of(db, "SELECT count(*) FROM pragma_table_info('a') WHERE name = 'z'"), 0,
             "migration 3 did not");
  tap_is_int(lr_store_migrate_script(db, good, "good.sql", 3, path, &err), LR_OK, "then to 3");
  tap_is_int(int_of(db, "SELECT count(*) FROM pragma_table_info('a') WHERE name = 'z'"), 1,
             "migration 3 ran");
  tap_is_int(int_of(db, "SELECT count(*) FROM schema_version"), 1, "schema_version keeps one row");
  tap_is_int(lr_store_migrate_script(db, good, "good.sql", 4, path, &err), LR_EINVAL,
             "a version beyond the script is refused");
  sqlite3_close(db);

  path_in(path, sizeof path, "failing.db");
  if ((db = raw_open(path)) == NULL)
    return;
  lr_err_init(&err);
  tap_is_int(lr_store_migrate_script(db, failing, "failing.sql", 2, path, &err), LR_EIO,
             "a failing migration fails");
  tap_like(formatted(&err), "failing.db: migration 2 (failing.sql:7): no such table: nowhere",
           "naming the file, the migration, the script line and SQLite's message");
  tap_is_int(int_of(db, "PRAGMA user_version"), 1, "the migrations before it stay");
  tap_is_int(int_of(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"), 0,
             "nothing of the failed migration is left");
  sqlite3_close(db);

  path_in(path, sizeof path, "dangling.db");
  if ((db = raw_open(path)) == NULL)
    return;
  raw_exec(db, "PRAGMA foreign_keys = ON");
  lr_err_init(&err);
  tap_is_int(lr_store_migrate_script(db, dangling, "dangling.sql", 2, path, &err), LR_EINVAL,
             "a migration leaving dangling foreign keys fails");
  tap_like(formatted(&err), "migration 2 leaves 1 rows whose foreign keys point nowhere",
           "and says so");
  tap_is_int(int_of(db, "PRAGMA user_version"), 1, "it is rolled back");
  tap_is_int(int_of(db, "SELECT count(*) FROM b"), 0, "with its rows");
  tap_is_int(int_of(db, "PRAGMA foreign_keys"), 1, "foreign keys are back on afterwards");
  sqlite3_close(db);
}

/* ---- refusals ------------------------------------------------------------------------------------ */

static void test_too_new(void) {
  char path[1200], sql[200], buf[64], want[1400];
  int latest = lr_store_schema_version();
  lr_store *s = NULL;
  sqlite3 *db;
  lr_err err;
  path_in(path, sizeof path, "newer.db");
  if ((db = raw_open(path)) == NULL)
    return;
  lr_store_migrate_to(db, latest, path, NULL);
  snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d; PRAGMA user_version = %d;",
           latest + 1, latest + 1);
  raw_exec(db, sql);
  sqlite3_close(db);

  snprintf(want, sizeof want,
           "%s: written by a newer lorens: schema version %d, and this lorens knows versions up "
           "to %d; upgrade lorens to open it", path, latest + 1, latest);
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_EUNSUPPORTED,
             "a database from a newer lorens is refused");
  tap_is_str(formatted(&err), want, "naming the file and both versions");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_EUNSUPPORTED,
             "read-only too");
  if ((db = raw_open(path)) != NULL) {
    tap_is_str(text_of(db, "PRAGMA journal_mode", buf, sizeof buf), "delete",
               "the refused file was not switched to WAL");
    tap_is_int(int_of(db, "PRAGMA user_version"), latest + 1, "nor migrated");
    sqlite3_close(db);
  }
}

static void test_not_lorens(void) {
  char path[1200], buf[64];
  lr_store *s = NULL;
  sqlite3 *db;
  lr_err err;

  tmpdir_write(root, "text.db", "name: this is YAML, not SQLite\nand it goes on for a while\n");
  path_in(path, sizeof path, "text.db");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_EINVAL, "a text file is refused");
  tap_like(formatted(&err), "text.db: not a lorens database (not an SQLite file)", "plainly");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_EINVAL, "read-only too");

  path_in(path, sizeof path, "other.db");
  if ((db = raw_open(path)) == NULL)
    return;
  raw_exec(db, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');");
  sqlite3_close(db);
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_CREATE, &s, &err), LR_EINVAL,
             "another program's SQLite database is refused");
  tap_like(formatted(&err), "other.db: not a lorens database (no lorens application_id)",
           "saying it is not a lorens database");
  if ((db = raw_open(path)) != NULL) {
    tap_is_str(text_of(db, "PRAGMA journal_mode", buf, sizeof buf), "delete",
               "it was not switched to WAL");
    tap_is_int(int_of(db, "SELECT count(*) FROM sqlite_schema"), 1, "nor given our tables");
    raw_exec(db, "PRAGMA application_id = 42; PRAGMA user_version = 1;");
    sqlite3_close(db);
  }
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_EINVAL,
             "a database with another application_id is refused");
  tap_like(formatted(&err), "not a lorens database (another program's application_id)", "so");

  tmpdir_write(root, "empty.db", "");
  path_in(path, sizeof path, "empty.db");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, LR_STORE_READONLY, &s, &err), LR_EINVAL,
             "an empty file is refused read-only");
  tap_like(formatted(&err), "empty.db: not a lorens database (empty)", "as empty");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_OK, "an empty file is initialized writable");
  lr_store_close(s);

  path_in(path, sizeof path, "damaged.db");
  if ((db = raw_open(path)) == NULL)
    return;
  lr_store_migrate_to(db, lr_store_schema_version(), path, NULL);
  raw_exec(db, "UPDATE schema_version SET version = 0");
  sqlite3_close(db);
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &s, &err), LR_EINVAL, "disagreeing versions are refused");
  tap_like(formatted(&err), "damaged: PRAGMA user_version is ", "naming user_version");
  tap_like(formatted(&err), " but schema_version says 0", "and schema_version");
}

/* ---- the schema's rules -------------------------------------------------------------------------- */

static lr_store *open_fixture(const char *name) {
  char path[1200];
  lr_store *s = NULL;
  lr_err err;
  lr_err_init(&err);
  path_in(path, sizeof path, name);
  if (lr_store_open(path, LR_STORE_CREATE, &s, &err) != LR_OK) {
    tap_diag("%s", formatted(&err));
    return NULL;
  }
  if (lr_store_exec(s, fixtures[1], &err) != LR_OK)
    tap_diag("%s", formatted(&err));
  return s;
}

/* Expects sql to fail with a message containing `want`. */
static void refused(lr_store *s, const char *sql, const char *want, const char *name) {
  lr_err err;
  lr_err_init(&err);
  tap_is_int(lr_store_exec(s, sql, &err), LR_EINVAL, "%s is rejected", name);
  tap_like(formatted(&err), want, "%s: SQLite says why", name);
}

static void test_constraints(void) {
  lr_store *s = open_fixture("rules.db");
  if (s == NULL)
    return;
  refused(s, "UPDATE runs SET status = 'finished' WHERE id = 1", "CHECK constraint failed",
          "an unknown run status");
  refused(s, "INSERT INTO runs (run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,"
             " ensemble_size, seed, randomness, lr, backend) VALUES ('k1', 1, '{}', 'd', 'none', 0,"
             " 8, 2, 0, 'all', 0.1, 'cpu')",
          "UNIQUE constraint failed: runs.run_key", "a duplicate run_key");
  refused(s, "INSERT INTO runs (run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,"
             " ensemble_size, seed, randomness, lr, backend) VALUES ('k9', 7, '{}', 'd', 'none', 0,"
             " 8, 2, 0, 'all', 0.1, 'cpu')",
          "FOREIGN KEY constraint failed", "a run of a missing sweep");
  refused(s, "UPDATE runs SET rank = 'eight' WHERE id = 1",
          "cannot store TEXT value in INTEGER column runs.rank", "text in an integer column");
  refused(s, "INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, n, accuracy, finite)"
             " VALUES (1, 'ensemble', 2, 0, 'eval', 'arc-easy', 10, 0.6, 1)",
          "UNIQUE constraint failed: evaluations.run_id", "a second identical evaluation");
  refused(s, "INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, n, finite)"
             " VALUES (1, 'mean', 0, 0, 'eval', 'arc-easy', 10, 1)",
          "CHECK constraint failed", "an unknown evaluation kind");
  refused(s, "INSERT INTO train_log (run_id, member, epoch, step, finite) VALUES (1, 0, 0, 2, 2)",
          "CHECK constraint failed", "a finite flag other than 0 or 1");
  refused(s, "INSERT INTO members (run_id, member, init_seed, data_seed, dropout_seed)"
             " VALUES (1, -1, 0, 0, 0)", "CHECK constraint failed", "a negative member index");
  refused(s, "INSERT INTO sweeps (name, path, base_dir, yaml, yaml_sha256, lorens_version)"
             " VALUES ('demo', 'x.yaml', '/', 'other', 'ab12', '0.1.0')",
          "UNIQUE constraint failed: sweeps.name, sweeps.yaml_sha256", "the same sweep twice");

  {
    lr_err err;
    lr_err_init(&err);
    tap_is_int(lr_store_exec(s, "INSERT INTO evaluations (run_id, kind, idx, selection, epoch, "
                                "split, dataset, n, finite) VALUES (1, 'ensemble', 2, 'best', 0, "
                                "'eval', 'arc-easy', 10, 1)", &err),
               LR_OK, "the same evaluation with selection 'best' is another row");
    tap_like(text_of(lr_store_db(s), "SELECT created_at FROM sweeps", (char[64]){0}, 64), "Z",
             "sweeps.created_at defaults to UTC ISO 8601 time");
  }
  lr_store_close(s);
}

static void test_cascades(void) {
  lr_store *s = open_fixture("cascade.db");
  sqlite3 *db;
  lr_err err;
  if (s == NULL)
    return;
  db = lr_store_db(s);
  lr_err_init(&err);
  tap_is_int(lr_store_exec(s, "DELETE FROM runs WHERE id = 1", &err), LR_OK, "a run is deleted");
  tap_is_int(int_of(db, "SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM train_log)"
                        " + (SELECT count(*) FROM evaluations)"
                        " + (SELECT count(*) FROM predictions)"),
             0, "its members, train log, evaluations and predictions go with it");
  tap_is_int(int_of(db, "SELECT count(*) FROM sweep_runs"), 1, "and its sweep membership");
  tap_is_int(int_of(db, "SELECT count(*) FROM runs"), 1, "the other run stays");
  refused(s, "DELETE FROM sweeps WHERE id = 1", "FOREIGN KEY constraint failed",
          "deleting a sweep that still owns runs");
  lr_store_close(s);
}

/* ---- value conventions and transactions ---------------------------------------------------------- */

static void test_values(void) {
  lr_store *s = open_fixture("values.db");
  sqlite3_stmt *st = NULL;
  bool finite = true;
  lr_err err;
  if (s == NULL)
    return;
  lr_err_init(&err);
  if (lr_store_prepare(s, "INSERT INTO members (run_id, member, init_seed, data_seed, dropout_seed)"
                          " VALUES (2, 0, ?, ?, ?)", &st, &err) == LR_OK) {
    lr_store_bind_u64(st, 1, UINT64_MAX);
    lr_store_bind_u64(st, 2, UINT64_C(1) << 63);
    lr_store_bind_u64(st, 3, 12345);
    tap_is_int(lr_store_step(s, st, "inserting a member", &err), SQLITE_DONE, "uint64 seeds go in");
  }
  sqlite3_finalize(st);
  st = NULL;
  tap_is_int(int_of(lr_store_db(s), "SELECT init_seed FROM members WHERE run_id = 2"), -1,
             "2^64-1 is stored as -1 (its bit pattern)");
  tap_is_int(int_of(lr_store_db(s), "SELECT data_seed FROM members WHERE run_id = 2"), INT64_MIN,
             "2^63 is stored as INT64_MIN");
  if (lr_store_prepare(s, "SELECT init_seed, data_seed, dropout_seed FROM members WHERE run_id = 2",
                       &st, &err) == LR_OK && sqlite3_step(st) == SQLITE_ROW) {
    tap_ok(lr_store_column_u64(st, 0) == UINT64_MAX, "2^64-1 reads back");
    tap_ok(lr_store_column_u64(st, 1) == UINT64_C(1) << 63, "2^63 reads back");
    tap_ok(lr_store_column_u64(st, 2) == 12345, "a small seed reads back");
  }
  sqlite3_finalize(st);
  st = NULL;

  if (lr_store_prepare(s, "INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, n,"
                          " accuracy, nll, ece, finite) VALUES (2, 'member', 0, 1, 'validation',"
                          " 'arc-easy', 5, ?, ?, ?, ?)", &st, &err) == LR_OK) {
    lr_store_bind_metric(st, 1, 0.8, &finite);
    tap_ok(finite, "a finite metric leaves the flag set");
    lr_store_bind_metric(st, 2, NAN, &finite);
    tap_ok(!finite, "NaN clears it");
    lr_store_bind_metric(st, 3, INFINITY, &finite);
    sqlite3_bind_int(st, 4, finite);
    tap_is_int(lr_store_step(s, st, "inserting an evaluation", &err), SQLITE_DONE,
               "an evaluation with a NaN metric goes in");
  }
  sqlite3_finalize(st);
  st = NULL;
  if (lr_store_prepare(s, "SELECT accuracy, nll, ece, finite FROM evaluations WHERE run_id = 2",
                       &st, &err) == LR_OK && sqlite3_step(st) == SQLITE_ROW) {
    tap_is_near(sqlite3_column_double(st, 0), 0.8, 0, 0, "the finite metric round-trips");
    tap_is_int(sqlite3_column_type(st, 1), SQLITE_NULL, "NaN comes back as NULL");
    tap_ok(isinf(sqlite3_column_double(st, 2)), "infinity comes back as infinity");
    tap_is_int(sqlite3_column_int(st, 3), 0, "the finite flag says 0");
  }
  sqlite3_finalize(st);

  lr_err_init(&err);
  tap_is_int(lr_store_prepare(s, "SELECT x FROM nowhere", &st, &err), LR_EIO,
             "a bad statement fails to prepare");
  tap_like(formatted(&err), "values.db: preparing SQL: no such table: nowhere (SELECT x FROM nowhere)",
           "naming the file, SQLite's message and the SQL");
  lr_store_close(s);
}

static void test_transactions(void) {
  char path[1200];
  lr_store *s = open_fixture("tx.db"), *other = NULL;
  sqlite3 *db;
  lr_err err;
  if (s == NULL)
    return;
  db = lr_store_db(s);
  lr_err_init(&err);
  tap_is_int(lr_store_begin(s, &err), LR_OK, "begin");
  lr_store_exec(s, "UPDATE runs SET status = 'running' WHERE id = 2", &err);
  lr_store_rollback(s);
  tap_is_int(int_of(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 0,
             "a rolled-back change is gone");
  lr_store_rollback(s);
  tap_ok(true, "a rollback outside a transaction is harmless");

  lr_store_begin(s, &err);
  lr_store_exec(s, "UPDATE runs SET status = 'running' WHERE id = 2", &err);
  tap_is_int(lr_store_commit(s, &err), LR_OK, "commit");
  tap_is_int(int_of(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1,
             "a committed change stays");

  path_in(path, sizeof path, "tx.db");
  lr_err_init(&err);
  tap_is_int(lr_store_open(path, 0, &other, &err), LR_OK, "a second connection opens");
  if (other) {
    sqlite3_busy_timeout(lr_store_db(other), 0); /* do not wait 30 s in a test */
    lr_store_begin(s, &err);
    tap_is_int(lr_store_begin(other, &err), LR_EIO, "a second writer cannot take the lock");
    tap_like(formatted(&err), "tx.db: starting a transaction: database is locked",
             "and says the database is locked");
    lr_store_rollback(s);
    lr_err_init(&err);
    tap_is_int(lr_store_begin(other, &err), LR_OK, "once the first lets go, it can");
    lr_store_commit(other, &err);
  }
  lr_store_close(other);
  lr_store_begin(s, &err);
  lr_store_exec(s, "UPDATE runs SET status = 'failed' WHERE id = 2", &err);
  lr_store_close(s); /* with the transaction open */
  lr_err_init(&err);
  if (lr_store_open(path, LR_STORE_READONLY, &s, &err) == LR_OK) {
    tap_is_int(int_of(lr_store_db(s), "SELECT count(*) FROM runs WHERE status = 'failed'"), 0,
               "closing with a transaction open rolls it back");
    lr_store_close(s);
  }
}

/* Processes opening one new file at the same moment (a scheduler and its workers starting) must
 * all succeed, and the schema must be created once. */
static void test_leave_wal(void) {
  char path[1200], side[1300], buf[64];
  lr_store *a = NULL, *b = NULL;
  sqlite3 *db;
  lr_err err;
  path_in(path, sizeof path, "leave.db");
  lr_err_init(&err);
  lr_store_open(path, LR_STORE_CREATE, &a, &err);
  lr_store_open(path, LR_STORE_READONLY, &b, &err);
  if (a == NULL || b == NULL) {
    tap_ok(false, "two connections open: %s", formatted(&err));
    lr_store_close(a);
    lr_store_close(b);
    return;
  }
  lr_store_exec(b, "SELECT count(*) FROM runs", &err);
  tap_ok(!lr_store_leave_wal(a), "WAL mode stays while another connection has the file open");
  tap_is_str(text_of(lr_store_db(a), "PRAGMA journal_mode", buf, sizeof buf), "wal", "so");
  tap_is_int(int_of(lr_store_db(a), "PRAGMA busy_timeout"), LR_STORE_BUSY_TIMEOUT_MS,
             "the busy timeout is back");
  lr_store_close(b);
  tap_ok(lr_store_leave_wal(a), "the only connection leaves WAL mode");
  lr_store_close(a);
  snprintf(side, sizeof side, "%s-wal", path);
  tap_ok(!exists(side), "and no -wal is left beside it");
  snprintf(side, sizeof side, "%s-shm", path);
  tap_ok(!exists(side), "nor -shm");
  if ((db = raw_open(path)) != NULL) {
    tap_is_str(text_of(db, "PRAGMA journal_mode", buf, sizeof buf), "delete",
               "the file is in rollback mode");
    sqlite3_close(db);
  }
  lr_err_init(&err);
  lr_store_open(path, 0, &a, &err);
  tap_is_str(a ? text_of(lr_store_db(a), "PRAGMA journal_mode", buf, sizeof buf) : "", "wal",
             "and the next writable open switches it back to WAL");
  lr_store_close(a);
}

static void test_concurrent_create(void) {
  enum { ROUNDS = 5, PROCS = 4 };
  int failures = 0;
  for (int round = 0; round < ROUNDS; round++) {
    char path[1200], name[64];
    pid_t kids[PROCS];
    snprintf(name, sizeof name, "race%d.db", round);
    path_in(path, sizeof path, name);
    for (int i = 0; i < PROCS; i++) {
      kids[i] = fork();
      if (kids[i] == 0) {
        lr_store *s = NULL;
        lr_err err;
        lr_err_init(&err);
        if (lr_store_open(path, LR_STORE_CREATE, &s, &err) != LR_OK) {
          fprintf(stderr, "# %s\n", formatted(&err));
          _exit(1);
        }
        lr_store_close(s);
        _exit(0);
      }
    }
    for (int i = 0; i < PROCS; i++) {
      int status = 0;
      if (kids[i] < 0 || waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0)
        failures++;
    }
    if (round == 0) {
      lr_store *s = NULL;
      lr_err err;
      lr_err_init(&err);
      if (lr_store_open(path, 0, &s, &err) == LR_OK) {
        tap_is_int(int_of(lr_store_db(s), "SELECT count(*) FROM schema_version"), 1,
                   "racing creators leave one schema_version row");
        lr_store_close(s);
      }
    }
  }
  tap_is_int(failures, 0, "%d processes creating the same file at once all succeed, %d times",
             PROCS, ROUNDS);
}

/* ---- views ---------------------------------------------------------------------------------------- */

/* A views script: its checks, dropping and refreshing, and a table rebuilt under its views. */
static void test_views(void) {
  static const char views[] = "-- two views\n"
                              "CREATE VIEW v_a AS SELECT x FROM t;\n"
                              "\n"
                              "CREATE VIEW v_b AS SELECT count(*) AS n FROM v_a;\n";
  static const char not_view[] = "CREATE VIEW v_a AS SELECT 1;\n"
                                 "-- a table is not a view\n"
                                 "CREATE TABLE u (y);\n";
  static const char bad_sql[] = "CREATE VIEW v_a AS SELECT 1;\n\nCREATE VIEW v_b AS SELEC 2;\n";
  char path[1200], buf[256];
  sqlite3 *db;
  lr_err err;
  long long cookie;
  path_in(path, sizeof path, "views.db");
  db = raw_open(path);
  if (db == NULL)
    return;
  raw_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);"
               "CREATE VIEW mine AS SELECT sum(x) AS s FROM t;");

  lr_err_init(&err);
  tap_is_int(lr_store_refresh_views(db, views, "views.sql", path, &err), LR_OK,
             "a views script creates its views");
  tap_is_int(int_of(db, "SELECT n FROM v_b"), 2, "which work, one on top of the other");
  cookie = int_of(db, "PRAGMA schema_version");
  lr_err_init(&err);
  lr_store_refresh_views(db, views, "views.sql", path, &err);
  tap_is_int(int_of(db, "PRAGMA schema_version"), cookie, "refreshing current views writes nothing");
  raw_exec(db, "DROP VIEW v_a; CREATE VIEW v_a AS SELECT 7 AS x;");
  lr_err_init(&err);
  lr_store_refresh_views(db, views, "views.sql", path, &err);
  tap_is_int(int_of(db, "SELECT n FROM v_b"), 2, "a stale view is recreated");

  /* The last step of rebuilding a table (rename) fails while a view names the dropped table. */
  lr_err_init(&err);
  tap_is_int(lr_store_drop_views(db, views, "views.sql", path, &err), LR_OK, "views drop");
  tap_is_int(int_of(db, "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'v_*'"), 0,
             "all of the script's");
  tap_is_int(int_of(db, "SELECT s FROM mine"), 3, "and only those");
  raw_exec(db, "DROP VIEW mine;");
  tap_ok(raw_exec(db, "CREATE TABLE t2 (x, z); INSERT INTO t2 SELECT x, 0 FROM t; DROP TABLE t;"
                      "ALTER TABLE t2 RENAME TO t;"),
         "without them a table can be rebuilt");
  lr_err_init(&err);
  tap_is_int(lr_store_refresh_views(db, views, "views.sql", path, &err), LR_OK,
             "and the views come back");
  tap_is_int(int_of(db, "SELECT n FROM v_b"), 2, "on the rebuilt table");

  lr_err_init(&err);
  tap_is_int(lr_store_refresh_views(db, not_view, "nv.sql", path, &err), LR_EPARSE,
             "a script with another statement is refused");
  tap_is_str(formatted(&err), "nv.sql:3: not a CREATE VIEW statement (a views script only "
                              "creates views)", "naming its line");
  lr_err_init(&err);
  tap_is_int(lr_store_refresh_views(db, bad_sql, "bad.sql", path, &err), LR_EPARSE,
             "a syntax error is refused");
  tap_like(formatted(&err), "bad.sql:3: near \"SELEC\": syntax error", "with its line");
  tap_is_str(text_of(db, "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'view'", buf,
                     sizeof buf), "v_a,v_b", "and the database keeps its views");
  sqlite3_close(db);
}

/* ---- readers for the commands -------------------------------------------------------------------- */

/* Copies of the rows an lr_row_fn saw; stops with LR_EINVAL after `stop_after` rows (0: never). */
typedef struct seen {
  int rows, ncols, stop_after;
  lr_value first[8];
  char text[64], blob[8];
} seen;

static lr_status see_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  seen *w = ctx;
  if (w->rows++ == 0) {
    w->ncols = ncols;
    for (int c = 0; c < ncols && c < 8; c++)
      w->first[c] = row[c];
    /* The pointers die with the row: keep what they point at. */
    for (int c = 0; c < ncols && c < 8; c++) {
      if (row[c].type == LR_VALUE_TEXT)
        snprintf(w->text, sizeof w->text, "%s", row[c].s);
      if (row[c].type == LR_VALUE_BLOB && row[c].len > 0 && row[c].len <= sizeof w->blob)
        memcpy(w->blob, row[c].s, row[c].len);
    }
  }
  if (w->stop_after > 0 && w->rows >= w->stop_after)
    return lr_fail(err, LR_EINVAL, "enough");
  return LR_OK;
}

static void test_row_values(void) {
  lr_store *s = open_fixture("rows.db");
  sqlite3_stmt *st = NULL;
  seen w = {0};
  lr_err err;
  if (s == NULL)
    return;
  lr_err_init(&err);
  tap_is_str(lr_store_sqlite_version(), sqlite3_libversion(), "the SQLite version");
  if (lr_store_prepare(s, "SELECT 7, 2.5, 'a\xc3\xa9', X'00ff', NULL, X''", &st, &err) == LR_OK) {
    tap_is_int(lr_store_each_row(s, st, "reading", see_row, &w, &err), LR_OK, "a row is read");
    tap_is_int(w.rows, 1, "one row");
    tap_is_int(w.ncols, 6, "with its columns");
    tap_ok(w.first[0].type == LR_VALUE_INT && w.first[0].i == 7, "an integer");
    tap_ok(w.first[1].type == LR_VALUE_REAL && w.first[1].r == 2.5, "a real");
    tap_ok(w.first[2].type == LR_VALUE_TEXT && w.first[2].len == 3, "text, its length in bytes");
    tap_is_str(w.text, "a\xc3\xa9", "and its bytes");
    tap_ok(w.first[3].type == LR_VALUE_BLOB && w.first[3].len == 2 &&
               memcmp(w.blob, "\x00\xff", 2) == 0, "a blob");
    tap_ok(w.first[4].type == LR_VALUE_NULL, "NULL");
    tap_ok(w.first[5].type == LR_VALUE_BLOB && w.first[5].len == 0, "an empty blob");
    sqlite3_finalize(st);
  }
  memset(&w, 0, sizeof w);
  w.stop_after = 1;
  if (lr_store_prepare(s, "SELECT id FROM runs ORDER BY id", &st, &err) == LR_OK) {
    tap_is_int(lr_store_each_row(s, st, "reading", see_row, &w, &err), LR_EINVAL,
               "the callback's failure is returned");
    tap_is_int(w.rows, 1, "and stops the reading");
    sqlite3_finalize(st);
  }
  lr_err_init(&err);
  if (lr_store_prepare(s, "SELECT json('{bad')", &st, &err) == LR_OK) {
    memset(&w, 0, sizeof w);
    tap_is_int(lr_store_each_row(s, st, "reading json", see_row, &w, &err), LR_EIO,
               "a failing statement is an error");
    tap_like(formatted(&err), "rows.db: reading json: malformed JSON", "naming what was read");
    sqlite3_finalize(st);
  }
  lr_store_close(s);
}

static void test_read_snapshot(void) {
  char path[1200];
  lr_store *s = open_fixture("snapshot.db"), *r = NULL;
  lr_err err;
  lr_err_init(&err);
  path_in(path, sizeof path, "snapshot.db");
  if (s == NULL || lr_store_open(path, LR_STORE_READONLY, &r, &err) != LR_OK) {
    tap_ok(false, "two connections open");
    lr_store_close(s);
    return;
  }
  tap_is_int(lr_store_begin_read(r, &err), LR_OK, "a read transaction starts");
  tap_is_int(int_of(lr_store_db(r), "SELECT count(*) FROM runs"), 2, "and reads");
  lr_store_exec(s, "UPDATE runs SET status = 'failed' WHERE id = 2", &err);
  tap_is_int(int_of(lr_store_db(r), "SELECT count(*) FROM runs WHERE status = 'failed'"), 0,
             "a write by another connection is not seen inside it");
  tap_is_int(lr_store_commit(r, &err), LR_OK, "it ends");
  tap_is_int(int_of(lr_store_db(r), "SELECT count(*) FROM runs WHERE status = 'failed'"), 1,
             "and the write is seen after it");
  lr_store_close(r);
  lr_store_close(s);
}

typedef struct counted {
  long long n[3];  /* done, pending, other */
  int sweeps, empty_sweeps;
} counted;

static void count_status(void *ctx, const char *status, long long n) {
  counted *c = ctx;
  c->n[strcmp(status, "done") == 0 ? 0 : strcmp(status, "pending") == 0 ? 1 : 2] += n;
}

static lr_status count_sweep(void *ctx, int64_t id, const char *name, const char *status,
                             long long n, lr_err *err) {
  counted *c = ctx;
  (void)id;
  (void)err;
  c->sweeps++;
  if (status == NULL && n == 0 && strcmp(name, "empty") == 0)
    c->empty_sweeps++;
  return LR_OK;
}

static void test_status_reads(void) {
  lr_store *s = open_fixture("status.db");
  counted c = {{0}, 0, 0};
  seen w = {0};
  lr_err err;
  if (s == NULL)
    return;
  lr_err_init(&err);
  lr_store_exec(s,
                "INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)"
                "  VALUES (2, 'empty', 'e.yaml', '/e', 'name: empty', 'cd34', '0.1.0');"
                "UPDATE runs SET status = 'running', host = 'h', pid = 42, heartbeat = 5.5"
                "  WHERE id = 2;",
                &err);
  tap_is_int(lr_status_counts(s, count_status, &c, &err), LR_OK, "runs are counted by status");
  tap_ok(c.n[0] == 1 && c.n[1] == 0 && c.n[2] == 1, "one done, one other");
  tap_is_int(lr_status_sweep_counts(s, count_sweep, &c, &err), LR_OK, "and per sweep");
  tap_is_int(c.sweeps, 3, "a row per sweep and status");
  tap_is_int(c.empty_sweeps, 1, "a sweep without runs has a row with no status");
  tap_is_int(lr_status_running(s, see_row, &w, &err), LR_OK, "running runs are listed");
  tap_is_int(w.rows, 1, "one");
  tap_is_int(w.ncols, LR_RUNNING_NCOLS, "with the documented columns");
  tap_ok(w.first[LR_RUNNING_PID].type == LR_VALUE_INT && w.first[LR_RUNNING_PID].i == 42 &&
             w.first[LR_RUNNING_HEARTBEAT].type == LR_VALUE_REAL &&
             w.first[LR_RUNNING_WORKER_PID].type == LR_VALUE_NULL,
         "typed as the table has them");
  memset(&w, 0, sizeof w);
  tap_is_int(lr_status_problems(s, see_row, &w, &err), LR_OK, "failed runs are listed");
  tap_is_int(w.rows, 0, "none here");
  lr_store_close(s);
}

typedef struct adapters_seen {
  int n, without;
  long last;
  char path[2][1200]; /* of members 0 and 1 */
} adapters_seen;

static lr_status see_adapter(void *ctx, long member, const char *path, lr_err *err) {
  adapters_seen *a = ctx;
  (void)err;
  a->n++;
  a->without += path == NULL;
  a->last = member;
  if (member >= 0 && member < 2)
    snprintf(a->path[member], sizeof a->path[member], "%s", path ? path : "(null)");
  return LR_OK;
}

static void test_run_reads(void) {
  lr_store *s = open_fixture("runreads.db");
  int64_t id = 0, *ids = NULL;
  size_t n_ids = 0;
  char key[65] = "", status[32] = "", *config = NULL, *base = NULL;
  adapters_seen a = {0, 0, -1, {"", ""}};
  char *runs = NULL, *real = NULL, want[2400];
  int n = -1;
  lr_err err;
  if (s == NULL)
    return;
  lr_err_init(&err);
  tap_is_int(lr_runs_find_prefix(s, "k1", &id, key, status, &n, &err), LR_OK, "a run by prefix");
  tap_ok(n == 1 && id == 1 && strcmp(key, "k1") == 0 && strcmp(status, "done") == 0,
         "one match, with its id, key and status");
  lr_runs_find_prefix(s, "k", &id, key, status, &n, &err);
  tap_ok(n == 2 && strcmp(key, "k1") == 0, "a prefix of several: 2, the first in key order");
  lr_runs_find_prefix(s, "z", &id, key, status, &n, &err);
  tap_is_int(n, 0, "no match");

  tap_is_int(lr_sweeps_find(s, NULL, &ids, &n_ids, &err), LR_OK, "every sweep");
  tap_ok(n_ids == 1 && ids[0] == 1, "the one there is");
  lr_sweeps_find(s, "demo", &ids, &n_ids, &err);
  lr_sweeps_find(s, "1", &ids, &n_ids, &err);
  tap_is_int((long long)n_ids, 3, "by name and by id, appended");
  lr_sweeps_find(s, "nope", &ids, &n_ids, &err);
  tap_is_int((long long)n_ids, 3, "an unknown sweep adds none");
  free(ids);

  lr_store_exec(s, "UPDATE members SET adapter_path = '/a/m1' WHERE member = 1", &err);
  tap_is_int(lr_results_adapters(s, 1, -1, see_adapter, &a, &err), LR_OK, "a run's adapters");
  tap_ok(a.n == 2 && a.without == 1 && a.last == 1, "every member, NULL where none was saved");
  tap_is_str(a.path[1], "/a/m1", "an absolute path outside any runs directory is kept");
  a = (adapters_seen){0, 0, -1, {"", ""}};
  lr_results_adapters(s, 1, 1, see_adapter, &a, &err);
  tap_ok(a.n == 1 && a.without == 0 && a.last == 1, "or the one asked for");

  /* Stored paths resolve against the database's runs directory, where the file is now. */
  real = realpath(lr_store_path(s), NULL);
  tap_is_int(lr_store_runs_dir(s, &runs, &err), LR_OK, "the runs directory");
  snprintf(want, sizeof want, "%s.runs", real ? real : "?");
  tap_is_str(runs ? runs : "", want, "is FILE.runs beside the file, absolute");
  lr_store_exec(s,
                "UPDATE members SET adapter_path = 'k1/member-0' WHERE member = 0;"
                "UPDATE members SET adapter_path = '/x.runs/old/place.db.runs/k1/member-1'"
                "  WHERE member = 1;",
                &err);
  a = (adapters_seen){0, 0, -1, {"", ""}};
  tap_is_int(lr_results_adapters(s, 1, -1, see_adapter, &a, &err), LR_OK, "stored paths resolve");
  snprintf(want, sizeof want, "%s/k1/member-0", runs ? runs : "?");
  tap_is_str(a.path[0], want, "a relative one under the runs directory");
  snprintf(want, sizeof want, "%s/k1/member-1", runs ? runs : "?");
  tap_is_str(a.path[1], want,
             "an older file's absolute one too, from its last DB.runs/RUN_KEY/ on");
  free(runs);
  free(real);

  lr_store_exec(s, "UPDATE runs SET status = 'running', claim = 'tok' WHERE id = 2", &err);
  tap_is_int(lr_runs_load_claimed(s, "k2", "tok", &id, &config, &base, &err), LR_OK,
             "a claimed run loads");
  tap_ok(id == 2 && config && strcmp(config, "{}") == 0 && base && strcmp(base, "/home/r") == 0,
         "with its id, configuration and base directory");
  free(config);
  free(base);
  config = base = NULL;
  tap_is_int(lr_runs_load_claimed(s, "k2", "other", &id, &config, &base, &err), LR_ENOTFOUND,
             "another attempt's token is refused");
  tap_like(formatted(&err), "runreads.db: no run k2 claimed by this attempt", "saying so");
  tap_ok(config == NULL && base == NULL, "and loads nothing");
  lr_store_close(s);
}

typedef struct query_rows {
  int rows;
  long long last;
} query_rows;

static lr_status see_query_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  query_rows *q = ctx;
  (void)err;
  q->rows++;
  q->last = ncols > 0 && row[0].type == LR_VALUE_INT ? row[0].i : -1;
  return LR_OK;
}

static void test_query(void) {
  char path[1200];
  lr_store *s = open_fixture("query.db");
  lr_query *q = NULL;
  query_rows r = {0, 0};
  lr_err err;
  lr_store_close(s);
  path_in(path, sizeof path, "query.db");
  lr_err_init(&err);
  tap_is_int(lr_query_open(path, "-- ids\nSELECT id AS n FROM runs ORDER BY id;;\nBEGIN; COMMIT;",
                           NULL, &q, &err),
             LR_OK, "a query opens");
  if (q) {
    tap_is_int((long long)lr_query_count(q), 3, "empty statements are dropped");
    tap_is_int(lr_query_columns(q, 0), 1, "a SELECT has columns");
    tap_is_int(lr_query_columns(q, 1), 0, "BEGIN has none");
    tap_is_str(lr_query_column_name(q, 0, 0), "n", "columns are named");
    tap_is_int(lr_query_run(q, 0, see_query_row, &r, &err), LR_OK, "it runs");
    tap_ok(r.rows == 2 && r.last == 2, "every row reaches the callback");
    lr_query_close(q);
  }
  q = NULL;
  tap_is_int(lr_query_open(path, "SELECT 1;\nDELETE FROM runs;", "q.sql", &q, &err), LR_EINVAL,
             "a writing statement is refused before anything runs");
  tap_like(formatted(&err), "q.sql:2", "naming where it is");
  tap_like(formatted(&err), "(lorens query is read-only)", "and why");
  tap_ok(q == NULL, "and nothing is left open");
  lr_err_init(&err);
  tap_is_int(lr_query_open(path, "PRAGMA user_version = 9", NULL, &q, &err), LR_EINVAL,
             "changing a setting is refused");
  tap_like(formatted(&err), "(query: PRAGMA user_version = 9)", "quoting the statement");
}

int main(void) {
  if (tmpdir_make(root, sizeof root, "store") != 0) {
    tap_ok(false, "a scratch directory");
    return tap_done();
  }
  test_create_and_reopen();
  test_missing();
  test_migrations_from_every_version();
  test_migration_engine();
  test_too_new();
  test_not_lorens();
  test_constraints();
  test_cascades();
  test_values();
  test_transactions();
  test_concurrent_create();
  test_leave_wal();
  test_views();
  test_row_values();
  test_read_snapshot();
  test_status_reads();
  test_run_reads();
  test_query();
  tmpdir_remove(root);
  return tap_done();
}
