/*
 * store-query.h: the engine of `lorens query`: user SQL run read-only against a results database.
 *
 * Read-only three times over, because a query command that can write is one typo away from
 * losing a week of runs: the file is opened with SQLITE_OPEN_READONLY (lr_store_open), the
 * connection is put in SQLite's defensive mode with query_only set and ATTACH limited to zero
 * databases, and an authorizer allows only reading statements (SELECT, read-only PRAGMAs,
 * transactions) before any statement is compiled.
 *
 * Every statement is compiled when the query is opened, before the first one runs, so a typo in
 * the last statement of a file is an error before any row.  Errors name the file with the line
 * and column ("FILE.sql:LINE:COL: message") or quote the statement ("message (query: SQL)").
 */
#ifndef LORENS_STORE_QUERY_H
#define LORENS_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "store/store.h"

typedef struct lr_query lr_query;

/*
 * Opens the database at db_path read-only, locks the connection down and compiles every
 * statement of text (empty ones, ";" and comments, are dropped).  text must outlive the query.
 * source names the SQL file in errors, NULL for an inline query.  On failure *out is NULL.
 */
lr_status lr_query_open(const char *db_path, const char *text, const char *source, lr_query **out,
                        lr_err *err);

/* Finalizes the statements and closes the database (NULL is fine). */
void lr_query_close(lr_query *q);

/* The number of statements, and the columns of statement i (0 for BEGIN, COMMIT ...). */
size_t lr_query_count(const lr_query *q);
int lr_query_columns(const lr_query *q, size_t i);

/* The name of column col of statement i. */
const char *lr_query_column_name(const lr_query *q, size_t i, int col);

/* Runs statement i, handing each row to fn.  A failing statement is reported like a compile
 * error; a status other than LR_OK from fn stops it and is returned. */
lr_status lr_query_run(lr_query *q, size_t i, lr_row_fn fn, void *ctx, lr_err *err);

/* A real as text: %.*g with `digits` significant digits, or with digits <= 0 the shortest of
 * 15-17 that reads back as exactly v; ".0" added when the text would read back as an integer. */
void lr_query_real_text(char *buf, size_t n, double v, int digits);

/* A value as `lorens query` prints it in a table (exact 0: reals with 6 digits) or in CSV (exact
 * 1); a blob as an SQL literal X'0a1b'.  NULL is the caller's business.  From malloc; NULL when
 * out of memory. */
char *lr_query_cell_text(const lr_value *v, bool exact);

#endif /* LORENS_STORE_QUERY_H */
