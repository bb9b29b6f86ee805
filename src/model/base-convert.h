/*
 * base-convert.h: the frozen base model as a given backend takes it.
 *
 * A model's tensors stay in their stored type (model.h), but only a backend whose takes_dtype
 * says so receives quantized (LORENS_DTYPE_GGML) tensors; every backend of ABI 1.0-1.2 takes F32,
 * F16 and BF16 only.  For such a backend the session opens on a view of the model whose other
 * tensors are dequantized to F32 host buffers that the view owns (a plugin that takes only fp32
 * gets converted data from the host), and whose untouched tensors still point at the model's.
 */
#ifndef LORENS_BASE_CONVERT_H
#define LORENS_BASE_CONVERT_H

#include <stdbool.h>

#include <lorens/backend.h>

#include "base/error.h"

/* Whether a backend takes a dtype as stored; NULL means F32, F16 and BF16 only. */
typedef int (*lr_takes_dtype_fn)(int32_t dtype);

typedef struct lr_base_view {
  lorens_model model;    /* the view; its layers are `layers` */
  lorens_tensor *layers; /* from malloc */
  float **bufs;          /* the converted tensors, from malloc */
  size_t n_bufs;
} lr_base_view;

/* Whether every tensor of m is one that takes (or a 1.0 backend) accepts as stored. */
bool lr_base_taken_as_stored(const lorens_model *m, lr_takes_dtype_fn takes);

/* Builds the view of m for a backend with `takes`: converted tensors dequantized to F32.  On
 * failure (out of memory, a type quant.h does not expand) the view is released. */
lr_status lr_base_view_init(lr_base_view *v, const lorens_model *m, lr_takes_dtype_fn takes,
                            lr_err *err);

/* The same with every tensor that is not F32 converted to F32 (16-bit ones too): the base as a
 * backend before ABI 1.3 held it, for comparisons (`lorens bench train --dequantize`). */
lr_status lr_base_view_init_f32(lr_base_view *v, const lorens_model *m, lr_err *err);

/* Frees what the view owns; a zeroed view is allowed. */
void lr_base_view_release(lr_base_view *v);

#endif /* LORENS_BASE_CONVERT_H */
