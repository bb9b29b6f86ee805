/*
 * store.h: the SQLite results database (schema in db/schema.sql, documented in docs/store.md).
 *
 * lr_store_open opens (and, when writable, creates, migrates and refreshes the views of) a lorens
 * database: WAL mode, a 30 s busy timeout (the scheduler and several workers write at once),
 * foreign keys on and synchronous=NORMAL.  It refuses files that are not lorens databases and databases written by a
 * newer lorens.  Every error names the database file and carries SQLite's own message.
 *
 * Writers group each logical write (a member's epoch, a run's completion) in one
 * lr_store_begin .. lr_store_commit, so a killed process leaves nothing half-written.
 *
 * Seeds and other uint64 values are stored as the signed 64-bit integer with the same bit pattern
 * (lr_store_bind_u64 / lr_store_column_u64): SQLite integers are signed.
 */
#ifndef LORENS_STORE_H
#define LORENS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "base/error.h"

typedef struct lr_store lr_store;

enum {
  LR_STORE_CREATE = 1,   /* create the file when it does not exist */
  LR_STORE_READONLY = 2, /* SQLITE_OPEN_READONLY; never creates or migrates (on read-only
                            storage, see lr_store_open) */
};

/* PRAGMA application_id of a lorens database ('LRNS'). */
#define LR_STORE_APPLICATION_ID 0x4C524E53

/* Busy timeout of every connection, in milliseconds. */
#define LR_STORE_BUSY_TIMEOUT_MS 30000

/*
 * Opens the database at path.  Writable opens (flags without LR_STORE_READONLY) create the schema
 * in a new or empty file and migrate an older one to the latest version; without LR_STORE_CREATE a
 * missing file is an error.  Read-only opens accept any version up to the latest (columns are
 * only ever added, so the latest lorens can read older files).  Refused, with the file named:
 * a missing file ("FILE: does not exist"), a file that is not a lorens database ("FILE: not a
 * lorens database (...)"), and a database from a newer lorens (naming both versions).
 * A read-only open also reads a WAL database on read-only storage (a read-only mount, a snapshot,
 * a directory we may not write to), where SQLite cannot create FILE-shm and FILE-wal: then the
 * file is opened with immutable=1, unless FILE-wal holds changes, which is refused ("the database
 * has un-checkpointed changes in FILE-wal and its directory is read-only: ...").
 * On failure *out is NULL.
 */
lr_status lr_store_open(const char *path, int flags, lr_store **out, lr_err *err);

/* Closes the connection (NULL is fine).  Rolls back a transaction left open. */
void lr_store_close(lr_store *s);

/*
 * At the end of a sweep: checkpoints the file and takes it out of WAL mode (journal_mode=DELETE)
 * when this is the only connection to it, so that a finished database is one file, with no -wal
 * or -shm beside it, that any SQLite reader can open on read-only storage.  The next writable
 * open switches it back to WAL.  Returns whether it did; while another process has the file
 * open (another sweep, a reader) nothing changes and that process's connections keep it in WAL.
 */
bool lr_store_leave_wal(lr_store *s);

/* The connection, for statements of one's own (borrowed; valid until lr_store_close). */
sqlite3 *lr_store_db(lr_store *s);

/* The path given to lr_store_open. */
const char *lr_store_path(const lr_store *s);

/* The directory of the database's runs, FILE.runs beside the file (its absolute path, symlinks
 * resolved), from malloc: each run's checkpoint and adapters live in FILE.runs/RUN_KEY, and
 * members.adapter_path is relative to it, so the database moves and copies with it. */
lr_status lr_store_runs_dir(const lr_store *s, char **out, lr_err *err);

/* The schema version of the open file: the latest after a writable open, maybe older read-only. */
int lr_store_file_version(const lr_store *s);

/* The latest schema version this lorens knows (the number of migrations in db/schema.sql). */
int lr_store_schema_version(void);

/* Transactions.  begin is BEGIN IMMEDIATE: the write lock is taken at once (waiting up to the busy
 * timeout), so a transaction never fails half-way for a lock.  A lock still held by another
 * process after the timeout is reported as such. */
lr_status lr_store_begin(lr_store *s, lr_err *err);
lr_status lr_store_commit(lr_store *s, lr_err *err);
void lr_store_rollback(lr_store *s); /* no-op outside a transaction */

/* Runs one or more statements that return no rows. */
lr_status lr_store_exec(lr_store *s, const char *sql, lr_err *err);

/* Records "FILE: WHAT: <SQLite's message>" from the connection's last error; returns its status
 * (LR_EIO for most failures, LR_ENOMEM, LR_EINVAL for constraint violations). */
lr_status lr_store_fail(lr_store *s, lr_err *err, const char *what);

/* Starts a deferred (read) transaction: the reads until lr_store_commit see one snapshot while
 * other processes write. */
lr_status lr_store_begin_read(lr_store *s, lr_err *err);

/* The version of the SQLite library this process runs with ("3.45.1"). */
const char *lr_store_sqlite_version(void);

/* One column of a result row, typed as SQLite returned it, so readers outside the store need not
 * see a statement.  s (text, NUL-terminated, or a blob's bytes) points into the row: valid only
 * until the statement steps on. */
typedef enum lr_value_type {
  LR_VALUE_NULL,
  LR_VALUE_INT,
  LR_VALUE_REAL,
  LR_VALUE_TEXT,
  LR_VALUE_BLOB,
} lr_value_type;

typedef struct lr_value {
  lr_value_type type;
  int64_t i;     /* LR_VALUE_INT */
  double r;      /* LR_VALUE_REAL */
  const char *s; /* LR_VALUE_TEXT, LR_VALUE_BLOB (NULL for an empty blob) */
  size_t len;    /* bytes of s, without the text's NUL */
} lr_value;

/* Receives one row (ncols values); a status other than LR_OK stops the reading and is returned. */
typedef lr_status (*lr_row_fn)(void *ctx, const lr_value *row, int ncols, lr_err *err);

/* The current row of stmt as values, into out[0..ncols-1]. */
void lr_store_row_values(sqlite3_stmt *stmt, lr_value *out, int ncols);

/* Steps stmt to its end, handing each row to fn; errors as lr_store_step's.  Does not finalize. */
lr_status lr_store_each_row(lr_store *s, sqlite3_stmt *stmt, const char *what, lr_row_fn fn,
                            void *ctx, lr_err *err);

/* Prepares one statement; on failure records "FILE: preparing SQL: message (SQL)". */
lr_status lr_store_prepare(lr_store *s, const char *sql, sqlite3_stmt **out, lr_err *err);

/* Steps a statement: returns SQLITE_ROW or SQLITE_DONE, or -1 after recording the error with
 * lr_store_fail(s, err, what). */
int lr_store_step(lr_store *s, sqlite3_stmt *stmt, const char *what, lr_err *err);

/* uint64 values as signed 64-bit bit patterns (see the top of this file). */
int lr_store_bind_u64(sqlite3_stmt *stmt, int idx, uint64_t v);
uint64_t lr_store_column_u64(sqlite3_stmt *stmt, int col);

/* Binds a metric and clears *finite when it is NaN or infinite, so a row's finite flag can be
 * gathered while binding.  (SQLite stores NaN as NULL and infinity as itself.)  Returns SQLite's
 * code. */
int lr_store_bind_metric(sqlite3_stmt *stmt, int idx, double v, bool *finite);

/*
 * For tests and tools: brings a raw connection from its PRAGMA user_version up to `version` by
 * running the embedded migrations, each in its own transaction (an empty database runs
 * 1..version).  path_for_errors names the file in messages.
 */
lr_status lr_store_migrate_to(sqlite3 *db, int version, const char *path_for_errors, lr_err *err);

/* The same, with the migrations taken from `script` (in db/schema.sql's format) instead of the
 * embedded schema; script_name names it in parse errors ("db/schema.sql:12: ..."). */
lr_status lr_store_migrate_script(sqlite3 *db, const char *script, const char *script_name,
                                  int version, const char *path_for_errors, lr_err *err);

/* The number of migrations in a script, or -1 (with the error recorded) when its markers are
 * malformed (not "-- migration N: text", or N not 1, 2, 3 ... in order). */
int lr_store_script_version(const char *script, const char *script_name, lr_err *err);

/* Skips white space and SQL comments ("-- ..." and C-style); returns the first other character. */
const char *lr_sql_skip_blank(const char *p);

/*
 * Views (db/views.sql: CREATE VIEW statements only, documented in docs/store.md).  Views hold no
 * data, so they are not migrations: every writable lr_store_open calls lr_store_refresh_views,
 * which compares the views stored in db with those of script and, when any is missing or differs,
 * drops and recreates every view of script in one transaction (nothing is written when all are
 * current).  Views of the database that script does not name are left alone.  A read-only open
 * uses the views the file has.  lr_store_drop_views drops script's views in one transaction; the
 * writable open calls it before running migrations.  script_name names the script in errors
 * ("db/views.sql:40: not a CREATE VIEW statement ..."), path_for_errors the database.
 */
lr_status lr_store_refresh_views(sqlite3 *db, const char *script, const char *script_name,
                                 const char *path_for_errors, lr_err *err);
lr_status lr_store_drop_views(sqlite3 *db, const char *script, const char *script_name,
                              const char *path_for_errors, lr_err *err);

/* The embedded db/schema.sql and db/views.sql. */
extern const char lr_schema_sql[];
extern const char lr_views_sql[];
/* db/queries/paper-table.sql, failures.sql and randomness.sql, which `lorens report` shows as
 * tables. */
extern const char lr_paper_table_sql[];
extern const char lr_failures_sql[];
extern const char lr_randomness_sql[];

#endif /* LORENS_STORE_H */
