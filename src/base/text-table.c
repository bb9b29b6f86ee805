/*
 * text-table.c: rows of text printed as aligned columns (see text-table.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/text-table.h"

static bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

size_t lr_text_width(const char *s, bool escape) {
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p & 0xc0) == 0x80)
      continue; /* a UTF-8 continuation byte */
    if (escape && is_control(*p))
      w += *p == '\n' || *p == '\t' ? 2 : 4; /* \n, \t, \xNN */
    else
      w++;
  }
  return w;
}

static void put_text(const char *s, bool escape, FILE *fp) {
  if (!escape) {
    fputs(s, fp);
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\n')
      fputs("\\n", fp);
    else if (*p == '\t')
      fputs("\\t", fp);
    else if (is_control(*p))
      fprintf(fp, "\\x%02x", *p);
    else
      fputc(*p, fp);
  }
}

lr_status lr_text_table_init(lr_text_table *t, int ncols, const char *const *header, bool escape,
                             lr_err *err) {
  memset(t, 0, sizeof *t);
  t->ncols = ncols;
  t->header = header;
  t->escape = escape;
  t->width = calloc((size_t)ncols + 1, sizeof *t->width);
  t->right = calloc((size_t)ncols + 1, sizeof *t->right);
  if (t->width == NULL || t->right == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (int c = 0; header && c < ncols; c++)
    t->width[c] = lr_text_width(header[c], escape);
  return LR_OK;
}

static size_t cell_width(const lr_text_table *t, const char *s) {
  return lr_text_width(s ? s : t->null_text ? t->null_text : "", t->escape);
}

lr_status lr_text_table_add_owned(lr_text_table *t, char **cells, lr_err *err) {
  size_t first = t->nrows * (size_t)t->ncols;
  if (LR_GROW(t->cells, t->cap, first + (size_t)t->ncols, err) != LR_OK) {
    for (int c = 0; c < t->ncols; c++)
      free(cells[c]);
    return err->code;
  }
  for (int c = 0; c < t->ncols; c++) {
    size_t w = cell_width(t, cells[c]);
    t->cells[first + (size_t)c] = cells[c];
    if (w > t->width[c])
      t->width[c] = w;
  }
  t->nrows++;
  return LR_OK;
}

lr_status lr_text_table_add(lr_text_table *t, const char *const *cells, lr_err *err) {
  char **copy = calloc((size_t)t->ncols + 1, sizeof *copy);
  lr_status rc = copy ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  for (int c = 0; rc == LR_OK && c < t->ncols; c++)
    if (cells[c] && (copy[c] = strdup(cells[c])) == NULL)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    rc = lr_text_table_add_owned(t, copy, err);
  else
    for (int c = 0; copy && c < t->ncols; c++)
      free(copy[c]);
  free(copy);
  return rc;
}

/* One cell padded to its column, after the gap that separates it from the previous one. */
static void put_cell(const lr_text_table *t, int c, const char *s, FILE *fp) {
  size_t w = lr_text_width(s, t->escape), width = t->width[c];
  bool last = c == t->ncols - 1;
  if (c > 0)
    fputs("  ", fp);
  for (size_t i = w; t->right[c] && i < width; i++)
    fputc(' ', fp);
  put_text(s, t->escape, fp);
  for (size_t i = w; !t->right[c] && !last && i < width; i++)
    fputc(' ', fp);
}

void lr_text_table_print(const lr_text_table *t, FILE *fp) {
  const char *indent = t->indent ? t->indent : "";
  if (t->header) {
    fputs(indent, fp);
    for (int c = 0; c < t->ncols; c++)
      put_cell(t, c, t->header[c], fp);
    fprintf(fp, "\n%s", indent);
    for (int c = 0; c < t->ncols; c++) {
      if (c > 0)
        fputs("  ", fp);
      for (size_t i = 0; i < t->width[c]; i++)
        fputc('-', fp);
    }
    fputc('\n', fp);
  }
  for (size_t r = 0; r < t->nrows; r++) {
    fputs(indent, fp);
    for (int c = 0; c < t->ncols; c++) {
      const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
      put_cell(t, c, s ? s : t->null_text ? t->null_text : "", fp);
    }
    fputc('\n', fp);
  }
}

void lr_text_table_release(lr_text_table *t) {
  for (size_t i = 0; t->cells && i < t->nrows * (size_t)t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t->width);
  free(t->right);
  memset(t, 0, sizeof *t);
}
