/*
 * peft.c: reading and writing PEFT LoRA adapters (see peft.h).
 */
#include "compat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/json-util.h"
#include "model/adapters.h"
#include "model/peft.h"
#include "model/safetensors-write.h"
#include "model/safetensors.h"

static const char *const module_names[LORENS_LORA_TARGET_COUNT] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

/* PEFT's key for a LoRA matrix of (layer, target): "base_model.model.model.layers.3.self_attn.
 * q_proj.lora_A.weight". */
static void tensor_name(char *buf, size_t n, int layer, int target, char which) {
  snprintf(buf, n, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", layer,
           target < 4 ? "self_attn" : "mlp", module_names[target], which);
}

/* ---- adapter_config.json ----------------------------------------------------------------- */

static lr_status refuse(const char *path, lr_err *err, const char *what) {
  return lr_fail_at(err, LR_EUNSUPPORTED, path, 0, 0, "%s is not supported by lorens", what);
}

/* Fields whose presence with a non-default value would change what the adapter computes. */
static lr_status check_unsupported(const json_t *c, const char *path, lr_err *err) {
  const json_t *v;
  if ((v = json_object_get(c, "peft_type")) && !(json_is_string(v) && strcmp(json_string_value(v), "LORA") == 0))
    return refuse(path, err, "peft_type other than LORA");
  if ((v = json_object_get(c, "use_dora")) && json_is_true(v))
    return refuse(path, err, "use_dora");
  if ((v = json_object_get(c, "fan_in_fan_out")) && json_is_true(v))
    return refuse(path, err, "fan_in_fan_out");
  if ((v = json_object_get(c, "bias")) && !(json_is_string(v) && strcmp(json_string_value(v), "none") == 0))
    return refuse(path, err, "bias other than \"none\"");
  if ((v = json_object_get(c, "rank_pattern")) && json_object_size(v) > 0)
    return refuse(path, err, "rank_pattern");
  if ((v = json_object_get(c, "alpha_pattern")) && json_object_size(v) > 0)
    return refuse(path, err, "alpha_pattern");
  if ((v = json_object_get(c, "layers_to_transform")) && !json_is_null(v))
    return refuse(path, err, "layers_to_transform");
  if ((v = json_object_get(c, "modules_to_save")) && !json_is_null(v))
    return refuse(path, err, "modules_to_save");
  return LR_OK;
}

static lr_status parse_targets(const json_t *c, const char *path, uint32_t *out, lr_err *err) {
  const json_t *list = json_object_get(c, "target_modules"), *item;
  size_t i;
  *out = 0;
  if (!json_is_array(list))
    return lr_fail_at(err, LR_EPARSE, path, 0, 0,
                      "target_modules must be a list of module names, got %s",
                      lr_json_kind(list));
  json_array_foreach(list, i, item) {
    int found = -1;
    for (int t = 0; json_is_string(item) && t < LORENS_LORA_TARGET_COUNT; t++)
      if (strcmp(json_string_value(item), module_names[t]) == 0)
        found = t;
    if (found < 0)
      return lr_fail_at(err, LR_EUNSUPPORTED, path, 0, 0,
                        "target_modules[%zu] %s%s%s is not one of q_proj, k_proj, v_proj, o_proj, "
                        "gate_proj, up_proj, down_proj", i, json_is_string(item) ? "'" : "",
                        json_is_string(item) ? json_string_value(item) : lr_json_kind(item),
                        json_is_string(item) ? "'" : "");
    *out |= 1u << found;
  }
  return *out ? LR_OK : lr_fail_at(err, LR_EPARSE, path, 0, 0, "target_modules is empty");
}

static lr_status number_field(const json_t *c, const char *path, const char *key, double lo,
                              double hi, double dflt, double *out, lr_err *err) {
  const json_t *v = json_object_get(c, key);
  if (v == NULL || json_is_null(v)) {
    if (isnan(dflt))
      return lr_fail_at(err, LR_EPARSE, path, 0, 0, "field '%s' is missing", key);
    *out = dflt;
    return LR_OK;
  }
  if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
    return lr_fail_at(err, LR_EPARSE, path, 0, 0, "field '%s' must be a number in [%g, %g], got %s",
                      key, lo, hi, lr_json_kind(v));
  *out = json_number_value(v);
  return LR_OK;
}

static lr_status read_config(const char *dir, lr_peft_config *cfg, lr_err *err) {
  char path[4096];
  json_t *c = NULL;
  double r = 0, alpha = 0, dropout = 0;
  lr_status rc;
  snprintf(path, sizeof path, "%s/adapter_config.json", dir);
  if ((rc = lr_json_load_object(path, 1 << 20, &c, err)) != LR_OK)
    return rc;
  if ((rc = check_unsupported(c, path, err)) == LR_OK &&
      (rc = parse_targets(c, path, &cfg->targets, err)) == LR_OK &&
      (rc = number_field(c, path, "r", 1, 65536, NAN, &r, err)) == LR_OK &&
      (rc = number_field(c, path, "lora_alpha", -1e9, 1e9, r, &alpha, err)) == LR_OK &&
      (rc = number_field(c, path, "lora_dropout", 0, 0.999999, 0, &dropout, err)) == LR_OK) {
    cfg->rank = (uint32_t)r;
    cfg->alpha = (float)alpha;
    cfg->dropout = (float)dropout;
    cfg->rslora = json_is_true(json_object_get(c, "use_rslora"));
    if ((double)cfg->rank != r)
      rc = lr_fail_at(err, LR_EPARSE, path, 0, 0, "field 'r' must be an integer, got %g", r);
  }
  json_decref(c);
  return rc;
}

/* ---- adapter_model.safetensors ------------------------------------------------------------- */

static float element(const lr_st_tensor *t, size_t i) {
  const unsigned char *p = t->data;
  uint16_t h;
  float f;
  switch (t->dtype) {
  case LR_ST_F32: memcpy(&f, p + 4 * i, 4); return f;
  case LR_ST_F16: memcpy(&h, p + 2 * i, 2); return lorens_f16_to_f32(h);
  default: memcpy(&h, p + 2 * i, 2); return lorens_bf16_to_f32(h);
  }
}

/* Copies one LoRA matrix into dst after checking its dtype and shape [d0, d1]. */
static lr_status copy_matrix(const lr_st_file *f, const char *name, uint32_t d0, uint32_t d1,
                             float *dst, lr_err *err) {
  const lr_st_tensor *t = lr_st_find(f, name);
  char want[64], got[64];
  if (t == NULL)
    return lr_fail_at(err, LR_ENOTFOUND, lr_st_name(f), 0, 0, "tensor '%s' is missing", name);
  if (t->dtype != LR_ST_F32 && t->dtype != LR_ST_F16 && t->dtype != LR_ST_BF16)
    return lr_fail_at(err, LR_EUNSUPPORTED, lr_st_name(f), 0, 0, "tensor '%s' has dtype %s (want F32, F16 or BF16)",
                      name, lr_st_dtype_name(t->dtype));
  if (t->ndim != 2 || t->shape[0] != d0 || t->shape[1] != d1) {
    int64_t w[2] = {d0, d1};
    lr_shape_format(want, sizeof want, w, 2);
    lr_shape_format(got, sizeof got, t->shape, t->ndim);
    return lr_fail_at(err, LR_EPARSE, lr_st_name(f), 0, 0, "tensor '%s' has shape %s, want %s",
                      name, got, want);
  }
  for (size_t i = 0; i < (size_t)d0 * d1; i++)
    dst[i] = element(t, i);
  return LR_OK;
}

static lr_status read_tensors(const lr_st_file *f, const lorens_model *m, const lr_peft_config *cfg,
                              float *w, lr_err *err) {
  lr_adapter_site sites[7 * 256];
  size_t n_sites = 0, used = 0;
  char name[256];
  lr_status rc = LR_OK;
  if (m->n_layers > 256)
    return lr_fail(err, LR_EUNSUPPORTED, "models of more than 256 layers are not supported");
  lr_adapter_layout(m, cfg->targets, cfg->rank, sites, &n_sites);
  for (size_t i = 0; i < n_sites && rc == LR_OK; i++) {
    const lr_adapter_site *s = &sites[i];
    tensor_name(name, sizeof name, s->layer, s->target, 'A');
    rc = copy_matrix(f, name, cfg->rank, s->in, w + s->offset, err);
    tensor_name(name, sizeof name, s->layer, s->target, 'B');
    if (rc == LR_OK)
      rc = copy_matrix(f, name, s->out, cfg->rank, w + s->offset + (size_t)cfg->rank * s->in, err);
    used += 2;
  }
  if (rc == LR_OK && lr_st_count(f) != used)
    rc = lr_fail_at(err, LR_EPARSE, lr_st_name(f), 0, 0,
                    "holds %zu tensors but the config and model call for %zu (layers or modules "
                    "that do not match the base model?)", lr_st_count(f), used);
  return rc;
}

lr_status lr_peft_load(const char *dir, const lorens_model *m, lr_peft_config *cfg,
                       float **weights, uint64_t *n, lr_err *err) {
  char path[4096];
  lr_st_file *f = NULL;
  lr_status rc;
  *weights = NULL;
  *n = 0;
  memset(cfg, 0, sizeof *cfg);
  if ((rc = read_config(dir, cfg, err)) != LR_OK)
    return rc;
  snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
  if ((rc = lr_st_open(path, &f, err)) != LR_OK)
    return rc;
  *n = lr_adapter_layout(m, cfg->targets, cfg->rank, NULL, NULL);
  *weights = malloc((*n ? *n : 1) * sizeof **weights);
  if (*weights == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", path);
  if (rc == LR_OK)
    rc = read_tensors(f, m, cfg, *weights, err);
  lr_st_close(f);
  if (rc != LR_OK) {
    free(*weights);
    *weights = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

static json_t *config_json(const lr_peft_config *cfg, const char *base_model) {
  json_t *c = json_object(), *targets = json_array();
  for (int t = 0; t < LORENS_LORA_TARGET_COUNT; t++)
    if ((cfg->targets >> t) & 1u)
      json_array_append_new(targets, json_string(module_names[t]));
  json_object_set_new(c, "alpha_pattern", json_object());
  json_object_set_new(c, "base_model_name_or_path", base_model ? json_string(base_model) : json_null());
  json_object_set_new(c, "bias", json_string("none"));
  json_object_set_new(c, "fan_in_fan_out", json_false());
  json_object_set_new(c, "inference_mode", json_true());
  json_object_set_new(c, "init_lora_weights", json_true());
  json_object_set_new(c, "layers_to_transform", json_null());
  json_object_set_new(c, "lora_alpha", json_real(cfg->alpha));
  json_object_set_new(c, "lora_dropout", json_real(cfg->dropout));
  json_object_set_new(c, "modules_to_save", json_null());
  json_object_set_new(c, "peft_type", json_string("LORA"));
  json_object_set_new(c, "r", json_integer(cfg->rank));
  json_object_set_new(c, "rank_pattern", json_object());
  json_object_set_new(c, "target_modules", targets);
  json_object_set_new(c, "task_type", json_string("CAUSAL_LM"));
  json_object_set_new(c, "use_dora", json_false());
  json_object_set_new(c, "use_rslora", json_boolean(cfg->rslora));
  return c;
}

static lr_status write_tensors(const char *path, const lorens_model *m, const lr_peft_config *cfg,
                               const float *w, lr_err *err) {
  lr_adapter_site sites[7 * 256];
  size_t n_sites = 0;
  lr_st_out *out;
  char (*names)[128];
  lr_status rc;
  if (m->n_layers > 256)
    return lr_fail(err, LR_EUNSUPPORTED, "models of more than 256 layers are not supported");
  lr_adapter_layout(m, cfg->targets, cfg->rank, sites, &n_sites);
  out = calloc(2 * n_sites + 1, sizeof *out);
  names = calloc(2 * n_sites + 1, sizeof *names);
  if (out == NULL || names == NULL) {
    free(out);
    free(names);
    return lr_fail(err, LR_ENOMEM, "out of memory writing '%s'", path);
  }
  for (size_t i = 0; i < n_sites; i++) {
    const lr_adapter_site *s = &sites[i];
    tensor_name(names[2 * i], sizeof names[0], s->layer, s->target, 'A');
    tensor_name(names[2 * i + 1], sizeof names[0], s->layer, s->target, 'B');
    out[2 * i] = (lr_st_out){names[2 * i], LR_ST_F32, 2, {cfg->rank, s->in}, w + s->offset};
    out[2 * i + 1] = (lr_st_out){names[2 * i + 1], LR_ST_F32, 2, {s->out, cfg->rank},
                                 w + s->offset + (size_t)cfg->rank * s->in};
  }
  const char *keys[1] = {"format"}, *values[1] = {"pt"};
  rc = lr_st_write(path, out, 2 * n_sites, keys, values, 1, err);
  free(out);
  free(names);
  return rc;
}

lr_status lr_peft_save(const char *dir, const lorens_model *m, const lr_peft_config *cfg,
                       const float *weights, const char *base_model, lr_err *err) {
  char path[4096], tmp[4200];
  json_t *c;
  lr_status rc;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return lr_fail_at(err, lr_io_status(errno), dir, 0, 0, "cannot create the adapter directory: %s", strerror(errno));
  snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
  if ((rc = write_tensors(path, m, cfg, weights, err)) != LR_OK)
    return rc;
  snprintf(path, sizeof path, "%s/adapter_config.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  c = config_json(cfg, base_model);
  if (json_dump_file(c, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0)
    rc = lr_fail_at(err, lr_io_status(errno), path, 0, 0, "cannot write: %s", strerror(errno));
  json_decref(c);
  return rc;
}
