/*
 * dataset.h: multiple-choice QA datasets, loaded from the files they are published in.
 *
 * Every format becomes the same thing: a list of examples, each a question, 2 to 8 answer
 * choices in the order the file gives them, and the index of the right one (-1 when the file has
 * no answers, as CommonsenseQA's test split).  Formats (docs/datasets.md has the details):
 *
 *   arc    AI2 ARC jsonl: {"id", "question": {"stem", "choices": [{"text", "label"}]},
 *          "answerKey"}; labels A-E or 1-4, matched by label, not by position
 *   obqa   OpenBookQA TSV: ID, Question Stem, Choices ("(A) x (B) y ..."), Complete Question,
 *          Answer Key; no CSV quoting
 *   csqa   CommonsenseQA jsonl: the ARC layout; answerKey may be absent (label -1)
 *   mmlu   MMLU CSV: a file, or a directory of <subject>_{dev,val,test}.csv; the original layout
 *          (no header, answer a letter) or the Hugging Face export (header question,choice0..3,
 *          answer; answer 0-3), detected per file; RFC 4180 quoting
 *   jsonl  generic: {"id" (optional), "question", "choices": [...], "answer": index or letter}
 *
 * A line that does not parse is an error "file:line[:col]: what is wrong".  With
 * LR_ON_ERROR_FAIL (the default) the first one stops the load; with LR_ON_ERROR_SKIP bad lines
 * are counted, the first few reasons kept, and the rest loads.  A repeated id is a bad line (the
 * second one): ids key per-example predictions in the results database.  Problems with the file
 * as a whole (missing, empty, only a header, nothing loadable, a wrong OBQA header) fail the load
 * in either mode.  Text is UTF-8; a BOM is dropped and CRLF line ends are read as LF.
 */
#ifndef LORENS_DATASET_H
#define LORENS_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LR_DATASET_MIN_CHOICES 2
#define LR_DATASET_MAX_CHOICES 8
/* How many skip reasons a dataset keeps (all skips are counted). */
#define LR_DATASET_MAX_REASONS 5
/* Files larger than this are refused before they are read: 1 GiB is far above any QA dataset. */
#define LR_DATASET_MAX_FILE_BYTES ((size_t)1 << 30)
/* A line (jsonl, TSV) or CSV record longer than this is a bad line, refused before it is parsed;
 * a question or a choice longer than LR_DATASET_MAX_TEXT_BYTES is one too, before it reaches the
 * tokenizer.  Real benchmarks stay far below (ARC's longest line is about 1 KB, MMLU's longest
 * questions a few KB): the limits bound what one runaway line can cost. */
#define LR_DATASET_MAX_LINE_BYTES ((size_t)1 << 20)
#define LR_DATASET_MAX_TEXT_BYTES ((size_t)64 << 10)

typedef enum lr_dataset_format {
  LR_DATASET_ARC,
  LR_DATASET_OBQA,
  LR_DATASET_CSQA,
  LR_DATASET_MMLU,
  LR_DATASET_JSONL,
} lr_dataset_format;

typedef enum lr_on_error { LR_ON_ERROR_FAIL, LR_ON_ERROR_SKIP } lr_on_error;

typedef struct lr_dataset_opts {
  lr_on_error on_error;
  /* MMLU directories only (NULL = no filter).  subjects: comma-separated subject names; group:
   * stem, humanities, social_sciences or other (the MMLU paper's four categories).  Both may be
   * given: a subject is loaded when it passes both. */
  const char *subjects;
  const char *group;
  /* MMLU directories only: dev, val or test.  NULL takes the only split the directory holds. */
  const char *split;
} lr_dataset_opts;

typedef struct lr_example {
  const char *id;
  const char *question;
  const char *choices[LR_DATASET_MAX_CHOICES];
  int n_choices;
  int label;           /* index into choices; -1 when the file gives no answer */
  const char *subject; /* MMLU subject ("abstract_algebra"); NULL for other formats */
  const char *file;    /* the file it was read from, as the path was given */
  int line;            /* 1-based line where it starts */
} lr_example;

struct lr_dataset_block;

/* All strings of a dataset live in blocks it owns; lr_dataset_release frees everything. */
typedef struct lr_dataset {
  lr_dataset_format format;
  lr_example *examples;
  size_t n;
  size_t n_files;                               /* files read (MMLU: one per subject) */
  size_t n_skipped;                             /* bad lines skipped (LR_ON_ERROR_SKIP) */
  size_t n_reasons;                             /* min(n_skipped, LR_DATASET_MAX_REASONS) */
  const char *reasons[LR_DATASET_MAX_REASONS]; /* "file:line: what is wrong" */
  /* private */
  size_t cap;
  struct lr_dataset_block *blocks;
} lr_dataset;

/* Sets every field to empty: a dataset that can be released. */
void lr_dataset_init(lr_dataset *ds);

/* Loads path (a file; for MMLU, a file or a directory) in format fmt.  opts may be NULL
 * (fail on the first bad line, no filters).  On failure *out is empty and err says why. */
lr_status lr_dataset_load(const char *path, lr_dataset_format fmt, const lr_dataset_opts *opts,
                          lr_dataset *out, lr_err *err);

/* Parses one file's bytes as lr_dataset_load would (for MMLU: one CSV file, subject from its
 * name), naming it `name` in messages.  The fuzz target's entry point. */
lr_status lr_dataset_parse(const char *buf, size_t len, const char *name, lr_dataset_format fmt,
                           const lr_dataset_opts *opts, lr_dataset *out, lr_err *err);

/* Frees everything and leaves *ds empty. */
void lr_dataset_release(lr_dataset *ds);

/* "arc", "obqa", "csqa", "mmlu", "jsonl" <-> format.  parse returns false for other names. */
bool lr_dataset_format_parse(const char *name, lr_dataset_format *out);
const char *lr_dataset_format_name(lr_dataset_format fmt);
/* The names by format, NULL-terminated: an LR_OPT_CHOICE's choices, whose index is the format. */
extern const char *const lr_dataset_format_choices[];
/* "arc|obqa|csqa|mmlu|jsonl", for usage lines and messages. */
#define LR_DATASET_FORMAT_NAMES "arc|obqa|csqa|mmlu|jsonl"

/* Carves a validation set out of `in`, deterministically from seed:
 *
 *   1. k = size when size >= 1 (a count; must be a whole number), or round(size * n) when
 *      0 < size < 1 (a fraction), at least 1; k must leave at least one training example.
 *   2. The indices 0..n-1 are shuffled by Fisher-Yates with an lr_rng seeded with
 *      lr_seed_mix(seed, LR_DATASET_SPLIT_STREAM): for i = n-1 down to 1, swap i with
 *      lr_rng_below(i + 1).
 *   3. The first k shuffled indices go to *val, the rest to *train, each kept in file order.
 *
 * The two outputs own copies of their strings (in may be released first).  Same input, size and
 * seed give the same split on every machine. */
#define LR_DATASET_SPLIT_STREAM 0x73706c6974ull /* "split" */
lr_status lr_dataset_split(const lr_dataset *in, double size, uint64_t seed, lr_dataset *train,
                           lr_dataset *val, lr_err *err);

/* ---- MMLU subjects -------------------------------------------------------------------------- */

typedef struct lr_mmlu_subject {
  const char *name;     /* "abstract_algebra" */
  const char *category; /* the MMLU repository's subcategory: "math" */
  const char *group;    /* "stem", "humanities", "social_sciences" or "other" */
} lr_mmlu_subject;

/* The 57 subjects of MMLU (Hendrycks et al. 2021) with their groups, as in the paper's
 * repository (categories.py), sorted by name. */
const lr_mmlu_subject *lr_mmlu_subjects(size_t *n);

/* The entry for a subject name, or NULL when it is not one of the 57. */
const lr_mmlu_subject *lr_mmlu_subject_find(const char *name);

/* The canonical group name for "stem", "STEM", "humanities", "social_sciences",
 * "social-sciences", "social sciences", "other" (any case); NULL otherwise. */
const char *lr_mmlu_group_parse(const char *name);

#endif /* LORENS_DATASET_H */
