/*
 * model-gguf.c: loading a GGUF file (llama.cpp's format) into lorens_model (see model.h).
 *
 * Three steps, as for a directory: the config from the `{arch}.*` keys (architectures llama and
 * qwen2); the tensors by llama.cpp's names, each checked against the config; and the lorens_model
 * filled from them.  Keys, names and the q/k permutation: ../shared/research/gguf.md sections 3
 * and 4, and docs/gguf.md.
 *
 * The frozen base stays in its stored type: the file stays mapped (lr_model.gguf) and each
 * matrix reaches the backend as F32, F16, BF16 or LORENS_DTYPE_GGML(type) pointing into the
 * mapping; a backend that multiplies quant blocks itself (takes_dtype) expands tiles of them, and
 * backend-session.c converts for any other.  Copies are made only of llama's q/k matrices (their
 * rows reordered, below), of a 1-D tensor stored quantized (dequantized to F32: the backends read
 * vectors as floats) and of 16/32-bit data that is not aligned to its element size.
 *
 * llama.cpp's converter permutes the q and k rows of `llama` models for its interleaved RoPE;
 * lorens (like transformers) rotates the halves of each head, so the rows are put back at load:
 * within each head (of the KV heads for k), GGUF row h*hd + 2i + j is HF row h*hd + j*(hd/2) + i.
 * Whole rows move, so quantized rows are copied block for block into their HF row.  LoRA
 * matrices then live in HF's row order and export to PEFT unchanged.  qwen2 is not permuted.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "common/quant.h"
#include "model/gguf.h"
#include "model/model.h"

/* The state of one load: one cleanup path (lr_model_load_gguf) for every failure. */
typedef struct gloader {
  lr_model *m;
  lr_gguf_file *f;
  const char *path;
  const char *arch; /* general.architecture, owned by f */
  bool unpermute;   /* llama: undo the converter's q/k row permutation */
  lr_err *err;
} gloader;

static lr_status goom(const gloader *L) {
  return lr_fail(L->err, LR_ENOMEM, "out of memory loading the model '%s'", L->path);
}

/* ---- the config ---------------------------------------------------------------------------------- */

/* "llama.attention.head_count" from the suffix "attention.head_count". */
static void arch_key(const gloader *L, const char *suffix, char *key, size_t n) {
  snprintf(key, n, "%s.%s", L->arch, suffix);
}

/* A size or count in [1, LR_CONFIG_INT_MAX]: a scalar, or a per-layer array whose elements are all
 * equal (llama.cpp writes arrays for models whose layers differ, which lorens does not run).
 * *out keeps dflt when the key is absent and not required. */
static lr_status get_count(const gloader *L, const char *suffix, bool required, int32_t dflt,
                           int32_t *out) {
  char key[160];
  const lr_gguf_kv *kv;
  int64_t v, first = 0;
  lr_status rc;
  arch_key(L, suffix, key, sizeof key);
  *out = dflt;
  if ((kv = lr_gguf_find_kv(L->f, key)) == NULL)
    return required ? lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "missing key '%s'", key)
                    : LR_OK;
  if (kv->type != LR_GGUF_ARRAY) {
    if ((rc = lr_gguf_kv_int(L->f, kv, &v, L->err)) != LR_OK)
      return rc;
  } else {
    if (kv->count == 0)
      return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "key '%s' is an empty array", key);
    for (uint64_t i = 0; i < kv->count; i++) {
      if ((rc = lr_gguf_array_int(L->f, kv, i, &v, L->err)) != LR_OK)
        return rc;
      if (i == 0)
        first = v;
      else if (v != first)
        return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "key '%s' differs between "
                          "layers (%lld in layer 0, %lld in layer %llu): layers of different "
                          "shapes are not supported", key, (long long)first, (long long)v,
                          (unsigned long long)i);
    }
    v = first;
  }
  if (v < 1 || v > LR_CONFIG_INT_MAX)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "key '%s' must be a positive integer of "
                      "at most %d, got %lld", key, LR_CONFIG_INT_MAX, (long long)v);
  *out = (int32_t)v;
  return LR_OK;
}

/* A finite number > 0; dflt when absent and not required. */
static lr_status get_positive(const gloader *L, const char *suffix, bool required, double dflt,
                              double *out) {
  char key[160];
  lr_status rc;
  arch_key(L, suffix, key, sizeof key);
  *out = dflt;
  if (lr_gguf_find_kv(L->f, key) == NULL)
    return required ? lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "missing key '%s'", key)
                    : LR_OK;
  if ((rc = lr_gguf_get_float(L->f, key, out, L->err)) != LR_OK)
    return rc;
  if (!(*out > 0) || !isfinite(*out))
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "key '%s' must be a positive number, "
                      "got %g", key, *out);
  return LR_OK;
}

static lr_status read_arch(gloader *L, lr_model_config *c) {
  lr_status rc = lr_gguf_get_str(L->f, "general.architecture", &L->arch, NULL, L->err);
  if (rc != LR_OK)
    return rc;
  if (strcmp(L->arch, "llama") == 0)
    c->arch = LR_ARCH_LLAMA;
  else if (strcmp(L->arch, "qwen2") == 0)
    c->arch = LR_ARCH_QWEN2;
  else
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "GGUF architecture '%s' is not "
                      "supported (supported: llama, qwen2)", L->arch);
  L->unpermute = c->arch == LR_ARCH_LLAMA;
  return LR_OK;
}

/* head_dim: attention.key_length (and value_length, which must agree) or embedding_length /
 * head_count; RoPE must rotate the whole head (rope.dimension_count, when given). */
static lr_status read_heads(const gloader *L, lr_model_config *c) {
  int32_t key_len, value_len, rot;
  lr_status rc;
  if ((rc = get_count(L, "attention.head_count", true, 0, &c->num_attention_heads)) != LR_OK ||
      (rc = get_count(L, "attention.head_count_kv", false, c->num_attention_heads,
                      &c->num_key_value_heads)) != LR_OK ||
      (rc = get_count(L, "attention.key_length", false, 0, &key_len)) != LR_OK ||
      (rc = get_count(L, "attention.value_length", false, key_len, &value_len)) != LR_OK ||
      (rc = get_count(L, "rope.dimension_count", false, 0, &rot)) != LR_OK)
    return rc;
  if (c->num_attention_heads % c->num_key_value_heads != 0)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "%s.attention.head_count (%d) must be a "
                      "multiple of %s.attention.head_count_kv (%d)", L->arch,
                      c->num_attention_heads, L->arch, c->num_key_value_heads);
  if (key_len != value_len)
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "%s.attention.key_length (%d) and "
                      "value_length (%d) differ: not supported", L->arch, key_len, value_len);
  if (key_len == 0 && c->hidden_size % c->num_attention_heads != 0)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "%s.embedding_length (%d) is not "
                      "divisible by %s.attention.head_count (%d), and no attention.key_length is "
                      "given", L->arch, c->hidden_size, L->arch, c->num_attention_heads);
  c->head_dim = key_len ? key_len : c->hidden_size / c->num_attention_heads;
  if (c->head_dim % 2 != 0)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "the head dimension (%d) must be even: "
                      "rotary embeddings rotate pairs of dimensions", c->head_dim);
  if (rot != 0 && rot != c->head_dim)
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "%s.rope.dimension_count (%d) is "
                      "not the head dimension (%d): partial rotary embeddings are not supported",
                      L->arch, rot, c->head_dim);
  if ((int64_t)c->num_attention_heads * c->head_dim > LR_CONFIG_INT_MAX)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "head_count * head dimension (%d * %d) "
                      "is too large", c->num_attention_heads, c->head_dim);
  return LR_OK;
}

/* RoPE: freq_base (default 10000, as in llama.cpp).  Scaling is refused as the safetensors path
 * refuses it, except what changes nothing (type none, or linear with factor 1).  Llama 3.1's
 * scaling is no key in GGUF but a tensor of per-frequency divisors, rope_freqs.weight; lorens
 * does not map it to its llama3 parameters yet, so it is refused too. */
static lr_status read_rope(const gloader *L, lr_model_config *c) {
  char key[160];
  const char *type = NULL;
  double factor = 1.0, linear = 1.0;
  lr_status rc;
  c->rope_scaling = LORENS_ROPE_NONE;
  if ((rc = get_positive(L, "rope.freq_base", false, 10000.0, &c->rope_theta)) != LR_OK ||
      (rc = get_positive(L, "rope.scaling.factor", false, 1.0, &factor)) != LR_OK ||
      (rc = get_positive(L, "rope.scale_linear", false, 1.0, &linear)) != LR_OK)
    return rc;
  arch_key(L, "rope.scaling.type", key, sizeof key);
  if (lr_gguf_find_kv(L->f, key) && (rc = lr_gguf_get_str(L->f, key, &type, NULL, L->err)) != LR_OK)
    return rc;
  if (type != NULL && strcmp(type, "none") != 0 && strcmp(type, "linear") != 0)
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "%s = '%s': RoPE scaling is not "
                      "supported in GGUF files (only none)", key, type);
  if ((type == NULL || strcmp(type, "linear") == 0) && (factor != 1.0 || linear != 1.0))
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "linear RoPE scaling (factor %g) "
                      "is not supported", factor != 1.0 ? factor : linear);
  if (lr_gguf_find_tensor(L->f, "rope_freqs.weight"))
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "tensor 'rope_freqs.weight' (Llama "
                      "3.1-style RoPE frequency factors) is not supported in GGUF files yet");
  return LR_OK;
}

/* The vocabulary is token_embd's row count; {arch}.vocab_size, when written, must agree. */
static lr_status read_vocab(const gloader *L, lr_model_config *c) {
  const lr_gguf_tensor *t = lr_gguf_find_tensor(L->f, "token_embd.weight");
  int32_t declared;
  lr_status rc;
  if (t == NULL)
    return lr_fail_at(L->err, LR_ENOTFOUND, L->path, 0, 0, "missing tensor 'token_embd.weight'");
  if (t->n_dims != 2 || t->ne[1] > LR_CONFIG_INT_MAX)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "tensor 'token_embd.weight' must be a "
                      "[vocab, embedding_length] matrix of at most %d rows", LR_CONFIG_INT_MAX);
  c->vocab_size = (int32_t)t->ne[1];
  if ((rc = get_count(L, "vocab_size", false, c->vocab_size, &declared)) != LR_OK)
    return rc;
  if (declared != c->vocab_size)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "%s.vocab_size is %d but tensor "
                      "'token_embd.weight' has %d rows", L->arch, declared, c->vocab_size);
  return LR_OK;
}

static lr_status read_config(gloader *L, lr_model_config *c) {
  lr_status rc;
  memset(c, 0, sizeof *c);
  if ((rc = read_arch(L, c)) != LR_OK ||
      (rc = get_count(L, "context_length", true, 0, &c->max_position_embeddings)) != LR_OK ||
      (rc = get_count(L, "embedding_length", true, 0, &c->hidden_size)) != LR_OK ||
      (rc = get_count(L, "block_count", true, 0, &c->num_hidden_layers)) != LR_OK ||
      (rc = get_count(L, "feed_forward_length", true, 0, &c->intermediate_size)) != LR_OK ||
      (rc = read_heads(L, c)) != LR_OK ||
      (rc = get_positive(L, "attention.layer_norm_rms_epsilon", true, 0, &c->rms_norm_eps)) !=
          LR_OK ||
      (rc = read_rope(L, c)) != LR_OK || (rc = read_vocab(L, c)) != LR_OK)
    return rc;
  c->tie_word_embeddings = lr_gguf_find_tensor(L->f, "output.weight") == NULL;
  /* As in transformers: Qwen2 always has q/k/v biases and no o_proj one. */
  c->qkv_bias = c->arch == LR_ARCH_QWEN2;
  c->o_bias = false;
  return LR_OK;
}

/* ---- the tensors ---------------------------------------------------------------------------------- */

/* The sizes a tensor's dimensions are made of, named by their GGUF keys. */
enum gdim { G_DIM, G_Q_OUT, G_KV_OUT, G_FF, G_VOCAB };

static const char *const gdim_names[] = {
    [G_DIM] = "embedding_length",
    [G_Q_OUT] = "head_count*head_dim",
    [G_KV_OUT] = "head_count_kv*head_dim",
    [G_FF] = "feed_forward_length",
    [G_VOCAB] = "vocab",
};

static int64_t gdim_value(const lr_model_config *c, enum gdim d) {
  switch (d) {
  case G_DIM: return c->hidden_size;
  case G_Q_OUT: return (int64_t)c->num_attention_heads * c->head_dim;
  case G_KV_OUT: return (int64_t)c->num_key_value_heads * c->head_dim;
  case G_FF: return c->intermediate_size;
  case G_VOCAB: return c->vocab_size;
  }
  return 0;
}

/* A tensor's expected shape in Hugging Face order ([out, in]; GGUF's ne is [in, out]). */
typedef struct gspec {
  uint32_t ndim;
  enum gdim d0, d1;
} gspec;

static const struct gslot {
  int slot;
  const char *suffix;
  gspec shape;
  bool bias; /* only when the config has q/k/v biases */
} gslots[] = {
    {LORENS_SLOT_ATTN_NORM, "attn_norm.weight", {1, G_DIM, G_DIM}, false},
    {LORENS_SLOT_Q, "attn_q.weight", {2, G_Q_OUT, G_DIM}, false},
    {LORENS_SLOT_K, "attn_k.weight", {2, G_KV_OUT, G_DIM}, false},
    {LORENS_SLOT_V, "attn_v.weight", {2, G_KV_OUT, G_DIM}, false},
    {LORENS_SLOT_O, "attn_output.weight", {2, G_DIM, G_Q_OUT}, false},
    {LORENS_SLOT_GATE, "ffn_gate.weight", {2, G_FF, G_DIM}, false},
    {LORENS_SLOT_UP, "ffn_up.weight", {2, G_FF, G_DIM}, false},
    {LORENS_SLOT_DOWN, "ffn_down.weight", {2, G_DIM, G_FF}, false},
    {LORENS_SLOT_MLP_NORM, "ffn_norm.weight", {1, G_DIM, G_DIM}, false},
    {LORENS_SLOT_Q_BIAS, "attn_q.bias", {1, G_Q_OUT, G_Q_OUT}, true},
    {LORENS_SLOT_K_BIAS, "attn_k.bias", {1, G_KV_OUT, G_KV_OUT}, true},
    {LORENS_SLOT_V_BIAS, "attn_v.bias", {1, G_KV_OUT, G_KV_OUT}, true},
};

static lr_status check_gshape(const gloader *L, const lr_gguf_tensor *t, gspec s) {
  const lr_model_config *c = &L->m->config;
  int64_t want[2] = {gdim_value(c, s.d0), gdim_value(c, s.d1)};
  int64_t got[2] = {t->n_dims == 2 ? t->ne[1] : t->ne[0], t->ne[0]};
  char got_s[128], want_s[64], names[96];
  if (t->n_dims == s.ndim && got[0] == want[0] && (s.ndim == 1 || got[1] == want[1]))
    return LR_OK;
  if (t->n_dims > 2) {
    snprintf(got_s, sizeof got_s, "%u dimensions", t->n_dims);
  } else {
    lr_shape_format(got_s, sizeof got_s, got, t->n_dims);
    strncat(got_s, " (HF order)", sizeof got_s - strlen(got_s) - 1);
  }
  lr_shape_format(want_s, sizeof want_s, want, s.ndim);
  if (s.ndim == 1)
    snprintf(names, sizeof names, "[%s]", gdim_names[s.d0]);
  else
    snprintf(names, sizeof names, "[%s, %s]", gdim_names[s.d0], gdim_names[s.d1]);
  return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "tensor '%s' has shape %s, expected %s = %s",
                    t->name, got_s, want_s, names);
}

/* A new buffer of n bytes that the model owns (freed with it). */
static void *own(gloader *L, size_t n) {
  lr_model *m = L->m;
  void *buf;
  if (LR_GROW(m->copies, m->copies_cap, m->n_copies + 1, NULL) != LR_OK ||
      (buf = malloc(n ? n : 1)) == NULL)
    return NULL;
  m->copies[m->n_copies++] = buf;
  return buf;
}

/*
 * Points out at t's data for the backend: in place, or in a copy the model owns where needed.
 * heads > 0: t's rows are llama.cpp's q/k permutation over that many heads, and the copy puts
 * each GGUF row in its HF row, in the stored type.
 */
static lr_status place(gloader *L, const lr_gguf_tensor *t, uint32_t ndim, int heads,
                       lorens_tensor *out) {
  size_t cols = (size_t)t->ne[0], rows = (size_t)(t->numel / (uint64_t)t->ne[0]), row_bytes;
  /* The alignment a backend reading in place needs: a plain float's size; quant blocks none. */
  size_t elem = lr_quant_block_elems((int)t->type) == 1 ? lr_quant_block_bytes((int)t->type) : 1;
  const unsigned char *src = t->data;
  unsigned char *buf;
  if (!lr_quant_can_dequantize((int)t->type))
    return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "tensor '%s' has ggml type %s; "
                      "lorens reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K to "
                      "Q6_K", t->name, lr_quant_name((int)(t->type)));
  if (lr_quant_row_bytes((int)t->type, cols, &row_bytes) != LORENS_OK ||
      t->numel > SIZE_MAX / sizeof(float) || (uint64_t)row_bytes * rows != t->nbytes)
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "tensor '%s': rows of %zu %s elements do "
                      "not make its %llu bytes", t->name, cols, lr_quant_name((int)t->type),
                      (unsigned long long)t->nbytes);
  out->dtype = lr_quant_dtype_of_type((int)t->type);
  out->data = t->data;
  if (ndim == 1 && out->dtype >= LORENS_DTYPE_GGML_BASE) {
    /* A quantized vector (no converter writes one): backends read vectors as floats. */
    float *f = own(L, t->numel * sizeof *f);
    if (f == NULL)
      return goom(L);
    lr_quant_dequantize_row((int)t->type, t->data, f, (size_t)t->numel);
    out->data = f;
    out->dtype = LORENS_DTYPE_F32;
  } else if (heads > 0) {
    size_t hd = rows / (size_t)heads, half = hd / 2;
    if ((buf = own(L, (size_t)t->nbytes)) == NULL)
      return goom(L);
    for (size_t h = 0; h < (size_t)heads; h++)
      for (size_t i = 0; i < half; i++)
        for (size_t j = 0; j < 2; j++)
          memcpy(buf + (h * hd + j * half + i) * row_bytes, src + (h * hd + 2 * i + j) * row_bytes,
                 row_bytes);
    out->data = buf;
    lr_gguf_release(L->f, t->data, (size_t)t->nbytes); /* only the copy is read from now on */
  } else if ((uintptr_t)t->data % elem != 0) {
    /* general.alignment may be 1 or 2: a backend reads floats in place, aligned. */
    if ((buf = own(L, (size_t)t->nbytes)) == NULL)
      return goom(L);
    memcpy(buf, t->data, (size_t)t->nbytes);
    out->data = buf;
    lr_gguf_release(L->f, t->data, (size_t)t->nbytes);
  }
  return LR_OK;
}

static lr_status gbind(gloader *L, const char *name, gspec s, int heads, lorens_tensor *out) {
  const lr_gguf_tensor *t = lr_gguf_find_tensor(L->f, name);
  lr_status rc;
  if (t == NULL)
    return lr_fail_at(L->err, LR_ENOTFOUND, L->path, 0, 0, "missing tensor '%s'", name);
  if ((rc = check_gshape(L, t, s)) != LR_OK || (rc = place(L, t, s.ndim, heads, out)) != LR_OK)
    return rc;
  out->ndim = s.ndim;
  out->shape[0] = s.ndim == 2 ? t->ne[1] : t->ne[0];
  out->shape[1] = s.ndim == 2 ? t->ne[0] : 0;
  L->m->n_params += t->numel;
  L->m->n_bytes += t->nbytes;
  L->m->dtypes |= lr_dtype_bit(out->dtype);
  return LR_OK;
}

/* Biases where the architecture has none would be silently ignored; a llama file with attention
 * biases is refused instead (transformers would ignore them too). */
static lr_status check_no_bias(const gloader *L, int32_t layer) {
  static const char *const kinds[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
  char name[96];
  for (size_t i = 0; i < LR_ARRAY_LEN(kinds); i++) {
    if (L->m->config.qkv_bias && i < 3)
      continue;
    snprintf(name, sizeof name, "blk.%d.%s.bias", (int)layer, kinds[i]);
    if (lr_gguf_find_tensor(L->f, name))
      return lr_fail_at(L->err, LR_EUNSUPPORTED, L->path, 0, 0, "tensor '%s': attention biases "
                        "are not supported in a GGUF '%s' model", name, L->arch);
  }
  return LR_OK;
}

static lr_status bind_glayer(gloader *L, int32_t layer) {
  const lr_model_config *c = &L->m->config;
  lorens_tensor *slots = &L->m->layers[(size_t)layer * LORENS_SLOT_COUNT_V1_0];
  char name[96];
  lr_status rc;
  if ((rc = check_no_bias(L, layer)) != LR_OK)
    return rc;
  for (size_t i = 0; i < LR_ARRAY_LEN(gslots); i++) {
    int heads = 0;
    if (gslots[i].bias && !c->qkv_bias)
      continue;
    if (L->unpermute && gslots[i].slot == LORENS_SLOT_Q)
      heads = c->num_attention_heads;
    else if (L->unpermute && gslots[i].slot == LORENS_SLOT_K)
      heads = c->num_key_value_heads;
    snprintf(name, sizeof name, "blk.%d.%s", (int)layer, gslots[i].suffix);
    if ((rc = gbind(L, name, gslots[i].shape, heads, &slots[gslots[i].slot])) != LR_OK)
      return rc;
  }
  return LR_OK;
}

/* Every layer needs its 9 tensors: a block_count the file cannot hold fails before the layer
 * table is allocated for it. */
static lr_status bind_gall(gloader *L) {
  lr_model *m = L->m;
  const lr_model_config *c = &m->config;
  const gspec embed = {2, G_VOCAB, G_DIM}, norm = {1, G_DIM, G_DIM};
  lr_status rc;
  if ((uint64_t)c->num_hidden_layers * 9 > lr_gguf_tensor_count(L->f))
    return lr_fail_at(L->err, LR_EPARSE, L->path, 0, 0, "%s.block_count is %d, but the file "
                      "holds only %zu tensors (each layer needs 9)", L->arch,
                      c->num_hidden_layers, lr_gguf_tensor_count(L->f));
  m->layers_cap = (size_t)c->num_hidden_layers * LORENS_SLOT_COUNT_V1_0;
  if ((m->layers = calloc(m->layers_cap, sizeof *m->layers)) == NULL)
    return goom(L);
  if ((rc = gbind(L, "token_embd.weight", embed, 0, &m->abi.embed)) != LR_OK ||
      (rc = gbind(L, "output_norm.weight", norm, 0, &m->abi.final_norm)) != LR_OK)
    return rc;
  /* No output.weight: the head is tied to token_embd, as llama.cpp and transformers read it. */
  if (!c->tie_word_embeddings &&
      (rc = gbind(L, "output.weight", embed, 0, &m->abi.lm_head)) != LR_OK)
    return rc;
  for (int32_t l = 0; l < c->num_hidden_layers; l++)
    if ((rc = bind_glayer(L, l)) != LR_OK)
      return rc;
  return LR_OK;
}

lr_status lr_model_load_gguf(const char *path, lr_model *out, lr_err *err) {
  gloader L = {out, NULL, path, NULL, false, err};
  lr_status rc;
  memset(out, 0, sizeof *out);
  if ((out->dir = strdup(path)) == NULL)
    rc = goom(&L);
  else if ((rc = lr_gguf_open(path, &L.f, err)) == LR_OK &&
           (rc = read_config(&L, &out->config)) == LR_OK && (rc = bind_gall(&L)) == LR_OK) {
    lr_model_fill_abi(out);
    /* The model holds what it read of the metadata (a tokenizer reads the file anew). */
    lr_gguf_release_metadata(L.f);
  }
  /* The tensors point into the mapping: it lives as long as the model. */
  out->gguf = L.f;
  if (rc != LR_OK)
    lr_model_release(out);
  return rc;
}
