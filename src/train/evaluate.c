/*
 * evaluate.c: choice probabilities of a dataset from a backend session (see evaluate.h).
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "train/evaluate.h"

/* One batch of prompts packed for the backend. */
typedef struct packed {
  lr_ids tokens;
  uint32_t *offsets, *answer_pos, *n_choices;
  int32_t *choice_ids;
  float *logits;
  uint32_t *choice_len; /* choices of several tokens, packed after their prompt */
  bool spans;           /* this batch is packed so (the backend scores it in one pass) */
  double *probs; /* members x LR_DATASET_MAX_CHOICES, one example */
  lr_prompt *prompts;       /* built here when the caller has none */
  const lr_prompt **use;    /* the batch's prompts: built ones, or the caller's */
} packed;

void lr_choice_softmax(const float *z, int k, double *probs) {
  double mx = -INFINITY, sum = 0;
  for (int j = 0; j < k; j++)
    mx = fmax(mx, z[j]);
  for (int j = 0; j < k; j++)
    sum += probs[j] = exp(z[j] - mx);
  for (int j = 0; j < k; j++)
    probs[j] /= sum;
}

/* Scores packed prompts by their choice tokens' logits (every continuation is one token), or by
 * the log-likelihoods of their continuations when they are packed after them (pk->spans): the
 * softmax over the choices is the same either way. */
static lr_status score_single(const lr_scorer *s, const lr_dataset *data, size_t first,
                              size_t count, packed *pk, lr_score_fn fn, void *ctx, lr_err *err) {
  size_t stride = count * LR_DATASET_MAX_CHOICES; /* between members */
  lorens_batch b = {(uint32_t)count, LR_DATASET_MAX_CHOICES, pk->tokens.v, pk->offsets,
                    pk->answer_pos, pk->n_choices, pk->choice_ids, NULL, NULL};
  lorens_score_args a = {sizeof a, &b, s->which, pk->logits, NULL, pk->spans ? pk->choice_len : NULL};
  lr_status rc = lr_session_score(s->session, &a, err);
  for (size_t i = 0; i < count && rc == LR_OK; i++) {
    const lr_example *ex = &data->examples[first + i];
    for (uint32_t m = 0; m < s->members; m++)
      lr_choice_softmax(pk->logits + m * stride + i * LR_DATASET_MAX_CHOICES, ex->n_choices,
                        pk->probs + m * LR_DATASET_MAX_CHOICES);
    rc = fn(ctx, first + i, ex, pk->use[i], pk->probs, err);
  }
  return rc;
}

/*
 * Scores one prompt whose choice letters take several tokens: example (k, j) of the backend
 * batch is the prompt plus the first j tokens of choice k's continuation, read at its last
 * position for the log-probability of token j.  Their sums per choice are the log-likelihoods.
 */
static lr_status score_multi(const lr_scorer *s, size_t index, const lr_example *ex,
                             const lr_prompt *p, packed *pk, lr_score_fn fn, void *ctx,
                             lr_err *err) {
  size_t V = (size_t)s->vocab_size, n = 0, total = 0, plen = p->ids.n;
  int32_t *tokens, *ids;
  uint32_t *offsets, *answer, *one;
  float *loglik = calloc((size_t)s->members * LR_DATASET_MAX_CHOICES, sizeof *loglik), *lp = NULL;
  lr_ids seq;
  lr_status rc = LR_OK;
  for (int k = 0; k < p->n_choices; k++)
    total += p->cont[k].n;
  tokens = malloc(total * sizeof *tokens);
  ids = calloc(total, sizeof *ids);
  offsets = malloc((total + 1) * sizeof *offsets);
  answer = malloc(total * sizeof *answer);
  one = malloc(total * sizeof *one);
  if (!tokens || !ids || !offsets || !answer || !one || !loglik)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  lr_ids_init(&seq);
  if (offsets)
    offsets[0] = 0;
  for (int k = 0; k < p->n_choices && rc == LR_OK; k++) {
    for (size_t j = 0; j < p->cont[k].n && rc == LR_OK; j++) {
      for (size_t t = 0; t < plen && rc == LR_OK; t++)
        rc = lr_ids_push(&seq, p->ids.v[t], err);
      for (size_t t = 0; t < j && rc == LR_OK; t++)
        rc = lr_ids_push(&seq, p->cont[k].v[t], err);
      tokens[n] = p->cont[k].v[j];
      answer[n] = (uint32_t)(plen + j) - 1;
      one[n] = 1;
      offsets[n + 1] = (uint32_t)seq.n;
      n++;
    }
  }
  lp = rc == LR_OK ? malloc((size_t)s->members * n * V * sizeof *lp) : NULL;
  if (rc == LR_OK && lp == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK) {
    /* Each example needs a valid choice id: token 0 stands in, only the vocabulary is read. */
    lorens_batch b = {(uint32_t)n, 1, seq.v, offsets, answer, one, ids, NULL, NULL};
    lorens_score_args a = {sizeof a, &b, s->which, NULL, lp, NULL};
    rc = lr_session_score(s->session, &a, err);
  }
  for (uint32_t m = 0; rc == LR_OK && m < s->members; m++) {
    size_t e = 0;
    for (int k = 0; k < p->n_choices; k++)
      for (size_t j = 0; j < p->cont[k].n; j++, e++)
        loglik[m * LR_DATASET_MAX_CHOICES + k] += lp[(m * n + e) * V + (size_t)tokens[e]];
    lr_choice_softmax(loglik + m * LR_DATASET_MAX_CHOICES, p->n_choices,
                      pk->probs + m * LR_DATASET_MAX_CHOICES);
  }
  if (rc == LR_OK)
    rc = fn(ctx, index, ex, p, pk->probs, err);
  free(lp);
  free(loglik);
  free(tokens);
  free(ids);
  free(offsets);
  free(answer);
  free(one);
  lr_ids_release(&seq);
  return rc;
}

static lr_status score_batch(const lr_scorer *s, const lr_dataset *data, size_t first,
                             size_t count, packed *pk, lr_score_fn fn, void *ctx, lr_err *err) {
  bool single = true;
  lr_status rc = LR_OK;
  pk->tokens.n = 0;
  pk->offsets[0] = 0;
  for (size_t i = 0; i < count && rc == LR_OK; i++) {
    const lr_example *ex = &data->examples[first + i];
    const lr_prompt *p = s->prompts ? &s->prompts[first + i] : &pk->prompts[i];
    bool folded;
    if (s->prompts == NULL)
      rc = lr_prompt_build(s->tok, &s->prompt, ex, &pk->prompts[i], err);
    if (rc == LR_OK && s->prompts == NULL && s->fold)
      rc = lr_prompt_fold(s->tok, &pk->prompts[i], &folded, err);
    pk->use[i] = p;
    single = single && p->single;
  }
  /* Several tokens per choice: one pass over each prompt and its choices where the backend can
   * (LR_FEATURE_CHOICE_SPANS), else a sequence per choice token (score_multi). */
  pk->spans = !single && lr_backend_has(s->session->backend, LR_FEATURE_CHOICE_SPANS);
  for (size_t i = 0; i < count && rc == LR_OK; i++) {
    const lr_prompt *p = pk->use[i];
    for (size_t j = 0; rc == LR_OK && j < p->ids.n; j++)
      rc = lr_ids_push(&pk->tokens, p->ids.v[j], err);
    for (int k = 0; pk->spans && k < p->n_choices; k++) {
      for (size_t j = 0; rc == LR_OK && j < p->cont[k].n; j++)
        rc = lr_ids_push(&pk->tokens, p->cont[k].v[j], err);
      pk->choice_len[i * LR_DATASET_MAX_CHOICES + (size_t)k] = (uint32_t)p->cont[k].n;
    }
    pk->offsets[i + 1] = (uint32_t)pk->tokens.n;
    pk->answer_pos[i] = (uint32_t)p->ids.n - 1;
    pk->n_choices[i] = (uint32_t)p->n_choices;
    memcpy(pk->choice_ids + i * LR_DATASET_MAX_CHOICES, p->choice_ids, sizeof p->choice_ids);
  }
  if (rc != LR_OK)
    return rc;
  if (single || pk->spans)
    return score_single(s, data, first, count, pk, fn, ctx, err);
  for (size_t i = 0; i < count && rc == LR_OK; i++)
    rc = score_multi(s, first + i, &data->examples[first + i], pk->use[i], pk, fn, ctx, err);
  return rc;
}

lr_status lr_score_dataset(const lr_scorer *s, const lr_dataset *data, lr_score_fn fn, void *ctx,
                           lr_err *err) {
  /* A batch larger than the data set is the whole set: no room for examples that are not there. */
  size_t B = s->batch ? s->batch : 1;
  packed pk = {0};
  if (B > data->n && data->n > 0)
    B = data->n;
  lr_status rc = LR_OK;
  lr_ids_init(&pk.tokens);
  pk.offsets = calloc(B + 1, sizeof *pk.offsets);
  pk.answer_pos = calloc(B, sizeof *pk.answer_pos);
  pk.n_choices = calloc(B, sizeof *pk.n_choices);
  pk.choice_ids = calloc(B * LR_DATASET_MAX_CHOICES, sizeof *pk.choice_ids);
  pk.choice_len = calloc(B * LR_DATASET_MAX_CHOICES, sizeof *pk.choice_len);
  pk.logits = calloc((size_t)s->members * B * LR_DATASET_MAX_CHOICES, sizeof *pk.logits);
  pk.probs = calloc((size_t)s->members * LR_DATASET_MAX_CHOICES, sizeof *pk.probs);
  pk.prompts = calloc(B, sizeof *pk.prompts);
  pk.use = calloc(B, sizeof *pk.use);
  if (!pk.offsets || !pk.answer_pos || !pk.n_choices || !pk.choice_ids || !pk.choice_len ||
      !pk.logits ||
      !pk.probs || !pk.prompts || !pk.use)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; pk.prompts && i < B; i++)
    lr_prompt_init(&pk.prompts[i]);
  for (size_t first = 0; rc == LR_OK && first < data->n; first += B)
    rc = score_batch(s, data, first, first + B <= data->n ? B : data->n - first, &pk, fn, ctx,
                     err);
  for (size_t i = 0; pk.prompts && i < B; i++)
    lr_prompt_release(&pk.prompts[i]);
  lr_ids_release(&pk.tokens);
  free(pk.offsets);
  free(pk.answer_pos);
  free(pk.n_choices);
  free(pk.choice_ids);
  free(pk.choice_len);
  free(pk.logits);
  free(pk.probs);
  free(pk.prompts);
  free(pk.use);
  return rc;
}

lr_status lr_prompts_build(const lr_scorer *s, const lr_dataset *data, lr_prompt **out,
                           lr_prompt_report *report, lr_err *err) {
  lr_prompt *p = calloc(data->n + 1, sizeof *p);
  lr_status rc = p ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  lr_prompt_report own;
  lr_prompt_report_init(&own);
  for (size_t i = 0; p && i < data->n; i++)
    lr_prompt_init(&p[i]);
  for (size_t i = 0; rc == LR_OK && i < data->n; i++) {
    bool folded;
    lr_err e;
    lr_err_init(&e);
    rc = lr_prompt_build(s->tok, &s->prompt, &data->examples[i], &p[i], &e);
    /* One that does not fit is noted and the next one built: all are reported at once. */
    lr_prompt_report_add(report ? report : &own, &data->examples[i], &p[i], &e);
    if (rc != LR_OK && lr_prompt_bad(&p[i]))
      rc = LR_OK;
    else if (rc != LR_OK && err->code == LR_OK)
      *err = e;
    else if (rc == LR_OK && s->fold)
      rc = lr_prompt_fold(s->tok, &p[i], &folded, err);
  }
  if (rc == LR_OK)
    rc = lr_prompt_report_check(&own, err);
  if (rc != LR_OK) {
    lr_prompts_release(p, data->n);
    p = NULL;
  }
  *out = p;
  return rc;
}

void lr_prompts_release(lr_prompt *p, size_t n) {
  for (size_t i = 0; p && i < n; i++)
    lr_prompt_release(&p[i]);
  free(p);
}
