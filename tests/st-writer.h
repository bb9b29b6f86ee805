/*
 * st-writer.h: writing safetensors files for tests, valid or deliberately broken.
 *
 * st_write_raw writes exactly what it is given (any header text, any length field), for the
 * malformed cases.  The builder makes well-formed files tensor by tensor, as Python's writer does:
 * data packed in the order added, header padded with spaces to a multiple of 8 bytes.
 */
#ifndef LORENS_TEST_ST_WRITER_H
#define LORENS_TEST_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Writes an 8-byte little-endian header_len, then header (strlen bytes), then n bytes of data.
 * Returns 0 on success, -1 on an I/O error. */
int st_write_raw(const char *path, uint64_t header_len, const char *header, const void *data,
                 size_t n);

/* The same with header_len = strlen(header). */
int st_write(const char *path, const char *header, const void *data, size_t n);

typedef struct st_builder {
  char *header;          /* "{" + entries so far */
  size_t header_len;
  unsigned char *data;
  size_t data_len;
  int n;
} st_builder;

void stb_init(st_builder *b);
/* Adds a tensor; bytes may be NULL for zeros.  shape has ndim entries. */
void stb_add(st_builder *b, const char *name, const char *dtype, int ndim, const int64_t *shape,
             const void *bytes, size_t nbytes);
/* Adds "__metadata__" with the given JSON object text. */
void stb_add_metadata(st_builder *b, const char *object_json);
/* Writes the file; returns 0 on success. */
int stb_write(st_builder *b, const char *path);
void stb_release(st_builder *b);

/* IEEE half and bfloat16 from a float that they represent exactly (normal numbers and zero). */
uint16_t st_f32_to_f16(float f);
uint16_t st_f32_to_bf16(float f);

#endif /* LORENS_TEST_ST_WRITER_H */
