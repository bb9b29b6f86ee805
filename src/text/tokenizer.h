/*
 * tokenizer.h: Hugging Face tokenizer.json tokenizers (BPE models) in C, also built from the
 * tokenizer metadata of GGUF files.
 *
 * lr_tokenizer_load reads a tokenizer.json as real checkpoints ship it (GPT-2, Llama 2, Llama 3,
 * SmolLM2, Qwen2 ...) and lr_tokenizer_encode gives the ids Hugging Face `tokenizers` gives for
 * `Tokenizer.encode(text, add_special_tokens=...)`.  The pipeline is HF's: added tokens are cut
 * out of the raw text first, the rest is normalized, pre-tokenized into words, and each word is
 * encoded by the BPE model; a TemplateProcessing post-processor adds BOS/EOS with add_special.
 *
 * Whatever a file uses that is not implemented (a WordPiece model, a Whitespace pre-tokenizer, a
 * Lowercase normalizer, BPE dropout, truncation ...) fails at load with LR_EUNSUPPORTED and a
 * message naming the feature and its JSON path, so an encoding is either HF's or an error.  The
 * supported set is listed in docs/cli.md (`lorens tokenize`).
 *
 * A tokenizer keeps a cache of encoded words and scratch space, so encode mutates it: use one
 * tokenizer per thread.
 */
#ifndef LORENS_TOKENIZER_H
#define LORENS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/gguf.h"

typedef struct lr_tokenizer lr_tokenizer;

/* A growable array of token ids.  Zero-initialise it (or lr_ids_init); lr_ids_release frees. */
typedef struct lr_ids {
  int32_t *v;
  size_t n, cap;
} lr_ids;

void lr_ids_init(lr_ids *ids);
void lr_ids_release(lr_ids *ids);
lr_status lr_ids_push(lr_ids *ids, int32_t id, lr_err *err);

/* Loads a tokenizer.json file, or, for a path lr_gguf_path_is_gguf accepts, the tokenizer in a
 * GGUF file's metadata (lr_tokenizer_load_gguf).  Errors name the file and the JSON path or GGUF
 * key of the bad value. */
lr_status lr_tokenizer_load(const char *path, lr_tokenizer **out, lr_err *err);

/* The tokenizer of a GGUF file's `tokenizer.ggml.*` metadata, built as the model's own
 * tokenizer.json would be (tokenizer-gguf.c says how): `gpt2` byte-level BPE with the
 * pre-tokenizer `tokenizer.ggml.pre` names, or `llama` SentencePiece scores as a byte-fallback
 * BPE.  Other models, unknown `pre` names and a missing `pre` are LR_EUNSUPPORTED; malformed
 * metadata LR_EPARSE; both name the file and the key. */
lr_status lr_tokenizer_load_gguf(const char *path, lr_tokenizer **out, lr_err *err);
lr_status lr_tokenizer_from_gguf(const lr_gguf_file *f, lr_tokenizer **out, lr_err *err);

/* Loads from len bytes of JSON text; name is used in messages in place of a file name. */
lr_status lr_tokenizer_load_buffer(const char *json, size_t len, const char *name,
                                   lr_tokenizer **out, lr_err *err);

void lr_tokenizer_free(lr_tokenizer *t);

/* The longest word (a piece of text between the pre-tokenizer's splits, after normalization)
 * that BPE encodes: merging one word takes about 30 bytes of memory per byte of it and more than
 * linear time, so a runaway word is refused before any of that is spent.  A tokenizer without a
 * pre-tokenizer (Llama 2) makes a whole text one word; prompts stay far below (a dataset's
 * question is at most 64 KiB). */
#define LR_TOKENIZER_MAX_WORD ((size_t)8 << 20)

/* Appends the ids of len bytes of UTF-8 text to *out (which is not cleared).  add_special adds
 * what the post-processor adds (BOS for Llama 2), like HF's add_special_tokens=True.  Text that
 * is not valid UTF-8 is LR_EINVAL, with the byte offset, and so is a word longer than
 * LR_TOKENIZER_MAX_WORD; *out then keeps what it had. */
lr_status lr_tokenizer_encode(lr_tokenizer *t, const char *text, size_t len, int add_special,
                              lr_ids *out, lr_err *err);

/* The text of n ids as HF's decode(ids, skip_special_tokens=False) gives it: special tokens are
 * kept.  *out_text is a new NUL-terminated string (free it).  An id out of range is LR_EINVAL. */
lr_status lr_tokenizer_decode(lr_tokenizer *t, const int32_t *ids, size_t n, char **out_text,
                              lr_err *err);

/* The vocabulary string of an id (for byte-level vocabularies, in the byte-level alphabet:
 * "Ġthe"), an added token's content, or NULL for an id outside the vocabulary or unused. */
const char *lr_tokenizer_piece(const lr_tokenizer *t, int32_t id);

/* One more than the largest id of the vocabulary or of an added token. */
size_t lr_tokenizer_vocab_size(const lr_tokenizer *t);

/* The id add_special puts first (from the TemplateProcessing post-processor), or -1 if none. */
int32_t lr_tokenizer_bos(const lr_tokenizer *t);

/* The id of an exact piece (added tokens first, as HF's token_to_id), or -1. */
int32_t lr_tokenizer_token_id(const lr_tokenizer *t, const char *piece);

#endif /* LORENS_TOKENIZER_H */
