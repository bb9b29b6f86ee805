/*
 * cmd-predict.c: `lorens predict`: score a multiple-choice dataset with a base model and any
 * number of LoRA adapters (an ensemble), write per-example probabilities, print metrics.
 *
 * With no adapter the base model answers zero-shot.  Adapters are PEFT directories that share one
 * LoRA configuration (an ensemble's members do); the backend holds them as the members of one
 * session and scores every batch once per member.
 */
#include "compat.h"

#include <stddef.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "model/backend-session.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/peft.h"
#include "text/dataset.h"
#include "text/prompt.h"
#include "text/tokenizer.h"
#include "train/evaluate.h"
#include "train/metrics.h"

typedef struct predict_opts {
  const char *model, *data, *tokenizer, *backend, *out, *template_name;
  const char *subjects, *group, *split; /* MMLU directories */
  const char *const *adapters, *const *dirs; /* adapter_list's, dir_list's */
  size_t n_adapters, n_dirs;
  lr_dataset_format format;
  bool no_bos;
  long max_len, batch, threads, ece_bins;
  lr_on_error on_error;
  lr_strings adapter_list, dir_list;
  int format_index, on_error_index; /* as parsed, before they go into format and on_error */
  int precision_index;              /* lorens_precision: the order of precision_choices */
} predict_opts;

/* Everything a run holds, released together. */
typedef struct predict_run {
  lr_model model;
  lr_tokenizer *tok;
  lr_dataset data;
  lr_backend backend;
  lr_session session;
  lr_peft_config lora;
  uint32_t members; /* scored per example: adapters, or 1 for the base model */
  lr_metrics_acc *acc; /* members + 1 (the ensemble) */
  FILE *out;
  lr_prompt *prompts;   /* every example's, built before scoring; n_prompts of them */
  size_t n_prompts;
  lr_prompt_report report;
  char first_misfit[LR_ERR_FILE_MAX + LR_ERR_MSG_MAX]; /* with --on-error skip */
} predict_run;

/* ---- options --------------------------------------------------------------------------------- */

static const char *const on_error_choices[] = {"fail", "skip", NULL};
static const char *const precision_choices[] = {"fp32", "bf16", NULL};

static const lr_option options[] = {
    {LR_ARG_STRING(predict_opts, model, "model", 0, "DIR",
                   "the model directory, or a .gguf file (then --tokenizer too)"),
     .required = true},
    {LR_ARG_STRINGS(predict_opts, adapter_list, "adapter", 0, "DIR",
                    "a PEFT adapter directory: one per ensemble member")},
    {LR_ARG_STRING(predict_opts, data, "data", 0, "FILE", "the dataset"), .required = true},
    {LR_ARG_CHOICE(predict_opts, format_index, "format", 0, lr_dataset_format_choices,
                   "the dataset's format (see `lorens help data`)"),
     .required = true},
    {LR_ARG_STRING(predict_opts, tokenizer, "tokenizer", 0, "FILE",
                   "default DIR/tokenizer.json, or a .gguf model's own")},
    {LR_ARG_STRING(predict_opts, backend, "backend", 0, "NAME", "the backend (default cpu)")},
    {LR_ARG_STRINGS(predict_opts, dir_list, "backend-dir", 0, "DIR",
                    "search DIR for backends first")},
    {LR_ARG_STRING(predict_opts, template_name, "template", 0, LR_TEMPLATE_NAMES,
                   "the prompt template (default select)")},
    {LR_ARG_INT(predict_opts, max_len, "max-len", 0, "N", 1, 1 << 20,
                "truncate long questions from the left to fit N tokens\n"
                "(the model's context always applies)")},
    {LR_ARG_FLAG(predict_opts, no_bos, "no-bos", 0,
                 "do not start prompts with the tokenizer's BOS token")},
    {LR_ARG_INT(predict_opts, batch, "batch", 0, "N", 1, 4096,
                "examples per backend call (default 16)")},
    {LR_ARG_INT(predict_opts, threads, "threads", 0, "N", 0, 4096,
                "threads (default 0: the backend's default)")},
    {LR_ARG_CHOICE(predict_opts, precision_index, "precision", 0, precision_choices,
                   "how the frozen base multiplies: fp32 (default) or bf16")},
    {LR_ARG_CHOICE(predict_opts, on_error_index, "on-error", 0, on_error_choices,
                   "fail (default) or skip the dataset's bad lines and the\n"
                   "examples that do not fit the model's context")},
    {LR_ARG_STRING(predict_opts, out, "out", 0, "FILE",
                   "the predictions, one JSON line per example (default -: stdout)")},
    {LR_ARG_STRING(predict_opts, subjects, "subjects", 0, "LIST", "MMLU: subjects to load")},
    {LR_ARG_STRING(predict_opts, group, "group", 0, "NAME", "MMLU: a group of subjects")},
    {LR_ARG_STRING(predict_opts, split, "split", 0, "SPLIT", "MMLU directory: dev, val or test")},
    {LR_ARG_INT(predict_opts, ece_bins, "ece-bins", 0, "N", 1, LR_ECE_BINS_MAX,
                "equal-width confidence bins of the ECE (default 10)")},
    LR_ARG_END,
};

static int parse_opts(int argc, char **argv, predict_opts *o) {
  int rc = lr_options_parse(&lr_cmd_predict, argc, argv, o, NULL);
  o->adapters = o->adapter_list.a;
  o->n_adapters = o->adapter_list.n;
  o->dirs = o->dir_list.a;
  o->n_dirs = o->dir_list.n;
  o->format = (lr_dataset_format)o->format_index;
  o->on_error = o->on_error_index == 1 ? LR_ON_ERROR_SKIP : LR_ON_ERROR_FAIL;
  return rc;
}

/* ---- setting up ------------------------------------------------------------------------------- */

static lr_status load_adapters(const predict_opts *o, predict_run *r, float ***weights,
                               lr_err *err) {
  *weights = calloc(o->n_adapters + 1, sizeof **weights);
  if (*weights == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; i < o->n_adapters; i++) {
    lr_peft_config cfg;
    uint64_t n;
    lr_status rc = lr_peft_load(o->adapters[i], &r->model.abi, &cfg, &(*weights)[i], &n, err);
    if (rc != LR_OK)
      return rc;
    if (i == 0)
      r->lora = cfg;
    else if (cfg.targets != r->lora.targets || cfg.rank != r->lora.rank ||
             cfg.alpha != r->lora.alpha || cfg.rslora != r->lora.rslora)
      return lr_fail_at(err, LR_EINVAL, o->adapters[i], 0, 0,
                        "its LoRA configuration (targets, rank, alpha, rslora) differs from "
                        "'%s'; the adapters of an ensemble must share one", o->adapters[0]);
  }
  return LR_OK;
}

static lr_status open_session(const predict_opts *o, predict_run *r, lr_err *err) {
  float **weights = NULL;
  lr_status rc = load_adapters(o, r, &weights, err);
  r->members = o->n_adapters ? (uint32_t)o->n_adapters : 1;
  if (rc == LR_OK)
    rc = lr_backend_open(&r->backend, o->backend, o->dirs, o->n_dirs, err);
  if (rc == LR_OK) {
    /* Without adapters the base model is scored: a rank-1 adapter on q stands in, never used. */
    lr_session_params p = {
        .n_members = r->members,
        .model = &r->model.abi,
        .lora_targets = o->n_adapters ? r->lora.targets : LORENS_LORA_Q,
        .lora_rank = o->n_adapters ? r->lora.rank : 1,
        .lora_alpha = o->n_adapters ? r->lora.alpha : 1,
        .lora_rslora = r->lora.rslora,
        .n_threads = (int32_t)o->threads,
        .precision = (uint32_t)o->precision_index,
    };
    rc = lr_session_open(&r->session, &r->backend, &p, err);
    if (rc == LR_OK && r->session.precision != p.precision)
      fprintf(stderr, "lorens predict: warning: precision %s asked, backend '%s' computes %s here\n",
              lr_precision_name(p.precision), o->backend, lr_precision_name(r->session.precision));
  }
  for (uint32_t m = 0; rc == LR_OK && m < o->n_adapters; m++) {
    lorens_member_state st = {weights[m], NULL, NULL, 0};
    rc = lr_session_member_set(&r->session, m, &st, err);
  }
  for (size_t i = 0; weights && i < o->n_adapters; i++)
    free(weights[i]);
  free(weights);
  return rc;
}

static lr_status setup(const predict_opts *o, predict_run *r, lr_err *err) {
  char tok_path[4096];
  lr_dataset_opts dopts = {0};
  lr_status rc;
  dopts.on_error = o->on_error;
  dopts.subjects = o->subjects;
  dopts.group = o->group;
  dopts.split = o->split;
  /* --tokenizer wins; else a GGUF file's own metadata, or the directory's tokenizer.json. */
  if (o->tokenizer)
    snprintf(tok_path, sizeof tok_path, "%s", o->tokenizer);
  else if (lr_gguf_path_is_gguf(o->model))
    snprintf(tok_path, sizeof tok_path, "%s", o->model);
  else
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", o->model);
  if ((rc = lr_model_load(o->model, &r->model, err)) != LR_OK ||
      (rc = lr_tokenizer_load(tok_path, &r->tok, err)) != LR_OK ||
      (rc = lr_dataset_load(o->data, o->format, &dopts, &r->data, err)) != LR_OK)
    return rc;
  if (lr_tokenizer_vocab_size(r->tok) > (size_t)r->model.abi.vocab_size)
    return lr_fail_at(err, LR_EINVAL, tok_path, 0, 0, "has %zu tokens but the model's vocabulary is %d",
                      lr_tokenizer_vocab_size(r->tok), r->model.abi.vocab_size);
  if ((rc = open_session(o, r, err)) != LR_OK)
    return rc;
  r->acc = calloc(r->members + 1, sizeof *r->acc);
  if (r->acc == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (uint32_t m = 0; m <= r->members; m++)
    lr_metrics_init(&r->acc[m], (int)o->ece_bins);
  return LR_OK;
}

static void teardown(predict_run *r) {
  lr_session_close(&r->session);
  lr_backend_close(&r->backend);
  lr_prompts_release(r->prompts, r->n_prompts);
  lr_dataset_release(&r->data);
  lr_tokenizer_free(r->tok);
  lr_model_release(&r->model);
  free(r->acc);
  if (r->out && r->out != stdout)
    fclose(r->out);
}

/* ---- scoring ---------------------------------------------------------------------------------- */

/* A JSON string literal, escaped by jansson (ids may hold quotes or backslashes). */
static void write_json_string(FILE *fp, const char *text) {
  json_t *j = json_string(text);
  char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  fputs(out ? out : "null", fp);
  free(out);
  json_decref(j);
}

static void write_json_ids(FILE *fp, const int32_t *v, size_t n) {
  fputc('[', fp);
  for (size_t i = 0; i < n; i++)
    fprintf(fp, i ? ",%d" : "%d", v[i]);
  fputc(']', fp);
}

static void write_json_probs(FILE *fp, const double *p, int k) {
  fputc('[', fp);
  for (int j = 0; j < k; j++)
    fprintf(fp, j ? ",%.9g" : "%.9g", p[j]);
  fputc(']', fp);
}

/* Each member's probabilities, their mean, the metrics, and the JSON line (an lr_score_fn). */
static lr_status record(void *ctx, size_t index, const lr_example *ex, const lr_prompt *p,
                        const double *probs, lr_err *err) {
  predict_run *r = ctx;
  double mean[LR_DATASET_MAX_CHOICES] = {0};
  int k = ex->n_choices;
  (void)index;
  (void)err;
  fprintf(r->out, "{\"id\":");
  write_json_string(r->out, ex->id);
  fprintf(r->out, ",\"label\":");
  fprintf(r->out, ex->label >= 0 ? "%d" : "null", ex->label);
  fprintf(r->out, ",\"K\":%d,\"prompt_ids\":", k);
  write_json_ids(r->out, p->ids.v, p->ids.n);
  fprintf(r->out, ",\"choice_ids\":");
  if (p->single) {
    write_json_ids(r->out, p->choice_ids, (size_t)k);
  } else {
    fputc('[', r->out);
    for (int j = 0; j < k; j++) {
      if (j)
        fputc(',', r->out);
      write_json_ids(r->out, p->cont[j].v, p->cont[j].n);
    }
    fputc(']', r->out);
  }
  fprintf(r->out, ",\"probs\":[");
  for (uint32_t m = 0; m < r->members; m++) {
    const double *pm = probs + m * LR_DATASET_MAX_CHOICES;
    for (int j = 0; j < k; j++)
      mean[j] += pm[j] / r->members;
    if (m)
      fputc(',', r->out);
    write_json_probs(r->out, pm, k);
    if (ex->label >= 0)
      lr_metrics_add(&r->acc[m], pm, k, ex->label);
  }
  fprintf(r->out, "],\"mean\":");
  write_json_probs(r->out, mean, k);
  fprintf(r->out, "}\n");
  if (ex->label >= 0)
    lr_metrics_add(&r->acc[r->members], mean, k, ex->label);
  return LR_OK;
}

/* Leaves out the examples that do not fit the context (--on-error skip): both arrays keep the
 * others in order, and the prompts left out stay behind them to be released. */
static void drop_misfits(predict_run *r) {
  size_t kept = 0;
  for (size_t i = 0; i < r->data.n; i++) {
    lr_prompt p = r->prompts[i];
    if (lr_prompt_bad(&p))
      continue;
    r->prompts[i] = r->prompts[kept];
    r->prompts[kept] = p;
    r->data.examples[kept++] = r->data.examples[i];
  }
  r->data.n = kept;
}

/* Every prompt is built, and checked against the model's context, before the first forward pass:
 * the examples that do not fit are all named at once, or skipped with --on-error skip. */
static lr_status score_all(const predict_opts *o, predict_run *r, lr_err *err) {
  int32_t ctx = r->model.abi.max_position_embeddings;
  lr_scorer s = {&r->session, o->n_adapters ? LORENS_SCORE_ALL : LORENS_SCORE_BASE, r->members,
                 r->model.abi.vocab_size, r->tok,
                 {NULL, !o->no_bos, (size_t)o->max_len, ctx > 0 ? (size_t)ctx : 0},
                 (size_t)o->batch, false, NULL};
  lr_status rc = lr_template_find(o->template_name, &s.prompt.tmpl, err);
  lr_prompt_report_init(&r->report);
  if (rc == LR_OK)
    rc = lr_prompts_build(&s, &r->data, &r->prompts, &r->report, err);
  r->n_prompts = r->prompts ? r->data.n : 0;
  if (rc == LR_OK && o->on_error == LR_ON_ERROR_SKIP && r->report.n_misfit) {
    lr_err_format(&r->report.first, r->first_misfit, sizeof r->first_misfit);
    drop_misfits(r);
    if (r->data.n == 0) /* nothing left to score */
      rc = lr_prompt_report_check(&r->report, err);
  } else if (rc == LR_OK) {
    rc = lr_prompt_report_check(&r->report, err);
  }
  s.prompts = r->prompts;
  return rc == LR_OK ? lr_score_dataset(&s, &r->data, record, r, err) : rc;
}

static void print_metrics(const predict_opts *o, const predict_run *r, FILE *fp) {
  fprintf(fp, "%zu examples from %s", r->data.n, o->data);
  if (r->data.n_skipped)
    fprintf(fp, " (%zu bad lines skipped; first: %s)", r->data.n_skipped, r->data.reasons[0]);
  if (r->report.n_misfit)
    fprintf(fp, " (%zu example%s skipped: %s; first: %s)", r->report.n_misfit,
            r->report.n_misfit == 1 ? "" : "s",
            r->report.n_unscorable ? "they cannot be scored"
                                   : "prompt and choice do not fit the model's context",
            r->first_misfit);
  if (r->report.n_cut)
    fprintf(fp, " (%zu question%s lost words from the start to fit the model's context of %d "
            "tokens)", r->report.n_cut, r->report.n_cut == 1 ? "" : "s",
            r->model.abi.max_position_embeddings);
  fprintf(fp, "\n%-24s %6s %9s %8s %8s %8s\n", "", "n", "accuracy", "NLL", "ECE", "Brier");
  for (uint32_t m = 0; m <= r->members; m++) {
    lr_metrics x;
    char name[64];
    if (m == r->members && r->members < 2)
      break; /* an ensemble of one is its member */
    lr_metrics_finish(&r->acc[m], &x);
    if (m == r->members)
      snprintf(name, sizeof name, "ensemble of %u", r->members);
    else if (o->n_adapters)
      snprintf(name, sizeof name, "adapter %u", m);
    else
      snprintf(name, sizeof name, "base model");
    fprintf(fp, "%-24s %6zu %9.4f %8.4f %8.4f %8.4f\n", name, x.n, x.accuracy, x.nll, x.ece, x.brier);
  }
}

static int run_predict(int argc, char **argv) {
  predict_opts o = {.backend = "cpu", .out = "-", .template_name = "select", .max_len = 0,
                    .batch = 16, .ece_bins = LR_ECE_BINS_DEFAULT, .on_error = LR_ON_ERROR_FAIL};
  predict_run r = {0};
  lr_err err;
  int rc;
  lr_err_init(&err);
  if ((rc = parse_opts(argc, argv, &o)) != LR_EXIT_OK)
    goto out;
  rc = LR_EXIT_FAILURE;
  r.out = strcmp(o.out, "-") == 0 ? stdout : fopen(o.out, "w");
  if (r.out == NULL) {
    lr_fail_at(&err, LR_EIO, o.out, 0, 0, "cannot create the predictions file");
    goto out;
  }
  if (setup(&o, &r, &err) != LR_OK || score_all(&o, &r, &err) != LR_OK)
    goto out;
  if (r.out != stdout && fflush(r.out) != 0) {
    lr_fail_at(&err, LR_EIO, o.out, 0, 0, "cannot write the predictions");
    goto out;
  }
  print_metrics(&o, &r, r.out == stdout ? stderr : stdout);
  rc = LR_EXIT_OK;
out:
  if (err.code != LR_OK)
    lr_err_print(&err, stderr);
  teardown(&r);
  lr_strings_release(&o.adapter_list);
  lr_strings_release(&o.dir_list);
  return rc;
}

const lr_command lr_cmd_predict = {
    .name = "predict", .options = options, .run = run_predict, .help = lr_help_predict,
    .summary = "Score a multiple-choice dataset with a model and LoRA adapters; print metrics."};
