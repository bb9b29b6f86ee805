/*
 * st-writer.c: safetensors writers for the tests (see st-writer.h).  Test-only code: an
 * allocation failure here aborts the test program, which is the right outcome for a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st-writer.h"

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "st-writer: out of memory\n");
    abort();
  }
  return p;
}

int st_write_raw(const char *path, uint64_t header_len, const char *header, const void *data,
                 size_t n) {
  unsigned char len[8];
  FILE *fp = fopen(path, "wb");
  int rc = 0;
  if (fp == NULL)
    return -1;
  for (int i = 0; i < 8; i++)
    len[i] = (unsigned char)(header_len >> (8 * i));
  if (fwrite(len, 1, 8, fp) != 8 || fwrite(header, 1, strlen(header), fp) != strlen(header) ||
      (n > 0 && fwrite(data, 1, n, fp) != n))
    rc = -1;
  if (fclose(fp) != 0)
    rc = -1;
  return rc;
}

int st_write(const char *path, const char *header, const void *data, size_t n) {
  return st_write_raw(path, strlen(header), header, data, n);
}

void stb_init(st_builder *b) {
  memset(b, 0, sizeof *b);
  b->header = xrealloc(NULL, 2);
  strcpy(b->header, "{");
  b->header_len = 1;
}

static void append(st_builder *b, const char *text) {
  size_t n = strlen(text);
  b->header = xrealloc(b->header, b->header_len + n + 1);
  memcpy(b->header + b->header_len, text, n + 1);
  b->header_len += n;
}

void stb_add(st_builder *b, const char *name, const char *dtype, int ndim, const int64_t *shape,
             const void *bytes, size_t nbytes) {
  char entry[1024];
  size_t used;
  used = (size_t)snprintf(entry, sizeof entry, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                          b->n ? "," : "", name, dtype);
  for (int i = 0; i < ndim; i++)
    used += (size_t)snprintf(entry + used, sizeof entry - used, "%s%lld", i ? "," : "",
                             (long long)shape[i]);
  snprintf(entry + used, sizeof entry - used, "],\"data_offsets\":[%zu,%zu]}", b->data_len,
           b->data_len + nbytes);
  append(b, entry);
  b->data = xrealloc(b->data, b->data_len + nbytes);
  if (bytes)
    memcpy(b->data + b->data_len, bytes, nbytes);
  else
    memset(b->data + b->data_len, 0, nbytes);
  b->data_len += nbytes;
  b->n++;
}

void stb_add_metadata(st_builder *b, const char *object_json) {
  append(b, b->n ? ",\"__metadata__\":" : "\"__metadata__\":");
  append(b, object_json);
  b->n++;
}

int stb_write(st_builder *b, const char *path) {
  append(b, "}");
  /* Python's writer pads the header with spaces so that the data starts 8-byte aligned. */
  while (b->header_len % 8 != 0)
    append(b, " ");
  return st_write(path, b->header, b->data, b->data_len);
}

void stb_release(st_builder *b) {
  free(b->header);
  free(b->data);
  memset(b, 0, sizeof *b);
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

uint16_t st_f32_to_f16(float f) {
  uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000u, exp = (u >> 23) & 0xffu;
  if (exp == 0)
    return (uint16_t)sign;
  return (uint16_t)(sign | ((exp - 112u) << 10) | ((u >> 13) & 0x3ffu));
}

uint16_t st_f32_to_bf16(float f) {
  return (uint16_t)(f32_bits(f) >> 16);
}
