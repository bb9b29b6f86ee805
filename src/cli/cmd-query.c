/*
 * cmd-query.c: `lorens query --db FILE SQL | -f FILE.sql [--format table|csv|json]`: read-only SQL
 * against a results database.
 *
 * The engine is the store's (store-query.h): read-only three times over, and every statement
 * compiled before the first one runs, so a typo in the last statement of a file prints an error
 * and no results.  This file prints the rows.  Values are printed by type: NULL as "NULL" in a table, empty in
 * CSV and null in JSON; reals with 6 significant digits in a table and the shortest text that reads
 * back as the same double (at most 17 digits) in CSV and JSON.
 */
#include "compat.h"

#include <stddef.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file-util.h"
#include "base/text-table.h"
#include "base/utf8.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "store/store-query.h"

enum { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON };

/* An SQL file larger than this is surely not a query. */
#define MAX_SQL_BYTES (16u << 20)

typedef struct options {
  const char *db;
  const char *sql;  /* inline query, or NULL */
  const char *file; /* -f FILE ("-" = stdin), or NULL */
  int format;
} options;

static bool is_number(const lr_value *v) {
  return v->type == LR_VALUE_INT || v->type == LR_VALUE_REAL;
}

/* ---- table --------------------------------------------------------------------------------------- */

/* A result set as a text table: numbers right-aligned in columns that hold nothing else. */
typedef struct table {
  lr_text_table text;
  const char **names; /* the header */
  bool *numeric;      /* every non-NULL value a number, and at least one */
  bool *textual;      /* some non-NULL value not a number */
} table;

static lr_status table_init(table *t, const lr_query *q, size_t stmt, int ncols, lr_err *err) {
  memset(t, 0, sizeof *t);
  t->names = calloc((size_t)ncols + 1, sizeof *t->names);
  t->numeric = calloc((size_t)ncols + 1, sizeof *t->numeric);
  t->textual = calloc((size_t)ncols + 1, sizeof *t->textual);
  if (t->names == NULL || t->numeric == NULL || t->textual == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (int c = 0; c < ncols; c++)
    t->names[c] = lr_query_column_name(q, stmt, c);
  if (lr_text_table_init(&t->text, ncols, t->names, true, err) != LR_OK)
    return err->code;
  t->text.null_text = "NULL";
  return LR_OK;
}

static void table_free(table *t) {
  lr_text_table_release(&t->text);
  free(t->names);
  free(t->numeric);
  free(t->textual);
}

static lr_status table_add_row(table *t, const lr_value *row, lr_err *err) {
  int ncols = t->text.ncols;
  char **cells = calloc((size_t)ncols + 1, sizeof *cells);
  lr_status rc;
  if (cells == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory holding the results");
  for (int c = 0; c < ncols; c++) {
    if (row[c].type == LR_VALUE_NULL)
      continue;
    if ((cells[c] = lr_query_cell_text(&row[c], false)) == NULL) {
      for (int k = 0; k < c; k++)
        free(cells[k]);
      free(cells);
      return lr_fail(err, LR_ENOMEM, "out of memory holding the results");
    }
    if (is_number(&row[c]))
      t->numeric[c] = true;
    else
      t->textual[c] = true;
  }
  rc = lr_text_table_add_owned(&t->text, cells, err);
  free(cells);
  return rc;
}

static void table_print(table *t, FILE *fp) {
  for (int c = 0; c < t->text.ncols; c++)
    t->text.right[c] = t->numeric[c] && !t->textual[c];
  lr_text_table_print(&t->text, fp);
}

/* ---- CSV (RFC 4180: CRLF line ends, quotes doubled inside quoted fields) -------------------------- */

static void csv_field(const char *s, FILE *fp) {
  if (s[0] != '\0' && strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, fp);
    return;
  }
  /* Quoted: fields that need it, and the empty string so that it differs from NULL. */
  fputc('"', fp);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', fp);
    fputc(*s, fp);
  }
  fputc('"', fp);
}

static void csv_header(const lr_query *q, size_t stmt, FILE *fp) {
  for (int c = 0; c < lr_query_columns(q, stmt); c++) {
    if (c > 0)
      fputc(',', fp);
    csv_field(lr_query_column_name(q, stmt, c), fp);
  }
  fputs("\r\n", fp);
}

static lr_status csv_row(const lr_value *row, int ncols, FILE *fp, lr_err *err) {
  for (int c = 0; c < ncols; c++) {
    char *text;
    if (c > 0)
      fputc(',', fp);
    if (row[c].type == LR_VALUE_NULL)
      continue;
    if ((text = lr_query_cell_text(&row[c], true)) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    csv_field(text, fp);
    free(text);
  }
  fputs("\r\n", fp);
  return LR_OK;
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

/* A JSON string; bytes that are not UTF-8 become U+FFFD (one per maximal invalid subpart, as
 * Unicode recommends), so the output always parses. */
static void json_string(const char *s, FILE *fp) {
  const char *p = s, *end = s + strlen(s);
  fputc('"', fp);
  while (*p) {
    size_t bad = 0, n = lr_utf8_char_len(p, (size_t)(end - p), &bad);
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\')
      fprintf(fp, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", fp);
    else if (c == '\t')
      fputs("\\t", fp);
    else if (c == '\r')
      fputs("\\r", fp);
    else if (c < 0x20)
      fprintf(fp, "\\u%04x", c);
    else if (n == 0)
      fputs("\\ufffd", fp);
    else
      fwrite(p, 1, n, fp);
    p += n ? n : bad ? bad : 1;
  }
  fputc('"', fp);
}

static lr_status json_value(const lr_value *v, FILE *fp, lr_err *err) {
  char num[64];
  char *text;
  switch (v->type) {
  case LR_VALUE_NULL:
    fputs("null", fp);
    return LR_OK;
  case LR_VALUE_INT:
    fprintf(fp, "%lld", (long long)v->i);
    return LR_OK;
  case LR_VALUE_REAL:
    /* JSON has no infinity: null, as for NaN (which SQLite already stores as NULL). */
    if (!isfinite(v->r)) {
      fputs("null", fp);
      return LR_OK;
    }
    lr_query_real_text(num, sizeof num, v->r, 0);
    fputs(num, fp);
    return LR_OK;
  default:
    if ((text = lr_query_cell_text(v, true)) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    json_string(text, fp);
    free(text);
    return LR_OK;
  }
}

static lr_status json_row(const lr_query *q, size_t stmt, const lr_value *row, int ncols,
                          FILE *fp, lr_err *err) {
  fputc('{', fp);
  for (int c = 0; c < ncols; c++) {
    if (c > 0)
      fputs(", ", fp);
    json_string(lr_query_column_name(q, stmt, c), fp);
    fputs(": ", fp);
    if (json_value(&row[c], fp, err) != LR_OK)
      return err->code;
  }
  fputc('}', fp);
  return LR_OK;
}

/* ---- running ------------------------------------------------------------------------------------- */

/* Where a statement's rows go. */
typedef struct sink {
  const lr_query *q;
  size_t stmt;
  int format;
  const char *indent; /* the JSON nesting */
  FILE *fp;
  table *t;
  size_t nrows;
} sink;

static lr_status print_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  sink *k = ctx;
  lr_status st;
  if (k->format == FORMAT_TABLE) {
    st = table_add_row(k->t, row, err);
  } else if (k->format == FORMAT_CSV) {
    st = csv_row(row, ncols, k->fp, err);
  } else {
    fprintf(k->fp, "%s\n%s  ", k->nrows ? "," : "", k->indent);
    st = json_row(k->q, k->stmt, row, ncols, k->fp, err);
  }
  k->nrows++;
  return st;
}

/* Runs one statement and prints its rows; indent is the JSON nesting. */
static lr_status run_statement(lr_query *q, size_t stmt, int format, const char *indent, FILE *fp,
                               lr_err *err) {
  int ncols = lr_query_columns(q, stmt);
  table t = {0};
  sink k = {q, stmt, format, indent, fp, &t, 0};
  /* Only a table waits for every row (for the column widths); CSV and JSON stream. */
  lr_status st = format == FORMAT_TABLE ? table_init(&t, q, stmt, ncols, err) : LR_OK;
  if (st == LR_OK && format == FORMAT_CSV && ncols > 0)
    csv_header(q, stmt, fp);
  if (st == LR_OK && format == FORMAT_JSON)
    fputc('[', fp);
  if (st == LR_OK)
    st = lr_query_run(q, stmt, print_row, &k, err);
  if (st == LR_OK && format == FORMAT_TABLE && ncols > 0)
    table_print(&t, fp);
  if (st == LR_OK && format == FORMAT_JSON)
    fprintf(fp, k.nrows ? "\n%s]" : "]", indent);
  table_free(&t);
  return st;
}

static lr_status run_query(lr_query *q, int format, FILE *fp, lr_err *err) {
  size_t results = 0, printed = 0;
  lr_status st = LR_OK;
  for (size_t i = 0; i < lr_query_count(q); i++)
    results += lr_query_columns(q, i) > 0;
  /* JSON: one result set is an array of objects, several an array of such arrays. */
  if (format == FORMAT_JSON && results != 1)
    fputs("[", fp);
  for (size_t i = 0; st == LR_OK && i < lr_query_count(q); i++) {
    bool has_columns = lr_query_columns(q, i) > 0;
    if (has_columns && printed > 0)
      fputs(format == FORMAT_JSON ? "," : format == FORMAT_CSV ? "\r\n" : "\n", fp);
    if (has_columns && format == FORMAT_JSON && results != 1)
      fputs("\n  ", fp);
    if (has_columns) {
      st = run_statement(q, i, format, results != 1 ? "  " : "", fp, err);
      printed++;
    } else {
      /* BEGIN, COMMIT: no columns, so a table of them prints nothing. */
      st = run_statement(q, i, FORMAT_TABLE, "", fp, err);
    }
  }
  if (st == LR_OK && format == FORMAT_JSON)
    fputs(results != 1 ? (printed ? "\n]\n" : "]\n") : "\n", fp);
  return st;
}

/* ---- input and options --------------------------------------------------------------------------- */

static lr_status read_stdin(char **out, lr_err *err) {
  size_t len = 0, cap = 4096, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += got;
    if (len + 1 == cap) {
      char *bigger = cap < MAX_SQL_BYTES ? realloc(buf, cap *= 2) : NULL;
      if (bigger == NULL) {
        free(buf);
        return lr_fail(err, LR_EINVAL, "<stdin>: more SQL than lorens reads (%u bytes)",
                       MAX_SQL_BYTES);
      }
      buf = bigger;
    }
  }
  if (buf == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  if (ferror(stdin)) {
    free(buf);
    return lr_fail(err, LR_EIO, "<stdin>: read error");
  }
  buf[len] = '\0';
  *out = buf;
  return LR_OK;
}

static const char *const formats[] = {"table", "csv", "json", NULL};

static const lr_option option_table[] = {
    {LR_ARG_STRING(options, db, "db", 0, "FILE", "the database (never created)"),
     .required = true},
    {LR_ARG_STRING(options, file, "file", 'f', "FILE",
                   "read the SQL from FILE ('-' for standard input)")},
    {LR_ARG_CHOICE(options, format, "format", 0, formats,
                   "table (default): aligned columns, numbers right-aligned, NULL\n"
                   "shown as NULL, reals to 6 significant digits;\n"
                   "csv: RFC 4180, NULL as an empty field, '\"\"' for an empty string;\n"
                   "json: an array of objects (an array of arrays of them when several\n"
                   "statements return rows).  CSV and JSON print reals exactly.")},
    LR_ARG_END,
};

static int parse_options(int argc, char **argv, options *o) {
  int n_pos, rc = lr_options_parse(&lr_cmd_query, argc, argv, o, &n_pos);
  if (rc != LR_EXIT_OK)
    return rc;
  o->sql = n_pos ? argv[1] : NULL;
  if (o->sql && o->file)
    return lr_usage_error(&lr_cmd_query, "give the SQL inline or with -f, not both");
  if (o->sql == NULL && o->file == NULL)
    return lr_usage_error(&lr_cmd_query, "missing the SQL (inline, or -f FILE.sql)");
  return LR_EXIT_OK;
}

static int run_query_command(int argc, char **argv) {
  options o = {NULL, NULL, NULL, FORMAT_TABLE};
  lr_query *q = NULL;
  const char *source;
  char *text = NULL;
  size_t len;
  lr_err err;
  lr_status st = LR_OK;
  int rc = parse_options(argc, argv, &o);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (o.file && strcmp(o.file, "-") == 0)
    st = read_stdin(&text, &err);
  else if (o.file)
    st = lr_read_file(o.file, MAX_SQL_BYTES, "an SQL file", &text, &len, &err);
  source = o.file ? (strcmp(o.file, "-") == 0 ? "<stdin>" : o.file) : NULL;
  if (st == LR_OK)
    st = lr_query_open(o.db, o.file ? text : o.sql, source, &q, &err);
  if (st == LR_OK)
    st = run_query(q, o.format, stdout, &err);
  if (st != LR_OK)
    lr_err_print(&err, stderr);
  lr_query_close(q);
  free(text);
  return st == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

const lr_command lr_cmd_query = {
    .name = "query", .args = "(SQL | -f FILE.sql)", .options = option_table,
    .run = run_query_command, .help = lr_help_query,
    .summary = "Run read-only SQL on a results database and print the rows.",
    .args_extra = "quote the SQL as one argument"};
