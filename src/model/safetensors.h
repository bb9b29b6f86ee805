/*
 * safetensors.h: reading .safetensors files without copying them.
 *
 * A safetensors file is an 8-byte little-endian length N, N bytes of JSON (the header), then the
 * data section.  The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end]}, offsets relative to the start of the data section, plus an optional "__metadata__"
 * object of strings.  (Format: github.com/huggingface/safetensors, "Format" in its README.)
 *
 * lr_st_open maps a file read-only and parses its header; tensor data pointers point into the
 * mapping, so a multi-gigabyte model costs no copy and no read until a page is touched.
 * lr_st_parse does the same over a caller's buffer, which the fuzzer and the tests use.
 *
 * Everything in the header is checked before a caller sees it: types, known dtypes, rank <= 8,
 * element counts that do not overflow, byte sizes that match numel * dtype size, offsets inside
 * the data section, no two tensors sharing bytes, and no repeated names.  A failure names the file
 * and the tensor.  Zero-size tensors are legal.
 */
#ifndef LORENS_SAFETENSORS_H
#define LORENS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Headers larger than this are refused before parsing: real ones are kilobytes to a few
 * megabytes, and a garbage length would otherwise have us parse a whole weights file as JSON. */
#define LR_ST_HEADER_MAX ((uint64_t)100 << 20)

/* Most dimensions a tensor may have (the format sets no limit; no model needs more). */
#define LR_ST_MAX_DIMS 8

typedef enum lr_st_dtype {
  LR_ST_F64, LR_ST_F32, LR_ST_F16, LR_ST_BF16,
  LR_ST_I64, LR_ST_I32, LR_ST_I16, LR_ST_I8,
  LR_ST_U64, LR_ST_U32, LR_ST_U16, LR_ST_U8,
  LR_ST_BOOL, LR_ST_F8_E4M3, LR_ST_F8_E5M2,
  LR_ST_DTYPE_COUNT
} lr_st_dtype;

/* A tensor as the header describes it, with its bytes. */
typedef struct lr_st_tensor {
  const char *name;           /* owned by the file */
  lr_st_dtype dtype;
  uint32_t ndim;              /* 0 (a scalar) to LR_ST_MAX_DIMS */
  int64_t shape[LR_ST_MAX_DIMS];
  uint64_t numel;             /* product of shape; 1 for a scalar, 0 for an empty tensor */
  const void *data;           /* into the mapping or the caller's buffer; no alignment promised */
  size_t nbytes;              /* numel * dtype size */
  uint64_t file_offset;       /* where data starts in the file: 8 + header length + begin */
} lr_st_tensor;

typedef struct lr_st_file lr_st_file; /* opaque */

/* Maps path read-only and parses it.  A missing file is LR_ENOTFOUND, a read failure LR_EIO, a
 * malformed header LR_EPARSE, an unknown dtype LR_EUNSUPPORTED.  Close *out with lr_st_close. */
lr_status lr_st_open(const char *path, lr_st_file **out, lr_err *err);

/* Parses a whole safetensors file held in buf (not copied: it must outlive *out).  name is used
 * in error messages in place of a path. */
lr_status lr_st_parse(const void *buf, size_t len, const char *name, lr_st_file **out,
                      lr_err *err);

/* Unmaps the file (if mapped) and frees everything; NULL is allowed. */
void lr_st_close(lr_st_file *f);

/* The path or name the file was opened with. */
const char *lr_st_name(const lr_st_file *f);

/* Size of the whole file, and of its JSON header. */
size_t lr_st_file_size(const lr_st_file *f);
uint64_t lr_st_header_size(const lr_st_file *f);

/* Tensors, sorted by name with digit runs compared as numbers (layers.2 before layers.10):
 * 0 <= i < lr_st_count(f).  lr_st_find returns NULL for an unknown name.  Pointers stay valid
 * until lr_st_close. */
size_t lr_st_count(const lr_st_file *f);
const lr_st_tensor *lr_st_get(const lr_st_file *f, size_t i);
const lr_st_tensor *lr_st_find(const lr_st_file *f, const char *name);

/* The "__metadata__" strings: the value for key, or NULL; and all pairs, in header order. */
const char *lr_st_metadata(const lr_st_file *f, const char *key);
size_t lr_st_metadata_count(const lr_st_file *f);
void lr_st_metadata_at(const lr_st_file *f, size_t i, const char **key, const char **value);

/* "F32", "BF16" ...; and the size of one element in bytes. */
const char *lr_st_dtype_name(lr_st_dtype t);
size_t lr_st_dtype_size(lr_st_dtype t);

/* The dtype called name; returns 0 when there is none. */
int lr_st_dtype_from_name(const char *name, lr_st_dtype *out);

/* Writes "[4096, 11008]" into buf (always NUL-terminated, truncated to n). */
void lr_shape_format(char *buf, size_t n, const int64_t *shape, uint32_t ndim);

#endif /* LORENS_SAFETENSORS_H */
