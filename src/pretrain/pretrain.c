/*
 * pretrain.c: the steps of `lorens pretrain` (see pretrain.h).
 */
#include "compat.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/file-util.h"
#include "base/json-util.h"
#include "base/proc-util.h"
#include "base/rng.h"
#include "base/sha256.h"
#include "base/utf8.h"
#include "model/backend-session.h"
#include "model/safetensors-write.h"
#include "model/safetensors.h"
#include "pretrain/pretrain-model.h"
#include "pretrain/pretrain.h"
#include "text/bpe-train.h"
#include "text/dataset.h"
#include "text/prompt.h"
#include "text/tokenizer.h"
#include "train/lr-schedule.h"

#define CORPUS_MAX_BYTES ((size_t)1 << 30)

typedef struct state {
  const lr_pretrain_opts *o;
  const lr_pretrain_config *c;
  char *config_json;
  char corpus_hex[LR_SHA256_HEX];
  char *p_tok, *p_ckpt, *p_record, *p_model;
  char *text;
  size_t text_len;
  lr_tokenizer *tok;
  lr_ids stream;
  lr_flat_model model;
  lr_backend backend;
  lr_session session;
  float *adam_m, *adam_v;
  int64_t step;
} state;

/* Set by SIGINT/SIGTERM/SIGHUP; the loop saves a checkpoint at the next step boundary and stops. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
  stop_signal = sig;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ---- what the directory already holds ------------------------------------------------------ */

/* The record of a finished run, or NULL. */
static json_t *read_record(const state *s) {
  return exists(s->p_record) ? json_load_file(s->p_record, 0, NULL) : NULL;
}

static bool record_matches(const state *s, const json_t *rec) {
  const char *cfg = json_string_value(json_object_get(rec, "config"));
  const char *corpus = json_string_value(json_object_get(rec, "corpus_sha256"));
  return cfg && corpus && strcmp(cfg, s->config_json) == 0 && strcmp(corpus, s->corpus_hex) == 0;
}

static lr_status write_record(const state *s, const lr_pretrain_result *res, double seconds,
                              lr_err *err) {
  json_t *r = json_object();
  lr_status rc;
  json_object_set_new(r, "producer", json_string("lorens pretrain " PACKAGE_VERSION));
  json_object_set_new(r, "config", json_string(s->config_json));
  json_object_set_new(r, "corpus_sha256", json_string(s->corpus_hex));
  json_object_set_new(r, "corpus_tokens", json_integer((json_int_t)res->corpus_tokens));
  json_object_set_new(r, "vocab_size", json_integer((json_int_t)res->vocab_size));
  json_object_set_new(r, "parameters", json_integer((json_int_t)res->n_params));
  json_object_set_new(r, "steps", json_integer(s->c->steps));
  json_object_set_new(r, "final_loss", json_real(isfinite(res->final_loss) ? res->final_loss : -1));
  json_object_set_new(r, "tokens_per_second", json_real(res->tokens_per_second));
  json_object_set_new(r, "seconds_this_run", json_real(seconds));
  rc = lr_json_write_atomic(s->p_record, r, err);
  json_decref(r);
  return rc;
}

/* ---- tokenizer and corpus ------------------------------------------------------------------ */

/* The corpus is UTF-8 text: a bad byte is named by its line and column in the file, before the
 * tokenizer meets it somewhere in the middle of its work. */
static lr_status check_utf8(const char *path, const char *text, size_t len, lr_err *err) {
  size_t valid = lr_utf8_valid_prefix(text, len), line = 1;
  const char *line_start = text;
  if (valid == len)
    return LR_OK;
  for (const char *c = text; c < text + valid; c++)
    if (*c == '\n') {
      line++;
      line_start = c + 1;
    }
  return lr_fail_at(err, LR_EINVAL, path, (int)line, (int)(text + valid - line_start) + 1,
                    "not valid UTF-8 (byte 0x%02x); the corpus must be UTF-8 text",
                    (unsigned char)text[valid]);
}

/* Appends each answered question as one line: the prompt as the template renders it, then " "
 * and the answer (its letter, or its text for the cloze template). */
static lr_status add_questions(state *s, lr_err *err) {
  const lr_pretrain_opts *o = s->o;
  const lr_template *t = NULL;
  lr_dataset ds;
  lr_status rc;
  lr_dataset_init(&ds);
  rc = lr_template_find(o->template_name ? o->template_name : "select", &t, err);
  if (rc == LR_OK)
    rc = lr_dataset_load(o->questions, (lr_dataset_format)o->questions_format, NULL, &ds, err);
  for (size_t i = 0; rc == LR_OK && i < ds.n; i++) {
    const lr_example *ex = &ds.examples[i];
    char *p = ex->label >= 0 ? lr_prompt_text(t, ex, 0) : NULL, letter[2];
    const char *answer = ex->label >= 0 ? lr_prompt_answer(t, ex, ex->label, letter) : "";
    size_t n = p ? strlen(p) : 0, na = strlen(answer);
    char *grown;
    if (ex->label < 0)
      continue; /* no answer to learn */
    grown = p ? realloc(s->text, s->text_len + n + na + 4) : NULL;
    if (grown == NULL) {
      free(p);
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
    s->text = grown;
    if (s->text_len > 0 && s->text[s->text_len - 1] != '\n')
      s->text[s->text_len++] = '\n';
    memcpy(s->text + s->text_len, p, n);
    s->text_len += n;
    s->text[s->text_len++] = ' ';
    memcpy(s->text + s->text_len, answer, na);
    s->text_len += na;
    s->text[s->text_len++] = '\n';
    s->text[s->text_len] = '\0';
    free(p);
  }
  lr_dataset_release(&ds);
  return rc;
}

static lr_status prepare_tokenizer(state *s, lr_err *err) {
  lr_status rc;
  if (!exists(s->p_tok)) {
    lr_bpe_train_opts bo = {(size_t)s->c->vocab_size, 0};
    char *json = NULL;
    rc = lr_bpe_train(s->text, s->text_len, &bo, &json, err);
    if (rc == LR_OK)
      rc = lr_bpe_write_dir(s->o->out, json, err);
    free(json);
    if (rc != LR_OK) {
      lr_err_prefix(err, "training the tokenizer: ");
      return rc;
    }
  }
  return lr_tokenizer_load(s->p_tok, &s->tok, err);
}

/* The corpus as one stream: each non-empty line is BOS + its tokens + "\n". */
static lr_status tokenize_corpus(state *s, lr_err *err) {
  const char *p = s->text, *end = s->text + s->text_len;
  int32_t bos = lr_tokenizer_bos(s->tok);
  lr_status rc = LR_OK;
  lr_ids_init(&s->stream);
  while (p < end && rc == LR_OK) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    if (n > 1 || (n == 1 && *p != '\n')) {
      if (bos >= 0)
        rc = lr_ids_push(&s->stream, bos, err);
      if (rc == LR_OK)
        rc = lr_tokenizer_encode(s->tok, p, n, 0, &s->stream, err);
    }
    p += n;
  }
  if (rc == LR_OK && s->stream.n < (size_t)s->c->context + 1)
    rc = lr_fail(err, LR_EINVAL,
                 "%s: %zu tokens, fewer than one training window (model.context %ld + 1)",
                 s->o->corpus, s->stream.n, s->c->context);
  return rc;
}

/* ---- backend -------------------------------------------------------------------------------- */

/* Before anything is written: a backend that is missing, broken or too old leaves no files. */
static lr_status open_backend(state *s, lr_err *err) {
  const lr_pretrain_opts *o = s->o;
  lr_status rc = lr_backend_open(&s->backend, o->backend, o->backend_dirs, o->n_backend_dirs, err);
  return rc == LR_OK ? lr_backend_require(&s->backend, LR_FEATURE_TRAIN_BASE, err) : rc;
}

static lr_status open_session(state *s, lr_err *err) {
  lr_session_params p = {.n_members = 1, .model = &s->model.abi, .n_threads = s->o->threads,
                         .train_base = true};
  return lr_session_open(&s->session, &s->backend, &p, err);
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static lr_status save_checkpoint(state *s, lr_err *err) {
  lorens_member_state st = {s->model.data, s->adam_m, s->adam_v, 0};
  char step[32];
  const char *keys[] = {"step", "config", "corpus_sha256"};
  const char *values[] = {step, s->config_json, s->corpus_hex};
  lr_st_out t[3] = {
      {"weights", LR_ST_F32, 1, {(int64_t)s->model.n_params}, s->model.data},
      {"adam_m", LR_ST_F32, 1, {(int64_t)s->model.n_params}, s->adam_m},
      {"adam_v", LR_ST_F32, 1, {(int64_t)s->model.n_params}, s->adam_v},
  };
  if (lr_session_member_get(&s->session, 0, &st, err) != LR_OK)
    return err->code;
  snprintf(step, sizeof step, "%lld", (long long)st.step);
  return lr_st_write(s->p_ckpt, t, 3, keys, values, 3, err);
}

/* Continues from DIR/pretrain-checkpoint.safetensors when there is one. */
static lr_status load_checkpoint(state *s, lr_err *err) {
  lr_st_file *f = NULL;
  const char *names[3] = {"weights", "adam_m", "adam_v"};
  float *dst[3] = {s->model.data, s->adam_m, s->adam_v};
  const char *step, *cfg, *corpus;
  char *end = NULL;
  lr_status rc;
  if (!exists(s->p_ckpt))
    return LR_OK;
  if ((rc = lr_st_open(s->p_ckpt, &f, err)) != LR_OK)
    return rc;
  step = lr_st_metadata(f, "step");
  cfg = lr_st_metadata(f, "config");
  corpus = lr_st_metadata(f, "corpus_sha256");
  if (!step || !cfg || !corpus || strcmp(cfg, s->config_json) != 0 ||
      strcmp(corpus, s->corpus_hex) != 0) {
    lr_st_close(f);
    return lr_fail_at(err, LR_EINVAL, s->p_ckpt, 0, 0,
                      "this checkpoint was made with another configuration or corpus; remove it "
                      "(or use another --out) to start over");
  }
  s->step = strtoll(step, &end, 10);
  if (*end != '\0' || s->step < 0 || s->step > s->c->steps)
    rc = lr_fail_at(err, LR_EPARSE, s->p_ckpt, 0, 0, "bad step '%s'", step);
  for (int i = 0; i < 3 && rc == LR_OK; i++) {
    const lr_st_tensor *t = lr_st_find(f, names[i]);
    if (t == NULL || t->dtype != LR_ST_F32 || t->numel != s->model.n_params)
      rc = lr_fail_at(err, LR_EPARSE, s->p_ckpt, 0, 0, "tensor '%s' missing or of the wrong size",
                      names[i]);
    else
      memcpy(dst[i], t->data, s->model.n_params * sizeof(float));
  }
  lr_st_close(f); /* step, cfg and corpus point into it: not used below */
  if (rc == LR_OK) {
    lorens_member_state st = {s->model.data, s->adam_m, s->adam_v, s->step};
    rc = lr_session_member_set(&s->session, 0, &st, err);
  }
  return rc;
}

/* ---- training ------------------------------------------------------------------------------- */

/* The learning rate of step i: warmup, then the schedule decaying from lr to min_lr * lr. */
static double rate(const lr_pretrain_config *c, int64_t i) {
  double m = lr_schedule_rate(c->schedule, 1.0, i, c->steps, c->warmup);
  if (i >= c->warmup)
    m = c->min_lr + (1 - c->min_lr) * m;
  return c->lr * m;
}

/* Batch of step i: `batch` windows of context tokens at offsets drawn from (seed, i). */
static void make_batch(const state *s, int64_t i, int32_t *tokens, uint32_t *offsets) {
  size_t W = (size_t)s->c->context, span = s->stream.n - W + 1;
  lr_rng r;
  lr_rng_seed(&r, lr_seed_mix(lr_seed_mix((uint64_t)s->c->seed, 0x64617461 /* "data" */),
                              (uint64_t)i));
  offsets[0] = 0;
  for (long b = 0; b < s->c->batch; b++) {
    size_t at = (size_t)lr_rng_below(&r, span);
    memcpy(tokens + (size_t)b * W, s->stream.v + at, W * sizeof *tokens);
    offsets[b + 1] = (uint32_t)((size_t)(b + 1) * W);
  }
}

typedef struct progress {
  bool live, on;
  double t0, last_print;
  int64_t first_step;
  double loss_ema;
} progress;

static void progress_show(progress *p, const state *s, int64_t done, double tok_per_s, bool last) {
  const int width = 24;
  char eta[64], bar[32];
  double t = now();
  int64_t total = s->c->steps;
  if (!p->on)
    return;
  if (!last && t - p->last_print < (p->live ? 0.25 : 10.0))
    return;
  p->last_print = t;
  int filled = total ? (int)(width * done / total) : width;
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  lr_format_duration(tok_per_s > 0 ? (double)(total - done) * s->c->batch * s->c->context / tok_per_s : 0,
               eta, sizeof eta);
  fprintf(stderr, "%spretrain [%s] %lld/%lld steps  loss %.3f  %.0f tok/s  ETA %s%s",
          p->live ? "\r" : "", bar, (long long)done, (long long)total, p->loss_ema, tok_per_s, eta,
          p->live ? "\033[K" : "\n");
  if (p->live && last)
    fputc('\n', stderr);
  fflush(stderr);
}

static lr_status train(state *s, lr_pretrain_result *res, lr_err *err) {
  const lr_pretrain_config *c = s->c;
  size_t W = (size_t)c->context, B = (size_t)c->batch;
  int32_t *tokens = malloc(W * B * sizeof *tokens);
  uint32_t *offsets = malloc((B + 1) * sizeof *offsets);
  lorens_batch batch = {0};
  progress p = {0};
  double tail_sum = 0, t_start = now();
  long tail_n = 0;
  lr_status rc = LR_OK;
  if (!tokens || !offsets) {
    free(tokens);
    free(offsets);
    return lr_fail(err, LR_ENOMEM, "out of memory for a batch");
  }
  p.on = !s->o->quiet;
  p.live = p.on && isatty(STDERR_FILENO);
  p.t0 = t_start;
  p.first_step = s->step;
  p.loss_ema = NAN;
  batch.n = (uint32_t)B;
  batch.max_choices = 1;
  batch.tokens = tokens;
  batch.offsets = offsets;
  res->start_step = s->step;
  while (s->step < c->steps && rc == LR_OK) {
    float lr = (float)rate(c, s->step), loss = NAN, gnorm = NAN;
    uint64_t seed = 0;
    lorens_train_args a = {0};
    make_batch(s, s->step, tokens, offsets);
    a.batches = &batch;
    a.lr = &lr;
    a.weight_decay_a = (float)c->weight_decay; /* matrices */
    a.weight_decay_b = 0;                      /* norm weights */
    a.adam_beta1 = (float)c->beta1;
    a.adam_beta2 = (float)c->beta2;
    a.adam_eps = (float)c->adam_eps;
    a.grad_clip = (float)c->grad_clip;
    a.dropout_seeds = &seed;
    a.dropout_step = (uint64_t)s->step;
    a.loss = &loss;
    a.grad_norm = &gnorm;
    a.weight_decay_mode = LORENS_WD_DECOUPLED;
    a.objective = LORENS_OBJECTIVE_NEXT_TOKEN;
    if ((rc = lr_session_train_step(&s->session, &a, err)) != LR_OK) {
      lr_err_prefix(err, "step %lld: ", (long long)s->step);
      break;
    }
    if (!isfinite(loss)) {
      rc = lr_fail(err, LR_EINVAL,
                   "the loss diverged at step %lld (lr %g); lower train.lr in %s", (long long)s->step,
                   (double)lr, s->o->config_path);
      break;
    }
    s->step++;
    p.loss_ema = isnan(p.loss_ema) ? loss : 0.95 * p.loss_ema + 0.05 * loss;
    if (c->steps - s->step < 50) { /* the reported final loss: the mean of the last 50 steps */
      tail_sum += loss;
      tail_n++;
    }
    double elapsed = now() - t_start;
    res->tokens_per_second = elapsed > 0 ? (double)(s->step - p.first_step) * B * W / elapsed : 0;
    progress_show(&p, s, s->step, res->tokens_per_second, s->step == c->steps);
    if (stop_signal || s->step % c->checkpoint_every == 0 || s->step == c->steps)
      rc = save_checkpoint(s, err);
    if (rc == LR_OK && stop_signal) {
      if (p.live)
        fputc('\n', stderr);
      rc = lr_fail(err, LR_EINTERRUPTED,
                   "interrupted at step %lld of %ld; the checkpoint is saved: run the same "
                   "command to continue", (long long)s->step, c->steps);
    }
  }
  res->steps_run = s->step - res->start_step;
  res->final_loss = tail_n ? tail_sum / tail_n : p.loss_ema;
  free(tokens);
  free(offsets);
  return rc;
}

/* ---- the whole command ---------------------------------------------------------------------- */

static lr_status finish(state *s, lr_pretrain_result *res, double t0, lr_err *err) {
  lorens_member_state st = {s->model.data, NULL, NULL, 0};
  int32_t bos = lr_tokenizer_bos(s->tok), eos = lr_tokenizer_token_id(s->tok, "</s>");
  lr_status rc;
  if (lr_session_member_get(&s->session, 0, &st, err) != LR_OK)
    return err->code;
  rc = lr_flat_model_write_hf(&s->model, s->c, s->o->out, bos, eos, err);
  if (rc == LR_OK)
    rc = write_record(s, res, now() - t0, err);
  if (rc == LR_OK && unlink(s->p_ckpt) != 0 && errno != ENOENT)
    rc = lr_fail(err, LR_EIO, "cannot remove '%s': %s", s->p_ckpt, strerror(errno));
  return rc;
}

static lr_status paths(state *s, lr_err *err) {
  const char *dir = s->o->out;
  lr_status rc = lr_path_join(dir, "tokenizer.json", &s->p_tok, err);
  if (rc == LR_OK)
    rc = lr_path_join(dir, "pretrain-checkpoint.safetensors", &s->p_ckpt, err);
  if (rc == LR_OK)
    rc = lr_path_join(dir, "pretrain.json", &s->p_record, err);
  if (rc == LR_OK)
    rc = lr_path_join(dir, "model.safetensors", &s->p_model, err);
  return rc;
}

/* After a failure in a directory this call created, before any checkpoint: removes the files
 * it wrote and the directory, so that nothing half-made is left (an interrupted run keeps its
 * checkpoint, and the directory, to continue from). */
static void remove_partial(state *s) {
  static const char *const files[] = {"tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "config.json",
                                      "model.safetensors", "pretrain.json"};
  char *path;
  if (s->p_ckpt == NULL || exists(s->p_ckpt))
    return;
  for (size_t i = 0; i < LR_ARRAY_LEN(files); i++) {
    if (lr_path_join(s->o->out, files[i], &path, NULL) == LR_OK) {
      unlink(path);
      free(path);
    }
  }
  rmdir(s->o->out); /* fails, harmlessly, when something else was put there meanwhile */
}

static void release(state *s) {
  lr_session_close(&s->session);
  lr_backend_close(&s->backend);
  lr_flat_model_release(&s->model);
  lr_tokenizer_free(s->tok);
  free(s->stream.v);
  free(s->adam_m);
  free(s->adam_v);
  free(s->text);
  free(s->config_json);
  free(s->p_tok);
  free(s->p_ckpt);
  free(s->p_record);
  free(s->p_model);
}

lr_status lr_pretrain(const lr_pretrain_opts *o, lr_pretrain_result *res, lr_err *err) {
  state s;
  json_t *rec = NULL;
  double t0 = now();
  struct sigaction sa, old_int, old_term, old_hup;
  bool made_dir = false;
  lr_status rc;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.o = o;
  s.c = &o->config;
  s.config_json = lr_pretrain_config_json(s.c);
  if (s.config_json == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  rc = lr_read_file(o->corpus, CORPUS_MAX_BYTES, "a corpus", &s.text, &s.text_len, err);
  if (rc == LR_OK && s.text_len == 0)
    rc = lr_fail_at(err, LR_EINVAL, o->corpus, 0, 0, "the corpus is empty");
  if (rc == LR_OK)
    rc = check_utf8(o->corpus, s.text, s.text_len, err);
  if (rc == LR_OK && o->questions)
    rc = add_questions(&s, err);
  if (rc == LR_OK)
    rc = open_backend(&s, err);
  if (rc == LR_OK) {
    lr_sha256_hex(s.text, s.text_len, s.corpus_hex);
    made_dir = !exists(o->out);
    rc = lr_mkdir_p(o->out, err);
  }
  if (rc == LR_OK)
    rc = paths(&s, err);
  /* A finished model for this configuration and corpus is reused; another one is not touched. */
  if (rc == LR_OK && (rec = read_record(&s)) != NULL) {
    if (record_matches(&s, rec) && exists(s.p_model)) {
      res->cached = true;
      res->final_loss = json_real_value(json_object_get(rec, "final_loss"));
      res->corpus_tokens = (size_t)json_integer_value(json_object_get(rec, "corpus_tokens"));
      res->vocab_size = (size_t)json_integer_value(json_object_get(rec, "vocab_size"));
      res->n_params = (unsigned long long)json_integer_value(json_object_get(rec, "parameters"));
    } else {
      rc = lr_fail(err, LR_EINVAL,
                   "'%s' holds a model pretrained with another configuration or corpus (see its "
                   "pretrain.json); use another --out or remove it", o->out);
    }
    json_decref(rec);
    if (rc != LR_OK || res->cached) {
      release(&s);
      return rc;
    }
  }
  if (rc == LR_OK && exists(s.p_model) && !exists(s.p_ckpt))
    rc = lr_fail(err, LR_EINVAL, "'%s' already holds a model.safetensors that lorens pretrain did "
                 "not record; use another --out", o->out);
  if (rc == LR_OK)
    rc = prepare_tokenizer(&s, err);
  if (rc == LR_OK)
    rc = tokenize_corpus(&s, err);
  if (rc == LR_OK) {
    res->corpus_tokens = s.stream.n;
    res->vocab_size = lr_tokenizer_vocab_size(s.tok);
    rc = lr_flat_model_init(&s.model, s.c, (int)res->vocab_size, err);
  }
  if (rc == LR_OK) {
    res->n_params = s.model.n_params;
    s.adam_m = calloc(s.model.n_params, sizeof *s.adam_m);
    s.adam_v = calloc(s.model.n_params, sizeof *s.adam_v);
    if (!s.adam_m || !s.adam_v)
      rc = lr_fail(err, LR_ENOMEM, "out of memory for the optimizer state");
  }
  if (rc == LR_OK)
    rc = open_session(&s, err);
  if (rc == LR_OK)
    rc = load_checkpoint(&s, err);
  if (rc == LR_OK) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    rc = train(&s, res, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    res->signal = rc == LR_EINTERRUPTED ? (int)stop_signal : 0;
  }
  if (rc == LR_OK)
    rc = finish(&s, res, t0, err);
  if (rc != LR_OK && made_dir)
    remove_partial(&s);
  release(&s);
  return rc;
}
