/*
 * store-sql.c: `store-sql DB [--raw | --keep-wal]`: runs the SQL on standard input against DB,
 * for the CLI tests, so that they need no sqlite3 program.  Without --raw, DB is opened with
 * lr_store_open (created and migrated to the latest schema first); with --raw, as a plain SQLite
 * file.  --keep-wal leaves what the SQL wrote in DB-wal (and DB-shm beside it), as a process
 * killed mid-sweep does: the connection does not checkpoint when it closes.
 * `store-sql --schema-version` prints the latest schema version.
 */
#include "compat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char *read_all(FILE *fp) {
  size_t len = 0, cap = 4096, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
    char *bigger;
    len += got;
    if (len + 1 < cap)
      continue;
    bigger = realloc(buf, cap *= 2);
    if (bigger == NULL)
      free(buf);
    buf = bigger;
  }
  if (buf)
    buf[len] = '\0';
  return buf;
}

int main(int argc, char **argv) {
  lr_store *s = NULL;
  sqlite3 *db = NULL;
  char *sql, *msg = NULL;
  lr_err err;
  int rc = 0;
  bool raw = argc == 3 && strcmp(argv[2], "--raw") == 0,
       keep_wal = argc == 3 && strcmp(argv[2], "--keep-wal") == 0;
  if (argc == 2 && strcmp(argv[1], "--schema-version") == 0) {
    printf("%d\n", lr_store_schema_version());
    return 0;
  }
  if (argc < 2 || argc > 3 || (argc == 3 && !raw && !keep_wal)) {
    fprintf(stderr, "usage: store-sql DB [--raw | --keep-wal] < SQL\n");
    return 2;
  }
  if ((sql = read_all(stdin)) == NULL) {
    fprintf(stderr, "store-sql: out of memory\n");
    return 1;
  }
  lr_err_init(&err);
  if (raw) {
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
      rc = 1;
  } else if (lr_store_open(argv[1], LR_STORE_CREATE, &s, &err) == LR_OK) {
    db = lr_store_db(s);
  } else {
    lr_err_print(&err, stderr);
    rc = 1;
  }
  if (rc == 0 && keep_wal &&
      sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL) != SQLITE_OK) {
    fprintf(stderr, "store-sql: %s\n", sqlite3_errmsg(db));
    rc = 1;
  }
  if (rc == 0 && sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "store-sql: %s\n", msg ? msg : sqlite3_errmsg(db));
    rc = 1;
  }
  sqlite3_free(msg);
  if (s)
    lr_store_close(s);
  else
    sqlite3_close(db);
  free(sql);
  return rc;
}
