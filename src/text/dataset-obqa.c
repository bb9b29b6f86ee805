/*
 * dataset-obqa.c: OpenBookQA's TSV.
 *
 *   ID<TAB>Question Stem<TAB>Choices<TAB>Complete Question<TAB>Answer Key
 *   8-376<TAB>Frilled sharks ...<TAB>(A) Deep sea animals (B) fish (C) ...<TAB>...<TAB>A
 *
 * Fields are split on tabs only: the text holds unescaped double quotes, so this is not CSV.
 * "Complete Question" (stem + " " + choices) is not read.  Columns after the fifth (some
 * releases add facts and scores) are allowed when the header names them.
 *
 * Choices is one string.  It must start with "(A) "; then each next letter's marker " (B) ",
 * " (C) ", ... ends the choice before it, and the last choice runs to the end.  Only the next
 * letter ends a choice, so a marker that repeats an earlier letter is text: in the real train
 * file, 12-1145 reads "(A) ... (D) baby birds chewing worms (D) mother dogs nursing their pups",
 * which parses as four choices, the last with "(D)" inside it.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "text/dataset-impl.h"

static const char *const header_names[] = {"ID", "Question Stem", "Choices", "Complete Question",
                                           "Answer Key"};
enum { F_ID, F_STEM, F_CHOICES, F_COMPLETE, F_ANSWER, N_REQUIRED };
#define MAX_FIELDS 64

typedef struct field {
  const char *s;
  size_t n;
} field;

/* Splits s[0..n) on tabs into at most MAX_FIELDS fields; returns the number of fields there are
 * (which may be more than were stored). */
static size_t split_tabs(const char *s, size_t n, field *f) {
  size_t count = 0, start = 0;
  for (size_t i = 0; i <= n; i++)
    if (i == n || s[i] == '\t') {
      if (count < MAX_FIELDS)
        f[count] = (field){s + start, i - start};
      count++;
      start = i + 1;
    }
  return count;
}

static bool field_is(field f, const char *name) {
  return f.n == strlen(name) && strncasecmp(f.s, name, f.n) == 0;
}

static lr_status check_header(lr_ds_builder *b, const char *s, size_t n, size_t *n_fields) {
  field f[MAX_FIELDS];
  size_t count = split_tabs(s, n, f);
  bool ok = count >= N_REQUIRED && count <= MAX_FIELDS;
  for (size_t i = 0; ok && i < N_REQUIRED; i++)
    ok = field_is(f[i], header_names[i]);
  if (!ok)
    return lr_fail_at(b->err, LR_EPARSE, b->file, 1, 0, "the first line must be the OpenBookQA "
                      "header: ID, Question Stem, Choices, Complete Question, Answer Key, "
                      "separated by tabs");
  *n_fields = count;
  return LR_OK;
}

/* Finds " (L) " in s[from..n); returns its offset or n. */
static size_t find_marker(const char *s, size_t n, size_t from, char letter) {
  for (size_t i = from; i + 5 <= n; i++)
    if (s[i] == ' ' && s[i + 1] == '(' && s[i + 2] == letter && s[i + 3] == ')' && s[i + 4] == ' ')
      return i;
  return n;
}

/* Parses "(A) x (B) y ..." into ex->choices; -1 after reporting the line as bad. */
static int parse_choices(lr_ds_builder *b, int line, field f, lr_example *ex, lr_status *rc) {
  size_t start = 4, end;
  int k = 0;
  if (f.n < 4 || memcmp(f.s, "(A) ", 4) != 0) {
    *rc = lr_ds_bad(b, line, 0, "Choices must start with '(A) ', got '%.*s%s'",
                    (int)(f.n > 40 ? 40 : f.n), f.s, f.n > 40 ? "..." : "");
    return -1;
  }
  for (;;) {
    /* The search starts at the space that ended this choice's marker, so an empty choice
     * ("(A) (B) x") ends at the next marker: m is then start - 1, and the text is empty. */
    size_t m = k + 1 < LR_DATASET_MAX_CHOICES
                   ? find_marker(f.s, f.n, start - 1, (char)('A' + k + 1)) : f.n;
    bool last = m == f.n;
    end = m > start ? m : start;
    if (last)
      while (end > start && f.s[end - 1] == ' ')
        end--;
    if ((ex->choices[k] = lr_ds_strdup(b->ds, f.s + start, end - start)) == NULL) {
      *rc = lr_ds_oom(b);
      return -1;
    }
    k++;
    if (last)
      break;
    start = m + 5; /* m + 5 <= f.n: find_marker found all five bytes of " (L) " */
  }
  if (k < LR_DATASET_MIN_CHOICES) {
    *rc = lr_ds_bad(b, line, 0, "Choices holds only one choice (no ' (B) ' after '(A) ')");
    return -1;
  }
  ex->n_choices = k;
  return 0;
}

static lr_status parse_row(lr_ds_builder *b, int line, const char *s, size_t n,
                           size_t n_fields) {
  field f[MAX_FIELDS];
  size_t count = split_tabs(s, n, f), bad;
  lr_example ex;
  size_t lens[LR_DATASET_MAX_CHOICES];
  lr_status rc = LR_OK;
  bool ok;
  char key;
  memset(&ex, 0, sizeof ex);
  ex.line = line;
  if (!lr_ds_utf8_ok(s, n, &bad))
    return lr_ds_bad_text(b, line, s, bad);
  if (count != n_fields)
    return lr_ds_bad(b, line, 0, "row has %zu tab-separated fields, the header has %zu", count,
                     n_fields);
  if (f[F_ID].n == 0)
    return lr_ds_bad(b, line, 0, "ID is empty");
  if (lr_ds_blank(f[F_STEM].s, f[F_STEM].n))
    return lr_ds_bad(b, line, 0, "the question is empty");
  if (parse_choices(b, line, f[F_CHOICES], &ex, &rc) < 0)
    return rc;
  while (f[F_ANSWER].n > 0 && f[F_ANSWER].s[f[F_ANSWER].n - 1] == ' ')
    f[F_ANSWER].n--;
  key = f[F_ANSWER].n == 1 ? f[F_ANSWER].s[0] : 0;
  if (key < 'A' || key >= 'A' + ex.n_choices)
    return lr_ds_bad(b, line, 0, "Answer Key '%.*s' is not one of the choice labels A to %c",
                     (int)(f[F_ANSWER].n > 20 ? 20 : f[F_ANSWER].n), f[F_ANSWER].s,
                     'A' + ex.n_choices - 1);
  ex.label = key - 'A';
  for (int k = 0; k < ex.n_choices; k++)
    lens[k] = strlen(ex.choices[k]);
  if ((rc = lr_ds_check_texts(b, line, f[F_STEM].n, lens, ex.n_choices, &ok)) != LR_OK || !ok)
    return rc;
  if ((ex.id = lr_ds_strdup(b->ds, f[F_ID].s, f[F_ID].n)) == NULL ||
      (ex.question = lr_ds_strdup(b->ds, f[F_STEM].s, f[F_STEM].n)) == NULL)
    return lr_ds_oom(b);
  return lr_ds_add(b, &ex);
}

lr_status lr_ds_parse_obqa(lr_ds_builder *b, const char *buf, size_t len) {
  lr_ds_lines it = {buf, len, 0, 0};
  const char *s;
  size_t n, n_fields = 0;
  bool rows = false;
  lr_status rc;
  /* lr_ds_parse_file has checked that the file is not blank, so there is a first line. */
  lr_ds_next_line(&it, &s, &n);
  if ((rc = check_header(b, s, n, &n_fields)) != LR_OK)
    return rc;
  while (lr_ds_next_line(&it, &s, &n)) {
    if (lr_ds_blank(s, n))
      continue;
    rows = true;
    if (n > LR_DATASET_MAX_LINE_BYTES)
      rc = lr_ds_bad_size(b, it.line, "the line", n, LR_DATASET_MAX_LINE_BYTES);
    else
      rc = parse_row(b, it.line, s, n, n_fields);
    if (rc != LR_OK)
      return rc;
  }
  if (!rows)
    return lr_fail_at(b->err, LR_EPARSE, b->file, 0, 0, "file has a header but no examples");
  return LR_OK;
}
