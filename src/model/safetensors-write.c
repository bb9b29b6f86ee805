/*
 * safetensors-write.c: the safetensors writer (see safetensors-write.h).
 */
#include "compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/safetensors-write.h"

static size_t numel(const lr_st_out *t) {
  size_t n = 1;
  for (uint32_t d = 0; d < t->ndim; d++)
    n *= (size_t)t->shape[d];
  return n;
}

static size_t padded(size_t n) {
  return (n + 7) / 8 * 8;
}

/* The header JSON, padded with spaces to a multiple of 8 (as the format allows). */
static char *build_header(const lr_st_out *t, size_t n, const char *const *keys,
                          const char *const *values, size_t n_meta, size_t *len) {
  json_t *root = json_object();
  size_t off = 0;
  char *text, *out;
  if (n_meta) {
    json_t *meta = json_object();
    for (size_t i = 0; i < n_meta; i++)
      json_object_set_new(meta, keys[i], json_string(values[i]));
    json_object_set_new(root, "__metadata__", meta);
  }
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    size_t bytes = numel(&t[i]) * lr_st_dtype_size(t[i].dtype);
    for (uint32_t d = 0; d < t[i].ndim; d++)
      json_array_append_new(shape, json_integer(t[i].shape[d]));
    json_array_append_new(offs, json_integer((json_int_t)off));
    json_array_append_new(offs, json_integer((json_int_t)(off + bytes)));
    json_object_set_new(e, "dtype", json_string(lr_st_dtype_name(t[i].dtype)));
    json_object_set_new(e, "shape", shape);
    json_object_set_new(e, "data_offsets", offs);
    json_object_set_new(root, t[i].name, e);
    off = padded(off + bytes);
  }
  text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (text == NULL)
    return NULL;
  *len = padded(strlen(text));
  out = malloc(*len + 1);
  if (out) {
    memset(out, ' ', *len);
    memcpy(out, text, strlen(text));
    out[*len] = '\0';
  }
  free(text);
  return out;
}

static int write_all(FILE *fp, const void *p, size_t n) {
  return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1;
}

static int write_body(FILE *fp, const char *header, size_t hlen, const lr_st_out *t, size_t n) {
  static const char zeros[8] = {0};
  unsigned char len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  if (write_all(fp, len8, 8) || write_all(fp, header, hlen))
    return -1;
  for (size_t i = 0; i < n; i++) {
    size_t bytes = numel(&t[i]) * lr_st_dtype_size(t[i].dtype);
    if (write_all(fp, t[i].data, bytes) || write_all(fp, zeros, padded(bytes) - bytes))
      return -1;
  }
  return 0;
}

lr_status lr_st_write(const char *path, const lr_st_out *tensors, size_t n,
                      const char *const *keys, const char *const *values, size_t n_meta,
                      lr_err *err) {
  size_t hlen = 0;
  char *header = build_header(tensors, n, keys, values, n_meta, &hlen), *tmp = NULL;
  FILE *fp = NULL;
  lr_status rc = LR_OK;
  if (header == NULL || asprintf(&tmp, "%s.tmp", path) < 0) {
    tmp = NULL;
    rc = lr_fail(err, LR_ENOMEM, "out of memory writing '%s'", path);
    goto out;
  }
  fp = fopen(tmp, "wb");
  if (fp == NULL) {
    rc = lr_fail_at(err, lr_io_status(errno), tmp, 0, 0, "cannot create: %s", strerror(errno));
    goto out;
  }
  if (write_body(fp, header, hlen, tensors, n) || fflush(fp) != 0) {
    rc = lr_fail_at(err, lr_io_status(errno), tmp, 0, 0, "cannot write: %s", strerror(errno));
    fclose(fp);
    fp = NULL;
    remove(tmp);
    goto out;
  }
  if (fclose(fp) != 0 || rename(tmp, path) != 0) {
    rc = lr_fail_at(err, lr_io_status(errno), path, 0, 0, "cannot write: %s", strerror(errno));
    remove(tmp);
  }
  fp = NULL;
out:
  free(header);
  free(tmp);
  return rc;
}
