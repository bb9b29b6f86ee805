/*
 * gguf-writer.c: GGUF writers for the tests (see gguf-writer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf-writer.h"

void gb_bytes(gguf_buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    if ((b->p = realloc(b->p, cap)) == NULL) {
      fprintf(stderr, "gguf-writer: out of memory\n");
      abort();
    }
    b->cap = cap;
  }
  if (n > 0) {
    if (p)
      memcpy(b->p + b->len, p, n);
    else
      memset(b->p + b->len, 0, n);
  }
  b->len += n;
}

void gb_u8(gguf_buf *b, uint8_t v) { gb_bytes(b, &v, 1); }

void gb_u32(gguf_buf *b, uint32_t v) {
  unsigned char le[4];
  for (int i = 0; i < 4; i++)
    le[i] = (unsigned char)(v >> (8 * i));
  gb_bytes(b, le, 4);
}

void gb_u64(gguf_buf *b, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; i++)
    le[i] = (unsigned char)(v >> (8 * i));
  gb_bytes(b, le, 8);
}

void gb_str(gguf_buf *b, const char *s) {
  gb_u64(b, strlen(s));
  gb_bytes(b, s, strlen(s));
}

void gb_release(gguf_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void gw_init(gguf_writer *w) {
  memset(w, 0, sizeof *w);
  memcpy(w->magic, "GGUF", 4);
  w->version = 3;
  w->alignment = 32;
}

void gw_release(gguf_writer *w) {
  gb_release(&w->kvs);
  gb_release(&w->infos);
  gb_release(&w->data);
}

static void key_type(gguf_writer *w, const char *key, uint32_t type) {
  gb_str(&w->kvs, key);
  gb_u32(&w->kvs, type);
  w->n_kv++;
}

static size_t int_size(uint32_t type) {
  switch (type) {
  case GW_UINT8: case GW_INT8: case GW_BOOL: return 1;
  case GW_UINT16: case GW_INT16: return 2;
  case GW_UINT32: case GW_INT32: return 4;
  default: return 8;
  }
}

void gw_kv_int(gguf_writer *w, const char *key, uint32_t type, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; i++)
    le[i] = (unsigned char)(v >> (8 * i));
  key_type(w, key, type);
  gb_bytes(&w->kvs, le, int_size(type));
}

void gw_kv_f32(gguf_writer *w, const char *key, float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  key_type(w, key, GW_FLOAT32);
  gb_u32(&w->kvs, u);
}

void gw_kv_f64(gguf_writer *w, const char *key, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  key_type(w, key, GW_FLOAT64);
  gb_u64(&w->kvs, u);
}

void gw_kv_str(gguf_writer *w, const char *key, const char *s) {
  gw_kv_strn(w, key, s, strlen(s));
}

void gw_kv_strn(gguf_writer *w, const char *key, const void *s, size_t n) {
  key_type(w, key, GW_STRING);
  gb_u64(&w->kvs, n);
  gb_bytes(&w->kvs, s, n);
}

void gw_kv_array(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t count,
                 const void *elems, size_t nbytes) {
  key_type(w, key, GW_ARRAY);
  gb_u32(&w->kvs, elem_type);
  gb_u64(&w->kvs, count);
  gb_bytes(&w->kvs, elems, nbytes);
}

void gw_kv_array_str(gguf_writer *w, const char *key, size_t n, const char *const *strs) {
  key_type(w, key, GW_ARRAY);
  gb_u32(&w->kvs, GW_STRING);
  gb_u64(&w->kvs, n);
  for (size_t i = 0; i < n; i++)
    gb_str(&w->kvs, strs[i]);
}

void gw_alignment(gguf_writer *w, uint32_t a) {
  gw_kv_int(w, "general.alignment", GW_UINT32, a);
  w->alignment = a;
}

void gw_kv_raw(gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n) {
  key_type(w, key, type);
  gb_bytes(&w->kvs, bytes, n);
}

void gw_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                    uint32_t type, uint64_t offset) {
  gb_str(&w->infos, name);
  gb_u32(&w->infos, n_dims);
  for (uint32_t d = 0; d < n_dims; d++)
    gb_u64(&w->infos, ne[d]);
  gb_u32(&w->infos, type);
  gb_u64(&w->infos, offset);
  w->n_tensors++;
}

void gw_data(gguf_writer *w, const void *bytes, size_t n) { gb_bytes(&w->data, bytes, n); }

uint64_t gw_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                   uint32_t type, const void *data, size_t nbytes) {
  size_t offset = w->data.len + (w->alignment - w->data.len % w->alignment) % w->alignment;
  gb_bytes(&w->data, NULL, offset - w->data.len);
  gb_bytes(&w->data, data, nbytes);
  gw_tensor_info(w, name, n_dims, ne, type, offset);
  return offset;
}

void gw_raw_kv(gguf_writer *w, const void *bytes, size_t n) {
  gb_bytes(&w->kvs, bytes, n);
  w->n_kv++;
}

void gw_raw_info(gguf_writer *w, const void *bytes, size_t n) {
  gb_bytes(&w->infos, bytes, n);
  w->n_tensors++;
}

void gw_build(const gguf_writer *w, gguf_buf *out) {
  size_t pad;
  gb_bytes(out, w->magic, 4);
  gb_u32(out, w->version);
  gb_u64(out, w->claim_counts ? w->n_tensors_claim : w->n_tensors);
  gb_u64(out, w->claim_counts ? w->n_kv_claim : w->n_kv);
  gb_bytes(out, w->kvs.p, w->kvs.len);
  gb_bytes(out, w->infos.p, w->infos.len);
  if (w->n_tensors == 0 && w->data.len == 0)
    return;
  pad = (w->alignment - out->len % w->alignment) % w->alignment;
  gb_bytes(out, NULL, pad);
  gb_bytes(out, w->data.p, w->data.len);
  /* gguf-py pads the last tensor too. */
  pad = (w->alignment - w->data.len % w->alignment) % w->alignment;
  gb_bytes(out, NULL, pad);
}

int gw_write_file(const char *path, const void *bytes, size_t n) {
  FILE *fp = fopen(path, "wb");
  int rc = 0;
  if (fp == NULL)
    return -1;
  if (n > 0 && fwrite(bytes, 1, n, fp) != n)
    rc = -1;
  if (fclose(fp) != 0)
    rc = -1;
  return rc;
}
