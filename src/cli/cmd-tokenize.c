/*
 * cmd-tokenize.c: `lorens tokenize`: encode text with a tokenizer.json (or the tokenizer of a GGUF
 * file), line by line (or, with --json-lines, one JSON string per line, so that a text may hold
 * newlines), or time the
 * encoding of a whole file (--bench).  It is the way to see what a sweep's prompts become, and
 * to compare lorens's tokenizer with Hugging Face's on any text.
 */
#include "compat.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/json-util.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "text/tokenizer.h"

typedef struct options {
  const char *tokenizer, *bench;
  bool ids, pieces, add_bos, json_lines;
} options;

static const lr_option option_table[] = {
    {LR_ARG_STRING(options, tokenizer, "tokenizer", 0, "FILE",
                   "the tokenizer.json (BPE models: GPT-2, Llama 2/3, Qwen2, SmolLM ...), or a .gguf "
                   "file whose metadata holds the tokenizer"),
     .required = true},
    {LR_ARG_FLAG(options, ids, "ids", 0, "print token ids (the default)")},
    {LR_ARG_FLAG(options, pieces, "pieces", 0, "print the vocabulary pieces instead")},
    {LR_ARG_FLAG(options, add_bos, "add-bos", 0,
                 "add what the post-processor adds (BOS for Llama 2), as\n"
                 "Hugging Face's add_special_tokens=True")},
    {LR_ARG_FLAG(options, json_lines, "json-lines", 0,
                 "each input line is one JSON string (\"a\\nb\"), encoded as one\n"
                 "text: a text may hold newlines")},
    {LR_ARG_STRING(options, bench, "bench", 0, "FILE",
                   "encode the whole of FILE once, as one text, and print bytes,\n"
                   "tokens, seconds, MB/s and tokens/s instead; then the same\n"
                   "encoding FILE line by line (lines: ...)")},
    LR_ARG_END,
};

static int parse_options(int argc, char **argv, options *o) {
  int rc = lr_options_parse(&lr_cmd_tokenize, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  if (o->ids && o->pieces)
    return lr_usage_error(&lr_cmd_tokenize, "--ids or --pieces, not both");
  if (o->json_lines && o->bench)
    return lr_usage_error(&lr_cmd_tokenize, "--json-lines reads stdin; --bench reads a file");
  return LR_EXIT_OK;
}

/* A piece with the bytes that would break the line format escaped: space, control bytes and
 * backslash as \xNN (backslash as \\). */
static void print_piece(const char *p) {
  for (; p && *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '\\')
      fputs("\\\\", stdout);
    else if (c <= ' ' || c == 0x7f)
      printf("\\x%02X", c);
    else
      putchar(c);
  }
}

static void print_ids(const lr_tokenizer *t, const lr_ids *ids, bool pieces) {
  for (size_t i = 0; i < ids->n; i++) {
    if (i > 0)
      putchar(' ');
    if (pieces)
      print_piece(lr_tokenizer_piece(t, ids->v[i]));
    else
      printf("%ld", (long)ids->v[i]);
  }
  putchar('\n');
}

/* The text a --json-lines line holds: a JSON string, decoded (jansson checks its UTF-8); NULL
 * with err set otherwise.  The json_t that owns the text goes to *owner. */
static const char *json_text(const char *line, size_t n, json_t **owner, size_t *len,
                             lr_err *err) {
  json_error_t jerr;
  json_t *v = json_loadb(line, n, JSON_DECODE_ANY, &jerr);
  *owner = v;
  if (v == NULL) {
    lr_fail(err, LR_EPARSE, "not valid JSON at column %d: %s", jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_string(v)) {
    lr_fail(err, LR_EPARSE, "expected a JSON string (\"text\"), got %s", lr_json_kind(v));
    return NULL;
  }
  *len = json_string_length(v);
  return json_string_value(v);
}

static int encode_lines(lr_tokenizer *t, const options *o) {
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  lr_ids ids = {0};
  lr_err err;
  int rc = LR_EXIT_OK;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    const char *text = line;
    size_t len;
    json_t *owner = NULL;
    lr_status st;
    lineno++;
    if (n > 0 && line[n - 1] == '\n')
      n--;
    len = (size_t)n;
    ids.n = 0;
    lr_err_init(&err);
    if (o->json_lines)
      text = json_text(line, (size_t)n, &owner, &len, &err);
    st = text ? lr_tokenizer_encode(t, text, len, o->add_bos, &ids, &err) : err.code;
    json_decref(owner);
    if (st != LR_OK) {
      lr_err_prefix(&err, "stdin line %zu: ", lineno);
      lr_err_print(&err, stderr);
      rc = LR_EXIT_FAILURE;
      break;
    }
    print_ids(t, &ids, o->pieces);
  }
  free(line);
  lr_ids_release(&ids);
  return rc;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench(lr_tokenizer *t, const options *o) {
  FILE *fp = fopen(o->bench, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0, got;
  lr_ids ids = {0};
  lr_err err;
  double t0;
  if (fp == NULL) {
    fprintf(stderr, "lorens: error: %s: cannot open\n", o->bench);
    return LR_EXIT_FAILURE;
  }
  do {
    if (n == cap && (buf = realloc(buf, cap = cap ? 2 * cap : 1 << 20)) == NULL) {
      fclose(fp);
      fprintf(stderr, "lorens: error: out of memory reading %s\n", o->bench);
      return LR_EXIT_FAILURE;
    }
    n += got = fread(buf + n, 1, cap - n, fp);
  } while (got > 0);
  fclose(fp);
  lr_err_init(&err);
  t0 = now();
  lr_status rc = lr_tokenizer_encode(t, buf, n, o->add_bos, &ids, &err);
  double dt = now() - t0;
  if (rc != LR_OK) {
    lr_err_prefix(&err, "%s: ", o->bench);
    lr_err_print(&err, stderr);
    lr_ids_release(&ids);
    free(buf);
    return LR_EXIT_FAILURE;
  }
  printf("bytes: %zu\ntokens: %zu\nseconds: %.4f\nMB/s: %.2f\ntokens/s: %.0f\n", n, ids.n, dt,
         (double)n / 1e6 / dt, (double)ids.n / dt);
  /* Then line by line (newline included), as prompts are encoded: no word is ever the whole
   * text, which matters for tokenizers without a pre-tokenizer (Llama 2). */
  size_t n_tokens = 0;
  t0 = now();
  for (size_t a = 0, b; rc == LR_OK && a < n; a = b) {
    const char *nl = memchr(buf + a, '\n', n - a);
    b = nl ? (size_t)(nl - buf) + 1 : n;
    ids.n = 0;
    rc = lr_tokenizer_encode(t, buf + a, b - a, o->add_bos, &ids, &err);
    n_tokens += ids.n;
  }
  dt = now() - t0;
  if (rc == LR_OK)
    printf("lines: tokens: %zu\nlines: seconds: %.4f\nlines: MB/s: %.2f\nlines: tokens/s: %.0f\n",
           n_tokens, dt, (double)n / 1e6 / dt, (double)n_tokens / dt);
  free(buf);
  lr_ids_release(&ids);
  return rc == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

static int run_tokenize(int argc, char **argv) {
  options o = {NULL, NULL, false, false, false, false};
  lr_tokenizer *t;
  lr_err err;
  int rc = parse_options(argc, argv, &o);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (lr_tokenizer_load(o.tokenizer, &t, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  rc = o.bench ? bench(t, &o) : encode_lines(t, &o);
  lr_tokenizer_free(t);
  return rc;
}

const lr_command lr_cmd_tokenize = {
    .name = "tokenize", .options = option_table, .run = run_tokenize, .help = lr_help_tokenize,
    .summary = "Encode text with a Hugging Face tokenizer.json or a GGUF file's tokenizer."};
