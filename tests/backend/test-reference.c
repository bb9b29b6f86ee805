/*
 * test-reference.c: the CPU backend against Hugging Face transformers + PEFT.
 *
 * tests/fixtures/make_fixtures.py (run once, offline, in float64) saved tiny random LLaMA-family
 * models and, for a fixed batch, the base and LoRA choice logits, the loss, the LoRA gradients,
 * and the adapters after one and two AdamW steps.  This test loads each model with lorens' own
 * loader, runs the fp32 driver (the code the CPU plugin is built from) for logits and gradients,
 * trains two steps through the plugin's ABI, and compares everything.  expected-cloze-spans is
 * the cloze loss (plugin ABI 1.4): choices of several tokens packed after their prompt, against
 * PEFT running a sequence per choice.  It also checks next-token logits of the real pretrained
 * stories260K model when ../shared is present.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "model/adapters.h"
#include "cpu-kernels.h"
#include "llama-lora.h"
#include "model/model.h"
#include "model/plugin-loader.h"
#include "model/safetensors.h"

#define LOGIT_TOL 1e-4 /* relative, on the tensor's scale */
#define GRAD_TOL 1e-3

static const lorens_backend *B;

/* max |got - want| over the largest |want|: an error relative to the tensor's scale, so that
 * entries that are nearly zero are not judged by their own (meaningless) relative error. */
static double scaled_err(const float *got, const float *want, size_t n) {
  double worst = 0, scale = 1e-12;
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs((double)got[i] - want[i]));
    scale = fmax(scale, fabs((double)want[i]));
  }
  return worst / scale;
}

static const lr_st_tensor *need(const lr_st_file *f, const char *name) {
  const lr_st_tensor *t = lr_st_find(f, name);
  if (t == NULL)
    tap_diag("fixture lacks tensor '%s'", name);
  return t;
}

static double meta(const lr_st_file *f, const char *key) {
  const char *v = lr_st_metadata(f, key);
  return v ? strtod(v, NULL) : NAN;
}

typedef struct fixture {
  lr_model model;
  lr_st_file *exp;
  lorens_batch batch;
  const uint32_t *choice_len; /* the cloze loss over whole continuations (ABI 1.4), or NULL */
  uint32_t targets, rank;
  float alpha;
  int rslora;
  lr_loss_opts loss;
  lorens_train_args train;
  float lr;
  size_t n_params, n_sites;
  lr_adapter_site sites[64];
} fixture;

/* Copies the adapters named prefix.{layer}.{target}.A/B into canonical order. */
static int gather_adapters(const fixture *fx, const char *prefix, float *out) {
  for (size_t i = 0; i < fx->n_sites; i++) {
    const lr_adapter_site *s = &fx->sites[i];
    char name[128];
    const lr_st_tensor *a, *b;
    snprintf(name, sizeof name, "%s.%d.%s.A", prefix, s->layer, lr_target_name(s->target));
    a = need(fx->exp, name);
    snprintf(name, sizeof name, "%s.%d.%s.B", prefix, s->layer, lr_target_name(s->target));
    b = need(fx->exp, name);
    if (!a || !b || a->numel != (uint64_t)fx->rank * s->in || b->numel != (uint64_t)fx->rank * s->out)
      return -1;
    memcpy(out + s->offset, a->data, a->nbytes);
    memcpy(out + s->offset + (size_t)fx->rank * s->in, b->data, b->nbytes);
  }
  return 0;
}

static int open_fixture(fixture *fx, const char *dir, const char *file) {
  char path[2200];
  lr_err err;
  lr_err_init(&err);
  memset(fx, 0, sizeof *fx);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (lr_model_load(dir, &fx->model, &err) != LR_OK || lr_st_open(path, &fx->exp, &err) != LR_OK) {
    tap_diag("%s", err.msg);
    return -1;
  }
  if (lr_targets_parse(lr_st_metadata(fx->exp, "targets"), &fx->targets, &err) != LR_OK)
    return -1;
  fx->rank = (uint32_t)meta(fx->exp, "rank");
  fx->alpha = (float)meta(fx->exp, "alpha");
  fx->rslora = meta(fx->exp, "rslora") != 0;
  fx->lr = (float)meta(fx->exp, "lr");
  fx->loss.loss_support = strcmp(lr_st_metadata(fx->exp, "loss_support"), "vocab") == 0;
  fx->loss.kl_weight = (float)meta(fx->exp, "kl_weight");
  fx->loss.kl_support = strcmp(lr_st_metadata(fx->exp, "kl_support"), "vocab") == 0;
  fx->loss.kl_direction = strcmp(lr_st_metadata(fx->exp, "kl_direction"), "base_member") == 0;
  fx->n_params = lr_adapter_layout(&fx->model.abi, fx->targets, fx->rank, fx->sites, &fx->n_sites);
  const lr_st_tensor *off = need(fx->exp, "offsets"), *kl = lr_st_find(fx->exp, "kl_target");
  const lr_st_tensor *spans = lr_st_find(fx->exp, "choice_len");
  lorens_batch *b = &fx->batch;
  b->n = (uint32_t)need(fx->exp, "labels")->numel;
  b->max_choices = (uint32_t)need(fx->exp, "choice_ids")->shape[1];
  b->tokens = need(fx->exp, "tokens")->data;
  b->offsets = off->data; /* I32 offsets, all non-negative: same bits as uint32 */
  b->answer_pos = need(fx->exp, "answer_pos")->data;
  b->n_choices = need(fx->exp, "n_choices")->data;
  b->choice_ids = need(fx->exp, "choice_ids")->data;
  b->labels = need(fx->exp, "labels")->data;
  b->kl_target = kl ? kl->data : NULL;
  fx->choice_len = spans ? spans->data : NULL; /* I32, non-negative: the bits of uint32 */
  return 0;
}

static void close_fixture(fixture *fx) {
  lr_st_close(fx->exp);
  lr_model_release(&fx->model);
}

/* Tolerances of the driver against the fp32 references: fp32, and precision bf16, where the
 * frozen products round both operands to bf16 (8 significant bits).  The worst bf16 errors
 * measured over these fixtures: choice logits 1.0e-2, gradients 1.4e-2 (docs/precision.md). */
typedef struct tolerances {
  double logit, loss, grad;
} tolerances;
static const tolerances fp32_tol = {LOGIT_TOL, 1e-5, GRAD_TOL};
static const tolerances bf16_tol = {3e-2, 1e-2, 5e-2};

/* Logits and gradients from the fp32 driver itself, or in precision bf16 when bf is set. */
static void check_driver(fixture *fx, const char *label, lr_bf16 *bf) {
  lr_cpu_ctx ctx = {.n_threads = 1, .bf16 = bf};
  const tolerances *tol = bf ? &bf16_tol : &fp32_tol;
  lr_kernels k;
  lorens_session_desc d = {.struct_size = sizeof d, .n_members = 1, .model = &fx->model.abi,
                           .lora_targets = fx->targets, .lora_rank = fx->rank,
                           .lora_alpha = fx->alpha, .lora_rslora = fx->rslora, .n_threads = 1};
  lr_net *net = NULL;
  char msg[LORENS_MSG_MAX] = "";
  float *w = calloc(fx->n_params, sizeof *w);
  real *g = calloc(fx->n_params, sizeof *g);
  float *want = calloc(fx->n_params, sizeof *want), *logits = calloc(fx->batch.n * fx->batch.max_choices, sizeof *logits);
  lorens_member_state st = {w, NULL, NULL, 0};
  lr_loss loss;
  lr_cpu_kernels_init(&k, &ctx);
  if (!tap_ok(lr_net_open(&k, &d, &net, msg, sizeof msg) == LORENS_OK, "%s: driver opens", label)) {
    tap_diag("%s", msg);
    goto out;
  }
  gather_adapters(fx, "init", w);
  lr_net_member_set(net, 0, &st, msg, sizeof msg);
  lorens_score_args sa = {sizeof sa, &fx->batch, LORENS_SCORE_BASE, logits, NULL, fx->choice_len};
  lr_net_score(net, &sa, msg, sizeof msg);
  tap_ok(scaled_err(logits, need(fx->exp, "base.choice_logits")->data, fx->batch.n * fx->batch.max_choices) < tol->logit,
         "%s: base-model choice logits match transformers (err %.2e)", label,
         scaled_err(logits, need(fx->exp, "base.choice_logits")->data, fx->batch.n * fx->batch.max_choices));
  sa.member = 0;
  lr_net_score(net, &sa, msg, sizeof msg);
  double e = scaled_err(logits, need(fx->exp, "step0.choice_logits")->data, fx->batch.n * fx->batch.max_choices);
  tap_ok(e < tol->logit, "%s: LoRA choice logits match PEFT (err %.2e)", label, e);
  lr_net_forward_backward(net, 0, &fx->batch, fx->choice_len, &fx->loss, 0, 0, &loss, msg,
                          sizeof msg);
  tap_is_near(loss.loss, ((const float *)need(fx->exp, "step0.loss")->data)[0], 0, tol->loss,
              "%s: loss matches (%.6f)", label, loss.loss);
  lr_net_member_grads(net, 0, g, msg, sizeof msg);
  gather_adapters(fx, "step0.grad", want);
  for (size_t i = 0; i < fx->n_params; i++)
    w[i] = (float)g[i];
  e = scaled_err(w, want, fx->n_params);
  tap_ok(e < tol->grad, "%s: LoRA gradients match PEFT (err %.2e)", label, e);
  for (size_t i = 0; i < fx->n_sites; i++) {
    const lr_adapter_site *s = &fx->sites[i];
    size_t na = (size_t)fx->rank * s->in, nb = (size_t)fx->rank * s->out;
    double ea = scaled_err(w + s->offset, want + s->offset, na);
    double eb = scaled_err(w + s->offset + na, want + s->offset + na, nb);
    if (ea >= tol->grad || eb >= tol->grad)
      tap_diag("layer %d %s: A err %.2e, B err %.2e", s->layer, lr_target_name(s->target), ea, eb);
  }
out:
  lr_net_close(net);
  lr_cpu_ctx_release(&ctx);
  free(w);
  free(g);
  free(want);
  free(logits);
}

/* Two AdamW steps through the plugin's ABI. */
static void check_training(fixture *fx, const char *label) {
  lorens_session_desc d = {.struct_size = sizeof d, .n_members = 1, .model = &fx->model.abi,
                           .lora_targets = fx->targets, .lora_rank = fx->rank,
                           .lora_alpha = fx->alpha, .lora_rslora = fx->rslora, .n_threads = 1};
  lorens_session *s = NULL;
  char msg[LORENS_MSG_MAX] = "";
  float *w = calloc(fx->n_params, sizeof *w), *want = calloc(fx->n_params, sizeof *want);
  float loss = 0, norm = 0;
  uint64_t seed = 0;
  lorens_member_state st = {w, NULL, NULL, 0};
  lorens_train_args a = {sizeof a, &fx->batch, &fx->lr, (float)meta(fx->exp, "wd_a"),
                         (float)meta(fx->exp, "wd_b"), (float)meta(fx->exp, "beta1"),
                         (float)meta(fx->exp, "beta2"), (float)meta(fx->exp, "eps"),
                         (float)meta(fx->exp, "grad_clip"), fx->loss.kl_weight,
                         fx->loss.kl_support, fx->loss.kl_direction, fx->loss.loss_support,
                         &seed, 0, &loss, NULL, NULL, &norm, LORENS_WD_DECOUPLED, 0,
                         &fx->choice_len};
  if (B->session_open(&d, NULL, &s, msg, sizeof msg) != LORENS_OK) {
    tap_ok(0, "%s: plugin session opens (%s)", label, msg);
    goto out;
  }
  gather_adapters(fx, "init", w);
  B->member_set(s, 0, &st, msg, sizeof msg);
  for (int step = 1; step <= 2; step++) {
    char name[32];
    tap_is_int(B->train_step(s, &a, msg, sizeof msg), LORENS_OK, "%s: train step %d", label, step);
    snprintf(name, sizeof name, "step%d.grad_norm", step - 1);
    tap_is_near(norm, ((const float *)need(fx->exp, name)->data)[0], 0, 1e-4,
                "%s: gradient norm before step %d matches", label, step);
    B->member_get(s, 0, &st, msg, sizeof msg);
    snprintf(name, sizeof name, "step%d", step);
    gather_adapters(fx, name, want);
    /* Adam's early steps move each weight by about lr * sign(gradient); compare on that scale. */
    double worst = 0;
    for (size_t i = 0; i < fx->n_params; i++)
      worst = fmax(worst, fabs((double)w[i] - want[i]));
    tap_ok(worst < 0.01 * fx->lr, "%s: adapters after %d AdamW step(s) match (max diff %.2e, lr %g)",
           label, step, worst, (double)fx->lr);
  }
out:
  if (s)
    B->session_close(s);
  free(w);
  free(want);
}

static void run_case(const char *fixtures, const char *name, const char *file) {
  char dir[1100], label[256];
  fixture fx;
  snprintf(dir, sizeof dir, "%s/%s", fixtures, name);
  snprintf(label, sizeof label, "%s/%s", name, file);
  if (!tap_ok(open_fixture(&fx, dir, file) == 0, "%s: fixture and model load", label))
    return;
  check_driver(&fx, label, NULL);
  check_training(&fx, label);
  {
    char why[160], bf_label[sizeof label + 8];
    lr_bf16 *bf = lr_bf16_available(why, sizeof why) ? lr_bf16_open(why, sizeof why) : NULL;
    snprintf(bf_label, sizeof bf_label, "bf16 %s", label);
    if (bf)
      check_driver(&fx, bf_label, bf);
    else
      tap_skip(why, "%s", bf_label);
    lr_bf16_close(bf);
  }
  close_fixture(&fx);
}

/* Next-token logits of the real pretrained stories260K at every position of three prompts. */
static void check_stories(const char *fixtures, const char *shared) {
  char dir[1100], path[1100];
  lr_model model;
  lr_st_file *ref_file = NULL;
  lr_err err;
  lr_cpu_ctx ctx = {.n_threads = 1};
  lr_kernels k;
  lr_net *net = NULL;
  char msg[LORENS_MSG_MAX] = "";
  snprintf(dir, sizeof dir, "%s/models/stories260K", shared);
  snprintf(path, sizeof path, "%s/stories260k/expected.safetensors", fixtures);
  lr_err_init(&err);
  if (lr_model_load(dir, &model, &err) != LR_OK) {
    tap_skip(err.msg, "stories260K next-token logits match transformers");
    return;
  }
  lr_st_open(path, &ref_file, &err);
  lorens_session_desc d = {.struct_size = sizeof d, .n_members = 1, .model = &model.abi,
                           .lora_targets = LORENS_LORA_Q, .lora_rank = 1, .lora_alpha = 1,
                           .n_threads = 1};
  lr_cpu_kernels_init(&k, &ctx);
  lr_net_open(&k, &d, &net, msg, sizeof msg);
  for (int p = 0; ref_file && net && p < 3; p++) {
    char name[64];
    snprintf(name, sizeof name, "prompt%d.tokens", p);
    const lr_st_tensor *tok = need(ref_file, name);
    snprintf(name, sizeof name, "prompt%d.logits", p);
    const lr_st_tensor *ref = need(ref_file, name);
    uint32_t len = (uint32_t)tok->numel, V = (uint32_t)model.abi.vocab_size;
    float *lp = malloc((size_t)len * V * sizeof *lp), *want = malloc((size_t)len * V * sizeof *want);
    double worst = 0;
    /* One example per prefix: the logits at position t are those after tokens 0..t. */
    for (uint32_t t = 0; t < len; t++) {
      uint32_t off[2] = {0, t + 1}, pos = t, nc = 1;
      int32_t cid = 0;
      lorens_batch b = {1, 1, tok->data, off, &pos, &nc, &cid, NULL, NULL};
      lorens_score_args sa = {sizeof sa, &b, LORENS_SCORE_BASE, NULL, lp + (size_t)t * V, NULL};
      lr_net_score(net, &sa, msg, sizeof msg);
      /* The fixture holds raw logits; compare log-softmaxes (a shift per row). */
      const float *row = (const float *)ref->data + (size_t)t * V;
      double mx = -INFINITY, sum = 0;
      for (uint32_t j = 0; j < V; j++)
        mx = fmax(mx, row[j]);
      for (uint32_t j = 0; j < V; j++)
        sum += exp(row[j] - mx);
      for (uint32_t j = 0; j < V; j++)
        want[(size_t)t * V + j] = (float)(row[j] - mx - log(sum));
    }
    worst = scaled_err(lp, want, (size_t)len * V);
    tap_ok(worst < LOGIT_TOL, "stories260K prompt %d (%u tokens): log-probabilities at every position match transformers (err %.2e)",
           p, len, worst);
    free(lp);
    free(want);
  }
  lr_net_close(net);
  lr_cpu_ctx_release(&ctx);
  lr_st_close(ref_file);
  lr_model_release(&model);
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR"), *build = getenv("TOP_BUILDDIR");
  char fixtures[1024], shared[1024], path[1024];
  lorens_host host;
  lr_plugin p;
  if (top == NULL || build == NULL)
    tap_skip_all("TOP_SRCDIR/TOP_BUILDDIR not set (run through `make check`)");
  snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures", top);
  snprintf(shared, sizeof shared, "%s/../shared", top);
  snprintf(path, sizeof path, "%s/plugins/cpu/.libs/cpu.so", build);
  lr_host_init(&host);
  lr_plugin_load(path, &host, &p);
  if (!tap_is_str(lr_plugin_state_name(p.state), "usable", "the CPU backend loads"))
    return tap_done();
  B = p.desc;
  run_case(fixtures, "llama-gqa-tied", "expected.safetensors");
  run_case(fixtures, "llama-gqa-tied", "expected-vocab-kl.safetensors");
  run_case(fixtures, "llama-gqa-tied", "expected-cloze-spans.safetensors");
  run_case(fixtures, "qwen2-bias-untied", "expected.safetensors");
  check_stories(fixtures, shared);
  lr_plugin_release(&p);
  return tap_done();
}
