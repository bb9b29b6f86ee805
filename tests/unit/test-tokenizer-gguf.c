/*
 * test-tokenizer-gguf.c: tokenizers built from GGUF metadata (text/tokenizer-gguf.c), on files
 * written byte for byte by tests/gguf-writer.c.  A small valid gpt2 tokenizer encodes as its
 * merges say; every kind of bad metadata (a missing or mistyped key, merges of unknown tokens,
 * token types of the wrong count or value, ids out of range, an unknown model or `pre`) is
 * refused with its status and a message that names the file and the key, never a crash (the
 * sanitizer build runs this).  Ids against transformers are tests/tokenizer/test-vectors.c's.
 */
#include "compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "text/tokenizer.h"
#include "../gguf-writer.h"
#include "../tap.h"

/* What to leave out of, or change in, the valid file. */
typedef struct variant {
  const char *name;
  int status;          /* the lr_status to expect */
  const char *message; /* what the message must contain (after the file name) */
  const char *model, *pre; /* NULL = the valid value; "" = the key left out */
  int tokens;          /* 0 valid, 1 absent, 2 uint32 array, 3 a string scalar, 4 bad UTF-8 */
  int types;           /* 0 valid, 1 one short, 2 a value of 9, 3 strings, 4 absent */
  const char *merge;   /* replaces merge 0 */
  int no_merges;
  int64_t bos;         /* -1 absent; else the id */
  int bos_flag;        /* 0 absent, 1 bool true, 2 a uint32 */
  int scores;          /* llama: 0 valid, 1 absent, 2 one short */
} variant;

/* Vocabulary: 0 <|endoftext|> (CONTROL), then a, b, c, ab, abc, Ġ, and <x> (USER_DEFINED). */
static const char *const tokens[] = {"<|endoftext|>", "a", "b", "c", "ab", "abc", "\xC4\xA0", "<x>"};
static const int32_t types[] = {3, 1, 1, 1, 1, 1, 1, 4};
enum { N_TOK = 8 };

static void build(const variant *v, gguf_buf *out) {
  gguf_writer w;
  const char *merges[] = {"a b", "ab c"};
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  if (!(v->model && !*v->model))
    gw_kv_str(&w, "tokenizer.ggml.model", v->model ? v->model : "gpt2");
  if (!(v->pre && !*v->pre))
    gw_kv_str(&w, "tokenizer.ggml.pre", v->pre ? v->pre : "gpt-2");
  if (v->tokens == 0)
    gw_kv_array_str(&w, "tokenizer.ggml.tokens", N_TOK, tokens);
  else if (v->tokens == 2)
    gw_kv_array(&w, "tokenizer.ggml.tokens", GW_UINT32, N_TOK, types, sizeof types);
  else if (v->tokens == 3)
    gw_kv_str(&w, "tokenizer.ggml.tokens", "a");
  else if (v->tokens == 4) {
    const char *bad[N_TOK];
    memcpy(bad, tokens, sizeof bad);
    bad[3] = "\xC3\x28";
    gw_kv_array_str(&w, "tokenizer.ggml.tokens", N_TOK, bad);
  }
  if (v->types == 0 || v->types == 1 || v->types == 2) {
    int32_t t[N_TOK];
    memcpy(t, types, sizeof t);
    if (v->types == 2)
      t[5] = 9;
    size_t n = v->types == 1 ? N_TOK - 1 : N_TOK;
    gw_kv_array(&w, "tokenizer.ggml.token_type", GW_INT32, n, t, n * sizeof *t);
  } else if (v->types == 3)
    gw_kv_array_str(&w, "tokenizer.ggml.token_type", N_TOK, tokens);
  if (v->model && strcmp(v->model, "llama") == 0 && v->scores != 1) {
    float s[N_TOK] = {0, -1, -2, -3, -4, -5, -6, 0};
    size_t n = v->scores == 2 ? N_TOK - 1 : N_TOK;
    gw_kv_array(&w, "tokenizer.ggml.scores", GW_FLOAT32, n, s, n * sizeof *s);
  }
  if (!v->no_merges) {
    if (v->merge)
      merges[0] = v->merge;
    gw_kv_array_str(&w, "tokenizer.ggml.merges", 2, merges);
  }
  if (v->bos >= 0)
    gw_kv_int(&w, "tokenizer.ggml.bos_token_id", GW_UINT32, (uint64_t)v->bos);
  if (v->bos_flag == 1)
    gw_kv_int(&w, "tokenizer.ggml.add_bos_token", GW_BOOL, 1);
  else if (v->bos_flag == 2)
    gw_kv_int(&w, "tokenizer.ggml.add_bos_token", GW_UINT32, 1);
  gw_build(&w, out);
  gw_release(&w);
}

/* Builds v, reads it as mem.gguf and makes its tokenizer; the status, err holds the message. */
static int load(const variant *v, lr_tokenizer **t, lr_err *err) {
  gguf_buf b = {0};
  lr_gguf_file *f = NULL;
  int rc;
  build(v, &b);
  /* An exact-size copy, so that ASan sees any read past the end. */
  void *exact = malloc(b.len);
  memcpy(exact, b.p, b.len);
  lr_err_init(err);
  *t = NULL;
  rc = lr_gguf_parse(exact, b.len, "mem.gguf", &f, err);
  if (rc == LR_OK)
    rc = lr_tokenizer_from_gguf(f, t, err);
  lr_gguf_close(f);
  free(exact);
  gb_release(&b);
  return rc;
}

static void check_valid(void) {
  variant v = {.name = "valid", .bos = 0, .bos_flag = 1};
  lr_tokenizer *t;
  lr_err err;
  lr_ids ids = {0};
  char *text = NULL;
  if (!tap_is_int(load(&v, &t, &err), LR_OK, "a small gpt2 tokenizer loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  /* "abc ab<x>": abc by both merges; " ab" is Ġ then ab; <x> whole; BOS first. */
  tap_ok(lr_tokenizer_encode(t, "abc ab<x>", 9, 1, &ids, &err) == LR_OK, "it encodes");
  tap_is_int((long long)ids.n, 5, "to 5 ids");
  if (ids.n == 5)
    tap_ok(ids.v[0] == 0 && ids.v[1] == 5 && ids.v[2] == 6 && ids.v[3] == 4 && ids.v[4] == 7,
           "BOS, abc, Ġ, ab, <x>: the merges, the byte-level space and the user-defined token");
  tap_is_int(lr_tokenizer_bos(t), 0, "its BOS is the file's bos_token_id");
  tap_ok(lr_tokenizer_decode(t, ids.v + 1, ids.n - 1, &text, &err) == LR_OK &&
         strcmp(text, "abc ab<x>") == 0, "and decodes back");
  free(text);
  lr_ids_release(&ids);
  lr_tokenizer_free(t);
}

static const variant bad[] = {
    {"no tokenizer", LR_EUNSUPPORTED, "has no tokenizer in its metadata (no key "
     "'tokenizer.ggml.model')", .model = "", .bos = -1},
    {"unknown model", LR_EUNSUPPORTED, "key 'tokenizer.ggml.model' is 'bert'", .model = "bert",
     .bos = -1},
    {"unknown pre", LR_EUNSUPPORTED, "key 'tokenizer.ggml.pre' is 'fancy': this pre-tokenizer is "
     "not supported", .pre = "fancy", .bos = -1},
    {"missing pre", LR_EUNSUPPORTED, "key 'tokenizer.ggml.pre' is missing", .pre = "", .bos = -1},
    {"missing tokens", LR_EPARSE, "missing key 'tokenizer.ggml.tokens'", .tokens = 1, .types = 4,
     .bos = -1},
    {"tokens of integers", LR_EPARSE, "key 'tokenizer.ggml.tokens' must be an array of strings, "
     "got an array of uint32", .tokens = 2, .types = 4, .bos = -1},
    {"tokens a string", LR_EPARSE, "key 'tokenizer.ggml.tokens' must be an array of strings, got a "
     "string value", .tokens = 3, .types = 4, .bos = -1},
    {"a token not UTF-8", LR_EPARSE, "tokenizer.ggml.tokens[3] is not valid UTF-8", .tokens = 4,
     .bos = -1},
    {"token types one short", LR_EPARSE, "key 'tokenizer.ggml.token_type' has 7 entries but "
     "'tokenizer.ggml.tokens' has 8 tokens", .types = 1, .bos = -1},
    {"a token type of 9", LR_EPARSE, "tokenizer.ggml.token_type[5] is 9", .types = 2, .bos = -1},
    {"token types of strings", LR_EPARSE, "key 'tokenizer.ggml.token_type' must be an array of "
     "integers", .types = 3, .bos = -1},
    {"a merge of an unknown token", LR_EPARSE, "tokenizer.ggml.merges[0]: token 'q' is not in "
     "'tokenizer.ggml.tokens'", .merge = "a q", .bos = -1},
    {"a merge whose result is unknown", LR_EPARSE, "tokenizer.ggml.merges[0]: merged token 'ba' "
     "is not in", .merge = "b a", .bos = -1},
    {"a merge without a space", LR_EPARSE, "tokenizer.ggml.merges[0] must be two tokens "
     "separated by one space, got 'ab'", .merge = "ab", .bos = -1},
    {"no merges", LR_EPARSE, "missing key 'tokenizer.ggml.merges'", .no_merges = 1, .bos = -1},
    {"a BOS id out of range", LR_EPARSE, "key 'tokenizer.ggml.bos_token_id': token id 99 is not "
     "below the 8 tokens", .bos = 99},
    {"add_bos_token not a bool", LR_EPARSE, "tokenizer.ggml.add_bos_token", .bos = 0,
     .bos_flag = 2},
    {"add_bos_token without a BOS", LR_EPARSE, "'tokenizer.ggml.add_bos_token' is true but "
     "'tokenizer.ggml.bos_token_id' is missing", .bos = -1, .bos_flag = 1},
    {"llama without scores", LR_EPARSE, "missing key 'tokenizer.ggml.scores'", .model = "llama",
     .scores = 1, .no_merges = 1, .bos = -1},
    {"llama scores one short", LR_EPARSE, "key 'tokenizer.ggml.scores' has 7 entries",
     .model = "llama", .scores = 2, .no_merges = 1, .bos = -1},
};

static void check_bad(const variant *v) {
  lr_tokenizer *t;
  lr_err err;
  int rc = load(v, &t, &err);
  tap_is_int(rc, v->status, "%s: refused with its status", v->name);
  tap_like(err.msg, v->message, "%s: the message names the key", v->name);
  tap_is_str(err.file, "mem.gguf", "%s: and the file", v->name);
  lr_tokenizer_free(t);
}

static void check_llama(void) {
  variant v = {.name = "llama", .model = "llama", .no_merges = 1, .bos = 0};
  lr_tokenizer *t;
  lr_err err;
  lr_ids ids = {0};
  if (!tap_is_int(load(&v, &t, &err), LR_OK, "a SentencePiece ('llama') vocabulary loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  /* Merges from scores: abc (score -5) splits as ab+c and a+bc (no bc): a+b (ab, -4) first. */
  tap_ok(lr_tokenizer_encode(t, "abc", 3, 1, &ids, &err) == LR_OK && ids.n == 2 &&
         ids.v[0] == 0 && ids.v[1] == 5, "it adds BOS by default and merges a b c into abc");
  lr_ids_release(&ids);
  lr_tokenizer_free(t);
}

int main(void) {
  lr_tokenizer *t;
  lr_err err;
  check_valid();
  check_llama();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    check_bad(&bad[i]);
  lr_err_init(&err);
  tap_is_int(lr_tokenizer_load("/nonexistent/model.gguf", &t, &err), LR_ENOTFOUND,
             "a missing .gguf path is not found");
  tap_is_str(err.file, "/nonexistent/model.gguf", "naming it");
  return tap_done();
}
