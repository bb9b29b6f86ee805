/*
 * safetensors-write.h: writing safetensors files (adapters, checkpoints).
 *
 * The file is written next to its destination as NAME.tmp, flushed, closed and renamed over
 * NAME, so a crash leaves either the old file or the new one, never half of one.  Tensors keep
 * the order given; each tensor's data starts at a multiple of 8 bytes so readers can map it in
 * place.
 */
#ifndef LORENS_SAFETENSORS_WRITE_H
#define LORENS_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/safetensors.h"

typedef struct lr_st_out {
  const char *name;
  lr_st_dtype dtype;
  uint32_t ndim;
  int64_t shape[LR_ST_MAX_DIMS];
  const void *data; /* numel * dtype size bytes */
} lr_st_out;

/* meta: n_meta key/value pairs (keys[i], values[i]) for "__metadata__"; may be 0. */
lr_status lr_st_write(const char *path, const lr_st_out *tensors, size_t n,
                      const char *const *keys, const char *const *values, size_t n_meta,
                      lr_err *err);

#endif /* LORENS_SAFETENSORS_WRITE_H */
