/*
 * dataset-impl.h: what the per-format dataset parsers share (private to dataset*.c).
 *
 * A parser walks one file's bytes and hands each good example to lr_ds_add; for a bad line it
 * returns lr_ds_bad(...), which either records the error and stops the load (LR_ON_ERROR_FAIL:
 * returns LR_EPARSE) or counts the line as skipped and lets the parser go on (returns LR_OK).
 * Strings are copied into the dataset's blocks with lr_ds_strdup as they are parsed.
 */
#ifndef LORENS_DATASET_IMPL_H
#define LORENS_DATASET_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "text/dataset.h"

struct lr_ds_idset;

typedef struct lr_ds_builder {
  lr_dataset *ds;
  lr_on_error on_error;
  lr_err *err;
  const char *file;    /* the current file's name, in the dataset's blocks */
  const char *subject; /* MMLU subject of the current file, or NULL */
  struct lr_ds_idset *ids;
} lr_ds_builder;

/* A copy of s[0..n) with a NUL after it, owned by the dataset; NULL when out of memory. */
char *lr_ds_strdup(lr_dataset *ds, const char *s, size_t n);

/* A bad line (see above).  col 0 = unknown. */
lr_status lr_ds_bad(lr_ds_builder *b, int line, int col, const char *fmt, ...) LR_PRINTF(4, 5);

/* Records running out of memory; returns LR_ENOMEM. */
lr_status lr_ds_oom(lr_ds_builder *b);

/* Appends ex (its strings already in the dataset's blocks), after checking that its id is new;
 * a repeated id is a bad line.  Fills in ex->file and ex->subject. */
lr_status lr_ds_add(lr_ds_builder *b, lr_example *ex);

/* Lines of a buffer: each call gives the next line without its "\n" or "\r\n"; false at the
 * end.  it->line is the 1-based number of the line just returned. */
typedef struct lr_ds_lines {
  const char *buf;
  size_t len, pos;
  int line;
} lr_ds_lines;
bool lr_ds_next_line(lr_ds_lines *it, const char **s, size_t *n);

/* Whether s[0..n) is all spaces, tabs and line ends. */
bool lr_ds_blank(const char *s, size_t n);

/* Whether s[0..n) is valid UTF-8 without NUL bytes; on false *bad is the offset of the first
 * bad byte. */
bool lr_ds_utf8_ok(const char *s, size_t n, size_t *bad);

/* Reports the line as bad because `what` ("the line", "the question", "choice B") is n bytes,
 * more than max: "the question is 70000 bytes (at most 65536)". */
lr_status lr_ds_bad_size(lr_ds_builder *b, int line, const char *what, size_t n, size_t max);

/* Checks a question and its choices against LR_DATASET_MAX_TEXT_BYTES; a bad line when one is
 * longer (what lr_ds_bad returns), else LR_OK with *ok true. */
lr_status lr_ds_check_texts(lr_ds_builder *b, int line, size_t question, const size_t *choices,
                            int n_choices, bool *ok);

/* Reports the line as bad because of byte s[bad] (what lr_ds_utf8_ok found), at its column. */
lr_status lr_ds_bad_text(lr_ds_builder *b, int line, const char *s, size_t bad);

/* The labels "A, B, C, D" of a choice list, for messages. */
void lr_ds_join_labels(char *buf, size_t n, const char *const *labels, int count);

/* The parsers, over one file's bytes with any BOM removed. */
lr_status lr_ds_parse_arc(lr_ds_builder *b, const char *buf, size_t len, bool csqa);
lr_status lr_ds_parse_jsonl(lr_ds_builder *b, const char *buf, size_t len);
lr_status lr_ds_parse_obqa(lr_ds_builder *b, const char *buf, size_t len);
lr_status lr_ds_parse_mmlu(lr_ds_builder *b, const char *buf, size_t len);

/* Reads a whole file into a new buffer (at most LR_DATASET_MAX_FILE_BYTES). */
lr_status lr_ds_read_file(const char *path, char **out, size_t *len, lr_err *err);

/* Parses one file's bytes as format fmt into b's dataset, with the whole-file checks (empty, no
 * loadable example). */
lr_status lr_ds_parse_file(lr_ds_builder *b, const char *buf, size_t len, const char *name,
                           lr_dataset_format fmt);

/* Loads an MMLU file or directory (dataset-mmlu.c). */
lr_status lr_ds_load_mmlu(lr_ds_builder *b, const char *path, const lr_dataset_opts *opts);

#endif /* LORENS_DATASET_IMPL_H */
