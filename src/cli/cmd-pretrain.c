/*
 * cmd-pretrain.c: `lorens pretrain --corpus FILE --config MODEL.yaml --out DIR`: trains a small
 * LLaMA model from scratch and writes a Hugging Face directory (src/pretrain/pretrain.h).
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "pretrain/pretrain.h"
#include "text/dataset.h"
#include "text/prompt.h"

/* What the table fills: the options lr_pretrain takes, and those that need converting. */
typedef struct pretrain_args {
  lr_pretrain_opts o;
  lr_strings dirs;
  long threads;
} pretrain_args;

static const lr_option options[] = {
    {LR_ARG_STRING(pretrain_args, o.corpus, "corpus", 0, "FILE",
                   "the training text (UTF-8), one document per line"),
     .required = true},
    {LR_ARG_STRING(pretrain_args, o.config_path, "config", 0, "FILE",
                   "model, tokenizer and training settings (YAML)")},
    {LR_ARG_STRING(pretrain_args, o.questions, "questions", 0, "FILE",
                   "also train on these answered multiple-choice questions, each\n"
                   "one line: the prompt as --template renders it, then the letter")},
    {LR_ARG_CHOICE(pretrain_args, o.questions_format, "questions-format", 0,
                   lr_dataset_format_choices, "the format of --questions (default jsonl)")},
    {LR_ARG_STRING(pretrain_args, o.template_name, "template", 0, LR_TEMPLATE_NAMES,
                   "the prompt template of --questions (default select)")},
    {LR_ARG_STRING(pretrain_args, o.out, "out", 0, "DIR",
                   "where the model goes (created if missing)"),
     .required = true},
    {LR_ARG_STRING(pretrain_args, o.backend, "backend", 0, "NAME",
                   "the backend plugin (default cpu)")},
    {LR_ARG_STRINGS(pretrain_args, dirs, "backend-dir", 0, "DIR",
                    "also look for backend plugins in DIR")},
    {LR_ARG_INT(pretrain_args, threads, "threads", 0, "N", 0, 4096,
                "threads for the backend (0: its default)")},
    {LR_ARG_FLAG(pretrain_args, o.quiet, "quiet", 0, "no progress display")},
    LR_ARG_END,
};

/* Parses into *o; the --backend-dir list goes to *dirs, which o points into. */
static int parse_options(int argc, char **argv, lr_pretrain_opts *o, lr_strings *dirs) {
  pretrain_args a = {.o = *o};
  int rc = lr_options_parse(&lr_cmd_pretrain, argc, argv, &a, NULL);
  *dirs = a.dirs;
  a.o.backend_dirs = dirs->a;
  a.o.n_backend_dirs = dirs->n;
  a.o.threads = (int)a.threads;
  *o = a.o;
  if (rc != LR_EXIT_OK)
    return rc;
  if (o->out[0] == '\0')
    return lr_usage_error(&lr_cmd_pretrain, "missing --out DIR");
  return LR_EXIT_OK;
}

static int pretrain_with(int argc, char **argv, lr_strings *dirs) {
  lr_pretrain_opts o;
  lr_pretrain_result res;
  lr_err err;
  int rc;
  memset(&o, 0, sizeof o);
  o.backend = "cpu";
  o.questions_format = LR_DATASET_JSONL;
  lr_pretrain_config_init(&o.config);
  if ((rc = parse_options(argc, argv, &o, dirs)) != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (o.config_path && lr_pretrain_config_load(o.config_path, &o.config, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  if (o.config_path == NULL)
    o.config_path = "the default configuration";
  if (lr_pretrain(&o, &res, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  if (res.cached)
    printf("%s already holds this model (%llu parameters, vocabulary %zu, final loss %.4f)\n",
           o.out, res.n_params, res.vocab_size, res.final_loss);
  else
    printf("wrote %s: %llu parameters, vocabulary %zu, %zu corpus tokens; steps %ld..%ld, "
           "final loss %.4f, %.0f tokens/s\n",
           o.out, res.n_params, res.vocab_size, res.corpus_tokens, res.start_step,
           res.start_step + res.steps_run, res.final_loss, res.tokens_per_second);
  return LR_EXIT_OK;
}

/* The --backend-dir list outlives every return of pretrain_with. */
static int run_pretrain(int argc, char **argv) {
  lr_strings dirs = {0};
  int rc = pretrain_with(argc, argv, &dirs);
  lr_strings_release(&dirs);
  return rc;
}

const lr_command lr_cmd_pretrain = {
    .name = "pretrain", .options = options, .run = run_pretrain, .help = lr_help_pretrain,
    .summary = "Train a small LLaMA model from scratch on a corpus (a Hugging Face directory)."};
