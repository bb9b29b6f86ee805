/*
 * tokenizer.c: encoding, in HF `tokenizers`' order (tokenizer/mod.rs: encode_single_sequence):
 *
 *   1. added tokens that are not "normalized" are cut out of the raw text (leftmost-longest);
 *   2. each remaining segment is normalized, and normalized added tokens are cut out of it;
 *   3. each remaining piece is pre-tokenized into words, by each pre-tokenizer in turn;
 *   4. each word is encoded by the BPE model (tokenizer-bpe.c);
 *   5. with add_special, the TemplateProcessing ids go around the result.
 *
 * Pre-tokenizers work on a list of spans over one text buffer, rewritten by each step (ByteLevel
 * and Metaspace change the text).  A span remembers whether it starts the input, which
 * Metaspace's prepend_scheme "first" needs.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "base/utf8.h"
#include "text/tokenizer-internal.h"

typedef struct span {
  size_t off, len;
  bool first;
} span;

typedef struct spans {
  lr_buf text;
  span *v;
  size_t n, cap;
} spans;

typedef struct piece {
  size_t s, e;
  bool match;
} piece;

typedef struct pieces {
  piece *v;
  size_t n, cap;
} pieces;

/* Finds the next delimiter at or after from (as tk_regex_find). */
typedef int (*finder)(void *ctx, const char *s, size_t n, size_t from, size_t *ms, size_t *me);

/* ---- ids ---------------------------------------------------------------------------------------- */

void lr_ids_init(lr_ids *ids) {
  memset(ids, 0, sizeof *ids);
}

void lr_ids_release(lr_ids *ids) {
  free(ids->v);
  memset(ids, 0, sizeof *ids);
}

lr_status lr_ids_push(lr_ids *ids, int32_t id, lr_err *err) {
  lr_status rc;
  if (ids->n == ids->cap && (rc = LR_GROW(ids->v, ids->cap, ids->n + 1, err)) != LR_OK)
    return rc;
  ids->v[ids->n++] = id;
  return LR_OK;
}

/* ---- character classes ---------------------------------------------------------------------------- */

/* Rust's char::is_whitespace (the Unicode White_Space property). */
static bool is_whitespace(int32_t c) {
  return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

/* Rust's char::is_numeric: general categories Nd, Nl, No. */
static bool is_numeric(int32_t c) {
  if (c < 0x80)
    return c >= '0' && c <= '9';
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

static bool is_word_char(int32_t c) {
  if (c < 0x80)
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  utf8proc_category_t k = utf8proc_category(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
         (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_NO) || k == UTF8PROC_CATEGORY_PC;
}

/* The code point that ends just before s[at]. */
static int32_t prev_char(const char *s, size_t at, size_t *len) {
  size_t k = at;
  int32_t cp;
  while (k > 0 && ((uint8_t)s[k - 1] & 0xC0) == 0x80)
    k--;
  if (k > 0)
    k--;
  *len = tk_utf8_next(s + k, at - k, &cp);
  return cp;
}

/* ---- normalizers ---------------------------------------------------------------------------------- */

static lr_status unicode_normalize(const char *s, size_t n, bool compat, lr_buf *out,
                                   lr_err *err) {
  utf8proc_uint8_t *dst = NULL;
  utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                    UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                        (compat ? UTF8PROC_COMPAT : 0));
  lr_status rc;
  if (r < 0)
    return lr_fail(err, r == UTF8PROC_ERROR_NOMEM ? LR_ENOMEM : LR_EINVAL,
                   "Unicode normalization failed: %s", utf8proc_errmsg(r));
  lr_buf_reset(out);
  rc = lr_buf_add(out, (const char *)dst, (size_t)r, err);
  free(dst);
  return rc;
}

static lr_status replace_all(tk_pattern *p, const char *s, size_t n, const char *with,
                             size_t with_len, lr_buf *out, lr_err *err) {
  size_t from = 0, prev = 0, ms, me;
  int r = 0;
  lr_buf_reset(out);
  while (from <= n && (r = tk_pattern_find(p, s, n, from, &ms, &me)) > 0) {
    int32_t cp;
    if (me == ms) { /* an empty match replaces nothing */
      if (ms >= n)
        break;
      from = ms + tk_utf8_next(s + ms, n - ms, &cp);
      continue;
    }
    if (lr_buf_add(out, s + prev, ms - prev, err) != LR_OK ||
        lr_buf_add(out, with, with_len, err) != LR_OK)
      return LR_ENOMEM;
    prev = from = me;
  }
  if (from <= n && r < 0)
    return tk_regex_error(r, err);
  return lr_buf_add(out, s + prev, n - prev, err);
}

static lr_status normalize_step(tk_normalizer *nz, const char *s, size_t n, lr_buf *out,
                                lr_err *err) {
  lr_buf_reset(out);
  switch (nz->kind) {
  case NORM_NFC:
  case NORM_NFKC:
    return unicode_normalize(s, n, nz->kind == NORM_NFKC, out, err);
  case NORM_PREPEND:
    if (n > 0 && lr_buf_add(out, nz->text, nz->text_len, err) != LR_OK)
      return LR_ENOMEM;
    return lr_buf_add(out, s, n, err);
  case NORM_REPLACE:
    return replace_all(&nz->pattern, s, n, nz->text, nz->text_len, out, err);
  }
  return LR_OK;
}

lr_status tk_normalize(lr_tokenizer *t, const char *s, size_t n, lr_buf *out, lr_err *err) {
  lr_buf tmp = LR_BUF_INIT;
  lr_status rc;
  lr_buf_reset(out);
  rc = lr_buf_add(out, s, n, err);
  for (size_t i = 0; rc == LR_OK && i < t->n_norms; i++) {
    rc = normalize_step(&t->norms[i], out->buf, out->len, &tmp, err);
    lr_buf swap = *out;
    *out = tmp;
    tmp = swap;
  }
  lr_buf_release(&tmp);
  return rc;
}

/* ---- splitting by delimiters (HF NormalizedString::split) ----------------------------------------- */

static lr_status push_piece(pieces *ps, size_t s, size_t e, bool match, lr_err *err) {
  lr_status rc;
  if (ps->n == ps->cap && (rc = LR_GROW(ps->v, ps->cap, ps->n + 1, err)) != LR_OK)
    return rc;
  ps->v[ps->n++] = (piece){s, e, match};
  return LR_OK;
}

/* Delimiters and the text between them, in order, as HF's find_matches gives them. */
static lr_status find_pieces(finder find, void *ctx, const char *s, size_t n, bool invert,
                             pieces *ps, lr_err *err) {
  size_t from = 0, prev = 0, ms, me;
  int r = 0;
  ps->n = 0;
  while (from <= n && (r = find(ctx, s, n, from, &ms, &me)) > 0) {
    int32_t cp;
    if ((prev != ms && push_piece(ps, prev, ms, invert, err) != LR_OK) ||
        push_piece(ps, ms, me, !invert, err) != LR_OK)
      return LR_ENOMEM;
    prev = me;
    if (me > ms)
      from = me;
    else if (ms >= n)
      break;
    else
      from = ms + tk_utf8_next(s + ms, n - ms, &cp);
    r = 0;
  }
  if (r < 0)
    return tk_regex_error(r, err);
  if (prev != n && push_piece(ps, prev, n, invert, err) != LR_OK)
    return LR_ENOMEM;
  return LR_OK;
}

/* Rewrites the pieces in place by how delimiters are kept (SplitDelimiterBehavior). */
static void apply_behavior(pieces *ps, tk_split_behavior b) {
  size_t out = 0;
  bool prev_match = false;
  if (b == SPLIT_MERGED_NEXT) {
    /* HF folds from the right: a delimiter joins the piece after it. */
    size_t w = ps->n;
    for (size_t k = ps->n; k-- > 0;) {
      piece p = ps->v[k];
      if (p.match && !prev_match && w < ps->n)
        ps->v[w].s = p.s;
      else
        ps->v[--w] = (piece){p.s, p.e, false};
      prev_match = p.match;
    }
    memmove(ps->v, ps->v + w, (ps->n - w) * sizeof *ps->v);
    ps->n -= w;
    return;
  }
  for (size_t k = 0; k < ps->n; k++) {
    piece p = ps->v[k];
    if (b == SPLIT_REMOVED) {
      if (!p.match)
        ps->v[out++] = p;
    } else if (b == SPLIT_ISOLATED)
      ps->v[out++] = p;
    else if (b == SPLIT_MERGED_PREV && p.match && !prev_match && out > 0)
      ps->v[out - 1].e = p.e;
    else if (b == SPLIT_CONTIGUOUS && p.match == prev_match && out > 0)
      ps->v[out - 1].e = p.e;
    else
      ps->v[out++] = (piece){p.s, p.e, false};
    prev_match = p.match;
  }
  ps->n = out;
}

/* Records a span over o->text[off, off + n), text already there. */
static lr_status push_span_at(spans *o, size_t off, size_t n, bool first, lr_err *err) {
  lr_status rc;
  if (o->n == o->cap && (rc = LR_GROW(o->v, o->cap, o->n + 1, err)) != LR_OK)
    return rc;
  o->v[o->n++] = (span){off, n, first};
  return LR_OK;
}

static lr_status push_span(spans *o, const char *s, size_t n, bool first, lr_err *err) {
  if (n == 0)
    return LR_OK;
  if (push_span_at(o, o->text.len, n, first, err) != LR_OK)
    return LR_ENOMEM;
  return lr_buf_add(&o->text, s, n, err);
}

/* Splits text s into out's spans; the first piece keeps `first` when it starts the text. */
static lr_status split_into(finder find, void *ctx, tk_split_behavior b, bool invert,
                            const char *s, size_t n, bool first, pieces *ps, spans *out,
                            lr_err *err) {
  if (find_pieces(find, ctx, s, n, invert, ps, err) != LR_OK)
    return err->code;
  apply_behavior(ps, b);
  for (size_t k = 0; k < ps->n; k++)
    if (ps->v[k].e > ps->v[k].s &&
        push_span(out, s + ps->v[k].s, ps->v[k].e - ps->v[k].s, first && ps->v[k].s == 0, err) !=
            LR_OK)
      return LR_ENOMEM;
  return LR_OK;
}

static int find_pattern(void *ctx, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
  return tk_pattern_find(ctx, s, n, from, ms, me);
}

static int find_regex(void *ctx, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
  return tk_regex_find(ctx, s, n, from, ms, me);
}

static int find_digit(void *ctx, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
  (void)ctx;
  for (size_t i = from; i < n;) {
    int32_t cp;
    size_t k = tk_utf8_next(s + i, n - i, &cp);
    if (is_numeric(cp)) {
      *ms = i;
      *me = i + k;
      return 1;
    }
    i += k;
  }
  return 0;
}

/* ---- pre-tokenizers -------------------------------------------------------------------------------- */

/* Appends the byte-level form of s (each byte as its visible stand-in) to out. */
static lr_status byte_level_append(const lr_tokenizer *t, const char *s, size_t n, lr_buf *out,
                                   lr_err *err) {
  if (lr_buf_grow(out, 2 * n, err) != LR_OK)
    return LR_ENOMEM;
  size_t len = out->len;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t)s[i];
    memcpy(out->buf + len, t->bl_utf8[b], t->bl_len[b]);
    len += t->bl_len[b];
  }
  lr_buf_setlen(out, len);
  return LR_OK;
}

static lr_status byte_level(lr_tokenizer *t, const tk_pretok *p, const spans *in, spans *out,
                            pieces *ps, lr_buf *tmp, lr_err *err) {
  for (size_t i = 0; i < in->n; i++) {
    const char *s = in->text.buf + in->v[i].off;
    size_t n = in->v[i].len, np;
    lr_buf_reset(tmp);
    if (p->add_prefix_space && s[0] != ' ' && lr_buf_add(tmp, " ", 1, err) != LR_OK)
      return LR_ENOMEM;
    if (lr_buf_add(tmp, s, n, err) != LR_OK)
      return LR_ENOMEM;
    ps->n = 0;
    if (p->use_regex) {
      if (find_pieces(find_regex, &t->gpt2_re, tmp->buf, tmp->len, false, ps, err) != LR_OK)
        return err->code;
    } else if (push_piece(ps, 0, tmp->len, false, err) != LR_OK)
      return LR_ENOMEM;
    np = ps->n;
    for (size_t k = 0; k < np; k++) {
      piece pc = ps->v[k];
      size_t off = out->text.len;
      if (pc.e == pc.s)
        continue;
      if (byte_level_append(t, tmp->buf + pc.s, pc.e - pc.s, &out->text, err) != LR_OK)
        return LR_ENOMEM;
      if (push_span_at(out, off, out->text.len - off, in->v[i].first && pc.s == 0, err) != LR_OK)
        return LR_ENOMEM;
    }
  }
  return LR_OK;
}

static lr_status metaspace(const tk_pretok *p, const spans *in, spans *out, pieces *ps,
                           lr_buf *tmp, lr_err *err) {
  tk_pattern lit = {PAT_STRING, (char *)p->replacement, p->replacement_len, {0}};
  for (size_t i = 0; i < in->n; i++) {
    const char *s = in->text.buf + in->v[i].off;
    size_t n = in->v[i].len;
    lr_buf_reset(tmp);
    for (size_t k = 0; k < n; k++) {
      lr_status rc = s[k] == ' ' ? lr_buf_add(tmp, p->replacement, p->replacement_len, err)
                                 : lr_buf_add(tmp, s + k, 1, err);
      if (rc != LR_OK)
        return rc;
    }
    bool prepend = p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && in->v[i].first);
    if (prepend && !(tmp->len >= p->replacement_len &&
                     memcmp(tmp->buf, p->replacement, p->replacement_len) == 0)) {
      if (lr_buf_grow(tmp, p->replacement_len, err) != LR_OK)
        return LR_ENOMEM;
      memmove(tmp->buf + p->replacement_len, tmp->buf, tmp->len + 1);
      memcpy(tmp->buf, p->replacement, p->replacement_len);
      tmp->len += p->replacement_len;
    }
    lr_status rc = p->split ? split_into(find_pattern, &lit, SPLIT_MERGED_NEXT, false, tmp->buf,
                                         tmp->len, in->v[i].first, ps, out, err)
                            : push_span(out, tmp->buf, tmp->len, in->v[i].first, err);
    if (rc != LR_OK)
      return rc;
  }
  return LR_OK;
}

static lr_status pretokenize_step(lr_tokenizer *t, tk_pretok *p, const spans *in, spans *out,
                                  pieces *ps, lr_buf *tmp, lr_err *err) {
  out->n = 0;
  lr_buf_reset(&out->text);
  if (p->kind == PRE_BYTELEVEL)
    return byte_level(t, p, in, out, ps, tmp, err);
  if (p->kind == PRE_METASPACE)
    return metaspace(p, in, out, ps, tmp, err);
  for (size_t i = 0; i < in->n; i++) {
    lr_status rc;
    /* The input buffer is not the output one, so spans into it stay valid while out grows. */
    const char *s = in->text.buf + in->v[i].off;
    if (p->kind == PRE_SPLIT)
      rc = split_into(find_pattern, &p->pattern, p->behavior, p->invert, s, in->v[i].len,
                      in->v[i].first, ps, out, err);
    else
      rc = split_into(find_digit, NULL, p->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS,
                      false, s, in->v[i].len, in->v[i].first, ps, out, err);
    if (rc != LR_OK)
      return rc;
  }
  return LR_OK;
}

/* ---- a segment without added tokens --------------------------------------------------------------- */

typedef struct work {
  spans a, b;
  pieces ps;
  lr_buf tmp, norm;
  /* When set, words go to word_fn instead of the BPE model (tk_pretokenize). */
  tk_word_fn word_fn;
  void *word_ctx;
} work;

static void work_init(work *w) {
  memset(w, 0, sizeof *w);
  lr_buf_init(&w->a.text, LR_BUF_NO_MAX);
  lr_buf_init(&w->b.text, LR_BUF_NO_MAX);
  lr_buf_init(&w->tmp, LR_BUF_NO_MAX);
  lr_buf_init(&w->norm, LR_BUF_NO_MAX);
}

static void work_release(work *w) {
  lr_buf_release(&w->a.text);
  lr_buf_release(&w->b.text);
  free(w->a.v);
  free(w->b.v);
  free(w->ps.v);
  lr_buf_release(&w->tmp);
  lr_buf_release(&w->norm);
}

static lr_status encode_word(lr_tokenizer *t, const char *s, size_t n, work *w, lr_ids *out,
                             lr_err *err) {
  return w->word_fn ? w->word_fn(w->word_ctx, s, n, err) : tk_bpe_encode_word(t, s, n, out, err);
}

static lr_status encode_words(lr_tokenizer *t, const char *s, size_t n, bool first, work *w,
                              lr_ids *out, lr_err *err) {
  spans *in = &w->a, *nx = &w->b;
  if (t->n_pretoks == 0)
    return encode_word(t, s, n, w, out, err);
  in->n = 0;
  lr_buf_reset(&in->text);
  if (push_span(in, s, n, first, err) != LR_OK)
    return LR_ENOMEM;
  for (size_t i = 0; i < t->n_pretoks; i++) {
    if (pretokenize_step(t, &t->pretoks[i], in, nx, &w->ps, &w->tmp, err) != LR_OK)
      return err->code;
    spans *swap = in;
    in = nx;
    nx = swap;
  }
  for (size_t i = 0; i < in->n; i++)
    if (encode_word(t, in->text.buf + in->v[i].off, in->v[i].len, w, out, err) != LR_OK)
      return err->code;
  return LR_OK;
}

/* ---- added tokens ---------------------------------------------------------------------------------- */

/* Whether added token a matches at s[i], respecting single_word. */
static bool added_matches_at(const tk_added *a, const char *s, size_t n, size_t i) {
  size_t k;
  int32_t cp;
  if (a->match_len > n - i || memcmp(s + i, a->match, a->match_len) != 0)
    return false;
  if (!a->single_word)
    return true;
  if (i > 0 && is_word_char(prev_char(s, i, &k)))
    return false;
  if (i + a->match_len < n) {
    tk_utf8_next(s + i + a->match_len, n - i - a->match_len, &cp);
    if (is_word_char(cp))
      return false;
  }
  return true;
}

/* The leftmost-longest added token of the given kind in s[from..n): its index, or -1. */
static int32_t find_added(const lr_tokenizer *t, const char *s, size_t n, size_t from,
                          bool normalized, size_t *ms, size_t *me) {
  for (size_t i = from; i < n; i++) {
    const size_t *list = t->added_by_byte[(uint8_t)s[i]];
    for (size_t k = 0; k < t->n_added_by_byte[(uint8_t)s[i]]; k++) {
      const tk_added *a = &t->added[list[k]];
      if (a->normalized != normalized || !added_matches_at(a, s, n, i))
        continue;
      *ms = i;
      *me = i + a->match_len;
      return (int32_t)list[k];
    }
  }
  return -1;
}

/* lstrip / rstrip: the token also takes the whitespace around it, within [lo, hi). */
static void strip_around(const tk_added *a, const char *s, size_t lo, size_t hi, size_t *ms,
                         size_t *me) {
  size_t k;
  int32_t cp;
  while (a->lstrip && *ms > lo && is_whitespace(prev_char(s, *ms, &k)))
    *ms -= k;
  while (a->rstrip && *me < hi && (k = tk_utf8_next(s + *me, hi - *me, &cp)) && is_whitespace(cp))
    *me += k;
}

static lr_status encode_normalized(lr_tokenizer *t, const char *s, size_t n, bool first, work *w,
                                   lr_ids *out, lr_err *err);

/* Cuts added tokens of one kind out of s; the text between goes on to the next stage. */
static lr_status split_added(lr_tokenizer *t, const char *s, size_t n, bool first, bool normalized,
                             work *w, lr_ids *out, lr_err *err) {
  size_t from = 0, ms, me;
  int32_t idx;
  bool any = false;
  for (size_t b = 0; b < 256 && !any; b++)
    any = t->n_added_by_byte[b] > 0;
  while (any && from < n && (idx = find_added(t, s, n, from, normalized, &ms, &me)) >= 0) {
    strip_around(&t->added[idx], s, from, n, &ms, &me);
    lr_status rc = LR_OK;
    if (ms > from)
      rc = normalized ? encode_words(t, s + from, ms - from, first && from == 0, w, out, err)
                      : encode_normalized(t, s + from, ms - from, first && from == 0, w, out, err);
    if (rc != LR_OK || lr_ids_push(out, t->added[idx].id, err) != LR_OK)
      return err->code;
    from = me;
  }
  if (from >= n)
    return LR_OK;
  return normalized ? encode_words(t, s + from, n - from, first && from == 0, w, out, err)
                    : encode_normalized(t, s + from, n - from, first && from == 0, w, out, err);
}

/* A segment of raw text: normalize, then cut out the normalized added tokens. */
static lr_status encode_normalized(lr_tokenizer *t, const char *s, size_t n, bool first, work *w,
                                   lr_ids *out, lr_err *err) {
  lr_buf norm = LR_BUF_INIT;
  lr_status rc;
  if (t->n_norms == 0)
    return split_added(t, s, n, first, true, w, out, err);
  /* Own buffer: a segment's normalized text must survive the recursion into split_added. */
  rc = tk_normalize(t, s, n, &norm, err);
  if (rc == LR_OK)
    rc = split_added(t, norm.buf, norm.len, first, true, w, out, err);
  lr_buf_release(&norm);
  return rc;
}

/* ---- the entry point -------------------------------------------------------------------------------- */

lr_status lr_tokenizer_encode(lr_tokenizer *t, const char *text, size_t len, int add_special,
                              lr_ids *out, lr_err *err) {
  lr_err local;
  work w;
  size_t valid, start = out->n;
  lr_status rc = LR_OK;
  if (err == NULL) {
    lr_err_init(&local);
    err = &local;
  }
  if ((valid = lr_utf8_valid_prefix(text, len)) != len)
    return lr_fail(err, LR_EINVAL, "text is not valid UTF-8 (at byte %zu)", valid);
  work_init(&w);
  for (size_t i = 0; add_special && rc == LR_OK && i < t->n_tmpl_pre; i++)
    rc = lr_ids_push(out, t->tmpl_pre[i], err);
  if (rc == LR_OK && len > 0)
    rc = split_added(t, text, len, true, false, &w, out, err);
  for (size_t i = 0; add_special && rc == LR_OK && i < t->n_tmpl_post; i++)
    rc = lr_ids_push(out, t->tmpl_post[i], err);
  work_release(&w);
  if (rc != LR_OK)
    out->n = start;
  return rc;
}

lr_status tk_pretokenize(lr_tokenizer *t, const char *text, size_t len, tk_word_fn fn, void *ctx,
                         lr_err *err) {
  lr_ids added = {0}; /* the ids of added tokens cut out of the text, not wanted here */
  work w;
  size_t valid;
  lr_status rc = LR_OK;
  if ((valid = lr_utf8_valid_prefix(text, len)) != len)
    return lr_fail(err, LR_EINVAL, "text is not valid UTF-8 (at byte %zu)", valid);
  work_init(&w);
  w.word_fn = fn;
  w.word_ctx = ctx;
  if (len > 0)
    rc = split_added(t, text, len, true, false, &w, &added, err);
  work_release(&w);
  lr_ids_release(&added);
  return rc;
}
