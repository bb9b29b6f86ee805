/*
 * report-tables.c: the ready queries as tables (report-tables.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-tables.h"
#include "report/svg-plot.h"
#include "store/store-query.h"

static lr_status add_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  lr_report_table *t = ctx;
  char **grown = realloc(t->cells, (t->n_rows + 1) * (size_t)t->n_cols * sizeof *grown);
  if (grown == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  t->cells = grown;
  for (int c = 0; c < t->n_cols; c++) {
    /* as `lorens query` prints the table */
    char *text = c >= ncols || row[c].type == LR_VALUE_NULL ? strdup("")
                                                             : lr_query_cell_text(&row[c], false);
    if (text == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    grown[t->n_rows * (size_t)t->n_cols + (size_t)c] = text;
  }
  t->n_rows++;
  return LR_OK;
}

lr_status lr_report_table_read(const char *db_path, const char *sql, const char *title,
                               const char *source, lr_report_table *t, lr_err *err) {
  lr_query *q = NULL;
  lr_status rc;
  size_t last;
  memset(t, 0, sizeof *t);
  t->title = title;
  t->source = source;
  if ((rc = lr_query_open(db_path, sql, source, &q, err)) != LR_OK)
    return rc;
  last = lr_query_count(q) - 1;
  t->n_cols = lr_query_columns(q, last);
  if ((t->cols = calloc((size_t)t->n_cols + 1, sizeof *t->cols)) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  for (int c = 0; rc == LR_OK && c < t->n_cols; c++)
    if ((t->cols[c] = strdup(lr_query_column_name(q, last, c))) == NULL)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    rc = lr_query_run(q, last, add_row, t, err);
  lr_query_close(q);
  return rc;
}

void lr_report_table_release(lr_report_table *t) {
  for (size_t i = 0; t->cells && i < t->n_rows * (size_t)t->n_cols; i++)
    free(t->cells[i]);
  for (int c = 0; t->cols && c < t->n_cols; c++)
    free(t->cols[c]);
  free(t->cells);
  free(t->cols);
  memset(t, 0, sizeof *t);
}

void lr_report_table_write(FILE *fp, const lr_report_table *t) {
  fputs("<h3>", fp);
  lr_html_escape(fp, t->title);
  fputs(" <span class=\"src\">(", fp);
  lr_html_escape(fp, t->source);
  fprintf(fp, ", %zu rows)</span></h3>\n", t->n_rows);
  if (t->n_rows == 0) {
    fputs("<p>No rows.</p>\n", fp);
    return;
  }
  fputs("<div class=\"tbl\"><table class=\"q\">\n<tr>", fp);
  for (int c = 0; c < t->n_cols; c++) {
    fputs("<th>", fp);
    lr_html_escape(fp, t->cols[c]);
    fputs("</th>", fp);
  }
  fputs("</tr>\n", fp);
  for (size_t r = 0; r < t->n_rows; r++) {
    fputs("<tr>", fp);
    for (int c = 0; c < t->n_cols; c++) {
      fputs("<td>", fp);
      lr_html_escape(fp, t->cells[r * (size_t)t->n_cols + (size_t)c]);
      fputs("</td>", fp);
    }
    fputs("</tr>\n", fp);
  }
  fputs("</table></div>\n", fp);
}
