/*
 * test-bpe-train.c: the byte-level BPE trainer (src/text/bpe-train.h), read back with lorens' own
 * tokenizer loader.
 *
 * The id layout (specials, then bytes in GPT-2's order); encode/decode round trips of text never
 * seen in training; fewer tokens than bytes on the corpus; the exact vocabulary size when the
 * corpus has pairs enough, and the smaller one when it has not; the bytes-only vocabulary; the
 * same JSON from two trainings, and from a corpus repeated past the pre-tokenizer's chunk size;
 * "<s>" in the corpus cut out as the special token; bytes that are not UTF-8 skipped; a pinned
 * encoding; errors; and the model directory.  tests/cli/test-bpe-train.sh checks the same files
 * against Hugging Face.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file-util.h"
#include "text/bpe-train.h"
#include "text/tokenizer.h"
#include "../tap.h"
#include "../tmpdir.h"

static const char corpus[] =
    "The quick brown fox jumps over the lazy dog.\n"
    "The lazy dog sleeps in the warm sun.\n"
    "A quick brown dog jumps over the quick fox.\n"
    "Foxes and dogs are not the best of friends.\n"
    "The sun is warm, and the dog is lazy.\n"
    "Over the hills the brown fox runs quickly.\n"
    "The dog's bone was buried under the old tree.\n"
    "It's 12 o'clock; the fox hasn't eaten since 9.\n"
    "Quickly, quietly, the fox jumped the fence.\n"
    "There is a dog, there is a fox, there is the sun.\n"
    "  Two spaces lead this line, and three trail it.   \n"
    "\tA tab, then the dog and the fox.\n";

static char *train(const char *text, size_t len, size_t vocab, size_t min_freq, lr_err *err) {
  lr_bpe_train_opts o = {vocab, min_freq};
  char *json = NULL;
  lr_err_init(err);
  lr_bpe_train(text, len, &o, &json, err);
  return json;
}

static lr_tokenizer *load(const char *json) {
  lr_tokenizer *t = NULL;
  lr_err err;
  lr_err_init(&err);
  if (json && lr_tokenizer_load_buffer(json, strlen(json), "trained", &t, &err) != LR_OK)
    tap_diag("load: %s", err.msg);
  return t;
}

static size_t n_tokens(lr_tokenizer *t, const char *s, size_t n) {
  lr_ids ids = {0};
  size_t k = lr_tokenizer_encode(t, s, n, 0, &ids, NULL) == LR_OK ? ids.n : 0;
  lr_ids_release(&ids);
  return k;
}

/* Encodes s, decodes the ids, and compares with s. */
static bool round_trips(lr_tokenizer *t, const char *s, size_t n) {
  lr_ids ids = {0};
  char *back = NULL;
  bool ok = lr_tokenizer_encode(t, s, n, 0, &ids, NULL) == LR_OK &&
            lr_tokenizer_decode(t, ids.v, ids.n, &back, NULL) == LR_OK && strlen(back) == n &&
            memcmp(back, s, n) == 0;
  if (!ok)
    tap_diag("decoded '%s'", back ? back : "(nothing)");
  free(back);
  lr_ids_release(&ids);
  return ok;
}

/* The ids of s as "a b c", and its pieces as "p|q|r". */
static void encoding(lr_tokenizer *t, const char *s, int add_special, char *ids_out, size_t n,
                     char *pieces_out, size_t m) {
  lr_ids ids = {0};
  size_t a = 0, b = 0;
  ids_out[0] = pieces_out[0] = '\0';
  if (lr_tokenizer_encode(t, s, strlen(s), add_special, &ids, NULL) != LR_OK)
    return;
  for (size_t i = 0; i < ids.n && a < n && b < m; i++) {
    a += (size_t)snprintf(ids_out + a, n - a, "%s%d", i ? " " : "", (int)ids.v[i]);
    b += (size_t)snprintf(pieces_out + b, m - b, "%s%s", i ? "|" : "",
                          lr_tokenizer_piece(t, ids.v[i]));
  }
  lr_ids_release(&ids);
}

static void test_layout(lr_tokenizer *t) {
  tap_is_int(lr_tokenizer_token_id(t, "<s>"), 0, "<s> is id 0");
  tap_is_int(lr_tokenizer_token_id(t, "</s>"), 1, "</s> is id 1");
  tap_is_int(lr_tokenizer_bos(t), LR_BPE_BOS_ID, "the template makes <s> the BOS");
  tap_is_int(lr_tokenizer_token_id(t, "<unk>"), -1, "there is no <unk>");
  tap_is_str(lr_tokenizer_piece(t, 2), "!", "the first byte token is '!' (byte 33)");
  tap_is_str(lr_tokenizer_piece(t, 2 + 187), "\xc3\xbf", "then the printable bytes, to 0xFF");
  tap_is_int(lr_tokenizer_token_id(t, "\xc4\x80"), 2 + 188, "then byte 0 as U+0100");
  tap_is_int(lr_tokenizer_token_id(t, "\xc4\xa0"), 2 + 188 + 32, "the space is U+0120 (G)");
  tap_is_str(lr_tokenizer_piece(t, 257), "\xc5\x83", "the last byte token is 0xAD as U+0143");
}

static void test_round_trips(lr_tokenizer *t) {
  static const char *const texts[] = {
      "",
      "The quick brown fox jumps over the lazy dog.",
      "Zebras? Xylophones! Never seen in training: qwertyuiop 0987654321",
      "caf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 e\xcc\x81",
      "line one\nline two\r\n\n\ttabbed\x0b\x0c  spaces   ",
      "control \x01\x02\x1b\x7f and \xc2\x85 NEL and \xe2\x80\xa8 LS",
      "\x01\x01\x01\x01 bytes never seen, repeated \xf4\x8f\xbf\xbf",
      "it's they're we'll I'd <s> written out </s>",
  };
  for (size_t i = 0; i < LR_ARRAY_LEN(texts); i++)
    tap_ok(round_trips(t, texts[i], strlen(texts[i])), "round trip of text %zu", i);
  tap_ok(round_trips(t, corpus, strlen(corpus)), "round trip of the corpus");
}

static void test_nul(lr_tokenizer *t) {
  lr_ids ids = {0};
  tap_ok(lr_tokenizer_encode(t, "a\0b", 3, 0, &ids, NULL) == LR_OK && ids.n == 3 &&
         ids.v[1] == 2 + 188, "a NUL byte is the token of byte 0");
  lr_ids_release(&ids);
}

static void test_sizes(lr_tokenizer *t) {
  size_t n = strlen(corpus), k = n_tokens(t, corpus, n);
  tap_is_int((long long)lr_tokenizer_vocab_size(t), 300, "the vocabulary has the 300 asked");
  tap_ok(k > 0 && k < n * 2 / 3, "the corpus is %zu tokens for %zu bytes", k, n);
}

/* Changes to the trainer or the pre-tokenizer show up here first. */
static void test_pinned(lr_tokenizer *t) {
  char ids[512], pieces[512];
  encoding(t, "The lazy fox jumps.", 0, ids, sizeof ids, pieces, sizeof pieces);
  /* HF's BpeTrainer and tokenizers give the same on this corpus. */
  tap_is_str(pieces, "The|\xc4\xa0" "laz|y|\xc4\xa0" "fox|\xc4\xa0" "jump|s|.", "pinned pieces");
  tap_is_str(ids, "275 298 90 268 299 84 15", "pinned ids");
  encoding(t, "The lazy fox jumps.", 1, ids, sizeof ids, pieces, sizeof pieces);
  tap_like(pieces, "<s>|The|", "add_special puts <s> first");
}

static void test_determinism(const char *json) {
  lr_err err;
  char *again = train(corpus, strlen(corpus), 300, 0, &err);
  tap_ok(again && strcmp(again, json) == 0, "a second training gives the same JSON");
  free(again);
}

/* A block of copies of the corpus, each starting one line further on, repeated past the 1 MiB
 * at which words are counted in chunks: with every count that many times larger, the merges
 * are the same, which they would not be if a chunk boundary cut a word.  The block ends with a
 * full stop and a newline, so that where one block meets the next splits as the end of a text
 * does (a line ending in spaces would not: "   \n" is one word at the end, two before "The"). */
static void test_chunks(void) {
  static const char end[] = "The end.\n";
  const size_t n = strlen(corpus), block_len = 12 * n + strlen(end);
  const size_t reps = 1 + (((size_t)1 << 20) + 64 * 1024) / block_len;
  char *big = malloc(block_len * reps), *block = malloc(block_len), *a, *b;
  size_t at = 0;
  lr_err err;
  if (big == NULL || block == NULL) {
    tap_ok(false, "out of memory");
    free(big);
    free(block);
    return;
  }
  for (const char *line = corpus; *line; line = strchr(line, '\n') + 1) {
    memcpy(block + at, line, n - (size_t)(line - corpus));
    at += n - (size_t)(line - corpus);
    memcpy(block + at, corpus, (size_t)(line - corpus));
    at += (size_t)(line - corpus);
  }
  memcpy(block + at, end, strlen(end));
  at += strlen(end);
  for (size_t i = 0; i < reps; i++)
    memcpy(big + i * block_len, block, block_len);
  a = train(block, block_len, 400, 1, &err);
  b = train(big, block_len * reps, 400, 1, &err);
  tap_ok(at == block_len && block_len * reps > ((size_t)1 << 20), "the big corpus is %zu bytes",
         block_len * reps);
  tap_ok(a && b && strcmp(a, b) == 0, "it trains the same tokenizer as one copy of its block");
  free(a);
  free(b);
  free(big);
  free(block);
}

/* "ab" three times ("ab", " ab", " ab"): two merges can reach 2 counts, so 260 tokens at most. */
static void test_few_pairs(void) {
  static const char text[] = "ab ab ab";
  lr_err err;
  char *json = train(text, strlen(text), 1000, 0, &err);
  lr_tokenizer *t = load(json);
  if (t == NULL) {
    tap_ok(false, "the small corpus trains");
    free(json);
    return;
  }
  tap_is_int((long long)lr_tokenizer_vocab_size(t), 260, "too few pairs: 260 tokens, not 1000");
  tap_is_str(lr_tokenizer_piece(t, 258), "ab", "the first merge is the most frequent pair");
  tap_is_str(lr_tokenizer_piece(t, 259), "\xc4\xa0" "ab", "then G+ab (2 times)");
  lr_tokenizer_free(t);
  free(json);
  json = train(text, strlen(text), 1000, 3, &err);
  t = load(json);
  tap_is_int(t ? (long long)lr_tokenizer_vocab_size(t) : -1, 259,
             "min_frequency 3 stops after the pair seen 3 times");
  if (t)
    lr_tokenizer_free(t);
  free(json);
}

static void test_bytes_only(void) {
  lr_err err;
  char *json = train(corpus, strlen(corpus), LR_BPE_MIN_VOCAB, 0, &err);
  lr_tokenizer *t = load(json);
  if (t == NULL) {
    tap_ok(false, "a bytes-only vocabulary trains");
    free(json);
    return;
  }
  tap_is_int((long long)lr_tokenizer_vocab_size(t), LR_BPE_MIN_VOCAB, "258 tokens: no merges");
  tap_ok(strstr(json, "\"merges\": []") != NULL, "an empty merges list");
  tap_is_int((long long)n_tokens(t, corpus, strlen(corpus)), (long long)strlen(corpus),
             "one token per byte");
  tap_ok(round_trips(t, "bytes \xe2\x82\xac only", 12), "and it round-trips");
  lr_tokenizer_free(t);
  free(json);
}

static void test_special_text(void) {
  static const char text[] = "<s>hello</s>\n<s>hello</s>\n<s>hello</s>\n";
  lr_err err;
  char *json = train(text, strlen(text), 300, 0, &err);
  lr_tokenizer *t = load(json);
  char ids[256], pieces[256];
  if (t == NULL) {
    tap_ok(false, "a corpus with <s> written out trains");
    free(json);
    return;
  }
  tap_ok(lr_tokenizer_token_id(t, "hello") >= 0, "'hello' is learned");
  tap_is_int(lr_tokenizer_token_id(t, "<s"), -1, "'<s>' in the text is not learned from");
  encoding(t, "<s>hello", 0, ids, sizeof ids, pieces, sizeof pieces);
  tap_is_str(pieces, "<s>|hello", "it encodes as the special token");
  lr_tokenizer_free(t);
  free(json);
}

static void test_not_utf8(void) {
  static const char text[] = "ab\xff ab ab\xc3 ab \xe2\x82 ab";
  lr_err err;
  char *json = train(text, sizeof text - 1, 300, 0, &err);
  lr_tokenizer *t = load(json);
  tap_ok(t != NULL, "a corpus with bytes that are not UTF-8 trains");
  tap_ok(t && lr_tokenizer_token_id(t, "\xc4\xa0" "ab") >= 0, "on its valid parts");
  if (t)
    lr_tokenizer_free(t);
  free(json);
}

static void test_errors(void) {
  lr_err err;
  char *json = train(corpus, strlen(corpus), LR_BPE_MIN_VOCAB - 1, 0, &err);
  tap_ok(json == NULL && err.code == LR_EINVAL, "vocab_size 257 is LR_EINVAL");
  tap_like(err.msg, "vocab_size 257 is out of range: at least 258 (2 special tokens and 256 "
           "bytes)", "saying what the minimum is made of");
  json = train(corpus, strlen(corpus), LR_BPE_MAX_VOCAB + 1, 0, &err);
  tap_ok(json == NULL && err.code == LR_EINVAL, "vocab_size above 2^24 is LR_EINVAL");
  json = train("", 0, 300, 0, &err);
  tap_ok(json == NULL && err.code == LR_EINVAL, "an empty text is LR_EINVAL");
  tap_like(err.msg, "the training text is empty", "saying so");
}

static void test_write_dir(const char *json) {
  char dir[1024], path[1200], sub[1200], *text = NULL;
  size_t len;
  lr_tokenizer *t = NULL;
  lr_err err;
  if (tmpdir_make(dir, sizeof dir, "bpe") != 0) {
    tap_ok(false, "cannot make a scratch directory");
    return;
  }
  tmpdir_path(sub, sizeof sub, dir, "tok");
  lr_err_init(&err);
  tap_ok(lr_bpe_write_dir(sub, json, &err) == LR_OK, "lr_bpe_write_dir writes a new directory");
  tap_ok(lr_bpe_write_dir(sub, json, &err) == LR_OK, "and overwrites it");
  lr_tokenizer_load(tmpdir_path(path, sizeof path, sub, "tokenizer.json"), &t, &err);
  tap_ok(t && lr_tokenizer_vocab_size(t) == 300, "tokenizer.json loads");
  lr_read_file(tmpdir_path(path, sizeof path, sub, "tokenizer_config.json"), 1 << 20, "a config",
               &text, &len, &err);
  tap_like(text ? text : "", "\"tokenizer_class\": \"PreTrainedTokenizerFast\"",
           "tokenizer_config.json names the class");
  free(text);
  text = NULL;
  lr_read_file(tmpdir_path(path, sizeof path, sub, "special_tokens_map.json"), 1 << 20, "a map",
               &text, &len, &err);
  tap_like(text ? text : "", "\"eos_token\": \"</s>\"", "special_tokens_map.json names EOS");
  free(text);
  tmpdir_write(dir, "file", "x");
  lr_err_init(&err);
  tap_ok(lr_bpe_write_dir(tmpdir_path(path, sizeof path, dir, "file"), json, &err) == LR_EIO,
         "a file in the way is LR_EIO");
  tap_like(err.msg, "exists and is not a directory", "saying so");
  if (t)
    lr_tokenizer_free(t);
  tmpdir_remove(dir);
}

int main(void) {
  lr_err err;
  char *json = train(corpus, strlen(corpus), 300, 0, &err);
  lr_tokenizer *t = load(json);
  if (t == NULL) {
    tap_ok(false, "the corpus trains and loads: %s", err.msg);
    return tap_done();
  }
  test_layout(t);
  test_round_trips(t);
  test_nul(t);
  test_sizes(t);
  test_pinned(t);
  test_determinism(json);
  test_chunks();
  test_few_pairs();
  test_bytes_only();
  test_special_text();
  test_not_utf8();
  test_errors();
  test_write_dir(json);
  lr_tokenizer_free(t);
  free(json);
  return tap_done();
}
