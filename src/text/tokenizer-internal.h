/*
 * tokenizer-internal.h: the data structures behind lr_tokenizer, shared by its files:
 *
 *   tokenizer-util.c     the token -> id tables, UTF-8 decoding and repair, regex matching
 *   tokenizer-build.c    the steps of building one that any source shares, and freeing it
 *   tokenizer-load.c     tokenizer.json -> lr_tokenizer, with an error for everything unsupported
 *   tokenizer-gguf.c     GGUF tokenizer metadata -> lr_tokenizer, likewise
 *   tokenizer-bpe.c      the BPE model: merge ranks keyed by id pairs, a heap per word, a cache
 *   tokenizer.c          encode: added tokens, normalizers, pre-tokenizers, post-processor
 *   tokenizer-decode.c   decode: the decoder chain
 *
 * Sequences (of normalizers, pre-tokenizers, decoders) are flattened at load into one array of
 * steps, since a Sequence only runs its members in order.
 */
#ifndef LORENS_TOKENIZER_INTERNAL_H
#define LORENS_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "text/tokenizer.h"

/* ---- token -> id tables (lr_hashmap over the tokenizer's own arrays) ------------------------- */

/* The eq functions of lr_tokenizer.vocab and .added_map (ctx: the lr_tokenizer). */
bool tk_vocab_eq(const void *ctx, size_t id, const void *key, size_t len);
bool tk_added_eq(const void *ctx, size_t index, const void *key, size_t len);
/* The id of a vocabulary piece, or -1. */
int32_t tk_vocab_id(const lr_tokenizer *t, const char *s, size_t n);
/* The id of an added token whose content is s, or -1. */
int32_t tk_added_id(const lr_tokenizer *t, const char *s, size_t n);

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Decodes the character at s (valid UTF-8 assumed); *cp gets the code point. Returns its length. */
size_t tk_utf8_next(const char *s, size_t n, int32_t *cp);
size_t tk_utf8_encode(int32_t cp, char *out);
/* Appends s as Rust's String::from_utf8_lossy would: U+FFFD per maximal invalid subpart. */
lr_status tk_append_lossy(lr_buf *out, const char *s, size_t n, lr_err *err);

/* ---- regular expressions (PCRE2, UTF + UCP, JIT when available) ----------------------------- */

typedef struct tk_regex {
  pcre2_code *code;
  pcre2_match_data *md;
} tk_regex;

/* Compiles an Oniguruma-style pattern as HF writes them.  where names it in messages. */
lr_status tk_regex_compile(tk_regex *re, const char *pattern, size_t len, const char *file,
                           const char *where, lr_err *err);
/* Finds the next match in s[0..n) at or after from; 1 with [*ms, *me), 0 if none, a negative
 * PCRE2 error code when matching fails (a resource limit), to be reported by tk_regex_error. */
int tk_regex_find(tk_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me);
lr_status tk_regex_error(int rc, lr_err *err);
void tk_regex_release(tk_regex *re);

/* ---- pipeline steps -------------------------------------------------------------------------- */

typedef enum { PAT_STRING, PAT_REGEX } tk_pattern_kind;

typedef struct tk_pattern {
  tk_pattern_kind kind;
  char *literal; /* PAT_STRING */
  size_t literal_len;
  tk_regex re; /* PAT_REGEX */
} tk_pattern;

typedef enum { NORM_NFC, NORM_NFKC, NORM_PREPEND, NORM_REPLACE } tk_norm_kind;

typedef struct tk_normalizer {
  tk_norm_kind kind;
  char *text; /* PREPEND: what to prepend; REPLACE: the replacement */
  size_t text_len;
  tk_pattern pattern; /* REPLACE */
} tk_normalizer;

/* How a split keeps the delimiters it finds (HF SplitDelimiterBehavior). */
typedef enum {
  SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS
} tk_split_behavior;

typedef enum { PRE_BYTELEVEL, PRE_SPLIT, PRE_DIGITS, PRE_METASPACE } tk_pre_kind;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } tk_prepend_scheme;

typedef struct tk_pretok {
  tk_pre_kind kind;
  bool add_prefix_space, use_regex; /* BYTELEVEL */
  tk_pattern pattern;               /* SPLIT */
  tk_split_behavior behavior;       /* SPLIT */
  bool invert;                      /* SPLIT */
  bool individual_digits;           /* DIGITS */
  char replacement[8];              /* METASPACE: one character, UTF-8 */
  size_t replacement_len;
  tk_prepend_scheme prepend; /* METASPACE */
  bool split;                /* METASPACE */
} tk_pretok;

typedef enum { DEC_BYTELEVEL, DEC_METASPACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_REPLACE }
    tk_dec_kind;

typedef struct tk_decoder {
  tk_dec_kind kind;
  char replacement[8]; /* METASPACE */
  size_t replacement_len;
  bool prepend; /* METASPACE: prepend_scheme != never */
  int32_t strip_char; /* STRIP */
  size_t strip_start, strip_stop;
  tk_pattern pattern; /* REPLACE */
  char *content;
  size_t content_len;
} tk_decoder;

typedef struct tk_added {
  char *content;
  size_t len;
  /* What is matched in text: content, or for a normalized token its normalized form. */
  char *match;
  size_t match_len;
  int32_t id;
  bool special, lstrip, rstrip, single_word, normalized;
} tk_added;

/* ---- the BPE model ---------------------------------------------------------------------------- */

typedef struct tk_merge_slot {
  uint64_t key; /* (left id << 32 | right id) + 1; 0 = empty */
  int32_t rank, new_id;
} tk_merge_slot;

typedef struct tk_cache_entry {
  char *key; /* NULL = empty; key and ids share one allocation */
  size_t len;
  uint64_t hash;
  int32_t *ids;
  uint32_t n_ids;
} tk_cache_entry;

typedef struct tk_bpe {
  tk_merge_slot *merges;
  size_t merge_mask, n_merges;
  int32_t unk_id; /* -1 if none */
  bool fuse_unk, byte_fallback, ignore_merges;
  char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix; NULL if none */
  size_t prefix_len, suffix_len;
  int32_t byte_ids[256]; /* <0xNN> pieces when byte_fallback; -1 if absent */
  tk_cache_entry *cache;
  size_t cache_mask, cache_count;
  /* Scratch for one word. */
  struct tk_symbol *sym;
  size_t sym_cap;
  struct tk_heap_item *heap;
  size_t heap_cap;
} tk_bpe;

/* ---- the tokenizer ---------------------------------------------------------------------------- */

struct lr_tokenizer {
  char *name; /* the file, for messages */
  /* Vocabulary: pieces[id] (NULL for unused ids), their lengths, and the reverse table. */
  char **pieces;
  uint32_t *piece_len;
  size_t n_pieces; /* vocab size: max id + 1 */
  lr_hashmap vocab; /* model vocabulary only: items are ids, keys pieces[id] */
  tk_bpe bpe;

  tk_added *added;
  size_t n_added;
  lr_hashmap added_map; /* items index added, keys their content */
  int32_t *added_of_id; /* per id: index into added, or -1 */
  /* Added tokens by first byte, longest first, for leftmost-longest matching. */
  size_t *added_by_byte[256];
  size_t n_added_by_byte[256];

  tk_normalizer *norms;
  size_t n_norms, cap_norms;
  tk_pretok *pretoks;
  size_t n_pretoks, cap_pretoks;
  tk_decoder *decs;
  size_t n_decs, cap_decs;
  bool has_decoder;

  /* TemplateProcessing "single": ids before and after the sequence. */
  int32_t *tmpl_pre, *tmpl_post;
  size_t n_tmpl_pre, n_tmpl_post;

  tk_regex gpt2_re; /* ByteLevel's use_regex pattern, compiled once if needed */
  bool have_gpt2_re;
  /* Byte-level alphabet: byte b <-> code point bl_cp[b], UTF-8 in bl_utf8[b]. */
  char bl_utf8[256][3];
  uint8_t bl_len[256];
  int16_t bl_byte_of_cp[324]; /* code point -> byte, -1 if none */
};

/* tokenizer.c: runs the normalizers over n bytes of valid UTF-8 into out (cleared first). */
lr_status tk_normalize(lr_tokenizer *t, const char *s, size_t n, lr_buf *out, lr_err *err);

/* tokenizer.c: calls fn with each word that lr_tokenizer_encode would give the BPE model for
 * len bytes of valid UTF-8 (added tokens cut out, normalized, pre-tokenized), in order, in the
 * pre-tokenizers' form (byte-level: "Ġthe").  The BPE trainer counts words with it, so that it
 * splits text exactly as the tokenizer it writes will.  A word is valid only during the call. */
typedef lr_status (*tk_word_fn)(void *ctx, const char *w, size_t n, lr_err *err);
lr_status tk_pretokenize(lr_tokenizer *t, const char *text, size_t len, tk_word_fn fn, void *ctx,
                         lr_err *err);

/* tokenizer-bpe.c */
lr_status tk_bpe_add_merge(tk_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t new_id,
                           lr_err *err);
lr_status tk_bpe_init_tables(tk_bpe *b, size_t n_merges, lr_err *err);
/* Appends the ids of one pre-tokenized word. */
lr_status tk_bpe_encode_word(lr_tokenizer *t, const char *w, size_t n, lr_ids *out, lr_err *err);
void tk_bpe_release(tk_bpe *b);

/* tokenizer-build.c: the steps of building a tokenizer (each error names t->name). */
char *tk_dup_bytes(const char *s, size_t n); /* NUL-terminated copy, or NULL */
/* An empty tokenizer called name (the file), with the byte-level alphabet set up. */
lr_status tk_tokenizer_new(const char *name, lr_tokenizer **out, lr_err *err);
/* Room for ids [0, n_ids) and n_pieces distinct pieces; then tk_vocab_put each piece. */
lr_status tk_vocab_init(lr_tokenizer *t, size_t n_ids, size_t n_pieces, lr_err *err);
lr_status tk_vocab_put(lr_tokenizer *t, size_t id, const char *s, size_t len, lr_err *err);
/* Merge i (its rank) of pieces a and c, whose parts and result must be in the vocabulary;
 * messages say "key[i]: token 'x' is not in vocab_name".  tmp is scratch. */
lr_status tk_merge_pieces(lr_tokenizer *t, const char *key, const char *vocab_name, size_t i,
                          const char *a, size_t na, const char *c, size_t nc, lr_buf *tmp,
                          lr_err *err);
/* Fills bpe.byte_ids from the <0xNN> pieces (when bpe.byte_fallback). */
void tk_bpe_index_bytes(lr_tokenizer *t);
/* Compiles an Oniguruma-style pattern as HF writes them into a PAT_REGEX pattern. */
lr_status tk_pattern_regex(tk_pattern *p, const char *s, size_t n, const char *file,
                           const char *where, lr_err *err);
/* Append a step; on failure the step's own memory is freed. */
lr_status tk_push_normalizer(lr_tokenizer *t, tk_normalizer n, lr_err *err);
lr_status tk_push_pretok(lr_tokenizer *t, tk_pretok p, lr_err *err);
lr_status tk_push_decoder(lr_tokenizer *t, tk_decoder d, lr_err *err);
/* Indexes t->added[0..n_added) (after the normalizers are set): ids, lookups, match order. */
lr_status tk_index_added(lr_tokenizer *t, lr_err *err);
/* The last step: compiles what the pipeline needs once. */
lr_status tk_finish(lr_tokenizer *t, lr_err *err);

void tk_pattern_release(tk_pattern *p);
/* Finds the next match of a pattern; as tk_regex_find. */
int tk_pattern_find(tk_pattern *p, const char *s, size_t n, size_t from, size_t *ms, size_t *me);

/* The GPT-2 pre-tokenization regex ByteLevel applies with use_regex. */
extern const char tk_gpt2_pattern[];

#endif /* LORENS_TOKENIZER_INTERNAL_H */
