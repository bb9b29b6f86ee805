/*
 * test-tokenizer.c: the tokenizer API on small tokenizers written here, and a precise error for
 * every malformed or unsupported tokenizer.json (the feature and its JSON path), for text that is
 * not UTF-8 and for ids outside the vocabulary.  With ../shared, also BOS through
 * TemplateProcessing on Llama 2, and the lookups on GPT-2.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/tokenizer.h"
#include "../tap.h"

/* A tiny BPE: characters a, b, c, space; merges a+b, ab+c. */
#define VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \" \": 3, \"ab\": 4, \"abc\": 5}"
#define MODEL "\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\", \"ab c\"]}"

static lr_status load(const char *json, lr_tokenizer **t, lr_err *err) {
  lr_err_init(err);
  return lr_tokenizer_load_buffer(json, strlen(json), "t/tokenizer.json", t, err);
}

static void expect_error(const char *json, lr_status want, const char *needle, const char *what) {
  lr_tokenizer *t = NULL;
  lr_err err;
  lr_status rc = load(json, &t, &err);
  tap_is_str(lr_status_name(rc), lr_status_name(want), "%s: %s", what, lr_status_name(want));
  tap_like(err.msg, needle, "%s: message", what);
  if (strcmp(err.file, "t/tokenizer.json") != 0)
    tap_ok(false, "%s: the error names the file (got '%s')", what, err.file);
  if (t != NULL)
    lr_tokenizer_free(t);
}

static void test_unsupported(void) {
  expect_error("{\"model\": {\"type\": \"WordPiece\", " VOCAB "}}", LR_EUNSUPPORTED,
               "model.type 'WordPiece' is not supported", "WordPiece model");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", LR_EUNSUPPORTED,
               "pre_tokenizer.type 'Whitespace' is not supported", "Whitespace pre-tokenizer");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
               "{\"type\": \"Digits\"}, {\"type\": \"BertPreTokenizer\"}]}}", LR_EUNSUPPORTED,
               "pre_tokenizer.pretokenizers[1].type 'BertPreTokenizer' is not supported",
               "unsupported pre-tokenizer inside a Sequence");
  expect_error("{" MODEL ", \"normalizer\": {\"type\": \"Lowercase\"}}", LR_EUNSUPPORTED,
               "normalizer.type 'Lowercase' is not supported", "Lowercase normalizer");
  expect_error("{" MODEL ", \"decoder\": {\"type\": \"WordPiece\"}}", LR_EUNSUPPORTED,
               "decoder.type 'WordPiece' is not supported", "WordPiece decoder");
  expect_error("{" MODEL ", \"post_processor\": {\"type\": \"RobertaProcessing\"}}",
               LR_EUNSUPPORTED, "post_processor.type 'RobertaProcessing' is not supported",
               "RobertaProcessing");
  expect_error("{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, " VOCAB ", \"merges\": []}}",
               LR_EUNSUPPORTED, "model.dropout is not supported", "BPE dropout");
  expect_error("{" MODEL ", \"truncation\": {\"max_length\": 5}}", LR_EUNSUPPORTED,
               "truncation is not supported", "truncation");
  expect_error("{" MODEL ", \"padding\": {\"strategy\": \"BatchLongest\"}}", LR_EUNSUPPORTED,
               "padding is not supported", "padding");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": "
               "\" \"}, \"behavior\": \"Sideways\"}}", LR_EUNSUPPORTED,
               "pre_tokenizer.behavior 'Sideways' is not supported", "Split behavior");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"prepend_scheme\": "
               "\"sometimes\"}}", LR_EUNSUPPORTED,
               "pre_tokenizer.prepend_scheme 'sometimes' is not supported", "prepend_scheme");
  expect_error("{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"Sequence\": {\"id\": \"A\"}}, {\"Sequence\": {\"id\": \"B\"}}]}}",
               LR_EUNSUPPORTED, "only one sequence, A", "a template with two sequences");
}

static void test_malformed(void) {
  expect_error("{\"model\": ", LR_EPARSE, "not valid JSON", "truncated JSON");
  expect_error("[1, 2]", LR_EPARSE, "must be a JSON object, got array", "an array");
  expect_error("{}", LR_EPARSE, "model must be an object, got nothing", "no model");
  expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": []}}", LR_EPARSE,
               "model.vocab must be an object, got array", "vocab array");
  expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
               LR_EPARSE, "model.vocab[\"a\"] must be an id in [0, 16777216)", "negative id");
  expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}}",
               LR_EPARSE, "got string", "id as a string");
  expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}", LR_EPARSE,
               "id 0 is given to both", "one id twice");
  expect_error("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"ab\"]}}", LR_EPARSE,
               "model.merges[0] must be two tokens separated by one space, got 'ab'",
               "merge without a space");
  expect_error("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\", \"a x\"]}}",
               LR_EPARSE, "model.merges[1]: token 'x' is not in the vocabulary",
               "merge of an unknown token");
  expect_error("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [[\"b\", \"c\"]]}}",
               LR_EPARSE, "model.merges[0]: merged token 'bc' is not in the vocabulary",
               "merge whose result is unknown");
  expect_error("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [7]}}", LR_EPARSE,
               "model.merges[0] must be a string \"a b\" or a pair", "merge as a number");
  expect_error("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [], \"unk_token\": "
               "\"<unk>\"}}", LR_EPARSE, "model.unk_token '<unk>' is not in the vocabulary",
               "unknown unk_token");
  expect_error("{" MODEL ", \"added_tokens\": {}}", LR_EPARSE,
               "added_tokens must be an array, got object", "added_tokens object");
  expect_error("{" MODEL ", \"added_tokens\": [{\"id\": 9}]}", LR_EPARSE,
               "added_tokens[0].content is missing", "added token without content");
  expect_error("{" MODEL ", \"added_tokens\": [{\"id\": 99999999, \"content\": \"x\"}]}",
               LR_EPARSE, "added_tokens[0].id must be an id", "added token id out of range");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
               "\"(a\"}, \"behavior\": \"Isolated\"}}", LR_EPARSE,
               "pre_tokenizer.pattern.Regex: bad regex at offset 2", "bad regex");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": "
               "\"Isolated\"}}", LR_EPARSE, "pre_tokenizer.pattern must be an object",
               "Split without pattern");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": "
               "1}}", LR_EPARSE, "pre_tokenizer.add_prefix_space must be a boolean, got integer",
               "flag as a number");
  expect_error("{" MODEL ", \"pre_tokenizer\": {\"kind\": \"ByteLevel\"}}", LR_EPARSE,
               "pre_tokenizer.type is missing", "step without type");
  expect_error("{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
               "\"special_tokens\": {}}}", LR_EPARSE,
               "post_processor.single[0]: special token '<s>' is not in "
               "post_processor.special_tokens", "template with an undefined special token");
  expect_error("{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
               "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [99]}}}}", LR_EPARSE,
               "post_processor.special_tokens[\"<s>\"].ids[0] must be a token id of the vocabulary",
               "template id outside the vocabulary");
  expect_error("{" MODEL ", \"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}}",
               LR_EPARSE, "decoder.replacement must be a single character, got 'ab'",
               "replacement of two characters");
}

static void encode_is(lr_tokenizer *t, const char *text, int add, const char *want,
                      const char *what) {
  lr_ids ids = {0};
  lr_err err;
  char got[LR_ERR_MSG_MAX + 16] = "";
  size_t used = 0;
  lr_err_init(&err);
  if (lr_tokenizer_encode(t, text, strlen(text), add, &ids, &err) != LR_OK)
    snprintf(got, sizeof got, "error: %s", err.msg);
  for (size_t i = 0; i < ids.n && used + 16 < sizeof got; i++)
    used += (size_t)snprintf(got + used, sizeof got - used, "%s%ld", i ? " " : "",
                             (long)ids.v[i]);
  tap_is_str(got, want, "%s", what);
  lr_ids_release(&ids);
}

static void decode_is(lr_tokenizer *t, const int32_t *ids, size_t n, const char *want,
                      const char *what) {
  char *text = NULL;
  lr_err err;
  lr_err_init(&err);
  if (lr_tokenizer_decode(t, ids, n, &text, &err) != LR_OK)
    tap_ok(false, "%s: %s", what, err.msg);
  else
    tap_is_str(text, want, "%s", what);
  free(text);
}

static void test_tiny(void) {
  lr_tokenizer *t;
  lr_err err;
  lr_ids ids = {0};
  char *text = (char *)"x";
  const char *json = "{" MODEL ", \"added_tokens\": [{\"id\": 6, \"content\": \"<s>\", "
                     "\"special\": true}], \"post_processor\": {\"type\": \"TemplateProcessing\","
                     " \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": "
                     "{\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", "
                     "\"ids\": [6]}}}}";
  if (!tap_ok(load(json, &t, &err) == LR_OK, "a tiny tokenizer loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  tap_is_int((long long)lr_tokenizer_vocab_size(t), 7, "vocab size counts the added token");
  tap_is_str(lr_tokenizer_piece(t, 4), "ab", "piece of 4");
  tap_is_str(lr_tokenizer_piece(t, 6), "<s>", "piece of the added token");
  tap_ok(lr_tokenizer_piece(t, 7) == NULL && lr_tokenizer_piece(t, -1) == NULL,
         "no piece outside the vocabulary");
  tap_is_int(lr_tokenizer_token_id(t, "abc"), 5, "token_id of a piece");
  tap_is_int(lr_tokenizer_token_id(t, "<s>"), 6, "token_id of an added token");
  tap_is_int(lr_tokenizer_token_id(t, "zz"), -1, "token_id of nothing");
  tap_is_int(lr_tokenizer_bos(t), 6, "BOS from the template");
  encode_is(t, "abc", 0, "5", "merges apply by rank");
  encode_is(t, "abcab cba", 0, "5 4 3 2 1 0", "a word without pre-tokenizer is the whole text");
  encode_is(t, "abc", 1, "6 5", "add_special puts BOS first");
  encode_is(t, "ab<s>c", 0, "4 6 2", "added tokens are cut out first");
  encode_is(t, "axb", 0, "4", "a character outside the vocabulary is dropped (no unk), as HF");
  encode_is(t, "", 1, "6", "empty text with add_special is just BOS");
  lr_err_init(&err);
  tap_is_int(lr_tokenizer_encode(t, "a\xff", 2, 0, &ids, &err), LR_EINVAL, "invalid UTF-8 fails");
  tap_like(err.msg, "not valid UTF-8 (at byte 1)", "saying where");
  tap_is_int((long long)ids.n, 0, "and appends nothing");
  lr_err_init(&err);
  tap_is_int(lr_tokenizer_encode(t, "a\xed\xa0\x80", 4, 0, &ids, &err), LR_EINVAL,
             "a UTF-16 surrogate is not UTF-8");
  int32_t bad[] = {0, 7};
  lr_err_init(&err);
  tap_is_int(lr_tokenizer_decode(t, bad, 2, &text, &err), LR_EINVAL, "decoding id 7 fails");
  tap_like(err.msg, "id 7 at position 1 is not a token", "naming the id and its position");
  tap_ok(text == NULL, "leaving no text");
  int32_t ok[] = {4, 3, 2};
  decode_is(t, ok, 3, "ab   c", "without a decoder, pieces are joined by spaces (as HF)");
  lr_ids_release(&ids);
  lr_tokenizer_free(t);
}

/* Decoders one by one, on a vocabulary of SentencePiece-style pieces. */
static void test_decoders(void) {
  lr_tokenizer *t;
  lr_err err;
  const char *json =
      "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"\\u2581a\": 0, "
      "\"b\": 1, \"<0xC3>\": 2, \"<0xA9>\": 3, \"<0xFF>\": 4, \"\\u2581\": 5}, \"merges\": []},"
      " \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\":"
      " {\"String\": \"\\u2581\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": "
      "\"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]}}";
  if (!tap_ok(load(json, &t, &err) == LR_OK, "a byte-fallback tokenizer loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  int32_t a[] = {0, 1, 2, 3, 5, 0};
  decode_is(t, a, 6, "ab\xc3\xa9  a", "byte tokens that form UTF-8 become the character");
  int32_t b[] = {0, 4, 1};
  decode_is(t, b, 3, "a\xef\xbf\xbd" "b", "a byte that is not UTF-8 becomes U+FFFD");
  encode_is(t, "\xc3\xa9" "b", 0, "2 3 1", "encoding falls back to bytes");
  lr_tokenizer_free(t);
}

static void test_shared(void) {
  const char *top = getenv("TOP_SRCDIR");
  char path[4096];
  lr_tokenizer *t;
  lr_err err;
  snprintf(path, sizeof path, "%s/../shared/tokenizers/llama2/tokenizer.json", top ? top : ".");
  if (access(path, R_OK) != 0) {
    tap_skip("../shared is absent", "Llama 2 BOS");
    return;
  }
  lr_err_init(&err);
  if (!tap_ok(lr_tokenizer_load(path, &t, &err) == LR_OK, "Llama 2 loads"))
    return;
  tap_is_int(lr_tokenizer_bos(t), 1, "Llama 2 BOS is 1");
  encode_is(t, "Hello world", 1, "1 15043 3186", "add_special puts <s> first (as HF)");
  encode_is(t, "Hello world", 0, "15043 3186", "and not without it");
  tap_is_str(lr_tokenizer_piece(t, 15043), "\xe2\x96\x81Hello", "piece with the metaspace");
  lr_tokenizer_free(t);
  lr_err_init(&err);
  tap_is_int(lr_tokenizer_load("/nonexistent/tokenizer.json", &t, &err), LR_ENOTFOUND,
             "a missing file is ENOTFOUND");
  tap_like(err.file, "/nonexistent/tokenizer.json", "naming the file");
}

int main(void) {
  test_unsupported();
  test_malformed();
  test_tiny();
  test_decoders();
  test_shared();
  return tap_done();
}
