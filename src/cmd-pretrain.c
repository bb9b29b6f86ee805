/*
 * cmd-pretrain.c: `lorens pretrain --corpus FILE --config MODEL.yaml --out DIR`: trains a small
 * LLaMA model from scratch and writes a Hugging Face directory (src/pretrain.h).
 */
#include "compat.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "commands.h"
#include "dataset.h"
#include "pretrain.h"
#include "prompt.h"

#define MAX_DIRS 64

static int parse_options(int argc, char **argv, lr_pretrain_opts *o, const char **dirs) {
  static const struct option opts[] = {
      {"corpus", required_argument, NULL, 'c'},      {"config", required_argument, NULL, 'f'},
      {"out", required_argument, NULL, 'o'},         {"backend", required_argument, NULL, 'b'},
      {"backend-dir", required_argument, NULL, 'B'}, {"threads", required_argument, NULL, 'T'},
      {"quiet", no_argument, NULL, 'q'},             {"questions", required_argument, NULL, 'Q'},
      {"questions-format", required_argument, NULL, 'F'},
      {"template", required_argument, NULL, 't'},    {NULL, 0, NULL, 0},
  };
  char msg[256];
  long v;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'c': o->corpus = optarg; break;
    case 'f': o->config_path = optarg; break;
    case 'o': o->out = optarg; break;
    case 'b': o->backend = optarg; break;
    case 'B':
      if (o->n_backend_dirs == MAX_DIRS)
        return lr_usage_error(&lr_cmd_pretrain, "too many --backend-dir options");
      dirs[o->n_backend_dirs++] = optarg;
      break;
    case 'T':
      if (!lr_parse_int("--threads", optarg, 0, 4096, &v, msg, sizeof msg))
        return lr_usage_error(&lr_cmd_pretrain, "%s", msg);
      o->threads = (int)v;
      break;
    case 'q': o->quiet = true; break;
    case 'Q': o->questions = optarg; break;
    case 't': o->template_name = optarg; break;
    case 'F': {
      lr_dataset_format f;
      if (!lr_dataset_format_parse(optarg, &f))
        return lr_usage_error(&lr_cmd_pretrain, "--questions-format must be one of %s, not '%s'",
                              LR_DATASET_FORMAT_NAMES, optarg);
      o->questions_format = (int)f;
      break;
    }
    default:
      return optopt ? lr_usage_error(&lr_cmd_pretrain, "option '%s' needs a value",
                                     argv[optind - 1])
                    : lr_usage_error(&lr_cmd_pretrain, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return lr_usage_error(&lr_cmd_pretrain, "unexpected argument '%s'", argv[optind]);
  if (o->corpus == NULL)
    return lr_usage_error(&lr_cmd_pretrain, "missing --corpus FILE");
  if (o->out == NULL || o->out[0] == '\0')
    return lr_usage_error(&lr_cmd_pretrain, "missing --out DIR");
  return LR_EXIT_OK;
}

static int run_pretrain(int argc, char **argv) {
  lr_pretrain_opts o;
  lr_pretrain_result res;
  const char *dirs[MAX_DIRS];
  lr_err err;
  int rc;
  memset(&o, 0, sizeof o);
  o.backend = "cpu";
  o.backend_dirs = dirs;
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

const lr_command lr_cmd_pretrain = {
    .name = "pretrain",
    .summary = "Train a small LLaMA model from scratch on a corpus (a Hugging Face directory).",
    .usage = "lorens pretrain --corpus FILE --out DIR [--config MODEL.yaml] [--backend NAME]\n"
             "       [--questions FILE [--questions-format FMT] [--template NAME]]\n"
             "       [--backend-dir DIR]... [--threads N] [--quiet]",
    .help =
        "Trains a byte-level BPE tokenizer on FILE (one document per line), then a LLaMA\n"
        "decoder of the size MODEL.yaml gives (docs/pretrain.md; defaults without it) on the\n"
        "corpus's tokens, every parameter trained (full-parameter training, backend ABI 1.2),\n"
        "and writes DIR/config.json, model.safetensors, tokenizer.json and\n"
        "tokenizer_config.json, which lorens and Hugging Face transformers load, plus\n"
        "pretrain.json (what was made and how).\n"
        "\n"
        "Progress (loss, tokens/s, ETA) goes to stderr.  A checkpoint is kept in DIR every\n"
        "train.checkpoint_every steps and on Ctrl-C: the same command continues from it.  A\n"
        "DIR that already holds this model (same configuration and corpus) is reused as is;\n"
        "one made otherwise is refused, never overwritten.\n"
        "\n"
        "Options:\n"
        "  --corpus FILE      the training text (UTF-8), one document per line\n"
        "  --config FILE      model, tokenizer and training settings (YAML)\n"
        "  --questions FILE   also train on these answered multiple-choice questions, each\n"
        "                     one line: the prompt as --template renders it, then the letter\n"
        "  --questions-format " LR_DATASET_FORMAT_NAMES " (default jsonl)\n"
        "  --template NAME    " LR_TEMPLATE_NAMES " (default select)\n"
        "  --out DIR          where the model goes (created if missing)\n"
        "  --backend NAME     the backend plugin (default cpu)\n"
        "  --backend-dir DIR  also look for backend plugins in DIR (repeatable)\n"
        "  --threads N        threads for the backend (0: its default)\n"
        "  --quiet            no progress display\n"
        "\n"
        "Example:\n"
        "  lorens synth --seed 1 --out world && \\\n"
        "  lorens pretrain --corpus world/corpus.txt --config experiments/pretrain/demo-model.yaml \\\n"
        "                  --out world/model\n",
    .run = run_pretrain,
};
