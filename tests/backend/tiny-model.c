/*
 * tiny-model.c: random tiny models and batches (see tiny-model.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "grad-check.h"
#include "tiny-model.h"

static size_t numel(const lorens_tensor *t) {
  return (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
}

static void shape(lorens_tensor *t, int64_t d0, int64_t d1) {
  t->dtype = LORENS_DTYPE_F32;
  t->ndim = d1 ? 2 : 1;
  t->shape[0] = d0;
  t->shape[1] = d1;
}

/* Shapes every tensor (data NULL); returns the total element count. */
static size_t shape_all(tiny_model *t, const tiny_spec *s) {
  lorens_model *m = &t->model;
  int q = s->heads * s->head_dim, kv = s->kv_heads * s->head_dim;
  size_t total = 0;
  shape(&m->embed, s->vocab, s->dim);
  shape(&m->final_norm, s->dim, 0);
  if (!s->tied)
    shape(&m->lm_head, s->vocab, s->dim);
  for (int l = 0; l < s->layers; l++) {
    lorens_tensor *lt = t->layers + (size_t)l * LORENS_SLOT_COUNT_V1_0;
    shape(&lt[LORENS_SLOT_ATTN_NORM], s->dim, 0);
    shape(&lt[LORENS_SLOT_MLP_NORM], s->dim, 0);
    shape(&lt[LORENS_SLOT_Q], q, s->dim);
    shape(&lt[LORENS_SLOT_K], kv, s->dim);
    shape(&lt[LORENS_SLOT_V], kv, s->dim);
    shape(&lt[LORENS_SLOT_O], s->dim, q);
    shape(&lt[LORENS_SLOT_GATE], s->hidden, s->dim);
    shape(&lt[LORENS_SLOT_UP], s->hidden, s->dim);
    shape(&lt[LORENS_SLOT_DOWN], s->dim, s->hidden);
    if (s->qkv_bias) {
      shape(&lt[LORENS_SLOT_Q_BIAS], q, 0);
      shape(&lt[LORENS_SLOT_K_BIAS], kv, 0);
      shape(&lt[LORENS_SLOT_V_BIAS], kv, 0);
    }
    for (int k = 0; k < LORENS_SLOT_COUNT_V1_0; k++)
      total += lt[k].ndim ? numel(&lt[k]) : 0;
  }
  return total + numel(&m->embed) + numel(&m->final_norm) + (s->tied ? 0 : numel(&m->lm_head));
}

static float *fill(lorens_tensor *t, float *p, uint64_t *rng, int is_norm) {
  size_t n;
  if (t->ndim == 0)
    return p;
  n = numel(t);
  for (size_t i = 0; i < n; i++)
    p[i] = (float)(is_norm ? 0.8 + 0.4 * test_uniform(rng) : 0.5 * (test_uniform(rng) - 0.5));
  t->data = p;
  return p + n;
}

void tiny_model_init(tiny_model *t, const tiny_spec *s) {
  lorens_model *m = &t->model;
  uint64_t rng = s->seed | 1;
  float *p;
  memset(t, 0, sizeof *t);
  t->layers = calloc((size_t)s->layers * LORENS_SLOT_COUNT_V1_0, sizeof *t->layers);
  t->data = malloc(shape_all(t, s) * sizeof *t->data);
  p = t->data;
  m->struct_size = sizeof *m;
  m->layer_stride = LORENS_SLOT_COUNT_V1_0;
  m->vocab_size = s->vocab;
  m->dim = s->dim;
  m->hidden_dim = s->hidden;
  m->n_layers = s->layers;
  m->n_heads = s->heads;
  m->n_kv_heads = s->kv_heads;
  m->head_dim = s->head_dim;
  m->max_position_embeddings = 64;
  m->rms_norm_eps = 1e-5f;
  m->rope_theta = 10000;
  if (s->llama3_rope) {
    m->rope_scaling = LORENS_ROPE_LLAMA3;
    m->rope_factor = 4;
    m->rope_low_freq_factor = 1;
    m->rope_high_freq_factor = 4;
    m->rope_original_max_position_embeddings = 8;
  }
  m->tie_word_embeddings = s->tied;
  p = fill(&m->embed, p, &rng, 0);
  p = fill(&m->final_norm, p, &rng, 1);
  p = fill(&m->lm_head, p, &rng, 0);
  for (int l = 0; l < s->layers; l++) {
    lorens_tensor *lt = t->layers + (size_t)l * LORENS_SLOT_COUNT_V1_0;
    for (int k = 0; k < LORENS_SLOT_COUNT_V1_0; k++)
      p = fill(&lt[k], p, &rng, k == LORENS_SLOT_ATTN_NORM || k == LORENS_SLOT_MLP_NORM);
  }
  m->layers = t->layers;
}

void tiny_model_release(tiny_model *t) {
  free(t->layers);
  free(t->data);
  memset(t, 0, sizeof *t);
}

void tiny_batch_init(tiny_batch *tb, int vocab, int n, const uint32_t *lengths,
                     const uint32_t *answer_pos, uint64_t seed) {
  uint64_t rng = seed | 1;
  uint32_t total = 0;
  memset(tb, 0, sizeof *tb);
  for (int i = 0; i < n; i++)
    total += lengths[i];
  tb->tokens = malloc(total * sizeof *tb->tokens);
  tb->offsets = malloc((size_t)(n + 1) * sizeof *tb->offsets);
  tb->answer_pos = malloc((size_t)n * sizeof *tb->answer_pos);
  tb->n_choices = malloc((size_t)n * sizeof *tb->n_choices);
  tb->choice_ids = calloc((size_t)n * 4, sizeof *tb->choice_ids);
  tb->labels = malloc((size_t)n * sizeof *tb->labels);
  tb->kl_target = calloc((size_t)n * (size_t)vocab, sizeof *tb->kl_target);
  tb->offsets[0] = 0;
  for (int i = 0; i < n; i++) {
    tb->offsets[i + 1] = tb->offsets[i] + lengths[i];
    tb->answer_pos[i] = answer_pos[i];
    tb->n_choices[i] = i == n - 1 ? 3 : 4;
    tb->labels[i] = (int32_t)(i % (int)tb->n_choices[i]);
    for (uint32_t c = 0; c < tb->n_choices[i]; c++)
      tb->choice_ids[i * 4 + (int)c] = (int32_t)((c * 7 + (uint32_t)i * 3 + 1) % (uint32_t)vocab);
  }
  for (uint32_t t = 0; t < total; t++)
    tb->tokens[t] = (int32_t)(test_uniform(&rng) * vocab);
  tb->b.n = (uint32_t)n;
  tb->b.max_choices = 4;
  tb->b.tokens = tb->tokens;
  tb->b.offsets = tb->offsets;
  tb->b.answer_pos = tb->answer_pos;
  tb->b.n_choices = tb->n_choices;
  tb->b.choice_ids = tb->choice_ids;
  tb->b.labels = tb->labels;
}

void tiny_batch_release(tiny_batch *tb) {
  free(tb->tokens);
  free(tb->offsets);
  free(tb->answer_pos);
  free(tb->n_choices);
  free(tb->choice_ids);
  free(tb->labels);
  free(tb->kl_target);
  memset(tb, 0, sizeof *tb);
}
