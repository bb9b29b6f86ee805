/*
 * test-cpu-backend.c: the CPU plugin through the ABI, as lorens uses it: loading, session calls,
 * member state round trips, determinism, identical members, scoring modes, micro-batches,
 * members stacked, and clear errors for bad inputs.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "base/rng.h"
#include "model/adapters.h"
#include "model/plugin-loader.h"
#include "model/random-model.h"
#include "tiny-model.h"

static const lorens_backend *B;

static uint32_t precision = LORENS_PRECISION_FP32; /* of the sessions open_session opens */

static lorens_session *open_session(const lr_random_model *tm, uint32_t members, uint32_t targets,
                                    float dropout, char *msg) {
  lorens_session_desc d = {0};
  lorens_session *s = NULL;
  d.struct_size = sizeof d;
  d.n_members = members;
  d.model = &tm->model;
  d.lora_targets = targets;
  d.lora_rank = 4;
  d.lora_alpha = 8;
  d.lora_dropout = dropout;
  d.n_threads = 2;
  d.precision = precision;
  if (B->session_open(&d, NULL, &s, msg, LORENS_MSG_MAX) != LORENS_OK)
    return NULL;
  return s;
}

static uint64_t n_params(lorens_session *s) {
  lorens_session_info info = {.struct_size = sizeof info};
  char msg[LORENS_MSG_MAX];
  B->session_info(s, &info, msg, sizeof msg);
  return info.n_params;
}

/* Sets A of every member to the same random values and B to zero, as lorens does at the start
 * (lorens' own initialisation, adapters.c). */
static void init_members(lorens_session *s, const lorens_model *model, uint32_t targets,
                         uint32_t members, uint64_t seed) {
  uint64_t n = n_params(s);
  float *w = calloc(n, sizeof *w);
  lorens_member_state st = {w, NULL, NULL, 0};
  char msg[LORENS_MSG_MAX];
  lr_rng rng;
  lr_rng_seed(&rng, seed);
  if (!tap_is_int((long long)lr_adapter_layout(model, targets, 4, NULL, NULL), (long long)n,
                  "lorens' adapter layout has the backend's size"))
    return;
  lr_adapter_init(model, targets, 4, &rng, w);
  for (uint32_t m = 0; m < members; m++)
    B->member_set(s, m, &st, msg, sizeof msg);
  free(w);
}

static float *member_weights(lorens_session *s, uint32_t m) {
  uint64_t n = n_params(s);
  float *w = malloc(n * sizeof *w);
  lorens_member_state st = {w, NULL, NULL, 0};
  char msg[LORENS_MSG_MAX];
  B->member_get(s, m, &st, msg, sizeof msg);
  return w;
}

static void test_state_round_trip(const lr_random_model *tm) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_session *s = open_session(tm, 2, LORENS_LORA_Q | LORENS_LORA_V, 0, msg);
  uint64_t n;
  if (!tap_ok(s != NULL, "a session opens on a tiny model")) {
    tap_diag("%s", msg);
    return;
  }
  n = n_params(s);
  /* q: 4 * (16 + 16), v: 4 * (16 + 8), per layer, 2 layers */
  tap_is_int((long long)n, 2 * (4 * 32 + 4 * 24), "n_params counts A and B of every target");
  {
    /* A caller that knows only n_params: the plugin writes nothing past it. */
    lorens_session_info small = {.struct_size = offsetof(lorens_session_info, device_bytes),
                                 .device_bytes = 12345};
    B->session_info(s, &small, msg, sizeof msg);
    tap_ok(small.n_params == n && small.device_bytes == 12345 &&
               small.struct_size == offsetof(lorens_session_info, device_bytes),
           "session_info writes only inside the caller's struct_size");
  }
  float *w = malloc(n * sizeof *w), *m1 = malloc(n * sizeof *m1), *v1 = malloc(n * sizeof *v1);
  float *w2 = malloc(n * sizeof *w2), *m2 = malloc(n * sizeof *m2), *v2 = malloc(n * sizeof *v2);
  for (uint64_t i = 0; i < n; i++) {
    w[i] = (float)i * 0.001f;
    m1[i] = -(float)i;
    v1[i] = (float)i * 2;
  }
  lorens_member_state in = {w, m1, v1, 17}, out = {w2, m2, v2, 0};
  tap_is_int(B->member_set(s, 1, &in, msg, sizeof msg), LORENS_OK, "member_set");
  tap_is_int(B->member_get(s, 1, &out, msg, sizeof msg), LORENS_OK, "member_get");
  tap_ok(memcmp(w, w2, n * sizeof *w) == 0 && memcmp(m1, m2, n * sizeof *w) == 0 &&
         memcmp(v1, v2, n * sizeof *w) == 0, "weights and AdamW moments round-trip exactly");
  tap_is_int(out.step, 17, "the optimizer step round-trips");
  tap_is_int(B->member_get(s, 2, &out, msg, sizeof msg), LORENS_EINVAL, "member 2 of 2 is refused");
  tap_like(msg, "member 2 of 2", "with a message");
  B->session_close(s);
  free(w); free(m1); free(v1); free(w2); free(m2); free(v2);
}

/* Trains a session of `members` for `steps` on batch b (every member the same batch); loss gets
 * each member's last loss, and history (when not NULL) member 0's loss at every step. */
static lorens_session *train_logged(const lr_random_model *tm, uint32_t members, float dropout,
                                    const tiny_batch *tb, int steps, const uint64_t *seeds,
                                    float *loss, float *history) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_session *s = open_session(tm, members, (1u << LORENS_LORA_TARGET_COUNT) - 1, dropout, msg);
  lorens_batch batches[4];
  float lr[4] = {1e-2f, 1e-2f, 1e-2f, 1e-2f};
  if (s == NULL)
    return NULL;
  init_members(s, &tm->model, (1u << LORENS_LORA_TARGET_COUNT) - 1, members, 7);
  for (uint32_t m = 0; m < members; m++)
    batches[m] = tb->b;
  for (int step = 0; step < steps; step++) {
    lorens_train_args a = tiny_train_args(batches, lr, loss, seeds);
    a.dropout_step = (uint64_t)step;
    if (B->train_step(s, &a, msg, sizeof msg) != LORENS_OK) {
      tap_diag("train_step: %s", msg);
      B->session_close(s);
      return NULL;
    }
    if (history)
      history[step] = loss[0];
  }
  return s;
}

static lorens_session *train(const lr_random_model *tm, uint32_t members, float dropout,
                             const tiny_batch *tb, int steps, const uint64_t *seeds, float *loss) {
  return train_logged(tm, members, dropout, tb, steps, seeds, loss, NULL);
}

static void test_determinism(const lr_random_model *tm, const tiny_batch *tb) {
  static const uint64_t same[4] = {5, 5, 5, 5}, differ[4] = {5, 6, 7, 8};
  float loss[4], first_loss[4];
  lorens_session *a = train(tm, 3, 0, tb, 1, same, first_loss);
  lorens_session *b;
  if (a == NULL) {
    tap_ok(0, "training runs");
    return;
  }
  B->session_close(a);
  a = train(tm, 3, 0, tb, 6, same, loss);
  b = train(tm, 3, 0, tb, 6, same, loss);
  uint64_t n = n_params(a);
  float *wa = member_weights(a, 0), *wb = member_weights(b, 0), *w1 = member_weights(a, 1),
        *w2 = member_weights(a, 2);
  tap_ok(memcmp(wa, wb, n * sizeof *wa) == 0, "the same inputs give bit-identical adapters");
  tap_ok(memcmp(wa, w1, n * sizeof *wa) == 0 && memcmp(wa, w2, n * sizeof *wa) == 0,
         "members with identical inputs come out identical");
  tap_ok(loss[0] < first_loss[0], "training lowers the loss (%.4f -> %.4f)", first_loss[0], loss[0]);
  free(wa); free(wb); free(w1); free(w2);
  B->session_close(a);
  B->session_close(b);

  a = train(tm, 3, 0.2f, tb, 3, same, loss);
  w1 = member_weights(a, 0);
  w2 = member_weights(a, 1);
  tap_ok(memcmp(w1, w2, n * sizeof *w1) == 0, "with dropout, the same dropout seed gives the same member");
  free(w1); free(w2);
  B->session_close(a);
  a = train(tm, 3, 0.2f, tb, 3, differ, loss);
  w1 = member_weights(a, 0);
  w2 = member_weights(a, 1);
  tap_ok(memcmp(w1, w2, n * sizeof *w1) != 0, "another dropout seed gives another member");
  free(w1); free(w2);
  B->session_close(a);
}

static void test_scoring(const lr_random_model *tm, const tiny_batch *tb) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_session *s = open_session(tm, 2, LORENS_LORA_Q | LORENS_LORA_DOWN, 0, msg);
  size_t n = tb->b.n, K = tb->b.max_choices, V = (size_t)tm->model.vocab_size;
  float *base = calloc(n * K, sizeof *base), *mem = calloc(n * K, sizeof *mem);
  float *all = calloc(2 * n * K, sizeof *all), *lp = calloc(n * V, sizeof *lp);
  lorens_score_args a = {sizeof a, &tb->b, LORENS_SCORE_BASE, base, NULL, NULL};
  double max_diff = 0, mass = 0;
  init_members(s, &tm->model, LORENS_LORA_Q | LORENS_LORA_DOWN, 2, 3); /* B = 0 */
  tap_is_int(B->score(s, &a, msg, sizeof msg), LORENS_OK, "score the base model");
  a.member = 1;
  a.choice_logits = mem;
  B->score(s, &a, msg, sizeof msg);
  for (size_t i = 0; i < n * K; i++)
    max_diff = fmax(max_diff, fabs(base[i] - mem[i]));
  tap_ok(max_diff == 0, "with B = 0 a member scores exactly like the base model");
  a.member = LORENS_SCORE_ALL;
  a.choice_logits = all;
  a.vocab_logprobs = NULL;
  B->score(s, &a, msg, sizeof msg);
  tap_ok(memcmp(all + n * K, mem, n * K * sizeof *mem) == 0, "ALL lays members out one after another");
  a.member = LORENS_SCORE_BASE;
  a.choice_logits = mem;
  a.vocab_logprobs = lp;
  B->score(s, &a, msg, sizeof msg);
  for (size_t j = 0; j < V; j++)
    mass += exp(lp[j]);
  tap_is_near(mass, 1.0, 1e-4, 0, "vocabulary log-probabilities normalise");
  tap_is_near(mem[1], base[1], 1e-4, 1e-4, "choice logits agree between vocabulary and choice scoring");
  a.member = 2;
  tap_is_int(B->score(s, &a, msg, sizeof msg), LORENS_EINVAL, "scoring a member that does not exist fails");
  tap_like(msg, "no member 2", "and says so");
  B->session_close(s);
  free(base); free(mem); free(all); free(lp);
}

static void test_bad_inputs(const lr_random_model *tm, tiny_batch *tb) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_session *s = open_session(tm, 1, LORENS_LORA_Q, 0, msg);
  float lr = 1e-3f, loss;
  lorens_train_args a = tiny_train_args(&tb->b, &lr, &loss, NULL);
  int32_t keep_label = tb->labels[0];
  uint32_t keep_pos = tb->answer_pos[1];
  int32_t keep_tok = tb->tokens[2];
  tb->labels[0] = 9;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_EINVAL, "a label beyond the choices is refused");
  tap_like(msg, "example 0: label 9 outside its 4 choices", "with the example named");
  tb->labels[0] = keep_label;
  tb->answer_pos[1] = 99;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_EINVAL, "an answer position past the example is refused");
  tap_like(msg, "example 1: answer position 99", "with the example named");
  tb->answer_pos[1] = keep_pos;
  tb->tokens[2] = 100000;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_EINVAL, "a token outside the vocabulary is refused");
  tap_like(msg, "token 100000 outside the vocabulary", "with the token named");
  tb->tokens[2] = keep_tok;
  a.kl_weight = 0.5f;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_EINVAL, "KL without base probabilities is refused");
  B->session_close(s);

  lr_random_model broken = *tm;
  lorens_tensor layers[2 * LORENS_SLOT_COUNT_V1_0];
  memcpy(layers, tm->model.layers, sizeof layers);
  layers[LORENS_SLOT_K].shape[0] = 3;
  broken.model.layers = layers;
  s = open_session(&broken, 1, LORENS_LORA_Q, 0, msg);
  tap_ok(s == NULL, "a model with a mis-shaped tensor is refused at open");
  tap_like(msg, "layer 0 k_proj: expected shape [8, 16]", "naming the tensor and the shape");
  s = open_session(tm, 0, LORENS_LORA_Q, 0, msg);
  tap_ok(s == NULL, "a session of zero members is refused");
}

/*
 * Weight decay as an L2 penalty (ABI 1.1): the reported loss gains (decay/2)|A|^2, and with Adam
 * reduced to sign descent (beta1 = beta2 = 0) a huge decay on A makes every element of A step
 * by lr towards zero, while B (zero at the start) only sees the loss gradient.
 */
static void test_l2_decay(const lr_random_model *tm, const tiny_batch *tb) {
  char msg[LORENS_MSG_MAX] = "";
  uint32_t targets = LORENS_LORA_Q | LORENS_LORA_V;
  float lr[2] = {1e-3f, 1e-3f}, loss_l2[2], loss_plain[2];
  lorens_batch batches[2] = {tb->b, tb->b};
  lorens_session *s = open_session(tm, 2, targets, 0, msg);
  lr_adapter_site sites[2 * LORENS_LORA_TARGET_COUNT];
  size_t n_sites = 0;
  double sq = 0;
  float *w0, *w1;
  int toward_zero = 1;
  if (!tap_ok(s != NULL, "a session for the L2 test"))
    return;
  init_members(s, &tm->model, targets, 2, 11);
  w0 = member_weights(s, 0);
  lr_adapter_layout(&tm->model, targets, 4, sites, &n_sites);
  for (size_t i = 0; i < n_sites; i++)
    for (uint64_t j = 0; j < (uint64_t)4 * sites[i].in; j++)
      sq += (double)w0[sites[i].offset + j] * w0[sites[i].offset + j];
  lorens_train_args a = tiny_train_args(batches, lr, loss_plain, NULL);
  a.weight_decay_a = a.weight_decay_b = 0;
  a.grad_clip = 0;
  a.adam_beta1 = a.adam_beta2 = 0;
  a.adam_eps = 1e-30f;
  /* Member 1 takes the plain step; member 0 the L2 one, in a second call. */
  batches[0].n = 0;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_OK, "a plain step");
  batches[0] = tb->b;
  batches[1].n = 0;
  a.loss = loss_l2;
  a.weight_decay_a = 1e6f;
  a.weight_decay_mode = LORENS_WD_L2;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_OK, "an L2 step");
  tap_is_near(loss_l2[0] - loss_plain[1], 0.5e6 * sq, 1e-3 * 0.5e6 * sq, 0,
              "the L2 loss adds decay/2 |A|^2 (%.6g)", 0.5e6 * sq);
  w1 = member_weights(s, 0);
  for (size_t i = 0; i < n_sites; i++)
    for (uint64_t j = 0; j < (uint64_t)4 * sites[i].in; j++) {
      float before = w0[sites[i].offset + j], after = w1[sites[i].offset + j];
      float want = before - (before > 0 ? 1e-3f : -1e-3f);
      toward_zero &= fabsf(after - want) <= 1e-6f;
    }
  tap_ok(toward_zero, "a huge L2 decay moves every element of A by lr towards zero");
  a.weight_decay_mode = 7;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_EINVAL, "an unknown decay mode is refused");
  a.struct_size = LORENS_TRAIN_ARGS_SIZE_1_0;
  tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_OK,
             "a 1.0 host's smaller arguments are accepted (decoupled decay)");
  free(w0);
  free(w1);
  B->session_close(s);
}

/* Micro-batches (micro_batch_tokens) give the step of the whole batch: the same adapters after
 * training with dropout and the KL term, up to float rounding, however the examples are split
 * (6 + 9 + 5 tokens: 15 takes two micro-batches, 10 and 1 one per example). */
static void test_micro_batches(const lr_random_model *tm, const tiny_batch *tb) {
  static const uint32_t micro[4] = {0, 15, 10, 1};
  static const uint64_t seeds[1] = {5};
  uint32_t targets = (1u << LORENS_LORA_TARGET_COUNT) - 1;
  float *w[4] = {NULL}, loss[4][1] = {{0}}, norm[4][1] = {{0}};
  uint64_t n = 0;
  for (int c = 0; c < 4; c++) {
    char msg[LORENS_MSG_MAX] = "";
    lorens_session_desc d = {0};
    lorens_session *s = NULL;
    lorens_batch batch = tb->b;
    float lr[1] = {1e-2f};
    /* KL to a uniform base over the vocabulary: each micro-batch reads its rows of it. */
    for (size_t i = 0; i < (size_t)batch.n * (size_t)tm->model.vocab_size; i++)
      tb->kl_target[i] = 1.0f / (float)tm->model.vocab_size;
    batch.kl_target = tb->kl_target;
    d.struct_size = sizeof d;
    d.n_members = 1;
    d.model = &tm->model;
    d.lora_targets = targets;
    d.lora_rank = 4;
    d.lora_alpha = 8;
    d.lora_dropout = 0.2f;
    d.n_threads = 2;
    d.micro_batch_tokens = micro[c];
    if (!tap_is_int(B->session_open(&d, NULL, &s, msg, sizeof msg), LORENS_OK,
                    "a session with micro_batch_tokens %u opens", micro[c])) {
      tap_diag("%s", msg);
      return;
    }
    init_members(s, &tm->model, targets, 1, 7);
    for (int step = 0; step < 3; step++) {
      lorens_train_args a = tiny_train_args(&batch, lr, loss[c], seeds);
      a.dropout_step = (uint64_t)step;
      a.kl_weight = 0.5f;
      a.kl_support = LORENS_SUPPORT_VOCAB;
      a.grad_norm = step == 0 ? norm[c] : NULL;
      if (B->train_step(s, &a, msg, sizeof msg) != LORENS_OK)
        tap_diag("train_step: %s", msg);
    }
    n = n_params(s);
    w[c] = member_weights(s, 0);
    B->session_close(s);
  }
  for (int c = 1; c < 4; c++) {
    double worst = 0, scale = 1e-12;
    for (uint64_t i = 0; i < n; i++) {
      worst = fmax(worst, fabs((double)w[c][i] - w[0][i]));
      scale = fmax(scale, fabs((double)w[0][i]));
    }
    /* The gradients differ by float rounding only; Adam's first steps divide by |g|, which
     * lifts that to about 1e-5 of the adapters for gradients near 0. */
    tap_ok(fabsf(norm[c][0] - norm[0][0]) < 1e-6f * norm[0][0] && norm[0][0] > 0,
           "micro-batches of %u tokens: the whole batch's gradient norm (%.7f, %.7f)", micro[c],
           (double)norm[c][0], (double)norm[0][0]);
    tap_ok(worst / scale < 1e-4 && fabsf(loss[c][0] - loss[0][0]) < 1e-5f * fabsf(loss[0][0]),
           "micro-batches of %u tokens: after 3 steps the whole batch's adapters (err %.1e) and "
           "loss (%.6f, %.6f)", micro[c], worst / scale, (double)loss[c][0], (double)loss[0][0]);
  }
  {
    /* The trained adapters moved: a comparison of untrained members would prove nothing. */
    double moved = 0;
    for (uint64_t i = 0; i < n; i++)
      moved = fmax(moved, fabs((double)w[0][i]));
    tap_ok(moved > 0, "training moved the adapters");
  }
  for (int c = 0; c < 4; c++)
    free(w[c]);
}

/* Example i of tb alone as a batch of max_choices K (>= its choices), with KL targets over the
 * choices; the arrays in *store (freed with tiny_batch_release). */
static lorens_batch one_example(const tiny_batch *tb, uint32_t i, uint32_t K, tiny_batch *store) {
  uint32_t len = tb->offsets[i + 1] - tb->offsets[i];
  memset(store, 0, sizeof *store);
  store->tokens = malloc(len * sizeof *store->tokens);
  store->offsets = malloc(2 * sizeof *store->offsets);
  store->answer_pos = malloc(sizeof *store->answer_pos);
  store->n_choices = malloc(sizeof *store->n_choices);
  store->labels = malloc(sizeof *store->labels);
  store->choice_ids = calloc(K, sizeof *store->choice_ids);
  store->kl_target = calloc(K, sizeof *store->kl_target);
  memcpy(store->tokens, tb->tokens + tb->offsets[i], len * sizeof *store->tokens);
  store->offsets[0] = 0;
  store->offsets[1] = len;
  store->answer_pos[0] = tb->answer_pos[i];
  store->n_choices[0] = tb->n_choices[i];
  store->labels[0] = tb->labels[i];
  for (uint32_t c = 0; c < tb->n_choices[i]; c++) {
    store->choice_ids[c] = tb->choice_ids[i * tb->b.max_choices + c];
    store->kl_target[c] = (float)(c + 1) / (float)(tb->n_choices[i] * (tb->n_choices[i] + 1) / 2);
  }
  store->b = (lorens_batch){1, K, store->tokens, store->offsets, store->answer_pos,
                           store->n_choices, store->choice_ids, store->labels, store->kl_target};
  return store->b;
}

/* Members stacked (LORENS_STACK_MEMBERS=1) train as they do one after another: four members,
 * one with the whole batch (4 choices), one with its last example re-strided to 3 choices, one
 * with its first at 6, one with no examples; LoRA dropout with a seed per member, the KL term
 * over the choices.  Every member's loss and gradient norm at each of 3 steps and its adapters
 * after them agree up to float rounding; the stacked session holds every member's rows at once
 * (more memory), which shows the stacking happened. */
static void test_stacked_members(const lr_random_model *tm, const tiny_batch *tb) {
  static const uint64_t seeds[4] = {5, 6, 7, 8};
  uint32_t targets = (1u << LORENS_LORA_TARGET_COUNT) - 1;
  tiny_batch last, first;
  lorens_batch batches[4];
  float *w[2][4] = {{NULL}}, loss[2][3][4] = {{{0}}}, norm[2][3][4] = {{{0}}};
  uint64_t n = 0, bytes[2] = {0, 0};
  batches[0] = tb->b;
  for (size_t i = 0; i < (size_t)tb->b.n * 4; i++)
    tb->kl_target[i] = 0.25f;
  batches[0].kl_target = tb->kl_target;
  batches[1] = one_example(tb, tb->b.n - 1, 3, &last);
  batches[2] = one_example(tb, 0, 6, &first);
  batches[3] = (lorens_batch){0};
  for (int c = 0; c < 2; c++) {
    char msg[LORENS_MSG_MAX] = "";
    lorens_session_info info = {.struct_size = sizeof info};
    lorens_session *s;
    float lr[4] = {1e-2f, 1e-2f, 2e-2f, 1e-2f};
    if (c)
      setenv("LORENS_STACK_MEMBERS", "1", 1);
    s = open_session(tm, 4, targets, 0.2f, msg);
    unsetenv("LORENS_STACK_MEMBERS");
    if (!tap_ok(s != NULL, "a session of 4 members opens%s", c ? ", stacked" : "")) {
      tap_diag("%s", msg);
      break;
    }
    init_members(s, &tm->model, targets, 4, 7);
    for (int step = 0; step < 3; step++) {
      lorens_train_args a = tiny_train_args(batches, lr, loss[c][step], seeds);
      a.dropout_step = (uint64_t)step;
      a.kl_weight = 0.5f;
      a.kl_support = LORENS_SUPPORT_CHOICES;
      a.grad_norm = norm[c][step];
      if (B->train_step(s, &a, msg, sizeof msg) != LORENS_OK)
        tap_diag("train_step: %s", msg);
    }
    n = n_params(s);
    for (uint32_t m = 0; m < 4; m++)
      w[c][m] = member_weights(s, m);
    B->session_info(s, &info, msg, sizeof msg);
    bytes[c] = info.device_bytes;
    B->session_close(s);
  }
  if (w[1][0] != NULL) {
    double worst_w = 0, worst_l = 0, worst_n = 0, scale = 1e-12;
    int moved = 1, idle = 1;
    for (uint32_t m = 0; m < 4; m++) {
      double most = 0;
      for (uint64_t i = 0; i < n; i++) {
        worst_w = fmax(worst_w, fabs((double)w[1][m][i] - w[0][m][i]));
        scale = fmax(scale, fabs((double)w[0][m][i]));
        most = fmax(most, fabs((double)w[0][m][i] - w[0][3][i]));
      }
      if (m < 3)
        moved &= most > 0; /* member 3 has no examples: it stays as initialised */
      for (int step = 0; step < 3; step++) {
        worst_l = fmax(worst_l, fabs(loss[1][step][m] - loss[0][step][m]) /
                                    fmax(1e-12, fabs(loss[0][step][m])));
        worst_n = fmax(worst_n, fabs(norm[1][step][m] - norm[0][step][m]) /
                                    fmax(1e-12, fabs(norm[0][step][m])));
      }
    }
    for (uint64_t i = 0; i < n; i++)
      idle &= w[1][3][i] == w[0][3][i];
    tap_ok(moved, "stacked members: the members with examples trained");
    tap_ok(worst_l < 1e-5 && worst_n < 1e-5,
           "stacked members: every member's loss and gradient norm at every step as one after "
           "another (worst %.1e, %.1e)", worst_l, worst_n);
    tap_ok(worst_w / scale < 1e-4, "stacked members: the adapters after 3 steps (err %.1e)",
           worst_w / scale);
    tap_ok(idle, "stacked members: a member with no examples is left alone");
    tap_ok(bytes[1] > bytes[0], "stacked members: the session held every member's rows at once "
           "(%llu bytes against %llu)", (unsigned long long)bytes[1], (unsigned long long)bytes[0]);
  }
  for (int c = 0; c < 2; c++)
    for (uint32_t m = 0; m < 4; m++)
      free(w[c][m]);
  tiny_batch_release(&last);
  tiny_batch_release(&first);
}

/* Precision bf16 against fp32 on the same inputs: ten steps of training, whose losses stay
 * within 2% (+0.01) of fp32's at every step; the session says what it computed in. */
static void test_precision(const lr_random_model *tm, const tiny_batch *tb) {
  static const uint64_t seeds[1] = {5};
  float loss[2][10], last;
  lorens_session *s[2] = {NULL, NULL};
  lorens_session_info info = {.struct_size = sizeof info};
  char msg[LORENS_MSG_MAX] = "";
  double worst = 0;
  int ok = 1;
  for (int p = 0; p < 2; p++) {
    precision = p ? LORENS_PRECISION_BF16 : LORENS_PRECISION_FP32;
    s[p] = train_logged(tm, 1, 0, tb, 10, seeds, &last, loss[p]);
    ok = ok && s[p] != NULL;
  }
  precision = LORENS_PRECISION_FP32;
  if (!tap_ok(ok, "fp32 and bf16 sessions train")) {
    for (int p = 0; p < 2; p++)
      if (s[p])
        B->session_close(s[p]);
    return;
  }
  B->session_info(s[0], &info, msg, sizeof msg);
  tap_is_int(info.precision, LORENS_PRECISION_FP32, "an fp32 session computes fp32");
  B->session_info(s[1], &info, msg, sizeof msg);
  if (info.precision == LORENS_PRECISION_FP32) {
    tap_skip("this build or CPU multiplies no bf16 (see `lorens backends`)",
             "bf16 training against fp32");
  } else {
    tap_is_int(info.precision, LORENS_PRECISION_BF16, "a bf16 session computes bf16");
    for (int i = 0; i < 10; i++)
      worst = fmax(worst, fabs(loss[1][i] - loss[0][i]) / (0.01 + 0.02 * fabs(loss[0][i])));
    tap_ok(worst <= 1, "bf16 losses stay within 2%% + 0.01 of fp32's over 10 steps "
           "(worst %.2f of the band; %.4f -> %.4f against %.4f -> %.4f)", worst, loss[1][0],
           loss[1][9], loss[0][0], loss[0][9]);
    tap_ok(loss[1][0] != loss[0][0], "and they differ: bf16 really ran");
  }
  B->session_close(s[0]);
  B->session_close(s[1]);
}

int main(void) {
  const char *dir = getenv("TOP_BUILDDIR");
  char path[1024];
  lorens_host host;
  lr_plugin p;
  lr_random_model_spec spec = {.vocab = 40, .dim = 16, .hidden = 24, .layers = 2, .heads = 4,
                               .kv_heads = 2, .tied = 1, .seed = 77, .qkv_bias = 1,
                               .llama3_rope = 1, .random_norms = 1};
  static const uint32_t lengths[3] = {6, 9, 5}, answers[3] = {5, 8, 4};
  lr_random_model tm;
  tiny_batch tb;
  if (dir == NULL)
    tap_skip_all("TOP_BUILDDIR is not set (run through `make check`)");
  snprintf(path, sizeof path, "%s/plugins/cpu/.libs/cpu.so", dir);
  lr_host_init(&host);
  lr_plugin_load(path, &host, &p);
  if (!tap_is_str(lr_plugin_state_name(p.state), "usable", "the CPU backend loads and is usable")) {
    tap_diag("%s", p.msg);
    return tap_done();
  }
  B = p.desc;
  tap_ok(LORENS_BACKEND_HAS_SESSIONS(B), "it has the session calls");
  lr_random_model_init(&tm, &spec, NULL);
  tiny_batch_init(&tb, spec.vocab, 3, lengths, answers, 9);
  test_state_round_trip(&tm);
  test_determinism(&tm, &tb);
  test_scoring(&tm, &tb);
  test_bad_inputs(&tm, &tb);
  test_l2_decay(&tm, &tb);
  test_micro_batches(&tm, &tb);
  test_stacked_members(&tm, &tb);
  test_precision(&tm, &tb);
  tiny_batch_release(&tb);
  lr_random_model_release(&tm);
  lr_plugin_release(&p);
  return tap_done();
}
