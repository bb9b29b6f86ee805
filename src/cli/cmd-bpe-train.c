/*
 * cmd-bpe-train.c: `lorens bpe-train --corpus FILE --vocab-size N --out DIR`: trains a byte-level
 * BPE tokenizer (src/text/bpe-train.h) and writes it as a Hugging Face tokenizer directory.  It is
 * what `lorens pretrain` does first, alone, for researchers who want the tokenizer by itself or
 * want to see what a vocabulary size does to a corpus before pretraining on it.
 */
#include "compat.h"

#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "text/bpe-train.h"
#include "text/tokenizer.h"

/* A corpus is held in memory whole, with its words; this keeps a wrong path (say, to a weights
 * file) from being read. */
#define MAX_CORPUS_BYTES ((size_t)1 << 30)

typedef struct options {
  const char *corpus, *out;
  long vocab_size, min_frequency;
  lr_bpe_train_opts bpe;
} options;

static const lr_option option_table[] = {
    {LR_ARG_STRING(options, corpus, "corpus", 0, "FILE",
                   "the training text (at most 1 GiB); lines are not special"),
     .required = true},
    {LR_ARG_INT(options, vocab_size, "vocab-size", 0, "N", LR_BPE_MIN_VOCAB,
                (double)LR_BPE_MAX_VOCAB, "tokens in all, 258 being bytes only, no merges"),
     .required = true},
    {LR_ARG_STRING(options, out, "out", 0, "DIR", "the output directory"), .required = true},
    {LR_ARG_INT(options, min_frequency, "min-frequency", 0, "N", 1, (double)LONG_MAX,
                "never merge a pair seen fewer than N times (default 2)")},
    LR_ARG_END,
};

static int parse_options(int argc, char **argv, options *o) {
  int rc = lr_options_parse(&lr_cmd_bpe_train, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  if (o->out[0] == '\0')
    return lr_usage_error(&lr_cmd_bpe_train, "missing --out DIR");
  o->bpe.vocab_size = (size_t)o->vocab_size;
  o->bpe.min_frequency = (size_t)o->min_frequency;
  return LR_EXIT_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Loads the result back with lorens' own loader (a check that it reads) and prints its size and
 * what it makes of the corpus. */
static lr_status summarize(const options *o, const char *json, const char *text, size_t len,
                           double seconds, lr_err *err) {
  lr_tokenizer *t;
  lr_ids ids = {0};
  size_t n;
  if (lr_tokenizer_load_buffer(json, strlen(json), "the trained tokenizer.json", &t, err) != LR_OK)
    return err->code;
  n = lr_tokenizer_vocab_size(t);
  printf("wrote %s: tokenizer.json, tokenizer_config.json, special_tokens_map.json\n", o->out);
  printf("  vocabulary  %zu tokens: %d special, 256 bytes, %zu merged", n, LR_BPE_N_SPECIAL,
         n - LR_BPE_MIN_VOCAB);
  if (n < o->bpe.vocab_size)
    printf(" (%zu asked: no more pairs occur %zu times)", o->bpe.vocab_size,
           o->bpe.min_frequency ? o->bpe.min_frequency : 2);
  printf("\n  trained     on %zu bytes in %.3f s\n", len, seconds);
  if (lr_tokenizer_encode(t, text, len, 0, &ids, NULL) == LR_OK)
    printf("  corpus      %zu tokens, %.4f tokens per byte\n", ids.n, (double)ids.n / (double)len);
  else
    printf("  corpus      not all UTF-8: not encoded\n");
  lr_ids_release(&ids);
  lr_tokenizer_free(t);
  return LR_OK;
}

static int run_bpe_train(int argc, char **argv) {
  options o;
  char *text = NULL, *json = NULL;
  size_t len = 0;
  lr_err err;
  int rc;
  memset(&o, 0, sizeof o);
  if ((rc = parse_options(argc, argv, &o)) != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (lr_read_file(o.corpus, MAX_CORPUS_BYTES, "a corpus", &text, &len, &err) == LR_OK) {
    double t0 = now();
    lr_status trained = lr_bpe_train(text, len, &o.bpe, &json, &err);
    double seconds = now() - t0;
    if (trained != LR_OK)
      lr_err_prefix(&err, "%s: ", o.corpus);
    else if (lr_bpe_write_dir(o.out, json, &err) == LR_OK)
      summarize(&o, json, text, len, seconds, &err);
  }
  free(text);
  free(json);
  if (err.code != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  return LR_EXIT_OK;
}

const lr_command lr_cmd_bpe_train = {
    .name = "bpe-train", .options = option_table, .run = run_bpe_train, .help = lr_help_bpe_train,
    .summary = "Train a byte-level BPE tokenizer on a corpus; write a Hugging Face tokenizer."};
