/*
 * csv.h: a small RFC 4180 CSV reader over a buffer.
 *
 * Fields are separated by commas and records by "\n" or "\r\n".  A field that starts with a
 * double quote runs to the matching closing quote and may hold commas, line ends and quotes
 * (written ""); "\r\n" inside it reads as "\n".  A quote inside an unquoted field is kept as
 * text, as Python's csv module does; anything but a comma or a line end after a closing quote
 * is an error.  The reader counts lines, so a record is reported by the line it starts on.
 */
#ifndef LORENS_CSV_H
#define LORENS_CSV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lr_csv {
  const char *buf;
  size_t len, pos;
  int line;          /* line of pos, 1-based */
  char *text;        /* the current record's fields, unquoted, each followed by a NUL */
  size_t text_len, text_cap;
  size_t *starts;    /* offset in text of each field; its length runs to the NUL after it */
  size_t *lens;
  size_t n_fields, fields_cap;
} lr_csv;

typedef enum lr_csv_result {
  LR_CSV_RECORD, /* a record was read */
  LR_CSV_END,    /* no more records */
  LR_CSV_BAD,    /* a malformed record: msg says why; the reader has moved past it */
  LR_CSV_NOMEM,
} lr_csv_result;

void lr_csv_init(lr_csv *r, const char *buf, size_t len);
void lr_csv_release(lr_csv *r);

/* Reads the next record.  *line gets the line it starts on (also for LR_CSV_BAD). */
lr_csv_result lr_csv_next(lr_csv *r, int *line, char *msg, size_t msg_len);

/* Field i of the current record (i < r->n_fields), NUL-terminated; *len its length. */
const char *lr_csv_field(const lr_csv *r, size_t i, size_t *len);

#endif /* LORENS_CSV_H */
