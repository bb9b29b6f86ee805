/*
 * pretrain-config.c: MODEL.yaml -> lr_pretrain_config, every key checked against one table.
 */
#include "compat.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/canonical-json.h"
#include "base/file-util.h"
#include "base/suggest.h"
#include "base/yaml-tree.h"
#include "grid/run-config.h"
#include "pretrain/pretrain-config.h"

enum kind { K_INT, K_REAL, K_BOOL, K_SCHEDULE };

typedef struct key_spec {
  const char *section, *key;
  enum kind kind;
  size_t off;
  double lo, hi; /* inclusive range of numbers */
} key_spec;

#define F(field) offsetof(lr_pretrain_config, field)
static const key_spec keys[] = {
    {"model", "dim", K_INT, F(dim), 4, 8192},
    {"model", "layers", K_INT, F(layers), 1, 256},
    {"model", "heads", K_INT, F(heads), 1, 256},
    {"model", "kv_heads", K_INT, F(kv_heads), 1, 256},
    {"model", "hidden", K_INT, F(hidden), 0, 65536}, /* 0: 8/3 dim rounded up to 32 */
    {"model", "context", K_INT, F(context), 2, 65536},
    {"model", "tie_embeddings", K_BOOL, F(tie_embeddings), 0, 0},
    {"model", "rope_theta", K_REAL, F(rope_theta), 1, 1e9},
    {"model", "norm_eps", K_REAL, F(norm_eps), 1e-12, 1e-1},
    {"model", "init_std", K_REAL, F(init_std), 1e-6, 1},
    {"tokenizer", "vocab_size", K_INT, F(vocab_size), 258, 1 << 20},
    {"train", "steps", K_INT, F(steps), 0, 1e9},
    {"train", "batch", K_INT, F(batch), 1, 65536},
    {"train", "lr", K_REAL, F(lr), 0, 10},
    {"train", "min_lr", K_REAL, F(min_lr), 0, 1},
    {"train", "warmup", K_INT, F(warmup), 0, 1e9},
    {"train", "schedule", K_SCHEDULE, F(schedule), 0, 0},
    {"train", "weight_decay", K_REAL, F(weight_decay), 0, 100},
    {"train", "grad_clip", K_REAL, F(grad_clip), 0, 1e6},
    {"train", "beta1", K_REAL, F(beta1), 0, 0.999999},
    {"train", "beta2", K_REAL, F(beta2), 0, 0.999999},
    {"train", "adam_eps", K_REAL, F(adam_eps), 1e-30, 1},
    {"train", "seed", K_INT, F(seed), 0, (double)LONG_MAX},
    {"train", "checkpoint_every", K_INT, F(checkpoint_every), 1, 1e9},
};
#undef F

static const char *const sections[] = {"model", "tokenizer", "train"};
static const char *const schedules[] = {"constant", "linear", "cosine"};

void lr_pretrain_config_init(lr_pretrain_config *c) {
  memset(c, 0, sizeof *c);
  c->dim = 128;
  c->layers = 4;
  c->heads = 4;
  c->kv_heads = 0; /* = heads */
  c->hidden = 0;
  c->context = 128;
  c->tie_embeddings = true;
  c->rope_theta = 10000;
  c->norm_eps = 1e-5;
  c->init_std = 0.02;
  c->vocab_size = 512;
  c->steps = 1500;
  c->batch = 16;
  c->lr = 3e-3;
  c->min_lr = 0.1;
  c->warmup = 100;
  c->schedule = LR_SCHEDULE_COSINE;
  c->weight_decay = 0.1;
  c->grad_clip = 1.0;
  c->beta1 = 0.9;
  c->beta2 = 0.95;
  c->adam_eps = 1e-8;
  c->seed = 1;
  c->checkpoint_every = 100;
}

static lr_status set_value(const char *file, const key_spec *k, const lr_ynode *v,
                           lr_pretrain_config *c, lr_err *err) {
  long long i = 0;
  double d = 0;
  bool b = false;
  lr_yscalar t = v->kind == LR_YAML_SCALAR ? lr_yaml_scalar_type(v, &i, &d, &b) : LR_YS_NULL;
  char *p = (char *)c + k->off;
  if (v->kind != LR_YAML_SCALAR || t == LR_YS_NULL)
    return lr_fail_at(err, LR_EPARSE, file, v->line, v->col, "%s.%s: expected a value", k->section,
                      k->key);
  switch (k->kind) {
  case K_BOOL:
    if (t != LR_YS_BOOL)
      return lr_fail_at(err, LR_EPARSE, file, v->line, v->col, "%s.%s: expected true or false",
                        k->section, k->key);
    *(bool *)p = b;
    return LR_OK;
  case K_SCHEDULE:
    for (int s = 0; s < 3; s++)
      if (t == LR_YS_STRING && strcmp(v->text, schedules[s]) == 0) {
        *(int *)p = s;
        return LR_OK;
      }
    return lr_fail_at(err, LR_EPARSE, file, v->line, v->col,
                      "%s.%s: '%s' is not a schedule (constant, linear or cosine)", k->section,
                      k->key, v->text);
  case K_INT:
    if (t != LR_YS_INT || (double)i < k->lo || (double)i > k->hi)
      return lr_fail_at(err, LR_EPARSE, file, v->line, v->col,
                        "%s.%s: expected an integer in [%.0f, %.0f], not '%s'", k->section, k->key,
                        k->lo, k->hi, v->text);
    *(long *)p = (long)i;
    return LR_OK;
  case K_REAL:
    if (t == LR_YS_INT)
      d = (double)i;
    else if (t != LR_YS_REAL)
      d = NAN;
    if (!(d >= k->lo && d <= k->hi))
      return lr_fail_at(err, LR_EPARSE, file, v->line, v->col,
                        "%s.%s: expected a number in [%g, %g], not '%s'", k->section, k->key, k->lo,
                        k->hi, v->text);
    *(double *)p = d;
    return LR_OK;
  }
  return LR_OK;
}

static lr_status read_section(const char *file, const char *section, const lr_ynode *m,
                              lr_pretrain_config *c, lr_err *err) {
  if (m->kind != LR_YAML_MAP)
    return lr_fail_at(err, LR_EPARSE, file, m->line, m->col, "%s: expected a mapping", section);
  for (size_t i = 0; i < m->n; i++) {
    const char *name = m->keys[i]->text, *cands[LR_ARRAY_LEN(keys)];
    size_t n_cands = 0;
    const key_spec *k = NULL;
    for (size_t j = 0; j < LR_ARRAY_LEN(keys); j++) {
      if (strcmp(keys[j].section, section) != 0)
        continue;
      cands[n_cands++] = keys[j].key;
      if (strcmp(keys[j].key, name) == 0)
        k = &keys[j];
    }
    if (k == NULL) {
      const char *s = lr_suggest(name, cands, n_cands);
      return lr_fail_at(err, LR_EPARSE, file, m->keys[i]->line, m->keys[i]->col,
                        "%s: unknown key '%s'%s%s%s", section, name, s ? " (did you mean '" : "",
                        s ? s : "", s ? "'?)" : "");
    }
    lr_status rc = set_value(file, k, m->items[i], c, err);
    if (rc != LR_OK)
      return rc;
  }
  return LR_OK;
}

/* What single keys cannot say. */
static lr_status check(const char *file, lr_pretrain_config *c, lr_err *err) {
  if (c->kv_heads == 0)
    c->kv_heads = c->heads;
  if (c->hidden == 0)
    c->hidden = ((8 * c->dim / 3) + 31) / 32 * 32;
  if (c->dim % c->heads != 0 || (c->dim / c->heads) % 2 != 0)
    return lr_fail_at(err, LR_EINVAL, file, 0, 0,
                      "model.dim %ld must be a multiple of model.heads %ld with an even head size",
                      c->dim, c->heads);
  if (c->heads % c->kv_heads != 0)
    return lr_fail_at(err, LR_EINVAL, file, 0, 0,
                      "model.heads %ld must be a multiple of model.kv_heads %ld", c->heads,
                      c->kv_heads);
  if (c->warmup > c->steps)
    return lr_fail_at(err, LR_EINVAL, file, 0, 0, "train.warmup %ld exceeds train.steps %ld",
                      c->warmup, c->steps);
  return LR_OK;
}

lr_status lr_pretrain_config_load(const char *path, lr_pretrain_config *c, lr_err *err) {
  char *text = NULL;
  lr_ynode *root = NULL;
  size_t len = 0;
  lr_status rc = lr_read_file(path, (size_t)1 << 20, "model configuration", &text, &len, err);
  if (rc == LR_OK)
    rc = lr_yaml_parse(path, text, len, &root, err);
  if (rc == LR_OK && root->kind != LR_YAML_MAP)
    rc = lr_fail_at(err, LR_EPARSE, path, root->line, root->col,
                    "expected a mapping with model, tokenizer and train");
  for (size_t i = 0; rc == LR_OK && i < root->n; i++) {
    const char *name = root->keys[i]->text;
    size_t s = 0;
    while (s < LR_ARRAY_LEN(sections) && strcmp(sections[s], name) != 0)
      s++;
    if (s == LR_ARRAY_LEN(sections)) {
      const char *sug = lr_suggest(name, sections, LR_ARRAY_LEN(sections));
      rc = lr_fail_at(err, LR_EPARSE, path, root->keys[i]->line, root->keys[i]->col,
                      "unknown section '%s'%s%s%s (expected model, tokenizer or train)", name,
                      sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
      break;
    }
    rc = read_section(path, name, root->items[i], c, err);
  }
  if (rc == LR_OK)
    rc = check(path, c, err);
  lr_ynode_free(root);
  free(text);
  return rc;
}

char *lr_pretrain_config_json(const lr_pretrain_config *c) {
  json_t *root = json_object(), *sec[3] = {json_object(), json_object(), json_object()};
  char *out = NULL;
  for (int s = 0; s < 3; s++)
    json_object_set_new(root, sections[s], sec[s]);
  for (size_t i = 0; i < LR_ARRAY_LEN(keys); i++) {
    const key_spec *k = &keys[i];
    const char *p = (const char *)c + k->off;
    json_t *obj = json_object_get(root, k->section), *v = NULL;
    switch (k->kind) {
    case K_INT: v = json_integer(*(const long *)p); break;
    case K_REAL: v = json_real(*(const double *)p); break;
    case K_BOOL: v = json_boolean(*(const bool *)p); break;
    case K_SCHEDULE: v = json_string(schedules[*(const int *)p]); break;
    }
    json_object_set_new(obj, k->key, v);
  }
  out = lr_json_canonical(root, NULL);
  json_decref(root);
  return out;
}
