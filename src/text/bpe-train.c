/*
 * bpe-train.c: byte-level BPE training (see bpe-train.h).
 *
 * Words: a tokenizer with the final pipeline and no merges (the JSON below, written before any
 * merge exists) splits the text through tk_pretokenize, and a hash table counts unique words.
 * Each becomes a sequence of byte-token ids.
 *
 * Merges: a table holds every adjacent pair of ids with its count (summed over words, times
 * their counts) and the words it has occurred in.  Merging a pair rewrites only those words and
 * changes only the counts of the pairs around each merge, as HF's Word::merge does.  A max-heap
 * of (count, pair) entries picks the next pair: every pair whose count changed in a step gets a
 * fresh entry at the end of the step, so an entry whose count is no longer its pair's is stale
 * and skipped.  The cost is then about the number of symbols merged, not the text's size times
 * the number of merges.
 */
#include "compat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/file-util.h"
#include "base/utf8.h"
#include "text/bpe-train.h"
#include "text/tokenizer-internal.h"

static const char *const special_tokens[LR_BPE_N_SPECIAL] = {"<s>", "</s>"};

typedef struct word {
  size_t off, len;  /* its text in trainer.wtext (byte-level form) */
  size_t sym, n_sym; /* its ids in trainer.syms; merges shrink n_sym */
  uint64_t count;
  uint32_t stamp; /* the last merge step that rewrote it */
} word;

typedef struct pair {
  int32_t a, b;
  int64_t count;
  /* Words it has occurred in (it may have left some since); no word twice in a row. */
  uint32_t *where;
  size_t n_where, cap_where;
  bool dirty, done;
} pair;

typedef struct heap_item {
  int64_t count;
  int32_t a, b;
  uint32_t pair;
} heap_item;

typedef struct token {
  char *s; /* byte-level, NUL-terminated */
  size_t len;
} token;

typedef struct trainer {
  lr_err *err;
  /* Tokens by id, and the reverse table (its keys are the tokens' strings). */
  token *tok;
  size_t n_tok, cap_tok;
  lr_hashmap tok_ids;
  int32_t (*merges)[2];
  size_t n_merges, cap_merges;
  /* Unique words. */
  lr_buf wtext;
  word *words;
  size_t n_words, cap_words;
  lr_hashmap wtab; /* keys: the words' text */
  int32_t *syms;
  /* Pairs, the heap, and the pairs whose count changed in this step. */
  pair *pairs;
  size_t n_pairs, cap_pairs;
  lr_hashmap ptab; /* keys: int32_t[2] {a, b} */
  heap_item *heap;
  size_t n_heap, cap_heap;
  uint32_t *dirty;
  size_t n_dirty, cap_dirty;
} trainer;

static lr_status oom(trainer *tr) {
  return lr_fail(tr->err, LR_ENOMEM, "out of memory training the tokenizer");
}

/* ---- the index tables --------------------------------------------------------------------------- */

static bool token_eq(const void *ctx, size_t i, const void *key, size_t len) {
  const token *t = &((const trainer *)ctx)->tok[i];
  return t->len == len && memcmp(t->s, key, len) == 0;
}

static bool word_eq(const void *ctx, size_t i, const void *key, size_t len) {
  const trainer *tr = ctx;
  const word *w = &tr->words[i];
  return w->len == len && memcmp(tr->wtext.buf + w->off, key, len) == 0;
}

static bool pair_eq(const void *ctx, size_t i, const void *key, size_t len) {
  const pair *p = &((const trainer *)ctx)->pairs[i];
  const int32_t *ab = key;
  (void)len; /* always sizeof(int32_t[2]) */
  return p->a == ab[0] && p->b == ab[1];
}

/* splitmix64's finalizer over both ids. */
static uint64_t pair_hash(int32_t a, int32_t b) {
  uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

/* ---- tokens ------------------------------------------------------------------------------------- */

/* Appends a token (s is taken over) unless the string is one already; *id gets its id. */
static lr_status add_token(trainer *tr, char *s, size_t n, int32_t *id) {
  uint64_t h = lr_hash(s, n);
  size_t found = lr_hashmap_find(&tr->tok_ids, h, s, n);
  if (found != LR_HASHMAP_NONE) {
    *id = (int32_t)found;
    free(s);
    return LR_OK;
  }
  if (LR_GROW(tr->tok, tr->cap_tok, tr->n_tok + 1, NULL) != LR_OK) {
    free(s);
    return oom(tr);
  }
  tr->tok[tr->n_tok] = (token){s, n};
  *id = (int32_t)tr->n_tok++;
  return lr_hashmap_set(&tr->tok_ids, h, s, n, (size_t)*id, tr->err);
}

static lr_status add_token_copy(trainer *tr, const char *s, size_t n) {
  char *p = malloc(n + 1);
  int32_t id;
  if (p == NULL)
    return oom(tr);
  memcpy(p, s, n);
  p[n] = '\0';
  return add_token(tr, p, n, &id);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 are
 * U+0100.. in byte order.  Their tokens go in code point order: the printable bytes, then the
 * others, which is GPT-2's vocabulary order and the one BpeTrainer sorts its alphabet into. */
static bool printable(int b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static lr_status add_base_tokens(trainer *tr) {
  char utf8[4];
  int next = 256;
  int cps[256];
  if (lr_hashmap_reserve(&tr->tok_ids, 1024, tr->err) != LR_OK)
    return tr->err->code;
  for (size_t i = 0; i < LR_BPE_N_SPECIAL; i++)
    if (add_token_copy(tr, special_tokens[i], strlen(special_tokens[i])) != LR_OK)
      return tr->err->code;
  for (int b = 0; b < 256; b++)
    cps[b] = printable(b) ? b : next++;
  for (int pass = 0; pass < 2; pass++)
    for (int b = 0; b < 256; b++)
      if (printable(b) == (pass == 0) &&
          add_token_copy(tr, utf8, tk_utf8_encode(cps[b], utf8)) != LR_OK)
        return tr->err->code;
  return LR_OK;
}

/* ---- the JSON ----------------------------------------------------------------------------------- */

static json_t *added_token(int id, const char *content) {
  return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                   "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

static json_t *template_item(bool special, const char *id, int type_id) {
  return json_pack("{s:{s:s, s:i}}", special ? "SpecialToken" : "Sequence", "id", id, "type_id",
                   type_id);
}

/* "<s> $A" and "<s> $A <s>:1 $B:1", as Llama 2 has them. */
static json_t *post_processor(void) {
  const char *bos = special_tokens[LR_BPE_BOS_ID];
  return json_pack("{s:s, s:[o, o], s:[o, o, o, o], s:{s:{s:s, s:[i], s:[s]}}}", "type",
                   "TemplateProcessing", "single", template_item(true, bos, 0),
                   template_item(false, "A", 0), "pair", template_item(true, bos, 0),
                   template_item(false, "A", 0), template_item(true, bos, 1),
                   template_item(false, "B", 1), "special_tokens", bos, "id", bos, "ids",
                   LR_BPE_BOS_ID, "tokens", bos);
}

static json_t *model(const trainer *tr) {
  json_t *m = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b}", "type", "BPE", "dropout",
                        "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
                        0, "byte_fallback", 0, "ignore_merges", 0);
  json_t *vocab = json_object(), *merges = json_array();
  lr_buf s = LR_BUF_INIT;
  lr_err err; /* only out of memory, reported by the caller */
  bool ok = m && vocab && merges;
  lr_err_init(&err);
  for (size_t i = 0; ok && i < tr->n_tok; i++)
    ok = json_object_set_new(vocab, tr->tok[i].s, json_integer((json_int_t)i)) == 0;
  for (size_t i = 0; ok && i < tr->n_merges; i++) {
    const token *a = &tr->tok[tr->merges[i][0]], *b = &tr->tok[tr->merges[i][1]];
    lr_buf_reset(&s);
    ok = lr_buf_add(&s, a->s, a->len, &err) == LR_OK && lr_buf_add(&s, " ", 1, &err) == LR_OK &&
         lr_buf_add(&s, b->s, b->len, &err) == LR_OK &&
         json_array_append_new(merges, json_stringn(s.buf, s.len)) == 0;
  }
  lr_buf_release(&s);
  if (ok && json_object_set_new(m, "vocab", vocab) == 0 &&
      json_object_set_new(m, "merges", merges) == 0)
    return m;
  json_decref(m);
  return NULL;
}

/* The tokenizer.json of the tokens and merges so far, as HF would save it. */
static lr_status make_json(trainer *tr, char **out) {
  json_t *added = json_array(), *root;
  bool ok = added != NULL;
  for (int i = 0; ok && i < LR_BPE_N_SPECIAL; i++)
    ok = json_array_append_new(added, added_token(i, special_tokens[i])) == 0;
  if (!ok) {
    json_decref(added);
    return oom(tr);
  }
  root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:o, "
                   "s:{s:s, s:b, s:b, s:b}, s:o}",
                   "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
                   "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                   "use_regex", 1, "post_processor", post_processor(), "decoder", "type",
                   "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model",
                   model(tr));
  *out = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return *out ? LR_OK : oom(tr);
}

/* ---- words -------------------------------------------------------------------------------------- */

static lr_status count_word(void *ctx, const char *s, size_t n, lr_err *err) {
  trainer *tr = ctx;
  uint64_t h = lr_hash(s, n);
  size_t found = lr_hashmap_find(&tr->wtab, h, s, n);
  (void)err; /* tr->err is the same */
  if (found != LR_HASHMAP_NONE) { /* most words are seen before: one probe for them */
    tr->words[found].count++;
    return LR_OK;
  }
  if (LR_GROW(tr->words, tr->cap_words, tr->n_words + 1, NULL) != LR_OK)
    return oom(tr);
  tr->words[tr->n_words] = (word){.off = tr->wtext.len, .len = n, .count = 1};
  if (lr_buf_add(&tr->wtext, s, n, tr->err) != LR_OK ||
      lr_hashmap_set(&tr->wtab, h, s, n, tr->n_words, tr->err) != LR_OK)
    return tr->err->code;
  tr->n_words++;
  return LR_OK;
}

/* Where to end a chunk of s[0..n) of about CHUNK bytes: before a newline that follows a visible
 * ASCII character.  No word of the GPT-2 regex joins a visible character to the whitespace after
 * it, the only lookahead is in the whitespace alternatives (which start after the cut), and no
 * added token holds a newline, so the chunks split apart give the words of the whole text,
 * while the pre-tokenizer's memory stays bounded by the chunk. */
#define CHUNK ((size_t)1 << 20)

static size_t chunk_end(const char *s, size_t n) {
  const char *nl;
  for (size_t at = CHUNK; at < n; at = (size_t)(nl - s) + 1) {
    if ((nl = memchr(s + at, '\n', n - at)) == NULL)
      break;
    if ((unsigned char)nl[-1] > ' ' && (unsigned char)nl[-1] < 0x7f)
      return (size_t)(nl - s);
  }
  return n;
}

/* Splits the text with tk_pretokenize on a tokenizer of the byte vocabulary.  Bytes that are not
 * UTF-8 are skipped: no tokenizer can be asked to encode them. */
static lr_status count_words(trainer *tr, const char *text, size_t len) {
  char *json = NULL;
  lr_tokenizer *t = NULL;
  lr_status rc = make_json(tr, &json);
  if (rc == LR_OK)
    rc = lr_tokenizer_load_buffer(json, strlen(json), "the trainer's tokenizer.json", &t, tr->err);
  for (size_t at = 0; rc == LR_OK && at < len; at++) { /* at++ steps over an invalid byte */
    size_t end = at + lr_utf8_valid_prefix(text + at, len - at);
    while (rc == LR_OK && at < end) {
      size_t n = chunk_end(text + at, end - at);
      rc = tk_pretokenize(t, text + at, n, count_word, tr, tr->err);
      at += n;
    }
  }
  if (t)
    lr_tokenizer_free(t);
  free(json);
  return rc;
}

/* Each word's byte-level characters become the ids of its byte tokens. */
static lr_status make_symbols(trainer *tr) {
  size_t k = 0;
  if ((tr->syms = malloc((tr->wtext.len ? tr->wtext.len : 1) * sizeof *tr->syms)) == NULL)
    return oom(tr);
  for (size_t i = 0; i < tr->n_words; i++) {
    word *w = &tr->words[i];
    const char *s = tr->wtext.buf + w->off;
    w->sym = k;
    for (size_t at = 0, cn; at < w->len; at += cn) {
      int32_t cp, id;
      cn = tk_utf8_next(s + at, w->len - at, &cp);
      size_t found = lr_hashmap_find(&tr->tok_ids, lr_hash(s + at, cn), s + at, cn);
      if (found == LR_HASHMAP_NONE || (id = (int32_t)found) < LR_BPE_N_SPECIAL)
        return lr_fail(tr->err, LR_EINVAL, "internal error: U+%04X in a pre-tokenized word is "
                       "not a byte-level character", (unsigned)cp);
      tr->syms[k++] = id;
    }
    w->n_sym = k - w->sym;
  }
  return LR_OK;
}

/* ---- pairs and the heap ------------------------------------------------------------------------- */

/* Whether x comes out of the heap before y: more frequent, then smaller ids (BpeTrainer's rule). */
static bool before(const heap_item *x, const heap_item *y) {
  if (x->count != y->count)
    return x->count > y->count;
  return x->a != y->a ? x->a < y->a : x->b < y->b;
}

static lr_status heap_push(trainer *tr, heap_item it) {
  heap_item *h;
  size_t i;
  if (LR_GROW(tr->heap, tr->cap_heap, tr->n_heap + 1, NULL) != LR_OK)
    return oom(tr);
  h = tr->heap;
  for (i = tr->n_heap++; i > 0 && before(&it, &h[(i - 1) / 2]); i = (i - 1) / 2)
    h[i] = h[(i - 1) / 2];
  h[i] = it;
  return LR_OK;
}

static heap_item heap_pop(trainer *tr) {
  heap_item *h = tr->heap, top = h[0], last = h[--tr->n_heap];
  size_t i = 0, n = tr->n_heap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && before(&h[c + 1], &h[c]))
      c++;
    if (!before(&h[c], &last))
      break;
    h[i] = h[c];
    i = c;
  }
  if (n > 0)
    h[i] = last;
  return top;
}

/* The index of pair (a, b), added with count 0 if new. */
static lr_status pair_get(trainer *tr, int32_t a, int32_t b, uint32_t *out) {
  const int32_t ab[2] = {a, b};
  uint64_t h = pair_hash(a, b);
  size_t found = lr_hashmap_find(&tr->ptab, h, ab, sizeof ab);
  if (found != LR_HASHMAP_NONE) {
    *out = (uint32_t)found;
    return LR_OK;
  }
  if (LR_GROW(tr->pairs, tr->cap_pairs, tr->n_pairs + 1, NULL) != LR_OK)
    return oom(tr);
  tr->pairs[tr->n_pairs] = (pair){.a = a, .b = b};
  if (lr_hashmap_set(&tr->ptab, h, ab, sizeof ab, tr->n_pairs, tr->err) != LR_OK)
    return tr->err->code;
  *out = (uint32_t)tr->n_pairs++;
  return LR_OK;
}

/* Adds delta occurrences of (a, b) in word w. */
static lr_status add_pair(trainer *tr, int32_t a, int32_t b, int64_t delta, uint32_t w) {
  uint32_t k = 0;
  pair *p;
  if (pair_get(tr, a, b, &k) != LR_OK)
    return tr->err->code;
  p = &tr->pairs[k];
  p->count += delta;
  if (delta > 0 && (p->n_where == 0 || p->where[p->n_where - 1] != w)) {
    if (LR_GROW(p->where, p->cap_where, p->n_where + 1, NULL) != LR_OK)
      return oom(tr);
    p->where[p->n_where++] = w;
  }
  if (!p->dirty) {
    if (LR_GROW(tr->dirty, tr->cap_dirty, tr->n_dirty + 1, NULL) != LR_OK)
      return oom(tr);
    tr->dirty[tr->n_dirty++] = k;
    p->dirty = true;
  }
  return LR_OK;
}

/* A fresh heap entry for every pair whose count changed. */
static lr_status flush_dirty(trainer *tr) {
  for (size_t i = 0; i < tr->n_dirty; i++) {
    pair *p = &tr->pairs[tr->dirty[i]];
    p->dirty = false;
    if (p->count > 0 && !p->done &&
        heap_push(tr, (heap_item){p->count, p->a, p->b, tr->dirty[i]}) != LR_OK)
      return tr->err->code;
  }
  tr->n_dirty = 0;
  return LR_OK;
}

static lr_status count_pairs(trainer *tr) {
  for (size_t i = 0; i < tr->n_words; i++) {
    const word *w = &tr->words[i];
    const int32_t *s = tr->syms + w->sym;
    for (size_t k = 0; k + 1 < w->n_sym; k++)
      if (add_pair(tr, s[k], s[k + 1], (int64_t)w->count, (uint32_t)i) != LR_OK)
        return tr->err->code;
  }
  return flush_dirty(tr);
}

/* ---- merging ------------------------------------------------------------------------------------ */

/* Replaces each (a, b) in word wi by x, left to right, and moves the counts of the pairs around
 * each replacement (the neighbours of a merge lose their pair with a or b and gain one with x). */
static lr_status merge_word(trainer *tr, uint32_t wi, int32_t a, int32_t b, int32_t x) {
  word *w = &tr->words[wi];
  int32_t *s = tr->syms + w->sym;
  int64_t c = (int64_t)w->count;
  size_t o = 0, n = w->n_sym;
  for (size_t i = 0; i < n;) {
    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
      if (o > 0 && (add_pair(tr, s[o - 1], a, -c, wi) != LR_OK ||
                    add_pair(tr, s[o - 1], x, c, wi) != LR_OK))
        return tr->err->code;
      if (i + 2 < n && (add_pair(tr, b, s[i + 2], -c, wi) != LR_OK ||
                        add_pair(tr, x, s[i + 2], c, wi) != LR_OK))
        return tr->err->code;
      s[o++] = x;
      i += 2;
    } else
      s[o++] = s[i++];
  }
  w->n_sym = o;
  return LR_OK;
}

/* Merges pair k into token x in every word that has it. */
static lr_status merge_pair(trainer *tr, uint32_t k, int32_t x, uint32_t stamp) {
  pair *p = &tr->pairs[k];
  int32_t a = p->a, b = p->b;
  uint32_t *where = p->where;
  size_t n = p->n_where;
  lr_status rc = LR_OK;
  /* The list is taken over: merging never adds (a, b) anywhere, and is never merged again. */
  p->where = NULL;
  p->n_where = p->cap_where = 0;
  p->done = true;
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    word *w = &tr->words[where[i]];
    if (w->stamp == stamp)
      continue;
    w->stamp = stamp;
    rc = merge_word(tr, where[i], a, b, x);
  }
  free(where);
  return rc;
}

/* Records the merge of (a, b); *x gets the id of the merged string, new or not. */
static lr_status add_merge(trainer *tr, int32_t a, int32_t b, int32_t *x) {
  const token ta = tr->tok[a], tb = tr->tok[b];
  char *s = malloc(ta.len + tb.len + 1);
  if (s == NULL || LR_GROW(tr->merges, tr->cap_merges, tr->n_merges + 1, NULL) != LR_OK) {
    free(s);
    return oom(tr);
  }
  tr->merges[tr->n_merges][0] = a;
  tr->merges[tr->n_merges][1] = b;
  tr->n_merges++;
  memcpy(s, ta.s, ta.len);
  memcpy(s + ta.len, tb.s, tb.len + 1);
  return add_token(tr, s, ta.len + tb.len, x);
}

static lr_status train_merges(trainer *tr, size_t vocab_size, uint64_t min_frequency) {
  uint32_t stamp = 0;
  while (tr->n_tok < vocab_size && tr->n_heap > 0) {
    heap_item top = heap_pop(tr);
    const pair *p = &tr->pairs[top.pair];
    int32_t x;
    if (p->done || top.count != p->count)
      continue; /* stale: the pair has a newer entry, or none because it is gone */
    if ((uint64_t)top.count < min_frequency)
      break;
    if (add_merge(tr, top.a, top.b, &x) != LR_OK || merge_pair(tr, top.pair, x, ++stamp) != LR_OK ||
        flush_dirty(tr) != LR_OK)
      return tr->err->code;
  }
  return LR_OK;
}

static void trainer_release(trainer *tr) {
  for (size_t i = 0; i < tr->n_tok; i++)
    free(tr->tok[i].s);
  free(tr->tok);
  lr_hashmap_release(&tr->tok_ids);
  free(tr->merges);
  lr_buf_release(&tr->wtext);
  free(tr->words);
  lr_hashmap_release(&tr->wtab);
  free(tr->syms);
  for (size_t i = 0; i < tr->n_pairs; i++)
    free(tr->pairs[i].where);
  free(tr->pairs);
  lr_hashmap_release(&tr->ptab);
  free(tr->heap);
  free(tr->dirty);
}

lr_status lr_bpe_train(const char *text, size_t len, const lr_bpe_train_opts *o, char **json_out,
                       lr_err *err) {
  trainer tr;
  lr_status rc;
  *json_out = NULL;
  if (o->vocab_size < LR_BPE_MIN_VOCAB || o->vocab_size > LR_BPE_MAX_VOCAB)
    return lr_fail(err, LR_EINVAL, "vocab_size %zu is out of range: at least %d (%d special "
                   "tokens and 256 bytes), at most %zu", o->vocab_size, LR_BPE_MIN_VOCAB,
                   LR_BPE_N_SPECIAL, LR_BPE_MAX_VOCAB);
  if (len == 0)
    return lr_fail(err, LR_EINVAL, "the training text is empty");
  memset(&tr, 0, sizeof tr);
  tr.err = err;
  lr_buf_init(&tr.wtext, LR_BUF_NO_MAX);
  lr_hashmap_init(&tr.tok_ids, token_eq, &tr);
  lr_hashmap_init(&tr.wtab, word_eq, &tr);
  lr_hashmap_init(&tr.ptab, pair_eq, &tr);
  rc = add_base_tokens(&tr);
  if (rc == LR_OK && o->vocab_size > LR_BPE_MIN_VOCAB) {
    if ((rc = count_words(&tr, text, len)) == LR_OK && (rc = make_symbols(&tr)) == LR_OK &&
        (rc = count_pairs(&tr)) == LR_OK)
      rc = train_merges(&tr, o->vocab_size, o->min_frequency ? o->min_frequency : 2);
  }
  if (rc == LR_OK)
    rc = make_json(&tr, json_out);
  trainer_release(&tr);
  return rc;
}

/* ---- the model directory ------------------------------------------------------------------------ */

/* What transformers' save_pretrained writes for this tokenizer, less model_max_length (its
 * default is the same "no limit"). */
static const char tokenizer_config[] =
    "{\n"
    "  \"added_tokens_decoder\": {\n"
    "    \"0\": {\n"
    "      \"content\": \"<s>\",\n"
    "      \"lstrip\": false,\n"
    "      \"normalized\": false,\n"
    "      \"rstrip\": false,\n"
    "      \"single_word\": false,\n"
    "      \"special\": true\n"
    "    },\n"
    "    \"1\": {\n"
    "      \"content\": \"</s>\",\n"
    "      \"lstrip\": false,\n"
    "      \"normalized\": false,\n"
    "      \"rstrip\": false,\n"
    "      \"single_word\": false,\n"
    "      \"special\": true\n"
    "    }\n"
    "  },\n"
    "  \"bos_token\": \"<s>\",\n"
    "  \"clean_up_tokenization_spaces\": false,\n"
    "  \"eos_token\": \"</s>\",\n"
    "  \"tokenizer_class\": \"PreTrainedTokenizerFast\"\n"
    "}\n";

static const char special_tokens_map[] =
    "{\n"
    "  \"bos_token\": \"<s>\",\n"
    "  \"eos_token\": \"</s>\"\n"
    "}\n";

static void emit_text(FILE *fp, const void *ctx) {
  fputs(ctx, fp);
}

static lr_status write_one(const char *dir, const char *name, const char *text, lr_err *err) {
  char *path = NULL;
  lr_status rc;
  if ((rc = lr_path_join(dir, name, &path, err)) != LR_OK)
    return rc;
  rc = lr_write_file_atomic(path, emit_text, text, err);
  free(path);
  return rc;
}

lr_status lr_bpe_write_dir(const char *dir, const char *json, lr_err *err) {
  if (lr_make_dir(dir, err) != LR_OK)
    return err->code;
  if (write_one(dir, "tokenizer.json", json, err) != LR_OK ||
      write_one(dir, "tokenizer_config.json", tokenizer_config, err) != LR_OK ||
      write_one(dir, "special_tokens_map.json", special_tokens_map, err) != LR_OK)
    return err->code;
  return LR_OK;
}
