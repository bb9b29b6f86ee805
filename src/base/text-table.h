/*
 * text-table.h: rows of text printed as aligned columns, for terminals.
 *
 * `lorens query` (a result set under its header, control characters escaped so that a row stays
 * one line) and `lorens status` (indented listings) print through it.  Widths are display widths:
 * a UTF-8 code point counts one column, and an escaped control character the width of its escape.
 * The last column of a row is not padded unless it is right-aligned, so lines carry no trailing
 * blanks.
 */
#ifndef LORENS_TEXT_TABLE_H
#define LORENS_TEXT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

typedef struct lr_text_table {
  int ncols;
  char **cells;       /* row-major, nrows * ncols, from malloc; NULL prints as null_text */
  size_t nrows, cap;  /* cap: cells */
  size_t *width;      /* each column's display width, header included */
  bool *right;        /* right-align the column; the caller may set it before printing */
  const char *const *header; /* column names, printed with a rule of dashes under them; or NULL */
  const char *null_text;     /* what a NULL cell prints ("NULL"); NULL: "" */
  const char *indent;        /* in front of every line; NULL: "" */
  bool escape;        /* print \n, \t and other control characters as escapes */
} lr_text_table;

/* An empty table of ncols columns, all left-aligned, with the given header (may be NULL, else
 * kept by pointer) and escaping. */
lr_status lr_text_table_init(lr_text_table *t, int ncols, const char *const *header, bool escape,
                             lr_err *err);
/* Appends a row of ncols cells, copied; a NULL cell stays NULL. */
lr_status lr_text_table_add(lr_text_table *t, const char *const *cells, lr_err *err);
/* Appends a row whose cells the table takes over (from malloc; NULL allowed). */
lr_status lr_text_table_add_owned(lr_text_table *t, char **cells, lr_err *err);
void lr_text_table_print(const lr_text_table *t, FILE *fp);
/* Frees everything; safe on a zeroed table. */
void lr_text_table_release(lr_text_table *t);

/* The display width of s as lr_text_table prints it (escape: with control characters escaped). */
size_t lr_text_width(const char *s, bool escape);

#endif /* LORENS_TEXT_TABLE_H */
