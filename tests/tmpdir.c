/*
 * tmpdir.c: scratch directories for tests (see tmpdir.h).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"

int tmpdir_make(char *buf, size_t n, const char *name) {
  const char *base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  if ((size_t)snprintf(buf, n, "%s/lorens-%s.XXXXXX", base, name) >= n)
    return -1;
  return mkdtemp(buf) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int tmpdir_remove(const char *path) {
  /* FTW_DEPTH visits a directory after its contents, so it is empty by the time it goes. */
  return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tmpdir_write(const char *dir, const char *name, const char *text) {
  char path[4096];
  FILE *fp = fopen(tmpdir_path(path, sizeof path, dir, name), "wb");
  int rc = 0;
  if (fp == NULL)
    return -1;
  if (fputs(text, fp) == EOF)
    rc = -1;
  if (fclose(fp) != 0)
    rc = -1;
  return rc;
}

char *tmpdir_path(char *buf, size_t n, const char *dir, const char *name) {
  snprintf(buf, n, "%s/%s", dir, name);
  return buf;
}
