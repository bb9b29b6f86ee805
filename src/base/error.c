/*
 * error.c: the lr_err context (see error.h).
 */
#include "compat.h"

#include <errno.h>

#include <stdarg.h>
#include <string.h>

#include "base/error.h"

void lr_err_init(lr_err *e) {
  memset(e, 0, sizeof *e);
}

static lr_status record(lr_err *e, lr_status s, const char *file, int line, int col,
                        const char *fmt, va_list ap) LR_PRINTF(6, 0);
static lr_status record(lr_err *e, lr_status s, const char *file, int line, int col,
                        const char *fmt, va_list ap) {
  if (e == NULL || e->code != LR_OK)
    return s;
  e->code = s;
  snprintf(e->file, sizeof e->file, "%s", file ? file : "");
  e->line = line;
  e->col = col;
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  return s;
}

lr_status lr_fail(lr_err *e, lr_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(e, s, NULL, 0, 0, fmt, ap);
  va_end(ap);
  return s;
}

lr_status lr_fail_at(lr_err *e, lr_status s, const char *file, int line, int col,
                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(e, s, file, line, col, fmt, ap);
  va_end(ap);
  return s;
}

void lr_err_prefix(lr_err *e, const char *fmt, ...) {
  char prefix[LR_ERR_MSG_MAX];
  size_t np, nm;
  va_list ap;
  if (e == NULL || e->code == LR_OK)
    return;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* Keep as much of both as fits, the prefix first; the tail of the message is what goes. */
  np = strlen(prefix);
  nm = strlen(e->msg);
  if (np + nm >= sizeof e->msg)
    nm = sizeof e->msg - 1 - np;
  memmove(e->msg + np, e->msg, nm);
  memcpy(e->msg, prefix, np);
  e->msg[np + nm] = '\0';
}

static const struct {
  const char *name, *text;
} status_table[] = {
#define STATUS_ROW(name, value, text) [value] = {#name, text},
    LORENS_STATUS_MAP(STATUS_ROW)
#undef STATUS_ROW
};

const char *lr_strerror(lr_status s) {
  if ((unsigned)s >= LR_ARRAY_LEN(status_table) || status_table[s].text == NULL)
    return "unknown status";
  return status_table[s].text;
}

const char *lr_status_name(lr_status s) {
  if ((unsigned)s >= LR_ARRAY_LEN(status_table) || status_table[s].name == NULL)
    return "EUNKNOWN";
  return status_table[s].name;
}

void lr_err_format(const lr_err *e, char *buf, size_t n) {
  const char *msg = e->msg[0] ? e->msg : lr_strerror(e->code);
  if (n == 0)
    return;
  if (e->file[0] && e->line > 0 && e->col > 0)
    snprintf(buf, n, "%s:%d:%d: %s", e->file, e->line, e->col, msg);
  else if (e->file[0] && e->line > 0)
    snprintf(buf, n, "%s:%d: %s", e->file, e->line, msg);
  else if (e->file[0])
    snprintf(buf, n, "%s: %s", e->file, msg);
  else
    snprintf(buf, n, "%s", msg);
}

void lr_err_print(const lr_err *e, FILE *fp) {
  char buf[LR_ERR_FILE_MAX + LR_ERR_MSG_MAX + 32];
  lr_err_format(e, buf, sizeof buf);
  fprintf(fp, "lorens: error: %s\n", buf);
}

lr_status lr_io_status(int errnum) {
#ifdef EDQUOT
  if (errnum == EDQUOT)
    return LR_ENOSPC;
#endif
  return errnum == ENOSPC ? LR_ENOSPC : LR_EIO;
}
