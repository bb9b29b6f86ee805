/*
 * trainer.c: epochs of LoRA-ensemble training through a backend session (see trainer.h).
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/proc-util.h"
#include "base/rng.h"
#include "train/evaluate.h"
#include "train/lr-schedule.h"
#include "train/trainer.h"

#define MAXK LR_DATASET_MAX_CHOICES

/* ---- the training set ---------------------------------------------------------------------- */

lr_status lr_train_set_build(lr_tokenizer *tok, const lr_prompt_opts *po, const lr_dataset *data,
                             size_t n, lr_train_set *out, lr_prompt_report *report, lr_err *err) {
  lr_prompt p;
  lr_prompt_report own;
  lr_status rc = LR_OK;
  memset(out, 0, sizeof *out);
  lr_prompt_report_init(&own);
  if (report == NULL)
    report = &own;
  lr_ids_init(&out->tokens);
  lr_prompt_init(&p);
  out->offsets = calloc(n + 1, sizeof *out->offsets);
  out->prompt_len = calloc(n + 1, sizeof *out->prompt_len);
  out->n_choices = calloc(n + 1, sizeof *out->n_choices);
  out->choice_ids = calloc((n + 1) * MAXK, sizeof *out->choice_ids);
  out->labels = calloc(n + 1, sizeof *out->labels);
  bool cloze = lr_template_is_cloze(po->tmpl);
  if (cloze)
    out->choice_len = calloc((n + 1) * MAXK, sizeof *out->choice_len);
  if (!out->offsets || !out->prompt_len || !out->n_choices || !out->choice_ids || !out->labels ||
      (cloze && !out->choice_len))
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  size_t i = 0, o = 0; /* o: examples kept */
  for (i = 0; rc == LR_OK && i < n; i++) {
    const lr_example *ex = &data->examples[i];
    bool single = false;
    lr_err e;
    if (ex->label < 0) {
      rc = lr_fail_at(err, LR_EINVAL, ex->file ? ex->file : "", ex->line, 0,
                      "example '%s' has no answer; every training example needs one", ex->id);
      break;
    }
    lr_err_init(&e);
    rc = lr_prompt_build(tok, po, ex, &p, &e);
    lr_prompt_report_add(report, ex, &p, &e);
    if (rc != LR_OK && lr_prompt_bad(&p)) { /* reported with the others once all are built */
      rc = LR_OK;
      continue;
    }
    if (rc != LR_OK) {
      if (err->code == LR_OK)
        *err = e;
      break;
    }
    /* A cloze choice is its whole continuation, as the evaluation scores it. */
    if (!cloze && (rc = lr_prompt_fold(tok, &p, &single, err)) != LR_OK)
      break;
    if (!single && !cloze) {
      rc = lr_fail_at(err, LR_EUNSUPPORTED, ex->file ? ex->file : "", ex->line, 0,
                      "example '%s': the tokenizer turns its choice letters into continuations "
                      "that differ in more than their last token, which cannot be trained on",
                      ex->id);
      break;
    }
    for (size_t j = 0; rc == LR_OK && j < p.ids.n; j++)
      rc = lr_ids_push(&out->tokens, p.ids.v[j], err);
    out->prompt_len[o] = (uint32_t)p.ids.n;
    for (int k = 0; cloze && k < ex->n_choices; k++) {
      for (size_t j = 0; rc == LR_OK && j < p.cont[k].n; j++)
        rc = lr_ids_push(&out->tokens, p.cont[k].v[j], err);
      out->choice_len[o * MAXK + (size_t)k] = (uint32_t)p.cont[k].n;
    }
    out->offsets[o + 1] = (uint32_t)out->tokens.n;
    out->n_choices[o] = (uint32_t)ex->n_choices;
    memcpy(out->choice_ids + o * MAXK, p.choice_ids, sizeof p.choice_ids);
    out->labels[o] = ex->label;
    if (out->offsets[o + 1] - out->offsets[o] > out->max_len)
      out->max_len = out->offsets[o + 1] - out->offsets[o];
    o++;
  }
  if (rc == LR_OK)
    rc = lr_prompt_report_check(&own, err);
  out->n = rc == LR_OK ? o : 0;
  lr_prompt_release(&p);
  return rc;
}

void lr_train_set_release(lr_train_set *s) {
  lr_ids_release(&s->tokens);
  free(s->offsets);
  free(s->prompt_len);
  free(s->choice_len);
  free(s->n_choices);
  free(s->choice_ids);
  free(s->labels);
  free(s->kl_target);
  memset(s, 0, sizeof *s);
}

/* A batch of examples first..first+count of the set, in the set's own order. */
static lorens_batch slice(const lr_train_set *s, size_t first, size_t count, uint32_t *offsets,
                          uint32_t *answer_pos) {
  lorens_batch b = {(uint32_t)count, MAXK, s->tokens.v + s->offsets[first], offsets, answer_pos,
                    s->n_choices + first, s->choice_ids + first * MAXK, NULL, NULL};
  offsets[0] = 0;
  for (size_t i = 0; i < count; i++) {
    offsets[i + 1] = s->offsets[first + i + 1] - s->offsets[first];
    answer_pos[i] = s->prompt_len[first + i] - 1;
  }
  return b;
}

lr_status lr_train_set_kl_targets(lr_session *session, int32_t vocab, size_t batch_size,
                                  lr_train_set *s, lr_err *err) {
  size_t width = vocab > 0 ? (size_t)vocab : MAXK;
  size_t batch = batch_size < s->n ? batch_size : (s->n ? s->n : 1);
  uint32_t *offsets = calloc(batch + 1, sizeof *offsets), *answer = calloc(batch, sizeof *answer);
  float *logits = calloc(batch * width, sizeof *logits);
  lr_status rc = LR_OK;
  s->kl_width = width;
  if (vocab > 0 && s->choice_len) {
    free(offsets);
    free(answer);
    free(logits);
    return lr_fail(err, LR_EINVAL, "kl.support: vocab compares one token per choice, and cloze "
                   "choices are whole continuations: use kl.support: choices");
  }
  s->kl_target = calloc(s->n * width + 1, sizeof *s->kl_target);
  if (!offsets || !answer || !logits || !s->kl_target)
    rc = lr_fail(err, LR_ENOMEM, "out of memory for the base model's probabilities (%zu x %zu)",
                 s->n, width);
  for (size_t first = 0; rc == LR_OK && first < s->n; first += batch) {
    size_t count = first + batch <= s->n ? batch : s->n - first;
    lorens_batch b = slice(s, first, count, offsets, answer);
    lorens_score_args a = {sizeof a, &b, LORENS_SCORE_BASE, vocab > 0 ? NULL : logits,
                           vocab > 0 ? logits : NULL,
                           s->choice_len ? s->choice_len + first * MAXK : NULL};
    if ((rc = lr_session_score(session, &a, err)) != LR_OK)
      break;
    for (size_t i = 0; i < count; i++) {
      float *dst = s->kl_target + (first + i) * width;
      const float *row = logits + i * width;
      if (vocab > 0) {
        for (size_t j = 0; j < width; j++)
          dst[j] = expf(row[j]);
      } else {
        double p[MAXK];
        lr_choice_softmax(row, (int)s->n_choices[first + i], p);
        for (uint32_t j = 0; j < s->n_choices[first + i]; j++)
          dst[j] = (float)p[j];
      }
    }
  }
  free(offsets);
  free(answer);
  free(logits);
  return rc;
}

/* ---- the trainer --------------------------------------------------------------------------- */

/* The examples a step takes: train.batch_size, or the whole set when that is smaller (a batch
 * larger than the set is the set, as PyTorch's DataLoader makes it; the steps are the same). */
static size_t batch_of(const lr_trainer *t) {
  size_t B = (size_t)t->cfg->batch_size, n = t->set->n;
  return B < n ? B : (n ? n : 1);
}

lr_status lr_trainer_init(lr_trainer *t, lr_err *err) {
  size_t B = batch_of(t), M = t->members;
  size_t kw = t->set->kl_target ? t->set->kl_width : 0;
  t->steps_per_epoch = (int64_t)((t->set->n + B - 1) / B);
  t->total_steps = t->steps_per_epoch * t->cfg->epochs;
  t->tokens = calloc(M * B * (t->set->max_len + 1), sizeof *t->tokens);
  t->choice_ids = calloc(M * B * MAXK, sizeof *t->choice_ids);
  t->labels = calloc(M * B, sizeof *t->labels);
  t->offsets = calloc(M * (B + 1), sizeof *t->offsets);
  t->answer_pos = calloc(M * B, sizeof *t->answer_pos);
  t->n_choices = calloc(M * B, sizeof *t->n_choices);
  t->kl_target = kw ? calloc(M * B * kw, sizeof *t->kl_target) : NULL;
  t->batches = calloc(M, sizeof *t->batches);
  if (t->set->choice_len) {
    t->choice_len = calloc(M * B * MAXK, sizeof *t->choice_len);
    t->choice_len_of = calloc(M, sizeof *t->choice_len_of);
  }
  if (!t->tokens || !t->choice_ids || !t->labels || !t->offsets || !t->answer_pos ||
      !t->n_choices || (kw && !t->kl_target) || !t->batches ||
      (t->set->choice_len && (!t->choice_len || !t->choice_len_of)))
    return lr_fail(err, LR_ENOMEM, "out of memory for the training batches: %zu members x %zu "
                   "examples (train.batch_size) x %zu tokens", M, B, t->set->max_len + 1);
  return LR_OK;
}

void lr_trainer_release(lr_trainer *t) {
  free(t->tokens);
  free(t->choice_ids);
  free(t->labels);
  free(t->offsets);
  free(t->answer_pos);
  free(t->n_choices);
  free(t->kl_target);
  free(t->batches);
  free(t->choice_len);
  free(t->choice_len_of);
  t->choice_len = NULL;
  t->choice_len_of = NULL;
  free(t->log);
  t->log = NULL;
  t->n_log = t->cap_log = 0;
}

/* Member m's order of the set in this epoch: Fisher-Yates from its data seed and the epoch. */
static void order(const lr_trainer *t, uint32_t m, long epoch, uint32_t *perm) {
  lr_rng rng;
  size_t n = t->set->n;
  lr_rng_seed(&rng, lr_seed_mix(t->seeds[m].data, (uint64_t)epoch));
  for (size_t i = 0; i < n; i++)
    perm[i] = (uint32_t)i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)lr_rng_below(&rng, i);
    uint32_t tmp = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = tmp;
  }
}

/* Packs examples perm[first .. first+count) into member m's batch; returns its token count. */
static uint64_t pack(lr_trainer *t, uint32_t m, const uint32_t *perm, size_t first, size_t count) {
  const lr_train_set *s = t->set;
  size_t B = batch_of(t), kw = s->kl_width;
  int32_t *tokens = t->tokens + m * B * (s->max_len + 1);
  uint32_t *offsets = t->offsets + m * (B + 1);
  uint32_t pos = 0;
  offsets[0] = 0;
  for (size_t i = 0; i < count; i++) {
    size_t e = perm[first + i];
    uint32_t len = s->offsets[e + 1] - s->offsets[e];
    memcpy(tokens + pos, s->tokens.v + s->offsets[e], len * sizeof *tokens);
    pos += len;
    offsets[i + 1] = pos;
    t->answer_pos[m * B + i] = s->prompt_len[e] - 1;
    if (s->choice_len)
      memcpy(t->choice_len + (m * B + i) * MAXK, s->choice_len + e * MAXK, MAXK * sizeof(uint32_t));
    t->n_choices[m * B + i] = s->n_choices[e];
    memcpy(t->choice_ids + (m * B + i) * MAXK, s->choice_ids + e * MAXK, MAXK * sizeof(int32_t));
    t->labels[m * B + i] = s->labels[e];
    if (t->kl_target)
      memcpy(t->kl_target + (m * B + i) * kw, s->kl_target + e * kw, kw * sizeof(float));
  }
  t->batches[m] = (lorens_batch){(uint32_t)count, MAXK, tokens, offsets, t->answer_pos + m * B,
                                 t->n_choices + m * B, t->choice_ids + m * B * MAXK,
                                 t->labels + m * B,
                                 t->kl_target ? t->kl_target + m * B * kw : NULL};
  if (s->choice_len)
    t->choice_len_of[m] = t->choice_len + m * B * MAXK;
  return pos;
}

static lr_status log_row(lr_trainer *t, const lr_log_row *row, lr_err *err) {
  if (LR_GROW(t->log, t->cap_log, t->n_log + 1, err) != LR_OK)
    return err->code;
  t->log[t->n_log++] = *row;
  return LR_OK;
}

lr_status lr_trainer_epoch(lr_trainer *t, long epoch, lr_err *err) {
  const lr_run_config *c = t->cfg;
  uint32_t M = t->members;
  size_t B = batch_of(t), n = t->set->n;
  uint32_t *perm = calloc((size_t)M * n + 1, sizeof *perm);
  float *lr = calloc(M, sizeof *lr), *loss = calloc(M, sizeof *loss), *ce = calloc(M, sizeof *ce);
  float *kl = calloc(M, sizeof *kl), *norm = calloc(M, sizeof *norm);
  uint64_t *tokens = calloc(M, sizeof *tokens), *dropout = calloc(M, sizeof *dropout);
  double t0 = lr_mono_time(), reported = 0, seen_tokens = 0;
  lr_status rc = LR_OK;
  t->n_log = 0;
  if (!perm || !lr || !loss || !ce || !kl || !norm || !tokens || !dropout)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; rc == LR_OK && m < M; m++) {
    order(t, m, epoch, perm + (size_t)m * n);
    dropout[m] = t->seeds[m].dropout;
  }
  for (int64_t s = 0; rc == LR_OK && s < t->steps_per_epoch; s++) {
    int64_t global = (epoch - 1) * t->steps_per_epoch + s;
    size_t first = (size_t)s * B, count = first + B <= n ? B : n - first;
    double rate = lr_schedule_rate(c->schedule, c->lr, global, t->total_steps, c->warmup_steps);
    double step_t0 = lr_mono_time(), sum_loss = 0, took;
    uint32_t active = 0;
    lorens_train_args a;
    for (uint32_t m = 0; m < M; m++) {
      if (t->state[m].training) {
        tokens[m] = pack(t, m, perm + (size_t)m * n, first, count);
        active++;
      } else {
        t->batches[m] = (lorens_batch){0};
        t->batches[m].max_choices = MAXK;
        tokens[m] = 0;
      }
      lr[m] = (float)rate;
      loss[m] = ce[m] = kl[m] = norm[m] = NAN;
    }
    if (active == 0)
      break;
    memset(&a, 0, sizeof a);
    a.batches = t->batches;
    a.lr = lr;
    a.weight_decay_a = (float)c->wd_a;
    a.weight_decay_b = (float)c->wd_b;
    a.weight_decay_mode = c->wd_mode == LR_WD_L2 ? LORENS_WD_L2 : LORENS_WD_DECOUPLED;
    a.adam_beta1 = (float)c->beta1;
    a.adam_beta2 = (float)c->beta2;
    a.adam_eps = (float)c->eps;
    a.grad_clip = (float)c->grad_clip;
    a.kl_weight = (float)c->kl_weight;
    a.kl_support = c->kl_support == LR_KL_SUPPORT_VOCAB ? LORENS_SUPPORT_VOCAB
                                                        : LORENS_SUPPORT_CHOICES;
    a.kl_direction = c->kl_direction == LR_KL_REVERSE ? LORENS_KL_BASE_MEMBER
                                                      : LORENS_KL_MEMBER_BASE;
    a.loss_support = LORENS_SUPPORT_CHOICES;
    a.choice_len = t->set->choice_len ? t->choice_len_of : NULL;
    a.dropout_seeds = dropout;
    a.dropout_step = (uint64_t)global;
    a.loss = loss;
    a.ce = ce;
    a.kl = kl;
    a.grad_norm = norm;
    if ((rc = lr_session_train_step(t->session, &a, err)) != LR_OK) {
      lr_err_prefix(err, "epoch %ld, step %lld: ", epoch, (long long)global);
      break;
    }
    took = lr_mono_time() - step_t0;
    for (uint32_t m = 0; rc == LR_OK && m < M; m++) {
      lr_log_row row = {m, epoch, global, rate, loss[m], ce[m], kl[m], norm[m], took, tokens[m]};
      if (!t->state[m].training)
        continue;
      if (!isfinite(loss[m])) {
        t->state[m].training = false;
        t->state[m].diverged = true;
        t->state[m].diverged_step = global;
      }
      sum_loss += loss[m];
      seen_tokens += (double)tokens[m];
      rc = log_row(t, &row, err);
    }
    if (t->progress && (lr_mono_time() - reported >= 0.2 || s + 1 == t->steps_per_epoch)) {
      reported = lr_mono_time();
      t->progress(t->progress_ctx, epoch, s + 1, t->steps_per_epoch, sum_loss / active,
                  seen_tokens / (reported - t0 > 1e-9 ? reported - t0 : 1e-9));
    }
  }
  free(perm);
  free(lr);
  free(loss);
  free(ce);
  free(kl);
  free(norm);
  free(tokens);
  free(dropout);
  return rc;
}
