/*
 * gguf.c: the GGUF reader (see gguf.h).
 *
 * One pass over the file reads the header, the metadata and the tensor infos through a cursor
 * that checks every read against the bytes left; keys and tensor names are checked for duplicates
 * as they come (a hash index over the file's own bytes).  Then the data section is placed, each
 * tensor's bytes are checked to lie in it, and one sort by offset finds overlaps.  Keys, tensor
 * names and string values are copied, NUL-terminated, into one buffer at the end; tensor data and
 * string array elements stay in the file.
 */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-util.h"
#include "base/hashmap.h"
#include "base/utf8.h"
#include "model/gguf.h"

/* Where a tensor's name is in the file, for the duplicate check before names are copied. */
typedef struct name_ref {
  uint64_t offset, len;
} name_ref;

struct lr_gguf_file {
  char *name;                  /* path or name for messages, from malloc */
  const unsigned char *base;   /* the whole file */
  size_t len;
  void *map;                   /* base when we mapped it ourselves, else NULL */
  uint32_t version;
  uint32_t alignment;
  uint64_t data_start;
  lr_gguf_kv *kvs;             /* from malloc, in file order */
  size_t n_kv;
  lr_gguf_tensor *tensors;     /* from malloc, in file order */
  name_ref *tnames;            /* from malloc, one per tensor */
  size_t n_tensors;
  char *strings;               /* keys, names and string values, NUL-terminated, from malloc */
  lr_hashmap kv_index, tensor_index;
};

/* ---- types --------------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  uint32_t size; /* bytes of a scalar; 0 for string and array */
} value_types[LR_GGUF_TYPE_COUNT] = {
    [LR_GGUF_UINT8] = {"uint8", 1},     [LR_GGUF_INT8] = {"int8", 1},
    [LR_GGUF_UINT16] = {"uint16", 2},   [LR_GGUF_INT16] = {"int16", 2},
    [LR_GGUF_UINT32] = {"uint32", 4},   [LR_GGUF_INT32] = {"int32", 4},
    [LR_GGUF_FLOAT32] = {"float32", 4}, [LR_GGUF_BOOL] = {"bool", 1},
    [LR_GGUF_STRING] = {"string", 0},   [LR_GGUF_ARRAY] = {"array", 0},
    [LR_GGUF_UINT64] = {"uint64", 8},   [LR_GGUF_INT64] = {"int64", 8},
    [LR_GGUF_FLOAT64] = {"float64", 8},
};


const char *lr_gguf_type_name(uint32_t t) {
  return t < LR_GGUF_TYPE_COUNT ? value_types[t].name : "?";
}


/* gguf-py 0.19.0 LlamaFileType (gguf-py/gguf/constants.py); 4-6 and 33-35 are unused there. */
static const char *const file_types[] = {
    [0] = "ALL_F32",          [1] = "MOSTLY_F16",       [2] = "MOSTLY_Q4_0",
    [3] = "MOSTLY_Q4_1",      [7] = "MOSTLY_Q8_0",      [8] = "MOSTLY_Q5_0",
    [9] = "MOSTLY_Q5_1",      [10] = "MOSTLY_Q2_K",     [11] = "MOSTLY_Q3_K_S",
    [12] = "MOSTLY_Q3_K_M",   [13] = "MOSTLY_Q3_K_L",   [14] = "MOSTLY_Q4_K_S",
    [15] = "MOSTLY_Q4_K_M",   [16] = "MOSTLY_Q5_K_S",   [17] = "MOSTLY_Q5_K_M",
    [18] = "MOSTLY_Q6_K",     [19] = "MOSTLY_IQ2_XXS",  [20] = "MOSTLY_IQ2_XS",
    [21] = "MOSTLY_Q2_K_S",   [22] = "MOSTLY_IQ3_XS",   [23] = "MOSTLY_IQ3_XXS",
    [24] = "MOSTLY_IQ1_S",    [25] = "MOSTLY_IQ4_NL",   [26] = "MOSTLY_IQ3_S",
    [27] = "MOSTLY_IQ3_M",    [28] = "MOSTLY_IQ2_S",    [29] = "MOSTLY_IQ2_M",
    [30] = "MOSTLY_IQ4_XS",   [31] = "MOSTLY_IQ1_M",    [32] = "MOSTLY_BF16",
    [36] = "MOSTLY_TQ1_0",    [37] = "MOSTLY_TQ2_0",    [38] = "MOSTLY_MXFP4_MOE",
};

const char *lr_gguf_file_type_name(int64_t file_type) {
  if (file_type < 0 || (uint64_t)file_type >= LR_ARRAY_LEN(file_types))
    return NULL;
  return file_types[file_type];
}

/* ---- small helpers ------------------------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* a * b into *out unless it overflows 64 bits. */
static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a)
    return false;
  *out = a * b;
  return true;
}

/* Bytes from the file as text for a message: printable ASCII and valid UTF-8 as they are, other
 * bytes as \xNN, cut after 64 bytes with "...". */
static void quote(char *buf, size_t n, const unsigned char *s, uint64_t len) {
  size_t used = 0;
  uint64_t i = 0;
  buf[0] = '\0';
  while (i < len && i < 64 && used + 8 < n) {
    size_t k = s[i] >= 0x80 ? lr_utf8_char_len((const char *)s + i, (size_t)(len - i), NULL) : 0;
    if (k > 0 && used + k + 1 < n) {
      memcpy(buf + used, s + i, k);
      used += k;
      i += k;
      continue;
    }
    if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
      buf[used++] = (char)s[i];
    else
      used += (size_t)snprintf(buf + used, n - used, "\\x%02x", s[i]);
    i++;
  }
  if (i < len && used + 4 < n) {
    memcpy(buf + used, "...", 3);
    used += 3;
  }
  buf[used] = '\0';
}

/* "uint32", "array of int32". */
static void kv_type_text(const lr_gguf_kv *kv, char *buf, size_t n) {
  if (kv->type == LR_GGUF_ARRAY)
    snprintf(buf, n, "array of %s", lr_gguf_type_name(kv->elem_type));
  else
    snprintf(buf, n, "%s", lr_gguf_type_name(kv->type));
}

/* ---- the parser ---------------------------------------------------------------------------------- */

typedef struct parser {
  lr_gguf_file *f;
  uint64_t pos;       /* next byte to read; never past f->len */
  char ctx[160];      /* what is being read: "key 'general.name'", "tensor 'x'", or "" */
  lr_err *err;
} parser;

static lr_status perr(parser *p, lr_status s, uint64_t at, const char *fmt, ...) LR_PRINTF(4, 5);

/* Records "byte AT: CTX: message" against the file. */
static lr_status perr(parser *p, lr_status s, uint64_t at, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(p->err, s, p->f->name, 0, 0, "byte %llu: %s%s%s", (unsigned long long)at,
                    p->ctx, p->ctx[0] ? ": " : "", msg);
}

static uint64_t left(const parser *p) { return p->f->len - p->pos; }

/* Checks that n bytes are there for `what` at the cursor. */
static lr_status need(parser *p, uint64_t n, const char *what) {
  if (n <= left(p))
    return LR_OK;
  return perr(p, LR_EPARSE, p->pos, "%s needs %llu bytes, but the file ends at byte %zu "
              "(truncated?)", what, (unsigned long long)n, p->f->len);
}

static lr_status read_u32(parser *p, uint32_t *out, const char *what) {
  lr_status rc = need(p, 4, what);
  if (rc == LR_OK) {
    *out = le32(p->f->base + p->pos);
    p->pos += 4;
  }
  return rc;
}

static lr_status read_u64(parser *p, uint64_t *out, const char *what) {
  lr_status rc = need(p, 8, what);
  if (rc == LR_OK) {
    *out = le64(p->f->base + p->pos);
    p->pos += 8;
  }
  return rc;
}

/* A string's length, checked against the rest of the file; the cursor ends on its first byte. */
static lr_status read_str_len(parser *p, uint64_t *len, const char *what) {
  uint64_t at = p->pos;
  lr_status rc = read_u64(p, len, what);
  if (rc == LR_OK && *len > left(p))
    rc = perr(p, LR_EPARSE, at, "%s of %llu bytes goes past the end of the file (%zu bytes; "
              "truncated?)", what, (unsigned long long)*len, p->f->len);
  return rc;
}

/* A key or tensor name: not empty, not over max bytes, no NUL byte.  *offset gets where its bytes
 * start; the cursor moves past them. */
static lr_status read_name(parser *p, uint64_t max, const char *what, uint64_t *offset,
                           uint64_t *len) {
  uint64_t at = p->pos;
  char label[32];
  lr_status rc;
  snprintf(label, sizeof label, "the %s length", what);
  if ((rc = read_u64(p, len, label)) != LR_OK)
    return rc;
  if (*len == 0)
    return perr(p, LR_EPARSE, at, "the %s is empty", what);
  if (*len > max)
    return perr(p, LR_EPARSE, at, "the %s is %llu bytes long; at most %llu are allowed", what,
                (unsigned long long)*len, (unsigned long long)max);
  if (*len > left(p))
    return perr(p, LR_EPARSE, at, "the %s of %llu bytes goes past the end of the file (%zu "
                "bytes; truncated?)", what, (unsigned long long)*len, p->f->len);
  if (memchr(p->f->base + p->pos, 0, (size_t)*len) != NULL)
    return perr(p, LR_EPARSE, at, "the %s holds a NUL byte", what);
  *offset = p->pos;
  p->pos += *len;
  return LR_OK;
}

/* ---- the header ---------------------------------------------------------------------------------- */

static lr_status parse_magic_version(parser *p) {
  lr_gguf_file *f = p->f;
  uint32_t v, swapped;
  char got[40];
  if (f->len < 4)
    return perr(p, LR_EPARSE, 0, "the file is %zu bytes: too short for a GGUF file (it starts "
                "with the 4 bytes \"GGUF\")", f->len);
  if (memcmp(f->base, "FUGG", 4) == 0)
    return perr(p, LR_EUNSUPPORTED, 0, "the magic reads \"FUGG\": a big-endian GGUF file, "
                "which is not supported (only little-endian files are)");
  if (memcmp(f->base, "GGUF", 4) != 0) {
    quote(got, sizeof got, f->base, 4);
    return perr(p, LR_EPARSE, 0, "not a GGUF file: it starts with \"%s\", not \"GGUF\"", got);
  }
  p->pos = 4;
  if (read_u32(p, &v, "the version") != LR_OK)
    return p->err->code;
  swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
  if (v == 1)
    return perr(p, LR_EUNSUPPORTED, 4, "GGUF version 1 is not supported (only versions 2 and "
                "3 are): convert the model again with a current llama.cpp");
  if (v != 2 && v != 3 && swapped >= 1 && swapped <= 3)
    return perr(p, LR_EUNSUPPORTED, 4, "the version reads 0x%08x: a big-endian GGUF file "
                "(version %u), which is not supported (only little-endian files are)", v,
                swapped);
  if (v != 2 && v != 3)
    return perr(p, LR_EUNSUPPORTED, 4, "GGUF version %u is not supported (only versions 2 and "
                "3 are)", v);
  f->version = v;
  return LR_OK;
}

/* A count from the header, refused before anything is allocated for it when the rest of the file
 * could not hold that many items of at least min_bytes each. */
static lr_status check_count(parser *p, uint64_t at, uint64_t n, uint64_t max, uint64_t min_bytes,
                             const char *what) {
  if (n > max)
    return perr(p, LR_EPARSE, at, "the header claims %llu %s; at most %llu are supported",
                (unsigned long long)n, what, (unsigned long long)max);
  if (n > left(p) / min_bytes)
    return perr(p, LR_EPARSE, at, "the header claims %llu %s, but the %llu bytes after it can "
                "hold at most %llu (truncated, or not a GGUF file?)", (unsigned long long)n, what,
                (unsigned long long)left(p), (unsigned long long)(left(p) / min_bytes));
  return LR_OK;
}

/* ---- metadata ------------------------------------------------------------------------------------ */

static bool kv_key_eq(const void *ctx, size_t item, const void *key, size_t len) {
  const lr_gguf_file *f = ctx;
  const lr_gguf_kv *kv = &f->kvs[item];
  return kv->key_len == len && memcmp(f->base + kv->key_offset, key, len) == 0;
}

static bool tensor_name_eq(const void *ctx, size_t item, const void *key, size_t len) {
  const lr_gguf_file *f = ctx;
  const name_ref *r = &f->tnames[item];
  return r->len == len && memcmp(f->base + r->offset, key, len) == 0;
}

static lr_status parse_array(parser *p, lr_gguf_kv *kv) {
  lr_gguf_file *f = p->f;
  uint64_t at = p->pos, count;
  uint32_t elem;
  if (read_u32(p, &elem, "the array element type") != LR_OK)
    return p->err->code;
  if (elem >= LR_GGUF_TYPE_COUNT)
    return perr(p, LR_EUNSUPPORTED, at, "unknown array element type %u (0 to %d are known)",
                elem, LR_GGUF_TYPE_COUNT - 1);
  if (elem == LR_GGUF_ARRAY)
    return perr(p, LR_EUNSUPPORTED, at, "an array of arrays: nested arrays are not supported");
  at = p->pos;
  if (read_u64(p, &count, "the array length") != LR_OK)
    return p->err->code;
  kv->elem_type = (lr_gguf_type)elem;
  kv->count = count;
  kv->value_offset = p->pos;
  kv->value = f->base + p->pos;
  if (elem != LR_GGUF_STRING) {
    uint32_t size = value_types[elem].size;
    if (count > left(p) / size)
      return perr(p, LR_EPARSE, at, "an array of %llu %s (%llu x %u bytes) goes past the end "
                  "of the file (%llu bytes are left; truncated?)", (unsigned long long)count,
                  value_types[elem].name, (unsigned long long)count, size,
                  (unsigned long long)left(p));
    p->pos += count * size;
    return LR_OK;
  }
  /* Each string takes at least its 8-byte length, which bounds the offsets allocated here. */
  if (count > left(p) / 8)
    return perr(p, LR_EPARSE, at, "an array of %llu strings needs at least %llu x 8 bytes, but "
                "%llu are left (truncated?)", (unsigned long long)count,
                (unsigned long long)count, (unsigned long long)left(p));
  kv->elem_offsets = malloc((count ? (size_t)count : 1) * sizeof *kv->elem_offsets);
  if (kv->elem_offsets == NULL)
    return lr_fail(p->err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t len, el_at = p->pos;
    char what[64];
    snprintf(what, sizeof what, "array element %llu", (unsigned long long)i);
    if (read_str_len(p, &len, what) != LR_OK)
      return p->err->code;
    kv->elem_offsets[i] = el_at;
    p->pos += len;
  }
  return LR_OK;
}

static lr_status parse_kv(parser *p, uint64_t i, uint64_t n, lr_gguf_kv *kv) {
  lr_gguf_file *f = p->f;
  char key[96];
  size_t dup;
  uint32_t type;
  uint64_t at;
  lr_status rc;
  kv->offset = p->pos;
  snprintf(p->ctx, sizeof p->ctx, "metadata pair %llu of %llu", (unsigned long long)i + 1,
           (unsigned long long)n);
  if ((rc = read_name(p, LR_GGUF_KEY_MAX, "key", &kv->key_offset, &kv->key_len)) != LR_OK)
    return rc;
  quote(key, sizeof key, f->base + kv->key_offset, kv->key_len);
  snprintf(p->ctx, sizeof p->ctx, "key '%s'", key);
  rc = lr_hashmap_add(&f->kv_index, lr_hash(f->base + kv->key_offset, (size_t)kv->key_len),
                      f->base + kv->key_offset, (size_t)kv->key_len, (size_t)i, &dup, p->err);
  if (rc != LR_OK)
    return rc;
  if (dup != LR_HASHMAP_NONE)
    return perr(p, LR_EPARSE, kv->offset, "duplicate key (first at byte %llu)",
                (unsigned long long)f->kvs[dup].offset);
  at = p->pos;
  if ((rc = read_u32(p, &type, "the value type")) != LR_OK)
    return rc;
  if (type >= LR_GGUF_TYPE_COUNT)
    return perr(p, LR_EUNSUPPORTED, at, "unknown value type %u (0 to %d are known)", type,
                LR_GGUF_TYPE_COUNT - 1);
  kv->type = (lr_gguf_type)type;
  if (type == LR_GGUF_ARRAY)
    return parse_array(p, kv);
  kv->elem_type = kv->type;
  kv->count = 1;
  kv->value_offset = p->pos;
  kv->value = f->base + p->pos;
  if (type == LR_GGUF_STRING) {
    if ((rc = read_str_len(p, &kv->str_len, "the string")) != LR_OK)
      return rc;
    p->pos += kv->str_len;
    return LR_OK;
  }
  if ((rc = need(p, value_types[type].size, "the value")) != LR_OK)
    return rc;
  p->pos += value_types[type].size;
  return LR_OK;
}

/* general.alignment: a uint32 power of two when present. */
static lr_status parse_alignment(parser *p) {
  lr_gguf_file *f = p->f;
  const lr_gguf_kv *kv = lr_gguf_find_kv(f, "general.alignment");
  uint32_t a;
  p->ctx[0] = '\0';
  f->alignment = LR_GGUF_DEFAULT_ALIGNMENT;
  if (kv == NULL)
    return LR_OK;
  snprintf(p->ctx, sizeof p->ctx, "key 'general.alignment'");
  if (kv->type != LR_GGUF_UINT32) {
    char got[32];
    kv_type_text(kv, got, sizeof got);
    return perr(p, LR_EPARSE, kv->offset, "must be a uint32, got %s", got);
  }
  a = le32(kv->value);
  if (a == 0 || (a & (a - 1)) != 0)
    return perr(p, LR_EPARSE, kv->offset, "must be a power of two, got %u", a);
  f->alignment = a;
  return LR_OK;
}

static lr_status parse_metadata(parser *p, uint64_t n) {
  lr_gguf_file *f = p->f;
  lr_status rc;
  f->kvs = calloc(n ? (size_t)n : 1, sizeof *f->kvs);
  if (f->kvs == NULL)
    return lr_fail(p->err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  if ((rc = lr_hashmap_reserve(&f->kv_index, (size_t)n, p->err)) != LR_OK)
    return rc;
  for (uint64_t i = 0; i < n; i++) {
    f->n_kv = (size_t)i + 1; /* so that a failure frees this pair's element offsets */
    if ((rc = parse_kv(p, i, n, &f->kvs[i])) != LR_OK)
      return rc;
  }
  return parse_alignment(p);
}

/* ---- tensor infos -------------------------------------------------------------------------------- */

/* The dims, numel and byte size of a tensor whose name, dims and type are read. */
static lr_status check_shape(parser *p, lr_gguf_tensor *t, const lr_quant_type_info *ti) {
  uint64_t numel = 1, nbytes;
  for (uint32_t d = 0; d < LR_GGUF_MAX_DIMS; d++) {
    uint64_t ne = (uint64_t)t->ne[d];
    /* ggml's element counts are int64: keep the product there. */
    if (!mul_u64(numel, ne, &numel) || numel > INT64_MAX)
      return perr(p, LR_EPARSE, t->info_offset, "shape has more elements than int64 can count");
  }
  if ((uint64_t)t->ne[0] % ti->block_elems != 0)
    return perr(p, LR_EPARSE, t->info_offset, "ne[0] = %lld is not a whole number of %s blocks "
                "(%u elements each)", (long long)t->ne[0], ti->name, ti->block_elems);
  nbytes = ti->block_bytes;
  if (!mul_u64(nbytes, (uint64_t)t->ne[0] / ti->block_elems, &nbytes))
    return perr(p, LR_EPARSE, t->info_offset, "data size overflows 64 bits");
  for (uint32_t d = 1; d < LR_GGUF_MAX_DIMS; d++)
    if (!mul_u64(nbytes, (uint64_t)t->ne[d], &nbytes))
      return perr(p, LR_EPARSE, t->info_offset, "data size overflows 64 bits");
  t->numel = numel;
  t->nbytes = nbytes;
  return LR_OK;
}

static lr_status parse_tensor_info(parser *p, uint64_t i, uint64_t n, lr_gguf_tensor *t,
                                   name_ref *nr) {
  lr_gguf_file *f = p->f;
  const lr_quant_type_info *ti;
  char name[96];
  size_t dup;
  uint64_t at;
  lr_status rc;
  t->info_offset = p->pos;
  snprintf(p->ctx, sizeof p->ctx, "tensor info %llu of %llu", (unsigned long long)i + 1,
           (unsigned long long)n);
  if ((rc = read_name(p, LR_GGUF_NAME_MAX, "tensor name", &nr->offset, &nr->len)) != LR_OK)
    return rc;
  quote(name, sizeof name, f->base + nr->offset, nr->len);
  snprintf(p->ctx, sizeof p->ctx, "tensor '%s'", name);
  rc = lr_hashmap_add(&f->tensor_index, lr_hash(f->base + nr->offset, (size_t)nr->len),
                      f->base + nr->offset, (size_t)nr->len, (size_t)i, &dup, p->err);
  if (rc != LR_OK)
    return rc;
  if (dup != LR_HASHMAP_NONE)
    return perr(p, LR_EPARSE, t->info_offset, "duplicate tensor name (first at byte %llu)",
                (unsigned long long)f->tensors[dup].info_offset);
  at = p->pos;
  if ((rc = read_u32(p, &t->n_dims, "the number of dimensions")) != LR_OK)
    return rc;
  if (t->n_dims == 0 || t->n_dims > LR_GGUF_MAX_DIMS)
    return perr(p, LR_EPARSE, at, "has %u dimensions; 1 to %d are supported", t->n_dims,
                LR_GGUF_MAX_DIMS);
  for (uint32_t d = 0; d < LR_GGUF_MAX_DIMS; d++) {
    uint64_t ne = 1;
    at = p->pos;
    if (d < t->n_dims && (rc = read_u64(p, &ne, "a dimension")) != LR_OK)
      return rc;
    if (ne == 0)
      return perr(p, LR_EPARSE, at, "ne[%u] is 0; every dimension must be at least 1", d);
    if (ne > INT64_MAX)
      return perr(p, LR_EPARSE, at, "ne[%u] is negative (%lld as int64)", d, (long long)ne);
    t->ne[d] = (int64_t)ne;
  }
  at = p->pos;
  if ((rc = read_u32(p, &t->type, "the tensor type")) != LR_OK)
    return rc;
  if ((ti = lr_quant_info((int)(t->type))) == NULL)
    return perr(p, LR_EUNSUPPORTED, at, "unknown ggml type %u", t->type);
  if ((rc = check_shape(p, t, ti)) != LR_OK)
    return rc;
  at = p->pos;
  if ((rc = read_u64(p, &t->offset, "the data offset")) != LR_OK)
    return rc;
  if (t->offset % f->alignment != 0)
    return perr(p, LR_EPARSE, at, "data offset %llu is not a multiple of the alignment %u",
                (unsigned long long)t->offset, f->alignment);
  return LR_OK;
}

static int by_offset(const void *a, const void *b) {
  const lr_gguf_tensor *x = *(const lr_gguf_tensor *const *)a,
                       *y = *(const lr_gguf_tensor *const *)b;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return x->info_offset < y->info_offset ? -1 : x->info_offset > y->info_offset;
}

/* Sorted by offset, each tensor must start at or after the end of every tensor before it.  (The
 * sizes are all non-zero and inside the file, so the ends cannot overflow.) */
static lr_status check_overlaps(parser *p) {
  lr_gguf_file *f = p->f;
  const lr_gguf_tensor **order, *last = NULL;
  lr_status rc = LR_OK;
  if (f->n_tensors < 2)
    return LR_OK;
  order = malloc(f->n_tensors * sizeof *order);
  if (order == NULL)
    return lr_fail(p->err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  for (size_t i = 0; i < f->n_tensors; i++)
    order[i] = &f->tensors[i];
  qsort(order, f->n_tensors, sizeof *order, by_offset);
  for (size_t i = 0; i < f->n_tensors && rc == LR_OK; i++) {
    const lr_gguf_tensor *t = order[i];
    if (last && t->file_offset < last->file_offset + last->nbytes) {
      char name[96];
      const name_ref *r = &f->tnames[t - f->tensors];
      quote(name, sizeof name, f->base + r->offset, r->len);
      snprintf(p->ctx, sizeof p->ctx, "tensor '%s'", name);
      quote(name, sizeof name, f->base + f->tnames[last - f->tensors].offset,
            f->tnames[last - f->tensors].len);
      rc = perr(p, LR_EPARSE, t->info_offset, "its data (file bytes %llu..%llu) overlaps that "
                "of tensor '%s' (bytes %llu..%llu)", (unsigned long long)t->file_offset,
                (unsigned long long)(t->file_offset + t->nbytes), name,
                (unsigned long long)last->file_offset,
                (unsigned long long)(last->file_offset + last->nbytes));
    }
    if (last == NULL || t->file_offset + t->nbytes > last->file_offset + last->nbytes)
      last = t;
  }
  free(order);
  return rc;
}

/* Places the data section after the infos and checks that every tensor's bytes are in it. */
static lr_status place_data(parser *p) {
  lr_gguf_file *f = p->f;
  uint64_t end = p->pos, pad = (f->alignment - end % f->alignment) % f->alignment, data_len;
  p->ctx[0] = '\0';
  f->data_start = end + pad; /* end <= f->len and pad < 2^32: no overflow */
  if (f->n_tensors == 0) {
    if (f->data_start > f->len)
      f->data_start = f->len;
    return LR_OK;
  }
  if (f->data_start > f->len)
    return perr(p, LR_EPARSE, end, "the data section would start at byte %llu (the tensor infos "
                "end here, aligned to %u), past the end of the file (%zu bytes; truncated?)",
                (unsigned long long)f->data_start, f->alignment, f->len);
  data_len = f->len - f->data_start;
  for (size_t i = 0; i < f->n_tensors; i++) {
    lr_gguf_tensor *t = &f->tensors[i];
    if (t->offset > data_len || t->nbytes > data_len - t->offset) {
      char name[96];
      quote(name, sizeof name, f->base + f->tnames[i].offset, f->tnames[i].len);
      snprintf(p->ctx, sizeof p->ctx, "tensor '%s'", name);
      return perr(p, LR_EPARSE, t->info_offset, "its data (%llu bytes at offset %llu of the data "
                  "section, which starts at byte %llu) goes past the end of the file (%zu bytes; "
                  "truncated?)", (unsigned long long)t->nbytes, (unsigned long long)t->offset,
                  (unsigned long long)f->data_start, f->len);
    }
    t->file_offset = f->data_start + t->offset;
    t->data = f->base + t->file_offset;
  }
  return check_overlaps(p);
}

static lr_status parse_tensors(parser *p, uint64_t n) {
  lr_gguf_file *f = p->f;
  lr_status rc;
  f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
  f->tnames = calloc(n ? (size_t)n : 1, sizeof *f->tnames);
  if (f->tensors == NULL || f->tnames == NULL)
    return lr_fail(p->err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  if ((rc = lr_hashmap_reserve(&f->tensor_index, (size_t)n, p->err)) != LR_OK)
    return rc;
  for (uint64_t i = 0; i < n; i++) {
    f->n_tensors = (size_t)i + 1;
    if ((rc = parse_tensor_info(p, i, n, &f->tensors[i], &f->tnames[i])) != LR_OK)
      return rc;
  }
  return place_data(p);
}

/* Copies keys, names and string values, NUL-terminated, into one buffer.  Each lies in its own
 * bytes of the file, so the total is at most the file size plus one byte per item. */
static lr_status copy_strings(lr_gguf_file *f, lr_err *err) {
  size_t total = 1;
  char *s;
  for (size_t i = 0; i < f->n_kv; i++)
    total += (size_t)f->kvs[i].key_len + 1 +
             (f->kvs[i].type == LR_GGUF_STRING ? (size_t)f->kvs[i].str_len + 1 : 0);
  for (size_t i = 0; i < f->n_tensors; i++)
    total += (size_t)f->tnames[i].len + 1;
  if ((s = f->strings = malloc(total)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", f->name);
  for (size_t i = 0; i < f->n_kv; i++) {
    lr_gguf_kv *kv = &f->kvs[i];
    memcpy(s, f->base + kv->key_offset, (size_t)kv->key_len);
    s[kv->key_len] = '\0';
    kv->key = s;
    s += kv->key_len + 1;
    if (kv->type == LR_GGUF_STRING) {
      memcpy(s, kv->value + 8, (size_t)kv->str_len);
      s[kv->str_len] = '\0';
      kv->str = s;
      s += kv->str_len + 1;
    }
  }
  for (size_t i = 0; i < f->n_tensors; i++) {
    memcpy(s, f->base + f->tnames[i].offset, (size_t)f->tnames[i].len);
    s[f->tnames[i].len] = '\0';
    f->tensors[i].name = s;
    s += f->tnames[i].len + 1;
  }
  return LR_OK;
}

static lr_status parse_file(lr_gguf_file *f, lr_err *err) {
  parser p = {f, 0, "", err};
  uint64_t n_tensors, n_kv;
  lr_status rc;
  if ((rc = parse_magic_version(&p)) != LR_OK ||
      (rc = read_u64(&p, &n_tensors, "the tensor count")) != LR_OK ||
      (rc = read_u64(&p, &n_kv, "the metadata count")) != LR_OK)
    return rc;
  /* Smallest pair: an 8-byte key length, a 1-byte key, a 4-byte type and a 1-byte value.  Smallest
   * tensor info: name length and 1 byte, 4-byte n_dims, one 8-byte dim, type and offset. */
  if ((rc = check_count(&p, 16, n_kv, LR_GGUF_MAX_KVS, 14, "metadata pairs")) != LR_OK ||
      (rc = check_count(&p, 8, n_tensors, LR_GGUF_MAX_TENSORS, 33, "tensors")) != LR_OK ||
      (rc = parse_metadata(&p, n_kv)) != LR_OK)
    return rc;
  p.ctx[0] = '\0';
  if ((rc = check_count(&p, 8, n_tensors, LR_GGUF_MAX_TENSORS, 33, "tensors")) != LR_OK ||
      (rc = parse_tensors(&p, n_tensors)) != LR_OK)
    return rc;
  return copy_strings(f, err);
}

/* ---- opening and closing ------------------------------------------------------------------------- */

static lr_status new_file(const char *name, lr_gguf_file **out, lr_err *err) {
  lr_gguf_file *f = calloc(1, sizeof *f);
  *out = NULL;
  if (f == NULL || (f->name = strdup(name ? name : "(buffer)")) == NULL) {
    free(f);
    return lr_fail(err, LR_ENOMEM, "out of memory opening '%s'", name ? name : "(buffer)");
  }
  lr_hashmap_init(&f->kv_index, kv_key_eq, f);
  lr_hashmap_init(&f->tensor_index, tensor_name_eq, f);
  *out = f;
  return LR_OK;
}

lr_status lr_gguf_parse(const void *buf, size_t len, const char *name, lr_gguf_file **out,
                        lr_err *err) {
  lr_gguf_file *f;
  lr_status rc = new_file(name, &f, err);
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  f->base = buf;
  f->len = len;
  if ((rc = parse_file(f, err)) != LR_OK) {
    lr_gguf_close(f);
    return rc;
  }
  *out = f;
  return LR_OK;
}

/* Maps the file read-only (lr_map_file); base points into the mapping. */
static lr_status map_file(lr_gguf_file *f, lr_err *err) {
  lr_status rc = lr_map_file(f->name, &f->map, &f->len, err);
  f->base = f->map;
  return rc;
}

lr_status lr_gguf_open(const char *path, lr_gguf_file **out, lr_err *err) {
  lr_gguf_file *f;
  lr_status rc = new_file(path, &f, err);
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  if ((rc = map_file(f, err)) != LR_OK || (rc = parse_file(f, err)) != LR_OK) {
    lr_gguf_close(f);
    return rc;
  }
  *out = f;
  return LR_OK;
}

void lr_gguf_release(const lr_gguf_file *f, const void *p, size_t len) {
  const unsigned char *b = p;
  if (f == NULL || f->map == NULL || b < f->base || len > f->len ||
      (size_t)(b - f->base) > f->len - len)
    return;
  lr_map_release(p, len);
}

void lr_gguf_release_metadata(const lr_gguf_file *f) {
  if (f != NULL)
    lr_gguf_release(f, f->base, (size_t)f->data_start);
}

void lr_gguf_close(lr_gguf_file *f) {
  if (f == NULL)
    return;
  lr_unmap_file(f->map, f->len);
  for (size_t i = 0; i < f->n_kv; i++)
    free(f->kvs[i].elem_offsets);
  free(f->kvs);
  free(f->tensors);
  free(f->tnames);
  free(f->strings);
  lr_hashmap_release(&f->kv_index);
  lr_hashmap_release(&f->tensor_index);
  free(f->name);
  free(f);
}

bool lr_gguf_path_is_gguf(const char *path) {
  size_t n = strlen(path);
  unsigned char magic[4];
  struct stat st;
  bool yes;
  int fd;
  if (n >= 5 && strcasecmp(path + n - 5, ".gguf") == 0)
    return true;
  /* stat first: opening a FIFO to sniff it would block. */
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return false;
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return false;
  yes = read(fd, magic, 4) == 4 && memcmp(magic, "GGUF", 4) == 0;
  close(fd);
  return yes;
}

/* ---- accessors ----------------------------------------------------------------------------------- */

const char *lr_gguf_name(const lr_gguf_file *f) { return f->name; }
uint32_t lr_gguf_version(const lr_gguf_file *f) { return f->version; }
size_t lr_gguf_file_size(const lr_gguf_file *f) { return f->len; }
uint32_t lr_gguf_alignment(const lr_gguf_file *f) { return f->alignment; }
uint64_t lr_gguf_data_start(const lr_gguf_file *f) { return f->data_start; }
size_t lr_gguf_kv_count(const lr_gguf_file *f) { return f->n_kv; }
size_t lr_gguf_tensor_count(const lr_gguf_file *f) { return f->n_tensors; }

const lr_gguf_kv *lr_gguf_kv_at(const lr_gguf_file *f, size_t i) {
  return i < f->n_kv ? &f->kvs[i] : NULL;
}

const lr_gguf_tensor *lr_gguf_tensor_at(const lr_gguf_file *f, size_t i) {
  return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const lr_gguf_kv *lr_gguf_find_kv(const lr_gguf_file *f, const char *key) {
  size_t n = strlen(key), i = lr_hashmap_find(&f->kv_index, lr_hash(key, n), key, n);
  return i == LR_HASHMAP_NONE ? NULL : &f->kvs[i];
}

const lr_gguf_tensor *lr_gguf_find_tensor(const lr_gguf_file *f, const char *name) {
  size_t n = strlen(name), i = lr_hashmap_find(&f->tensor_index, lr_hash(name, n), name, n);
  return i == LR_HASHMAP_NONE ? NULL : &f->tensors[i];
}

/* ---- typed values -------------------------------------------------------------------------------- */

static bool is_int_type(lr_gguf_type t) {
  return t <= LR_GGUF_INT32 || t == LR_GGUF_UINT64 || t == LR_GGUF_INT64;
}

static bool is_float_type(lr_gguf_type t) {
  return t == LR_GGUF_FLOAT32 || t == LR_GGUF_FLOAT64;
}

/* An integer of type t at p as int64; false for a uint64 above INT64_MAX. */
static bool decode_int(const unsigned char *p, lr_gguf_type t, int64_t *out) {
  uint64_t u;
  switch (t) {
  case LR_GGUF_UINT8: *out = p[0]; return true;
  case LR_GGUF_INT8: *out = (int8_t)p[0]; return true;
  case LR_GGUF_UINT16: *out = (uint16_t)(p[0] | p[1] << 8); return true;
  case LR_GGUF_INT16: *out = (int16_t)(uint16_t)(p[0] | p[1] << 8); return true;
  case LR_GGUF_UINT32: *out = le32(p); return true;
  case LR_GGUF_INT32: *out = (int32_t)le32(p); return true;
  case LR_GGUF_INT64: *out = (int64_t)le64(p); return true;
  case LR_GGUF_UINT64:
    u = le64(p);
    *out = (int64_t)u;
    return u <= INT64_MAX;
  default: return false;
  }
}

static double decode_float(const unsigned char *p, lr_gguf_type t) {
  if (t == LR_GGUF_FLOAT32) {
    uint32_t u = le32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
  } else {
    uint64_t u = le64(p);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
  }
}

static lr_status wrong_type(const lr_gguf_file *f, const lr_gguf_kv *kv, const char *want,
                            lr_err *err) {
  char got[32];
  kv_type_text(kv, got, sizeof got);
  return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "byte %llu: key '%s' has type %s, expected %s",
                    (unsigned long long)kv->offset, kv->key, got, want);
}

static lr_status find(const lr_gguf_file *f, const char *key, const lr_gguf_kv **kv,
                      lr_err *err) {
  if ((*kv = lr_gguf_find_kv(f, key)) == NULL)
    return lr_fail_at(err, LR_ENOTFOUND, f->name, 0, 0, "missing key '%s'", key);
  return LR_OK;
}

lr_status lr_gguf_kv_int(const lr_gguf_file *f, const lr_gguf_kv *kv, int64_t *out,
                         lr_err *err) {
  if (kv->type == LR_GGUF_ARRAY || !is_int_type(kv->type))
    return wrong_type(f, kv, "an integer", err);
  if (!decode_int(kv->value, kv->type, out))
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "byte %llu: key '%s': %llu is out of range "
                      "(above 2^63 - 1)", (unsigned long long)kv->value_offset, kv->key,
                      (unsigned long long)le64(kv->value));
  return LR_OK;
}

lr_status lr_gguf_kv_float(const lr_gguf_file *f, const lr_gguf_kv *kv, double *out,
                           lr_err *err) {
  if (kv->type == LR_GGUF_ARRAY || !is_float_type(kv->type))
    return wrong_type(f, kv, "a float32 or float64", err);
  *out = decode_float(kv->value, kv->type);
  return LR_OK;
}

lr_status lr_gguf_get_int(const lr_gguf_file *f, const char *key, int64_t *out, lr_err *err) {
  const lr_gguf_kv *kv;
  lr_status rc = find(f, key, &kv, err);
  return rc != LR_OK ? rc : lr_gguf_kv_int(f, kv, out, err);
}

lr_status lr_gguf_get_float(const lr_gguf_file *f, const char *key, double *out, lr_err *err) {
  const lr_gguf_kv *kv;
  lr_status rc = find(f, key, &kv, err);
  return rc != LR_OK ? rc : lr_gguf_kv_float(f, kv, out, err);
}

lr_status lr_gguf_get_bool(const lr_gguf_file *f, const char *key, bool *out, lr_err *err) {
  const lr_gguf_kv *kv;
  lr_status rc = find(f, key, &kv, err);
  if (rc != LR_OK)
    return rc;
  if (kv->type != LR_GGUF_BOOL)
    return wrong_type(f, kv, "a bool", err);
  *out = kv->value[0] != 0;
  return LR_OK;
}

lr_status lr_gguf_get_str(const lr_gguf_file *f, const char *key, const char **out, size_t *len,
                          lr_err *err) {
  const lr_gguf_kv *kv;
  lr_status rc = find(f, key, &kv, err);
  if (rc != LR_OK)
    return rc;
  if (kv->type != LR_GGUF_STRING)
    return wrong_type(f, kv, "a string", err);
  *out = kv->str;
  if (len)
    *len = (size_t)kv->str_len;
  return LR_OK;
}

lr_status lr_gguf_get_array(const lr_gguf_file *f, const char *key, const lr_gguf_kv **out,
                            lr_err *err) {
  lr_status rc = find(f, key, out, err);
  if (rc == LR_OK && (*out)->type != LR_GGUF_ARRAY) {
    rc = wrong_type(f, *out, "an array", err);
    *out = NULL;
  }
  return rc;
}

/* The file bytes of element i of an array of fixed-size elements, after the checks every
 * element accessor makes; NULL on failure (recorded in err). */
static const unsigned char *element(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                                    bool (*ok)(lr_gguf_type), const char *want, lr_err *err) {
  char got[32];
  if (kv->type != LR_GGUF_ARRAY || !ok(kv->elem_type)) {
    kv_type_text(kv, got, sizeof got);
    lr_fail_at(err, LR_EINVAL, f->name, 0, 0, "byte %llu: key '%s' has type %s, expected an "
               "array of %s", (unsigned long long)kv->offset, kv->key, got, want);
    return NULL;
  }
  if (i >= kv->count) {
    lr_fail_at(err, LR_EINVAL, f->name, 0, 0, "key '%s': element %llu asked for, but the array "
               "has %llu", kv->key, (unsigned long long)i, (unsigned long long)kv->count);
    return NULL;
  }
  if (kv->elem_type == LR_GGUF_STRING)
    return f->base + kv->elem_offsets[i];
  return kv->value + i * value_types[kv->elem_type].size;
}

static bool is_bool_type(lr_gguf_type t) { return t == LR_GGUF_BOOL; }
static bool is_str_type(lr_gguf_type t) { return t == LR_GGUF_STRING; }

lr_status lr_gguf_array_int(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                            int64_t *out, lr_err *err) {
  const unsigned char *p = element(f, kv, i, is_int_type, "integers", err);
  if (p == NULL)
    return err->code;
  if (!decode_int(p, kv->elem_type, out))
    return lr_fail_at(err, LR_EPARSE, f->name, 0, 0, "byte %llu: key '%s': element %llu, %llu, "
                      "is out of range (above 2^63 - 1)", (unsigned long long)(p - f->base),
                      kv->key, (unsigned long long)i, (unsigned long long)le64(p));
  return LR_OK;
}

lr_status lr_gguf_array_float(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                              double *out, lr_err *err) {
  const unsigned char *p = element(f, kv, i, is_float_type, "float32 or float64", err);
  if (p == NULL)
    return err->code;
  *out = decode_float(p, kv->elem_type);
  return LR_OK;
}

lr_status lr_gguf_array_bool(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i, bool *out,
                             lr_err *err) {
  const unsigned char *p = element(f, kv, i, is_bool_type, "bool", err);
  if (p == NULL)
    return err->code;
  *out = p[0] != 0;
  return LR_OK;
}

lr_status lr_gguf_array_str(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                            const char **out, size_t *len, lr_err *err) {
  const unsigned char *p = element(f, kv, i, is_str_type, "strings", err);
  if (p == NULL)
    return err->code;
  *len = (size_t)le64(p);
  *out = (const char *)p + 8;
  return LR_OK;
}

/* ---- values as text ------------------------------------------------------------------------------ */

/* The shortest %g text that reads back as the same float32 (or double), without an exponent for
 * whole numbers below 10^15 (100000, not 1e+05). */
static void format_float(char *buf, size_t n, double v, bool f32) {
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
      break;
  }
  if (strstr(buf, "e+") != NULL && fabs(v) < 1e15) {
    int digits = 1;
    for (double a = fabs(v); a >= 10; a /= 10)
      digits++;
    snprintf(buf, n, "%.*g", digits > prec ? digits : prec, v);
  }
}

/* One scalar of type t at p, appended to buf at *used. */
static void append_scalar(char *buf, size_t n, size_t *used, const unsigned char *p,
                          lr_gguf_type t, uint64_t str_len) {
  char tmp[64];
  int64_t iv;
  if (*used >= n)
    return;
  if (t == LR_GGUF_STRING)
    quote(tmp, sizeof tmp, p, str_len);
  else if (t == LR_GGUF_BOOL)
    snprintf(tmp, sizeof tmp, "%s", p[0] ? "true" : "false");
  else if (is_float_type(t))
    format_float(tmp, sizeof tmp, decode_float(p, t), t == LR_GGUF_FLOAT32);
  else if (decode_int(p, t, &iv))
    snprintf(tmp, sizeof tmp, "%lld", (long long)iv);
  else
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)le64(p));
  *used += (size_t)snprintf(buf + *used, n - *used, "%s", tmp);
}

void lr_gguf_kv_format(const lr_gguf_file *f, const lr_gguf_kv *kv, size_t max_elems, char *buf,
                       size_t n) {
  size_t used = 0;
  if (n == 0)
    return;
  buf[0] = '\0';
  if (kv->type == LR_GGUF_STRING) {
    /* The whole string, not quote()'s first 64 bytes: a name or a template is wanted whole. */
    for (uint64_t i = 0; i < kv->str_len && used + 5 < n; i++) {
      unsigned char c = (unsigned char)kv->str[i];
      if (c < 0x20 || c == 0x7f)
        used += (size_t)snprintf(buf + used, n - used, "\\x%02x", c);
      else
        buf[used++] = (char)c;
    }
    buf[used < n ? used : n - 1] = '\0';
    return;
  }
  if (kv->type != LR_GGUF_ARRAY) {
    append_scalar(buf, n, &used, kv->value, kv->type, 0);
    return;
  }
  used += (size_t)snprintf(buf, n, "[");
  for (uint64_t i = 0; i < kv->count && i < max_elems && used < n; i++) {
    const unsigned char *p;
    uint64_t len = 0;
    if (kv->elem_type == LR_GGUF_STRING) {
      p = f->base + kv->elem_offsets[i] + 8;
      len = le64(p - 8);
    } else {
      p = kv->value + i * value_types[kv->elem_type].size;
    }
    if (i > 0 && used < n)
      used += (size_t)snprintf(buf + used, n - used, ", ");
    append_scalar(buf, n, &used, p, kv->elem_type, len);
  }
  if (used < n)
    snprintf(buf + used, n - used, "%s] (%llu x %s)", kv->count > max_elems ? ", ..." : "",
             (unsigned long long)kv->count, lr_gguf_type_name(kv->elem_type));
}
