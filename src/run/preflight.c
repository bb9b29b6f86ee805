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

/* The keys already checked (a backend's name, a rank on a model, prompts on a data set), so that a
 * grid of a thousand cells over one model checks each thing once. */
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

/* A model with its tokenizer, loaded once: its sizes (tensors released) and its tokenizer stay
 * for the checks that depend on the cell (the rank, the prompts). */
typedef struct loaded_model {
  char *key;
  bool ok;
  lorens_model sizes;
  lr_tokenizer *tok;
} loaded_model;

/* A data set, loaded once. */
typedef struct loaded_data {
  char *key;
  bool ok;
  lr_dataset ds;
} loaded_data;

typedef struct checker {
  const lr_grid *g;
  const lr_preflight_opts *o;
  FILE *report;
  seen_set seen;
  size_t problems;
  loaded_model *models;
  size_t n_models, cap_models;
  loaded_data *data;
  size_t n_data, cap_data;
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

/* The cell's model and tokenizer, loaded (and reported) the first time; NULL when they do not
 * load. */
static const loaded_model *model_of(checker *k, const lr_run_config *c) {
  char *key = NULL;
  loaded_model *m = NULL;
  lr_model model;
  lr_err err;
  if (asprintf(&key, "%s\t%s", c->model, c->tokenizer ? c->tokenizer : "") < 0)
    return NULL;
  for (size_t i = 0; i < k->n_models && !m; i++)
    if (strcmp(k->models[i].key, key) == 0)
      m = &k->models[i];
  if (m || LR_GROW(k->models, k->cap_models, k->n_models + 1, NULL) != LR_OK) {
    free(key);
    return m && m->ok ? m : NULL;
  }
  m = &k->models[k->n_models++];
  memset(m, 0, sizeof *m);
  m->key = key;
  memset(&model, 0, sizeof model);
  lr_err_init(&err);
  if (lr_inputs_load_model(k->g->base_dir, c, &model, &m->tok, &err) != LR_OK) {
    report(k, &err);
  } else {
    m->ok = true;
    m->sizes = model.abi;
    memset(&m->sizes.embed, 0, sizeof m->sizes.embed);
    memset(&m->sizes.final_norm, 0, sizeof m->sizes.final_norm);
    memset(&m->sizes.lm_head, 0, sizeof m->sizes.lm_head);
    m->sizes.layers = NULL;
  }
  lr_model_release(&model);
  return m->ok ? m : NULL;
}

/* A data set, loaded (and reported) the first time; NULL when it does not load. */
static const loaded_data *data_of(checker *k, const lr_data_spec *d) {
  char *key = NULL;
  loaded_data *e = NULL;
  lr_err err;
  if (asprintf(&key, "%s\t%d\t%s\t%s\t%s\t%s", d->name, (int)d->format, d->path,
               d->subjects ? d->subjects : "", d->group ? d->group : "",
               d->split ? d->split : "") < 0)
    return NULL;
  for (size_t i = 0; i < k->n_data && !e; i++)
    if (strcmp(k->data[i].key, key) == 0)
      e = &k->data[i];
  if (e || LR_GROW(k->data, k->cap_data, k->n_data + 1, NULL) != LR_OK) {
    free(key);
    return e && e->ok ? e : NULL;
  }
  e = &k->data[k->n_data++];
  memset(e, 0, sizeof *e);
  e->key = key;
  lr_dataset_init(&e->ds);
  lr_err_init(&err);
  if (lr_inputs_load_data(k->g->base_dir, d, &e->ds, &err) != LR_OK)
    report(k, &err);
  else
    e->ok = true;
  return e->ok ? e : NULL;
}

static void check_rank(checker *k, const lr_run_config *c, const loaded_model *m) {
  char *key = NULL, warn[256];
  lr_err err;
  if (asprintf(&key, "rank\t%s\t%u\t%ld", m->key, (unsigned)c->targets, c->rank) < 0)
    return;
  if (first_time(&k->seen, key)) {
    lr_err_init(&err);
    if (lr_inputs_check_rank(c, &m->sizes, warn, sizeof warn, &err) != LR_OK) {
      lr_err_prefix(&err, "%s: ", c->model);
      report(k, &err);
    } else if (warn[0]) {
      fprintf(k->report, "lorens: warning: %s: %s\n", c->model, warn);
    }
  }
  free(key);
}

/* Every example of a set against the model's context, as the worker renders it: one error with
 * every example that does not fit (a run has no skip mode). */
static void check_prompts(checker *k, const lr_run_config *c, const loaded_model *m,
                          const lr_data_spec *spec, bool training) {
  const loaded_data *d = data_of(k, spec);
  char *key = NULL;
  lr_prompt_report rep;
  lr_err err;
  if (d == NULL ||
      asprintf(&key, "prompts\t%s\t%s\t%s\t%d\t%ld\t%ld\t%ld\t%d", m->key, d->key,
               c->template_name ? c->template_name : "", (int)c->bos, c->prompt_max_len,
               training ? c->train_max_len : 0, spec->limit, (int)training) < 0)
    return;
  if (first_time(&k->seen, key)) {
    lr_prompt_report_init(&rep);
    lr_err_init(&err);
    if (lr_inputs_check_prompts(c, &m->sizes, m->tok, spec, &d->ds, training, &rep, &err) !=
        LR_OK) {
      report(k, &err);
    } else if (lr_prompt_report_check(&rep, &err) != LR_OK) {
      lr_err_prefix(&err, "%s set '%s': ", training ? "training" : "evaluation", spec->name);
      report(k, &err);
    }
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
  checker k;
  memset(&k, 0, sizeof k);
  k.g = g;
  k.o = o;
  k.report = out;
  if (o->db_path)
    check_runs_dir(&k);
  for (size_t i = 0; i < g->n_cells; i++) {
    const loaded_model *m;
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
    m = model_of(&k, &c);
    if (m)
      check_rank(&k, &c, m);
    /* Data sets are loaded (and reported) whether or not the model loaded. */
    if (m && c.epochs > 0)
      check_prompts(&k, &c, m, &c.train, true);
    else
      data_of(&k, &c.train);
    for (size_t e = 0; e <= c.n_eval; e++) {
      const lr_data_spec *spec = e < c.n_eval ? &c.eval[e] : c.has_validation ? &c.validation : NULL;
      if (spec && m)
        check_prompts(&k, &c, m, spec, false);
      else if (spec)
        data_of(&k, spec);
    }
    lr_run_config_release(&c);
  }
  seen_release(&k.seen);
  for (size_t i = 0; i < k.n_models; i++) {
    free(k.models[i].key);
    lr_tokenizer_free(k.models[i].tok);
  }
  free(k.models);
  for (size_t i = 0; i < k.n_data; i++) {
    free(k.data[i].key);
    lr_dataset_release(&k.data[i].ds);
  }
  free(k.data);
  return k.problems;
}
