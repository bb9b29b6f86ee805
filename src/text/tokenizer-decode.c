/*
 * tokenizer-decode.c: ids -> text, through the decoder chain as HF `tokenizers` runs it
 * (each decoder's decode_chain).  Each decoder turns a list of token strings into another list;
 * the last list is concatenated.  Without a decoder HF joins the pieces with spaces.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "text/tokenizer-internal.h"

typedef struct toks {
  lr_buf buf;
  size_t *off, *len;
  size_t n, cap;
} toks;

static void toks_release(toks *l) {
  lr_buf_release(&l->buf);
  free(l->off);
  free(l->len);
}

static void toks_clear(toks *l) {
  l->n = 0;
  lr_buf_reset(&l->buf);
}

/* Starts a new token at the end of the buffer; text is then appended with lr_buf_add. */
static lr_status toks_begin(toks *l, lr_err *err) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    size_t *o = realloc(l->off, cap * sizeof *o), *n = o ? realloc(l->len, cap * sizeof *n) : NULL;
    if (o)
      l->off = o;
    if (n == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory (decoding)");
    l->len = n;
    l->cap = cap;
  }
  l->off[l->n] = l->buf.len;
  l->len[l->n++] = 0;
  return LR_OK;
}

static void toks_end(toks *l) {
  l->len[l->n - 1] = l->buf.len - l->off[l->n - 1];
}

static lr_status toks_push(toks *l, const char *s, size_t n, lr_err *err) {
  if (toks_begin(l, err) != LR_OK || lr_buf_add(&l->buf, s, n, err) != LR_OK)
    return LR_ENOMEM;
  toks_end(l);
  return LR_OK;
}

/* A token's text (buf is never NULL, even before the first byte). */
#define TOK(l, i) ((l)->buf.buf + (l)->off[i])

/* ---- the decoders ---------------------------------------------------------------------------- */

/* Per token: its bytes through the byte-level alphabet, or the token as it is when a character
 * is outside the alphabet; the whole as one string, invalid UTF-8 replaced by U+FFFD. */
static lr_status dec_byte_level(const lr_tokenizer *t, const toks *in, toks *out, lr_err *err) {
  lr_buf bytes = LR_BUF_INIT;
  lr_status rc = LR_OK;
  for (size_t i = 0; rc == LR_OK && i < in->n; i++) {
    const char *s = TOK(in, i);
    size_t n = in->len[i], start = bytes.len, k = 0;
    int32_t cp;
    bool all = true;
    while (k < n && all) {
      k += tk_utf8_next(s + k, n - k, &cp);
      all = cp < (int32_t)LR_ARRAY_LEN(t->bl_byte_of_cp) && t->bl_byte_of_cp[cp] >= 0;
      if (all) {
        char b = (char)t->bl_byte_of_cp[cp];
        rc = lr_buf_add(&bytes, &b, 1, err);
      }
    }
    if (!all) {
      lr_buf_setlen(&bytes, start);
      rc = lr_buf_add(&bytes, s, n, err);
    }
  }
  if (rc == LR_OK && (rc = toks_begin(out, err)) == LR_OK &&
      (rc = tk_append_lossy(&out->buf, bytes.buf, bytes.len, err)) == LR_OK)
    toks_end(out);
  lr_buf_release(&bytes);
  return rc;
}

/* The replacement becomes a space; in the first token it is dropped when a prefix was added. */
static lr_status dec_metaspace(const tk_decoder *d, const toks *in, toks *out, lr_err *err) {
  for (size_t i = 0; i < in->n; i++) {
    const char *s = TOK(in, i);
    size_t n = in->len[i];
    if (toks_begin(out, err) != LR_OK)
      return LR_ENOMEM;
    for (size_t k = 0; k < n;) {
      lr_status rc = LR_OK;
      if (n - k >= d->replacement_len && memcmp(s + k, d->replacement, d->replacement_len) == 0) {
        if (!(i == 0 && d->prepend))
          rc = lr_buf_add(&out->buf, " ", 1, err);
        k += d->replacement_len;
      } else
        rc = lr_buf_add(&out->buf, s + k++, 1, err);
      if (rc != LR_OK)
        return rc;
    }
    toks_end(out);
  }
  return LR_OK;
}

static int byte_token(const char *s, size_t n) {
  int v = 0;
  if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
    return -1;
  for (int k = 3; k < 5; k++) {
    char c = s[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* A run of <0xNN> tokens becomes its bytes when they are valid UTF-8, else one U+FFFD each. */
static lr_status flush_bytes(lr_buf *run, toks *out, lr_err *err) {
  lr_status rc = LR_OK;
  if (run->len == 0)
    return LR_OK;
  if (lr_utf8_valid_prefix(run->buf, run->len) == run->len)
    rc = toks_push(out, run->buf, run->len, err);
  else
    for (size_t k = 0; rc == LR_OK && k < run->len; k++)
      rc = toks_push(out, "\xEF\xBF\xBD", 3, err);
  lr_buf_reset(run);
  return rc;
}

static lr_status dec_byte_fallback(const toks *in, toks *out, lr_err *err) {
  lr_buf run = LR_BUF_INIT;
  lr_status rc = LR_OK;
  for (size_t i = 0; rc == LR_OK && i < in->n; i++) {
    int b = byte_token(TOK(in, i), in->len[i]);
    char c = (char)b;
    if (b >= 0)
      rc = lr_buf_add(&run, &c, 1, err);
    else if ((rc = flush_bytes(&run, out, err)) == LR_OK)
      rc = toks_push(out, TOK(in, i), in->len[i], err);
  }
  if (rc == LR_OK)
    rc = flush_bytes(&run, out, err);
  lr_buf_release(&run);
  return rc;
}

static lr_status dec_fuse(const toks *in, toks *out, lr_err *err) {
  return toks_push(out, in->buf.buf, in->buf.len, err);
}

/* Up to strip_start leading and strip_stop trailing copies of the character go. */
static lr_status dec_strip(const tk_decoder *d, const toks *in, toks *out, lr_err *err) {
  char c[4];
  size_t cl = tk_utf8_encode(d->strip_char, c);
  for (size_t i = 0; i < in->n; i++) {
    const char *s = TOK(in, i);
    size_t a = 0, e = in->len[i];
    for (size_t k = 0; k < d->strip_start && e - a >= cl && memcmp(s + a, c, cl) == 0; k++)
      a += cl;
    for (size_t k = 0; k < d->strip_stop && e - a >= cl && memcmp(s + e - cl, c, cl) == 0; k++)
      e -= cl;
    if (toks_push(out, s + a, e - a, err) != LR_OK)
      return LR_ENOMEM;
  }
  return LR_OK;
}

static lr_status dec_replace(tk_decoder *d, const toks *in, toks *out, lr_err *err) {
  for (size_t i = 0; i < in->n; i++) {
    const char *s = TOK(in, i);
    size_t n = in->len[i], from = 0, prev = 0, ms, me;
    int32_t cp;
    int r = 0;
    if (toks_begin(out, err) != LR_OK)
      return LR_ENOMEM;
    while (from <= n && (r = tk_pattern_find(&d->pattern, s, n, from, &ms, &me)) > 0) {
      if (me == ms) {
        if (ms >= n)
          break;
        from = ms + tk_utf8_next(s + ms, n - ms, &cp);
        continue;
      }
      if (lr_buf_add(&out->buf, s + prev, ms - prev, err) != LR_OK ||
          lr_buf_add(&out->buf, d->content, d->content_len, err) != LR_OK)
        return LR_ENOMEM;
      prev = from = me;
      r = 0;
    }
    if (r < 0)
      return tk_regex_error(r, err);
    if (lr_buf_add(&out->buf, s + prev, n - prev, err) != LR_OK)
      return LR_ENOMEM;
    toks_end(out);
  }
  return LR_OK;
}

static lr_status decode_step(lr_tokenizer *t, tk_decoder *d, const toks *in, toks *out,
                             lr_err *err) {
  toks_clear(out);
  switch (d->kind) {
  case DEC_BYTELEVEL: return dec_byte_level(t, in, out, err);
  case DEC_METASPACE: return dec_metaspace(d, in, out, err);
  case DEC_BYTEFALLBACK: return dec_byte_fallback(in, out, err);
  case DEC_FUSE: return dec_fuse(in, out, err);
  case DEC_STRIP: return dec_strip(d, in, out, err);
  case DEC_REPLACE: return dec_replace(d, in, out, err);
  }
  return LR_OK;
}

/* ---- the entry point ----------------------------------------------------------------------------- */

lr_status lr_tokenizer_decode(lr_tokenizer *t, const int32_t *ids, size_t n, char **out_text,
                              lr_err *err) {
  toks a = {.buf = LR_BUF_INIT}, b = {.buf = LR_BUF_INIT}, *in = &a, *nx = &b;
  lr_buf text = LR_BUF_INIT;
  lr_status rc = LR_OK;
  lr_err local;
  if (err == NULL) {
    lr_err_init(&local);
    err = &local;
  }
  *out_text = NULL;
  for (size_t i = 0; rc == LR_OK && i < n; i++) {
    const char *p = lr_tokenizer_piece(t, ids[i]);
    if (p == NULL)
      rc = lr_fail(err, LR_EINVAL, "id %ld at position %zu is not a token of the vocabulary "
                   "(size %zu)", (long)ids[i], i, t->n_pieces);
    else
      rc = toks_push(in, p, t->added_of_id[ids[i]] >= 0 ? t->added[t->added_of_id[ids[i]]].len
                                                        : t->piece_len[ids[i]], err);
  }
  for (size_t i = 0; rc == LR_OK && t->has_decoder && i < t->n_decs; i++) {
    rc = decode_step(t, &t->decs[i], in, nx, err);
    toks *swap = in;
    in = nx;
    nx = swap;
  }
  for (size_t i = 0; rc == LR_OK && i < in->n; i++)
    if ((!t->has_decoder && i > 0 && (rc = lr_buf_add(&text, " ", 1, err)) != LR_OK) ||
        (rc = lr_buf_add(&text, TOK(in, i), in->len[i], err)) != LR_OK)
      break;
  toks_release(&a);
  toks_release(&b);
  if (rc == LR_OK && (*out_text = lr_buf_detach(&text, NULL)) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory decoding");
  lr_buf_release(&text);
  return rc;
}
