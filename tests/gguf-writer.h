/*
 * gguf-writer.h: writing GGUF files for tests, valid or deliberately broken.
 *
 * A gguf_writer collects metadata pairs, tensor infos and tensor data as bytes, in the order they
 * are added, and gw_build lays them out as gguf-py's writer does: header, pairs, infos, zero
 * padding to the alignment, data (each tensor padded to the alignment).  The header's fields
 * (magic, version, counts) can be overridden, and the gw_raw_* calls append any bytes at all, so
 * that each malformed case is written byte for byte.  Nothing here checks anything: that is the
 * reader's job.  Test-only: an allocation failure aborts.
 */
#ifndef LORENS_TEST_GGUF_WRITER_H
#define LORENS_TEST_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer. */
typedef struct gguf_buf {
  unsigned char *p;
  size_t len, cap;
} gguf_buf;

void gb_bytes(gguf_buf *b, const void *p, size_t n);
void gb_u8(gguf_buf *b, uint8_t v);
void gb_u32(gguf_buf *b, uint32_t v);
void gb_u64(gguf_buf *b, uint64_t v);
/* A GGUF string: uint64 length, then the bytes (strlen of s). */
void gb_str(gguf_buf *b, const char *s);
void gb_release(gguf_buf *b);

/* gguf_type and ggml_type numbers, spelled out here so that the writer does not share the
 * reader's tables. */
enum {
  GW_UINT8, GW_INT8, GW_UINT16, GW_INT16, GW_UINT32, GW_INT32, GW_FLOAT32, GW_BOOL, GW_STRING,
  GW_ARRAY, GW_UINT64, GW_INT64, GW_FLOAT64
};
enum { GW_F32 = 0, GW_F16 = 1, GW_Q4_0 = 2, GW_Q4_1 = 3, GW_Q8_0 = 8, GW_Q4_K = 12, GW_F64 = 28 };

typedef struct gguf_writer {
  char magic[4];          /* "GGUF" */
  uint32_t version;       /* 3 */
  uint32_t alignment;     /* where tensor data is placed; 32 (gw_alignment also writes the key) */
  int claim_counts;       /* when set, the header says n_tensors_claim and n_kv_claim */
  uint64_t n_tensors_claim, n_kv_claim;
  uint64_t n_kv, n_tensors;
  gguf_buf kvs, infos, data;
} gguf_writer;

void gw_init(gguf_writer *w);
void gw_release(gguf_writer *w);

/* Metadata.  gw_kv_int writes v in the integer (or bool) type's size, little-endian. */
void gw_kv_int(gguf_writer *w, const char *key, uint32_t type, uint64_t v);
void gw_kv_f32(gguf_writer *w, const char *key, float v);
void gw_kv_f64(gguf_writer *w, const char *key, double v);
void gw_kv_str(gguf_writer *w, const char *key, const char *s);
void gw_kv_strn(gguf_writer *w, const char *key, const void *s, size_t n);
/* An array of count fixed-size elements given as their little-endian bytes. */
void gw_kv_array(gguf_writer *w, const char *key, uint32_t elem_type, uint64_t count,
                 const void *elems, size_t nbytes);
void gw_kv_array_str(gguf_writer *w, const char *key, size_t n, const char *const *strs);
/* general.alignment = a (uint32), and tensors placed at multiples of a from then on. */
void gw_alignment(gguf_writer *w, uint32_t a);
/* A key and a type, then whatever bytes: for broken values. */
void gw_kv_raw(gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n);

/* Adds a tensor: its info, with the data placed at the next aligned offset.  ne has n_dims
 * entries; data may be NULL for zeros.  Returns the offset. */
uint64_t gw_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                   uint32_t type, const void *data, size_t nbytes);
/* Only an info, with any offset; the data (if any) is added with gw_data. */
void gw_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                    uint32_t type, uint64_t offset);
void gw_data(gguf_writer *w, const void *bytes, size_t n);

/* Raw bytes in the metadata or info sections; each call counts as one pair or info. */
void gw_raw_kv(gguf_writer *w, const void *bytes, size_t n);
void gw_raw_info(gguf_writer *w, const void *bytes, size_t n);

/* The whole file into out (appended). */
void gw_build(const gguf_writer *w, gguf_buf *out);
/* Writes bytes to path; 0 on success. */
int gw_write_file(const char *path, const void *bytes, size_t n);

#endif /* LORENS_TEST_GGUF_WRITER_H */
