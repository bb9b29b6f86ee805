/*
 * base-convert.c: the frozen base model as a given backend takes it (see base-convert.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "common/quant.h"
#include "model/base-convert.h"

static bool taken(const lorens_tensor *t, lr_takes_dtype_fn takes) {
  if (t->data == NULL || (t->dtype >= LORENS_DTYPE_F32 && t->dtype <= LORENS_DTYPE_BF16))
    return true; /* absent, or a type every backend reads (ABI 1.0) */
  return takes != NULL && takes(t->dtype) != 0;
}

bool lr_base_taken_as_stored(const lorens_model *m, lr_takes_dtype_fn takes) {
  size_t n = (size_t)m->n_layers * m->layer_stride;
  if (!taken(&m->embed, takes) || !taken(&m->final_norm, takes) || !taken(&m->lm_head, takes))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!taken(&m->layers[i], takes))
      return false;
  return true;
}

/* Replaces *t by an F32 copy the view owns when the backend does not take it as stored (or, with
 * all_f32, whenever it is not F32). */
static lr_status convert(lr_base_view *v, lorens_tensor *t, lr_takes_dtype_fn takes, bool all_f32,
                         lr_err *err) {
  int type = lr_quant_type_of_dtype(t->dtype);
  size_t rows = (size_t)t->shape[0], cols = t->ndim == 2 ? (size_t)t->shape[1] : 1, row_bytes;
  float *buf;
  if (t->data == NULL || t->dtype == LORENS_DTYPE_F32 || (!all_f32 && taken(t, takes)))
    return LR_OK;
  if (t->ndim == 1) { /* a vector: one row */
    cols = rows;
    rows = 1;
  }
  if (!lr_quant_can_dequantize(type) || lr_quant_row_bytes(type, cols, &row_bytes) != LORENS_OK)
    return lr_fail(err, LR_EUNSUPPORTED, "a base tensor of dtype %d cannot be converted to F32",
                   (int)t->dtype);
  if (rows > SIZE_MAX / sizeof *buf / cols || (buf = malloc(rows * cols * sizeof *buf)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory converting the base model to F32 (%zu x %zu)",
                   rows, cols);
  v->bufs[v->n_bufs++] = buf;
  for (size_t r = 0; r < rows; r++)
    lr_quant_dequantize_row(type, (const unsigned char *)t->data + r * row_bytes, buf + r * cols,
                            cols);
  t->data = buf;
  t->dtype = LORENS_DTYPE_F32;
  return LR_OK;
}

static lr_status view_init(lr_base_view *v, const lorens_model *m, lr_takes_dtype_fn takes,
                           bool all_f32, lr_err *err) {
  size_t n = (size_t)m->n_layers * m->layer_stride;
  lr_status rc = LR_OK;
  memset(v, 0, sizeof *v);
  v->model = *m;
  v->layers = malloc((n ? n : 1) * sizeof *v->layers);
  v->bufs = calloc(n + 3, sizeof *v->bufs);
  if (v->layers == NULL || v->bufs == NULL) {
    lr_base_view_release(v);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  memcpy(v->layers, m->layers, n * sizeof *v->layers);
  v->model.layers = v->layers;
  if ((rc = convert(v, &v->model.embed, takes, all_f32, err)) == LR_OK &&
      (rc = convert(v, &v->model.final_norm, takes, all_f32, err)) == LR_OK &&
      (rc = convert(v, &v->model.lm_head, takes, all_f32, err)) == LR_OK)
    for (size_t i = 0; i < n && rc == LR_OK; i++)
      rc = convert(v, &v->layers[i], takes, all_f32, err);
  if (rc != LR_OK)
    lr_base_view_release(v);
  return rc;
}

lr_status lr_base_view_init(lr_base_view *v, const lorens_model *m, lr_takes_dtype_fn takes,
                            lr_err *err) {
  return view_init(v, m, takes, false, err);
}

lr_status lr_base_view_init_f32(lr_base_view *v, const lorens_model *m, lr_err *err) {
  return view_init(v, m, NULL, true, err);
}

void lr_base_view_release(lr_base_view *v) {
  for (size_t i = 0; i < v->n_bufs; i++)
    free(v->bufs[i]);
  free(v->bufs);
  free(v->layers);
  memset(v, 0, sizeof *v);
}
