/*
 * model.c: loading a Hugging Face model directory (see model.h).
 *
 * Three steps: read config.json; open the weights (one file, or the shards an index names, each
 * once); bind every tensor the decoder needs to its place in lorens_model, checking its dtype
 * and shape against the config.  A loader struct carries the state of one load, so that each
 * step is a short function and an error anywhere leaves one cleanup path (lr_model_release).
 */
#include "compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/json-util.h"
#include "common/quant.h"
#include "model/gguf.h"
#include "model/model.h"

#define SINGLE_FILE "model.safetensors"
#define INDEX_FILE "model.safetensors.index.json"
/* A shard index lists one line per tensor: megabytes for the largest models, never more. */
#define INDEX_MAX_BYTES ((size_t)64 << 20)

typedef struct loader {
  lr_model *m;
  json_t *index;            /* the shard index, or NULL for a single file */
  const json_t *weight_map; /* in index */
  char *index_path;         /* from malloc, or NULL */
  lr_err *err;
} loader;

const char *lr_dtype_name(int32_t dtype) {
  int type = lr_quant_type_of_dtype(dtype);
  return type >= 0 ? lr_quant_name(type) : "?";
}

uint64_t lr_dtype_bit(int32_t dtype) {
  if (dtype >= LORENS_DTYPE_F32 && dtype <= LORENS_DTYPE_BF16)
    return (uint64_t)1 << dtype;
  if (dtype >= LORENS_DTYPE_GGML_BASE && dtype - LORENS_DTYPE_GGML_BASE < LR_QTYPE_LIMIT)
    return (uint64_t)1 << (3 + dtype - LORENS_DTYPE_GGML_BASE);
  return 0;
}

int32_t lr_dtype_of_bit(int i) {
  return i < 3 ? i : LORENS_DTYPE_GGML(i - 3);
}

/* dir + "/" + name, from malloc; NULL when out of memory. */
static char *join_path(const char *dir, const char *name) {
  size_t nd = strlen(dir), n = nd + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s%s%s", dir, nd > 0 && dir[nd - 1] == '/' ? "" : "/", name);
  return p;
}

static lr_status oom(const loader *L) {
  return lr_fail(L->err, LR_ENOMEM, "out of memory loading the model in '%s'", L->m->dir);
}

/* ---- finding the files -------------------------------------------------------------------------- */

static lr_status check_dir(const char *dir, lr_err *err) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return lr_fail_at(err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, dir, 0, 0, "cannot open model "
                      "directory: %s", strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return lr_fail_at(err, LR_EINVAL, dir, 0, 0, "not a directory: a model is a directory with "
                      "config.json and model.safetensors");
  return LR_OK;
}

static bool exists_in(const char *dir, const char *name, bool *oom_out) {
  struct stat st;
  char *path = join_path(dir, name);
  bool found = path != NULL && stat(path, &st) == 0;
  *oom_out = path == NULL;
  free(path);
  return found;
}

/* Maps one weights file and adds it to the model's list. */
static lr_status add_file(loader *L, const char *name) {
  lr_model *m = L->m;
  lr_model_file *f;
  lr_status rc;
  if (LR_GROW(m->files, m->files_cap, m->n_files + 1, NULL) != LR_OK)
    return oom(L);
  f = &m->files[m->n_files++];
  memset(f, 0, sizeof *f);
  if ((f->name = strdup(name)) == NULL || (f->path = join_path(m->dir, name)) == NULL)
    return oom(L);
  if ((rc = lr_st_open(f->path, &f->st, L->err)) != LR_OK)
    return rc;
  if ((f->used = calloc(lr_st_count(f->st) + 1, sizeof *f->used)) == NULL)
    return oom(L);
  return LR_OK;
}

static lr_model_file *file_named(const lr_model *m, const char *name) {
  for (size_t i = 0; i < m->n_files; i++)
    if (strcmp(m->files[i].name, name) == 0)
      return &m->files[i];
  return NULL;
}

/* A shard is named relative to the model directory; a path that leaves it is refused, so that an
 * index cannot make lorens open arbitrary files. */
static bool is_plain_file_name(const char *s) {
  return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Opens every shard the index names, each once, in the order of first mention. */
static lr_status open_shards(loader *L) {
  const char *tensor;
  json_t *shard;
  lr_status rc;
  json_object_foreach((json_t *)L->weight_map, tensor, shard) {
    if (!json_is_string(shard))
      return lr_fail_at(L->err, LR_EPARSE, L->index_path, 0, 0, "weight_map: the shard of '%s' "
                        "must be a string, got %s", tensor, lr_json_kind(shard));
    if (!is_plain_file_name(json_string_value(shard)))
      return lr_fail_at(L->err, LR_EPARSE, L->index_path, 0, 0, "weight_map: '%s' is in shard "
                        "'%s', which is not a file name in the model directory", tensor,
                        json_string_value(shard));
    if (file_named(L->m, json_string_value(shard)))
      continue;
    if ((rc = add_file(L, json_string_value(shard))) != LR_OK) {
      lr_err_prefix(L->err, "shard named in %s: ", INDEX_FILE);
      return rc;
    }
  }
  return LR_OK;
}

static lr_status open_index(loader *L) {
  lr_status rc;
  if ((L->m->index_name = strdup(INDEX_FILE)) == NULL ||
      (L->index_path = join_path(L->m->dir, INDEX_FILE)) == NULL)
    return oom(L);
  if ((rc = lr_json_load_object(L->index_path, INDEX_MAX_BYTES, &L->index, L->err)) != LR_OK)
    return rc;
  L->weight_map = json_object_get(L->index, "weight_map");
  if (!json_is_object(L->weight_map))
    return lr_fail_at(L->err, LR_EPARSE, L->index_path, 0, 0, "'weight_map' must be an object "
                      "mapping tensor names to shard files, got %s", lr_json_kind(L->weight_map));
  return open_shards(L);
}

/* model.safetensors wins over an index, as in transformers. */
static lr_status open_weights(loader *L) {
  bool no_mem = false;
  if (exists_in(L->m->dir, SINGLE_FILE, &no_mem))
    return add_file(L, SINGLE_FILE);
  if (!no_mem && exists_in(L->m->dir, INDEX_FILE, &no_mem))
    return open_index(L);
  if (no_mem)
    return oom(L);
  if (exists_in(L->m->dir, "pytorch_model.bin", &no_mem) ||
      exists_in(L->m->dir, "pytorch_model.bin.index.json", &no_mem))
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->m->dir, 0, 0, "only PyTorch .bin weights "
                      "here; lorens reads safetensors (convert with transformers' "
                      "save_pretrained(..., safe_serialization=True))");
  return lr_fail_at(L->err, LR_ENOTFOUND, L->m->dir, 0, 0, "no %s or %s in the model directory",
                    SINGLE_FILE, INDEX_FILE);
}

/* ---- binding tensors -------------------------------------------------------------------------- */

/* The sizes a tensor's dimensions are made of, named as config.json names them. */
enum dim { DIM, Q_OUT, KV_OUT, HIDDEN, VOCAB };

static const char *const dim_names[] = {
    [DIM] = "hidden_size",
    [Q_OUT] = "num_attention_heads*head_dim",
    [KV_OUT] = "num_key_value_heads*head_dim",
    [HIDDEN] = "intermediate_size",
    [VOCAB] = "vocab_size",
};

static int64_t dim_value(const lr_model_config *c, enum dim d) {
  switch (d) {
  case DIM: return c->hidden_size;
  case Q_OUT: return (int64_t)c->num_attention_heads * c->head_dim;
  case KV_OUT: return (int64_t)c->num_key_value_heads * c->head_dim;
  case HIDDEN: return c->intermediate_size;
  case VOCAB: return c->vocab_size;
  }
  return 0;
}

/* What a tensor must look like: rank 1 ([d0]) or 2 ([d0, d1]). */
typedef struct spec {
  uint32_t ndim;
  enum dim d0, d1;
} spec;

static const struct slot_def {
  int slot;
  const char *suffix;
  spec shape;
} slot_defs[] = {
    {LORENS_SLOT_ATTN_NORM, "input_layernorm.weight", {1, DIM, DIM}},
    {LORENS_SLOT_Q, "self_attn.q_proj.weight", {2, Q_OUT, DIM}},
    {LORENS_SLOT_K, "self_attn.k_proj.weight", {2, KV_OUT, DIM}},
    {LORENS_SLOT_V, "self_attn.v_proj.weight", {2, KV_OUT, DIM}},
    {LORENS_SLOT_O, "self_attn.o_proj.weight", {2, DIM, Q_OUT}},
    {LORENS_SLOT_GATE, "mlp.gate_proj.weight", {2, HIDDEN, DIM}},
    {LORENS_SLOT_UP, "mlp.up_proj.weight", {2, HIDDEN, DIM}},
    {LORENS_SLOT_DOWN, "mlp.down_proj.weight", {2, DIM, HIDDEN}},
    {LORENS_SLOT_MLP_NORM, "post_attention_layernorm.weight", {1, DIM, DIM}},
    {LORENS_SLOT_Q_BIAS, "self_attn.q_proj.bias", {1, Q_OUT, Q_OUT}},
    {LORENS_SLOT_K_BIAS, "self_attn.k_proj.bias", {1, KV_OUT, KV_OUT}},
    {LORENS_SLOT_V_BIAS, "self_attn.v_proj.bias", {1, KV_OUT, KV_OUT}},
    {LORENS_SLOT_O_BIAS, "self_attn.o_proj.bias", {1, DIM, DIM}},
};

/* Finds a tensor the model needs; a missing one is an error naming where it was looked for. */
static lr_status find_tensor(const loader *L, const char *name, lr_model_file **file,
                             const lr_st_tensor **t) {
  const char *shard;
  if (L->weight_map == NULL) {
    *file = &L->m->files[0];
    if ((*t = lr_st_find((*file)->st, name)) == NULL)
      return lr_fail_at(L->err, LR_ENOTFOUND, (*file)->path, 0, 0, "missing tensor '%s'", name);
    return LR_OK;
  }
  shard = json_string_value(json_object_get(L->weight_map, name));
  if (shard == NULL)
    return lr_fail_at(L->err, LR_ENOTFOUND, L->index_path, 0, 0, "missing tensor '%s': the "
                      "weight_map does not list it", name);
  *file = file_named(L->m, shard); /* open_shards opened every shard the map names */
  if ((*t = lr_st_find((*file)->st, name)) == NULL)
    return lr_fail_at(L->err, LR_ENOTFOUND, (*file)->path, 0, 0, "missing tensor '%s', which %s "
                      "places in this file", name, INDEX_FILE);
  return LR_OK;
}

static lr_status check_shape(const loader *L, const lr_model_file *file, const lr_st_tensor *t,
                             spec s) {
  const lr_model_config *c = &L->m->config;
  int64_t want[2] = {dim_value(c, s.d0), dim_value(c, s.d1)};
  char got_s[256], want_s[64], names[96];
  if (t->ndim == s.ndim && t->shape[0] == want[0] && (s.ndim == 1 || t->shape[1] == want[1]))
    return LR_OK;
  lr_shape_format(got_s, sizeof got_s, t->shape, t->ndim);
  lr_shape_format(want_s, sizeof want_s, want, s.ndim);
  if (s.ndim == 1)
    snprintf(names, sizeof names, "[%s]", dim_names[s.d0]);
  else
    snprintf(names, sizeof names, "[%s, %s]", dim_names[s.d0], dim_names[s.d1]);
  return lr_fail_at(L->err, LR_EPARSE, file->path, 0, 0, "tensor '%s' has shape %s, expected %s "
                    "= %s", t->name, got_s, want_s, names);
}

static lr_status check_dtype(const loader *L, const lr_model_file *file, const lr_st_tensor *t,
                             int32_t *out) {
  switch (t->dtype) {
  case LR_ST_F32: *out = LORENS_DTYPE_F32; return LR_OK;
  case LR_ST_F16: *out = LORENS_DTYPE_F16; return LR_OK;
  case LR_ST_BF16: *out = LORENS_DTYPE_BF16; return LR_OK;
  default:
    return lr_fail_at(L->err, LR_EUNSUPPORTED, file->path, 0, 0, "tensor '%s' has dtype %s; "
                      "lorens reads F32, F16 and BF16 weights", t->name,
                      lr_st_dtype_name(t->dtype));
  }
}

/* The tensor's bytes as a backend may read them: in place when aligned to the element size, as
 * every writer we know of arranges, otherwise an aligned copy that the model owns. */
static lr_status place(loader *L, const lr_st_tensor *t, const void **out) {
  lr_model *m = L->m;
  void *copy;
  if ((uintptr_t)t->data % lr_st_dtype_size(t->dtype) == 0) {
    *out = t->data;
    return LR_OK;
  }
  if (LR_GROW(m->copies, m->copies_cap, m->n_copies + 1, NULL) != LR_OK)
    return oom(L);
  if ((copy = malloc(t->nbytes ? t->nbytes : 1)) == NULL)
    return oom(L);
  memcpy(copy, t->data, t->nbytes);
  m->copies[m->n_copies++] = copy;
  *out = copy;
  return LR_OK;
}

static lr_status bind(loader *L, const char *name, spec s, lorens_tensor *out) {
  lr_model_file *file;
  const lr_st_tensor *t;
  lr_status rc;
  if ((rc = find_tensor(L, name, &file, &t)) != LR_OK ||
      (rc = check_dtype(L, file, t, &out->dtype)) != LR_OK ||
      (rc = check_shape(L, file, t, s)) != LR_OK || (rc = place(L, t, &out->data)) != LR_OK)
    return rc;
  out->ndim = t->ndim;
  out->shape[0] = t->shape[0];
  out->shape[1] = t->ndim == 2 ? t->shape[1] : 0;
  file->used[t - lr_st_get(file->st, 0)] = true;
  L->m->n_params += t->numel;
  L->m->n_bytes += t->nbytes;
  L->m->dtypes |= lr_dtype_bit(out->dtype);
  return LR_OK;
}

static bool slot_wanted(const lr_model_config *c, int slot) {
  if (slot == LORENS_SLOT_Q_BIAS || slot == LORENS_SLOT_K_BIAS || slot == LORENS_SLOT_V_BIAS)
    return c->qkv_bias;
  if (slot == LORENS_SLOT_O_BIAS)
    return c->o_bias;
  return true;
}

/* Makes room for n layers.  The table grows as layers are found rather than being sized from
 * the config up front, so that a config claiming a billion layers ends in "missing tensor" at
 * the first absent layer, not in an allocation failure. */
static lr_status grow_layers(loader *L, int32_t n) {
  lr_model *m = L->m;
  size_t want = (size_t)n * LORENS_SLOT_COUNT_V1_0, cap = m->layers_cap ? m->layers_cap : 16;
  lorens_tensor *grown;
  if (want <= m->layers_cap)
    return LR_OK;
  while (cap < want)
    cap *= 2;
  if ((grown = realloc(m->layers, cap * sizeof *grown)) == NULL)
    return oom(L);
  memset(grown + m->layers_cap, 0, (cap - m->layers_cap) * sizeof *grown);
  m->layers = grown;
  m->layers_cap = cap;
  return LR_OK;
}

static lr_status bind_layer(loader *L, int32_t layer) {
  lorens_tensor *slots = &L->m->layers[(size_t)layer * LORENS_SLOT_COUNT_V1_0];
  char name[128];
  lr_status rc;
  for (size_t i = 0; i < LR_ARRAY_LEN(slot_defs); i++) {
    if (!slot_wanted(&L->m->config, slot_defs[i].slot))
      continue;
    snprintf(name, sizeof name, "model.layers.%d.%s", (int)layer, slot_defs[i].suffix);
    if ((rc = bind(L, name, slot_defs[i].shape, &slots[slot_defs[i].slot])) != LR_OK)
      return rc;
  }
  return LR_OK;
}

static lr_status bind_all(loader *L) {
  lr_model *m = L->m;
  lr_status rc;
  const spec embed = {2, VOCAB, DIM}, norm = {1, DIM, DIM};
  if ((rc = bind(L, "model.embed_tokens.weight", embed, &m->abi.embed)) != LR_OK ||
      (rc = bind(L, "model.norm.weight", norm, &m->abi.final_norm)) != LR_OK)
    return rc;
  /* A tied head is the embedding; transformers ignores a saved lm_head then, and so do we. */
  if (!m->config.tie_word_embeddings &&
      (rc = bind(L, "lm_head.weight", embed, &m->abi.lm_head)) != LR_OK)
    return rc;
  for (int32_t l = 0; l < m->config.num_hidden_layers; l++)
    if ((rc = grow_layers(L, l + 1)) != LR_OK || (rc = bind_layer(L, l)) != LR_OK)
      return rc;
  return LR_OK;
}

/* ---- the model as a whole ------------------------------------------------------------------------ */

void lr_model_fill_abi(lr_model *m) {
  const lr_model_config *c = &m->config;
  lorens_model *a = &m->abi;
  a->struct_size = sizeof *a;
  a->layer_stride = LORENS_SLOT_COUNT_V1_0;
  a->vocab_size = c->vocab_size;
  a->dim = c->hidden_size;
  a->hidden_dim = c->intermediate_size;
  a->n_layers = c->num_hidden_layers;
  a->n_heads = c->num_attention_heads;
  a->n_kv_heads = c->num_key_value_heads;
  a->head_dim = c->head_dim;
  a->max_position_embeddings = c->max_position_embeddings;
  a->rms_norm_eps = (float)c->rms_norm_eps;
  a->rope_theta = (float)c->rope_theta;
  a->rope_scaling = c->rope_scaling;
  a->rope_factor = (float)c->rope_factor;
  a->rope_low_freq_factor = (float)c->rope_low_freq_factor;
  a->rope_high_freq_factor = (float)c->rope_high_freq_factor;
  a->rope_original_max_position_embeddings = c->rope_original_max_position_embeddings;
  a->tie_word_embeddings = c->tie_word_embeddings;
  a->layers = m->layers;
}

static lr_status load(loader *L, const char *dir) {
  char *config_path;
  lr_status rc;
  if ((rc = check_dir(dir, L->err)) != LR_OK)
    return rc;
  if ((L->m->dir = strdup(dir)) == NULL || (config_path = join_path(dir, "config.json")) == NULL)
    return lr_fail(L->err, LR_ENOMEM, "out of memory loading the model in '%s'", dir);
  rc = lr_model_config_load(config_path, &L->m->config, L->err);
  free(config_path);
  if (rc != LR_OK || (rc = open_weights(L)) != LR_OK || (rc = bind_all(L)) != LR_OK)
    return rc;
  lr_model_fill_abi(L->m);
  return LR_OK;
}

lr_status lr_model_load(const char *dir, lr_model *out, lr_err *err) {
  loader L = {out, NULL, NULL, NULL, err};
  lr_status rc;
  if (lr_gguf_path_is_gguf(dir))
    return lr_model_load_gguf(dir, out, err);
  memset(out, 0, sizeof *out);
  rc = load(&L, dir);
  json_decref(L.index);
  free(L.index_path);
  if (rc != LR_OK)
    lr_model_release(out);
  return rc;
}

void lr_model_release(lr_model *m) {
  for (size_t i = 0; i < m->n_files; i++) {
    lr_st_close(m->files[i].st);
    free(m->files[i].used);
    free(m->files[i].name);
    free(m->files[i].path);
  }
  for (size_t i = 0; i < m->n_copies; i++)
    free(m->copies[i]);
  lr_gguf_close(m->gguf);
  free(m->copies);
  free(m->files);
  free(m->layers);
  free(m->index_name);
  free(m->dir);
  memset(m, 0, sizeof *m);
}
