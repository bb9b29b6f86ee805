/*
 * tokenizer-bpe.c: the BPE model, as HF `tokenizers` runs it (models/bpe/word.rs: merge_all).
 *
 * A word starts as one symbol per character (its vocabulary id, or byte-fallback <0xNN> ids, or
 * unk).  Every adjacent pair that has a merge goes into a min-heap ordered by (rank, position);
 * the lowest is merged, and the pairs it forms with its neighbours are pushed.  Stale heap entries
 * (a symbol already merged away, or a pair that changed) are skipped when popped, as HF does.
 * Merge ranks live in an open-addressing table keyed by the pair of ids.  Results are cached per
 * word: text repeats its words, and the cache is what makes long texts cheap.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "text/tokenizer-internal.h"

typedef struct tk_symbol {
  int32_t id;
  int32_t prev, next; /* -1 at the ends */
  size_t len;         /* bytes of the word it covers; 0 once merged into its left neighbour */
} tk_symbol;

typedef struct tk_heap_item {
  int32_t rank, pos, new_id;
} tk_heap_item;

/* Words longer than this are encoded but not cached (HF's MAX_LENGTH for its cache). */
#define CACHE_MAX_WORD 256
#define CACHE_SLOTS 65536 /* the cache is cleared when half full */

static uint64_t pair_key(int32_t a, int32_t b) {
  return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
}

static size_t pair_slot(uint64_t key, size_t mask) {
  key ^= key >> 31;
  key *= 0x9E3779B97F4A7C15ull;
  return (size_t)(key >> 17) & mask;
}

lr_status tk_bpe_init_tables(tk_bpe *b, size_t n_merges, lr_err *err) {
  size_t cap = 16;
  while (cap < n_merges * 2 + 2)
    cap *= 2;
  b->merges = calloc(cap, sizeof *b->merges);
  b->merge_mask = cap - 1;
  b->cache = calloc(CACHE_SLOTS, sizeof *b->cache);
  b->cache_mask = CACHE_SLOTS - 1;
  if (b->merges == NULL || b->cache == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (a table of %zu merges)", n_merges);
  return LR_OK;
}

/* A pair seen twice keeps the later rank, as HF's HashMap insertion does. */
lr_status tk_bpe_add_merge(tk_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t new_id,
                           lr_err *err) {
  uint64_t key = pair_key(left, right);
  size_t i;
  (void)err;
  for (i = pair_slot(key, b->merge_mask); b->merges[i].key; i = (i + 1) & b->merge_mask)
    if (b->merges[i].key == key)
      break;
  if (b->merges[i].key == 0)
    b->n_merges++;
  b->merges[i] = (tk_merge_slot){key, rank, new_id};
  return LR_OK;
}

static const tk_merge_slot *find_merge(const tk_bpe *b, int32_t left, int32_t right) {
  uint64_t key = pair_key(left, right);
  for (size_t i = pair_slot(key, b->merge_mask); b->merges[i].key; i = (i + 1) & b->merge_mask)
    if (b->merges[i].key == key)
      return &b->merges[i];
  return NULL;
}

/* ---- the heap ---------------------------------------------------------------------------------- */

static bool heap_less(const tk_heap_item *a, const tk_heap_item *b) {
  return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(tk_heap_item *h, size_t *n, tk_heap_item it) {
  size_t i = (*n)++;
  while (i > 0 && heap_less(&it, &h[(i - 1) / 2])) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = it;
}

static tk_heap_item heap_pop(tk_heap_item *h, size_t *n) {
  tk_heap_item top = h[0], last = h[--(*n)];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= *n)
      break;
    if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
      c++;
    if (!heap_less(&h[c], &last))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = last;
  return top;
}

/* ---- one word ---------------------------------------------------------------------------------- */

static lr_status ensure_scratch(tk_bpe *b, size_t n, lr_err *err) {
  if (n <= b->sym_cap)
    return LR_OK;
  size_t cap = b->sym_cap ? b->sym_cap : 64;
  while (cap < n)
    cap *= 2;
  tk_symbol *s = realloc(b->sym, cap * sizeof *s);
  if (s)
    b->sym = s;
  /* Each merge pushes at most two pairs, so the heap never holds more than 3n entries. */
  tk_heap_item *h = s ? realloc(b->heap, 3 * cap * sizeof *h) : NULL;
  if (h == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (a word of %zu characters)", n);
  b->heap = h;
  b->sym_cap = b->heap_cap = cap;
  return LR_OK;
}

static void add_symbol(tk_bpe *b, size_t *n, int32_t id, size_t len) {
  b->sym[*n] = (tk_symbol){id, (int32_t)*n - 1, (int32_t)*n + 1, len};
  (*n)++;
}

/* The lookup string of a character: prefix before all but the first, suffix after the last. */
static int32_t char_id(lr_tokenizer *t, const char *c, size_t clen, bool first, bool last,
                       lr_buf *tmp, lr_err *err) {
  const tk_bpe *b = &t->bpe;
  if ((first || !b->prefix) && (!last || !b->suffix))
    return tk_vocab_id(t, c, clen);
  lr_buf_reset(tmp);
  if ((!first && b->prefix && lr_buf_add(tmp, b->prefix, b->prefix_len, err) != LR_OK) ||
      lr_buf_add(tmp, c, clen, err) != LR_OK ||
      (last && b->suffix && lr_buf_add(tmp, b->suffix, b->suffix_len, err) != LR_OK))
    return -2;
  return tk_vocab_id(t, tmp->buf, tmp->len);
}

static bool bytes_known(const tk_bpe *b, const char *c, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (b->byte_ids[(uint8_t)c[k]] < 0)
      return false;
  return true;
}

/* Splits a word into its initial symbols, as BPE::merge_word does. */
static lr_status initial_symbols(lr_tokenizer *t, const char *w, size_t n, size_t *n_sym,
                                 lr_err *err) {
  tk_bpe *b = &t->bpe;
  lr_buf tmp = LR_BUF_INIT;
  int32_t unk = -1, cp;
  size_t unk_len = 0, i = 0, clen;
  lr_status rc = LR_OK;
  *n_sym = 0;
  while (i < n) {
    clen = tk_utf8_next(w + i, n - i, &cp);
    int32_t id = char_id(t, w + i, clen, i == 0, i + clen == n, &tmp, err);
    if (id == -2) {
      rc = LR_ENOMEM;
      break;
    }
    if (id >= 0) {
      if (unk >= 0)
        add_symbol(b, n_sym, unk, unk_len);
      unk = -1;
      add_symbol(b, n_sym, id, clen);
    } else if (b->byte_fallback && bytes_known(b, w + i, clen)) {
      for (size_t k = 0; k < clen; k++)
        add_symbol(b, n_sym, b->byte_ids[(uint8_t)w[i + k]], 1);
    } else if (b->unk_id >= 0) {
      if (unk >= 0 && b->fuse_unk)
        unk_len += clen;
      else {
        if (unk >= 0)
          add_symbol(b, n_sym, unk, unk_len);
        unk = b->unk_id;
        unk_len = clen;
      }
    } /* else: HF drops a character it cannot represent */
    i += clen;
  }
  if (unk >= 0 && rc == LR_OK)
    add_symbol(b, n_sym, unk, unk_len);
  lr_buf_release(&tmp);
  if (*n_sym > 0)
    b->sym[*n_sym - 1].next = -1;
  return rc;
}

/* Merges the symbols of a word until no pair has a merge (Word::merge_all without dropout). */
static void merge_all(tk_bpe *b, size_t n_sym) {
  tk_symbol *s = b->sym;
  size_t nh = 0;
  for (size_t i = 0; i + 1 < n_sym; i++) {
    const tk_merge_slot *m = find_merge(b, s[i].id, s[i + 1].id);
    if (m)
      heap_push(b->heap, &nh, (tk_heap_item){m->rank, (int32_t)i, m->new_id});
  }
  while (nh > 0) {
    tk_heap_item top = heap_pop(b->heap, &nh);
    tk_symbol *cur = &s[top.pos];
    if (cur->len == 0 || cur->next < 0)
      continue;
    tk_symbol *right = &s[cur->next];
    const tk_merge_slot *m = find_merge(b, cur->id, right->id);
    if (m == NULL || m->new_id != top.new_id)
      continue;
    cur->id = top.new_id;
    cur->len += right->len;
    cur->next = right->next;
    right->len = 0;
    if (cur->next >= 0)
      s[cur->next].prev = top.pos;
    if (cur->prev >= 0 && (m = find_merge(b, s[cur->prev].id, cur->id)))
      heap_push(b->heap, &nh, (tk_heap_item){m->rank, cur->prev, m->new_id});
    if (cur->next >= 0 && (m = find_merge(b, cur->id, s[cur->next].id)))
      heap_push(b->heap, &nh, (tk_heap_item){m->rank, top.pos, m->new_id});
  }
}

/* ---- the word cache ---------------------------------------------------------------------------- */

static tk_cache_entry *cache_find(tk_bpe *b, const char *w, size_t n, uint64_t h) {
  for (size_t i = h & b->cache_mask; b->cache[i].key; i = (i + 1) & b->cache_mask)
    if (b->cache[i].hash == h && b->cache[i].len == n && memcmp(b->cache[i].key, w, n) == 0)
      return &b->cache[i];
  return NULL;
}

static void cache_clear(tk_bpe *b) {
  for (size_t i = 0; i <= b->cache_mask; i++)
    if (b->cache[i].key)
      free(b->cache[i].ids); /* the start of the entry's one allocation */
  memset(b->cache, 0, (b->cache_mask + 1) * sizeof *b->cache);
  b->cache_count = 0;
}

/* Remembers ids for a word; a failed allocation only costs the cache entry. */
static void cache_put(tk_bpe *b, const char *w, size_t n, uint64_t h, const int32_t *ids,
                      size_t n_ids) {
  size_t i;
  char *mem;
  if ((b->cache_count + 1) * 2 > b->cache_mask + 1)
    cache_clear(b);
  mem = malloc(n_ids * sizeof(int32_t) + n + 1);
  if (mem == NULL)
    return;
  for (i = h & b->cache_mask; b->cache[i].key; i = (i + 1) & b->cache_mask)
    ;
  if (n_ids > 0)
    memcpy(mem, ids, n_ids * sizeof(int32_t));
  memcpy(mem + n_ids * sizeof(int32_t), w, n);
  b->cache[i] = (tk_cache_entry){mem + n_ids * sizeof(int32_t), n, h, (int32_t *)(void *)mem,
                                 (uint32_t)n_ids};
  b->cache_count++;
}

/* ---- the model's entry point ------------------------------------------------------------------ */

lr_status tk_bpe_encode_word(lr_tokenizer *t, const char *w, size_t n, lr_ids *out, lr_err *err) {
  tk_bpe *b = &t->bpe;
  size_t n_sym, start = out->n;
  uint64_t h = 0;
  tk_cache_entry *hit;
  int32_t id;
  if (n == 0)
    return LR_OK;
  if (n > LR_TOKENIZER_MAX_WORD)
    return lr_fail(err, LR_EINVAL, "a word of %zu bytes is longer than lorens encodes (at most "
                   "%zu bytes in one piece; a tokenizer without a pre-tokenizer, as Llama 2's, "
                   "makes a whole text one word)", n, LR_TOKENIZER_MAX_WORD);
  if (b->ignore_merges && (id = tk_vocab_id(t, w, n)) >= 0)
    return lr_ids_push(out, id, err);
  if (n <= CACHE_MAX_WORD) {
    h = lr_hash(w, n);
    if ((hit = cache_find(b, w, n, h)) != NULL) {
      for (uint32_t k = 0; k < hit->n_ids; k++)
        if (lr_ids_push(out, hit->ids[k], err) != LR_OK)
          return LR_ENOMEM;
      return LR_OK;
    }
  }
  /* A character is at most 4 bytes, and byte fallback makes one symbol per byte. */
  if (ensure_scratch(b, n + 1, err) != LR_OK || initial_symbols(t, w, n, &n_sym, err) != LR_OK)
    return lr_fail(err, LR_ENOMEM, "out of memory (encoding a word of %zu bytes)", n);
  merge_all(b, n_sym);
  for (size_t i = 0; i < n_sym; i = b->sym[i].next < 0 ? n_sym : (size_t)b->sym[i].next)
    if (lr_ids_push(out, b->sym[i].id, err) != LR_OK)
      return LR_ENOMEM;
  if (n <= CACHE_MAX_WORD) /* a word can have no ids, when all its characters are dropped */
    cache_put(b, w, n, h, out->n > start ? out->v + start : NULL, out->n - start);
  return LR_OK;
}

void tk_bpe_release(tk_bpe *b) {
  if (b->cache)
    cache_clear(b);
  free(b->cache);
  free(b->merges);
  free(b->prefix);
  free(b->suffix);
  free(b->sym);
  free(b->heap);
  memset(b, 0, sizeof *b);
}
