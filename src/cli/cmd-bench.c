/*
 * cmd-bench.c: `lorens bench train`: training throughput of a backend on a random model, or on a
 * model file (--model: a GGUF file or a Hugging Face directory, its base kept as stored, or
 * converted to fp32 first with --dequantize, the comparison the typed base is measured against).
 *
 * A benchmark, not a test: it prints tokens/s (median step time after warm-up), achieved GFLOP/s
 * from an analytic count of the work a step does, utilisation against the backend's own measured
 * matmul peak, and the process's peak RSS.  Every member trains on every step, so tokens/s is the
 * aggregate over members.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "base/rng.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "model/adapters.h"
#include "model/backend-session.h"
#include "model/base-convert.h"
#include "model/model.h"
#include "model/random-model.h"

typedef struct bench_opts {
  lr_random_model_spec model;
  long seq, batch, rank, members, steps, warmup, threads, micro;
  uint32_t targets;
  const char *targets_text, *backend;
  const char *model_path; /* --model; NULL: a random model of the given shape */
  int dequantize;
  const char *const *dirs; /* dir_list's */
  size_t n_dirs;
  double peak; /* 0: measure */
  int json, vocab_loss;
  int precision; /* lorens_precision: the order of precision_choices */
  /* As parsed, before they go into model and vocab_loss: 0 keeps the default. */
  long dim, layers, heads, kv_heads, hidden, vocab;
  int loss;
  lr_strings dir_list;
  int n_args; /* the positional arguments, moved to argv[1..] */
} bench_opts;

typedef struct bench_result {
  double *step_s; /* steps timings */
  double median_s, tokens_per_s, gflops, peak_gflops, mfu, peak_rss_mb, flops_per_step;
  double session_mb; /* what the session holds after the steps (device memory on a GPU) */
  char no_peak[LR_ERR_MSG_MAX]; /* why peak_gflops is 0 */
  uint32_t precision;           /* what the session computed in */
  float first_loss, last_loss;
} bench_result;

/* ---- the work of one training step, counted ------------------------------------------------ */

/* Multiply-adds are 2 flops; the backward pass of a frozen linear layer computes only the input
 * gradient (as much work as the forward), LoRA adds its own products forwards and backwards
 * (twice the forward: both adapter gradients and the input gradient), attention is causal.  The
 * first layer's q, k and v make no input gradient: it would reach only the frozen embedding. */
static double step_flops(const bench_opts *o) {
  const lr_random_model_spec *m = &o->model;
  double T = (double)o->seq * o->batch, D = m->dim, F = m->hidden, hd = (double)m->dim / m->heads;
  double q = m->heads * hd, kv = m->kv_heads * hd, r = (double)o->rank, L = (double)o->seq;
  double linear = 2 * T * (D * q + 2 * D * kv + q * D + 3 * D * F);
  double unmade = 2 * T * (D * q + 2 * D * kv), lora = 0, attn, head;
  const double in[7] = {D, D, D, q, D, D, F}, out[7] = {q, kv, kv, D, F, F, D};
  for (int t = 0; t < 7; t++)
    if ((o->targets >> t) & 1u) {
      lora += 2 * T * r * (in[t] + out[t]);
      unmade += t <= 2 ? 2 * T * r * in[t] : 0; /* q, k, v: their adapters' input gradient */
    }
  attn = (double)o->batch * m->heads * 2 * 2 * hd * L * (L + 1) / 2;
  head = 2 * (double)o->batch * D * (o->vocab_loss ? m->vocab : 1);
  return (double)m->layers * (2 * linear + 3 * lora + 3 * attn) - unmade + 2 * head;
}

/* ---- options --------------------------------------------------------------------------------- */

static const char *const losses[] = {"vocab", "choices", NULL};

static const char *const precision_choices[] = {"fp32", "bf16", NULL};

static const lr_option options[] = {
    {LR_ARG_STRING(bench_opts, backend, "backend", 0, "NAME", "the backend (default cpu)")},
    {LR_ARG_STRINGS(bench_opts, dir_list, "backend-dir", 0, "DIR",
                    "search DIR for backends first")},
    {LR_ARG_STRING(bench_opts, model_path, "model", 0, "FILE",
                   "a model (.gguf file or directory) instead of a random one;\n"
                   "the shape options below are then its own")},
    {LR_ARG_FLAG(bench_opts, dequantize, "dequantize", 0,
                 "with --model: convert its base to fp32 first instead of\n"
                 "keeping it in its stored type")},
    {LR_ARG_INT(bench_opts, dim, "dim", 0, "N", 2, 65536, "model width (default 288)")},
    {LR_ARG_INT(bench_opts, layers, "layers", 0, "N", 1, 1024, "layers (default 6)")},
    {LR_ARG_INT(bench_opts, heads, "heads", 0, "N", 1, 1024, "attention heads (default 6)")},
    {LR_ARG_INT(bench_opts, kv_heads, "kv-heads", 0, "N", 1, 1024,
                "key/value heads (default: --heads)")},
    {LR_ARG_INT(bench_opts, hidden, "hidden", 0, "N", 1, 1 << 20, "MLP width (default 768)")},
    {LR_ARG_INT(bench_opts, vocab, "vocab", 0, "N", 1, 1 << 22, "vocabulary (default 32000)")},
    {LR_ARG_INT(bench_opts, seq, "seq", 0, "N", 1, 1 << 16, "tokens per sequence (default 128)")},
    {LR_ARG_INT(bench_opts, batch, "batch", 0, "N", 1, 1 << 16, "sequences per step (default 8)")},
    {LR_ARG_INT(bench_opts, rank, "rank", 0, "N", 1, 4096, "LoRA rank (default 8)")},
    {LR_ARG_STRING(bench_opts, targets_text, "targets", 0, "LIST",
                   "LoRA target modules (default q,v)")},
    {LR_ARG_INT(bench_opts, members, "members", 0, "M", 1, 4096, "ensemble members (default 1)")},
    {LR_ARG_INT(bench_opts, micro, "micro-batch", 0, "N", 0, 1 << 30,
                "train in micro-batches of whole sequences of at most N\n"
                "tokens, their gradients summed (default 0: whole batches)")},
    {LR_ARG_INT(bench_opts, steps, "steps", 0, "N", 1, 1000000, "timed steps (default 20)")},
    {LR_ARG_INT(bench_opts, warmup, "warmup", 0, "N", 0, 1000000,
                "untimed steps first (default 2)")},
    {LR_ARG_INT(bench_opts, threads, "threads", 0, "N", 0, 4096,
                "threads (default 0: the backend's default)")},
    {LR_ARG_CHOICE(bench_opts, precision, "precision", 0, precision_choices,
                   "how the frozen base multiplies: fp32 (default) or bf16")},
    {LR_ARG_CHOICE(bench_opts, loss, "loss", 0, losses,
                   "vocab (default): cross-entropy over the vocabulary;\n"
                   "choices: over one choice token")},
    {LR_ARG_DOUBLE(bench_opts, peak, "peak", 0, "GFLOPS", 1e-3, 1e9,
                   "the matmul peak for MFU, instead of measuring it")},
    {LR_ARG_CHOICE(bench_opts, json, "format", 0, lr_text_json, "text (default) or json")},
    LR_ARG_END,
};

static int parse_opts(int argc, char **argv, bench_opts *o) {
  int rc = lr_options_parse(&lr_cmd_bench, argc, argv, o, &o->n_args);
  lr_random_model_spec *m = &o->model;
  m->dim = o->dim ? (int)o->dim : m->dim;
  m->layers = o->layers ? (int)o->layers : m->layers;
  m->heads = o->heads ? (int)o->heads : m->heads;
  m->kv_heads = o->kv_heads ? (int)o->kv_heads : m->kv_heads;
  m->hidden = o->hidden ? (int)o->hidden : m->hidden;
  m->vocab = o->vocab ? (int)o->vocab : m->vocab;
  o->vocab_loss = o->loss == 0;
  o->dirs = o->dir_list.a;
  o->n_dirs = o->dir_list.n;
  return rc;
}

static int check_args(int argc, char **argv, bench_opts *o) {
  lr_err err;
  (void)argc;
  lr_err_init(&err);
  if (strcmp(argv[1], "train") != 0)
    return lr_usage_error(&lr_cmd_bench, "unknown benchmark '%s' (there is: train)", argv[1]);
  if (lr_targets_parse(o->targets_text, &o->targets, &err) != LR_OK)
    return lr_usage_error(&lr_cmd_bench, "--targets: %s", err.msg);
  if (o->model.kv_heads == 0)
    o->model.kv_heads = o->model.heads;
  if (o->model_path && (o->dim || o->layers || o->heads || o->kv_heads || o->hidden || o->vocab))
    return lr_usage_error(&lr_cmd_bench, "--model takes the model's own shape: drop --dim, "
                          "--layers, --heads, --kv-heads, --hidden and --vocab");
  if (o->dequantize && !o->model_path)
    return lr_usage_error(&lr_cmd_bench, "--dequantize needs --model");
  return LR_EXIT_OK;
}

/* ---- running ---------------------------------------------------------------------------------- */

typedef struct bench_batch {
  lorens_batch b;
  int32_t *tokens, *choice_ids, *labels;
  uint32_t *offsets, *answer_pos, *n_choices;
} bench_batch;

static lr_status batch_init(bench_batch *bb, const bench_opts *o, lr_err *err) {
  size_t n = (size_t)o->batch, T = n * (size_t)o->seq;
  lr_rng rng;
  memset(bb, 0, sizeof *bb);
  bb->tokens = malloc(T * sizeof *bb->tokens);
  bb->choice_ids = malloc(n * sizeof *bb->choice_ids);
  bb->labels = calloc(n, sizeof *bb->labels);
  bb->offsets = malloc((n + 1) * sizeof *bb->offsets);
  bb->answer_pos = malloc(n * sizeof *bb->answer_pos);
  bb->n_choices = malloc(n * sizeof *bb->n_choices);
  if (!bb->tokens || !bb->choice_ids || !bb->labels || !bb->offsets || !bb->answer_pos || !bb->n_choices)
    return lr_fail(err, LR_ENOMEM, "out of memory for the batch");
  lr_rng_seed(&rng, 1234);
  for (size_t t = 0; t < T; t++)
    bb->tokens[t] = (int32_t)lr_rng_below(&rng, (uint64_t)o->model.vocab);
  for (size_t i = 0; i < n; i++) {
    bb->offsets[i] = (uint32_t)(i * (size_t)o->seq);
    bb->answer_pos[i] = (uint32_t)o->seq - 1;
    bb->n_choices[i] = 1;
    bb->choice_ids[i] = (int32_t)lr_rng_below(&rng, (uint64_t)o->model.vocab);
  }
  bb->offsets[n] = (uint32_t)T;
  bb->b = (lorens_batch){(uint32_t)n, 1, bb->tokens, bb->offsets, bb->answer_pos, bb->n_choices,
                         bb->choice_ids, bb->labels, NULL};
  return LR_OK;
}

/* The model to train: a random one of the options' shape, or --model's file (its shape then
 * replaces the options'), as stored or converted to fp32. */
static lr_status load_model(bench_opts *o, lr_random_model *rm, lr_model *file, lr_base_view *view,
                            const lorens_model **out, lr_err *err) {
  lr_random_model_spec *m = &o->model;
  lr_status rc;
  if (o->model_path == NULL) {
    rc = lr_random_model_init(rm, m, err);
    *out = &rm->model;
    return rc;
  }
  if ((rc = lr_model_load(o->model_path, file, err)) != LR_OK)
    return rc;
  *out = &file->abi;
  if (o->dequantize) {
    if ((rc = lr_base_view_init_f32(view, &file->abi, err)) != LR_OK)
      return rc;
    *out = &view->model;
  }
  m->vocab = (*out)->vocab_size;
  m->dim = (*out)->dim;
  m->hidden = (*out)->hidden_dim;
  m->layers = (*out)->n_layers;
  m->heads = (*out)->n_heads;
  m->kv_heads = (*out)->n_kv_heads;
  m->tied = (*out)->tie_word_embeddings;
  return LR_OK;
}

static void batch_release(bench_batch *bb) {
  free(bb->tokens);
  free(bb->choice_ids);
  free(bb->labels);
  free(bb->offsets);
  free(bb->answer_pos);
  free(bb->n_choices);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static lr_status open_session(const bench_opts *o, const lr_backend *be, const lorens_model *model,
                              lr_session *s, lr_err *err) {
  uint64_t n = lr_adapter_layout(model, o->targets, (uint32_t)o->rank, NULL, NULL);
  float *w = malloc((n ? n : 1) * sizeof *w);
  lr_session_params p = {
      .n_members = (uint32_t)o->members,
      .model = model,
      .lora_targets = o->targets,
      .lora_rank = (uint32_t)o->rank,
      .lora_alpha = (float)(2 * o->rank),
      .n_threads = (int32_t)o->threads,
      .max_tokens = (uint32_t)(o->seq * o->batch),
      .max_examples = (uint32_t)o->batch,
      .max_choices = 1,
      .micro_batch_tokens = (uint32_t)o->micro,
      .precision = (uint32_t)o->precision,
  };
  lr_status rc = w ? lr_session_open(s, be, &p, err) : lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; m < p.n_members && rc == LR_OK; m++) {
    lr_rng rng;
    lorens_member_state st = {w, NULL, NULL, 0};
    lr_rng_seed(&rng, lr_seed_mix(42, m));
    lr_adapter_init(model, o->targets, (uint32_t)o->rank, &rng, w);
    rc = lr_session_member_set(s, m, &st, err);
  }
  free(w);
  return rc;
}

static lr_status run_steps(const bench_opts *o, lr_session *s,
                           const bench_batch *bb, bench_result *r, lr_err *err) {
  lorens_batch *batches = calloc((size_t)o->members, sizeof *batches);
  float *lr = calloc((size_t)o->members, sizeof *lr), *loss = calloc((size_t)o->members, sizeof *loss);
  lorens_train_args a = {0};
  lr_status rc = LR_OK;
  if (!batches || !lr || !loss) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  for (long m = 0; m < o->members; m++) {
    batches[m] = bb->b;
    lr[m] = 1e-4f;
  }
  a = (lorens_train_args){.batches = batches, .lr = lr,
                          .adam_beta1 = 0.9f, .adam_beta2 = 0.999f, .adam_eps = 1e-8f,
                          .weight_decay_a = 0.01f, .weight_decay_b = 0.01f,
                          .loss_support = o->vocab_loss ? LORENS_SUPPORT_VOCAB : LORENS_SUPPORT_CHOICES,
                          .loss = loss};
  for (long step = 0; step < o->warmup + o->steps; step++) {
    double t0 = now_s();
    a.dropout_step = (uint64_t)step;
    if ((rc = lr_session_train_step(s, &a, err)) != LR_OK)
      goto out;
    if (step >= o->warmup)
      r->step_s[step - o->warmup] = now_s() - t0;
    if (step == 0)
      r->first_loss = loss[0];
    r->last_loss = loss[0];
  }
out:
  free(batches);
  free(lr);
  free(loss);
  return rc;
}

static void summarize(const bench_opts *o, bench_result *r) {
  double *sorted = malloc((size_t)o->steps * sizeof *sorted);
  struct rusage ru;
  memcpy(sorted, r->step_s, (size_t)o->steps * sizeof *sorted);
  qsort(sorted, (size_t)o->steps, sizeof *sorted, cmp_double);
  r->median_s = o->steps % 2 ? sorted[o->steps / 2]
                             : 0.5 * (sorted[o->steps / 2 - 1] + sorted[o->steps / 2]);
  free(sorted);
  r->flops_per_step = step_flops(o) * (double)o->members;
  r->tokens_per_s = (double)(o->seq * o->batch * o->members) / r->median_s;
  r->gflops = r->flops_per_step / r->median_s / 1e9;
  r->mfu = r->peak_gflops > 0 ? r->gflops / r->peak_gflops : 0;
  getrusage(RUSAGE_SELF, &ru);
  r->peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
}

/* ---- output ----------------------------------------------------------------------------------- */

static void print_text(const bench_opts *o, const lr_backend *be, const bench_result *r) {
  const lr_random_model_spec *m = &o->model;
  if (o->model_path)
    printf("model: %s, base %s\n", o->model_path,
           o->dequantize ? "converted to fp32" : "as stored");
  printf("bench train: backend %s, dim %d, %d layers, %d/%d heads, hidden %d, vocab %d, "
         "%ld x %ld tokens, LoRA rank %ld on %s, %ld member(s), loss over %s\n",
         be->name, m->dim, m->layers, m->heads, m->kv_heads, m->hidden, m->vocab, o->batch,
         o->seq, o->rank, o->targets_text, o->members, o->vocab_loss ? "vocabulary" : "choice");
  printf("precision: %s%s\n", lr_precision_name(r->precision),
         r->precision != (uint32_t)o->precision ? " (bf16 asked: the backend cannot here)" : "");
  printf("step: median %.4f s of %ld (after %ld warm-up); loss %.4f -> %.4f\n", r->median_s,
         o->steps, o->warmup, (double)r->first_loss, (double)r->last_loss);
  printf("tokens/s: %.0f\n", r->tokens_per_s);
  printf("GFLOP/s: %.1f (%.2f GFLOP per step)\n", r->gflops, r->flops_per_step / 1e9);
  if (r->peak_gflops > 0) {
    printf("peak: %.1f GFLOP/s (%s)\n", r->peak_gflops,
           o->peak > 0 ? "given" : r->precision == LORENS_PRECISION_BF16 ? "measured bf16 matmul"
                                                                        : "measured sgemm");
    printf("MFU: %.1f%%\n", 100 * r->mfu);
  } else {
    printf("peak: unknown (%s; give --peak GFLOPS)\n", r->no_peak);
    printf("MFU: unknown\n");
  }
  printf("peak RSS: %.0f MB; the session holds %.0f MB\n", r->peak_rss_mb, r->session_mb);
}

static int print_json(const bench_opts *o, const lr_backend *be, const bench_result *r) {
  json_t *root = json_object(), *steps = json_array();
  char *text;
  for (long i = 0; i < o->steps; i++)
    json_array_append_new(steps, json_real(r->step_s[i]));
  json_object_set_new(root, "backend", json_string(be->name));
  json_object_set_new(root, "model", o->model_path ? json_string(o->model_path) : json_null());
  json_object_set_new(root, "base", json_string(!o->model_path ? "random fp32"
                                                : o->dequantize ? "fp32" : "as stored"));
  json_object_set_new(root, "precision", json_string(lr_precision_name(r->precision)));
  json_object_set_new(root, "tokens_per_s", json_real(r->tokens_per_s));
  json_object_set_new(root, "gflops", json_real(r->gflops));
  /* null when the backend cannot measure its peak and none was given */
  json_object_set_new(root, "mfu", r->peak_gflops > 0 ? json_real(r->mfu) : json_null());
  json_object_set_new(root, "peak_gflops",
                      r->peak_gflops > 0 ? json_real(r->peak_gflops) : json_null());
  json_object_set_new(root, "peak_rss_mb", json_real(r->peak_rss_mb));
  json_object_set_new(root, "session_mb", json_real(r->session_mb));
  json_object_set_new(root, "median_step_s", json_real(r->median_s));
  json_object_set_new(root, "flops_per_step", json_real(r->flops_per_step));
  json_object_set_new(root, "members", json_integer(o->members));
  json_object_set_new(root, "threads", json_integer(o->threads));
  json_object_set_new(root, "step_s", steps);
  text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (text == NULL)
    return LR_EXIT_FAILURE;
  printf("%s\n", text);
  free(text);
  return LR_EXIT_OK;
}

static int run_bench(int argc, char **argv) {
  bench_opts o = {.model = {32000, 288, 768, 6, 6, 0, 0, 7}, .seq = 128, .batch = 8, .rank = 8,
                  .members = 1, .steps = 20, .warmup = 2, .threads = 0, .targets_text = "q,v",
                  .backend = "cpu", .vocab_loss = 1};
  bench_result r = {0};
  lr_backend be = {0};
  lr_session s = {0};
  lr_random_model rm = {0};
  lr_model file = {0};
  lr_base_view view = {0};
  const lorens_model *model = NULL;
  bench_batch bb = {0};
  lr_err err, peak_err;
  int rc;
  lr_err_init(&err);
  lr_err_init(&peak_err);
  if ((rc = parse_opts(argc, argv, &o)) != LR_EXIT_OK || (rc = check_args(argc, argv, &o)) != LR_EXIT_OK)
    goto out;
  rc = LR_EXIT_FAILURE;
  r.step_s = calloc((size_t)o.steps, sizeof *r.step_s);
  if (r.step_s == NULL || lr_backend_open(&be, o.backend, o.dirs, o.n_dirs, &err) != LR_OK ||
      load_model(&o, &rm, &file, &view, &model, &err) != LR_OK || batch_init(&bb, &o, &err) != LR_OK ||
      open_session(&o, &be, model, &s, &err) != LR_OK || run_steps(&o, &s, &bb, &r, &err) != LR_OK)
    goto out;
  /* A backend that cannot measure its peak still gets its throughput reported. */
  r.precision = s.precision;
  r.session_mb = (double)lr_session_bytes(&s) / (1024.0 * 1024.0);
  r.peak_gflops = o.peak;
  if (o.peak <= 0 && lr_backend_peak_gflops(&be, (int)o.threads, s.precision, &r.peak_gflops,
                                            &peak_err) != LR_OK)
    snprintf(r.no_peak, sizeof r.no_peak, "%s", peak_err.msg);
  summarize(&o, &r);
  rc = o.json ? print_json(&o, &be, &r) : (print_text(&o, &be, &r), LR_EXIT_OK);
out:
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  lr_session_close(&s);
  lr_backend_close(&be);
  batch_release(&bb);
  lr_random_model_release(&rm);
  lr_base_view_release(&view);
  lr_model_release(&file);
  free(r.step_s);
  lr_strings_release(&o.dir_list);
  return rc;
}

const lr_command lr_cmd_bench = {
    .name = "bench", .args = "train", .options = options, .run = run_bench, .help = lr_help_bench,
    .summary = "Measure a backend's training throughput on a random model.",
    .args_missing = "which benchmark? (there is: train)"};
