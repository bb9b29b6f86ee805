/*
 * gguf.h: reading GGUF files (llama.cpp's model format) without copying their tensor data.
 *
 * A GGUF file is, all little-endian and packed: the magic "GGUF", a uint32 version (2 or 3; the
 * two are the same for little-endian files), uint64 tensor and metadata counts, the metadata
 * key/value pairs, one info per tensor (name, dims, ne[], ggml type, offset), padding to the
 * alignment (`general.alignment`, a uint32 power of two, default 32), then the tensor data.
 * Sources: ggml-org/ggml docs/gguf.md, llama.cpp ggml/src/gguf.cpp; ../shared/research/gguf.md
 * section 1 summarizes them.
 *
 * lr_gguf_open maps the file read-only and parses everything before the data; tensor data
 * pointers point into the mapping.  lr_gguf_parse does the same over a caller's buffer (the
 * fuzzer and the tests use it).  Every count, length, offset and size is checked against the
 * bytes that are really there, and for overflow, before it is used or allocated for: a file that
 * claims 2^60 tensors fails at once.  Refused, each with a message that names the file, the byte
 * offset and the key or tensor: a truncated file, a wrong magic, version 1, a big-endian file,
 * unknown value or tensor types, nested arrays, strings or arrays past the end of the file,
 * duplicate keys or tensor names, keys or names that are empty, too long or hold a NUL byte, a
 * bad `general.alignment`, no or more than 4 dimensions, a dimension of 0 or one that is
 * negative as int64, ne[0] not a whole number of blocks, tensor data out of the file, misaligned
 * or overlapping another tensor.
 *
 * The reader knows the format, not models: which keys a LLaMA needs is for its caller.
 */
#ifndef LORENS_GGUF_H
#define LORENS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "common/quant.h"

#define LR_GGUF_MAX_DIMS 4
/* Longest key (the spec's limit) and tensor name (the spec's; llama.cpp allows 63). */
#define LR_GGUF_KEY_MAX 65535
#define LR_GGUF_NAME_MAX 64
/* Most keys and tensors a file may hold: far above real models (hundreds to a few thousand),
 * far below what would make the counts a memory problem. */
#define LR_GGUF_MAX_KVS ((uint64_t)1 << 20)
#define LR_GGUF_MAX_TENSORS ((uint64_t)1 << 20)
#define LR_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types (gguf_type): the numbers stored in the file. */
typedef enum lr_gguf_type {
  LR_GGUF_UINT8 = 0,
  LR_GGUF_INT8 = 1,
  LR_GGUF_UINT16 = 2,
  LR_GGUF_INT16 = 3,
  LR_GGUF_UINT32 = 4,
  LR_GGUF_INT32 = 5,
  LR_GGUF_FLOAT32 = 6,
  LR_GGUF_BOOL = 7,
  LR_GGUF_STRING = 8,
  LR_GGUF_ARRAY = 9,
  LR_GGUF_UINT64 = 10,
  LR_GGUF_INT64 = 11,
  LR_GGUF_FLOAT64 = 12,
  LR_GGUF_TYPE_COUNT
} lr_gguf_type;

/* Tensor types (ggml_type) and their block sizes are common/quant.h's lr_qtype table, shared
 * with the dequantizers. */

/* One metadata key/value pair.  Fields past str_len are the reader's; values are read with the
 * getters below, which check the type. */
typedef struct lr_gguf_kv {
  const char *key;            /* NUL-terminated, owned by the file */
  lr_gguf_type type;          /* LR_GGUF_ARRAY for arrays */
  lr_gguf_type elem_type;     /* an array's element type; for a scalar, its type */
  uint64_t count;             /* an array's element count; 1 for a scalar */
  uint64_t offset;            /* file offset where the pair starts (its key length) */
  uint64_t value_offset;      /* file offset of the value (an array's: of its first element) */
  const char *str;            /* a string value, NUL-terminated copy (it may hold NULs: str_len) */
  uint64_t str_len;
  const unsigned char *value; /* the value's bytes in the file */
  uint64_t key_offset;        /* file offset of the key's bytes */
  uint64_t key_len;
  uint64_t *elem_offsets;     /* arrays of strings: file offset of each element, from malloc */
} lr_gguf_kv;

/* One tensor, as its info describes it, with its bytes. */
typedef struct lr_gguf_tensor {
  const char *name;              /* NUL-terminated, owned by the file */
  uint32_t type;                 /* an lr_qtype (common/quant.h) */
  uint32_t n_dims;               /* 1 to LR_GGUF_MAX_DIMS */
  int64_t ne[LR_GGUF_MAX_DIMS];  /* ne[0] is contiguous; dims past n_dims are 1 */
  uint64_t numel;                /* product of ne */
  uint64_t nbytes;               /* ne[0] / block_size * block_bytes * ne[1] * ne[2] * ne[3] */
  uint64_t offset;               /* as stored: relative to the data section */
  uint64_t file_offset;          /* data start + offset */
  const void *data;              /* into the mapping or the caller's buffer */
  uint64_t info_offset;          /* file offset of its tensor info (for messages) */
} lr_gguf_tensor;

typedef struct lr_gguf_file lr_gguf_file; /* opaque */

/* Maps path read-only and parses it.  A missing file is LR_ENOTFOUND, a read failure LR_EIO, a
 * malformed file LR_EPARSE, a version or byte order not read here LR_EUNSUPPORTED, a type unknown
 * to this reader LR_EUNSUPPORTED.  Close *out with lr_gguf_close. */
lr_status lr_gguf_open(const char *path, lr_gguf_file **out, lr_err *err);

/* Parses a whole GGUF file held in buf (not copied: it must outlive *out).  name is used in
 * messages in place of a path.  Tensor data is aligned in the buffer only if buf is. */
lr_status lr_gguf_parse(const void *buf, size_t len, const char *name, lr_gguf_file **out,
                        lr_err *err);

/* Bytes [p, p + len) of a mapped file's data are not needed for now (lr_map_release): a model
 * that copied a tensor drops the file's pages under it from resident memory.  Nothing happens
 * for a caller's buffer (lr_gguf_parse) or outside the file. */
void lr_gguf_release(const lr_gguf_file *f, const void *p, size_t len);
/* The same for everything before the tensor data (header, metadata, tensor infos): once a caller
 * has read what it needs; values read later come back from the file. */
void lr_gguf_release_metadata(const lr_gguf_file *f);

/* Unmaps the file (if mapped) and frees everything; NULL is allowed. */
void lr_gguf_close(lr_gguf_file *f);

/* Whether path should be read as GGUF: it ends in ".gguf", or it is a regular file that starts
 * with the magic "GGUF".  A directory or a missing path without the suffix is not. */
bool lr_gguf_path_is_gguf(const char *path);

const char *lr_gguf_name(const lr_gguf_file *f);
uint32_t lr_gguf_version(const lr_gguf_file *f);
size_t lr_gguf_file_size(const lr_gguf_file *f);
uint32_t lr_gguf_alignment(const lr_gguf_file *f);
/* File offset of the data section (the end of the file when there are no tensors). */
uint64_t lr_gguf_data_start(const lr_gguf_file *f);

/* Metadata in file order: 0 <= i < lr_gguf_kv_count(f); lr_gguf_kv_at past the end is NULL. */
size_t lr_gguf_kv_count(const lr_gguf_file *f);
const lr_gguf_kv *lr_gguf_kv_at(const lr_gguf_file *f, size_t i);
/* The pair with this key, or NULL. */
const lr_gguf_kv *lr_gguf_find_kv(const lr_gguf_file *f, const char *key);

/*
 * Typed getters.  A missing key is LR_ENOTFOUND ("missing key 'x'"); a value of another type is
 * LR_EPARSE, the message naming the file, the byte offset, the key and both types.
 *   int:   any integer type (counts are written as uint32 by llama.cpp, but any is accepted);
 *          a uint64 above INT64_MAX is out of range
 *   float: float32 or float64
 *   bool:  bool (any byte but 0 is true, as in gguf.cpp)
 *   str:   string; *len (if not NULL) gets its length, which embedded NULs make longer than
 *          strlen; the string is NUL-terminated and owned by the file
 *   array: an array of any element type; its elements are read with lr_gguf_array_*
 */
lr_status lr_gguf_get_int(const lr_gguf_file *f, const char *key, int64_t *out, lr_err *err);
lr_status lr_gguf_get_float(const lr_gguf_file *f, const char *key, double *out, lr_err *err);
lr_status lr_gguf_get_bool(const lr_gguf_file *f, const char *key, bool *out, lr_err *err);
lr_status lr_gguf_get_str(const lr_gguf_file *f, const char *key, const char **out, size_t *len,
                          lr_err *err);
lr_status lr_gguf_get_array(const lr_gguf_file *f, const char *key, const lr_gguf_kv **out,
                            lr_err *err);

/* The same conversions on one pair, scalars only. */
lr_status lr_gguf_kv_int(const lr_gguf_file *f, const lr_gguf_kv *kv, int64_t *out, lr_err *err);
lr_status lr_gguf_kv_float(const lr_gguf_file *f, const lr_gguf_kv *kv, double *out,
                           lr_err *err);

/* Element i of an array, by the same rules.  An index past the end or an element of another type
 * is LR_EINVAL naming the key.  A string element is not NUL-terminated: it is *len bytes at *out,
 * in the file. */
lr_status lr_gguf_array_int(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                            int64_t *out, lr_err *err);
lr_status lr_gguf_array_float(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                              double *out, lr_err *err);
lr_status lr_gguf_array_bool(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i, bool *out,
                             lr_err *err);
lr_status lr_gguf_array_str(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i,
                            const char **out, size_t *len, lr_err *err);

/* Writes a value as text into buf (always NUL-terminated, truncated to n): integers in decimal,
 * floats as the shortest text that reads back to the same value ("1e-05"), true/false, a string
 * as it is with control bytes escaped, an array as "[a, b, c, ...] (30 x uint32)" with at most
 * max_elems elements shown. */
void lr_gguf_kv_format(const lr_gguf_file *f, const lr_gguf_kv *kv, size_t max_elems, char *buf,
                       size_t n);

/* Tensors in file order: 0 <= i < lr_gguf_tensor_count(f); past the end is NULL. */
size_t lr_gguf_tensor_count(const lr_gguf_file *f);
const lr_gguf_tensor *lr_gguf_tensor_at(const lr_gguf_file *f, size_t i);
/* The tensor called name, or NULL. */
const lr_gguf_tensor *lr_gguf_find_tensor(const lr_gguf_file *f, const char *name);

/* "uint32", "string", "array" ...; "?" for a number that is not a gguf_type. */
const char *lr_gguf_type_name(uint32_t t);


/* The name of a general.file_type value ("MOSTLY_Q4_1", from gguf-py's LlamaFileType), or NULL. */
const char *lr_gguf_file_type_name(int64_t file_type);

#endif /* LORENS_GGUF_H */
