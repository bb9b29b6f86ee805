/*
 * error.h: status codes and the error context every fallible core function takes.
 *
 * Functions return an lr_status and record what went wrong in a caller-owned lr_err.  The first
 * failure recorded wins, so a cleanup path that fails after the real error cannot hide it; callers
 * that know more context (which file, which run) add it in front with lr_err_prefix().  Nothing
 * below main() exits the process.
 *
 * lr_status is the ABI's lorens_status (plugins/include/lorens/backend.h): one append-only list of
 * codes for the core, the plugins and the database.
 */
#ifndef LORENS_ERROR_H
#define LORENS_ERROR_H

#include <stdio.h>

#include <lorens/backend.h>

typedef lorens_status lr_status;

/* Core spellings of the ABI's codes. */
#define LR_OK LORENS_OK
#define LR_ENOMEM LORENS_ENOMEM
#define LR_EIO LORENS_EIO
#define LR_EPARSE LORENS_EPARSE
#define LR_EINVAL LORENS_EINVAL
#define LR_EABI LORENS_EABI
#define LR_EBACKEND LORENS_EBACKEND
#define LR_EUNSUPPORTED LORENS_EUNSUPPORTED
#define LR_EDEVICE LORENS_EDEVICE
#define LR_ENOTFOUND LORENS_ENOTFOUND
#define LR_EINTERRUPTED LORENS_EINTERRUPTED
#define LR_ENOSPC LORENS_ENOSPC

#define LR_ERR_MSG_MAX 1024
#define LR_ERR_FILE_MAX 512

typedef struct lr_err {
  lr_status code;              /* LR_OK until the first failure, which later ones keep */
  char file[LR_ERR_FILE_MAX];  /* where the bad input is; "" when not about a file */
  int line, col;               /* 1-based; 0 = unknown */
  char msg[LR_ERR_MSG_MAX];    /* "unknown key 'rnak' (did you mean 'rank'?)" */
} lr_err;

/* Sets *e to "no error". */
void lr_err_init(lr_err *e);

/* Records a failure unless one is already recorded; returns s either way, so callers can write
 * `return lr_fail(err, LR_EIO, "cannot open '%s': %s", path, strerror(errno));`. */
lr_status lr_fail(lr_err *e, lr_status s, const char *fmt, ...) LR_PRINTF(3, 4);

/* Like lr_fail, with the location in an input file (line and col 1-based, 0 if unknown). */
lr_status lr_fail_at(lr_err *e, lr_status s, const char *file, int line, int col,
                     const char *fmt, ...) LR_PRINTF(6, 7);

/* Puts context in front of the recorded message: "loading model: " + msg.  No-op without one. */
void lr_err_prefix(lr_err *e, const char *fmt, ...) LR_PRINTF(2, 3);

/* Static text for a status, never NULL ("unknown status" for values from a newer lorens). */
const char *lr_strerror(lr_status s);

/* The symbolic name of a status ("EPARSE"), never NULL. */
const char *lr_status_name(lr_status s);

/* Writes "file:line:col: msg" (omitting what is unknown) into buf, always NUL-terminated. */
void lr_err_format(const lr_err *e, char *buf, size_t n);

/* Prints "lorens: error: file:line:col: msg" and a newline to fp. */
void lr_err_print(const lr_err *e, FILE *fp);

/* The status of a failed write, create or rename from its errno: LR_ENOSPC for a full disk or
 * quota (ENOSPC, EDQUOT), which a run treats as an interruption to retry, LR_EIO otherwise. */
lr_status lr_io_status(int errnum);

#endif /* LORENS_ERROR_H */
