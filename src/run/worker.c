/*
 * worker.c: carries out one run (see worker.h).
 *
 * Order of work: load everything, render and tokenize every data set (each example checked
 * against the model's context), and open the session (members start from their init seeds);
 * resume from the run's checkpoint when there is one, else clear what an earlier attempt left and
 * store the members and the epoch-0 evaluation; then per epoch train, evaluate (every eval_every
 * epochs and at the last), update early stopping, and store the epoch (train log, evaluations,
 * predictions, members) in one transaction, then write the checkpoint.  Writing the rows before
 * the checkpoint means a crash between the two redoes an epoch rather than losing one.  At the end
 * the adapters are saved in PEFT layout, the members' best epochs are evaluated as an ensemble,
 * and the run is marked done in the last transaction.
 */
#include "compat.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/proc-util.h"
#include "grid/grid.h"
#include "grid/run-config.h"
#include "model/adapters.h"
#include "model/backend-session.h"
#include "model/model.h"
#include "model/peft.h"
#include "run/run-clock.h"
#include "run/run-inputs.h"
#include "run/worker.h"
#include "store/store-results.h"
#include "store/store-runs.h"
#include "store/store.h"
#include "text/tokenizer.h"
#include "train/checkpoint.h"
#include "train/early-stop.h"
#include "train/evaluate.h"
#include "train/member-seeds.h"
#include "train/run-eval.h"
#include "train/trainer.h"

/* An evaluation set: the data as loaded, the part the run uses, its scores and rows. */
typedef struct eval_set {
  struct run_state *run;
  const lr_data_spec *spec;
  lr_dataset data;
  lr_set_scores scores;
  lr_eval_row *rows;  /* 2 * members */
  lr_prompt *prompts; /* its examples' prompts, built once */
  size_t done;        /* examples scored so far */
  uint32_t scored;    /* members the scorer returns: scores.members, or 1 for all alike */
  long epoch;
  int progress_fd;
  double reported;    /* when progress was last reported (monotonic seconds) */
} eval_set;

/* Everything one run holds, released together. */
typedef struct run_state {
  const lr_worker_opts *o;
  lr_store *store;
  int64_t run_id;
  char *config_json, *base_dir, *art_dir;
  lr_run_config cfg;
  uint32_t M;
  lr_model model;
  lr_tokenizer *tok;
  lr_dataset train;
  lr_train_set train_set;
  eval_set *sets;
  size_t n_sets;
  eval_set *validation;       /* the validation set among sets, or NULL */
  lr_member_seeds *seeds;
  lr_backend backend;
  lr_session session;
  uint64_t n_params;
  lr_ckpt_member *ck;         /* per member: state buffers and early stopping */
  lr_member_train *mstate;    /* per member: still training, diverged (the trainer updates it) */
  lr_trainer trainer;
  lr_run_clock clock;         /* the run's pace, for the time left in its progress lines */
  double pass_done;           /* units of this evaluation pass done before the set in progress */
  double pass_total;          /* and in all (examples x members scored) */
  bool final_pass;            /* the pass is the last one (members at their best epoch) */
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

static bool es_on(const run_state *r) {
  return r->cfg.es_metric != LR_ES_NONE;
}

/* ---- loading ------------------------------------------------------------------------------- */

static lr_status load_run(run_state *r, lr_err *err) {
  lr_status rc = lr_runs_load_claimed(r->store, r->o->run_key, r->o->claim, &r->run_id,
                                      &r->config_json, &r->base_dir, err);
  if (rc == LR_OK)
    rc = lr_run_config_parse(r->config_json, &r->cfg, err);
  r->M = (uint32_t)r->cfg.ensemble_size;
  return rc;
}


static lr_status load_inputs(run_state *r, lr_err *err) {
  char warn[256];
  lr_status rc = lr_inputs_load_model(r->base_dir, &r->cfg, &r->model, &r->tok, err);
  if (rc == LR_OK && (rc = lr_inputs_check_rank(&r->cfg, &r->model.abi, warn, sizeof warn, err)) ==
                         LR_OK && warn[0])
    fprintf(stderr, "lorens worker: warning: %s\n", warn);
  if (rc != LR_OK || (rc = lr_inputs_load_data(r->base_dir, &r->cfg.train, &r->train, err)) != LR_OK)
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
    rc = lr_inputs_load_data(r->base_dir, e->spec, &e->data, err);
    e->scores.split = validation ? "validation" : "eval";
    e->scores.dataset = e->spec->name;
    e->scores.ood = e->spec->ood;
    e->scores.data = &e->data;
    e->scores.n = lr_inputs_limited(e->spec, e->data.n);
    e->scores.members = r->M;
    e->progress_fd = r->o->progress_fd;
    e->run = r;
    e->scores.probs = calloc(e->scores.n * r->M * LR_DATASET_MAX_CHOICES + 1,
                             sizeof *e->scores.probs);
    e->rows = calloc(2 * (size_t)r->M, sizeof *e->rows);
    if (rc == LR_OK && (!e->scores.probs || !e->rows))
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    if (validation)
      r->validation = e;
  }
  return rc;
}

/* Opens the session and gives each member its initial adapters (A from its init seed, B = 0). */
static lr_status open_session(run_state *r, lr_err *err) {
  size_t n_sites = 0;
  lr_status rc = LR_OK;
  r->n_params = lr_adapter_layout(&r->model.abi, r->cfg.targets, (uint32_t)r->cfg.rank, NULL,
                                  &n_sites);
  r->seeds = calloc(r->M, sizeof *r->seeds);
  r->ck = calloc(r->M, sizeof *r->ck);
  r->mstate = calloc(r->M, sizeof *r->mstate);
  if (!r->seeds || !r->ck || !r->mstate)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; m < r->M; m++) {
    lr_ckpt_member *c = &r->ck[m];
    size_t bytes = (size_t)r->n_params * sizeof(float) + 1;
    c->weights = malloc(bytes);
    c->adam_m = malloc(bytes);
    c->adam_v = malloc(bytes);
    c->best = es_on(r) ? calloc(1, bytes) : NULL;
    r->mstate[m].training = r->cfg.epochs > 0;
    if (!c->weights || !c->adam_m || !c->adam_v || (es_on(r) && !c->best))
      return lr_fail(err, LR_ENOMEM, "out of memory for the members' state (%u x %llu floats)",
                     r->M, (unsigned long long)r->n_params);
  }
  rc = lr_backend_open(&r->backend, r->cfg.backend, r->o->backend_dirs, r->o->n_backend_dirs,
                       err);
  /* Checked before any work: a 1.0 plugin would silently apply decoupled decay instead. */
  if (rc == LR_OK && r->cfg.wd_mode == LR_WD_L2)
    rc = lr_backend_require(&r->backend, LR_FEATURE_L2_DECAY, err);
  /* Cloze training packs each example's choices after its prompt (plugin ABI 1.4). */
  if (rc == LR_OK && r->train_set.choice_len)
    rc = lr_backend_require(&r->backend, LR_FEATURE_CHOICE_SPANS, err);
  if (rc == LR_OK) {
    lr_session_params p = {
        .n_members = r->M,
        .model = &r->model.abi,
        .lora_targets = r->cfg.targets,
        .lora_rank = (uint32_t)r->cfg.rank,
        .lora_alpha = (float)r->cfg.alpha,
        .lora_rslora = r->cfg.rslora,
        .lora_dropout = (float)r->cfg.lora_dropout,
        .n_threads = (int32_t)r->o->threads,
        .device = (int32_t)r->o->device,
        .micro_batch_tokens = (uint32_t)r->o->micro_batch_tokens,
        .precision = (uint32_t)r->cfg.precision,
    };
    rc = lr_session_open(&r->session, &r->backend, &p, err);
    if (rc == LR_OK && r->session.precision != p.precision)
      fprintf(stderr, "lorens worker: warning: precision %s asked, backend '%s' computes %s here "
              "(see `lorens backends`)\n", lr_precision_name(p.precision), r->cfg.backend,
              lr_precision_name(r->session.precision));
  }
  for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
    lr_rng rng;
    lorens_member_state st = {r->ck[m].weights, NULL, NULL, 0};
    lr_member_seeds_of(r->cfg.seed, r->cfg.vary_init, r->cfg.vary_data, r->cfg.vary_dropout, m,
                       &r->seeds[m]);
    lr_rng_seed(&rng, r->seeds[m].init);
    lr_adapter_init(&r->model.abi, r->cfg.targets, (uint32_t)r->cfg.rank, &rng, r->ck[m].weights);
    rc = lr_session_member_set(&r->session, m, &st, err);
  }
  return rc;
}

/* The run's own directory beside the database: DB.runs/RUN_KEY (checkpoint, adapters). */
static lr_status make_art_dir(run_state *r, lr_err *err) {
  char *top = NULL;
  lr_status rc = lr_store_runs_dir(r->store, &top, err);
  if (rc == LR_OK && asprintf(&r->art_dir, "%s/%s", top, r->o->run_key) < 0) {
    r->art_dir = NULL;
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  }
  if (rc == LR_OK && mkdir(top, 0777) != 0 && errno != EEXIST)
    rc = lr_fail_at(err, lr_io_status(errno), top, 0, 0, "cannot create the runs directory: %s",
                    strerror(errno));
  if (rc == LR_OK && mkdir(r->art_dir, 0777) != 0 && errno != EEXIST)
    rc = lr_fail_at(err, lr_io_status(errno), r->art_dir, 0, 0, "cannot create the run's directory: %s",
                    strerror(errno));
  free(top);
  return rc;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

/* Keeps every member's probabilities of one example (an lr_score_fn). */
static lr_status keep_probs(void *ctx, size_t index, const lr_example *ex, const lr_prompt *p,
                            const double *probs, lr_err *err) {
  eval_set *e = ctx;
  size_t K = LR_DATASET_MAX_CHOICES;
  double *out = e->scores.probs + index * e->scores.members * K;
  (void)ex;
  (void)p;
  (void)err;
  for (uint32_t m = 0; m < e->scores.members; m++)
    memcpy(out + m * K, probs + (m % e->scored) * K, K * sizeof *probs);
  ++e->done;
  if (e->done == e->scores.n || lr_mono_time() - e->reported >= 0.2) {
    const run_state *r = e->run;
    double now = lr_mono_time();
    double left = lr_clock_left(&r->clock, e->epoch, r->final_pass,
                                r->pass_done + (double)e->done * e->scored, r->pass_total, now);
    e->reported = now;
    progress(e->progress_fd, "phase=eval epoch=%ld set=%s done=%zu total=%zu left=%.0f", e->epoch,
             e->spec->name, e->done, e->scores.n, left < 0 ? -1 : left);
  }
  return LR_OK;
}

/*
 * OOD detection for every set marked ood: AUROCs against the in-distribution reference, the
 * first evaluation set not marked ood (the validation set when there is none).
 */
static lr_status ood_rows(run_state *r, lr_err *err) {
  const eval_set *id = NULL;
  lr_status rc = LR_OK;
  for (size_t i = 0; i < r->n_sets && id == NULL; i++)
    if (!r->sets[i].spec->ood && &r->sets[i] != r->validation)
      id = &r->sets[i];
  if (id == NULL)
    id = r->validation;
  for (size_t i = 0; id && rc == LR_OK && i < r->n_sets; i++)
    if (r->sets[i].spec->ood)
      rc = lr_eval_ood(&id->scores, &r->sets[i].scores, r->sets[i].rows, err);
  return rc;
}

/* The work of one evaluation pass in which `members` are scored: examples x members, over every
 * set (the unit the run's clock prices evaluation in). */
static double pass_units(const run_state *r, uint32_t members) {
  double units = 0;
  for (size_t i = 0; i < r->n_sets; i++)
    units += (double)r->sets[i].scores.n * members;
  return units;
}

/* How every evaluation scores: the run's template, BOS and max_len, within the context. */
static lr_status eval_scorer(run_state *r, lr_scorer *s, lr_err *err) {
  lr_prompt_opts po;
  bool fold;
  lr_status rc = lr_inputs_prompt_opts(&r->cfg, &r->model.abi, false, &po, &fold, err);
  *s = (lr_scorer){&r->session, LORENS_SCORE_ALL, r->M, r->model.abi.vocab_size, r->tok, po,
                   (size_t)r->cfg.batch_size, fold, NULL};
  return rc;
}

/*
 * Scores every set with every member and computes its rows.  alike: every member still has
 * B = 0 (a fresh run's epoch 0), so each is exactly the base model, which is scored once for
 * all of them (the backend's contract, tested by test-cpu-backend).
 */
static lr_status evaluate(run_state *r, long epoch, bool alike, lr_err *err) {
  lr_scorer s;
  lr_status rc = eval_scorer(r, &s, err);
  if (alike) {
    s.which = LORENS_SCORE_BASE;
    s.members = 1;
  }
  r->pass_done = 0;
  r->pass_total = pass_units(r, s.members);
  lr_clock_begin(&r->clock, LR_CLOCK_EVAL, lr_mono_time());
  for (size_t i = 0; rc == LR_OK && i < r->n_sets; i++) {
    eval_set *e = &r->sets[i];
    lr_dataset view = e->data;
    view.n = e->scores.n;
    e->done = 0;
    e->scored = s.members;
    e->epoch = epoch;
    /* Built by build_prompts before the session opened; kept as a fallback. */
    if (e->prompts == NULL &&
        (rc = lr_prompts_build(&s, &view, &e->prompts, NULL, err)) != LR_OK) {
      lr_err_prefix(err, "data set '%s': ", e->spec->name);
      break;
    }
    s.prompts = e->prompts;
    rc = lr_score_dataset(&s, &view, keep_probs, e, err);
    if (rc != LR_OK)
      lr_err_prefix(err, "scoring '%s': ", e->spec->name);
    else
      lr_eval_rows(&e->scores, LR_ECE_BINS_DEFAULT, e->rows);
    r->pass_done += (double)e->scores.n * s.members;
  }
  lr_clock_end(&r->clock, r->pass_done, lr_mono_time());
  return rc == LR_OK ? ood_rows(r, err) : rc;
}

static lr_status store_sets(run_state *r, long epoch, const char *selection, bool predictions,
                            lr_err *err) {
  lr_status rc = LR_OK;
  for (size_t i = 0; rc == LR_OK && i < r->n_sets; i++)
    rc = lr_results_set(r->store, r->run_id, epoch, selection, &r->sets[i].scores,
                        r->sets[i].rows, predictions, err);
  return rc;
}

static const char *member_status(const lr_member_train *t) {
  return t->diverged ? "diverged" : t->training ? "training" : "stopped";
}

static lr_status store_members(run_state *r, lr_err *err) {
  lr_status rc = LR_OK;
  for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
    const lr_ckpt_member *c = &r->ck[m];
    const lr_member_train *t = &r->mstate[m];
    rc = lr_results_member(r->store, r->run_id, m, member_status(t),
                           c->es.have ? c->es.best_epoch : -1,
                           t->diverged ? t->diverged_step : -1, NULL, err);
  }
  return rc;
}

/* Runs fn inside one transaction that first checks the claim. */
typedef lr_status (*tx_fn)(run_state *r, long epoch, lr_err *err);
static lr_status in_tx(run_state *r, tx_fn fn, long epoch, lr_err *err) {
  lr_status rc = lr_store_begin(r->store, err);
  if (rc != LR_OK)
    return rc;
  rc = lr_runs_check_claim(r->store, r->run_id, r->o->claim, err);
  if (rc == LR_OK)
    rc = fn(r, epoch, err);
  if (rc == LR_OK)
    return lr_store_commit(r->store, err);
  lr_store_rollback(r->store);
  return rc;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

static char *checkpoint_path(const run_state *r) {
  char *p = NULL;
  return asprintf(&p, "%s/checkpoint.safetensors", r->art_dir) < 0 ? NULL : p;
}

static lr_status save_checkpoint(run_state *r, long epoch, lr_err *err) {
  char *path = checkpoint_path(r);
  lr_status rc = path ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
    lorens_member_state st = {r->ck[m].weights, r->ck[m].adam_m, r->ck[m].adam_v, 0};
    rc = lr_session_member_get(&r->session, m, &st, err);
    r->ck[m].step = st.step;
  }
  if (rc == LR_OK)
    rc = lr_checkpoint_save(path, epoch, r->M, r->n_params, r->ck, r->mstate, err);
  free(path);
  return rc;
}

/* Restores the members from the checkpoint, when there is one that matches the stored rows. */
static lr_status resume(run_state *r, long *epoch, bool *resumed, lr_err *err) {
  char *path = checkpoint_path(r);
  long stored = -1;
  bool found = false;
  lr_member_train *train = calloc(r->M, sizeof *train);
  lr_status rc = path && train ? lr_checkpoint_load(path, r->M, r->n_params, epoch, r->ck, train,
                                                    &found, err)
                               : lr_fail(err, LR_ENOMEM, "out of memory");
  *resumed = false;
  if (rc == LR_OK && found)
    rc = lr_results_last_epoch(r->store, r->run_id, &stored, err);
  /* Rows for the checkpoint's epoch are committed before it is written: without them the
   * checkpoint is not this database's (or from an attempt that never stored that epoch). */
  if (rc == LR_OK && found && stored >= *epoch) {
    for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
      lorens_member_state st = {r->ck[m].weights, r->ck[m].adam_m, r->ck[m].adam_v,
                                r->ck[m].step};
      rc = lr_session_member_set(&r->session, m, &st, err);
      r->mstate[m] = train[m];
    }
    *resumed = rc == LR_OK;
  }
  /* Not resuming: whatever the checkpoint put in the early-stopping state is not this run's. */
  for (uint32_t m = 0; !*resumed && m < r->M; m++)
    memset(&r->ck[m].es, 0, sizeof r->ck[m].es);
  free(train);
  free(path);
  return rc;
}

/* ---- the run ------------------------------------------------------------------------------- */

static lr_status tx_fresh(run_state *r, long epoch, lr_err *err) {
  lr_status rc = lr_results_clear(r->store, r->run_id, -1, err);
  if (rc == LR_OK)
    rc = lr_results_members(r->store, r->run_id, r->M, r->seeds, err);
  return rc == LR_OK ? store_sets(r, epoch, "epoch", true, err) : rc;
}

static lr_status tx_resumed(run_state *r, long epoch, lr_err *err) {
  return lr_results_clear(r->store, r->run_id, epoch, err);
}

static lr_status tx_epoch(run_state *r, long epoch, lr_err *err) {
  bool evaluated = r->sets && r->n_sets && r->sets[0].epoch == epoch;
  lr_status rc = lr_results_train_log(r->store, r->run_id, r->trainer.log, r->trainer.n_log, err);
  if (rc == LR_OK && evaluated)
    rc = store_sets(r, epoch, "epoch", true, err);
  return rc == LR_OK ? store_members(r, err) : rc;
}

static void train_progress(void *ctx, long epoch, int64_t step, int64_t steps, double loss,
                           double tps) {
  const run_state *r = ctx;
  double left = lr_clock_left(&r->clock, epoch, false, (double)step, (double)steps, lr_mono_time());
  progress(r->o->progress_fd,
           "phase=train epoch=%ld/%ld step=%lld/%lld loss=%.4g tps=%.0f left=%.0f", epoch,
           r->cfg.epochs, (long long)step, (long long)steps, loss, tps, left < 0 ? -1 : left);
}

/*
 * Renders and tokenizes the training set and every evaluation set once, before the first forward
 * pass, so that every example that does not fit the model's context is named in one error (a run
 * has no skip mode) before any work is spent.
 */
static lr_status build_prompts(run_state *r, lr_err *err) {
  lr_prompt_opts po;
  lr_prompt_report rep;
  lr_scorer s;
  bool fold;
  lr_status rc = lr_inputs_prompt_opts(&r->cfg, &r->model.abi, true, &po, &fold, err);
  lr_prompt_report_init(&rep);
  if (rc == LR_OK && r->cfg.epochs > 0 &&
      (rc = lr_train_set_build(r->tok, &po, &r->train, lr_inputs_limited(&r->cfg.train, r->train.n),
                               &r->train_set, &rep, err)) != LR_OK)
    lr_err_prefix(err, "data set '%s': ", r->cfg.train.name);
  if (rc == LR_OK)
    rc = eval_scorer(r, &s, err);
  for (size_t i = 0; rc == LR_OK && i < r->n_sets; i++) {
    eval_set *e = &r->sets[i];
    lr_dataset view = e->data;
    view.n = e->scores.n;
    if ((rc = lr_prompts_build(&s, &view, &e->prompts, &rep, err)) != LR_OK)
      lr_err_prefix(err, "data set '%s': ", e->spec->name);
  }
  if (rc == LR_OK)
    rc = lr_prompt_report_check(&rep, err);
  if (rc == LR_OK && rep.n_cut)
    fprintf(stderr, "lorens worker: %zu question%s lost words from the start to fit the model's "
            "context of %zu tokens\n", rep.n_cut, rep.n_cut == 1 ? "" : "s", po.context);
  return rc;
}

/* The base model's probabilities for the KL term, and the trainer, over the built set. */
static lr_status prepare_training(run_state *r, lr_err *err) {
  lr_status rc = LR_OK;
  if (r->cfg.kl_weight > 0) {
    progress(r->o->progress_fd, "phase=base-probabilities");
    rc = lr_train_set_kl_targets(&r->session,
                                 r->cfg.kl_support == LR_KL_SUPPORT_VOCAB ? r->model.abi.vocab_size : 0,
                                 (size_t)r->cfg.batch_size, &r->train_set, err);
  }
  if (rc != LR_OK)
    return rc;
  r->trainer = (lr_trainer){.session = &r->session, .cfg = &r->cfg, .set = &r->train_set,
                            .seeds = r->seeds,
                            .members = r->M, .state = r->mstate, .progress = train_progress,
                            .progress_ctx = r};
  return lr_trainer_init(&r->trainer, err);
}

/* Early stopping after an evaluated epoch: the validation metric of each member. */
static lr_status early_stopping(run_state *r, long epoch, lr_err *err) {
  for (uint32_t m = 0; es_on(r) && r->validation && m < r->M; m++) {
    lr_ckpt_member *c = &r->ck[m];
    const lr_metrics *x = &r->validation->rows[m].m;
    if (r->mstate[m].diverged)
      continue;
    if (lr_es_observe(&c->es, r->cfg.es_metric,
                      r->cfg.es_metric == LR_ES_ACCURACY ? x->accuracy : x->nll, epoch)) {
      lorens_member_state st = {c->best, NULL, NULL, 0};
      if (lr_session_member_get(&r->session, m, &st, err) != LR_OK)
        return err->code;
    } else if (r->cfg.es_mode == LR_ES_STOP && lr_es_exhausted(&c->es, r->cfg.es_patience)) {
      r->mstate[m].training = false;
    }
  }
  return LR_OK;
}

/* The model as adapter_config.json names it (base_model_name_or_path): the grid's path is relative
 * to the grid's directory, which a reader of the adapter does not know, so it is resolved, and
 * made canonical when it exists.  From malloc; NULL when out of memory. */
static char *base_model_name(const run_state *r) {
  char *path = lr_path_resolve(r->base_dir, r->cfg.model), *real = path ? realpath(path, NULL) : NULL;
  if (real == NULL)
    return path;
  free(path);
  return real;
}

static lr_status save_adapters(run_state *r, const char *which, lr_err *err) {
  char *dir = NULL, *base_model = base_model_name(r);
  lr_peft_config pc = {(uint32_t)r->cfg.rank, (float)r->cfg.alpha, r->cfg.rslora,
                       (float)r->cfg.lora_dropout, r->cfg.targets};
  lr_status rc = base_model ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
    const float *w = r->ck[m].weights;
    if (strcmp(which, "best") == 0) {
      if (!r->ck[m].es.have)
        continue;
      w = r->ck[m].best;
    } else {
      lorens_member_state st = {r->ck[m].weights, NULL, NULL, 0};
      rc = lr_session_member_get(&r->session, m, &st, err);
    }
    free(dir);
    dir = NULL;
    if (rc == LR_OK && asprintf(&dir, "%s/member-%u%s", r->art_dir, m,
                                strcmp(which, "best") == 0 ? "-best" : "") < 0)
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
    if (rc == LR_OK)
      rc = lr_peft_save(dir, &r->model.abi, &pc, w, base_model, err);
  }
  free(dir);
  free(base_model);
  return rc;
}

/* The ensemble of every member at its best epoch: rows with selection 'best'. */
static lr_status evaluate_best(run_state *r, lr_err *err) {
  for (uint32_t m = 0; m < r->M; m++) {
    lorens_member_state st = {r->ck[m].best, NULL, NULL, 0};
    if (!r->ck[m].es.have)
      continue; /* never improved (diverged at once): its last weights stand in */
    if (lr_session_member_set(&r->session, m, &st, err) != LR_OK)
      return err->code;
  }
  r->final_pass = true;
  return evaluate(r, r->cfg.epochs, false, err);
}

static lr_status tx_finish(run_state *r, long epoch, lr_err *err) {
  bool diverged = false;
  lr_status rc = LR_OK;
  if (es_on(r))
    rc = store_sets(r, epoch, "best", false, err);
  for (uint32_t m = 0; rc == LR_OK && m < r->M; m++) {
    char *dir = NULL;
    const lr_member_train *t = &r->mstate[m];
    diverged = diverged || t->diverged;
    /* Relative to DB.runs/, so that the adapters follow a moved or copied database. */
    if (asprintf(&dir, "%s/member-%u", r->o->run_key, m) < 0)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    rc = lr_results_member(r->store, r->run_id, m,
                           t->diverged ? "diverged"
                           : t->training || r->cfg.epochs == 0 ? "done" : "stopped",
                           r->ck[m].es.have ? r->ck[m].es.best_epoch : -1,
                           t->diverged ? t->diverged_step : -1, dir, err);
    free(dir);
  }
  return rc == LR_OK ? lr_results_finish(r->store, r->run_id, r->o->claim,
                                         diverged ? "diverged" : "done", err)
                     : rc;
}

static lr_status train_and_evaluate(run_state *r, lr_err *err) {
  long start = 0, E = r->cfg.epochs;
  bool resumed = false;
  lr_status rc = E > 0 ? prepare_training(r, err) : LR_OK;
  lr_run_plan plan = {E, r->cfg.eval_every, E > 0 ? r->trainer.steps_per_epoch : 0,
                      pass_units(r, r->M), es_on(r)};
  lr_clock_init(&r->clock, &plan);
  if (rc == LR_OK)
    rc = resume(r, &start, &resumed, err);
  if (rc == LR_OK && resumed) {
    progress(r->o->progress_fd, "phase=resume epoch=%ld", start);
    rc = in_tx(r, tx_resumed, start, err);
  } else if (rc == LR_OK) {
    start = 0;
    if ((rc = evaluate(r, 0, true, err)) == LR_OK)
      rc = in_tx(r, tx_fresh, 0, err);
  }
  for (long epoch = start + 1; rc == LR_OK && epoch <= E; epoch++) {
    bool eval = epoch % r->cfg.eval_every == 0 || epoch == E;
    lr_clock_begin(&r->clock, LR_CLOCK_TRAIN, lr_mono_time());
    rc = lr_trainer_epoch(&r->trainer, epoch, err);
    lr_clock_end(&r->clock, (double)r->trainer.steps_per_epoch, lr_mono_time());
    if (rc == LR_OK && eval && (rc = evaluate(r, epoch, false, err)) == LR_OK)
      rc = early_stopping(r, epoch, err);
    if (rc == LR_OK) {
      progress(r->o->progress_fd, "phase=store epoch=%ld", epoch);
      rc = in_tx(r, tx_epoch, epoch, err);
    }
    if (rc == LR_OK && epoch < E)
      rc = save_checkpoint(r, epoch, err);
  }
  if (rc == LR_OK)
    rc = save_adapters(r, "final", err);
  if (rc == LR_OK && es_on(r))
    rc = save_adapters(r, "best", err);
  if (rc == LR_OK && es_on(r))
    rc = evaluate_best(r, err);
  if (rc == LR_OK)
    rc = in_tx(r, tx_finish, E, err);
  if (rc == LR_OK) {
    char *path = checkpoint_path(r);
    if (path)
      unlink(path); /* the run is done: its adapters are saved, the checkpoint is spent */
    free(path);
  }
  return rc;
}

static void release(run_state *r) {
  lr_trainer_release(&r->trainer);
  lr_train_set_release(&r->train_set);
  lr_session_close(&r->session);
  lr_backend_close(&r->backend);
  for (size_t i = 0; r->sets && i < r->n_sets; i++) {
    lr_dataset_release(&r->sets[i].data);
    free(r->sets[i].scores.probs);
    free(r->sets[i].rows);
    lr_prompts_release(r->sets[i].prompts, r->sets[i].scores.n);
  }
  for (uint32_t m = 0; r->ck && m < r->M; m++) {
    free(r->ck[m].weights);
    free(r->ck[m].adam_m);
    free(r->ck[m].adam_v);
    free(r->ck[m].best);
  }
  free(r->ck);
  free(r->mstate);
  free(r->sets);
  free(r->seeds);
  lr_dataset_release(&r->train);
  lr_tokenizer_free(r->tok);
  lr_model_release(&r->model);
  lr_run_config_release(&r->cfg);
  free(r->config_json);
  free(r->base_dir);
  free(r->art_dir);
  lr_store_close(r->store);
}

lr_status lr_worker_run(const lr_worker_opts *o, lr_err *err) {
  run_state r = {0};
  lr_status rc;
  r.o = o;
  lr_dataset_init(&r.train);
  rc = lr_store_open(o->db, 0, &r.store, err);
  if (rc == LR_OK)
    rc = load_run(&r, err);
  if (rc == LR_OK) {
    progress(o->progress_fd, "phase=load");
    rc = load_inputs(&r, err);
  }
  if (rc == LR_OK)
    rc = build_prompts(&r, err);
  if (rc == LR_OK)
    rc = open_session(&r, err);
  if (rc == LR_OK)
    rc = make_art_dir(&r, err);
  if (rc == LR_OK)
    rc = train_and_evaluate(&r, err);
  release(&r);
  return rc;
}
