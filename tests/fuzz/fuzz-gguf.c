/*
 * fuzz-gguf.c: the GGUF reader, over whole files held in memory.
 *
 * Any input must either fail with a parse or unsupported status and a message that names the file,
 * or parse into metadata and tensors that keep the reader's promises: every key and tensor found
 * by its name, every array element readable, every tensor of a known type with 1 to 4 positive
 * dims, its size the one its type and shape give, its offset aligned, its bytes inside the input
 * and overlapping no other tensor's.  Every byte of every tensor and string is read, so that ASan
 * catches a pointer that escapes the buffer.  A file with `tokenizer.ggml.model` also has its
 * tokenizer built (text/tokenizer-gguf.c): it must load or fail with a message naming the file,
 * and a loaded one must encode a text to ids of its vocabulary and decode them.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/gguf.h"
#include "text/tokenizer.h"

#define NAME "fuzz.gguf"

static unsigned sum_bytes(const void *p, size_t n) {
  const unsigned char *b = p;
  unsigned s = 0;
  for (size_t i = 0; i < n; i++)
    s += b[i];
  return s;
}

static void check_kv(const lr_gguf_file *f, const lr_gguf_kv *kv, const uint8_t *data,
                     size_t size) {
  char text[128];
  const char *s;
  size_t len;
  int64_t iv;
  double dv;
  bool bv;
  lr_err err;
  lr_err_init(&err);
  FUZZ_CHECK(kv->key != NULL && kv->key[0] != '\0' && strlen(kv->key) <= LR_GGUF_KEY_MAX);
  FUZZ_CHECK(lr_gguf_find_kv(f, kv->key) == kv);
  FUZZ_CHECK(kv->type < LR_GGUF_TYPE_COUNT && kv->elem_type < LR_GGUF_TYPE_COUNT &&
             kv->elem_type != LR_GGUF_ARRAY);
  FUZZ_CHECK(kv->offset < size && kv->value_offset <= size);
  lr_gguf_kv_format(f, kv, 4, text, sizeof text);
  FUZZ_CHECK(strlen(text) < sizeof text);
  if (kv->type == LR_GGUF_STRING) {
    FUZZ_CHECK(lr_gguf_get_str(f, kv->key, &s, &len, &err) == LR_OK && len == kv->str_len &&
               s[len] == '\0');
    (void)sum_bytes(s, len);
  }
  if (kv->type != LR_GGUF_ARRAY) {
    FUZZ_CHECK(kv->count == 1);
    return;
  }
  for (uint64_t i = 0; i < kv->count; i++) {
    lr_status rc;
    switch (kv->elem_type) {
    case LR_GGUF_STRING:
      FUZZ_CHECK(lr_gguf_array_str(f, kv, i, &s, &len, &err) == LR_OK);
      FUZZ_CHECK((const uint8_t *)s >= data && len <= (size_t)(data + size - (const uint8_t *)s));
      (void)sum_bytes(s, len);
      break;
    case LR_GGUF_FLOAT32:
    case LR_GGUF_FLOAT64:
      FUZZ_CHECK(lr_gguf_array_float(f, kv, i, &dv, &err) == LR_OK);
      break;
    case LR_GGUF_BOOL:
      FUZZ_CHECK(lr_gguf_array_bool(f, kv, i, &bv, &err) == LR_OK);
      break;
    default:
      rc = lr_gguf_array_int(f, kv, i, &iv, &err);
      FUZZ_CHECK(rc == LR_OK || (rc == LR_EPARSE && kv->elem_type == LR_GGUF_UINT64));
      lr_err_init(&err);
    }
  }
  FUZZ_CHECK(lr_gguf_array_int(f, kv, kv->count, &iv, &err) == LR_EINVAL);
}

static void check_tensor(const lr_gguf_file *f, size_t i, const uint8_t *data, size_t size) {
  const lr_gguf_tensor *t = lr_gguf_tensor_at(f, i);
  const lr_quant_type_info *ti = lr_quant_info((int)(t->type));
  uint64_t numel = 1;
  const uint8_t *p = t->data;
  FUZZ_CHECK(t->name != NULL && t->name[0] != '\0' && strlen(t->name) <= LR_GGUF_NAME_MAX);
  FUZZ_CHECK(lr_gguf_find_tensor(f, t->name) == t);
  FUZZ_CHECK(ti != NULL && t->n_dims >= 1 && t->n_dims <= LR_GGUF_MAX_DIMS);
  for (uint32_t d = 0; d < LR_GGUF_MAX_DIMS; d++) {
    FUZZ_CHECK(t->ne[d] >= 1 && (d < t->n_dims || t->ne[d] == 1));
    numel *= (uint64_t)t->ne[d];
  }
  FUZZ_CHECK(numel == t->numel && t->ne[0] % ti->block_elems == 0);
  FUZZ_CHECK(t->nbytes == t->numel / ti->block_elems * ti->block_bytes);
  FUZZ_CHECK(t->offset % lr_gguf_alignment(f) == 0);
  FUZZ_CHECK(t->file_offset == lr_gguf_data_start(f) + t->offset);
  FUZZ_CHECK(p == data + t->file_offset && t->nbytes <= size - t->file_offset);
  (void)sum_bytes(p, (size_t)t->nbytes);
  /* No overlaps: quadratic, so only for the few tensors a small input holds. */
  for (size_t j = 0; j < i && lr_gguf_tensor_count(f) <= 256; j++) {
    const lr_gguf_tensor *u = lr_gguf_tensor_at(f, j);
    FUZZ_CHECK(u->file_offset + u->nbytes <= t->file_offset ||
               t->file_offset + t->nbytes <= u->file_offset);
  }
}

static void check_tokenizer(const lr_gguf_file *f) {
  static const char text[] = "Hello <|im_start|>world 2024\n\t caf\xC3\xA9 <s>";
  lr_tokenizer *t = NULL;
  lr_ids ids = {0};
  char *back = NULL;
  lr_err err;
  lr_err_init(&err);
  if (lr_tokenizer_from_gguf(f, &t, &err) != LR_OK) {
    FUZZ_CHECK(t == NULL && err.msg[0] != '\0');
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_EUNSUPPORTED || err.code == LR_ENOMEM ||
               err.code == LR_EINVAL);
    FUZZ_CHECK(err.code == LR_ENOMEM || strcmp(err.file, NAME) == 0);
    return;
  }
  if (lr_tokenizer_encode(t, text, sizeof text - 1, 1, &ids, &err) == LR_OK) {
    for (size_t i = 0; i < ids.n; i++)
      FUZZ_CHECK(ids.v[i] >= 0 && (size_t)ids.v[i] < lr_tokenizer_vocab_size(t));
    if (lr_tokenizer_decode(t, ids.v, ids.n, &back, &err) == LR_OK)
      (void)sum_bytes(back, strlen(back));
  }
  free(back);
  lr_ids_release(&ids);
  lr_tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_gguf_file *f = NULL;
  uint32_t a;
  lr_err err;
  lr_err_init(&err);
  if (lr_gguf_parse(data, size, NAME, &f, &err) != LR_OK) {
    FUZZ_CHECK(f == NULL && err.msg[0] != '\0');
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_EUNSUPPORTED || err.code == LR_ENOMEM);
    FUZZ_CHECK(err.code == LR_ENOMEM || strcmp(err.file, NAME) == 0);
    return 0;
  }
  a = lr_gguf_alignment(f);
  FUZZ_CHECK(a != 0 && (a & (a - 1)) == 0);
  FUZZ_CHECK(lr_gguf_version(f) == 2 || lr_gguf_version(f) == 3);
  FUZZ_CHECK(lr_gguf_data_start(f) <= size && lr_gguf_file_size(f) == size);
  FUZZ_CHECK(lr_gguf_tensor_count(f) == 0 || lr_gguf_data_start(f) % a == 0);
  for (size_t i = 0; i < lr_gguf_kv_count(f); i++)
    check_kv(f, lr_gguf_kv_at(f, i), data, size);
  FUZZ_CHECK(lr_gguf_kv_at(f, lr_gguf_kv_count(f)) == NULL);
  for (size_t i = 0; i < lr_gguf_tensor_count(f); i++)
    check_tensor(f, i, data, size);
  FUZZ_CHECK(lr_gguf_tensor_at(f, lr_gguf_tensor_count(f)) == NULL);
  if (lr_gguf_find_kv(f, "tokenizer.ggml.model"))
    check_tokenizer(f);
  lr_gguf_close(f);
  return 0;
}
