/*
 * csv.c: the CSV reader (see csv.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"

void lr_csv_init(lr_csv *r, const char *buf, size_t len) {
  memset(r, 0, sizeof *r);
  r->buf = buf;
  r->len = len;
  r->line = 1;
}

void lr_csv_release(lr_csv *r) {
  free(r->text);
  free(r->starts);
  free(r->lens);
  memset(r, 0, sizeof *r);
}

static bool put(lr_csv *r, char c) {
  if (r->text_len == r->text_cap) {
    size_t cap = r->text_cap ? r->text_cap * 2 : 1024;
    char *grown = realloc(r->text, cap);
    if (grown == NULL)
      return false;
    r->text = grown;
    r->text_cap = cap;
  }
  r->text[r->text_len++] = c;
  return true;
}

static bool end_field(lr_csv *r, size_t start) {
  if (r->n_fields == r->fields_cap) {
    size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
    size_t *starts = realloc(r->starts, cap * sizeof *starts), *lens;
    if (starts == NULL)
      return false;
    r->starts = starts;
    if ((lens = realloc(r->lens, cap * sizeof *lens)) == NULL)
      return false;
    r->lens = lens;
    r->fields_cap = cap;
  }
  r->starts[r->n_fields] = start;
  r->lens[r->n_fields] = r->text_len - start;
  r->n_fields++;
  return put(r, '\0');
}

/* Moves past the rest of the current line, after a malformed record. */
static void skip_line(lr_csv *r) {
  const char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
  r->pos = nl ? (size_t)(nl - r->buf) + 1 : r->len;
  if (nl)
    r->line++;
}

/* Whether pos is at the end of a record: end of input, "\n" or "\r\n". */
static bool at_record_end(const lr_csv *r) {
  return r->pos >= r->len || r->buf[r->pos] == '\n' ||
         (r->buf[r->pos] == '\r' && (r->pos + 1 == r->len || r->buf[r->pos + 1] == '\n'));
}

/* A quoted field, pos just after its opening quote.  0 ok, -1 no memory, 1 not closed. */
static int read_quoted(lr_csv *r) {
  while (r->pos < r->len) {
    char c = r->buf[r->pos];
    if (c == '"' && r->pos + 1 < r->len && r->buf[r->pos + 1] == '"') {
      c = '"';
      r->pos++;
    } else if (c == '"') {
      r->pos++;
      return 0;
    } else if (c == '\r' && r->pos + 1 < r->len && r->buf[r->pos + 1] == '\n') {
      c = '\n';
      r->pos++;
    }
    if (c == '\n')
      r->line++;
    if (!put(r, c))
      return -1;
    r->pos++;
  }
  return 1;
}

static bool read_unquoted(lr_csv *r) {
  size_t start = r->text_len;
  while (r->pos < r->len && r->buf[r->pos] != ',' && r->buf[r->pos] != '\n')
    if (!put(r, r->buf[r->pos++]))
      return false;
  /* The '\r' of a "\r\n" line end is not part of the field. */
  if (r->text_len > start && r->text[r->text_len - 1] == '\r' &&
      (r->pos >= r->len || r->buf[r->pos] == '\n'))
    r->text_len--;
  return true;
}

lr_csv_result lr_csv_next(lr_csv *r, int *line, char *msg, size_t msg_len) {
  r->text_len = 0;
  r->n_fields = 0;
  *line = r->line;
  if (r->pos >= r->len)
    return LR_CSV_END;
  for (;;) {
    size_t start = r->text_len;
    if (r->buf[r->pos] == '"') {
      int q;
      r->pos++;
      if ((q = read_quoted(r)) < 0)
        return LR_CSV_NOMEM;
      if (q > 0) {
        snprintf(msg, msg_len, "the quoted field %zu is never closed (a quote inside a quoted "
                 "field is written \"\")", r->n_fields + 1);
        return LR_CSV_BAD;
      }
      if (r->pos < r->len && r->buf[r->pos] != ',' && !at_record_end(r)) {
        snprintf(msg, msg_len, "unexpected '%c' after the closing quote of field %zu (a quote "
                 "inside a quoted field is written \"\")", r->buf[r->pos], r->n_fields + 1);
        skip_line(r);
        return LR_CSV_BAD;
      }
    } else if (!read_unquoted(r))
      return LR_CSV_NOMEM;
    if (!end_field(r, start))
      return LR_CSV_NOMEM;
    if (r->pos >= r->len)
      return LR_CSV_RECORD;
    if (r->buf[r->pos] == ',') {
      r->pos++;
      if (r->pos < r->len)
        continue;
      /* "a,b," at the very end: a last, empty field. */
      return end_field(r, r->text_len) ? LR_CSV_RECORD : LR_CSV_NOMEM;
    }
    if (r->buf[r->pos] == '\r')
      r->pos++;
    if (r->pos < r->len) { /* the '\n' */
      r->pos++;
      r->line++;
    }
    return LR_CSV_RECORD;
  }
}

const char *lr_csv_field(const lr_csv *r, size_t i, size_t *len) {
  *len = r->lens[i];
  return r->text + r->starts[i];
}
