/*
 * fuzz-dataset.c: the dataset parsers (ARC, OpenBookQA, CommonsenseQA, MMLU CSV, generic jsonl),
 * over arbitrary bytes.
 *
 * The first byte picks the format (its value mod 5, in lr_dataset_format order) and the error
 * mode (bit 7 set: skip bad lines); the rest is the file.  Any input must either load examples
 * that keep the dataset's invariants (2 to 8 choices, a label in range or -1, ids unique, no
 * question or choice over LR_DATASET_MAX_TEXT_BYTES, the skip count and reasons consistent), which then split into two disjoint parts that cover them,
 * or fail with a parse error that names the file.
 */
#include "compat.h"

#include <string.h>

#include "text/dataset.h"
#include "fuzz.h"

#define NAME "fuzz/subject_test.csv"

static void check_example(const lr_example *ex) {
  FUZZ_CHECK(ex->id && ex->id[0] && ex->question && ex->file && strcmp(ex->file, NAME) == 0);
  FUZZ_CHECK(ex->n_choices >= LR_DATASET_MIN_CHOICES && ex->n_choices <= LR_DATASET_MAX_CHOICES);
  FUZZ_CHECK(ex->label >= -1 && ex->label < ex->n_choices);
  FUZZ_CHECK(ex->line >= 1);
  FUZZ_CHECK(strlen(ex->question) <= LR_DATASET_MAX_TEXT_BYTES);
  for (int c = 0; c < ex->n_choices; c++)
    FUZZ_CHECK(ex->choices[c] != NULL && strlen(ex->choices[c]) <= LR_DATASET_MAX_TEXT_BYTES);
}

static void check_split(const lr_dataset *ds, uint64_t seed) {
  lr_dataset train, val;
  lr_err err;
  lr_err_init(&err);
  if (ds->n < 2) {
    FUZZ_CHECK(lr_dataset_split(ds, 1, seed, &train, &val, &err) == LR_EINVAL);
    return;
  }
  if (lr_dataset_split(ds, 0.3, seed, &train, &val, &err) != LR_OK) {
    FUZZ_CHECK(err.code == LR_ENOMEM);
    return;
  }
  FUZZ_CHECK(train.n + val.n == ds->n && train.n > 0 && val.n > 0);
  lr_dataset_release(&train);
  lr_dataset_release(&val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_dataset_opts opts = {LR_ON_ERROR_FAIL, NULL, NULL, NULL};
  lr_dataset ds;
  lr_err err;
  lr_dataset_format fmt;
  if (size < 1)
    return 0;
  fmt = (lr_dataset_format)(data[0] % 5);
  opts.on_error = data[0] & 0x80 ? LR_ON_ERROR_SKIP : LR_ON_ERROR_FAIL;
  lr_err_init(&err);
  if (lr_dataset_parse((const char *)data + 1, size - 1, NAME, fmt, &opts, &ds, &err) != LR_OK) {
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_ENOMEM);
    FUZZ_CHECK(err.msg[0] != '\0' && strcmp(err.file, NAME) == 0);
    FUZZ_CHECK(ds.n == 0 && ds.examples == NULL);
    return 0;
  }
  FUZZ_CHECK(ds.n > 0 && ds.format == fmt && ds.n_files == 1);
  FUZZ_CHECK(opts.on_error == LR_ON_ERROR_SKIP || ds.n_skipped == 0);
  FUZZ_CHECK(ds.n_reasons <= LR_DATASET_MAX_REASONS && ds.n_reasons <= ds.n_skipped);
  for (size_t i = 0; i < ds.n; i++) {
    check_example(&ds.examples[i]);
    if (i > 0)
      FUZZ_CHECK(strcmp(ds.examples[i].id, ds.examples[i - 1].id) != 0);
    if (fmt == LR_DATASET_MMLU)
      FUZZ_CHECK(ds.examples[i].n_choices == 4 && strcmp(ds.examples[i].subject, "subject") == 0);
  }
  check_split(&ds, size);
  lr_dataset_release(&ds);
  return 0;
}
