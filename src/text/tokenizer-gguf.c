/*
 * tokenizer-gguf.c: the tokenizer in a GGUF file's metadata (`tokenizer.ggml.*`) -> lr_tokenizer.
 *
 * llama.cpp's converter writes a Hugging Face tokenizer into GGUF as a vocabulary (tokens, one
 * type per token, merges or scores), the ids of BOS/EOS/UNK/PAD, add_bos/add_eos flags, and
 * the *name* of the pre-tokenizer (`tokenizer.ggml.pre`) in place of its regexes.  This file
 * rebuilds, with tokenizer-build.c, the tokenizer that name stands for, so that encoding gives
 * the ids of the model's own tokenizer.json:
 *
 *   model "gpt2"   byte-level BPE: the pre-tokenizer from `pre` (the table below, as llama.cpp's
 *                  llama-vocab.cpp maps the names), merges ranked by their order in the file, a
 *                  ByteLevel decoder;
 *   model "llama"  SentencePiece vocabulary with scores: as Hugging Face converts it (transformers'
 *                  GGUF tokenizer, tokenization_utils_base.generate_merges), a byte-fallback BPE
 *                  whose merges are every split of a piece into two pieces, best score first,
 *                  behind a Metaspace pre-tokenizer.
 *
 * Tokens typed CONTROL or UNKNOWN, and those the BOS/EOS/UNK/PAD ids name, become special added
 * tokens and USER_DEFINED ones plain added tokens: cut out of the text before anything else, as
 * both HF and llama.cpp do.  add_special puts BOS first when `add_bos_token` says so (default:
 * what llama.cpp assumes for the model and `pre`), and EOS last for `add_eos_token`.
 *
 * Anything else (another model, a `pre` name not in the table, a missing `pre`) is refused with
 * LR_EUNSUPPORTED naming the file, the key and the value; malformed metadata is LR_EPARSE naming
 * the key (and element).  A tokenizer.json given in its place overrides all of this.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/gguf.h"
#include "text/tokenizer-internal.h"

/* As in tokenizer-load.c: no real vocabulary comes near; a corrupt count must not allocate. */
#define MAX_TOKENS (1 << 24)

/* llama.cpp's token types (llama_token_type). */
enum { TT_UNDEFINED, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };

#define K_MODEL "tokenizer.ggml.model"
#define K_PRE "tokenizer.ggml.pre"
#define K_TOKENS "tokenizer.ggml.tokens"
#define K_TYPES "tokenizer.ggml.token_type"
#define K_MERGES "tokenizer.ggml.merges"
#define K_SCORES "tokenizer.ggml.scores"

/* ---- pre-tokenizers by name --------------------------------------------------------------------- */

/* What llama.cpp runs for a `pre` name, as the pipeline of the tokenizer.json it came from. */
typedef enum {
  SPLIT_GPT2,        /* ByteLevel with its GPT-2 regex */
  SPLIT_DIGITS_GPT2, /* Digits(individual) then ByteLevel: llama.cpp's ["\p{N}", GPT-2] */
  SPLIT_LLAMA3,      /* Split(Llama 3 regex, isolated) then ByteLevel without regex */
  SPLIT_QWEN2        /* the same with single digits */
} split_kind;

typedef struct pre_entry {
  const char *name;
  split_kind kind;
  bool add_bos, ignore_merges; /* llama.cpp's defaults for the name */
} pre_entry;

static const pre_entry pre_table[] = {
    {"gpt-2", SPLIT_GPT2, false, false},          {"phi-2", SPLIT_GPT2, false, false},
    {"gigachat", SPLIT_GPT2, false, false},       {"mpt", SPLIT_GPT2, false, false},
    {"olmo", SPLIT_GPT2, false, false},           {"jais", SPLIT_GPT2, false, false},
    {"exaone4", SPLIT_GPT2, false, false},        {"mellum", SPLIT_GPT2, false, false},
    {"trillion", SPLIT_GPT2, false, false},       {"a.x-4.0", SPLIT_GPT2, false, false},
    {"smollm", SPLIT_DIGITS_GPT2, false, false},  {"starcoder", SPLIT_DIGITS_GPT2, false, false},
    {"refact", SPLIT_DIGITS_GPT2, false, false},  {"command-r", SPLIT_DIGITS_GPT2, false, false},
    {"codeshell", SPLIT_DIGITS_GPT2, false, false}, {"exaone", SPLIT_DIGITS_GPT2, false, false},
    {"minerva-7b", SPLIT_DIGITS_GPT2, false, false}, {"mellum2", SPLIT_DIGITS_GPT2, false, false},
    {"llama3", SPLIT_LLAMA3, true, true},         {"llama-v3", SPLIT_LLAMA3, true, true},
    {"llama-bpe", SPLIT_LLAMA3, true, true},      {"falcon3", SPLIT_LLAMA3, true, true},
    {"falcon-h1", SPLIT_LLAMA3, true, true},      {"pixtral", SPLIT_LLAMA3, true, true},
    {"midm-2.0", SPLIT_LLAMA3, true, true},       {"lfm2", SPLIT_LLAMA3, true, true},
    {"dbrx", SPLIT_LLAMA3, false, false},         {"smaug-bpe", SPLIT_LLAMA3, false, false},
    {"qwen2", SPLIT_QWEN2, false, false},         {"deepseek-r1-qwen", SPLIT_QWEN2, false, false},
    {"megrez", SPLIT_QWEN2, false, false},        {"kormo", SPLIT_QWEN2, false, false},
    {"f2llmv2", SPLIT_QWEN2, false, false},       {"stablelm2", SPLIT_QWEN2, false, false},
    {"hunyuan", SPLIT_QWEN2, false, false},       {"solar-open", SPLIT_QWEN2, false, false},
};

/* The regexes of the tokenizer.json files (llama.cpp spells (?i:...) out as [sS]...). */
static const char llama3_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen2_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---- reading keys ------------------------------------------------------------------------------- */

typedef struct gloader {
  const lr_gguf_file *f;
  lr_tokenizer *t;
  const char *file;
  lr_err *err;
  const lr_gguf_kv *tokens, *types;
  size_t n_tokens;
  int32_t special[4]; /* BOS, EOS, UNK, PAD ids; -1 when absent */
  bool add_bos, add_eos;
} gloader;

enum { SP_BOS, SP_EOS, SP_UNK, SP_PAD };
static const char *const special_keys[] = {
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};

static lr_status gfail(gloader *G, lr_status s, const char *fmt, ...) LR_PRINTF(3, 4);
static lr_status gfail(gloader *G, lr_status s, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(G->err, s, G->file, 0, 0, "%s", msg);
}

/* An array of elem type (strings: LR_GGUF_STRING; any integer: LR_GGUF_INT32; floats:
 * LR_GGUF_FLOAT32) under key, or NULL in *out when it is absent and not required. */
static lr_status get_array(gloader *G, const char *key, lr_gguf_type elem, bool required,
                           const lr_gguf_kv **out) {
  const lr_gguf_kv *kv = lr_gguf_find_kv(G->f, key);
  bool ok;
  *out = NULL;
  if (kv == NULL)
    return required ? gfail(G, LR_EPARSE, "missing key '%s'", key) : LR_OK;
  if (elem == LR_GGUF_STRING)
    ok = kv->elem_type == LR_GGUF_STRING;
  else if (elem == LR_GGUF_FLOAT32)
    ok = kv->elem_type == LR_GGUF_FLOAT32 || kv->elem_type == LR_GGUF_FLOAT64;
  else
    ok = kv->elem_type != LR_GGUF_STRING && kv->elem_type != LR_GGUF_FLOAT32 &&
         kv->elem_type != LR_GGUF_FLOAT64 && kv->elem_type != LR_GGUF_BOOL &&
         kv->elem_type != LR_GGUF_ARRAY;
  if (kv->type != LR_GGUF_ARRAY || !ok)
    return gfail(G, LR_EPARSE, "key '%s' must be an array of %s, got %s%s%s", key,
                 elem == LR_GGUF_STRING ? "strings" : elem == LR_GGUF_FLOAT32 ? "floats"
                                                                               : "integers",
                 kv->type == LR_GGUF_ARRAY ? "an array of " : "a ", lr_gguf_type_name(kv->elem_type),
                 kv->type == LR_GGUF_ARRAY ? "" : " value");
  *out = kv;
  return LR_OK;
}

/* An optional bool; a value of another type is an error, not the default. */
static lr_status get_flag(gloader *G, const char *key, bool *out) {
  return lr_gguf_find_kv(G->f, key) ? lr_gguf_get_bool(G->f, key, out, G->err) : LR_OK;
}

static lr_status read_specials(gloader *G) {
  for (int i = 0; i < 4; i++) {
    int64_t v;
    G->special[i] = -1;
    if (lr_gguf_find_kv(G->f, special_keys[i]) == NULL)
      continue;
    if (lr_gguf_get_int(G->f, special_keys[i], &v, G->err) != LR_OK)
      return G->err->code;
    if (v < 0 || (uint64_t)v >= G->n_tokens)
      return gfail(G, LR_EPARSE, "key '%s': token id %lld is not below the %zu tokens of '%s'",
                   special_keys[i], (long long)v, G->n_tokens, K_TOKENS);
    G->special[i] = (int32_t)v;
  }
  return LR_OK;
}

/* ---- vocabulary ------------------------------------------------------------------------------- */

static lr_status read_vocab(gloader *G) {
  if (get_array(G, K_TOKENS, LR_GGUF_STRING, true, &G->tokens) != LR_OK ||
      get_array(G, K_TYPES, LR_GGUF_INT32, false, &G->types) != LR_OK)
    return G->err->code;
  if (G->tokens->count == 0 || G->tokens->count > MAX_TOKENS)
    return gfail(G, LR_EPARSE, "key '%s' has %llu tokens: expected 1 to %d", K_TOKENS,
                 (unsigned long long)G->tokens->count, MAX_TOKENS);
  G->n_tokens = (size_t)G->tokens->count;
  if (G->types && G->types->count != G->tokens->count)
    return gfail(G, LR_EPARSE, "key '%s' has %llu entries but '%s' has %zu tokens", K_TYPES,
                 (unsigned long long)G->types->count, K_TOKENS, G->n_tokens);
  if (tk_vocab_init(G->t, G->n_tokens, G->n_tokens, G->err) != LR_OK)
    return G->err->code;
  for (size_t i = 0; i < G->n_tokens; i++) {
    const char *s;
    size_t n;
    if (lr_gguf_array_str(G->f, G->tokens, i, &s, &n, G->err) != LR_OK)
      return G->err->code;
    if (lr_utf8_valid_prefix(s, n) != n)
      return gfail(G, LR_EPARSE, "%s[%zu] is not valid UTF-8", K_TOKENS, i);
    if (tk_vocab_put(G->t, i, s, n, G->err) != LR_OK)
      return G->err->code;
  }
  return read_specials(G);
}

static lr_status token_type(gloader *G, size_t i, int64_t *type) {
  *type = TT_NORMAL;
  if (G->types == NULL)
    return LR_OK;
  if (lr_gguf_array_int(G->f, G->types, i, type, G->err) != LR_OK)
    return G->err->code;
  if (*type < TT_UNDEFINED || *type > TT_BYTE)
    return gfail(G, LR_EPARSE, "%s[%zu] is %lld: token types are 0 to 6", K_TYPES, i,
                 (long long)*type);
  return LR_OK;
}

/* CONTROL and UNKNOWN tokens and those the special ids name are special added tokens;
 * USER_DEFINED ones plain added tokens.  None is normalized. */
static lr_status add_tokens(gloader *G) {
  lr_tokenizer *t = G->t;
  if ((t->added = calloc(G->n_tokens, sizeof *t->added)) == NULL)
    return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
  for (size_t i = 0; i < G->n_tokens; i++) {
    int64_t type;
    bool named = false;
    if (token_type(G, i, &type) != LR_OK)
      return G->err->code;
    for (int k = 0; k < 4; k++)
      named = named || G->special[k] == (int32_t)i;
    if (!named && type != TT_CONTROL && type != TT_UNKNOWN && type != TT_USER_DEFINED)
      continue;
    if (t->piece_len[i] == 0)
      continue; /* an empty token cannot be found in text */
    tk_added *a = &t->added[t->n_added];
    a->len = t->piece_len[i];
    if ((a->content = tk_dup_bytes(t->pieces[i], a->len)) == NULL)
      return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
    a->id = (int32_t)i;
    a->special = type != TT_USER_DEFINED;
    t->n_added++;
  }
  return tk_index_added(t, G->err);
}

/* ---- gpt2: byte-level BPE ---------------------------------------------------------------------- */

static lr_status read_merges(gloader *G) {
  const lr_gguf_kv *kv;
  lr_buf tmp = LR_BUF_INIT;
  if (get_array(G, K_MERGES, LR_GGUF_STRING, true, &kv) != LR_OK)
    return G->err->code;
  if (kv->count > MAX_TOKENS)
    return gfail(G, LR_EPARSE, "key '%s' has %llu merges: at most %d are read", K_MERGES,
                 (unsigned long long)kv->count, MAX_TOKENS);
  if (tk_bpe_init_tables(&G->t->bpe, (size_t)kv->count, G->err) != LR_OK)
    return G->err->code;
  for (size_t i = 0; i < kv->count; i++) {
    const char *s, *sp;
    size_t n;
    if (lr_gguf_array_str(G->f, kv, i, &s, &n, G->err) != LR_OK)
      break;
    /* "left right": the space may not start the string (llama.cpp searches from byte 1). */
    sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
    if (sp == NULL || sp + 1 == s + n || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
      gfail(G, LR_EPARSE, "%s[%zu] must be two tokens separated by one space, got '%.*s'",
            K_MERGES, i, (int)(n > 64 ? 64 : n), s);
      break;
    }
    if (tk_merge_pieces(G->t, K_MERGES, "'" K_TOKENS "'", i, s, (size_t)(sp - s), sp + 1,
                        n - (size_t)(sp - s) - 1, &tmp, G->err) != LR_OK)
      break;
  }
  lr_buf_release(&tmp);
  return G->err->code;
}

static const pre_entry *find_pre(gloader *G, const char **name) {
  size_t len;
  *name = NULL;
  if (lr_gguf_find_kv(G->f, K_PRE) == NULL) {
    gfail(G, LR_EUNSUPPORTED, "key '%s' is missing: the file does not say how its text is split "
          "into words (llama.cpp guesses and warns that quality degrades); pass a tokenizer.json "
          "instead", K_PRE);
    return NULL;
  }
  if (lr_gguf_get_str(G->f, K_PRE, name, &len, G->err) != LR_OK)
    return NULL;
  for (size_t i = 0; i < LR_ARRAY_LEN(pre_table); i++)
    if (strlen(pre_table[i].name) == len && memcmp(pre_table[i].name, *name, len) == 0)
      return &pre_table[i];
  gfail(G, LR_EUNSUPPORTED, "key '%s' is '%s': this pre-tokenizer is not supported (supported: "
        "gpt-2, smollm, llama-bpe, qwen2 and the names llama.cpp maps to them); pass a "
        "tokenizer.json instead", K_PRE, *name);
  return NULL;
}

static lr_status push_bytelevel(gloader *G, bool use_regex) {
  tk_pretok p;
  memset(&p, 0, sizeof p);
  p.kind = PRE_BYTELEVEL;
  p.use_regex = use_regex;
  return tk_push_pretok(G->t, p, G->err);
}

static lr_status push_split(gloader *G, const char *regex, size_t len) {
  tk_pretok p;
  memset(&p, 0, sizeof p);
  p.kind = PRE_SPLIT;
  p.behavior = SPLIT_ISOLATED;
  if (tk_pattern_regex(&p.pattern, regex, len, G->file, "the " K_PRE " regex", G->err) != LR_OK)
    return G->err->code;
  return tk_push_pretok(G->t, p, G->err);
}

static lr_status build_pretokenizer(gloader *G, const pre_entry *e) {
  tk_pretok digits;
  switch (e->kind) {
  case SPLIT_GPT2:
    return push_bytelevel(G, true);
  case SPLIT_DIGITS_GPT2:
    memset(&digits, 0, sizeof digits);
    digits.kind = PRE_DIGITS;
    digits.individual_digits = true;
    if (tk_push_pretok(G->t, digits, G->err) != LR_OK)
      return G->err->code;
    return push_bytelevel(G, true);
  case SPLIT_LLAMA3:
    if (push_split(G, llama3_regex, sizeof llama3_regex - 1) != LR_OK)
      return G->err->code;
    return push_bytelevel(G, false);
  case SPLIT_QWEN2:
    if (push_split(G, qwen2_regex, sizeof qwen2_regex - 1) != LR_OK)
      return G->err->code;
    return push_bytelevel(G, false);
  }
  return gfail(G, LR_EINVAL, "internal: unknown split kind"); /* not reached */
}

static lr_status build_gpt2(gloader *G) {
  const char *name;
  const pre_entry *e = find_pre(G, &name);
  tk_decoder d;
  if (e == NULL)
    return G->err->code;
  G->t->bpe.unk_id = -1; /* every byte has its piece: nothing is unknown */
  G->t->bpe.ignore_merges = e->ignore_merges;
  G->add_bos = e->add_bos;
  if (read_merges(G) != LR_OK || build_pretokenizer(G, e) != LR_OK)
    return G->err->code;
  tk_bpe_index_bytes(G->t);
  memset(&d, 0, sizeof d);
  d.kind = DEC_BYTELEVEL;
  G->t->has_decoder = true;
  return tk_push_decoder(G->t, d, G->err);
}

/* ---- llama: SentencePiece scores -> BPE merges ------------------------------------------------- */

typedef struct spm_merge {
  int32_t left, right, piece;
  size_t left_chars, right_chars; /* in characters, as Python's len() */
  float score;                    /* of the merged piece */
  size_t seq;                     /* order of generation, for a stable sort */
} spm_merge;

/* Best score first, then longer left and right parts, then generation order: the order
 * transformers' generate_merges gives (a stable sort by (score, len(l), len(r)) reversed). */
static int merge_order(const void *x, const void *y) {
  const spm_merge *a = x, *b = y;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  if (a->left_chars != b->left_chars)
    return a->left_chars > b->left_chars ? -1 : 1;
  if (a->right_chars != b->right_chars)
    return a->right_chars > b->right_chars ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Within one piece, its splits in order of (left id, right id), as generate_merges sorts them. */
static int split_order(const void *x, const void *y) {
  const spm_merge *a = x, *b = y;
  if (a->left != b->left)
    return a->left < b->left ? -1 : 1;
  return a->right < b->right ? -1 : a->right > b->right;
}

static lr_status read_scores(gloader *G, float **out) {
  const lr_gguf_kv *kv;
  if (get_array(G, K_SCORES, LR_GGUF_FLOAT32, true, &kv) != LR_OK)
    return G->err->code;
  if (kv->count != G->n_tokens)
    return gfail(G, LR_EPARSE, "key '%s' has %llu entries but '%s' has %zu tokens", K_SCORES,
                 (unsigned long long)kv->count, K_TOKENS, G->n_tokens);
  if ((*out = malloc(G->n_tokens * sizeof **out)) == NULL)
    return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
  for (size_t i = 0; i < G->n_tokens; i++) {
    double v;
    if (lr_gguf_array_float(G->f, kv, i, &v, G->err) != LR_OK)
      return G->err->code;
    (*out)[i] = (float)v;
  }
  return LR_OK;
}

/* Every split of every piece into two pieces of the vocabulary.  A piece listed twice is one
 * dict key in Python: visited once, where it first occurs, with the id and score of its last. */
static lr_status spm_collect(gloader *G, const float *score, spm_merge **out, size_t *n_out) {
  lr_tokenizer *t = G->t;
  spm_merge *m = NULL;
  size_t n = 0, cap = 0, seq = 0;
  bool *seen = calloc(G->n_tokens, sizeof *seen);
  if (seen == NULL)
    return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
  for (size_t i = 0; i < G->n_tokens; i++) {
    const char *s = t->pieces[i];
    size_t len = t->piece_len[i], first = n, chars = 0;
    int32_t id = tk_vocab_id(t, s, len);
    if (id < 0 || seen[id])
      continue;
    seen[id] = true;
    for (size_t at = 0, cl; at < len; at += cl, chars++) {
      int32_t cp, l, r;
      cl = tk_utf8_next(s + at, len - at, &cp);
      if (at == 0 || (l = tk_vocab_id(t, s, at)) < 0 || (r = tk_vocab_id(t, s + at, len - at)) < 0)
        continue;
      if (n == cap && LR_GROW(m, cap, n + 1, G->err) != LR_OK) {
        free(m);
        free(seen);
        return G->err->code;
      }
      m[n++] = (spm_merge){l, r, id, chars, 0, score[id], 0};
    }
    for (size_t k = first; k < n; k++)
      m[k].right_chars = chars - m[k].left_chars;
    if (n == first)
      continue; /* no split of this piece (m may still be NULL) */
    qsort(m + first, n - first, sizeof *m, split_order);
    for (size_t k = first; k < n; k++)
      m[k].seq = seq++;
  }
  free(seen);
  *out = m;
  *n_out = n;
  return LR_OK;
}

static lr_status spm_merges(gloader *G) {
  float *score = NULL;
  spm_merge *m = NULL;
  size_t n = 0;
  if (read_scores(G, &score) == LR_OK && spm_collect(G, score, &m, &n) == LR_OK) {
    if (n > 0)
      qsort(m, n, sizeof *m, merge_order);
    if (tk_bpe_init_tables(&G->t->bpe, n, G->err) == LR_OK)
      for (size_t k = 0; k < n; k++)
        tk_bpe_add_merge(&G->t->bpe, m[k].left, m[k].right, (int32_t)k, m[k].piece, G->err);
  }
  free(score);
  free(m);
  return G->err->code;
}

/* transformers' LlamaTokenizer: Metaspace (prepended to the first word only, no split), a
 * byte-fallback BPE without an unknown token, and the decoders that undo both. */
static lr_status build_llama(gloader *G) {
  lr_tokenizer *t = G->t;
  bool prefix = true;
  tk_pretok p;
  tk_decoder d;
  if (get_flag(G, "tokenizer.ggml.add_space_prefix", &prefix) != LR_OK || spm_merges(G) != LR_OK)
    return G->err->code;
  t->bpe.unk_id = -1;
  t->bpe.byte_fallback = t->bpe.fuse_unk = true;
  tk_bpe_index_bytes(t);
  G->add_bos = true; /* llama.cpp's and transformers' default for SentencePiece files */
  memset(&p, 0, sizeof p);
  p.kind = PRE_METASPACE;
  memcpy(p.replacement, "\xE2\x96\x81", 3);
  p.replacement_len = 3;
  p.prepend = prefix ? PREPEND_FIRST : PREPEND_NEVER;
  if (tk_push_pretok(t, p, G->err) != LR_OK)
    return G->err->code;
  memset(&d, 0, sizeof d);
  d.kind = DEC_REPLACE;
  d.pattern.kind = PAT_STRING;
  d.pattern.literal_len = 3;
  d.content_len = 1;
  if ((d.pattern.literal = tk_dup_bytes("\xE2\x96\x81", 3)) == NULL ||
      (d.content = tk_dup_bytes(" ", 1)) == NULL) {
    free(d.pattern.literal);
    return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
  }
  if (tk_push_decoder(t, d, G->err) != LR_OK)
    return G->err->code;
  static const tk_dec_kind rest[] = {DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP};
  for (size_t k = 0; k < (prefix ? 3u : 2u); k++) {
    memset(&d, 0, sizeof d);
    d.kind = rest[k];
    d.strip_char = ' ';
    d.strip_start = 1;
    if (tk_push_decoder(t, d, G->err) != LR_OK)
      return G->err->code;
  }
  t->has_decoder = true;
  return LR_OK;
}

/* ---- the whole tokenizer ---------------------------------------------------------------------- */

/* BOS first and EOS last with add_special, as the flags say. */
static lr_status build_template(gloader *G, bool bos_explicit, bool eos_explicit) {
  lr_tokenizer *t = G->t;
  if (G->add_bos && G->special[SP_BOS] < 0 && bos_explicit)
    return gfail(G, LR_EPARSE, "key 'tokenizer.ggml.add_bos_token' is true but "
                 "'tokenizer.ggml.bos_token_id' is missing");
  if (G->add_eos && G->special[SP_EOS] < 0 && eos_explicit)
    return gfail(G, LR_EPARSE, "key 'tokenizer.ggml.add_eos_token' is true but "
                 "'tokenizer.ggml.eos_token_id' is missing");
  if (G->add_bos && G->special[SP_BOS] >= 0) {
    if ((t->tmpl_pre = malloc(sizeof *t->tmpl_pre)) == NULL)
      return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
    t->tmpl_pre[t->n_tmpl_pre++] = G->special[SP_BOS];
  }
  if (G->add_eos && G->special[SP_EOS] >= 0) {
    if ((t->tmpl_post = malloc(sizeof *t->tmpl_post)) == NULL)
      return lr_fail(G->err, LR_ENOMEM, "out of memory loading '%s'", G->file);
    t->tmpl_post[t->n_tmpl_post++] = G->special[SP_EOS];
  }
  return LR_OK;
}

static lr_status build(gloader *G) {
  const char *model;
  size_t len;
  if (lr_gguf_find_kv(G->f, K_MODEL) == NULL)
    return gfail(G, LR_EUNSUPPORTED, "has no tokenizer in its metadata (no key '%s'): give a "
                 "tokenizer.json (--tokenizer, or 'tokenizer:' in a grid)", K_MODEL);
  if (lr_gguf_get_str(G->f, K_MODEL, &model, &len, G->err) != LR_OK ||
      read_vocab(G) != LR_OK)
    return G->err->code;
  if (strcmp(model, "gpt2") == 0 && len == 4) {
    if (build_gpt2(G) != LR_OK)
      return G->err->code;
  } else if (strcmp(model, "llama") == 0 && len == 5) {
    if (build_llama(G) != LR_OK)
      return G->err->code;
  } else
    return gfail(G, LR_EUNSUPPORTED, "key '%s' is '%s': only 'gpt2' (byte-level BPE) and 'llama' "
                 "(SentencePiece) tokenizers are read; pass a tokenizer.json instead", K_MODEL,
                 model);
  bool bos_set = lr_gguf_find_kv(G->f, "tokenizer.ggml.add_bos_token") != NULL;
  bool eos_set = lr_gguf_find_kv(G->f, "tokenizer.ggml.add_eos_token") != NULL;
  if (get_flag(G, "tokenizer.ggml.add_bos_token", &G->add_bos) != LR_OK ||
      get_flag(G, "tokenizer.ggml.add_eos_token", &G->add_eos) != LR_OK ||
      add_tokens(G) != LR_OK || build_template(G, bos_set, eos_set) != LR_OK)
    return G->err->code;
  return tk_finish(G->t, G->err);
}

lr_status lr_tokenizer_from_gguf(const lr_gguf_file *f, lr_tokenizer **out, lr_err *err) {
  gloader G;
  lr_status rc;
  memset(&G, 0, sizeof G);
  *out = NULL;
  if ((rc = tk_tokenizer_new(lr_gguf_name(f), &G.t, err)) != LR_OK)
    return rc;
  G.f = f;
  G.file = lr_gguf_name(f);
  G.err = err;
  if (build(&G) != LR_OK) {
    rc = err->code != LR_OK ? err->code : LR_EPARSE;
    lr_tokenizer_free(G.t);
    return rc;
  }
  *out = G.t;
  return LR_OK;
}

lr_status lr_tokenizer_load_gguf(const char *path, lr_tokenizer **out, lr_err *err) {
  lr_gguf_file *f = NULL;
  lr_status rc = lr_gguf_open(path, &f, err);
  *out = NULL;
  if (rc == LR_OK)
    rc = lr_tokenizer_from_gguf(f, out, err);
  lr_gguf_close(f); /* the tokenizer holds copies of every string */
  return rc;
}
