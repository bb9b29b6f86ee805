/*
 * fuzz-tokenizer-json.c: the tokenizer.json loader, over arbitrary text.
 *
 * Any input must either load, or fail with a parse / unsupported status and a message naming the
 * file.  A tokenizer that loads must then encode a few fixed texts (with and without special
 * tokens) into ids inside its vocabulary, and decode them again without error.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "text/tokenizer.h"

static const char *const texts[] = {
    "Hello world", " a  b\t\nc 123 4567", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
    "<s>ab</s>", "", "'s 'LL ?!",
};

static void exercise(lr_tokenizer *t) {
  for (size_t i = 0; i < LR_ARRAY_LEN(texts); i++) {
    lr_ids ids = {0};
    lr_err err;
    char *text = NULL;
    lr_err_init(&err);
    lr_status rc = lr_tokenizer_encode(t, texts[i], strlen(texts[i]), (int)(i & 1), &ids, &err);
    FUZZ_CHECK(rc == LR_OK || rc == LR_ENOMEM);
    for (size_t k = 0; k < ids.n; k++)
      FUZZ_CHECK(ids.v[k] >= 0 && (size_t)ids.v[k] < lr_tokenizer_vocab_size(t) &&
                 lr_tokenizer_piece(t, ids.v[k]) != NULL);
    lr_err_init(&err);
    rc = lr_tokenizer_decode(t, ids.v, ids.n, &text, &err);
    FUZZ_CHECK(rc == LR_OK ? text != NULL : rc == LR_ENOMEM);
    free(text);
    lr_ids_release(&ids);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_tokenizer *t = NULL;
  lr_err err;
  lr_err_init(&err);
  if (lr_tokenizer_load_buffer((const char *)data, size, "fuzz/tokenizer.json", &t, &err) !=
      LR_OK) {
    FUZZ_CHECK(t == NULL);
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_EUNSUPPORTED || err.code == LR_ENOMEM);
    FUZZ_CHECK(err.msg[0] != '\0' && strcmp(err.file, "fuzz/tokenizer.json") == 0);
    return 0;
  }
  FUZZ_CHECK(err.code == LR_OK && t != NULL);
  exercise(t);
  lr_tokenizer_free(t);
  return 0;
}
