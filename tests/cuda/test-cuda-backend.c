/*
 * test-cuda-backend.c: the CUDA backend against the CPU backend through the plugin ABI, on the
 * same random model (grouped-query attention, q/k/v biases, tied head) and the same members:
 * choice logits and vocabulary log-probabilities; then three training steps of every member on
 * the same batches, comparing each step's loss and gradient norm, the LoRA gradients of the first
 * step (AdamW's first moment after one step is (1 - beta1) times the gradient, with clipping
 * off) and the adapters and moments after the third.  Four settings: LoRA on q and v without
 * dropout, and on every target with dropout 0.1 and the KL term over the vocabulary, in fp32 and
 * in precision bf16, and in fp32 with the second backend's members stacked (one frozen product
 * over both members' rows) against the CPU's one after another.
 *
 * Tolerances (docs/cuda.md): in fp32, logits, losses, gradient norms and gradients within 1e-4
 * relative (normwise over the array); the state after three AdamW steps within 1e-3, since Adam's
 * update divides by sqrt(v) and so magnifies the rounding of small gradients.  In bf16 the bounds
 * docs/precision.md states for bf16 against fp32 (logits 3e-2, losses 1e-2, gradients and states
 * 5e-2), which hold whether the CPU multiplies in bf16 too or, lacking AVX512_BF16, in fp32.
 * Skipped without a usable CUDA device.  LORENS_PARITY_BACKEND=NAME compares plugins/NAME instead
 * of cuda.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/packed-shape.h"
#include "../backend/tiny-model.h"
#include "../tap.h"
#include "base/rng.h"
#include "model/plugin-loader.h"
#include "model/random-model.h"

enum { CPU, GPU, N_BACKENDS, MEMBERS = 2, STEPS = 3, RANK = 4 };
static const lorens_backend *backend[N_BACKENDS];
/* The second is cuda unless LORENS_PARITY_BACKEND names another plugin of the build (cpu checks
 * the test itself: every difference is then 0). */
static const char *backend_name[N_BACKENDS] = {"cpu", "cuda"};

typedef struct setting {
  const char *name;
  uint32_t targets;
  float dropout, kl_weight;
  uint32_t precision; /* lorens_precision */
  int stacked;        /* the second backend's members stacked (LORENS_STACK_MEMBERS=1) */
} setting;

/* The bound for a comparison: fp32's, or in bf16 the one docs/precision.md states. */
static double bound(const setting *s, double fp32, double bf16) {
  return s->precision == LORENS_PRECISION_BF16 ? bf16 : fp32;
}

static void agree(const char *what, const setting *s, const float *cpu, const float *gpu, size_t n,
                  double tol) {
  double err = rel_err_f32(cpu, gpu, n);
  tap_ok(!isnan(err) && err <= tol, "%s, %s: %s within %.0e of the CPU (%.2e)", s->name, what,
         backend_name[GPU], tol, err);
}

static lorens_session *open_session(int b, const lr_random_model *tm, const setting *s) {
  lorens_session_desc d = {0};
  lorens_session *out = NULL;
  char msg[LORENS_MSG_MAX] = "";
  d.struct_size = sizeof d;
  d.n_members = MEMBERS;
  d.model = &tm->model;
  d.lora_targets = s->targets;
  d.lora_rank = RANK;
  d.lora_alpha = 8;
  d.lora_dropout = s->dropout;
  d.n_threads = 2;
  d.precision = s->precision;
  if (b == GPU && s->stacked)
    setenv("LORENS_STACK_MEMBERS", "1", 1);
  if (backend[b]->session_open(&d, NULL, &out, msg, sizeof msg) != LORENS_OK)
    tap_diag("%s: %s", backend_name[b], msg);
  unsetenv("LORENS_STACK_MEMBERS");
  return out;
}

static lorens_session_info info_of(int b, lorens_session *s) {
  lorens_session_info info = {.struct_size = sizeof info};
  char msg[LORENS_MSG_MAX];
  backend[b]->session_info(s, &info, msg, sizeof msg);
  return info;
}

static void check_setting(const lr_random_model *tm, tiny_batch *tb, const setting *s) {
  lorens_session *ss[N_BACKENDS];
  size_t n = tb->b.n, K = tb->b.max_choices, V = (size_t)tm->model.vocab_size;
  float *logits[N_BACKENDS], *lp[N_BACKENDS], *state[N_BACKENDS][3], *first_m[N_BACKENDS];
  float loss[N_BACKENDS][STEPS][MEMBERS], gnorm[N_BACKENDS][STEPS][MEMBERS];
  uint64_t np;
  char msg[LORENS_MSG_MAX] = "";
  lr_rng rng;
  tb->b.kl_target = NULL;
  if (s->kl_weight != 0) { /* the base model's distribution stands in: uniform */
    for (size_t i = 0; i < n * V; i++)
      tb->kl_target[i] = 1.0f / (float)V;
    tb->b.kl_target = tb->kl_target;
  }
  for (int b = 0; b < N_BACKENDS; b++)
    ss[b] = open_session(b, tm, s);
  if (!tap_ok(ss[CPU] && ss[GPU], "%s: a session opens on both backends", s->name))
    goto close;
  np = info_of(CPU, ss[CPU]).n_params;
  if (!tap_is_int((long long)info_of(GPU, ss[GPU]).n_params, (long long)np,
                  "%s: both count the same adapter parameters", s->name))
    goto close;
  if (s->precision == LORENS_PRECISION_BF16) {
    tap_is_int(info_of(GPU, ss[GPU]).precision, LORENS_PRECISION_BF16,
               "%s: %s computes in the precision asked for", s->name, backend_name[GPU]);
    tap_diag("%s: the CPU computes in %s", s->name,
             info_of(CPU, ss[CPU]).precision == LORENS_PRECISION_BF16 ? "bf16" : "fp32");
  }
  /* Every member random, B too (with B = 0 the first gradients of A vanish). */
  {
    float *w = malloc(np * sizeof *w);
    lr_rng_seed(&rng, 11);
    for (uint32_t m = 0; m < MEMBERS; m++) {
      for (uint64_t i = 0; i < np; i++)
        w[i] = (float)(lr_rng_uniform(&rng) * 0.2 - 0.1);
      lorens_member_state st = {w, NULL, NULL, 0};
      for (int b = 0; b < N_BACKENDS; b++)
        backend[b]->member_set(ss[b], m, &st, msg, sizeof msg);
    }
    free(w);
  }
  for (int b = 0; b < N_BACKENDS; b++) {
    lorens_score_args a = {sizeof a, &tb->b, LORENS_SCORE_ALL, NULL, NULL, NULL};
    logits[b] = calloc(MEMBERS * n * K, sizeof *logits[b]);
    lp[b] = calloc(MEMBERS * n * V, sizeof *lp[b]);
    a.choice_logits = logits[b];
    a.vocab_logprobs = lp[b];
    if (backend[b]->score(ss[b], &a, msg, sizeof msg) != LORENS_OK)
      tap_diag("%s score: %s", backend_name[b], msg);
  }
  agree("choice logits of every member", s, logits[CPU], logits[GPU], MEMBERS * n * K,
        bound(s, 1e-4, 3e-2));
  agree("vocabulary log-probabilities", s, lp[CPU], lp[GPU], MEMBERS * n * V, bound(s, 1e-4, 3e-2));
  for (int b = 0; b < N_BACKENDS; b++) {
    lorens_batch batches[MEMBERS];
    float lr[MEMBERS] = {5e-3f, 1e-2f};
    uint64_t seeds[MEMBERS] = {3, 4};
    first_m[b] = malloc(MEMBERS * np * sizeof *first_m[b]);
    for (uint32_t m = 0; m < MEMBERS; m++)
      batches[m] = tb->b;
    for (int step = 0; step < STEPS; step++) {
      lorens_train_args a = tiny_train_args(batches, lr, loss[b][step], seeds);
      a.grad_clip = 0; /* off: the first moment is then the gradient, scaled */
      a.kl_weight = s->kl_weight;
      a.kl_support = LORENS_SUPPORT_VOCAB;
      a.grad_norm = gnorm[b][step];
      a.dropout_step = (uint64_t)step;
      if (backend[b]->train_step(ss[b], &a, msg, sizeof msg) != LORENS_OK)
        tap_diag("%s train_step: %s", backend_name[b], msg);
      if (step == 0)
        for (uint32_t m = 0; m < MEMBERS; m++) {
          lorens_member_state st = {NULL, first_m[b] + m * np, NULL, 0};
          backend[b]->member_get(ss[b], m, &st, msg, sizeof msg);
        }
    }
    for (int k = 0; k < 3; k++)
      state[b][k] = malloc(MEMBERS * np * sizeof *state[b][k]);
    for (uint32_t m = 0; m < MEMBERS; m++) {
      lorens_member_state st = {state[b][0] + m * np, state[b][1] + m * np, state[b][2] + m * np,
                                0};
      backend[b]->member_get(ss[b], m, &st, msg, sizeof msg);
    }
  }
  agree("the loss of each step and member", s, &loss[CPU][0][0], &loss[GPU][0][0],
        STEPS * MEMBERS, bound(s, 1e-4, 1e-2));
  agree("the gradient norm of each step and member", s, &gnorm[CPU][0][0], &gnorm[GPU][0][0],
        STEPS * MEMBERS, bound(s, 1e-4, 5e-2));
  agree("the LoRA gradients of the first step", s, first_m[CPU], first_m[GPU], MEMBERS * np,
        bound(s, 1e-4, 5e-2));
  agree("the adapters after 3 AdamW steps", s, state[CPU][0], state[GPU][0], MEMBERS * np,
        bound(s, 1e-3, 5e-2));
  agree("AdamW's first moments after 3 steps", s, state[CPU][1], state[GPU][1], MEMBERS * np,
        bound(s, 1e-3, 5e-2));
  agree("AdamW's second moments after 3 steps", s, state[CPU][2], state[GPU][2], MEMBERS * np,
        bound(s, 1e-3, 5e-2));
  for (int b = 0; b < N_BACKENDS; b++) {
    free(logits[b]);
    free(lp[b]);
    free(first_m[b]);
    for (int k = 0; k < 3; k++)
      free(state[b][k]);
  }
close:
  for (int b = 0; b < N_BACKENDS; b++)
    if (ss[b])
      backend[b]->session_close(ss[b]);
}

int main(void) {
  const char *dir = getenv("TOP_BUILDDIR");
  char path[1024];
  lorens_host host;
  lr_plugin p[N_BACKENDS];
  lr_random_model_spec spec = {.vocab = 96, .dim = 64, .hidden = 96, .layers = 2, .heads = 4,
                               .kv_heads = 2, .tied = 1, .seed = 77, .qkv_bias = 1,
                               .random_norms = 1};
  static const uint32_t lengths[4] = {6, 19, 5, 33}, answers[4] = {5, 17, 4, 30};
  static const setting settings[] = {
      {"q,v", LORENS_LORA_Q | LORENS_LORA_V, 0, 0, LORENS_PRECISION_FP32, 0},
      {"every target, dropout 0.1, KL 0.5", (1u << LORENS_LORA_TARGET_COUNT) - 1, 0.1f, 0.5f,
       LORENS_PRECISION_FP32, 0},
      {"bf16, every target, dropout 0.1, KL 0.5", (1u << LORENS_LORA_TARGET_COUNT) - 1, 0.1f,
       0.5f, LORENS_PRECISION_BF16, 0},
      {"members stacked, every target, dropout 0.1, KL 0.5", (1u << LORENS_LORA_TARGET_COUNT) - 1,
       0.1f, 0.5f, LORENS_PRECISION_FP32, 1},
  };
  lr_random_model tm;
  tiny_batch tb;
  if (dir == NULL)
    tap_skip_all("TOP_BUILDDIR is not set (run through `make check`)");
  if (getenv("LORENS_PARITY_BACKEND"))
    backend_name[GPU] = getenv("LORENS_PARITY_BACKEND");
  lr_host_init(&host);
  for (int b = 0; b < N_BACKENDS; b++) {
    snprintf(path, sizeof path, "%s/plugins/%s/.libs/%s.so", dir, backend_name[b], backend_name[b]);
    lr_plugin_load(path, &host, &p[b]);
    if (strcmp(lr_plugin_state_name(p[b].state), "usable") != 0) {
      char why[LORENS_MSG_MAX + 64];
      snprintf(why, sizeof why, "the %s backend is not usable here: %s", backend_name[b],
               p[b].msg);
      tap_skip_all(why);
    }
    backend[b] = p[b].desc;
  }
  lr_random_model_init(&tm, &spec, NULL);
  tiny_batch_init(&tb, spec.vocab, 4, lengths, answers, 9);
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    check_setting(&tm, &tb, &settings[i]);
  tiny_batch_release(&tb);
  lr_random_model_release(&tm);
  for (int b = 0; b < N_BACKENDS; b++)
    lr_plugin_release(&p[b]);
  return tap_done();
}
