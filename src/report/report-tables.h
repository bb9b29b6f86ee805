/*
 * report-tables.h: the ready queries of db/queries/ (embedded in lorens) run read-only through
 * store/store-query.h, their results kept as text for the report's tables.
 */
#ifndef LORENS_REPORT_TABLES_H
#define LORENS_REPORT_TABLES_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

typedef struct lr_report_table {
  const char *title, *source;  /* borrowed: "the paper's table", "db/queries/paper-table.sql" */
  int n_cols;
  char **cols;                 /* n_cols names */
  char **cells;                /* n_rows * n_cols texts ("" for NULL) */
  size_t n_rows;
} lr_report_table;

/* Runs the last statement of sql (the query proper) against the database at db_path. */
lr_status lr_report_table_read(const char *db_path, const char *sql, const char *title,
                               const char *source, lr_report_table *t, lr_err *err);
void lr_report_table_release(lr_report_table *t);

/* The table as HTML, with its title and where it comes from. */
void lr_report_table_write(FILE *fp, const lr_report_table *t);

#endif /* LORENS_REPORT_TABLES_H */
