/*
 * dataset.c: the dataset container, loading and splitting (see dataset.h), and the helpers the
 * per-format parsers share (dataset-impl.h).
 *
 * Strings live in blocks of at least 64 KiB that never move, so an example's pointers stay valid
 * while the example array grows; one dataset frees them all at once.  Ids are checked for
 * repeats with a small open-addressing set that exists only while a dataset loads.
 */
#include "compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file-util.h"
#include "base/hashmap.h"
#include "base/rng.h"
#include "base/utf8.h"
#include "text/dataset-impl.h"

/* ---- string blocks -------------------------------------------------------------------------- */

struct lr_dataset_block {
  struct lr_dataset_block *next;
  size_t used, cap;
  char data[];
};

#define BLOCK_MIN ((size_t)64 << 10)

char *lr_ds_strdup(lr_dataset *ds, const char *s, size_t n) {
  struct lr_dataset_block *b = ds->blocks;
  char *p;
  if (b == NULL || b->cap - b->used < n + 1) {
    size_t cap = n + 1 > BLOCK_MIN ? n + 1 : BLOCK_MIN;
    if ((b = malloc(sizeof *b + cap)) == NULL)
      return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = ds->blocks;
    ds->blocks = b;
  }
  p = b->data + b->used;
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  b->used += n + 1;
  return p;
}

void lr_dataset_init(lr_dataset *ds) {
  memset(ds, 0, sizeof *ds);
}

void lr_dataset_release(lr_dataset *ds) {
  struct lr_dataset_block *b = ds->blocks, *next;
  for (; b; b = next) {
    next = b->next;
    free(b);
  }
  free(ds->examples);
  lr_dataset_init(ds);
}

/* ---- the id set ----------------------------------------------------------------------------- */

/* Examples by id: an index over the dataset's examples, whose ids are borrowed from its blocks. */
struct lr_ds_idset {
  lr_hashmap map;
};

static bool id_eq(const void *ctx, size_t i, const void *key, size_t len) {
  const char *id = ((const lr_dataset *)ctx)->examples[i].id;
  return strncmp(id, key, len) == 0 && id[len] == '\0';
}

/* ---- builder -------------------------------------------------------------------------------- */

lr_status lr_ds_oom(lr_ds_builder *b) {
  return lr_fail(b->err, LR_ENOMEM, "out of memory loading '%s'", b->file ? b->file : "dataset");
}

static void keep_reason(lr_ds_builder *b, int line, int col, const char *msg) {
  lr_dataset *ds = b->ds;
  char buf[LR_ERR_FILE_MAX + LR_ERR_MSG_MAX + 32];
  int n;
  if (ds->n_reasons >= LR_DATASET_MAX_REASONS)
    return;
  if (col > 0)
    n = snprintf(buf, sizeof buf, "%s:%d:%d: %s", b->file, line, col, msg);
  else
    n = snprintf(buf, sizeof buf, "%s:%d: %s", b->file, line, msg);
  if (n < 0)
    return;
  /* A reason that cannot be kept for want of memory is still counted. */
  ds->reasons[ds->n_reasons] = lr_ds_strdup(ds, buf, strlen(buf));
  if (ds->reasons[ds->n_reasons])
    ds->n_reasons++;
}

lr_status lr_ds_bad(lr_ds_builder *b, int line, int col, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (b->on_error == LR_ON_ERROR_FAIL)
    return lr_fail_at(b->err, LR_EPARSE, b->file, line, col, "%s", msg);
  b->ds->n_skipped++;
  keep_reason(b, line, col, msg);
  return LR_OK;
}

lr_status lr_ds_add(lr_ds_builder *b, lr_example *ex) {
  lr_dataset *ds = b->ds;
  size_t len = strlen(ex->id), found;
  /* Room first: once the id is in the index, the example must land at ds->n. */
  if (LR_GROW(ds->examples, ds->cap, ds->n + 1, NULL) != LR_OK ||
      lr_hashmap_add(&b->ids->map, lr_hash(ex->id, len), ex->id, len, ds->n, &found, NULL) != LR_OK)
    return lr_ds_oom(b);
  if (found != LR_HASHMAP_NONE)
    return lr_ds_bad(b, ex->line, 0, "id '%s' was already used by an earlier example", ex->id);
  ex->file = b->file;
  ex->subject = b->subject;
  ds->examples[ds->n++] = *ex;
  return LR_OK;
}

/* ---- text helpers --------------------------------------------------------------------------- */

bool lr_ds_next_line(lr_ds_lines *it, const char **s, size_t *n) {
  const char *start, *nl;
  size_t len;
  if (it->pos >= it->len)
    return false;
  start = it->buf + it->pos;
  nl = memchr(start, '\n', it->len - it->pos);
  len = nl ? (size_t)(nl - start) : it->len - it->pos;
  it->pos += len + (nl != NULL);
  if (len > 0 && start[len - 1] == '\r')
    len--;
  it->line++;
  *s = start;
  *n = len;
  return true;
}

bool lr_ds_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
      return false;
  return true;
}

/* NUL is valid UTF-8, but a line holding one is refused all the same (lr_ds_bad_text). */
bool lr_ds_utf8_ok(const char *s, size_t n, size_t *bad) {
  size_t valid = lr_utf8_valid_prefix(s, n);
  const char *nul = memchr(s, '\0', valid);
  if (nul == NULL && valid == n)
    return true;
  *bad = nul ? (size_t)(nul - s) : valid;
  return false;
}

lr_status lr_ds_bad_text(lr_ds_builder *b, int line, const char *s, size_t bad) {
  if (s[bad] == '\0')
    return lr_ds_bad(b, line, (int)bad + 1, "the line holds a NUL byte");
  return lr_ds_bad(b, line, (int)bad + 1, "not valid UTF-8 (byte 0x%02x)", (unsigned char)s[bad]);
}

lr_status lr_ds_bad_size(lr_ds_builder *b, int line, const char *what, size_t n, size_t max) {
  return lr_ds_bad(b, line, 0, "%s is %zu bytes (at most %zu)", what, n, max);
}

lr_status lr_ds_check_texts(lr_ds_builder *b, int line, size_t question, const size_t *choices,
                            int n_choices, bool *ok) {
  char what[16];
  *ok = false;
  if (question > LR_DATASET_MAX_TEXT_BYTES)
    return lr_ds_bad_size(b, line, "the question", question, LR_DATASET_MAX_TEXT_BYTES);
  for (int k = 0; k < n_choices; k++)
    if (choices[k] > LR_DATASET_MAX_TEXT_BYTES) {
      snprintf(what, sizeof what, "choice %c", 'A' + k);
      return lr_ds_bad_size(b, line, what, choices[k], LR_DATASET_MAX_TEXT_BYTES);
    }
  *ok = true;
  return LR_OK;
}

void lr_ds_join_labels(char *buf, size_t n, const char *const *labels, int count) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < count && used < n; i++) {
    int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", labels[i]);
    if (w < 0)
      break;
    used += (size_t)w;
  }
}

/* ---- loading -------------------------------------------------------------------------------- */

lr_status lr_ds_read_file(const char *path, char **out, size_t *len, lr_err *err) {
  return lr_read_file(path, LR_DATASET_MAX_FILE_BYTES, "a dataset file", out, len, err);
}

static lr_status parse_format(lr_ds_builder *b, const char *buf, size_t len,
                              lr_dataset_format fmt) {
  switch (fmt) {
  case LR_DATASET_ARC: return lr_ds_parse_arc(b, buf, len, false);
  case LR_DATASET_CSQA: return lr_ds_parse_arc(b, buf, len, true);
  case LR_DATASET_JSONL: return lr_ds_parse_jsonl(b, buf, len);
  case LR_DATASET_OBQA: return lr_ds_parse_obqa(b, buf, len);
  case LR_DATASET_MMLU: return lr_ds_parse_mmlu(b, buf, len);
  }
  return lr_fail(b->err, LR_EINVAL, "unknown dataset format %d", (int)fmt);
}

lr_status lr_ds_parse_file(lr_ds_builder *b, const char *buf, size_t len, const char *name,
                           lr_dataset_format fmt) {
  lr_dataset *ds = b->ds;
  size_t n0 = ds->n, skipped0 = ds->n_skipped, reasons0 = ds->n_reasons;
  lr_status rc;
  if ((b->file = lr_ds_strdup(ds, name, strlen(name))) == NULL)
    return lr_fail(b->err, LR_ENOMEM, "out of memory loading '%s'", name);
  ds->n_files++;
  /* A UTF-8 byte order mark is how some editors and Windows tools start a text file. */
  if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
    buf += 3;
    len -= 3;
  }
  if (lr_ds_blank(buf, len))
    return lr_fail_at(b->err, LR_EPARSE, name, 0, 0, "file is empty");
  if ((rc = parse_format(b, buf, len, fmt)) != LR_OK)
    return rc;
  /* Skipping every line of a file is not a load: most likely the format is the wrong one. */
  if (ds->n == n0 && ds->n_skipped > skipped0)
    return lr_fail_at(b->err, LR_EPARSE, name, 0, 0, "no example could be loaded: all %zu "
                      "examples are bad%s%s%s", ds->n_skipped - skipped0,
                      ds->n_reasons > reasons0 ? " (first: " : "",
                      ds->n_reasons > reasons0 ? ds->reasons[reasons0] : "",
                      ds->n_reasons > reasons0 ? ")" : "");
  if (ds->n == n0)
    return lr_fail_at(b->err, LR_EPARSE, name, 0, 0, "file holds no examples");
  return LR_OK;
}

static const lr_dataset_opts default_opts = {LR_ON_ERROR_FAIL, NULL, NULL, NULL};

static lr_status run_load(const char *path, const char *buf, size_t len,
                          lr_dataset_format fmt, const lr_dataset_opts *opts, lr_dataset *out,
                          lr_err *err) {
  struct lr_ds_idset ids;
  lr_ds_builder b = {out, LR_ON_ERROR_FAIL, err, NULL, NULL, &ids};
  lr_status rc;
  if (opts == NULL)
    opts = &default_opts;
  b.on_error = opts->on_error;
  lr_dataset_init(out);
  lr_hashmap_init(&ids.map, id_eq, out);
  out->format = fmt;
  if (buf != NULL)
    rc = lr_ds_parse_file(&b, buf, len, path, fmt);
  else if (fmt == LR_DATASET_MMLU)
    rc = lr_ds_load_mmlu(&b, path, opts);
  else {
    char *text;
    rc = lr_ds_read_file(path, &text, &len, err);
    if (rc == LR_OK) {
      rc = lr_ds_parse_file(&b, text, len, path, fmt);
      free(text);
    }
  }
  lr_hashmap_release(&ids.map);
  if (rc != LR_OK)
    lr_dataset_release(out);
  return rc;
}

lr_status lr_dataset_load(const char *path, lr_dataset_format fmt, const lr_dataset_opts *opts,
                          lr_dataset *out, lr_err *err) {
  return run_load(path, NULL, 0, fmt, opts, out, err);
}

lr_status lr_dataset_parse(const char *buf, size_t len, const char *name, lr_dataset_format fmt,
                           const lr_dataset_opts *opts, lr_dataset *out, lr_err *err) {
  /* A zero-length input still needs a non-NULL pointer to mean "parse these bytes". */
  return run_load(name, buf ? buf : "", buf ? len : 0, fmt, opts, out, err);
}

/* ---- formats -------------------------------------------------------------------------------- */

const char *const lr_dataset_format_choices[] = {
    [LR_DATASET_ARC] = "arc",   [LR_DATASET_OBQA] = "obqa",   [LR_DATASET_CSQA] = "csqa",
    [LR_DATASET_MMLU] = "mmlu", [LR_DATASET_JSONL] = "jsonl", [LR_DATASET_JSONL + 1] = NULL,
};

bool lr_dataset_format_parse(const char *name, lr_dataset_format *out) {
  for (size_t i = 0; i < (LR_ARRAY_LEN(lr_dataset_format_choices) - 1); i++)
    if (strcmp(name, lr_dataset_format_choices[i]) == 0) {
      *out = (lr_dataset_format)i;
      return true;
    }
  return false;
}

const char *lr_dataset_format_name(lr_dataset_format fmt) {
  if ((size_t)fmt >= (LR_ARRAY_LEN(lr_dataset_format_choices) - 1))
    return "unknown";
  return lr_dataset_format_choices[fmt];
}

/* ---- splits --------------------------------------------------------------------------------- */

/* Copies one example's strings into dst's blocks and appends it. */
static lr_status copy_example(lr_dataset *dst, const lr_example *src, lr_err *err) {
  lr_example ex = *src;
  bool ok = true;
#define COPY(field)                                                                               \
  do {                                                                                            \
    if (src->field && (ex.field = lr_ds_strdup(dst, src->field, strlen(src->field))) == NULL)     \
      ok = false;                                                                                 \
  } while (0)
  COPY(id);
  COPY(question);
  COPY(subject);
  COPY(file);
  for (int i = 0; i < src->n_choices; i++)
    COPY(choices[i]);
#undef COPY
  if (ok)
    ok = LR_GROW(dst->examples, dst->cap, dst->n + 1, NULL) == LR_OK;
  if (!ok)
    return lr_fail(err, LR_ENOMEM, "out of memory splitting a dataset");
  dst->examples[dst->n++] = ex;
  return LR_OK;
}

static lr_status split_size(size_t n, double size, size_t *k, lr_err *err) {
  if (!(size > 0) || !isfinite(size))
    return lr_fail(err, LR_EINVAL, "a validation split must be a fraction in (0, 1) or a count of "
                   "at least 1, not %g", size);
  if (size >= 1 && size != floor(size))
    return lr_fail(err, LR_EINVAL, "a validation split of %g is neither a fraction below 1 nor a "
                   "whole count", size);
  *k = size >= 1 ? (size > (double)SIZE_MAX / 2 ? SIZE_MAX : (size_t)size)
                 : (size_t)floor(size * (double)n + 0.5);
  if (*k == 0)
    *k = 1;
  if (*k >= n)
    return lr_fail(err, LR_EINVAL, "a validation split of %zu examples leaves none of the %zu for "
                   "training", *k, n);
  return LR_OK;
}

lr_status lr_dataset_split(const lr_dataset *in, double size, uint64_t seed, lr_dataset *train,
                           lr_dataset *val, lr_err *err) {
  size_t k = 0, *order = NULL;
  unsigned char *is_val = NULL;
  lr_rng rng;
  lr_status rc;
  lr_dataset_init(train);
  lr_dataset_init(val);
  if ((rc = split_size(in->n, size, &k, err)) != LR_OK)
    return rc;
  order = malloc(in->n * sizeof *order);
  is_val = calloc(in->n, 1);
  if (order == NULL || is_val == NULL) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory splitting a dataset");
    goto out;
  }
  for (size_t i = 0; i < in->n; i++)
    order[i] = i;
  lr_rng_seed(&rng, lr_seed_mix(seed, LR_DATASET_SPLIT_STREAM));
  for (size_t i = in->n - 1; i > 0; i--) {
    size_t j = (size_t)lr_rng_below(&rng, (uint64_t)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < k; i++)
    is_val[order[i]] = 1;
  train->format = val->format = in->format;
  train->n_files = val->n_files = in->n_files;
  for (size_t i = 0; i < in->n && rc == LR_OK; i++)
    rc = copy_example(is_val[i] ? val : train, &in->examples[i], err);
out:
  free(order);
  free(is_val);
  if (rc != LR_OK) {
    lr_dataset_release(train);
    lr_dataset_release(val);
  }
  return rc;
}
