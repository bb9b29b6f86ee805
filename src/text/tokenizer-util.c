/*
 * tokenizer-util.c: the small containers and text helpers the tokenizer files share (see
 * tokenizer-internal.h): the token -> id tables, UTF-8 walking and repair, and PCRE2 matching.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "text/tokenizer-internal.h"

/* ---- token -> id tables ---------------------------------------------------------------------- */

bool tk_vocab_eq(const void *ctx, size_t id, const void *key, size_t len) {
  const lr_tokenizer *t = ctx;
  return t->piece_len[id] == len && memcmp(t->pieces[id], key, len) == 0;
}

bool tk_added_eq(const void *ctx, size_t index, const void *key, size_t len) {
  const tk_added *a = &((const lr_tokenizer *)ctx)->added[index];
  return a->len == len && memcmp(a->content, key, len) == 0;
}

int32_t tk_vocab_id(const lr_tokenizer *t, const char *s, size_t n) {
  size_t id = lr_hashmap_find(&t->vocab, lr_hash(s, n), s, n);
  return id == LR_HASHMAP_NONE ? -1 : (int32_t)id;
}

int32_t tk_added_id(const lr_tokenizer *t, const char *s, size_t n) {
  size_t i = lr_hashmap_find(&t->added_map, lr_hash(s, n), s, n);
  return i == LR_HASHMAP_NONE ? -1 : t->added[i].id;
}

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

size_t tk_utf8_next(const char *s, size_t n, int32_t *cp) {
  const uint8_t *u = (const uint8_t *)s;
  if (n == 0) {
    *cp = 0;
    return 0;
  }
  if (u[0] < 0x80 || n < 2) {
    *cp = u[0];
    return 1;
  }
  if (u[0] < 0xE0) {
    *cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    return 2;
  }
  if (u[0] < 0xF0 && n >= 3) {
    *cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    return 3;
  }
  if (n >= 4) {
    *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return 4;
  }
  *cp = u[0];
  return 1;
}

size_t tk_utf8_encode(int32_t cp, char *out) {
  uint8_t *o = (uint8_t *)out;
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | (cp >> 6));
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | (cp >> 18));
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

lr_status tk_append_lossy(lr_buf *out, const char *s, size_t n, lr_err *err) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, start = 0, k, m;
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    if ((k = lr_utf8_char_len(s + i, n - i, &m)) > 0) {
      i += k;
      continue;
    }
    if (lr_buf_add(out, s + start, i - start, err) != LR_OK ||
        lr_buf_add(out, "\xEF\xBF\xBD", 3, err) != LR_OK)
      return err->code;
    i += m;
    start = i;
  }
  return lr_buf_add(out, s + start, n - start, err);
}

/* ---- regular expressions ---------------------------------------------------------------------- */

lr_status tk_regex_compile(tk_regex *re, const char *pattern, size_t len, const char *file,
                           const char *where, lr_err *err) {
  int code;
  PCRE2_SIZE off;
  re->md = NULL;
  re->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
  if (re->code == NULL) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    return lr_fail_at(err, LR_EPARSE, file, 0, 0, "%s: bad regex at offset %zu: %s", where,
                      (size_t)off, (const char *)msg);
  }
  /* JIT is an optimisation: where it is not available the interpreter gives the same matches. */
  (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
  re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
  if (re->md == NULL) {
    pcre2_code_free(re->code);
    re->code = NULL;
    return lr_fail(err, LR_ENOMEM, "out of memory (regex match data)");
  }
  return LR_OK;
}

/* Text handed to the matcher is valid UTF-8 (checked on entry to encode), so PCRE2's own check
 * is skipped; it would otherwise rescan the subject on every call, quadratic over a long text. */
int tk_regex_find(tk_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
  int rc;
  PCRE2_SIZE *ov;
  if (from > n)
    return 0;
  rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, re->md, NULL);
  if (rc == PCRE2_ERROR_NOMATCH)
    return 0;
  if (rc < 0) /* a match or depth limit: the caller fails rather than split differently */
    return rc;
  ov = pcre2_get_ovector_pointer(re->md);
  if (ov[1] > ov[0] || ov[0] < n) {
    *ms = ov[0];
    *me = ov[1];
    return 1;
  }
  return 0;
}

lr_status tk_regex_error(int rc, lr_err *err) {
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(rc, msg, sizeof msg);
  return lr_fail(err, LR_EINVAL, "regex matching failed: %s", (const char *)msg);
}

void tk_regex_release(tk_regex *re) {
  pcre2_match_data_free(re->md);
  pcre2_code_free(re->code);
  re->md = NULL;
  re->code = NULL;
}

void tk_pattern_release(tk_pattern *p) {
  free(p->literal);
  p->literal = NULL;
  if (p->kind == PAT_REGEX)
    tk_regex_release(&p->re);
}

int tk_pattern_find(tk_pattern *p, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
  if (p->kind == PAT_REGEX)
    return tk_regex_find(&p->re, s, n, from, ms, me);
  if (p->literal_len == 0 || from >= n)
    return 0;
  const char *hit = memmem(s + from, n - from, p->literal, p->literal_len);
  if (hit == NULL)
    return 0;
  *ms = (size_t)(hit - s);
  *me = *ms + p->literal_len;
  return 1;
}
