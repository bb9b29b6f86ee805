/*
 * buf.c: the growable string and the array growth helper (see buf.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

const char lr_buf_empty[1] = "";

void lr_buf_init(lr_buf *b, size_t max) {
  b->buf = (char *)lr_buf_empty;
  b->len = 0;
  b->alloc = 0;
  b->max = max < LR_BUF_NO_MAX ? max : LR_BUF_NO_MAX;
  b->status = LR_OK;
}

void lr_buf_release(lr_buf *b) {
  if (b->alloc)
    free(b->buf);
  lr_buf_init(b, b->max);
}

void lr_buf_reset(lr_buf *b) {
  b->status = LR_OK;
  lr_buf_setlen(b, 0);
}

/* Frees the text and makes the failure stick (curl's dynbuf frees itself on failure too: a
 * half-built text is never handed on by mistake). */
static lr_status buf_fail(lr_buf *b, lr_status s, lr_err *err, size_t want) {
  size_t max = b->max;
  lr_buf_release(b);
  b->status = s;
  if (s == LR_ENOMEM)
    return lr_fail(err, s, "out of memory (%zu bytes of text)", want);
  return lr_fail(err, s, "text longer than %zu bytes", max);
}

lr_status lr_buf_grow(lr_buf *b, size_t extra, lr_err *err) {
  size_t cap, need;
  char *p;
  if (b->status != LR_OK)
    return lr_fail(err, b->status, "text abandoned after an earlier failure");
  if (extra > b->max - b->len)
    return buf_fail(b, LR_EINVAL, err, 0);
  need = b->len + extra + 1;
  if (need <= b->alloc)
    return LR_OK;
  for (cap = b->alloc ? b->alloc : 64; cap < need; cap *= 2)
    ;
  if ((p = realloc(b->alloc ? b->buf : NULL, cap)) == NULL)
    return buf_fail(b, LR_ENOMEM, err, cap);
  if (b->alloc == 0)
    p[0] = '\0';
  b->buf = p;
  b->alloc = cap;
  return LR_OK;
}

void lr_buf_setlen(lr_buf *b, size_t len) {
  b->len = len;
  if (b->alloc) /* else len is 0 and buf the read-only "" */
    b->buf[len] = '\0';
}

lr_status lr_buf_add(lr_buf *b, const void *data, size_t n, lr_err *err) {
  if (lr_buf_grow(b, n, err) != LR_OK)
    return b->status;
  if (n)
    memcpy(b->buf + b->len, data, n);
  lr_buf_setlen(b, b->len + n);
  return LR_OK;
}

lr_status lr_buf_adds(lr_buf *b, const char *s, lr_err *err) {
  return lr_buf_add(b, s, strlen(s), err);
}

lr_status lr_buf_addch(lr_buf *b, char c, lr_err *err) {
  return lr_buf_add(b, &c, 1, err);
}

lr_status lr_buf_vaddf(lr_buf *b, lr_err *err, const char *fmt, va_list ap) {
  va_list again;
  int n;
  /* Try the room there is first; only a text that does not fit is formatted twice. */
  if (lr_buf_grow(b, 0, err) != LR_OK)
    return b->status;
  va_copy(again, ap);
  n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
  if (n >= 0 && (size_t)n > b->max - b->len) /* it fitted the room, but not under the cap */
    buf_fail(b, LR_EINVAL, err, 0);
  else if (n >= 0 && (size_t)n >= b->alloc - b->len) {
    if (lr_buf_grow(b, (size_t)n, err) == LR_OK)
      vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, again);
  }
  va_end(again);
  if (b->status != LR_OK)
    return b->status;
  if (n < 0) {
    b->buf[b->len] = '\0';
    return lr_fail(err, LR_EINVAL, "cannot format '%s'", fmt);
  }
  lr_buf_setlen(b, b->len + (size_t)n);
  return LR_OK;
}

lr_status lr_buf_addf(lr_buf *b, lr_err *err, const char *fmt, ...) {
  va_list ap;
  lr_status rc;
  va_start(ap, fmt);
  rc = lr_buf_vaddf(b, err, fmt, ap);
  va_end(ap);
  return rc;
}

char *lr_buf_detach(lr_buf *b, size_t *len) {
  char *s;
  if (b->status != LR_OK)
    return NULL;
  if (lr_buf_grow(b, 0, NULL) != LR_OK)
    return NULL;
  s = b->buf;
  if (len)
    *len = b->len;
  lr_buf_init(b, b->max);
  return s;
}

lr_status lr_grow(void *items, size_t *cap, size_t need, size_t size, lr_err *err) {
  void *p;
  size_t c = *cap ? *cap : 8;
  if (need <= *cap)
    return LR_OK;
  while (c < need && c <= SIZE_MAX / 2)
    c *= 2;
  if (c < need || (size && c > SIZE_MAX / size))
    c = need; /* doubling would overflow: ask for just what is needed */
  if (size && c > SIZE_MAX / size)
    return lr_fail(err, LR_EINVAL, "an array of %zu elements of %zu bytes is too large", need,
                   size);
  /* items holds some T *; its representation is that of a void * on every target lorens
   * supports, and memcpy keeps the compiler's aliasing rules out of it. */
  memcpy(&p, items, sizeof p);
  if ((p = realloc(p, size ? c * size : 1)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (%zu elements of %zu bytes)", c, size);
  memcpy(items, &p, sizeof p);
  *cap = c;
  return LR_OK;
}
