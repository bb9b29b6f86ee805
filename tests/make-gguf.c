/*
 * make-gguf.c: writes the sample GGUF files of tests/gguf-samples.c.
 *
 *     make-gguf sample NAME FILE    one sample (the CLI tests use good-llama)
 *     make-gguf corpus DIR          every sample, as DIR/NAME (tests/fuzz/corpus/gguf)
 *     make-gguf list                the names, with the message each broken one must give
 */
#include <stdio.h>
#include <string.h>

#include "gguf-samples.h"

static int write_sample(const gguf_sample *s, const char *path) {
  gguf_buf b = {0};
  int rc;
  s->build(&b);
  rc = gw_write_file(path, b.p, b.len);
  gb_release(&b);
  if (rc != 0)
    fprintf(stderr, "make-gguf: cannot write %s\n", path);
  return rc != 0;
}

int main(int argc, char **argv) {
  char path[4096];
  int failed = 0;
  if (argc == 4 && strcmp(argv[1], "sample") == 0) {
    const gguf_sample *s = gguf_sample_find(argv[2]);
    if (s == NULL) {
      fprintf(stderr, "make-gguf: no sample '%s' (make-gguf list names them)\n", argv[2]);
      return 2;
    }
    return write_sample(s, argv[3]);
  }
  if (argc == 3 && strcmp(argv[1], "corpus") == 0) {
    for (size_t i = 0; i < gguf_n_samples; i++) {
      snprintf(path, sizeof path, "%s/%s", argv[2], gguf_samples[i].name);
      failed |= write_sample(&gguf_samples[i], path);
    }
    return failed;
  }
  if (argc == 2 && strcmp(argv[1], "list") == 0) {
    for (size_t i = 0; i < gguf_n_samples; i++)
      printf("%-28s %s\n", gguf_samples[i].name,
             gguf_samples[i].message ? gguf_samples[i].message : "(valid)");
    return 0;
  }
  fprintf(stderr, "usage: make-gguf sample NAME FILE | corpus DIR | list\n");
  return 2;
}
