/*
 * pretrain-model.c: the flat model of `lorens pretrain`: layout, initialisation, Hugging Face files.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/file-util.h"
#include "base/json-util.h"
#include "base/rng.h"
#include "model/safetensors-write.h"
#include "pretrain/pretrain-model.h"

/* Per layer, in lorens_layer_slot order up to the biases (which a pretrained model has none of). */
static const char *const layer_names[LORENS_SLOT_Q_BIAS] = {
    "input_layernorm",  "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
    "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj",
    "post_attention_layernorm"};

static void add(lr_flat_model *m, const char *name, int64_t d0, int64_t d1) {
  lr_flat_tensor *t = &m->tensors[m->n_tensors++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = d1 ? 2 : 1;
  t->shape[0] = d0;
  t->shape[1] = d1;
  t->off = m->n_params;
  t->count = (size_t)d0 * (size_t)(d1 ? d1 : 1);
  m->n_params += t->count;
}

static lorens_tensor view(const lr_flat_model *m, size_t i) {
  const lr_flat_tensor *t = &m->tensors[i];
  lorens_tensor v = {m->data + t->off, LORENS_DTYPE_F32, t->ndim, {t->shape[0], t->shape[1]}};
  return v;
}

/* A standard normal draw (Box-Muller on the portable RNG, so every machine draws the same). */
static double normal(lr_rng *r) {
  double u = lr_rng_uniform(r), v = lr_rng_uniform(r);
  return sqrt(-2.0 * log(1.0 - u)) * cos(2 * M_PI * v);
}

lr_status lr_flat_model_init(lr_flat_model *m, const lr_pretrain_config *c, int vocab,
                             lr_err *err) {
  int64_t D = c->dim, F = c->hidden, hd = c->dim / c->heads, q = c->heads * hd,
          kv = c->kv_heads * hd;
  int64_t dims[LORENS_SLOT_Q_BIAS][2] = {{D, 0}, {q, D},  {kv, D}, {kv, D}, {D, q},
                                         {F, D}, {F, D}, {D, F},  {D, 0}};
  lr_rng rng;
  size_t i = 0;
  memset(m, 0, sizeof *m);
  m->tensors = calloc((size_t)c->layers * LORENS_SLOT_Q_BIAS + 3, sizeof *m->tensors);
  m->layers = calloc((size_t)c->layers * LORENS_SLOT_COUNT_V1_0, sizeof *m->layers);
  if (!m->tensors || !m->layers)
    goto oom;
  add(m, "model.embed_tokens.weight", vocab, D);
  for (long l = 0; l < c->layers; l++) {
    for (int s = 0; s < LORENS_SLOT_Q_BIAS; s++) {
      char name[64];
      snprintf(name, sizeof name, "model.layers.%ld.%s.weight", l, layer_names[s]);
      add(m, name, dims[s][0], dims[s][1]);
    }
  }
  add(m, "model.norm.weight", D, 0);
  if (!c->tie_embeddings)
    add(m, "lm_head.weight", vocab, D);
  m->data = malloc(m->n_params * sizeof *m->data);
  if (m->data == NULL)
    goto oom;
  lr_rng_seed(&rng, lr_seed_mix((uint64_t)c->seed, 0x696e6974 /* "init" */));
  for (size_t t = 0; t < m->n_tensors; t++) {
    float *p = m->data + m->tensors[t].off;
    for (size_t j = 0; j < m->tensors[t].count; j++)
      p[j] = m->tensors[t].ndim == 1 ? 1.0f : (float)(c->init_std * normal(&rng));
  }
  /* The ABI view. */
  m->abi.struct_size = sizeof m->abi;
  m->abi.layer_stride = LORENS_SLOT_COUNT_V1_0;
  m->abi.vocab_size = vocab;
  m->abi.dim = (int32_t)D;
  m->abi.hidden_dim = (int32_t)F;
  m->abi.n_layers = (int32_t)c->layers;
  m->abi.n_heads = (int32_t)c->heads;
  m->abi.n_kv_heads = (int32_t)c->kv_heads;
  m->abi.head_dim = (int32_t)hd;
  m->abi.max_position_embeddings = (int32_t)c->context;
  m->abi.rms_norm_eps = (float)c->norm_eps;
  m->abi.rope_theta = (float)c->rope_theta;
  m->abi.rope_scaling = LORENS_ROPE_NONE;
  m->abi.tie_word_embeddings = c->tie_embeddings;
  m->abi.embed = view(m, i++);
  for (long l = 0; l < c->layers; l++)
    for (int s = 0; s < LORENS_SLOT_Q_BIAS; s++)
      m->layers[l * LORENS_SLOT_COUNT_V1_0 + s] = view(m, i++);
  m->abi.final_norm = view(m, i++);
  if (!c->tie_embeddings)
    m->abi.lm_head = view(m, i++);
  m->abi.layers = m->layers;
  return LR_OK;
oom:
  lr_flat_model_release(m);
  return lr_fail(err, LR_ENOMEM, "out of memory for the model");
}

void lr_flat_model_release(lr_flat_model *m) {
  free(m->tensors);
  free(m->layers);
  free(m->data);
  memset(m, 0, sizeof *m);
}

/* transformers' LlamaConfig fields, so that LlamaForCausalLM.from_pretrained builds this model. */
static json_t *hf_config(const lr_flat_model *m, const lr_pretrain_config *c, int32_t bos,
                         int32_t eos) {
  json_t *j = json_object();
  json_object_set_new(j, "architectures", json_pack("[s]", "LlamaForCausalLM"));
  json_object_set_new(j, "model_type", json_string("llama"));
  json_object_set_new(j, "vocab_size", json_integer(m->abi.vocab_size));
  json_object_set_new(j, "hidden_size", json_integer(c->dim));
  json_object_set_new(j, "intermediate_size", json_integer(c->hidden));
  json_object_set_new(j, "num_hidden_layers", json_integer(c->layers));
  json_object_set_new(j, "num_attention_heads", json_integer(c->heads));
  json_object_set_new(j, "num_key_value_heads", json_integer(c->kv_heads));
  json_object_set_new(j, "head_dim", json_integer(c->dim / c->heads));
  json_object_set_new(j, "max_position_embeddings", json_integer(c->context));
  json_object_set_new(j, "rms_norm_eps", json_real(c->norm_eps));
  json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
  json_object_set_new(j, "hidden_act", json_string("silu"));
  json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tie_embeddings));
  json_object_set_new(j, "attention_bias", json_false());
  json_object_set_new(j, "mlp_bias", json_false());
  json_object_set_new(j, "initializer_range", json_real(c->init_std));
  json_object_set_new(j, "bos_token_id", bos >= 0 ? json_integer(bos) : json_null());
  json_object_set_new(j, "eos_token_id", eos >= 0 ? json_integer(eos) : json_null());
  json_object_set_new(j, "torch_dtype", json_string("float32"));
  return j;
}

lr_status lr_flat_model_write_hf(const lr_flat_model *m, const lr_pretrain_config *c,
                                 const char *dir, int32_t bos, int32_t eos, lr_err *err) {
  lr_st_out *out = calloc(m->n_tensors, sizeof *out);
  char *path = NULL;
  json_t *cfg = NULL;
  lr_status rc;
  static const char *const keys[] = {"format", "producer"};
  static const char *const values[] = {"pt", "lorens pretrain"};
  if (out == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n_tensors; i++) {
    out[i].name = m->tensors[i].name;
    out[i].dtype = LR_ST_F32;
    out[i].ndim = m->tensors[i].ndim;
    out[i].shape[0] = m->tensors[i].shape[0];
    out[i].shape[1] = m->tensors[i].shape[1];
    out[i].data = m->data + m->tensors[i].off;
  }
  rc = lr_path_join(dir, "model.safetensors", &path, err);
  if (rc == LR_OK)
    rc = lr_st_write(path, out, m->n_tensors, keys, values, 2, err);
  free(path);
  path = NULL;
  free(out);
  if (rc == LR_OK)
    rc = lr_path_join(dir, "config.json", &path, err);
  if (rc == LR_OK) {
    cfg = hf_config(m, c, bos, eos);
    rc = cfg ? lr_json_write_atomic(path, cfg, err)
             : lr_fail(err, LR_ENOMEM, "out of memory");
  }
  json_decref(cfg);
  free(path);
  return rc;
}
