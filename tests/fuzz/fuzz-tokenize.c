/*
 * fuzz-tokenize.c: encoding arbitrary bytes with real tokenizers.
 *
 * The first byte picks the tokenizer: GPT-2, Llama 2 or SmolLM2 from ../shared
 * ($TOP_SRCDIR/../shared/tokenizers, or $LORENS_FUZZ_TOKENIZERS), or, when those are absent, a
 * small byte-level tokenizer built in here; the rest is the text.  Text that is not UTF-8 must
 * fail with LR_EINVAL and append nothing; any other text must encode into ids of the vocabulary
 * and decode again, and for GPT-2 and the built-in tokenizer (byte-level, no normalizer) decode
 * must give the text back exactly, as it must for Llama 2 (byte fallback) when the text holds no
 * special token.
 *
 * The tokenizers are loaded once per process (loading Llama 2 for every input would leave no time
 * to fuzz) and kept until exit: libFuzzer's leak check runs per input, not at exit.
 */
#include "compat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "text/tokenizer.h"

/* A byte-level BPE over the 256 byte stand-ins, with a few merges and an added token. */
static lr_tokenizer *builtin(void) {
  static const char head[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {";
  static const char merges[] =
      "\"\\u0120t\": 256, \"he\": 257, \"\\u0120the\": 258, \"\\u0120th\": 259},"
      " \"merges\": [\"\\u0120 t\", \"h e\", \"\\u0120t h\", \"\\u0120th e\"]},"
      " \"added_tokens\": [{\"id\": 260, \"content\": \"<|end|>\", \"special\": true}],"
      " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\":"
      " false, \"use_regex\": true}, \"decoder\": {\"type\": \"ByteLevel\"}}";
  char *json = malloc(256 * 16 + sizeof head + sizeof merges), *p;
  lr_tokenizer *t = NULL;
  lr_err err;
  int next = 256;
  if (json == NULL)
    return NULL;
  p = json + sprintf(json, "%s", head);
  for (int b = 0; b < 256; b++) {
    int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    p += sprintf(p, "\"\\u%04x\": %d, ", keep ? b : next++, b);
  }
  sprintf(p, "%s", merges);
  lr_err_init(&err);
  lr_tokenizer_load_buffer(json, strlen(json), "builtin", &t, &err);
  free(json);
  return t;
}

static lr_tokenizer *from_shared(const char *name) {
  const char *dir = getenv("LORENS_FUZZ_TOKENIZERS"), *top = getenv("TOP_SRCDIR");
  char path[4096];
  lr_tokenizer *t = NULL;
  lr_err err;
  if (dir)
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", dir, name);
  else
    snprintf(path, sizeof path, "%s/../shared/tokenizers/%s/tokenizer.json", top ? top : ".",
             name);
  lr_err_init(&err);
  if (lr_tokenizer_load(path, &t, &err) != LR_OK)
    return NULL;
  return t;
}

/* Text that decoding cannot give back exactly: a special token written out (cut out as the
 * token, around which Llama 2's normalizer prepends its metaspace), a NUL (the decoded text is a
 * C string), or the metaspace U+2581 itself (decoded as a space). */
static bool round_trips(const char *s, size_t n) {
  return memchr(s, '<', n) == NULL && memchr(s, 0, n) == NULL &&
         memmem(s, n, "\xe2\x96\x81", 3) == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lr_tokenizer *toks[4];
  static bool loaded;
  static const char *const names[] = {"gpt2", "llama2", "smollm2"};
  lr_ids ids = {0};
  lr_err err;
  char *text = NULL;
  if (!loaded) {
    for (size_t i = 0; i < 3; i++)
      toks[i] = from_shared(names[i]);
    toks[3] = builtin();
    FUZZ_CHECK(toks[3] != NULL);
    loaded = true;
  }
  if (size == 0)
    return 0;
  size_t which = data[0] % 4;
  lr_tokenizer *t = toks[which] ? toks[which] : toks[3];
  which = toks[which] ? which : 3;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  lr_err_init(&err);
  lr_status rc = lr_tokenizer_encode(t, s, n, data[0] & 4, &ids, &err);
  if (rc == LR_EINVAL) {
    FUZZ_CHECK(ids.n == 0 && err.msg[0] != '\0');
    lr_ids_release(&ids);
    return 0;
  }
  FUZZ_CHECK(rc == LR_OK);
  for (size_t k = 0; k < ids.n; k++)
    FUZZ_CHECK(ids.v[k] >= 0 && (size_t)ids.v[k] < lr_tokenizer_vocab_size(t));
  /* Decode without the BOS that add_special put in front. */
  size_t skip = (data[0] & 4) && ids.n > 0 && ids.v[0] == lr_tokenizer_bos(t) ? 1 : 0;
  lr_err_init(&err);
  FUZZ_CHECK(lr_tokenizer_decode(t, ids.n ? ids.v + skip : NULL, ids.n - skip, &text, &err) ==
             LR_OK);
  if (which != 2 && round_trips(s, n))
    FUZZ_CHECK(strlen(text) == n && memcmp(text, s, n) == 0);
  free(text);
  lr_ids_release(&ids);
  return 0;
}
