/*
 * replay.c: runs a fuzz target over every file of its corpus, as a TAP test (see fuzz.h).
 *
 *     replay-TARGET [FILE-OR-DIR]...
 *
 * Without arguments it reads $TOP_SRCDIR/tests/fuzz/corpus/TARGET (FUZZ_TARGET is set by the
 * build).  Each input is copied into a buffer of exactly its size, so that an over-read is caught
 * by ASan in a sanitizer build just as the fuzzer would catch it.  A crash ends the program, and
 * the test harness reports the test as failed; the last "# replaying" line names the input.
 */
#include "compat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "../tap.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target, e.g. -DFUZZ_TARGET='\"safetensors\"'"
#endif

/* Reads a whole file into a buffer of exactly its size; NULL on failure. */
static uint8_t *read_all(const char *path, size_t *size) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf = NULL;
  struct stat st;
  if (fp == NULL)
    return NULL;
  if (fstat(fileno(fp), &st) == 0 && (buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1))) {
    *size = fread(buf, 1, (size_t)st.st_size, fp);
    if (*size != (size_t)st.st_size) {
      free(buf);
      buf = NULL;
    }
  }
  fclose(fp);
  return buf;
}

static void replay_file(const char *path) {
  size_t size = 0;
  uint8_t *buf = read_all(path, &size);
  if (buf == NULL) {
    tap_ok(false, "cannot read %s", path);
    return;
  }
  tap_diag("replaying %s", path);
  LLVMFuzzerTestOneInput(buf, size);
  free(buf);
  tap_ok(true, "%s: %s (%zu bytes)", FUZZ_TARGET, strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
         size);
}

static int not_hidden(const struct dirent *e) {
  return e->d_name[0] != '.';
}

/* Every file of a directory, in name order so that runs are comparable. */
static void replay_dir(const char *dir) {
  struct dirent **names;
  char path[4096];
  int n = scandir(dir, &names, not_hidden, alphasort);
  if (n < 0) {
    tap_ok(false, "cannot read the corpus directory %s", dir);
    return;
  }
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    replay_file(path);
    free(names[i]);
  }
  free(names);
}

static void replay(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    replay_dir(path);
  else
    replay_file(path);
}

int main(int argc, char **argv) {
  char corpus[4096];
  const char *top = getenv("TOP_SRCDIR");
  if (argc > 1) {
    for (int i = 1; i < argc; i++)
      replay(argv[i]);
    return tap_done();
  }
  snprintf(corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_TARGET);
  if (access(corpus, R_OK) != 0)
    tap_skip_all("no corpus directory (set TOP_SRCDIR)");
  replay(corpus);
  return tap_done();
}
