/*
 * test-model.c: loading Hugging Face model directories into lorens_model.
 *
 * Each case writes a tiny LLaMA (hidden 8, intermediate 12, 2 layers, 2 heads, 1 kv head, head_dim
 * 4, vocab 16) into a scratch directory, varying one thing: dtype, sharding, tying, biases, or one
 * deliberate defect.  Every element of tensor k is ((k * 7 + i) % 32 - 16) / 8, exact in F16 and
 * BF16, so loaded values are compared exactly after conversion with the ABI's helpers.  Last, the
 * real stories260K from ../shared is loaded when it is there.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "../st-writer.h"
#include "../tap.h"
#include "../tmpdir.h"

enum { HIDDEN = 8, INTER = 12, LAYERS = 2, HEADS = 2, KV = 1, HD = 4, VOCAB = 16, MAX_T = 64 };

typedef struct mspec {
  const char *dtype;          /* "F32" (default), "F16", "BF16" */
  const char *model_type;     /* "llama" (default) */
  const char *config;         /* whole config.json text, replacing the generated one */
  const char *config_extra;   /* appended to the generated config's fields */
  bool tied, no_head, bias, o_bias, sharded, misalign, extra;
  bool biases_unused;         /* the biases written are ones the config does not call for */
  const char *omit;           /* a tensor left out */
  const char *reshape;        /* a tensor written with the wrong shape */
  const char *int_tensor;     /* a tensor written as I32 */
  bool shard_missing;         /* the second shard is not written */
  const char *index_wrong;    /* a tensor the index places in the wrong shard */
  const char *index_omit;     /* a tensor left out of the weight_map */
  const char *index;          /* whole index text, replacing the generated one */
} mspec;

typedef struct tdesc {
  char name[96];
  int ndim;
  int64_t shape[2];
} tdesc;

static char root[1024];

static float value_of(int k, int64_t i) {
  return (float)((k * 7 + i) % 32 - 16) / 8.0f;
}

static void add_desc(tdesc *t, int *n, const char *name, int ndim, int64_t d0, int64_t d1) {
  snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
  t[*n].ndim = ndim;
  t[*n].shape[0] = d0;
  t[*n].shape[1] = d1;
  (*n)++;
}

/* The tensors a spec's model has, in file order. */
static int list_tensors(const mspec *s, tdesc *t) {
  int n = 0;
  char name[96];
  static const struct { const char *suffix; int ndim; int64_t d0, d1; } per_layer[] = {
      {"input_layernorm.weight", 1, HIDDEN, 0}, {"self_attn.q_proj.weight", 2, HEADS * HD, HIDDEN},
      {"self_attn.k_proj.weight", 2, KV * HD, HIDDEN}, {"self_attn.v_proj.weight", 2, KV * HD, HIDDEN},
      {"self_attn.o_proj.weight", 2, HIDDEN, HEADS * HD}, {"mlp.gate_proj.weight", 2, INTER, HIDDEN},
      {"mlp.up_proj.weight", 2, INTER, HIDDEN}, {"mlp.down_proj.weight", 2, HIDDEN, INTER},
      {"post_attention_layernorm.weight", 1, HIDDEN, 0}};
  add_desc(t, &n, "model.embed_tokens.weight", 2, VOCAB, HIDDEN);
  for (int l = 0; l < LAYERS; l++) {
    for (size_t j = 0; j < LR_ARRAY_LEN(per_layer); j++) {
      snprintf(name, sizeof name, "model.layers.%d.%s", l, per_layer[j].suffix);
      add_desc(t, &n, name, per_layer[j].ndim, per_layer[j].d0, per_layer[j].d1);
    }
    if (s->bias) {
      const char *b[] = {"q", "k", "v"};
      for (int j = 0; j < 3; j++) {
        snprintf(name, sizeof name, "model.layers.%d.self_attn.%s_proj.bias", l, b[j]);
        add_desc(t, &n, name, 1, j == 0 ? HEADS * HD : KV * HD, 0);
      }
    }
    if (s->o_bias) {
      snprintf(name, sizeof name, "model.layers.%d.self_attn.o_proj.bias", l);
      add_desc(t, &n, name, 1, HIDDEN, 0);
    }
    if (s->extra) {
      snprintf(name, sizeof name, "model.layers.%d.self_attn.rotary_emb.inv_freq", l);
      add_desc(t, &n, name, 1, HD / 2, 0);
    }
  }
  add_desc(t, &n, "model.norm.weight", 1, HIDDEN, 0);
  if (!s->no_head)
    add_desc(t, &n, "lm_head.weight", 2, VOCAB, HIDDEN);
  return n;
}

static int64_t numel(const tdesc *t) {
  return t->ndim == 1 ? t->shape[0] : t->shape[0] * t->shape[1];
}

/* Adds tensor k to a builder in the spec's dtype (or its deliberate defect). */
static void add_tensor(const mspec *s, st_builder *b, const tdesc *t, int k) {
  const char *dtype = s->dtype ? s->dtype : "F32";
  int64_t n = numel(t), shape[2] = {t->shape[0], t->shape[1]};
  size_t el = strcmp(dtype, "F32") == 0 ? 4 : 2;
  unsigned char *bytes;
  if (s->int_tensor && strcmp(t->name, s->int_tensor) == 0)
    dtype = "I32", el = 4;
  if (s->reshape && strcmp(t->name, s->reshape) == 0) {
    /* Swap the dimensions of a matrix; a vector becomes a [1, n] matrix. */
    shape[0] = t->ndim == 2 ? t->shape[1] : 1;
    shape[1] = t->ndim == 2 ? t->shape[0] : t->shape[0];
  }
  bytes = malloc((size_t)n * el);
  for (int64_t i = 0; i < n; i++) {
    float v = value_of(k, i);
    uint16_t h = strcmp(dtype, "F16") == 0 ? st_f32_to_f16(v) : st_f32_to_bf16(v);
    if (el == 4)
      memcpy(bytes + i * 4, &v, 4);
    else
      memcpy(bytes + i * 2, &h, 2);
  }
  stb_add(b, t->name, dtype, s->reshape && strcmp(t->name, s->reshape) == 0 ? 2 : t->ndim, shape,
          bytes, (size_t)n * el);
  free(bytes);
}

static void write_config(const mspec *s, const char *dir) {
  char text[2048];
  if (s->config) {
    tmpdir_write(dir, "config.json", s->config);
    return;
  }
  snprintf(text, sizeof text,
           "{\"model_type\": \"%s\", \"hidden_size\": %d, \"intermediate_size\": %d,\n"
           " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,\n"
           " \"vocab_size\": %d, \"max_position_embeddings\": 32, \"rms_norm_eps\": 1e-06,\n"
           " \"tie_word_embeddings\": %s%s}\n",
           s->model_type ? s->model_type : "llama", HIDDEN, INTER, LAYERS, HEADS, KV, VOCAB,
           s->tied ? "true" : "false", s->config_extra ? s->config_extra : "");
  tmpdir_write(dir, "config.json", text);
}

static const char *shard_name(int k) {
  return k % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
}

static void write_index(const mspec *s, const char *dir, const tdesc *t, int n) {
  size_t cap = 8192, used = 0;
  char *text = malloc(cap);
  if (s->index) {
    tmpdir_write(dir, "model.safetensors.index.json", s->index);
    free(text);
    return;
  }
  used += (size_t)snprintf(text, cap, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
  for (int k = 0, first = 1; k < n; k++) {
    bool wrong = s->index_wrong && strcmp(t[k].name, s->index_wrong) == 0;
    if (s->index_omit && strcmp(t[k].name, s->index_omit) == 0)
      continue;
    used += (size_t)snprintf(text + used, cap - used, "%s\n  \"%s\": \"%s\"", first ? "" : ",",
                             t[k].name, shard_name(wrong ? k + 1 : k));
    first = 0;
  }
  snprintf(text + used, cap - used, "\n}}\n");
  tmpdir_write(dir, "model.safetensors.index.json", text);
  free(text);
}

/* Writes the weights: one file, or two shards with an index. */
static void write_weights(const mspec *s, const char *dir) {
  tdesc t[64];
  int n = list_tensors(s, t);
  st_builder b[2];
  char path[2048];
  stb_init(&b[0]);
  stb_init(&b[1]);
  if (s->misalign) /* one byte first puts every later tensor off its alignment */
    stb_add(&b[0], "a.pad", "U8", 1, (const int64_t[]){1}, "x", 1);
  for (int k = 0; k < n; k++)
    if (!(s->omit && strcmp(t[k].name, s->omit) == 0))
      add_tensor(s, &b[s->sharded ? k % 2 : 0], &t[k], k);
  if (s->sharded) {
    write_index(s, dir, t, n);
    stb_write(&b[0], tmpdir_path(path, sizeof path, dir, shard_name(0)));
    if (!s->shard_missing)
      stb_write(&b[1], tmpdir_path(path, sizeof path, dir, shard_name(1)));
  } else {
    stb_write(&b[0], tmpdir_path(path, sizeof path, dir, "model.safetensors"));
  }
  stb_release(&b[0]);
  stb_release(&b[1]);
}

/* A fresh model directory for a spec; returns its path (static buffer). */
static const char *make_model(const mspec *s) {
  static char dir[1100];
  static int serial;
  snprintf(dir, sizeof dir, "%s/m%d", root, ++serial);
  mkdir(dir, 0755);
  write_config(s, dir);
  write_weights(s, dir);
  return dir;
}

static float element(const lorens_tensor *t, int64_t i) {
  uint16_t h;
  float f;
  if (t->dtype == LORENS_DTYPE_F32) {
    memcpy(&f, (const char *)t->data + i * 4, 4);
    return f;
  }
  memcpy(&h, (const char *)t->data + i * 2, 2);
  return t->dtype == LORENS_DTYPE_F16 ? lorens_f16_to_f32(h) : lorens_bf16_to_f32(h);
}

/* Whether a bound tensor has the shape and every value tensor k of the spec was written with. */
static bool same_tensor(const lorens_tensor *lt, const tdesc *t, int k) {
  if (lt->data == NULL || (int)lt->ndim != t->ndim || lt->shape[0] != t->shape[0] ||
      (t->ndim == 2 && lt->shape[1] != t->shape[1]))
    return false;
  for (int64_t i = 0; i < numel(t); i++)
    if (element(lt, i) != value_of(k, i))
      return false;
  return true;
}

/* Where the loader should have put the tensor called name (an independent copy of the map). */
static const lorens_tensor *bound(const lr_model *m, const char *name) {
  static const char *const slots[LORENS_SLOT_COUNT_V1_0] = {
      [LORENS_SLOT_ATTN_NORM] = "input_layernorm.weight", [LORENS_SLOT_Q] = "self_attn.q_proj.weight",
      [LORENS_SLOT_K] = "self_attn.k_proj.weight", [LORENS_SLOT_V] = "self_attn.v_proj.weight",
      [LORENS_SLOT_O] = "self_attn.o_proj.weight", [LORENS_SLOT_GATE] = "mlp.gate_proj.weight",
      [LORENS_SLOT_UP] = "mlp.up_proj.weight", [LORENS_SLOT_DOWN] = "mlp.down_proj.weight",
      [LORENS_SLOT_MLP_NORM] = "post_attention_layernorm.weight",
      [LORENS_SLOT_Q_BIAS] = "self_attn.q_proj.bias", [LORENS_SLOT_K_BIAS] = "self_attn.k_proj.bias",
      [LORENS_SLOT_V_BIAS] = "self_attn.v_proj.bias", [LORENS_SLOT_O_BIAS] = "self_attn.o_proj.bias"};
  int layer, off = 0;
  if (strcmp(name, "model.embed_tokens.weight") == 0)
    return &m->abi.embed;
  if (strcmp(name, "model.norm.weight") == 0)
    return &m->abi.final_norm;
  if (strcmp(name, "lm_head.weight") == 0)
    return &m->abi.lm_head;
  if (sscanf(name, "model.layers.%d.%n", &layer, &off) == 1 && off > 0)
    for (int s = 0; s < LORENS_SLOT_COUNT_V1_0; s++)
      if (strcmp(name + off, slots[s]) == 0)
        return &m->abi.layers[layer * (int)m->abi.layer_stride + s];
  return NULL;
}

/* Loads a spec's model and checks that every tensor it should use is in place with its values. */
static void expect_loads(const mspec *s, const char *what) {
  tdesc t[64];
  int n = list_tensors(s, t), wrong = 0;
  int64_t params = 0;
  lr_model m;
  lr_err err;
  lr_err_init(&err);
  if (!tap_is_int(lr_model_load(make_model(s), &m, &err), LR_OK, "%s: loads", what)) {
    tap_diag("%s: %s", err.file, err.msg);
    return;
  }
  for (int k = 0; k < n; k++) {
    const lorens_tensor *lt = bound(&m, t[k].name);
    bool ignored = lt == NULL || (s->tied && strcmp(t[k].name, "lm_head.weight") == 0) ||
                   (s->biases_unused && strstr(t[k].name, ".bias") != NULL);
    if (ignored && lt != NULL && lt->data != NULL) {
      tap_diag("%s: tensor %s should be ignored", what, t[k].name);
      wrong++;
    } else if (!ignored && !same_tensor(lt, &t[k], k)) {
      tap_diag("%s: tensor %s differs", what, t[k].name);
      wrong++;
    }
    params += ignored ? 0 : numel(&t[k]);
  }
  tap_is_int(wrong, 0, "%s: every tensor has its shape and values", what);
  tap_is_int((long long)m.n_params, params, "%s: parameters counted", what);
  lr_model_release(&m);
}

static void test_loads(void) {
  mspec s = {0};
  expect_loads(&s, "F32, one file");
  s.dtype = "F16";
  expect_loads(&s, "F16, one file");
  s.dtype = "BF16";
  expect_loads(&s, "BF16, one file");
  s.sharded = true;
  expect_loads(&s, "BF16, two shards");
  s = (mspec){.dtype = "F16", .sharded = true, .tied = true, .no_head = true};
  expect_loads(&s, "F16, sharded, tied without lm_head");
  s = (mspec){.tied = true};
  expect_loads(&s, "tied, with an lm_head saved anyway");
  s = (mspec){.model_type = "qwen2", .bias = true};
  expect_loads(&s, "qwen2 with q/k/v biases");
  s = (mspec){.bias = true, .o_bias = true, .config_extra = ", \"attention_bias\": true"};
  expect_loads(&s, "llama with attention_bias");
  s = (mspec){.bias = true, .extra = true, .biases_unused = true};
  expect_loads(&s, "llama without attention_bias: saved biases and inv_freq ignored");
  s = (mspec){.misalign = true};
  expect_loads(&s, "F32 tensors misaligned in the file");
  s = (mspec){.tied = true, .int_tensor = "lm_head.weight"};
  expect_loads(&s, "an unused tensor may have any dtype");
}

static void test_abi_fields(void) {
  mspec s = {.dtype = "BF16", .sharded = true, .tied = true, .extra = true,
             .config_extra = ", \"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": "
                             "\"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
                             "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}"};
  lr_model m;
  lr_err err;
  size_t ignored = 0;
  lr_err_init(&err);
  if (!tap_is_int(lr_model_load(make_model(&s), &m, &err), LR_OK, "a sharded tied model loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  tap_ok(m.abi.struct_size == sizeof(lorens_model) && m.abi.layer_stride == LORENS_SLOT_COUNT_V1_0,
         "struct_size and layer_stride are set");
  tap_ok(m.abi.vocab_size == VOCAB && m.abi.dim == HIDDEN && m.abi.hidden_dim == INTER &&
         m.abi.n_layers == LAYERS && m.abi.n_heads == HEADS && m.abi.n_kv_heads == KV &&
         m.abi.head_dim == HD && m.abi.max_position_embeddings == 32, "sizes copied into the ABI");
  tap_ok(m.abi.rms_norm_eps == 1e-6f && m.abi.rope_theta == 500000.0f, "eps and rope_theta");
  tap_ok(m.abi.rope_scaling == LORENS_ROPE_LLAMA3 && m.abi.rope_factor == 8.0f &&
         m.abi.rope_low_freq_factor == 1.0f && m.abi.rope_high_freq_factor == 4.0f &&
         m.abi.rope_original_max_position_embeddings == 16, "llama3 rope scaling copied");
  tap_ok(m.abi.tie_word_embeddings && m.abi.lm_head.data == NULL, "a tied model has no lm_head");
  tap_ok(m.abi.layers[LORENS_SLOT_Q_BIAS].data == NULL &&
         m.abi.layers[LORENS_SLOT_COUNT_V1_0 + LORENS_SLOT_O_BIAS].data == NULL,
         "absent biases are NULL");
  tap_ok(m.n_files == 2 && m.index_name && strcmp(m.index_name, "model.safetensors.index.json") == 0,
         "two shards, and the index is named");
  tap_ok(m.n_files == 2 && strcmp(m.files[0].name, "model-00001-of-00002.safetensors") == 0,
         "shards in the order the index first names them");
  tap_is_int(m.dtypes, 1 << LORENS_DTYPE_BF16, "one dtype: BF16");
  for (size_t f = 0; f < m.n_files; f++)
    for (size_t i = 0; i < lr_st_count(m.files[f].st); i++)
      ignored += !m.files[f].used[i];
  tap_is_int((long long)ignored, 3, "the saved lm_head and two inv_freq tensors are unused");
  tap_is_int((long long)m.n_bytes, (long long)m.n_params * 2, "bytes are 2 per BF16 parameter");
  lr_model_release(&m);
  lr_model_release(&m);
  tap_ok(m.files == NULL && m.layers == NULL, "releasing twice is harmless");
}

static void test_misaligned(void) {
  mspec s = {.misalign = true};
  lr_model m;
  lr_err err;
  lr_err_init(&err);
  if (lr_model_load(make_model(&s), &m, &err) != LR_OK) {
    tap_ok(false, "a misaligned model loads: %s", err.msg);
    return;
  }
  tap_is_int((long long)m.n_copies, 2 + LAYERS * 9 + 1, "each misaligned F32 tensor is copied");
  tap_ok((uintptr_t)m.abi.embed.data % 4 == 0, "and the copies are aligned");
  lr_model_release(&m);
}

/* Loads a spec's model expecting failure with this status, message and file. */
static void expect_fail(const mspec *s, lr_status want, const char *file_suffix,
                        const char *needle, const char *what) {
  const char *dir = make_model(s);
  size_t nf = strlen(file_suffix);
  lr_model m;
  lr_err err;
  lr_err_init(&err);
  tap_is_str(lr_status_name(lr_model_load(dir, &m, &err)), lr_status_name(want), "%s: %s", what,
             lr_status_name(want));
  tap_like(err.msg, needle, "%s: message", what);
  if (!tap_ok(strlen(err.file) >= nf && strcmp(err.file + strlen(err.file) - nf, file_suffix) == 0,
              "%s: names %s", what, file_suffix))
    tap_diag("the error names '%s'", err.file);
  tap_ok(m.files == NULL && m.layers == NULL && m.dir == NULL, "%s: nothing is kept", what);
}

static void test_tensor_errors(void) {
  expect_fail(&(mspec){.omit = "model.layers.1.mlp.up_proj.weight"}, LR_ENOTFOUND,
              "/model.safetensors", "missing tensor 'model.layers.1.mlp.up_proj.weight'",
              "a missing layer tensor");
  expect_fail(&(mspec){.no_head = true}, LR_ENOTFOUND, "/model.safetensors",
              "missing tensor 'lm_head.weight'", "an untied model without lm_head");
  expect_fail(&(mspec){.model_type = "qwen2"}, LR_ENOTFOUND, "/model.safetensors",
              "missing tensor 'model.layers.0.self_attn.q_proj.bias'", "qwen2 without its biases");
  expect_fail(&(mspec){.bias = true, .config_extra = ", \"attention_bias\": true"}, LR_ENOTFOUND,
              "/model.safetensors", "missing tensor 'model.layers.0.self_attn.o_proj.bias'",
              "attention_bias without an o_proj bias");
  expect_fail(&(mspec){.reshape = "model.layers.0.self_attn.k_proj.weight"}, LR_EPARSE,
              "/model.safetensors", "tensor 'model.layers.0.self_attn.k_proj.weight' has shape "
              "[8, 4], expected [4, 8] = [num_key_value_heads*head_dim, hidden_size]",
              "a transposed projection");
  expect_fail(&(mspec){.reshape = "model.norm.weight"}, LR_EPARSE, "/model.safetensors",
              "tensor 'model.norm.weight' has shape [1, 8], expected [8] = [hidden_size]",
              "a norm of the wrong rank");
  expect_fail(&(mspec){.reshape = "model.embed_tokens.weight"}, LR_EPARSE, "/model.safetensors",
              "expected [16, 8] = [vocab_size, hidden_size]", "a transposed embedding");
  expect_fail(&(mspec){.config = "{\"model_type\": \"llama\", \"hidden_size\": 8, "
                                 "\"intermediate_size\": 12, \"num_hidden_layers\": 1000000000, "
                                 "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
                                 "\"vocab_size\": 16, \"max_position_embeddings\": 32, "
                                 "\"rms_norm_eps\": 1e-6}"},
              LR_ENOTFOUND, "/model.safetensors", "missing tensor "
              "'model.layers.2.input_layernorm.weight'", "a config with more layers than the files");
  expect_fail(&(mspec){.int_tensor = "model.layers.1.mlp.down_proj.weight"}, LR_EUNSUPPORTED,
              "/model.safetensors", "tensor 'model.layers.1.mlp.down_proj.weight' has dtype I32; "
              "lorens reads F32, F16 and BF16 weights", "an integer weight");
}

static void test_config_errors(void) {
  expect_fail(&(mspec){.config = "{\"model_type\": \"llama\", \"hidden_size\": 8, "
                                 "\"intermediate_size\": 12, \"num_hidden_layers\": \"2\"}"},
              LR_EPARSE, "/config.json", "field 'num_hidden_layers' must be a positive integer, "
              "got string", "a config field of the wrong type");
  expect_fail(&(mspec){.config_extra = ", \"rope_scaling\": {\"rope_type\": \"dynamic\", "
                                       "\"factor\": 2.0}"},
              LR_EUNSUPPORTED, "/config.json", "rope_scaling type 'dynamic' is not supported",
              "an unknown rope type");
  expect_fail(&(mspec){.config = "{\n\"model_type\": \"llama\"\n\"hidden_size\": 8}"}, LR_EPARSE,
              "/config.json", "not valid JSON", "a config that is not JSON");
  expect_fail(&(mspec){.config_extra = ", \"vocab_size\": 17"}, LR_EPARSE, "/config.json",
              "duplicate object key", "a config with a key twice");
}

static void test_shard_errors(void) {
  expect_fail(&(mspec){.sharded = true, .shard_missing = true}, LR_ENOTFOUND,
              "/model-00002-of-00002.safetensors",
              "shard named in model.safetensors.index.json: cannot open: No such file",
              "a shard file that is missing");
  expect_fail(&(mspec){.sharded = true, .index_wrong = "model.layers.0.mlp.gate_proj.weight"},
              LR_ENOTFOUND, "/model-00002-of-00002.safetensors",
              "missing tensor 'model.layers.0.mlp.gate_proj.weight', which "
              "model.safetensors.index.json places in this file", "an index naming the wrong shard");
  expect_fail(&(mspec){.sharded = true, .index_omit = "model.norm.weight"}, LR_ENOTFOUND,
              "/model.safetensors.index.json",
              "missing tensor 'model.norm.weight': the weight_map does not list it",
              "a tensor the index does not list");
  expect_fail(&(mspec){.sharded = true, .index = "{\"weight_map\": {\"model.norm.weight\": "
                                                 "\"../model.safetensors\"}}"},
              LR_EPARSE, "/model.safetensors.index.json", "weight_map: 'model.norm.weight' is in "
              "shard '../model.safetensors', which is not a file name in the model directory",
              "a shard outside the directory");
  expect_fail(&(mspec){.sharded = true, .index = "{\"weight_map\": {\"x\": 3}}"}, LR_EPARSE,
              "/model.safetensors.index.json", "weight_map: the shard of 'x' must be a string, got "
              "integer", "a shard name that is not a string");
  expect_fail(&(mspec){.sharded = true, .index = "{\"metadata\": {}}"}, LR_EPARSE,
              "/model.safetensors.index.json", "'weight_map' must be an object mapping tensor names "
              "to shard files, got nothing", "an index without weight_map");
  expect_fail(&(mspec){.sharded = true, .index = "{\"weight_map\": {}"}, LR_EPARSE,
              "/model.safetensors.index.json", "not valid JSON", "an index that is not JSON");
}

static void test_directory_errors(void) {
  char path[2048];
  lr_model m;
  lr_err err;
  lr_err_init(&err);
  tap_is_int(lr_model_load("/nonexistent/model", &m, &err), LR_ENOTFOUND, "a missing directory");
  tap_like(err.msg, "cannot open model directory: No such file", "says so");
  snprintf(path, sizeof path, "%s/plain-file", root);
  tmpdir_write(root, "plain-file", "x");
  lr_err_init(&err);
  tap_is_int(lr_model_load(path, &m, &err), LR_EINVAL, "a file instead of a directory");
  tap_like(err.msg, "not a directory", "says so");

  snprintf(path, sizeof path, "%s/empty", root);
  mkdir(path, 0755);
  lr_err_init(&err);
  tap_is_int(lr_model_load(path, &m, &err), LR_ENOTFOUND, "a directory without config.json");
  tap_like(err.file, "/empty/config.json", "names config.json");
  tmpdir_write(path, "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 8, "
               "\"intermediate_size\": 12, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
               "\"vocab_size\": 16, \"max_position_embeddings\": 32, \"rms_norm_eps\": 1e-6}");
  lr_err_init(&err);
  tap_is_int(lr_model_load(path, &m, &err), LR_ENOTFOUND, "a config without weights");
  tap_like(err.msg, "no model.safetensors or model.safetensors.index.json in the model directory",
           "says which files were looked for");
  tmpdir_write(path, "pytorch_model.bin", "PK");
  lr_err_init(&err);
  tap_is_int(lr_model_load(path, &m, &err), LR_EUNSUPPORTED, "PyTorch .bin weights only");
  tap_like(err.msg, "only PyTorch .bin weights here; lorens reads safetensors", "says so");
  tmpdir_write(path, "model.safetensors", "short");
  lr_err_init(&err);
  tap_is_int(lr_model_load(path, &m, &err), LR_EPARSE, "a truncated model.safetensors");
  tap_like(err.msg, "file is 5 bytes", "with the reader's message");
}

/* The real tiny LLaMA in ../shared: 260K parameters, F32, tied embeddings. */
static void test_stories260k(void) {
  const char *top = getenv("TOP_SRCDIR");
  char dir[2048];
  lr_model m;
  lr_err err;
  snprintf(dir, sizeof dir, "%s/../shared/models/stories260K", top ? top : ".");
  if (access(dir, R_OK) != 0) {
    tap_skip("../shared/models/stories260K is not there", "stories260K loads");
    return;
  }
  lr_err_init(&err);
  if (!tap_is_int(lr_model_load(dir, &m, &err), LR_OK, "stories260K loads")) {
    tap_diag("%s: %s", err.file, err.msg);
    return;
  }
  tap_ok(m.abi.dim == 64 && m.abi.n_layers == 5 && m.abi.n_heads == 8 && m.abi.n_kv_heads == 4 &&
         m.abi.vocab_size == 512 && m.abi.head_dim == 8 && m.abi.hidden_dim == 172,
         "stories260K: dim 64, 5 layers, 8 heads, 4 kv heads, vocab 512");
  tap_ok(m.abi.tie_word_embeddings && m.abi.lm_head.data == NULL, "stories260K: tied embeddings");
  tap_ok(m.dtypes == 1u << LORENS_DTYPE_F32 && m.abi.embed.dtype == LORENS_DTYPE_F32,
         "stories260K: F32");
  tap_is_int((long long)m.n_params, 260032, "stories260K: 260,032 parameters");
  tap_ok(m.n_copies == 0, "stories260K: nothing copied (the tensors are aligned in the file)");
  tap_ok(m.abi.layers[4 * LORENS_SLOT_COUNT_V1_0 + LORENS_SLOT_DOWN].shape[1] == 172,
         "stories260K: the last layer's down_proj is [64, 172]");
  lr_model_release(&m);
}

int main(void) {
  if (tmpdir_make(root, sizeof root, "model") != 0)
    tap_skip_all("cannot create a scratch directory");
  test_loads();
  test_abi_fields();
  test_misaligned();
  test_tensor_errors();
  test_config_errors();
  test_shard_errors();
  test_directory_errors();
  test_stories260k();
  tmpdir_remove(root);
  return tap_done();
}
