/*
 * bpe-train.h: training a GPT-2 style byte-level BPE tokenizer, written as a Hugging Face
 * tokenizer.json (`lorens bpe-train`, and the tokenizer of `lorens pretrain`).
 *
 * The tokenizer is what HF `tokenizers` would save for a BPE model trained by its BpeTrainer:
 * normalizer null; pre_tokenizer ByteLevel (add_prefix_space false, use_regex true: the GPT-2
 * regex); decoder ByteLevel; model BPE with no unk_token, no dropout, no affixes.  Its ids:
 *
 *   0          <s>   BOS, an added special token
 *   1          </s>  EOS, an added special token
 *   2..257     the 256 bytes, as GPT-2's byte-to-unicode characters ("Ġ" is the space), in
 *              the order of those characters (GPT-2's own order, and BpeTrainer's)
 *   258..      merged tokens, in merge order
 *
 * There is no <unk>: every byte has a token, so nothing is unknown, and a model trained on these
 * ids never has to learn an id that cannot occur.  Padding, when a caller needs it, can use EOS.
 *
 * BOS: the post_processor is a TemplateProcessing whose single template is "<s> $A" (pair
 * "<s> $A <s> $B"), as Llama 2's tokenizer.json has.  That one choice makes every reader agree:
 * HF `Tokenizer.encode(text)` and transformers' `tokenizer(text)` (add_special_tokens=True by
 * default) give [0, ...]; lr_tokenizer_encode with add_special (and `lorens tokenize --add-bos`)
 * gives the same; lr_tokenizer_bos() reads 0 from the template, so a grid's `prompt: {bos: true}`
 * puts <s> first (prompt.c adds it itself and encodes the text without specials).  Without the
 * template lr_tokenizer_bos() would be -1 and `bos: true` would silently add nothing.  Encoding
 * without special tokens (add_special_tokens=False, lorens' default) gives the same ids in all of
 * them.  EOS is never added by the tokenizer: a pretraining loop appends id 1 itself.
 * tokenizer_config.json names the class PreTrainedTokenizerFast (not LlamaTokenizerFast, whose
 * add_bos_token/add_eos_token would rewrite the post-processor) with bos_token <s>, eos_token
 * </s> and clean_up_tokenization_spaces false, so that decode gives back the text.
 *
 * Training: the text is split into words exactly as lr_tokenizer_encode splits it with the
 * written tokenizer (tk_pretokenize on the same pipeline, merges aside), so a literal "<s>" in the
 * corpus is cut out as the special token.  Bytes that are not valid UTF-8 cannot be encoded by
 * lorens or HF, so they count for nothing: each valid run of the text is split on its own.
 * Unique words are counted; then, repeatedly, the adjacent pair of tokens with the highest count
 * (summed over word occurrences, overlapping ones included: "aaa" has the pair a,a twice) is
 * merged into a new token, until the vocabulary has vocab_size tokens or no pair is seen
 * min_frequency times.  Ties go to the pair with the smaller ids, left first, then right: the
 * rule of HF's BpeTrainer, which therefore learns the same vocab and merges from the same words
 * (checked by tests/tokenizer/check-bpe-hf.py).  Should a merge ever yield a string that is
 * already a token, it reuses that id, as BpeTrainer does, rather than write the string twice.
 *
 * The vocabulary is smaller than vocab_size when the text runs out of pairs seen min_frequency
 * times; lr_tokenizer_vocab_size() of the loaded result says what it got.  The same text and
 * options give the same bytes on every machine.  merges are written as "a b" strings, the format
 * every version of `tokenizers` reads (byte-level tokens never contain a space).
 */
#ifndef LORENS_BPE_TRAIN_H
#define LORENS_BPE_TRAIN_H

#include <stddef.h>

#include "base/error.h"

#define LR_BPE_BOS_ID 0
#define LR_BPE_EOS_ID 1
#define LR_BPE_N_SPECIAL 2
/* The smallest vocabulary: the special tokens and the 256 bytes, no merges. */
#define LR_BPE_MIN_VOCAB (LR_BPE_N_SPECIAL + 256)
/* The largest: lorens' tokenizer loader takes ids below 2^24. */
#define LR_BPE_MAX_VOCAB ((size_t)1 << 24)

typedef struct lr_bpe_train_opts {
  size_t vocab_size;    /* total vocabulary: special tokens + 256 byte tokens + merged tokens;
                           LR_BPE_MIN_VOCAB gives a pure byte vocabulary with no merges */
  size_t min_frequency; /* a pair seen fewer times is never merged (default 2 when 0) */
} lr_bpe_train_opts;

/* Trains on text[0..len) and returns a malloc'ed, NUL-terminated tokenizer.json document in
 * *json_out (NULL on failure).  Errors: vocab_size outside [LR_BPE_MIN_VOCAB, LR_BPE_MAX_VOCAB]
 * or an empty text (LR_EINVAL), out of memory. */
lr_status lr_bpe_train(const char *text, size_t len, const lr_bpe_train_opts *o, char **json_out,
                       lr_err *err);

/* Writes dir/tokenizer.json (the text json), dir/tokenizer_config.json and
 * dir/special_tokens_map.json, each atomically (lr_write_file_atomic), creating dir if it is
 * missing.  AutoTokenizer.from_pretrained(dir) then loads a fast tokenizer with bos_token <s>
 * and eos_token </s>. */
lr_status lr_bpe_write_dir(const char *dir, const char *json, lr_err *err);

#endif /* LORENS_BPE_TRAIN_H */
