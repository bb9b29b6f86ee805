/*
 * tokenizer-build.c: the steps of building an lr_tokenizer that do not depend on where its
 * description comes from.  tokenizer-load.c (tokenizer.json) and tokenizer-gguf.c (GGUF
 * metadata) both read their format and call these, so that the two give the same in-memory
 * tokenizer for the same description, and the one release path frees what either built.
 *
 * Errors name the tokenizer's file (t->name); the caller's `where` says which key or JSON path.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "text/tokenizer-internal.h"

static lr_status oom(const lr_tokenizer *t, lr_err *err) {
  return lr_fail(err, LR_ENOMEM, "out of memory loading '%s'", t->name);
}

char *tk_dup_bytes(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* ---- the byte-level alphabet ---------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * are mapped to U+0100.. in order, so that every byte is a visible character. */
static void init_byte_level(lr_tokenizer *t) {
  int next = 256;
  for (int i = 0; i < (int)LR_ARRAY_LEN(t->bl_byte_of_cp); i++)
    t->bl_byte_of_cp[i] = -1;
  for (int b = 0; b < 256; b++) {
    bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int cp = keep ? b : next++;
    t->bl_len[b] = (uint8_t)tk_utf8_encode(cp, t->bl_utf8[b]);
    t->bl_byte_of_cp[cp] = (int16_t)b;
  }
}

const char tk_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

lr_status tk_tokenizer_new(const char *name, lr_tokenizer **out, lr_err *err) {
  lr_tokenizer *t = calloc(1, sizeof *t);
  *out = NULL;
  if (t == NULL || (t->name = tk_dup_bytes(name, strlen(name))) == NULL) {
    free(t);
    return lr_fail(err, LR_ENOMEM, "out of memory loading '%s'", name);
  }
  lr_hashmap_init(&t->vocab, tk_vocab_eq, t);
  lr_hashmap_init(&t->added_map, tk_added_eq, t);
  init_byte_level(t);
  *out = t;
  return LR_OK;
}

/* ---- vocabulary and merges ------------------------------------------------------------------------ */

lr_status tk_vocab_init(lr_tokenizer *t, size_t n_ids, size_t n_pieces, lr_err *err) {
  t->n_pieces = n_ids;
  t->pieces = calloc(n_ids ? n_ids : 1, sizeof *t->pieces);
  t->piece_len = calloc(n_ids ? n_ids : 1, sizeof *t->piece_len);
  if (t->pieces == NULL || t->piece_len == NULL ||
      lr_hashmap_reserve(&t->vocab, n_pieces, err) != LR_OK)
    return oom(t, err);
  return LR_OK;
}

/* A piece seen twice maps to its later id, as a Python dict built from the list does; the
 * earlier id keeps its piece for decoding. */
lr_status tk_vocab_put(lr_tokenizer *t, size_t id, const char *s, size_t len, lr_err *err) {
  if ((t->pieces[id] = tk_dup_bytes(s, len)) == NULL)
    return oom(t, err);
  t->piece_len[id] = (uint32_t)len;
  if (lr_hashmap_set(&t->vocab, lr_hash(t->pieces[id], len), t->pieces[id], len, id, err) != LR_OK)
    return oom(t, err);
  return LR_OK;
}

static lr_status merge_part_id(lr_tokenizer *t, const char *key, size_t i, const char *what,
                               const char *s, size_t n, const char *vocab_name, int32_t *id,
                               lr_err *err) {
  if ((*id = tk_vocab_id(t, s, n)) < 0)
    return lr_fail_at(err, LR_EPARSE, t->name, 0, 0, "%s[%zu]: %s '%.*s' is not in %s", key, i,
                      what, (int)n, s, vocab_name);
  return LR_OK;
}

lr_status tk_merge_pieces(lr_tokenizer *t, const char *key, const char *vocab_name, size_t i,
                          const char *a, size_t na, const char *c, size_t nc, lr_buf *tmp,
                          lr_err *err) {
  const tk_bpe *b = &t->bpe;
  int32_t ia, ic, inew;
  if (merge_part_id(t, key, i, "token", a, na, vocab_name, &ia, err) != LR_OK ||
      merge_part_id(t, key, i, "token", c, nc, vocab_name, &ic, err) != LR_OK)
    return err->code;
  /* The right part loses its continuing-subword prefix in the merged token. */
  size_t skip = b->prefix && nc >= b->prefix_len && memcmp(c, b->prefix, b->prefix_len) == 0
                    ? b->prefix_len : 0;
  lr_buf_reset(tmp);
  if (lr_buf_add(tmp, a, na, err) != LR_OK || lr_buf_add(tmp, c + skip, nc - skip, err) != LR_OK)
    return err->code;
  if (merge_part_id(t, key, i, "merged token", tmp->buf, tmp->len, vocab_name, &inew, err) !=
      LR_OK)
    return err->code;
  return tk_bpe_add_merge(&t->bpe, ia, ic, (int32_t)i, inew, err);
}

void tk_bpe_index_bytes(lr_tokenizer *t) {
  tk_bpe *b = &t->bpe;
  for (int c = 0; c < 256; c++) {
    char piece[8];
    snprintf(piece, sizeof piece, "<0x%02X>", c);
    b->byte_ids[c] = b->byte_fallback ? tk_vocab_id(t, piece, 6) : -1;
  }
}

/* ---- pipeline steps ------------------------------------------------------------------------------- */

/* HF compiles regexes with Oniguruma, whose \s also matches U+0085 (NEL); PCRE2's \s under UCP
 * does not.  So \s becomes [\s\x{85}] (or \s\x{85} inside a class) and \S outside a class
 * becomes [^\s\x{85}]. */
static lr_status onig_to_pcre(const char *p, size_t n, lr_buf *out, lr_err *err) {
  bool in_class = false;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\\' && i + 1 < n) {
      char c = p[i + 1];
      lr_status rc;
      if (c == 's')
        rc = lr_buf_add(out, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]", in_class ? 8 : 10, err);
      else if (c == 'S' && !in_class)
        rc = lr_buf_add(out, "[^\\s\\x{85}]", 11, err);
      else
        rc = lr_buf_add(out, p + i, 2, err);
      if (rc != LR_OK)
        return rc;
      i++;
      continue;
    }
    if (p[i] == '[' && !in_class) {
      in_class = true;
      if (lr_buf_add(out, p + i, 1, err) != LR_OK)
        return err->code;
      /* A ']' right after '[' or '[^' is a literal. */
      if (i + 1 < n && p[i + 1] == '^' && lr_buf_add(out, p + ++i, 1, err) != LR_OK)
        return err->code;
      if (i + 1 < n && p[i + 1] == ']' && lr_buf_add(out, p + ++i, 1, err) != LR_OK)
        return err->code;
      continue;
    }
    if (p[i] == ']' && in_class)
      in_class = false;
    if (lr_buf_add(out, p + i, 1, err) != LR_OK)
      return err->code;
  }
  return LR_OK;
}

lr_status tk_pattern_regex(tk_pattern *p, const char *s, size_t n, const char *file,
                           const char *where, lr_err *err) {
  lr_buf pat = LR_BUF_INIT;
  lr_status rc = onig_to_pcre(s, n, &pat, err);
  memset(p, 0, sizeof *p);
  p->kind = PAT_REGEX;
  if (rc == LR_OK)
    rc = tk_regex_compile(&p->re, pat.buf, pat.len, file, where, err);
  lr_buf_release(&pat);
  if (rc != LR_OK)
    p->kind = PAT_STRING; /* nothing compiled to release */
  return rc;
}

lr_status tk_push_normalizer(lr_tokenizer *t, tk_normalizer n, lr_err *err) {
  if (LR_GROW(t->norms, t->cap_norms, t->n_norms + 1, NULL) != LR_OK) {
    tk_pattern_release(&n.pattern);
    free(n.text);
    return oom(t, err);
  }
  t->norms[t->n_norms++] = n;
  return LR_OK;
}

lr_status tk_push_pretok(lr_tokenizer *t, tk_pretok p, lr_err *err) {
  if (LR_GROW(t->pretoks, t->cap_pretoks, t->n_pretoks + 1, NULL) != LR_OK) {
    tk_pattern_release(&p.pattern);
    return oom(t, err);
  }
  t->pretoks[t->n_pretoks++] = p;
  return LR_OK;
}

lr_status tk_push_decoder(lr_tokenizer *t, tk_decoder d, lr_err *err) {
  if (LR_GROW(t->decs, t->cap_decs, t->n_decs + 1, NULL) != LR_OK) {
    tk_pattern_release(&d.pattern);
    free(d.content);
    return oom(t, err);
  }
  t->decs[t->n_decs++] = d;
  return LR_OK;
}

/* ---- added tokens --------------------------------------------------------------------------------- */

/* Orders candidates for one first byte longest first, so the first that matches is the longest. */
static int by_length_desc(const void *x, const void *y, void *arg) {
  const tk_added *a = arg;
  size_t lx = a[*(const size_t *)x].match_len, ly = a[*(const size_t *)y].match_len;
  return lx < ly ? 1 : lx > ly ? -1 : 0;
}

/* HF matches a normalized added token in normalized text by its normalized content. */
static lr_status set_match(lr_tokenizer *t, tk_added *a, lr_err *err) {
  lr_buf s = LR_BUF_INIT;
  if (!a->normalized || t->n_norms == 0) {
    a->match_len = a->len;
    return (a->match = tk_dup_bytes(a->content, a->len)) ? LR_OK : oom(t, err);
  }
  if (lr_utf8_valid_prefix(a->content, a->len) != a->len ||
      tk_normalize(t, a->content, a->len, &s, err) != LR_OK) {
    lr_buf_release(&s);
    return err->code != LR_OK ? err->code : oom(t, err);
  }
  if (s.len > 0 && (a->match = lr_buf_detach(&s, &a->match_len)) == NULL)
    return oom(t, err);
  lr_buf_release(&s); /* normalizes to nothing: match stays NULL */
  return LR_OK;
}

/* Grows the id tables so that every added token's id has a slot. */
static lr_status cover_added_ids(lr_tokenizer *t, lr_err *err) {
  size_t max_id = t->n_pieces;
  for (size_t i = 0; i < t->n_added; i++)
    if ((size_t)t->added[i].id + 1 > max_id)
      max_id = (size_t)t->added[i].id + 1;
  if (max_id == t->n_pieces)
    return LR_OK;
  char **p = realloc(t->pieces, max_id * sizeof *p);
  uint32_t *pl = p ? realloc(t->piece_len, max_id * sizeof *pl) : NULL;
  if (p)
    t->pieces = p;
  if (pl == NULL)
    return oom(t, err);
  t->piece_len = pl;
  memset(t->pieces + t->n_pieces, 0, (max_id - t->n_pieces) * sizeof *p);
  memset(t->piece_len + t->n_pieces, 0, (max_id - t->n_pieces) * sizeof *pl);
  t->n_pieces = max_id;
  return LR_OK;
}

lr_status tk_index_added(lr_tokenizer *t, lr_err *err) {
  size_t cap_by_byte[256] = {0}; /* the lists are built here only */
  if (cover_added_ids(t, err) != LR_OK)
    return err->code;
  t->added_of_id = malloc((t->n_pieces ? t->n_pieces : 1) * sizeof *t->added_of_id);
  if (t->added_of_id == NULL || lr_hashmap_reserve(&t->added_map, t->n_added, err) != LR_OK)
    return oom(t, err);
  for (size_t i = 0; i < t->n_pieces; i++)
    t->added_of_id[i] = -1;
  for (size_t i = 0; i < t->n_added; i++) {
    tk_added *a = &t->added[i];
    int32_t in_vocab = tk_vocab_id(t, a->content, a->len);
    /* HF gives an added token that is also a vocabulary piece the piece's id, whatever the
     * file says (AddedVocabulary::add_tokens). */
    if (in_vocab >= 0)
      a->id = in_vocab;
    if (set_match(t, a, err) != LR_OK)
      return err->code;
  }
  for (size_t i = 0; i < t->n_added; i++) {
    tk_added *a = &t->added[i];
    uint8_t b = a->match ? (uint8_t)a->match[0] : 0;
    if (LR_GROW(t->added_by_byte[b], cap_by_byte[b], t->n_added_by_byte[b] + 1, NULL) != LR_OK)
      return oom(t, err);
    t->added_of_id[a->id] = (int32_t)i;
    if (a->match == NULL)
      continue; /* normalizes to nothing: it can never match */
    t->added_by_byte[b][t->n_added_by_byte[b]++] = i;
    if (lr_hashmap_set(&t->added_map, lr_hash(a->content, a->len), a->content, a->len, i, err) !=
        LR_OK)
      return oom(t, err);
  }
  for (int b = 0; b < 256; b++)
    if (t->n_added_by_byte[b] > 1)
      qsort_r(t->added_by_byte[b], t->n_added_by_byte[b], sizeof(size_t), by_length_desc,
              t->added);
  return LR_OK;
}

/* ---- the end -------------------------------------------------------------------------------------- */

lr_status tk_finish(lr_tokenizer *t, lr_err *err) {
  for (size_t i = 0; i < t->n_pretoks; i++)
    if (t->pretoks[i].kind == PRE_BYTELEVEL && t->pretoks[i].use_regex && !t->have_gpt2_re) {
      if (tk_regex_compile(&t->gpt2_re, tk_gpt2_pattern, sizeof tk_gpt2_pattern - 1, t->name,
                           "the ByteLevel regex", err) != LR_OK)
        return err->code;
      t->have_gpt2_re = true;
    }
  return LR_OK;
}

static void release_pattern_steps(lr_tokenizer *t) {
  for (size_t i = 0; i < t->n_norms; i++) {
    free(t->norms[i].text);
    tk_pattern_release(&t->norms[i].pattern);
  }
  for (size_t i = 0; i < t->n_pretoks; i++)
    tk_pattern_release(&t->pretoks[i].pattern);
  for (size_t i = 0; i < t->n_decs; i++) {
    free(t->decs[i].content);
    tk_pattern_release(&t->decs[i].pattern);
  }
  free(t->norms);
  free(t->pretoks);
  free(t->decs);
}

void lr_tokenizer_free(lr_tokenizer *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n_pieces; i++)
    free(t->pieces[i]);
  free(t->pieces);
  free(t->piece_len);
  lr_hashmap_release(&t->vocab);
  tk_bpe_release(&t->bpe);
  for (size_t i = 0; i < t->n_added; i++) {
    free(t->added[i].content);
    free(t->added[i].match);
  }
  free(t->added);
  free(t->added_of_id);
  lr_hashmap_release(&t->added_map);
  for (int b = 0; b < 256; b++)
    free(t->added_by_byte[b]);
  release_pattern_steps(t);
  free(t->tmpl_pre);
  free(t->tmpl_post);
  if (t->have_gpt2_re)
    tk_regex_release(&t->gpt2_re);
  free(t->name);
  free(t);
}
