/*
 * shards.c: publishing a Slurm task's database and merging shards into the main one (shards.h).
 */
#include "compat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-copy.h"
#include "base/file-util.h"
#include "run/slurm-shards.h"
#include "store/store-merge.h"

/* SUBMISSION/shards/task-N + suffix, from malloc. */
static char *shard_path(const char *submission, long task, const char *suffix) {
  char *p = NULL;
  return asprintf(&p, "%s/shards/task-%ld%s", submission, task, suffix) < 0 ? NULL : p;
}

typedef struct note_ctx {
  const char *text;
} note_ctx;

static void emit_note(FILE *fp, const void *ctx) {
  fprintf(fp, "%s\n", ((const note_ctx *)ctx)->text);
}

lr_status lr_shard_publish(const char *local_db, const char *submission, long task,
                           const char *note, lr_err *err) {
  char *dir = NULL, *db = shard_path(submission, task, ".db"),
       *runs = shard_path(submission, task, ".db.runs"),
       *done = shard_path(submission, task, ".done"), *local_runs = NULL;
  struct stat st;
  note_ctx nc = {note};
  lr_status rc = LR_OK;
  if (!db || !runs || !done || asprintf(&local_runs, "%s.runs", local_db) < 0 ||
      asprintf(&dir, "%s/shards", submission) < 0)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  /* A marker from an earlier publish of this task goes first: the files change under it. */
  if (rc == LR_OK && unlink(done) != 0 && errno != ENOENT)
    rc = lr_fail(err, LR_EIO, "%s: cannot remove: %s", done, strerror(errno));
  if (rc == LR_OK)
    rc = lr_mkdir_p(dir, err);
  if (rc == LR_OK)
    rc = lr_publish(local_db, db, err);
  if (rc == LR_OK && stat(local_runs, &st) == 0 && S_ISDIR(st.st_mode))
    rc = lr_publish(local_runs, runs, err);
  if (rc == LR_OK)
    rc = lr_write_file_atomic(done, emit_note, &nc, err);
  free(dir);
  free(db);
  free(runs);
  free(done);
  free(local_runs);
  return rc;
}

int lr_shard_published(const char *submission, long task) {
  char *done = shard_path(submission, task, ".done");
  int yes = done && access(done, F_OK) == 0;
  free(done);
  return yes;
}

/* ---- collect -------------------------------------------------------------------------------- */

/* Merges one shard; one that cannot be merged is reported and *skipped set. */
static lr_status merge_one(lr_store *main, const char *path, FILE *report, long *merged,
                           int *skipped, lr_err *err) {
  char why[256] = "";
  long n = 0;
  lr_status rc = lr_store_merge_shard(main, path, &n, why, sizeof why, err);
  *skipped = rc == LR_OK && why[0];
  if (*skipped)
    fprintf(report, "lorens: collect: %s: %s; left alone\n", path, why);
  *merged += n;
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the marked shards of root/SUBMISSION/shards to *list (paths of the .db files). */
static lr_status find_shards(const char *root, char ***list, size_t *n, lr_err *err) {
  DIR *top = opendir(root), *d;
  struct dirent *e, *f;
  if (top == NULL)
    return lr_fail(err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, "%s: cannot open: %s", root,
                   strerror(errno));
  while ((e = readdir(top)) != NULL) {
    char *dir = NULL;
    if (e->d_name[0] == '.' || asprintf(&dir, "%s/%s/shards", root, e->d_name) < 0)
      continue;
    if ((d = opendir(dir)) != NULL) {
      while ((f = readdir(d)) != NULL) {
        size_t len = strlen(f->d_name);
        char *db = NULL, **grown;
        if (len < 6 || strcmp(f->d_name + len - 5, ".done") != 0 ||
            asprintf(&db, "%s/%.*s.db", dir, (int)(len - 5), f->d_name) < 0)
          continue;
        if ((grown = realloc(*list, (*n + 1) * sizeof *grown)) == NULL) {
          free(db);
          continue;
        }
        *list = grown;
        (*list)[(*n)++] = db;
      }
      closedir(d);
    }
    free(dir);
  }
  closedir(top);
  qsort(*list, *n, sizeof **list, by_name);
  return LR_OK;
}

lr_status lr_collect(lr_store *main, const char *root, FILE *report, lr_collect_result *res,
                     lr_err *err) {
  char **list = NULL;
  size_t n = 0;
  lr_status rc;
  memset(res, 0, sizeof *res);
  rc = find_shards(root, &list, &n, err);
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    int skipped = 0;
    rc = merge_one(main, list[i], report, &res->merged, &skipped, err);
    res->shards++;
    res->skipped += skipped;
  }
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
  return rc;
}
