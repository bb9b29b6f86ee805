/*
 * store-query.c: the engine of `lorens query` (see store-query.h): read-only enforcement,
 * compiling the user's SQL and stepping its statements; values as the tables print them.
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/store-query.h"

/* One compiled statement and where it starts in the text. */
typedef struct statement {
  sqlite3_stmt *stmt;
  const char *start; /* first character after leading blanks and comments */
  const char *end;   /* just past its ';' (SQLite's tail) */
} statement;

struct lr_query {
  lr_store *store;
  const char *text;   /* all the SQL */
  const char *source; /* file name for messages, or NULL for an inline query */
  statement *st;
  size_t n;
};

/* ---- read-only enforcement ----------------------------------------------------------------------- */

/* PRAGMAs that only read, with or without an argument ("PRAGMA table_info(runs)"). */
static const char *const reading_pragmas[] = {
    "collation_list", "compile_options", "database_list", "foreign_key_check", "foreign_key_list",
    "function_list", "index_info", "index_list", "index_xinfo", "integrity_check", "module_list",
    "pragma_list", "quick_check", "table_info", "table_list", "table_xinfo",
};

/* PRAGMAs that read a setting without an argument and would change it with one. */
static const char *const setting_pragmas[] = {
    "application_id", "auto_vacuum", "busy_timeout", "cache_size", "data_version", "encoding",
    "foreign_keys", "freelist_count", "journal_mode", "page_count", "page_size", "query_only",
    "schema_version", "synchronous", "user_version",
};

static bool in_list(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; name && i < n; i++)
    if (sqlite3_stricmp(name, list[i]) == 0)
      return true;
  return false;
}

static int authorize(void *unused, int action, const char *a, const char *b, const char *db,
                     const char *trigger) {
  switch (action) {
  case SQLITE_SELECT:
  case SQLITE_READ:
  case SQLITE_FUNCTION:
  case SQLITE_RECURSIVE:
  case SQLITE_TRANSACTION: /* BEGIN/COMMIT give several statements one snapshot */
  case SQLITE_SAVEPOINT:
    return SQLITE_OK;
  case SQLITE_UPDATE:
    /* SQLite asks this of sqlite_master while it sets up the virtual table behind a table-valued
     * PRAGMA function (SELECT * FROM pragma_table_info('runs')).  A real write to sqlite_master
     * still fails: the connection is read-only, query_only, and writable_schema is refused. */
    return a && sqlite3_stricmp(a, "sqlite_master") == 0 ? SQLITE_OK : SQLITE_DENY;
  case SQLITE_PRAGMA:
    if (in_list(a, reading_pragmas, LR_ARRAY_LEN(reading_pragmas)) ||
        (b == NULL && in_list(a, setting_pragmas, LR_ARRAY_LEN(setting_pragmas))))
      return SQLITE_OK;
    return SQLITE_DENY;
  default:
    return SQLITE_DENY;
  }
}

static lr_status lock_down(lr_store *s, lr_err *err) {
  sqlite3 *db = lr_store_db(s);
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL) != SQLITE_OK)
    return lr_store_fail(s, err, "setting defensive mode");
  if (lr_store_exec(s, "PRAGMA query_only = 1", err) != LR_OK)
    return err->code;
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  if (sqlite3_set_authorizer(db, authorize, NULL) != SQLITE_OK)
    return lr_store_fail(s, err, "installing the read-only authorizer");
  return LR_OK;
}

/* ---- compiling ----------------------------------------------------------------------------------- */

/* 1-based line and column of p in text. */
static void locate(const char *text, const char *p, int *line, int *col) {
  const char *bol = text;
  *line = 1;
  for (const char *q = text; q < p; q++)
    if (*q == '\n') {
      (*line)++;
      bol = q + 1;
    }
  *col = (int)(p - bol) + 1;
}

static int error_offset(sqlite3 *db) {
#if SQLITE_VERSION_NUMBER >= 3038000
  return sqlite3_error_offset(db);
#else
  (void)db;
  return -1;
#endif
}

/* "FILE.sql:LINE:COL: message" or "message (query: SQL)"; at is where the statement starts. */
static lr_status sql_error(sqlite3 *db, const lr_query *q, const char *at, const char *end,
                           lr_err *err) {
  int rc = sqlite3_extended_errcode(db), off = error_offset(db), line, col;
  const char *hint = (rc & 0xff) == SQLITE_AUTH ? " (lorens query is read-only)" : "";
  char shown[201];
  size_t n = 0;
  if (q->source) {
    /* SQLite knows the offending token for compile errors; otherwise point at the statement. */
    locate(q->text, off >= 0 ? at + off : lr_sql_skip_blank(at), &line, &col);
    return lr_fail_at(err, LR_EINVAL, q->source, line, off >= 0 ? col : 0, "%s%s",
                      sqlite3_errmsg(db), hint);
  }
  at = lr_sql_skip_blank(at);
  for (const char *p = at; p < end && *p && n + 1 < sizeof shown; p++)
    shown[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
  while (n > 0 && (shown[n - 1] == ' ' || shown[n - 1] == ';'))
    n--;
  shown[n] = '\0';
  return lr_fail(err, LR_EINVAL, "%s%s (query: %s)", sqlite3_errmsg(db), hint, shown);
}

static void query_release(lr_query *q) {
  for (size_t i = 0; i < q->n; i++)
    sqlite3_finalize(q->st[i].stmt);
  free(q->st);
  q->st = NULL;
  q->n = 0;
}

/* Compiles every statement of q->text; empty ones (";", comments) are dropped. */
static lr_status compile(sqlite3 *db, lr_query *q, lr_err *err) {
  size_t cap = 0;
  const char *p = q->text;
  while (*(p = lr_sql_skip_blank(p))) {
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(db, p, -1, &stmt, &tail) != SQLITE_OK)
      return sql_error(db, q, p, p + strlen(p), err); /* SQLite's tail stops at the error */
    if (stmt == NULL) {
      p = tail;
      continue;
    }
    if (LR_GROW(q->st, cap, q->n + 1, err) != LR_OK) {
      sqlite3_finalize(stmt);
      return err->code;
    }
    q->st[q->n++] = (statement){stmt, p, tail};
    p = tail;
  }
  return LR_OK;
}

/* ---- the query ---------------------------------------------------------------------------------- */

lr_status lr_query_open(const char *db_path, const char *text, const char *source, lr_query **out,
                        lr_err *err) {
  lr_query *q = calloc(1, sizeof *q);
  lr_status st;
  *out = NULL;
  if (q == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  q->text = text;
  q->source = source;
  st = lr_store_open(db_path, LR_STORE_READONLY, &q->store, err);
  if (st == LR_OK)
    st = lock_down(q->store, err);
  if (st == LR_OK)
    st = compile(lr_store_db(q->store), q, err);
  if (st != LR_OK) {
    lr_query_close(q);
    return st;
  }
  *out = q;
  return LR_OK;
}

void lr_query_close(lr_query *q) {
  if (q == NULL)
    return;
  query_release(q);
  lr_store_close(q->store);
  free(q);
}

size_t lr_query_count(const lr_query *q) {
  return q->n;
}

int lr_query_columns(const lr_query *q, size_t i) {
  return sqlite3_column_count(q->st[i].stmt);
}

const char *lr_query_column_name(const lr_query *q, size_t i, int col) {
  return sqlite3_column_name(q->st[i].stmt, col);
}

lr_status lr_query_run(lr_query *q, size_t i, lr_row_fn fn, void *ctx, lr_err *err) {
  const statement *s = &q->st[i];
  int ncols = sqlite3_column_count(s->stmt), rc = SQLITE_DONE;
  lr_value *row = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof *row);
  lr_status st = row ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  while (st == LR_OK && (rc = sqlite3_step(s->stmt)) == SQLITE_ROW) {
    lr_store_row_values(s->stmt, row, ncols);
    st = fn(ctx, row, ncols, err);
  }
  if (st == LR_OK && rc != SQLITE_DONE)
    st = sql_error(lr_store_db(q->store), q, s->start, s->end, err);
  free(row);
  return st;
}

/* ---- values as text -------------------------------------------------------------------------- */

void lr_query_real_text(char *buf, size_t n, double v, int digits) {
  if (digits <= 0) { /* the shortest %.Ng (N = 15..17) that reads back as exactly v */
    for (digits = 15; digits < 17; digits++) {
      lr_query_real_text(buf, n, v, digits);
      if (!isfinite(v) || strtod(buf, NULL) == v)
        return;
    }
  }
  snprintf(buf, n, "%.*g", digits, v);
  if (isfinite(v) && strpbrk(buf, ".eE") == NULL && strlen(buf) + 3 <= n)
    strcat(buf, ".0");
}

char *lr_query_cell_text(const lr_value *v, bool exact) {
  char num[64];
  const unsigned char *blob;
  char *out;
  switch (v->type) {
  case LR_VALUE_INT:
    snprintf(num, sizeof num, "%lld", (long long)v->i);
    return strdup(num);
  case LR_VALUE_REAL:
    lr_query_real_text(num, sizeof num, v->r, exact ? 0 : 6);
    return strdup(num);
  case LR_VALUE_BLOB:
    /* As an SQL literal, X'0a1b', which can be pasted back into a query. */
    blob = (const unsigned char *)v->s;
    out = malloc(2 * v->len + 4);
    if (out) {
      strcpy(out, "X'");
      for (size_t i = 0; i < v->len; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", blob[i]);
      strcpy(out + 2 + 2 * v->len, "'");
    }
    return out;
  default:
    return strdup(v->s ? v->s : "");
  }
}
