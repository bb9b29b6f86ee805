/*
 * worker.c: carries out one run (see worker.h).
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters.h"
#include "evaluate.h"
#include "member-seeds.h"
#include "model.h"
#include "plugin-loader.h"
#include "proc-util.h"
#include "run-config.h"
#include "run-eval.h"
#include "store-results.h"
#include "store-runs.h"
#include "store.h"
#include "tokenizer.h"
#include "worker.h"

/* An evaluation set: the data as loaded, the part the run uses, and its scores. */
typedef struct eval_set {
  const lr_data_spec *spec;
  lr_dataset data;
  lr_set_scores scores;
  size_t done;       /* examples scored so far */
  int progress_fd;
  double reported;   /* when progress was last reported (monotonic seconds) */
} eval_set;

/* Everything one run holds, released together. */
typedef struct run_state {
  const lr_worker_opts *o;
  lr_store *store;
  int64_t run_id;
  char *config_json, *base_dir;
  lr_run_config cfg;
  lr_model model;
  lr_tokenizer *tok;
  lr_dataset train;
  eval_set *sets;
  size_t n_sets;
  lr_member_seeds *seeds;
  lr_search_path sp;
  lr_plugin_list plugins;
  lorens_host host;
  const lorens_backend *be;
  lorens_session *session;
} run_state;

static void progress(int fd, const char *fmt, ...) LR_PRINTF(2, 3);
static void progress(int fd, const char *fmt, ...) {
  char line[512];
  va_list ap;
  int n;
  if (fd < 0)
    return;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n > sizeof line - 2)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* A scheduler that went away must not stop the run: errors here are ignored. */
  if (write(fd, line, (size_t)n) < 0)
    return;
}

static lr_status load_run(run_state *r, lr_err *err) {
  sqlite3_stmt *st = NULL;
  lr_status rc = LR_OK;
  if (sqlite3_prepare_v2(lr_store_db(r->store),
                         "SELECT r.id, r.config, s.base_dir FROM runs r JOIN sweeps s ON s.id = "
                         "r.sweep_id WHERE r.run_key = ?1 AND r.claim = ?2 AND r.status = "
                         "'running'",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_store_fail(r->store, err, "reading the run");
  sqlite3_bind_text(st, 1, r->o->run_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->o->claim, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    r->run_id = sqlite3_column_int64(st, 0);
    r->config_json = strdup((const char *)sqlite3_column_text(st, 1));
    r->base_dir = strdup((const char *)sqlite3_column_text(st, 2));
    if (!r->config_json || !r->base_dir)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
  } else {
    rc = lr_fail(err, LR_ENOTFOUND, "%s: no run %s claimed by this attempt",
                 lr_store_path(r->store), r->o->run_key);
  }
  sqlite3_finalize(st);
  return rc == LR_OK ? lr_run_config_parse(r->config_json, &r->cfg, err) : rc;
}

/* Loads one data set, relative to the grid's directory, keeping its first `limit` examples. */
static lr_status load_data(const run_state *r, const lr_data_spec *d, lr_dataset *out,
                           lr_err *err) {
  lr_dataset_opts opts = {LR_ON_ERROR_FAIL, d->subjects, d->group, d->split};
  char *path = lr_path_resolve(r->base_dir, d->path);
  lr_status rc = path ? lr_dataset_load(path, d->format, &opts, out, err)
                      : lr_fail(err, LR_ENOMEM, "out of memory");
  free(path);
  if (rc != LR_OK)
    lr_err_prefix(err, "data set '%s': ", d->name);
  return rc;
}

static lr_status load_inputs(run_state *r, lr_err *err) {
  char *model_dir = lr_path_resolve(r->base_dir, r->cfg.model), *tok_path = NULL;
  lr_status rc = model_dir ? lr_model_load(model_dir, &r->model, err)
                           : lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK) {
    if (r->cfg.tokenizer)
      tok_path = lr_path_resolve(r->base_dir, r->cfg.tokenizer);
    else if (asprintf(&tok_path, "%s/tokenizer.json", model_dir) < 0)
      tok_path = NULL;
    rc = tok_path ? lr_tokenizer_load(tok_path, &r->tok, err)
                  : lr_fail(err, LR_ENOMEM, "out of memory");
  }
  if (rc == LR_OK && lr_tokenizer_vocab_size(r->tok) > (size_t)r->model.abi.vocab_size)
    rc = lr_fail_at(err, LR_EINVAL, tok_path, 0, 0, "has %zu tokens but the model's vocabulary is %d",
                    lr_tokenizer_vocab_size(r->tok), r->model.abi.vocab_size);
  free(model_dir);
  free(tok_path);
  if (rc != LR_OK)
    return rc;
  /* The training set is loaded (and so checked) even though only the trainer reads it. */
  if ((rc = load_data(r, &r->cfg.train, &r->train, err)) != LR_OK)
    return rc;
  r->n_sets = r->cfg.n_eval + (r->cfg.has_validation ? 1 : 0);
  r->sets = calloc(r->n_sets ? r->n_sets : 1, sizeof *r->sets);
  if (r->sets == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; i < r->n_sets && rc == LR_OK; i++) {
    eval_set *e = &r->sets[i];
    bool validation = r->cfg.has_validation && i == 0;
    e->spec = validation ? &r->cfg.validation : &r->cfg.eval[i - (r->cfg.has_validation ? 1 : 0)];
    lr_dataset_init(&e->data);
    rc = load_data(r, e->spec, &e->data, err);
    e->scores.split = validation ? "validation" : "eval";
    e->scores.dataset = e->spec->name;
    e->scores.ood = e->spec->ood;
    e->scores.data = &e->data;
    e->scores.n = e->spec->limit > 0 && (size_t)e->spec->limit < e->data.n ? (size_t)e->spec->limit
                                                                          : e->data.n;
    e->scores.members = (uint32_t)r->cfg.ensemble_size;
    e->progress_fd = r->o->progress_fd;
  }
  return rc;
}

/* Opens the session and gives each member its initial adapters (A from its init seed, B = 0). */
static lr_status open_session(run_state *r, lr_err *err) {
  uint32_t M = (uint32_t)r->cfg.ensemble_size;
  char msg[LORENS_MSG_MAX] = "";
  size_t n_sites = 0;
  uint64_t n = lr_adapter_layout(&r->model.abi, r->cfg.targets, (uint32_t)r->cfg.rank, NULL,
                                 &n_sites);
  float *w = malloc(n * sizeof *w);
  lr_status rc = w ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  lorens_session_desc d = {0};
  r->seeds = calloc(M, sizeof *r->seeds);
  if (rc == LR_OK && r->seeds == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    rc = lr_backend_find(r->cfg.backend, r->o->backend_dirs, r->o->n_backend_dirs, &r->host,
                         &r->sp, &r->plugins, &r->be, err);
  if (rc == LR_OK) {
    d.struct_size = sizeof d;
    d.n_members = M;
    d.model = &r->model.abi;
    d.lora_targets = r->cfg.targets;
    d.lora_rank = (uint32_t)r->cfg.rank;
    d.lora_alpha = (float)r->cfg.alpha;
    d.lora_rslora = r->cfg.rslora;
    d.lora_dropout = (float)r->cfg.lora_dropout;
    d.n_threads = (int32_t)r->o->threads;
    d.device = (int32_t)r->o->device;
    if (r->be->session_open(&d, &r->host, &r->session, msg, sizeof msg) != LORENS_OK)
      rc = lr_fail(err, LR_EBACKEND, "backend '%s': %s", r->cfg.backend, msg);
  }
  for (uint32_t m = 0; rc == LR_OK && m < M; m++) {
    lr_rng rng;
    lorens_member_state st = {w, NULL, NULL, 0};
    lr_member_seeds_of(r->cfg.seed, r->cfg.vary_init, r->cfg.vary_data, r->cfg.vary_dropout, m,
                       &r->seeds[m]);
    lr_rng_seed(&rng, r->seeds[m].init);
    lr_adapter_init(&r->model.abi, r->cfg.targets, (uint32_t)r->cfg.rank, &rng, w);
    if (r->be->member_set(r->session, m, &st, msg, sizeof msg) != LORENS_OK)
      rc = lr_fail(err, LR_EBACKEND, "backend '%s': %s", r->cfg.backend, msg);
  }
  free(w);
  return rc;
}

/* Keeps every member's probabilities of one example (an lr_score_fn). */
static lr_status keep_probs(void *ctx, size_t index, const lr_example *ex, const lr_prompt *p,
                            const double *probs, lr_err *err) {
  eval_set *e = ctx;
  size_t row = (size_t)e->scores.members * LR_DATASET_MAX_CHOICES;
  (void)ex;
  (void)p;
  (void)err;
  memcpy(e->scores.probs + index * row, probs, row * sizeof *probs);
  ++e->done;
  if (e->done == e->scores.n || lr_mono_time() - e->reported >= 0.2) {
    e->reported = lr_mono_time();
    progress(e->progress_fd, "phase=eval epoch=0 set=%s done=%zu total=%zu", e->spec->name,
             e->done, e->scores.n);
  }
  return LR_OK;
}

static lr_status evaluate(run_state *r, lr_err *err) {
  const lr_template *t;
  lr_scorer s = {r->be, r->session, r->cfg.backend, LORENS_SCORE_ALL,
                 (uint32_t)r->cfg.ensemble_size, r->model.abi.vocab_size, r->tok,
                 {NULL, r->cfg.bos, (size_t)r->cfg.prompt_max_len}, (size_t)r->cfg.batch_size};
  lr_status rc = lr_template_find(r->cfg.template_name, &t, err);
  s.prompt.tmpl = t;
  for (size_t i = 0; rc == LR_OK && i < r->n_sets; i++) {
    eval_set *e = &r->sets[i];
    lr_dataset view = e->data;
    view.n = e->scores.n;
    e->scores.probs = calloc(e->scores.n * s.members * LR_DATASET_MAX_CHOICES + 1,
                             sizeof *e->scores.probs);
    if (e->scores.probs == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    rc = lr_score_dataset(&s, &view, keep_probs, e, err);
    if (rc != LR_OK)
      lr_err_prefix(err, "scoring '%s': ", e->spec->name);
  }
  return rc;
}

/* Members, every set's evaluations and predictions, and the run done: one transaction. */
static lr_status store_results(run_state *r, lr_err *err) {
  uint32_t M = (uint32_t)r->cfg.ensemble_size;
  lr_eval_row *rows = calloc(2 * (size_t)M, sizeof *rows);
  lr_status rc = rows ? lr_store_begin(r->store, err) : lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc != LR_OK) {
    free(rows);
    return rc;
  }
  rc = lr_runs_check_claim(r->store, r->run_id, r->o->claim, err);
  if (rc == LR_OK)
    rc = lr_results_members(r->store, r->run_id, M, r->seeds, err);
  for (size_t i = 0; rc == LR_OK && i < r->n_sets; i++) {
    lr_eval_rows(&r->sets[i].scores, LR_ECE_BINS_DEFAULT, rows);
    rc = lr_results_set(r->store, r->run_id, 0, &r->sets[i].scores, rows, err);
  }
  if (rc == LR_OK)
    rc = lr_results_finish(r->store, r->run_id, r->o->claim, "done", err);
  if (rc == LR_OK)
    rc = lr_store_commit(r->store, err);
  else
    lr_store_rollback(r->store);
  free(rows);
  return rc;
}

static void release(run_state *r) {
  if (r->session)
    r->be->session_close(r->session);
  lr_plugin_list_release(&r->plugins);
  lr_search_path_release(&r->sp);
  for (size_t i = 0; r->sets && i < r->n_sets; i++) {
    lr_dataset_release(&r->sets[i].data);
    free(r->sets[i].scores.probs);
  }
  free(r->sets);
  free(r->seeds);
  lr_dataset_release(&r->train);
  lr_tokenizer_free(r->tok);
  lr_model_release(&r->model);
  lr_run_config_release(&r->cfg);
  free(r->config_json);
  free(r->base_dir);
  lr_store_close(r->store);
}

lr_status lr_worker_run(const lr_worker_opts *o, lr_err *err) {
  run_state r = {0};
  lr_status rc;
  r.o = o;
  lr_host_init(&r.host);
  lr_dataset_init(&r.train);
  rc = lr_store_open(o->db, 0, &r.store, err);
  if (rc == LR_OK)
    rc = load_run(&r, err);
  if (rc == LR_OK) {
    progress(o->progress_fd, "phase=load");
    rc = load_inputs(&r, err);
  }
  if (rc == LR_OK)
    rc = open_session(&r, err);
  if (rc == LR_OK)
    rc = evaluate(&r, err);
  if (rc == LR_OK) {
    progress(o->progress_fd, "phase=store");
    rc = store_results(&r, err);
  }
  release(&r);
  return rc;
}
