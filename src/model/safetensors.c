/*
 * safetensors.c: the safetensors reader (see safetensors.h).
 *
 * The file is mapped, never read into memory; the header is parsed with jansson and kept alive,
 * because tensor names and metadata strings point into it.  Validation happens in one pass over
 * the header entries, then one sort by offset (for overlaps) and one by name (for lookups).
 */
#include "compat.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/json-util.h"
#include "base/file-util.h"
#include "model/safetensors.h"

struct lr_st_file {
  char *name;                  /* path or name for messages, from malloc */
  const unsigned char *base;   /* the whole file */
  size_t len;
  void *map;                   /* base when we mapped it ourselves, else NULL */
  uint64_t header_len;
  json_t *header;              /* owns the tensor names and metadata strings */
  lr_st_tensor *tensors;       /* from malloc, sorted by name */
  size_t n;
  const char **meta;           /* from malloc: key, value, key, value ... in header order */
  size_t n_meta;
};

/* What parsing one entry needs to know about the file. */
typedef struct parse_ctx {
  const char *file;            /* for messages */
  const unsigned char *data;   /* start of the data section */
  uint64_t data_len;
  uint64_t data_start;         /* offset of the data section in the file: 8 + header length */
  lr_err *err;
} parse_ctx;

static const struct {
  const char *name;
  size_t size;
} dtype_table[LR_ST_DTYPE_COUNT] = {
    [LR_ST_F64] = {"F64", 8},  [LR_ST_F32] = {"F32", 4},   [LR_ST_F16] = {"F16", 2},
    [LR_ST_BF16] = {"BF16", 2}, [LR_ST_I64] = {"I64", 8},  [LR_ST_I32] = {"I32", 4},
    [LR_ST_I16] = {"I16", 2},  [LR_ST_I8] = {"I8", 1},     [LR_ST_U64] = {"U64", 8},
    [LR_ST_U32] = {"U32", 4},  [LR_ST_U16] = {"U16", 2},   [LR_ST_U8] = {"U8", 1},
    [LR_ST_BOOL] = {"BOOL", 1}, [LR_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LR_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *lr_st_dtype_name(lr_st_dtype t) {
  return (unsigned)t < LR_ST_DTYPE_COUNT ? dtype_table[t].name : "?";
}

size_t lr_st_dtype_size(lr_st_dtype t) {
  return (unsigned)t < LR_ST_DTYPE_COUNT ? dtype_table[t].size : 0;
}

int lr_st_dtype_from_name(const char *name, lr_st_dtype *out) {
  for (int i = 0; i < LR_ST_DTYPE_COUNT; i++)
    if (strcmp(dtype_table[i].name, name) == 0) {
      *out = (lr_st_dtype)i;
      return 1;
    }
  return 0;
}

void lr_shape_format(char *buf, size_t n, const int64_t *shape, uint32_t ndim) {
  size_t used = 0;
  if (n == 0)
    return;
  buf[0] = '\0';
  used += (size_t)snprintf(buf, n, "[");
  for (uint32_t i = 0; i < ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (used < n)
    snprintf(buf + used, n - used, "]");
}

/* ---- one header entry -------------------------------------------------------------------------- */

/* A JSON value as a non-negative integer; 0 when it is something else. */
static int get_count(const json_t *v, uint64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return 0;
  *out = (uint64_t)json_integer_value(v);
  return 1;
}

static lr_status parse_dtype(const parse_ctx *c, const char *name, const json_t *entry,
                             lr_st_tensor *t) {
  const json_t *v = json_object_get(entry, "dtype");
  if (v == NULL)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': missing 'dtype'", name);
  if (!json_is_string(v))
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': 'dtype' must be a string, "
                      "got %s", name, lr_json_kind(v));
  if (!lr_st_dtype_from_name(json_string_value(v), &t->dtype))
    return lr_fail_at(c->err, LR_EUNSUPPORTED, c->file, 0, 0, "tensor '%s': unknown dtype '%s'",
                      name, json_string_value(v));
  return LR_OK;
}

static lr_status parse_shape(const parse_ctx *c, const char *name, const json_t *entry,
                             lr_st_tensor *t) {
  const json_t *v = json_object_get(entry, "shape");
  size_t rank;
  uint64_t numel = 1, dim;
  if (v == NULL)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': missing 'shape'", name);
  if (!json_is_array(v))
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': 'shape' must be an array, "
                      "got %s", name, lr_json_kind(v));
  rank = json_array_size(v);
  if (rank > LR_ST_MAX_DIMS)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': shape has %zu dimensions; "
                      "at most %d are supported", name, rank, LR_ST_MAX_DIMS);
  for (size_t i = 0; i < rank; i++) {
    const json_t *d = json_array_get(v, i);
    if (!get_count(d, &dim))
      return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': shape[%zu] must be a "
                        "non-negative integer, got %s", name, i,
                        json_is_integer(d) ? "a negative one" : lr_json_kind(d));
    /* Overflow is checked here, so that numel * dtype size below cannot wrap either way. */
    if (dim != 0 && numel > UINT64_MAX / dim)
      return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': shape has more elements "
                        "than 64 bits can count", name);
    numel *= dim;
    t->shape[i] = (int64_t)dim;
  }
  t->ndim = (uint32_t)rank;
  t->numel = numel;
  return LR_OK;
}

static lr_status parse_offsets(const parse_ctx *c, const char *name, const json_t *entry,
                               uint64_t *begin, uint64_t *end) {
  const json_t *v = json_object_get(entry, "data_offsets");
  if (v == NULL)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': missing 'data_offsets'",
                      name);
  if (!json_is_array(v))
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': 'data_offsets' must be "
                      "[begin, end], got %s", name, lr_json_kind(v));
  if (json_array_size(v) != 2)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': 'data_offsets' must be "
                      "[begin, end], got an array of %zu", name, json_array_size(v));
  if (!get_count(json_array_get(v, 0), begin) || !get_count(json_array_get(v, 1), end))
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': 'data_offsets' must hold "
                      "two non-negative integers", name);
  if (*begin > *end)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': data_offsets [%llu, %llu] "
                      "begin after they end", name, (unsigned long long)*begin,
                      (unsigned long long)*end);
  if (*end > c->data_len)
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': data_offsets [%llu, %llu] "
                      "go beyond the data section (%llu bytes; is the file truncated?)", name,
                      (unsigned long long)*begin, (unsigned long long)*end,
                      (unsigned long long)c->data_len);
  return LR_OK;
}

/* Checks that the bytes an entry's offsets give are exactly what its dtype and shape need. */
static lr_status check_size(const parse_ctx *c, const lr_st_tensor *t, uint64_t begin,
                            uint64_t end) {
  size_t elsize = lr_st_dtype_size(t->dtype);
  char shape[256], need[32];
  /* numel may be anything up to 2^64 - 1, so test before multiplying. */
  if (t->numel <= UINT64_MAX / elsize && t->numel * elsize == end - begin)
    return LR_OK;
  lr_shape_format(shape, sizeof shape, t->shape, t->ndim);
  if (t->numel > UINT64_MAX / elsize)
    snprintf(need, sizeof need, "more than 2^64");
  else
    snprintf(need, sizeof need, "%llu", (unsigned long long)(t->numel * elsize));
  return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': %s %s needs %s bytes, but "
                    "data_offsets [%llu, %llu] hold %llu", t->name, lr_st_dtype_name(t->dtype),
                    shape, need, (unsigned long long)begin, (unsigned long long)end,
                    (unsigned long long)(end - begin));
}

static lr_status parse_entry(const parse_ctx *c, const char *name, const json_t *entry,
                             lr_st_tensor *t) {
  uint64_t begin = 0, end = 0;
  lr_status rc;
  memset(t, 0, sizeof *t);
  t->name = name;
  if (!json_is_object(entry))
    return lr_fail_at(c->err, LR_EPARSE, c->file, 0, 0, "tensor '%s': entry must be an object, "
                      "got %s", name, lr_json_kind(entry));
  if ((rc = parse_dtype(c, name, entry, t)) != LR_OK ||
      (rc = parse_shape(c, name, entry, t)) != LR_OK ||
      (rc = parse_offsets(c, name, entry, &begin, &end)) != LR_OK ||
      (rc = check_size(c, t, begin, end)) != LR_OK)
    return rc;
  t->data = c->data + begin;
  t->nbytes = (size_t)(end - begin);
  t->file_offset = c->data_start + begin;
  return LR_OK;
}

/* ---- the whole header ---------------------------------------------------------------------------- */

static lr_status parse_metadata(lr_st_file *f, const json_t *v, lr_err *err) {
  const char *key;
  json_t *value;
  size_t i = 0;
  /* The format allows the key to be absent or null; anything else must map strings to strings. */
  if (json_is_null(v))
    return LR_OK;
  if (!json_is_object(v))
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "'__metadata__' must be an object of "
                      "strings, got %s", lr_json_kind(v));
  f->meta = calloc(2 * json_object_size(v) + 1, sizeof *f->meta);
  if (f->meta == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  json_object_foreach((json_t *)v, key, value) {
    if (!json_is_string(value))
      return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "'__metadata__': value of '%s' must be a "
                        "string, got %s", key, lr_json_kind(value));
    f->meta[i++] = key;
    f->meta[i++] = json_string_value(value);
  }
  f->n_meta = i / 2;
  return LR_OK;
}

static int by_offset(const void *a, const void *b) {
  const lr_st_tensor *x = *(const lr_st_tensor *const *)a, *y = *(const lr_st_tensor *const *)b;
  if (x->file_offset != y->file_offset)
    return x->file_offset < y->file_offset ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Orders names as people read them: runs of digits compare as numbers, so that layers.2 comes
 * before layers.10 in listings.  Names equal that way but written differently ("01" and "1")
 * fall back to strcmp, which keeps this a total order that bsearch can rely on. */
static int natural_cmp(const char *a, const char *b) {
  const char *p = a, *q = b;
  while (*p && *q) {
    if (is_digit(*p) && is_digit(*q)) {
      const char *p0, *q0;
      int c;
      while (*p == '0')
        p++;
      while (*q == '0')
        q++;
      for (p0 = p; is_digit(*p); p++) {}
      for (q0 = q; is_digit(*q); q++) {}
      if (p - p0 != q - q0)
        return p - p0 < q - q0 ? -1 : 1;
      if ((c = memcmp(p0, q0, (size_t)(p - p0))) != 0)
        return c;
    } else if (*p != *q) {
      return (unsigned char)*p < (unsigned char)*q ? -1 : 1;
    } else {
      p++;
      q++;
    }
  }
  if (*p || *q)
    return *p ? 1 : -1;
  return strcmp(a, b);
}

static int by_name(const void *a, const void *b) {
  return natural_cmp(((const lr_st_tensor *)a)->name, ((const lr_st_tensor *)b)->name);
}

/* Two tensors sharing bytes would alias each other: the format forbids it, and a writer that
 * produced it is broken.  Sorted by start, each non-empty tensor must begin at or after the
 * furthest end seen so far. */
static lr_status check_overlaps(const lr_st_file *f, lr_err *err) {
  const lr_st_tensor **order, *last = NULL;
  lr_status rc = LR_OK;
  if (f->n < 2)
    return LR_OK;
  order = malloc(f->n * sizeof *order);
  if (order == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  for (size_t i = 0; i < f->n; i++)
    order[i] = &f->tensors[i];
  qsort(order, f->n, sizeof *order, by_offset);
  for (size_t i = 0; i < f->n && rc == LR_OK; i++) {
    const lr_st_tensor *t = order[i];
    if (t->nbytes == 0)
      continue;
    if (last && t->file_offset < last->file_offset + last->nbytes)
      rc = lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "tensors '%s' (bytes %llu..%llu) and '%s' "
                      "(bytes %llu..%llu) overlap", last->name,
                      (unsigned long long)last->file_offset,
                      (unsigned long long)(last->file_offset + last->nbytes), t->name,
                      (unsigned long long)t->file_offset,
                      (unsigned long long)(t->file_offset + t->nbytes));
    if (last == NULL || t->file_offset + t->nbytes > last->file_offset + last->nbytes)
      last = t;
  }
  free(order);
  return rc;
}

static lr_status parse_entries(lr_st_file *f, const parse_ctx *c) {
  const char *key;
  json_t *value;
  lr_status rc;
  f->tensors = calloc(json_object_size(f->header) + 1, sizeof *f->tensors);
  if (f->tensors == NULL)
    return lr_fail(c->err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  json_object_foreach(f->header, key, value) {
    if (strcmp(key, "__metadata__") == 0)
      rc = parse_metadata(f, value, c->err);
    else
      rc = parse_entry(c, key, value, &f->tensors[f->n++]);
    if (rc != LR_OK)
      return rc;
  }
  if ((rc = check_overlaps(f, c->err)) != LR_OK)
    return rc;
  qsort(f->tensors, f->n, sizeof *f->tensors, by_name);
  return LR_OK;
}

/* The 8-byte length in front of the header, checked against the file before anything is read. */
static lr_status read_header_len(const lr_st_file *f, uint64_t *out, lr_err *err) {
  uint64_t n = 0;
  if (f->len < 8)
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "file is %zu bytes: too short for the "
                      "8-byte header length of a safetensors file", f->len);
  for (int i = 7; i >= 0; i--)
    n = n << 8 | f->base[i];
  if (n > f->len - 8)
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "header length %llu goes beyond the end of "
                      "the file (%zu bytes; truncated, or not a safetensors file?)",
                      (unsigned long long)n, f->len);
  if (n > LR_ST_HEADER_MAX)
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "header length %llu is absurdly large (the "
                      "limit is %llu MiB)", (unsigned long long)n,
                      (unsigned long long)(LR_ST_HEADER_MAX >> 20));
  *out = n;
  return LR_OK;
}

static lr_status parse_header_json(lr_st_file *f, lr_err *err) {
  json_error_t jerr;
  f->header = json_loadb((const char *)f->base + 8, (size_t)f->header_len,
                         JSON_REJECT_DUPLICATES, &jerr);
  /* jansson's line and column are within the header, which starts at byte 8 of the file, so
   * they go into the message rather than into err->line/col. */
  if (f->header == NULL)
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "header is not valid JSON: %s (header line "
                      "%d, column %d)", jerr.text, jerr.line, jerr.column);
  if (!json_is_object(f->header))
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "header must be a JSON object, got %s",
                      lr_json_kind(f->header));
  return LR_OK;
}

static lr_status parse_file(lr_st_file *f, lr_err *err) {
  parse_ctx c;
  lr_status rc;
  if ((rc = read_header_len(f, &f->header_len, err)) != LR_OK ||
      (rc = parse_header_json(f, err)) != LR_OK)
    return rc;
  c.file = f->name;
  c.data_start = 8 + f->header_len;
  c.data = f->base + c.data_start;
  c.data_len = f->len - c.data_start;
  c.err = err;
  return parse_entries(f, &c);
}

/* ---- opening and closing ------------------------------------------------------------------------- */

static lr_status new_file(const char *name, lr_st_file **out, lr_err *err) {
  lr_st_file *f = calloc(1, sizeof *f);
  *out = NULL;
  if (f == NULL || (f->name = strdup(name ? name : "(buffer)")) == NULL) {
    free(f);
    return lr_fail(err, LR_ENOMEM, "out of memory opening '%s'", name ? name : "(buffer)");
  }
  *out = f;
  return LR_OK;
}

lr_status lr_st_parse(const void *buf, size_t len, const char *name, lr_st_file **out,
                      lr_err *err) {
  lr_st_file *f;
  lr_status rc = new_file(name, &f, err);
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  f->base = buf;
  f->len = len;
  if ((rc = parse_file(f, err)) != LR_OK) {
    lr_st_close(f);
    return rc;
  }
  *out = f;
  return LR_OK;
}

/* Maps the file read-only (lr_map_file); base points into the mapping. */
static lr_status map_file(lr_st_file *f, lr_err *err) {
  lr_status rc = lr_map_file(f->name, &f->map, &f->len, err);
  f->base = f->map;
  return rc;
}

lr_status lr_st_open(const char *path, lr_st_file **out, lr_err *err) {
  lr_st_file *f;
  lr_status rc = new_file(path, &f, err);
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  if ((rc = map_file(f, err)) != LR_OK || (rc = parse_file(f, err)) != LR_OK) {
    lr_st_close(f);
    return rc;
  }
  *out = f;
  return LR_OK;
}

void lr_st_close(lr_st_file *f) {
  if (f == NULL)
    return;
  lr_unmap_file(f->map, f->len);
  json_decref(f->header);
  free(f->tensors);
  free(f->meta);
  free(f->name);
  free(f);
}

/* ---- accessors ----------------------------------------------------------------------------------- */

const char *lr_st_name(const lr_st_file *f) { return f->name; }
size_t lr_st_file_size(const lr_st_file *f) { return f->len; }
uint64_t lr_st_header_size(const lr_st_file *f) { return f->header_len; }
size_t lr_st_count(const lr_st_file *f) { return f->n; }

const lr_st_tensor *lr_st_get(const lr_st_file *f, size_t i) {
  return i < f->n ? &f->tensors[i] : NULL;
}

const lr_st_tensor *lr_st_find(const lr_st_file *f, const char *name) {
  lr_st_tensor key;
  key.name = name;
  if (f->n == 0)
    return NULL;
  return bsearch(&key, f->tensors, f->n, sizeof *f->tensors, by_name);
}

const char *lr_st_metadata(const lr_st_file *f, const char *key) {
  for (size_t i = 0; i < f->n_meta; i++)
    if (strcmp(f->meta[2 * i], key) == 0)
      return f->meta[2 * i + 1];
  return NULL;
}

size_t lr_st_metadata_count(const lr_st_file *f) { return f->n_meta; }

void lr_st_metadata_at(const lr_st_file *f, size_t i, const char **key, const char **value) {
  *key = i < f->n_meta ? f->meta[2 * i] : NULL;
  *value = i < f->n_meta ? f->meta[2 * i + 1] : NULL;
}
