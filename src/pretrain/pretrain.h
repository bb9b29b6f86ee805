/*
 * pretrain.h: `lorens pretrain`: a small LLaMA model trained from scratch on a text corpus, written
 * as a Hugging Face directory that `lorens run` (and transformers) load like any other.
 *
 * Steps, each skipped when its output is already there for the same configuration and text (the
 * corpus and, with `questions`, the answered questions rendered after it):
 *   1. tokenizer.json (+ tokenizer_config.json): a byte-level BPE trained on the corpus;
 *   2. the corpus as one token stream, each line starting with BOS;
 *   3. full-parameter training through a backend session with train_base (ABI 1.2): each step
 *      takes `batch` windows of `context` tokens at offsets drawn from (seed, step), so the data
 *      needs no state and a resumed run sees exactly the batches an uninterrupted one would;
 *   4. config.json + model.safetensors, and pretrain.json recording what was made and how.
 *
 * DIR/pretrain-checkpoint.safetensors (weights and AdamW moments, atomically replaced every
 * checkpoint_every steps and on SIGINT/SIGTERM) makes the run resumable: the same command
 * continues from it.  A directory made by another configuration or corpus is refused, never
 * overwritten.
 */
#ifndef LORENS_PRETRAIN_H
#define LORENS_PRETRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "pretrain/pretrain-config.h"

typedef struct lr_pretrain_opts {
  const char *corpus, *out;
  const char *config_path;       /* for messages; the configuration itself is `config` */
  lr_pretrain_config config;
  /* Optional: answered multiple-choice questions added to the training text, each rendered as
   * one line in the prompt template followed by its answer letter ("... Answer: B"), as exam
   * questions with their answers are part of real pretraining corpora. */
  const char *questions;
  int questions_format;          /* lr_dataset_format */
  const char *template_name;     /* NULL: "select" */
  const char *backend;           /* "cpu" */
  const char *const *backend_dirs;
  size_t n_backend_dirs;
  int threads;                   /* 0: the backend's default */
  bool quiet;                    /* no progress display */
} lr_pretrain_opts;

typedef struct lr_pretrain_result {
  bool cached;                   /* the directory already held this model */
  long steps_run, start_step;
  double final_loss;             /* mean over the last steps run */
  double tokens_per_second;
  size_t corpus_tokens, vocab_size;
  unsigned long long n_params;
  int signal;                    /* the signal that interrupted training, else 0 */
} lr_pretrain_result;

/* Returns LR_EINTERRUPTED (after saving a checkpoint) when SIGINT, SIGTERM or SIGHUP arrived. */
lr_status lr_pretrain(const lr_pretrain_opts *o, lr_pretrain_result *res, lr_err *err);

#endif /* LORENS_PRETRAIN_H */
