/*
 * fuzz-safetensors.c: the safetensors header parser, over whole files held in memory.
 *
 * Any input must either parse, with every tensor's bytes inside the input and consistent with its
 * dtype and shape, or fail with a status and a message.  Reading every byte of every tensor lets
 * ASan catch a data pointer that escapes the buffer.
 */
#include "compat.h"

#include <string.h>

#include "fuzz.h"
#include "model/safetensors.h"

static void check_tensor(const lr_st_file *f, size_t i, const uint8_t *data, size_t size) {
  const lr_st_tensor *t = lr_st_get(f, i);
  const uint8_t *p = t->data;
  uint64_t numel = 1;
  unsigned sum = 0;
  FUZZ_CHECK(t->name != NULL && lr_st_find(f, t->name) == t);
  FUZZ_CHECK(t->ndim <= LR_ST_MAX_DIMS);
  for (uint32_t d = 0; d < t->ndim; d++) {
    FUZZ_CHECK(t->shape[d] >= 0);
    numel *= (uint64_t)t->shape[d];
  }
  FUZZ_CHECK(numel == t->numel && t->numel * lr_st_dtype_size(t->dtype) == t->nbytes);
  FUZZ_CHECK(p >= data + 8 && p <= data + size && t->nbytes <= (size_t)(data + size - p));
  FUZZ_CHECK(t->file_offset == (uint64_t)(p - data));
  for (size_t b = 0; b < t->nbytes; b++)
    sum += p[b];
  (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_st_file *f = NULL;
  lr_err err;
  const char *key, *value;
  lr_err_init(&err);
  if (lr_st_parse(data, size, "fuzz.safetensors", &f, &err) != LR_OK) {
    FUZZ_CHECK(f == NULL && err.code != LR_OK && err.msg[0] != '\0');
    FUZZ_CHECK(strcmp(err.file, "fuzz.safetensors") == 0 || err.code == LR_ENOMEM);
    return 0;
  }
  FUZZ_CHECK(err.code == LR_OK && lr_st_header_size(f) + 8 <= size);
  for (size_t i = 0; i < lr_st_count(f); i++)
    check_tensor(f, i, data, size);
  FUZZ_CHECK(lr_st_get(f, lr_st_count(f)) == NULL);
  for (size_t i = 0; i < lr_st_metadata_count(f); i++) {
    lr_st_metadata_at(f, i, &key, &value);
    FUZZ_CHECK(key && value && lr_st_metadata(f, key) != NULL);
  }
  lr_st_close(f);
  return 0;
}
