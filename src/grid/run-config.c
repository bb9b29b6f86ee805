/*
 * run-config.c: canonical JSON back into an lr_run_config (see run-config.h).
 *
 * The JSON is turned into the same node tree a YAML file gives (yaml-tree.h), with every number
 * written as its canonical text, and checked by the grid schema's validator: one set of rules for
 * grid files and stored configurations.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/canonical-json.h"
#include "base/json-util.h"
#include "grid/grid-schema.h"
#include "grid/grid.h"
#include "grid/run-config.h"
#include "model/adapters.h"

/* ---- JSON to nodes -------------------------------------------------------------------------------- */

static lr_ynode *scalar_node(const char *text, size_t len, bool plain) {
  lr_ynode *n = calloc(1, sizeof *n);
  if (n == NULL || (n->text = malloc(len + 1)) == NULL) {
    free(n);
    return NULL;
  }
  memcpy(n->text, text, len);
  n->text[len] = '\0';
  n->len = len;
  n->plain = plain;
  n->kind = LR_YAML_SCALAR;
  return n;
}

static lr_ynode *to_node(const json_t *v);

static lr_ynode *container_node(const json_t *v) {
  lr_ynode *n = calloc(1, sizeof *n);
  size_t size = json_is_object(v) ? json_object_size(v) : json_array_size(v);
  const char *key;
  json_t *item;
  if (n == NULL)
    return NULL;
  n->kind = json_is_object(v) ? LR_YAML_MAP : LR_YAML_SEQ;
  n->items = calloc(size ? size : 1, sizeof *n->items);
  if (n->kind == LR_YAML_MAP)
    n->keys = calloc(size ? size : 1, sizeof *n->keys);
  if (n->items == NULL || (n->kind == LR_YAML_MAP && n->keys == NULL)) {
    lr_ynode_free(n);
    return NULL;
  }
  if (n->kind == LR_YAML_SEQ) {
    for (; n->n < size; n->n++)
      if ((n->items[n->n] = to_node(json_array_get(v, n->n))) == NULL)
        break;
  } else {
    json_object_foreach((json_t *)v, key, item) {
      n->keys[n->n] = scalar_node(key, strlen(key), false);
      n->items[n->n] = to_node(item);
      n->n++;
      if (n->keys[n->n - 1] == NULL || n->items[n->n - 1] == NULL)
        break;
    }
  }
  for (size_t i = 0; i < n->n; i++)
    if (n->items[i] == NULL || (n->keys && n->keys[i] == NULL)) {
      lr_ynode_free(n);
      return NULL;
    }
  return n;
}

static lr_ynode *to_node(const json_t *v) {
  char num[LR_REAL_TEXT_MAX];
  switch (json_typeof(v)) {
  case JSON_OBJECT:
  case JSON_ARRAY:
    return container_node(v);
  case JSON_STRING:
    return scalar_node(json_string_value(v), json_string_length(v), false);
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return scalar_node(num, strlen(num), true);
  case JSON_REAL:
    lr_format_real(json_real_value(v), num);
    return scalar_node(num, strlen(num), true);
  case JSON_TRUE:
    return scalar_node("true", 4, true);
  case JSON_FALSE:
    return scalar_node("false", 5, true);
  case JSON_NULL:
    break;
  }
  return scalar_node("null", 4, true);
}

/* ---- nodes to C ----------------------------------------------------------------------------------- */

static const char *str_at(const json_t *o, const char *path) {
  return json_string_value(lr_json_path_get(o, path));
}

static long int_at(const json_t *o, const char *path) {
  return (long)json_integer_value(lr_json_path_get(o, path));
}

static bool bool_at(const json_t *o, const char *path) {
  return json_is_true(lr_json_path_get(o, path));
}

/* ensemble.randomness.*: "vary" (the default) or "fixed". */
static bool varies(const json_t *o, const char *path) {
  const char *s = str_at(o, path);
  return s == NULL || strcmp(s, "vary") == 0;
}

/* A copy of an optional string; *ok goes false when out of memory. */
static char *dup_opt(const char *s, bool *ok) {
  char *d;
  if (s == NULL)
    return NULL;
  if ((d = strdup(s)) == NULL)
    *ok = false;
  return d;
}

static bool read_data_spec(const json_t *ds, lr_data_spec *d) {
  bool ok = true;
  d->name = dup_opt(str_at(ds, "name"), &ok);
  d->path = dup_opt(str_at(ds, "path"), &ok);
  d->subjects = dup_opt(str_at(ds, "subjects"), &ok);
  d->group = dup_opt(str_at(ds, "group"), &ok);
  d->split = dup_opt(str_at(ds, "split"), &ok);
  if (!lr_dataset_format_parse(str_at(ds, "format"), &d->format))
    d->format = LR_DATASET_ARC;
  d->limit = int_at(ds, "limit");
  d->ood = bool_at(ds, "ood");
  return ok;
}

static void release_data_spec(lr_data_spec *d) {
  free(d->name);
  free(d->path);
  free(d->subjects);
  free(d->group);
  free(d->split);
  memset(d, 0, sizeof *d);
}

static uint32_t targets_of(const json_t *list) {
  uint32_t mask = 0, m;
  for (size_t i = 0; i < json_array_size(list); i++)
    if (lr_targets_parse(json_string_value(json_array_get(list, i)), &m, NULL) == LR_OK)
      mask |= m;
  return mask;
}

static bool read_data(const json_t *o, lr_run_config *c) {
  const json_t *val = lr_json_path_get(o, "data.validation"), *eval = lr_json_path_get(o, "data.eval");
  bool ok = read_data_spec(lr_json_path_get(o, "data.train"), &c->train);
  c->has_validation = json_is_object(val);
  if (c->has_validation)
    ok = read_data_spec(val, &c->validation) && ok;
  if (json_array_size(eval) > 0) {
    if ((c->eval = calloc(json_array_size(eval), sizeof *c->eval)) == NULL)
      return false;
    for (; c->n_eval < json_array_size(eval); c->n_eval++)
      ok = read_data_spec(json_array_get(eval, c->n_eval), &c->eval[c->n_eval]) && ok;
  }
  return ok;
}

/* Every key that its row in grid-fields.c binds, then what needs more than a copy. */
static bool read_config(const json_t *o, lr_run_config *c) {
  bool ok = lr_schema_bind(lr_schema_config(), o, c);
  ok = read_data(o, c) && ok;
  c->targets = targets_of(lr_json_path_get(o, "lora.targets"));
  c->vary_init = varies(o, "ensemble.randomness.init");
  c->vary_data = varies(o, "ensemble.randomness.data");
  c->vary_dropout = varies(o, "ensemble.randomness.dropout");
  c->seed = (uint64_t)json_integer_value(lr_json_path_get(o, "seed"));
  return ok;
}

lr_status lr_run_config_parse(const char *canonical_json, lr_run_config *c, lr_err *err) {
  json_error_t jerr;
  json_t *raw, *config = NULL;
  lr_ynode *root = NULL;
  lr_vctx vc = {"", err};
  lr_status rc = LR_OK;
  char msg[LR_ERR_MSG_MAX];
  memset(c, 0, sizeof *c);
  raw = json_loads(canonical_json, JSON_REJECT_DUPLICATES, &jerr);
  if (raw == NULL)
    return lr_fail(err, LR_EPARSE, "run config: not JSON: %s (line %d, column %d)", jerr.text,
                   jerr.line, jerr.column);
  if ((root = to_node(raw)) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  else if ((rc = lr_schema_validate_top(lr_schema_config(), root, NULL, NULL, 0, &vc, &config)) != LR_OK)
    lr_err_prefix(err, "run config: ");
  else if (!lr_schema_resolve(config, msg, sizeof msg))
    rc = lr_fail(err, LR_EINVAL, "run config: %s", msg);
  else if (!read_config(config, c))
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc != LR_OK)
    lr_run_config_release(c);
  json_decref(config);
  json_decref(raw);
  lr_ynode_free(root);
  return rc;
}

void lr_run_config_release(lr_run_config *c) {
  free(c->model);
  free(c->tokenizer);
  free(c->backend);
  release_data_spec(&c->train);
  release_data_spec(&c->validation);
  for (size_t i = 0; i < c->n_eval; i++)
    release_data_spec(&c->eval[i]);
  free(c->eval);
  free(c->template_name);
  memset(c, 0, sizeof *c);
}

/* ---- summary -------------------------------------------------------------------------------------- */

static void join(char *buf, size_t size, const char *word) {
  size_t used = strlen(buf);
  snprintf(buf + used, size - used, "%s%s", used ? "+" : "", word);
}

void lr_run_summary_of(const lr_run_config *c, lr_run_summary *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->dataset, sizeof s->dataset, "%s", c->train.name ? c->train.name : "");
  if (c->kl_weight > 0)
    join(s->regularizer, sizeof s->regularizer, "kl");
  if (c->wd_a > 0)
    join(s->regularizer, sizeof s->regularizer, "wd_a");
  if (c->wd_b > 0)
    join(s->regularizer, sizeof s->regularizer, "wd_b");
  if (c->es_metric != LR_ES_NONE)
    join(s->regularizer, sizeof s->regularizer, "early_stop");
  if (c->lora_dropout > 0)
    join(s->regularizer, sizeof s->regularizer, "dropout");
  if (s->regularizer[0] == '\0')
    snprintf(s->regularizer, sizeof s->regularizer, "none");
  s->reg_strength = c->kl_weight > 0 ? c->kl_weight
                    : c->wd_b > 0    ? c->wd_b
                    : c->wd_a > 0    ? c->wd_a
                                     : c->lora_dropout;
  s->rank = c->rank;
  s->ensemble_size = c->ensemble_size;
  s->seed = c->seed;
  s->lr = c->lr;
  if (c->vary_init)
    join(s->randomness, sizeof s->randomness, "init");
  if (c->vary_data)
    join(s->randomness, sizeof s->randomness, "data");
  if (c->vary_dropout)
    join(s->randomness, sizeof s->randomness, "dropout");
  if (s->randomness[0] == '\0')
    snprintf(s->randomness, sizeof s->randomness, "none");
}
