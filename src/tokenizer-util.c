/*
 * tokenizer-util.c: the small containers and text helpers the tokenizer files share (see
 * tokenizer-internal.h): growable strings, a string -> id hash table, UTF-8 walking and repair,
 * and PCRE2 matching.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer-internal.h"

/* ---- tk_str ----------------------------------------------------------------------------------- */

lr_status tk_str_reserve(tk_str *s, size_t extra, lr_err *err) {
  size_t need = s->n + extra + 1, cap = s->cap ? s->cap : 64;
  char *p;
  if (need <= s->cap)
    return LR_OK;
  while (cap < need)
    cap *= 2;
  if ((p = realloc(s->p, cap)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (%zu bytes of text)", cap);
  s->p = p;
  s->cap = cap;
  return LR_OK;
}

lr_status tk_str_append(tk_str *s, const char *data, size_t n, lr_err *err) {
  if (tk_str_reserve(s, n, err) != LR_OK)
    return err->code;
  if (n)
    memcpy(s->p + s->n, data, n);
  s->n += n;
  s->p[s->n] = '\0';
  return LR_OK;
}

void tk_str_release(tk_str *s) {
  free(s->p);
  memset(s, 0, sizeof *s);
}

/* ---- tk_map ----------------------------------------------------------------------------------- */

/* FNV-1a, then a final mix so that the low bits used as the slot index depend on every byte. */
uint64_t tk_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

lr_status tk_map_init(tk_map *m, size_t expected, lr_err *err) {
  size_t cap = 16;
  while (cap < expected * 2)
    cap *= 2;
  m->slots = calloc(cap, sizeof *m->slots);
  m->mask = cap - 1;
  m->count = 0;
  if (m->slots == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (a table of %zu tokens)", expected);
  return LR_OK;
}

static lr_status map_grow(tk_map *m, lr_err *err) {
  size_t cap = (m->mask + 1) * 2;
  tk_map_slot *slots = calloc(cap, sizeof *slots);
  if (slots == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (a table of %zu tokens)", m->count);
  for (size_t i = 0; i <= m->mask; i++) {
    size_t j;
    if (m->slots[i].key == NULL)
      continue;
    for (j = m->slots[i].hash & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
      ;
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->mask = cap - 1;
  return LR_OK;
}

lr_status tk_map_put(tk_map *m, const char *key, size_t len, int32_t value, lr_err *err) {
  uint64_t h = tk_hash(key, len);
  size_t i;
  if ((m->count + 1) * 2 > m->mask + 1 && map_grow(m, err) != LR_OK)
    return err->code;
  for (i = h & m->mask; m->slots[i].key; i = (i + 1) & m->mask)
    if (m->slots[i].hash == h && m->slots[i].len == len && memcmp(m->slots[i].key, key, len) == 0) {
      m->slots[i].value = value;
      return LR_OK;
    }
  m->slots[i] = (tk_map_slot){key, (uint32_t)len, value, h};
  m->count++;
  return LR_OK;
}

int32_t tk_map_get(const tk_map *m, const char *key, size_t len) {
  uint64_t h = tk_hash(key, len);
  if (m->slots == NULL)
    return -1;
  for (size_t i = h & m->mask; m->slots[i].key; i = (i + 1) & m->mask)
    if (m->slots[i].hash == h && m->slots[i].len == len && memcmp(m->slots[i].key, key, len) == 0)
      return m->slots[i].value;
  return -1;
}

void tk_map_release(tk_map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

/* Length of the valid sequence starting at s[0], or 0 if s[0] does not start one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF).  *maximal gets the length of the
 * maximal invalid subpart when it is invalid (for U+FFFD substitution). */
static size_t utf8_seq(const uint8_t *s, size_t n, size_t *maximal) {
  uint8_t c = s[0], lo = 0x80, hi = 0xBF;
  size_t need, i;
  *maximal = 1;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    need = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else
    return 0;
  for (i = 1; i < need; i++) {
    if (i >= n || s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF)) {
      *maximal = i;
      return 0;
    }
  }
  return need;
}

size_t tk_utf8_valid_prefix(const char *s, size_t n) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, k, m;
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    if ((k = utf8_seq(u + i, n - i, &m)) == 0)
      return i;
    i += k;
  }
  return n;
}

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

lr_status tk_append_lossy(tk_str *out, const char *s, size_t n, lr_err *err) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, start = 0, k, m;
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    if ((k = utf8_seq(u + i, n - i, &m)) > 0) {
      i += k;
      continue;
    }
    if (tk_str_append(out, s + start, i - start, err) != LR_OK ||
        tk_str_append(out, "\xEF\xBF\xBD", 3, err) != LR_OK)
      return err->code;
    i += m;
    start = i;
  }
  return tk_str_append(out, s + start, n - start, err);
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
