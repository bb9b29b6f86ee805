/*
 * preflight.c: checking a sweep's inputs before its runs start (see preflight.h).
 */
#include "compat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "model/backend-session.h"
#include "run/preflight.h"
#include "run/run-inputs.h"

/* The keys already checked (a backend's name, a model and tokenizer, a data set), so that a grid
 * of a thousand cells over one model loads it once. */
typedef struct seen_set {
  char **keys;
  size_t n, cap;
} seen_set;

/* True the first time key is met (and remembers it); false after, or when out of memory. */
static bool first_time(seen_set *s, const char *key) {
  char *copy;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->keys[i], key) == 0)
      return false;
  if (LR_GROW(s->keys, s->cap, s->n + 1, NULL) != LR_OK || (copy = strdup(key)) == NULL)
    return false;
  s->keys[s->n++] = copy;
  return true;
}

static void seen_release(seen_set *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->keys[i]);
  free(s->keys);
}

typedef struct model_sizes model_sizes;

typedef struct checker {
  const lr_grid *g;
  const lr_preflight_opts *o;
  FILE *report;
  seen_set seen;
  size_t problems;
  model_sizes *models;
  size_t n_models, cap_models;
} checker;

static void report(checker *k, lr_err *err) {
  lr_err_print(err, k->report);
  k->problems++;
  lr_err_init(err);
}

static void check_backend(checker *k, const lr_run_config *c) {
  char key[160];
  lr_err err;
  snprintf(key, sizeof key, "backend\t%s", c->backend);
  if (!first_time(&k->seen, key))
    return;
  lr_err_init(&err);
  if (lr_backend_check(c->backend, k->o->backend_dirs, k->o->n_backend_dirs, &err) != LR_OK)
    report(k, &err);
}

/* Each model's sizes (its tensors released), for the checks that depend on the cell. */
typedef struct model_sizes {
  char *key;
  bool loaded;
  lorens_model sizes; /* tensors cleared */
} model_sizes;

static const model_sizes *sizes_of(checker *k, const char *key) {
  for (size_t i = 0; i < k->n_models; i++)
    if (strcmp(k->models[i].key, key) == 0)
      return &k->models[i];
  return NULL;
}

static void check_model(checker *k, const lr_run_config *c) {
  char *key = NULL, warn[256], *rank_key = NULL;
  const model_sizes *ms;
  lr_model model;
  lr_tokenizer *tok = NULL;
  lr_err err;
  if (asprintf(&key, "model\t%s\t%s", c->model, c->tokenizer ? c->tokenizer : "") < 0)
    return;
  if (first_time(&k->seen, key) && LR_GROW(k->models, k->cap_models, k->n_models + 1, NULL) == LR_OK) {
    model_sizes *m = &k->models[k->n_models++];
    memset(m, 0, sizeof *m);
    m->key = strdup(key);
    memset(&model, 0, sizeof model);
    lr_err_init(&err);
    if (lr_inputs_load_model(k->g->base_dir, c, &model, &tok, &err) != LR_OK) {
      report(k, &err);
    } else {
      m->loaded = true;
      m->sizes = model.abi;
      memset(&m->sizes.embed, 0, sizeof m->sizes.embed);
      memset(&m->sizes.final_norm, 0, sizeof m->sizes.final_norm);
      memset(&m->sizes.lm_head, 0, sizeof m->sizes.lm_head);
      m->sizes.layers = NULL;
    }
    lr_tokenizer_free(tok);
    lr_model_release(&model);
  }
  ms = sizes_of(k, key);
  if (ms && ms->loaded &&
      asprintf(&rank_key, "rank\t%s\t%u\t%ld", key, (unsigned)c->targets, c->rank) >= 0 &&
      first_time(&k->seen, rank_key)) {
    lr_err_init(&err);
    if (lr_inputs_check_rank(c, &ms->sizes, warn, sizeof warn, &err) != LR_OK) {
      lr_err_prefix(&err, "%s: ", c->model);
      report(k, &err);
    } else if (warn[0]) {
      fprintf(k->report, "lorens: warning: %s: %s\n", c->model, warn);
    }
  }
  free(rank_key);
  free(key);
}

static void check_data(checker *k, const lr_data_spec *d) {
  char *key = NULL;
  lr_dataset ds;
  lr_err err;
  if (asprintf(&key, "data\t%s\t%d\t%s\t%s\t%s\t%s", d->name, (int)d->format, d->path,
               d->subjects ? d->subjects : "", d->group ? d->group : "",
               d->split ? d->split : "") < 0)
    return;
  if (first_time(&k->seen, key)) {
    lr_dataset_init(&ds);
    lr_err_init(&err);
    if (lr_inputs_load_data(k->g->base_dir, d, &ds, &err) != LR_OK)
      report(k, &err);
    lr_dataset_release(&ds);
  }
  free(key);
}

/* DB.runs must be a directory, or be possible to make: the worker puts each run's adapters
 * there.  Nothing is created here, so that a sweep refused leaves no trace. */
static void check_runs_dir(checker *k) {
  char *dir = NULL, *parent = NULL, *slash;
  struct stat st;
  lr_err err;
  lr_err_init(&err);
  if (asprintf(&dir, "%s.runs", k->o->db_path) < 0 || (parent = strdup(dir)) == NULL) {
    free(dir);
    return;
  }
  slash = strrchr(parent, '/');
  if (slash == NULL)
    strcpy(parent, ".");
  else
    slash[slash == parent ? 1 : 0] = '\0';
  if (stat(dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      lr_fail_at(&err, LR_EINVAL, dir, 0, 0,
                 "is not a directory; lorens keeps each run's adapters there (move it away)");
  } else if (errno != ENOENT) {
    lr_fail_at(&err, LR_EIO, dir, 0, 0, "cannot use the runs directory: %s", strerror(errno));
  } else if (access(parent, W_OK | X_OK) != 0) {
    lr_fail_at(&err, LR_EIO, dir, 0, 0, "cannot create the runs directory: %s", strerror(errno));
  }
  if (err.code != LR_OK)
    report(k, &err);
  free(parent);
  free(dir);
}

size_t lr_preflight(const lr_grid *g, const lr_preflight_opts *o, FILE *out) {
  checker k = {g, o, out, {NULL, 0, 0}, 0, NULL, 0, 0};
  if (o->db_path)
    check_runs_dir(&k);
  for (size_t i = 0; i < g->n_cells; i++) {
    lr_run_config c;
    lr_err err;
    lr_err_init(&err);
    memset(&c, 0, sizeof c);
    if (lr_run_config_parse(g->cells[i].canonical, &c, &err) != LR_OK) {
      report(&k, &err);
      lr_run_config_release(&c);
      continue;
    }
    check_backend(&k, &c);
    check_model(&k, &c);
    check_data(&k, &c.train);
    if (c.has_validation)
      check_data(&k, &c.validation);
    for (size_t e = 0; e < c.n_eval; e++)
      check_data(&k, &c.eval[e]);
    lr_run_config_release(&c);
  }
  seen_release(&k.seen);
  for (size_t i = 0; i < k.n_models; i++)
    free(k.models[i].key);
  free(k.models);
  return k.problems;
}
