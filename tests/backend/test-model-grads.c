/*
 * test-model-grads.c: the LoRA gradients of whole tiny models against finite differences, in
 * double precision, for every loss (choices or vocabulary, with KL either way), with biases, GQA
 * and MQA, tied and untied heads, llama3 RoPE scaling, and LoRA dropout with fixed masks.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cpu-kernels.h"
#include "grad-check.h"
#include "llama-lora.h"
#include "model/random-model.h"
#include "tiny-model.h"

#define TOL 1e-6

static lr_kernels K;
/* One thread: these check arithmetic, not scheduling (test-cpu-backend runs two). */
static lr_cpu_ctx CTX = {.n_threads = 1};

typedef struct fixture {
  lr_net *net;
  tiny_batch tb;
  lr_loss_opts opts;
  uint32_t member;
  const uint32_t *choice_len; /* choices of several tokens, or NULL */
} fixture;

static double objective(void *p) {
  fixture *f = p;
  lr_loss loss;
  char msg[256];
  if (lr_net_forward_backward(f->net, f->member, &f->tb.b, f->choice_len, &f->opts, 99, 3, &loss,
                              msg, sizeof msg))
    return NAN;
  return loss.loss;
}

static lr_net *open_net_micro(const lr_random_model *tm, uint32_t targets, float dropout,
                             int rslora, uint32_t micro) {
  lorens_session_desc d = {0};
  lr_net *net = NULL;
  char msg[256] = "";
  d.struct_size = sizeof d;
  d.n_members = 2;
  d.model = &tm->model;
  d.lora_targets = targets;
  d.lora_rank = 3;
  d.lora_alpha = 6;
  d.lora_rslora = rslora;
  d.lora_dropout = dropout;
  d.micro_batch_tokens = micro;
  if (lr_net_open(&K, &d, &net, msg, sizeof msg) != LORENS_OK)
    tap_diag("lr_net_open: %s", msg);
  return net;
}

static lr_net *open_net(const lr_random_model *tm, uint32_t targets, float dropout, int rslora) {
  return open_net_micro(tm, targets, dropout, rslora, 0);
}

/* Random non-zero adapters for both members, so that every gradient is non-trivial. */
static void randomize_members(lr_net *net, uint64_t seed) {
  uint64_t n = lr_net_n_params(net), rng = seed;
  float *w = malloc(n * sizeof *w);
  lorens_member_state st = {w, NULL, NULL, 0};
  char msg[256];
  for (uint32_t m = 0; m < 2; m++) {
    for (uint64_t i = 0; i < n; i++)
      w[i] = (float)(0.6 * (test_uniform(&rng) - 0.5));
    lr_net_member_set(net, m, &st, msg, sizeof msg);
  }
  free(w);
}

static void fill_kl_target(tiny_batch *tb, int support, int vocab, uint64_t seed) {
  uint64_t rng = seed;
  for (uint32_t i = 0; i < tb->b.n; i++) {
    size_t width = support == LORENS_SUPPORT_VOCAB ? (size_t)vocab : 4;
    size_t n = support == LORENS_SUPPORT_VOCAB ? (size_t)vocab : tb->n_choices[i];
    float *row = tb->kl_target + i * width;
    double sum = 0;
    for (size_t j = 0; j < n; j++)
      sum += row[j] = (float)(0.05 + test_uniform(&rng));
    for (size_t j = 0; j < n; j++)
      row[j] = (float)(row[j] / sum);
  }
  tb->b.kl_target = tb->kl_target;
}

static void check(const char *name, fixture *f) {
  uint64_t n = lr_net_n_params(f->net);
  real *grad = malloc(n * sizeof *grad);
  char msg[256] = "";
  lr_loss loss;
  size_t worst_i = 0;
  lorens_status rc = lr_net_forward_backward(f->net, f->member, &f->tb.b, f->choice_len, &f->opts,
                                             99, 3, &loss, msg, sizeof msg);
  if (!tap_ok(rc == LORENS_OK, "%s: forward/backward runs", name)) {
    tap_diag("%s", msg);
    free(grad);
    return;
  }
  lr_net_member_grads(f->net, f->member, grad, msg, sizeof msg);
  double err = grad_check(objective, f, lr_net_member_weights_host(f->net, f->member), grad, n,
                          300, 1e-3, &worst_i);
  tap_ok(err < TOL, "%s: LoRA gradients = finite differences (max rel err %.2e at %zu of %llu)",
         name, err, worst_i, (unsigned long long)n);
  tap_ok(loss.loss > 0 && loss.ce > 0, "%s: loss %.6f (ce %.6f, kl %.6f)", name, loss.loss,
         loss.ce, loss.kl);
  free(grad);
}

typedef struct named_loss {
  const char *name;
  lr_loss_opts o;
} named_loss;

/* Every loss: choices or vocabulary, KL either way over either, and language modelling. */
static const named_loss all_losses[] = {
    {"CE over choices", {LORENS_SUPPORT_CHOICES, 0, 0, 0, 0}},
    {"CE over vocabulary", {LORENS_SUPPORT_VOCAB, 0, 0, 0, 0}},
    {"CE + KL(p||p0) over choices", {LORENS_SUPPORT_CHOICES, 0.7f, LORENS_SUPPORT_CHOICES, LORENS_KL_MEMBER_BASE, 0}},
    {"CE + KL(p0||p) over choices", {LORENS_SUPPORT_CHOICES, 0.7f, LORENS_SUPPORT_CHOICES, LORENS_KL_BASE_MEMBER, 0}},
    {"vocab CE + KL(p0||p) over vocabulary", {LORENS_SUPPORT_VOCAB, 0.3f, LORENS_SUPPORT_VOCAB, LORENS_KL_BASE_MEMBER, 0}},
    {"choice CE + KL(p||p0) over vocabulary", {LORENS_SUPPORT_CHOICES, 0.3f, LORENS_SUPPORT_VOCAB, LORENS_KL_MEMBER_BASE, 0}},
    {"next-token LM loss", {0, 0, 0, 0, LORENS_OBJECTIVE_NEXT_TOKEN}},
};

/* check() for the losses all_losses[which[0..n)], each with its KL targets; the first alone
 * with dropout (one loss is enough to check the masks). */
static void check_losses(fixture *f, const char *label, const size_t *which, size_t n,
                         const lr_random_model_spec *spec, float dropout) {
  char name[200];
  for (size_t w = 0; w < n; w++) {
    size_t i = which[w];
    f->opts = all_losses[i].o;
    f->tb.b.kl_target = NULL;
    if (f->opts.kl_weight != 0)
      fill_kl_target(&f->tb, f->opts.kl_support, spec->vocab, spec->seed + i);
    snprintf(name, sizeof name, "%s, %s", label, all_losses[i].name);
    check(name, f);
    if (dropout > 0)
      break;
  }
}

static void run_model(const char *label, const lr_random_model_spec *spec, uint32_t targets, float dropout,
                      int rslora) {
  static const uint32_t lengths[3] = {5, 7, 4}, answers[3] = {4, 5, 3};
  static const size_t every[] = {0, 1, 2, 3, 4, 5, 6};
  lr_random_model tm;
  fixture f;
  lr_random_model_init(&tm, spec, NULL);
  f.net = open_net(&tm, targets, dropout, rslora);
  if (!tap_ok(f.net != NULL, "%s: session opens", label)) {
    lr_random_model_release(&tm);
    return;
  }
  randomize_members(f.net, spec->seed + 11);
  tiny_batch_init(&f.tb, spec->vocab, 3, lengths, answers, spec->seed + 5);
  f.member = 1;
  f.choice_len = NULL;
  check_losses(&f, label, every, LR_ARRAY_LEN(every), spec, dropout);
  tiny_batch_release(&f.tb);
  lr_net_close(f.net);
  lr_random_model_release(&tm);
}

/* ---- choices of several tokens (lorens_support): one pass over prompt and choices ----------- */

/* Three examples of prompts 4, 6 and 3 tokens long, then choices of 1-4 tokens (the last example
 * has 3 choices): the batch lorens_support describes, choice_ids the first tokens. */
static const uint32_t multi_len[3 * 4] = {1, 3, 2, 2, 2, 2, 1, 4, 3, 1, 2, 0};
static void multi_batch(tiny_batch *tb, int vocab, uint64_t seed) {
  static const uint32_t prompts[3] = {4, 6, 3};
  uint32_t lengths[3], answers[3];
  for (int i = 0; i < 3; i++) {
    lengths[i] = prompts[i];
    for (int k = 0; k < (i == 2 ? 3 : 4); k++)
      lengths[i] += multi_len[i * 4 + k];
    answers[i] = prompts[i] - 1;
  }
  tiny_batch_init(tb, vocab, 3, lengths, answers, seed);
  for (uint32_t i = 0; i < 3; i++) {
    uint32_t at = tb->offsets[i] + prompts[i];
    for (uint32_t k = 0; k < tb->n_choices[i]; k++) {
      tb->choice_ids[i * 4 + k] = tb->tokens[at];
      at += multi_len[i * 4 + k];
    }
  }
}

/* The log-likelihood of each choice the slow way: a sequence per choice token, the prompt and
 * the choice's tokens before it, read from the vocabulary log-probabilities at its last
 * position (what lorens did before minor 4, and what transformers computes). */
static double multi_reference_error(lr_net *net, const tiny_batch *tb, int member, const float *got) {
  double worst = 0;
  for (uint32_t i = 0; i < tb->b.n; i++) {
    const int32_t *ex = tb->tokens + tb->offsets[i];
    uint32_t plen = tb->answer_pos[i] + 1, at = plen;
    for (uint32_t k = 0; k < tb->n_choices[i]; k++) {
      uint32_t cl = multi_len[i * 4 + k];
      double sum = 0;
      for (uint32_t j = 0; j < cl; j++) {
        int32_t seq[32], zero = 0;
        uint32_t n = 0, offs[2], answer, one = 1;
        float lp[64];
        char msg[256];
        for (uint32_t t = 0; t < plen; t++)
          seq[n++] = ex[t];
        for (uint32_t t = 0; t < j; t++)
          seq[n++] = ex[at + t];
        offs[0] = 0;
        offs[1] = n;
        answer = n - 1;
        lorens_batch b = {1, 1, seq, offs, &answer, &one, &zero, NULL, NULL};
        lorens_score_args a = {sizeof a, &b, member, NULL, lp, NULL};
        if (lr_net_score(net, &a, msg, sizeof msg) != LORENS_OK)
          return INFINITY;
        sum += lp[ex[at + j]];
      }
      worst = fmax(worst, fabs(sum - got[i * 4 + k]));
      at += cl;
    }
  }
  return worst;
}

static void run_multi(const char *label, const lr_random_model_spec *spec, uint32_t targets,
                      float dropout) {
  static const size_t over_choices[] = {0, 2, 3}; /* the losses of choices of several tokens */
  lr_random_model tm;
  fixture f;
  char msg[256] = "";
  float scores[3 * 4];
  lr_loss loss;
  lr_random_model_init(&tm, spec, NULL);
  f.net = open_net(&tm, targets, dropout, 0);
  if (!tap_ok(f.net != NULL, "%s: session opens", label)) {
    lr_random_model_release(&tm);
    return;
  }
  randomize_members(f.net, spec->seed + 11);
  multi_batch(&f.tb, spec->vocab, spec->seed + 5);
  f.member = 1;
  f.choice_len = multi_len;
  {
    lorens_score_args a = {sizeof a, &f.tb.b, 1, scores, NULL, multi_len};
    lorens_status rc = lr_net_score(f.net, &a, msg, sizeof msg);
    double err = rc == LORENS_OK ? multi_reference_error(f.net, &f.tb, 1, scores) : INFINITY;
    /* Both come back as floats: agreement to float rounding of values around -10. */
    tap_ok(err < 1e-5, "%s: each choice's score is its log-likelihood, a sequence per token "
           "(err %.1e)%s%s", label, err, rc == LORENS_OK ? "" : ": ", msg);
  }
  check_losses(&f, label, over_choices, LR_ARRAY_LEN(over_choices), spec, dropout);
  /* Micro-batches of whole examples: the same gradients, summed. */
  {
    uint64_t n = lr_net_n_params(f.net);
    real *whole = malloc(n * sizeof *whole), *parts = malloc(n * sizeof *parts);
    lr_net *micro = open_net_micro(&tm, targets, dropout, 0, 12);
    double worst = 0;
    float *w = malloc(n * sizeof *w);
    lorens_member_state st = {w, NULL, NULL, 0};
    lr_loss ml;
    lr_net_member_get(f.net, 1, &st, msg, sizeof msg);
    lr_net_member_set(micro, 1, &st, msg, sizeof msg);
    lr_net_forward_backward(f.net, 1, &f.tb.b, multi_len, &f.opts, 99, 3, &loss, msg, sizeof msg);
    lr_net_member_grads(f.net, 1, whole, msg, sizeof msg);
    lorens_status rc = lr_net_forward_backward(micro, 1, &f.tb.b, multi_len, &f.opts, 99, 3, &ml,
                                               msg, sizeof msg);
    lr_net_member_grads(micro, 1, parts, msg, sizeof msg);
    for (uint64_t i = 0; i < n; i++)
      worst = fmax(worst, fabs(whole[i] - parts[i]) / (fabs(whole[i]) + 1e-8));
    tap_ok(rc == LORENS_OK && worst < 1e-9 && fabs(ml.loss - loss.loss) < 1e-12,
           "%s: micro-batches of 12 tokens give the whole batch's gradients (err %.1e) and loss",
           label, worst);
    free(whole);
    free(parts);
    free(w);
    lr_net_close(micro);
  }
  /* What the layout rules out. */
  {
    uint32_t bad[12];
    lorens_status rc;
    memcpy(bad, multi_len, sizeof bad);
    bad[1] = 0;
    rc = lr_net_forward_backward(f.net, 1, &f.tb.b, bad, &f.opts, 0, 0, &loss, msg, sizeof msg);
    tap_ok(rc == LORENS_EINVAL && strstr(msg, "example 0: choice 1 has no tokens"),
           "%s: a choice of no tokens is refused (%s)", label, msg);
    bad[1] = 4;
    rc = lr_net_forward_backward(f.net, 1, &f.tb.b, bad, &f.opts, 0, 0, &loss, msg, sizeof msg);
    tap_ok(rc == LORENS_EINVAL && strstr(msg, "take 13 tokens but it has 12"),
           "%s: lengths that do not fill the example are refused (%s)", label, msg);
    f.opts.loss_support = LORENS_SUPPORT_VOCAB;
    rc = lr_net_forward_backward(f.net, 1, &f.tb.b, multi_len, &f.opts, 0, 0, &loss, msg,
                                 sizeof msg);
    tap_ok(rc == LORENS_EINVAL && strstr(msg, "over the choices"),
           "%s: a loss over the vocabulary is refused (%s)", label, msg);
  }
  tiny_batch_release(&f.tb);
  lr_net_close(f.net);
  lr_random_model_release(&tm);
}

/* ---- full-parameter training: the gradient of every base tensor ----------------------------- */

typedef struct tensor_span {
  char name[48];
  size_t off, count;
} tensor_span;

/* The documented order of a train_base member's state (lorens/backend.h). */
static size_t full_layout(const lr_random_model_spec *sp, tensor_span *out) {
  size_t n = 0, off = 0, D = (size_t)sp->dim, F = (size_t)sp->hidden, V = (size_t)sp->vocab;
  size_t hd = D / (size_t)sp->heads, q = (size_t)sp->heads * hd, kv = (size_t)sp->kv_heads * hd;
  static const char *const names[9] = {"input_layernorm", "q_proj", "k_proj", "v_proj", "o_proj",
                                       "gate_proj", "up_proj", "down_proj",
                                       "post_attention_layernorm"};
  size_t sizes[9] = {D, q * D, kv * D, kv * D, D * q, F * D, F * D, D * F, D};
#define ADD(nm, c)                                                                        \
  do {                                                                                    \
    snprintf(out[n].name, sizeof out[n].name, "%s", nm);                                  \
    out[n].off = off;                                                                     \
    out[n++].count = (c);                                                                 \
    off += (c);                                                                           \
  } while (0)
  ADD("embed_tokens", V * D);
  for (int l = 0; l < sp->layers; l++) {
    for (int s = 0; s < 9; s++) {
      char nm[48];
      snprintf(nm, sizeof nm, "layer %d %s", l, names[s]);
      ADD(nm, sizes[s]);
    }
  }
  ADD("norm", D);
  if (!sp->tied)
    ADD("lm_head", V * D);
#undef ADD
  return n;
}

static void run_full(const char *label, const lr_random_model_spec *spec) {
  static const uint32_t lengths[3] = {5, 7, 4}, answers[3] = {4, 5, 3};
  lr_random_model tm;
  lorens_session_desc d = {0};
  fixture f;
  tensor_span spans[64];
  size_t n_spans = full_layout(spec, spans);
  char msg[256] = "";
  lr_loss loss;
  lr_random_model_init(&tm, spec, NULL);
  d.struct_size = sizeof d;
  d.n_members = 1;
  d.model = &tm.model;
  d.train_base = 1;
  f.net = NULL;
  if (!tap_ok(lr_net_open(&K, &d, &f.net, msg, sizeof msg) == LORENS_OK, "%s: full session opens",
              label)) {
    tap_diag("%s", msg);
    lr_random_model_release(&tm);
    return;
  }
  uint64_t n = lr_net_n_params(f.net);
  tap_ok(n == spans[n_spans - 1].off + spans[n_spans - 1].count,
         "%s: %llu trainable values, the whole model in the documented order", label,
         (unsigned long long)n);
  /* The member starts as the model: compare the embedding and the final norm. */
  real *w = lr_net_member_weights_host(f.net, 0);
  const float *emb = tm.model.embed.data, *norm = tm.model.final_norm.data;
  int same = 1;
  for (size_t i = 0; i < spans[0].count; i++)
    same &= w[spans[0].off + i] == (real)emb[i];
  for (int i = 0; i < spec->dim; i++)
    same &= w[spans[n_spans - (spec->tied ? 1 : 2)].off + (size_t)i] == (real)norm[i];
  tap_ok(same, "%s: the trainable state starts as the model's tensors", label);

  tiny_batch_init(&f.tb, spec->vocab, 3, lengths, answers, spec->seed + 5);
  memset(&f.opts, 0, sizeof f.opts);
  f.opts.objective = LORENS_OBJECTIVE_NEXT_TOKEN;
  f.member = 0;
  lorens_status rc = lr_net_forward_backward(f.net, 0, &f.tb.b, NULL, &f.opts, 0, 0, &loss, msg,
                                             sizeof msg);
  if (tap_ok(rc == LORENS_OK, "%s: next-token forward/backward runs (loss %.5f)", label, loss.loss)) {
    real *grad = malloc(n * sizeof *grad);
    lr_net_member_grads(f.net, 0, grad, msg, sizeof msg);
    for (size_t i = 0; i < n_spans; i++) {
      size_t worst = 0;
      double err = grad_check(objective, &f, w + spans[i].off, grad + spans[i].off,
                              spans[i].count, 40, 1e-3, &worst);
      tap_ok(err < TOL, "%s: %s gradient = finite differences (max rel err %.2e at %zu of %zu)",
             label, spans[i].name, err, worst, spans[i].count);
    }
    free(grad);
  } else {
    tap_diag("%s", msg);
  }
  /* The multiple-choice objective is refused, not silently wrong, in full training. */
  f.opts.objective = LORENS_OBJECTIVE_CHOICES;
  rc = lr_net_forward_backward(f.net, 0, &f.tb.b, NULL, &f.opts, 0, 0, &loss, msg, sizeof msg);
  tap_ok(rc == LORENS_EUNSUPPORTED && strstr(msg, "next-token") != NULL,
         "%s: choice loss refused in full training (%s)", label, msg);
  tiny_batch_release(&f.tb);
  lr_net_close(f.net);
  lr_random_model_release(&tm);
}

static void full_refusals(void) {
  lr_random_model_spec bias = {.vocab = 20, .dim = 8, .hidden = 12, .layers = 1, .heads = 2,
                               .kv_heads = 2, .seed = 7, .qkv_bias = 1};
  lr_random_model tm;
  lorens_session_desc d = {0};
  lr_net *net = NULL;
  char msg[256] = "";
  lr_random_model_init(&tm, &bias, NULL);
  d.struct_size = sizeof d;
  d.n_members = 1;
  d.model = &tm.model;
  d.train_base = 1;
  tap_ok(lr_net_open(&K, &d, &net, msg, sizeof msg) == LORENS_EUNSUPPORTED &&
             strstr(msg, "bias") != NULL,
         "full training refuses a model with biases (%s)", msg);
  d.n_members = 2;
  tap_ok(lr_net_open(&K, &d, &net, msg, sizeof msg) == LORENS_EINVAL, "full training refuses 2 members (%s)",
         msg);
  d.n_members = 1;
  d.lora_targets = LORENS_LORA_Q;
  tap_ok(lr_net_open(&K, &d, &net, msg, sizeof msg) == LORENS_EINVAL,
         "full training refuses LoRA targets (%s)", msg);
  lr_random_model_release(&tm);
}

int main(void) {
  const uint32_t all = (1u << LORENS_LORA_TARGET_COUNT) - 1;
  lr_random_model_spec gqa = {.vocab = 37, .dim = 16, .hidden = 24, .layers = 2, .heads = 4,
                              .kv_heads = 2, .tied = 1, .seed = 1001, .qkv_bias = 1,
                              .llama3_rope = 1, .random_norms = 1};
  lr_random_model_spec mqa = {.vocab = 29, .dim = 12, .hidden = 20, .layers = 2, .heads = 3,
                              .kv_heads = 1, .seed = 2002, .random_norms = 1};
  lr_cpu_kernels_init(&K, &CTX);
  run_model("GQA, tied, q/k/v bias, llama3 rope, all targets", &gqa, all, 0, 0);
  run_model("MQA, untied, q and v, rsLoRA", &mqa, LORENS_LORA_Q | LORENS_LORA_V, 0, 1);
  run_model("GQA with LoRA dropout 0.3 (fixed masks)", &gqa, all, 0.3f, 0);
  run_model("MQA, MLP targets only", &mqa, LORENS_LORA_GATE | LORENS_LORA_UP | LORENS_LORA_DOWN, 0, 0);
  run_multi("choices of several tokens, GQA, all targets", &gqa, all, 0);
  run_multi("choices of several tokens, MQA, q and v, dropout 0.3", &mqa,
            LORENS_LORA_Q | LORENS_LORA_V, 0.3f);
  {
    lr_random_model_spec tied = gqa, untied = mqa;
    tied.qkv_bias = 0;
    run_full("full training, GQA, tied, llama3 rope", &tied);
    run_full("full training, MQA, untied", &untied);
  }
  full_refusals();
  return tap_done();
}
