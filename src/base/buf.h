/*
 * buf.h: the one growable string (struct lr_buf) and the one array growth helper (lr_grow).
 *
 * lr_buf keeps git strbuf's invariants, so callers never test for NULL or terminate by hand:
 *
 *   - after lr_buf_init (or = LR_BUF_INIT) buf is never NULL: it points at a shared empty string
 *     until the first append, and must not be written through while alloc is 0;
 *   - buf[len] is always '\0', and len is the length (the text may hold NULs of its own);
 *   - lr_buf_detach hands the malloc'd text to the caller and leaves the buffer empty.
 *
 * From curl's dynbuf it takes a size cap: an append that would make len exceed max fails with
 * LR_EINVAL (LR_ENOMEM when malloc fails) instead of growing without bound.  A failure frees the
 * text and sticks: later appends fail with the same status, so a builder can append many pieces
 * and check once at the end (lr_buf_add returns the status too, and records it in err if given).
 */
#ifndef LORENS_BUF_H
#define LORENS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct lr_buf {
  char *buf;        /* never NULL after init; NUL-terminated at buf[len] */
  size_t len;       /* bytes of text */
  size_t alloc;     /* bytes malloc'd at buf; 0 while buf is the shared empty string */
  size_t max;       /* len never exceeds this */
  lr_status status; /* LR_OK until an append fails; then the buffer stays empty */
} lr_buf;

/* Read-only: what an empty lr_buf points at, so that buf need not be NULL before the first
 * allocation (git's strbuf_slopbuf, but const). */
extern const char lr_buf_empty[1];

/* No cap beyond what size_t arithmetic allows. */
#define LR_BUF_NO_MAX (SIZE_MAX / 2)
#define LR_BUF_INIT {(char *)lr_buf_empty, 0, 0, LR_BUF_NO_MAX, LR_OK}

/* Makes b empty, with a cap of max bytes (LR_BUF_NO_MAX for none).  Allocates nothing. */
void lr_buf_init(lr_buf *b, size_t max);
/* Frees the text and leaves b as lr_buf_init(b, b->max) would. */
void lr_buf_release(lr_buf *b);
/* Empties b, keeping its memory for reuse, and clears a failure. */
void lr_buf_reset(lr_buf *b);

/* Makes room for extra more bytes (and the NUL) after len, so that buf[len .. len + extra] can
 * be written directly (then lr_buf_setlen).  Always leaves alloc > 0. */
lr_status lr_buf_grow(lr_buf *b, size_t extra, lr_err *err);
/* Sets len (at most alloc - 1 after lr_buf_grow; 0 before it) and writes the NUL after it. */
void lr_buf_setlen(lr_buf *b, size_t len);

/* Appends n bytes (data may be NULL when n is 0).  err may be NULL. */
lr_status lr_buf_add(lr_buf *b, const void *data, size_t n, lr_err *err);
lr_status lr_buf_adds(lr_buf *b, const char *s, lr_err *err);
lr_status lr_buf_addch(lr_buf *b, char c, lr_err *err);
lr_status lr_buf_addf(lr_buf *b, lr_err *err, const char *fmt, ...) LR_PRINTF(3, 4);
lr_status lr_buf_vaddf(lr_buf *b, lr_err *err, const char *fmt, va_list ap) LR_PRINTF(3, 0);

/* The text, now the caller's to free (never NULL unless malloc fails; then b's status says
 * LR_ENOMEM); *len gets its length if len is not NULL.  b is left empty, as after init.
 * After a failed append it returns NULL. */
char *lr_buf_detach(lr_buf *b, size_t *len);

/* Makes room for need elements of size bytes in the array at *items (a pointer to any object
 * pointer, e.g. &v->items) of *cap elements, doubling the capacity (at least 8) so that n
 * appends cost O(n) copying.  Nothing changes on failure: LR_ENOMEM, or LR_EINVAL when
 * need * size would overflow.  err may be NULL. */
lr_status lr_grow(void *items, size_t *cap, size_t need, size_t size, lr_err *err);

/* lr_grow for an array pointer and its capacity named directly: LR_GROW(v->a, v->cap, n + 1, err). */
#define LR_GROW(items, cap, need, err) lr_grow(&(items), &(cap), (need), sizeof *(items), (err))

#endif /* LORENS_BUF_H */
