/*
 * random-model.c: random LLaMA-family weights in memory (see random-model.h).
 *
 * Weights are uniform with the scale of a trained model's (about 1/sqrt(fan_in)), norms are 1,
 * so activations stay in the range real models produce and timings are representative.
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/random-model.h"

static void set_shape(lorens_tensor *t, int64_t d0, int64_t d1) {
  t->dtype = LORENS_DTYPE_F32;
  t->ndim = d1 ? 2 : 1;
  t->shape[0] = d0;
  t->shape[1] = d1;
}

static size_t numel(const lorens_tensor *t) {
  return t->ndim ? (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1) : 0;
}

static void shape_layer(lorens_tensor *lt, const lr_random_model_spec *s, int head_dim) {
  int64_t q = (int64_t)s->heads * head_dim, kv = (int64_t)s->kv_heads * head_dim;
  set_shape(&lt[LORENS_SLOT_ATTN_NORM], s->dim, 0);
  set_shape(&lt[LORENS_SLOT_MLP_NORM], s->dim, 0);
  set_shape(&lt[LORENS_SLOT_Q], q, s->dim);
  set_shape(&lt[LORENS_SLOT_K], kv, s->dim);
  set_shape(&lt[LORENS_SLOT_V], kv, s->dim);
  set_shape(&lt[LORENS_SLOT_O], s->dim, q);
  set_shape(&lt[LORENS_SLOT_GATE], s->hidden, s->dim);
  set_shape(&lt[LORENS_SLOT_UP], s->hidden, s->dim);
  set_shape(&lt[LORENS_SLOT_DOWN], s->dim, s->hidden);
  if (s->qkv_bias) {
    set_shape(&lt[LORENS_SLOT_Q_BIAS], q, 0);
    set_shape(&lt[LORENS_SLOT_K_BIAS], kv, 0);
    set_shape(&lt[LORENS_SLOT_V_BIAS], kv, 0);
  }
}

enum fill_kind { FILL_MATRIX, FILL_NORM, FILL_BIAS };

/* Fills a shaped tensor from p; returns the next free float. */
static float *fill(lorens_tensor *t, float *p, lr_rng *rng, enum fill_kind kind, int random_norms) {
  size_t n = numel(t);
  double scale = t->ndim == 2 ? 1.0 / sqrt((double)t->shape[1]) : 0;
  for (size_t i = 0; i < n; i++) {
    double u = 2 * lr_rng_uniform(rng) - 1;
    if (kind == FILL_MATRIX)
      p[i] = (float)(scale * u);
    else if (kind == FILL_BIAS)
      p[i] = (float)(0.1 * u);
    else
      p[i] = random_norms ? (float)(1 + 0.2 * u) : 1.0f;
  }
  if (n)
    t->data = p;
  return p + n;
}

static enum fill_kind slot_kind(int slot) {
  if (slot == LORENS_SLOT_ATTN_NORM || slot == LORENS_SLOT_MLP_NORM)
    return FILL_NORM;
  return slot >= LORENS_SLOT_Q_BIAS ? FILL_BIAS : FILL_MATRIX;
}

lr_status lr_random_model_init(lr_random_model *rm, const lr_random_model_spec *s, lr_err *err) {
  lorens_model *m = &rm->model;
  size_t total = 0;
  lr_rng rng;
  float *p;
  memset(rm, 0, sizeof *rm);
  if (s->vocab < 1 || s->dim < 2 || s->hidden < 1 || s->layers < 1 || s->heads < 1 ||
      s->kv_heads < 1 || s->heads % s->kv_heads || s->dim % s->heads || (s->dim / s->heads) % 2)
    return lr_fail(err, LR_EINVAL,
                   "bad model shape: dim %d must split into %d heads of even size, %d heads into "
                   "%d kv heads", s->dim, s->heads, s->heads, s->kv_heads);
  rm->layers = calloc((size_t)s->layers * LORENS_SLOT_COUNT_V1_0, sizeof *rm->layers);
  if (rm->layers == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  set_shape(&m->embed, s->vocab, s->dim);
  set_shape(&m->final_norm, s->dim, 0);
  if (!s->tied)
    set_shape(&m->lm_head, s->vocab, s->dim);
  total = numel(&m->embed) + numel(&m->final_norm) + numel(&m->lm_head);
  for (int l = 0; l < s->layers; l++) {
    lorens_tensor *lt = rm->layers + (size_t)l * LORENS_SLOT_COUNT_V1_0;
    shape_layer(lt, s, s->dim / s->heads);
    for (int k = 0; k < LORENS_SLOT_COUNT_V1_0; k++)
      total += numel(&lt[k]);
  }
  rm->data = malloc(total * sizeof *rm->data);
  if (rm->data == NULL) {
    lr_random_model_release(rm);
    return lr_fail(err, LR_ENOMEM, "out of memory for %zu weights", total);
  }
  lr_rng_seed(&rng, s->seed);
  p = fill(&m->embed, rm->data, &rng, FILL_MATRIX, 0);
  p = fill(&m->final_norm, p, &rng, FILL_NORM, s->random_norms);
  p = fill(&m->lm_head, p, &rng, FILL_MATRIX, 0);
  for (int l = 0; l < s->layers; l++)
    for (int k = 0; k < LORENS_SLOT_COUNT_V1_0; k++)
      p = fill(&rm->layers[(size_t)l * LORENS_SLOT_COUNT_V1_0 + k], p, &rng, slot_kind(k),
               s->random_norms);
  m->struct_size = sizeof *m;
  m->layer_stride = LORENS_SLOT_COUNT_V1_0;
  m->vocab_size = s->vocab;
  m->dim = s->dim;
  m->hidden_dim = s->hidden;
  m->n_layers = s->layers;
  m->n_heads = s->heads;
  m->n_kv_heads = s->kv_heads;
  m->head_dim = s->dim / s->heads;
  m->max_position_embeddings = 4096;
  m->rms_norm_eps = 1e-5f;
  m->rope_theta = 10000;
  m->tie_word_embeddings = s->tied;
  if (s->llama3_rope) {
    m->rope_scaling = LORENS_ROPE_LLAMA3;
    m->rope_factor = 4;
    m->rope_low_freq_factor = 1;
    m->rope_high_freq_factor = 4;
    m->rope_original_max_position_embeddings = 8;
  }
  m->layers = rm->layers;
  return LR_OK;
}

void lr_random_model_release(lr_random_model *rm) {
  free(rm->layers);
  free(rm->data);
  memset(rm, 0, sizeof *rm);
}
