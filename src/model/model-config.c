/*
 * model-config.c: config.json for LLaMA-family decoders (see model-config.h).
 *
 * A small reader (object, file, field-name prefix) carries what every message needs, so each
 * field is one call: get_int(&r, "num_hidden_layers", REQUIRED, 0, &cfg->num_hidden_layers).
 * Whole-config rules (heads divisible by kv heads, head_dim) are checked after all fields are in.
 */
#include "compat.h"

#include <math.h>
#include <string.h>

#include <jansson.h>

#include "base/json-util.h"
#include "model/model-config.h"

/* config.json files are a few kilobytes; anything this large is not one. */
#define CONFIG_MAX_BYTES ((size_t)4 << 20)

enum { OPTIONAL = 0, REQUIRED = 1 };

typedef struct reader {
  const json_t *obj;
  const char *path;    /* the file, for messages */
  const char *prefix;  /* "" or "rope_scaling." in front of field names */
  lr_err *err;
} reader;

static const struct {
  const char *name;
  lr_model_arch arch;
} arch_table[] = {
    {"llama", LR_ARCH_LLAMA},
    {"qwen2", LR_ARCH_QWEN2},
    {"mistral", LR_ARCH_MISTRAL},
};

const char *lr_model_arch_name(lr_model_arch arch) {
  for (size_t i = 0; i < LR_ARRAY_LEN(arch_table); i++)
    if (arch_table[i].arch == arch)
      return arch_table[i].name;
  return "?";
}

/* The value of a field, or NULL when it is absent or null (both mean "use the default"). */
static const json_t *field(const reader *r, const char *key) {
  const json_t *v = json_object_get(r->obj, key);
  return json_is_null(v) ? NULL : v;
}

static lr_status missing(const reader *r, const char *key) {
  return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "missing field '%s%s'", r->prefix, key);
}

/* An integer in [1, LR_CONFIG_INT_MAX]. */
static lr_status get_int(const reader *r, const char *key, int required, int32_t dflt,
                         int32_t *out) {
  const json_t *v = field(r, key);
  json_int_t n;
  if (v == NULL) {
    *out = dflt;
    return required ? missing(r, key) : LR_OK;
  }
  if (!json_is_integer(v))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be a positive "
                      "integer, got %s", r->prefix, key, lr_json_kind(v));
  n = json_integer_value(v);
  if (n < 1 || n > LR_CONFIG_INT_MAX)
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be a positive "
                      "integer of at most %d, got %lld", r->prefix, key, LR_CONFIG_INT_MAX,
                      (long long)n);
  *out = (int32_t)n;
  return LR_OK;
}

/* A finite number > 0, written as an integer or a real. */
static lr_status get_positive(const reader *r, const char *key, int required, double dflt,
                              double *out) {
  const json_t *v = field(r, key);
  double x;
  if (v == NULL) {
    *out = dflt;
    return required ? missing(r, key) : LR_OK;
  }
  if (!json_is_number(v))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be a positive number, "
                      "got %s", r->prefix, key, lr_json_kind(v));
  x = json_number_value(v);
  if (!(x > 0) || !isfinite(x))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be a positive number, "
                      "got %g", r->prefix, key, x);
  *out = x;
  return LR_OK;
}

static lr_status get_bool(const reader *r, const char *key, bool dflt, bool *out) {
  const json_t *v = field(r, key);
  *out = dflt;
  if (v == NULL)
    return LR_OK;
  if (!json_is_boolean(v))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be true or false, "
                      "got %s", r->prefix, key, lr_json_kind(v));
  *out = json_is_true(v);
  return LR_OK;
}

/* A string field; *out is NULL when absent or null, borrowed from the JSON otherwise. */
static lr_status get_string(const reader *r, const char *key, const char **out) {
  const json_t *v = field(r, key);
  *out = NULL;
  if (v == NULL)
    return LR_OK;
  if (!json_is_string(v))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field '%s%s' must be a string, got %s",
                      r->prefix, key, lr_json_kind(v));
  *out = json_string_value(v);
  return LR_OK;
}

/* ---- the parts of a config --------------------------------------------------------------------- */

static lr_status read_model_type(const reader *r, lr_model_config *cfg) {
  const char *type;
  lr_status rc = get_string(r, "model_type", &type);
  if (rc != LR_OK)
    return rc;
  if (type == NULL)
    return missing(r, "model_type");
  for (size_t i = 0; i < LR_ARRAY_LEN(arch_table); i++)
    if (strcmp(type, arch_table[i].name) == 0) {
      cfg->arch = arch_table[i].arch;
      return LR_OK;
    }
  return lr_fail_at(r->err, LR_EUNSUPPORTED, r->path, 0, 0, "model_type '%s' is not supported "
                    "(supported: llama, qwen2, mistral)", type);
}

static lr_status read_sizes(const reader *r, lr_model_config *cfg) {
  lr_status rc;
  if ((rc = get_int(r, "hidden_size", REQUIRED, 0, &cfg->hidden_size)) != LR_OK ||
      (rc = get_int(r, "intermediate_size", REQUIRED, 0, &cfg->intermediate_size)) != LR_OK ||
      (rc = get_int(r, "num_hidden_layers", REQUIRED, 0, &cfg->num_hidden_layers)) != LR_OK ||
      (rc = get_int(r, "num_attention_heads", REQUIRED, 0, &cfg->num_attention_heads)) != LR_OK ||
      (rc = get_int(r, "num_key_value_heads", OPTIONAL, cfg->num_attention_heads,
                    &cfg->num_key_value_heads)) != LR_OK ||
      (rc = get_int(r, "head_dim", OPTIONAL, 0, &cfg->head_dim)) != LR_OK ||
      (rc = get_int(r, "vocab_size", REQUIRED, 0, &cfg->vocab_size)) != LR_OK ||
      (rc = get_int(r, "max_position_embeddings", REQUIRED, 0,
                    &cfg->max_position_embeddings)) != LR_OK)
    return rc;
  return LR_OK;
}

/* Heads must share kv heads evenly (grouped-query attention), and a head must have a whole,
 * even number of dimensions: RoPE rotates pairs. */
static lr_status check_heads(const reader *r, lr_model_config *cfg) {
  if (cfg->num_attention_heads % cfg->num_key_value_heads != 0)
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "num_attention_heads (%d) must be a "
                      "multiple of num_key_value_heads (%d)", cfg->num_attention_heads,
                      cfg->num_key_value_heads);
  if (cfg->head_dim == 0) {
    if (cfg->hidden_size % cfg->num_attention_heads != 0)
      return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "hidden_size (%d) is not divisible by "
                        "num_attention_heads (%d), and no head_dim is given", cfg->hidden_size,
                        cfg->num_attention_heads);
    cfg->head_dim = cfg->hidden_size / cfg->num_attention_heads;
  }
  if (cfg->head_dim % 2 != 0)
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "head_dim (%d) must be even: rotary "
                      "embeddings rotate pairs of dimensions", cfg->head_dim);
  if ((int64_t)cfg->num_attention_heads * cfg->head_dim > LR_CONFIG_INT_MAX)
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "num_attention_heads * head_dim (%d * "
                      "%d) is too large", cfg->num_attention_heads, cfg->head_dim);
  return LR_OK;
}

static lr_status read_llama3_scaling(const reader *r, lr_model_config *cfg) {
  lr_status rc;
  if ((rc = get_positive(r, "factor", REQUIRED, 0, &cfg->rope_factor)) != LR_OK ||
      (rc = get_positive(r, "low_freq_factor", REQUIRED, 0, &cfg->rope_low_freq_factor)) != LR_OK ||
      (rc = get_positive(r, "high_freq_factor", REQUIRED, 0, &cfg->rope_high_freq_factor)) != LR_OK ||
      (rc = get_int(r, "original_max_position_embeddings", REQUIRED, 0,
                    &cfg->rope_original_max_position_embeddings)) != LR_OK)
    return rc;
  /* The smooth interpolation between the two divides by their difference. */
  if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "rope_scaling: high_freq_factor (%g) must "
                      "be greater than low_freq_factor (%g)", cfg->rope_high_freq_factor,
                      cfg->rope_low_freq_factor);
  cfg->rope_scaling = LORENS_ROPE_LLAMA3;
  return LR_OK;
}

static lr_status read_rope(const reader *r, lr_model_config *cfg) {
  const json_t *v = field(r, "rope_scaling");
  reader sub = {v, r->path, "rope_scaling.", r->err};
  const char *type;
  lr_status rc = get_positive(r, "rope_theta", OPTIONAL, 10000.0, &cfg->rope_theta);
  cfg->rope_scaling = LORENS_ROPE_NONE;
  if (rc != LR_OK || v == NULL)
    return rc;
  if (!json_is_object(v))
    return lr_fail_at(r->err, LR_EPARSE, r->path, 0, 0, "field 'rope_scaling' must be an object "
                      "or null, got %s", lr_json_kind(v));
  /* transformers renamed "type" to "rope_type" and still reads both. */
  if ((rc = get_string(&sub, "rope_type", &type)) != LR_OK ||
      (type == NULL && (rc = get_string(&sub, "type", &type)) != LR_OK))
    return rc;
  if (type == NULL)
    return missing(&sub, "rope_type");
  if (strcmp(type, "default") == 0)
    return LR_OK;
  if (strcmp(type, "llama3") == 0)
    return read_llama3_scaling(&sub, cfg);
  return lr_fail_at(r->err, LR_EUNSUPPORTED, r->path, 0, 0, "rope_scaling type '%s' is not "
                    "supported (supported: default, llama3)", type);
}

/* Sliding-window attention changes which positions attend to which; lorens implements full
 * causal attention only.  A window at least as long as the context makes no difference. */
static lr_status check_sliding_window(const reader *r, const lr_model_config *cfg) {
  int32_t window;
  bool use = cfg->arch == LR_ARCH_MISTRAL;
  lr_status rc;
  if (cfg->arch == LR_ARCH_LLAMA)
    return LR_OK;
  if (cfg->arch == LR_ARCH_QWEN2 && (rc = get_bool(r, "use_sliding_window", false, &use)) != LR_OK)
    return rc;
  if ((rc = get_int(r, "sliding_window", OPTIONAL, 0, &window)) != LR_OK)
    return rc;
  if (use && window != 0 && window < cfg->max_position_embeddings)
    return lr_fail_at(r->err, LR_EUNSUPPORTED, r->path, 0, 0, "sliding-window attention is not "
                      "supported: sliding_window (%d) is smaller than max_position_embeddings "
                      "(%d)", window, cfg->max_position_embeddings);
  return LR_OK;
}

static lr_status read_mlp_and_bias(const reader *r, lr_model_config *cfg) {
  const char *act;
  bool attention_bias, mlp_bias;
  lr_status rc;
  if ((rc = get_string(r, "hidden_act", &act)) != LR_OK ||
      (rc = get_bool(r, "mlp_bias", false, &mlp_bias)) != LR_OK ||
      (rc = get_bool(r, "attention_bias", false, &attention_bias)) != LR_OK ||
      (rc = get_bool(r, "tie_word_embeddings", false, &cfg->tie_word_embeddings)) != LR_OK)
    return rc;
  if (act != NULL && strcmp(act, "silu") != 0)
    return lr_fail_at(r->err, LR_EUNSUPPORTED, r->path, 0, 0, "hidden_act '%s' is not supported "
                      "(only silu)", act);
  if (mlp_bias)
    return lr_fail_at(r->err, LR_EUNSUPPORTED, r->path, 0, 0, "mlp_bias true is not supported");
  /* As in transformers: Qwen2 always has q/k/v biases and never an o_proj one; LLaMA has all
   * four when attention_bias is set; Mistral has none and ignores the field. */
  cfg->qkv_bias = cfg->arch == LR_ARCH_QWEN2 || (cfg->arch == LR_ARCH_LLAMA && attention_bias);
  cfg->o_bias = cfg->arch == LR_ARCH_LLAMA && attention_bias;
  return LR_OK;
}

static lr_status read_config(const reader *r, lr_model_config *cfg) {
  lr_status rc;
  memset(cfg, 0, sizeof *cfg);
  if ((rc = read_model_type(r, cfg)) != LR_OK || (rc = read_sizes(r, cfg)) != LR_OK ||
      (rc = check_heads(r, cfg)) != LR_OK ||
      (rc = get_positive(r, "rms_norm_eps", REQUIRED, 0, &cfg->rms_norm_eps)) != LR_OK ||
      (rc = read_rope(r, cfg)) != LR_OK || (rc = check_sliding_window(r, cfg)) != LR_OK ||
      (rc = read_mlp_and_bias(r, cfg)) != LR_OK)
    return rc;
  return LR_OK;
}

lr_status lr_model_config_parse(const char *text, size_t len, const char *path,
                                lr_model_config *out, lr_err *err) {
  json_t *root;
  lr_status rc = lr_json_parse_object(text, len, path, &root, err);
  reader r = {root, path, "", err};
  if (rc != LR_OK)
    return rc;
  rc = read_config(&r, out);
  json_decref(root);
  return rc;
}

lr_status lr_model_config_load(const char *path, lr_model_config *out, lr_err *err) {
  json_t *root;
  lr_status rc = lr_json_load_object(path, CONFIG_MAX_BYTES, &root, err);
  reader r = {root, path, "", err};
  if (rc != LR_OK)
    return rc;
  rc = read_config(&r, out);
  json_decref(root);
  return rc;
}
