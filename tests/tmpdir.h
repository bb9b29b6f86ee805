/*
 * tmpdir.h: scratch directories for tests, removed with everything in them.
 */
#ifndef LORENS_TEST_TMPDIR_H
#define LORENS_TEST_TMPDIR_H

#include <stddef.h>

/* Creates $TMPDIR/lorens-NAME.XXXXXX (or under /tmp) and writes its path into buf; 0 on success. */
int tmpdir_make(char *buf, size_t n, const char *name);

/* Removes path and everything below it; 0 on success. */
int tmpdir_remove(const char *path);

/* Writes text to dir/name (creating or truncating it); 0 on success. */
int tmpdir_write(const char *dir, const char *name, const char *text);

/* Writes "dir/name" into buf and returns buf. */
char *tmpdir_path(char *buf, size_t n, const char *dir, const char *name);

#endif /* LORENS_TEST_TMPDIR_H */
