/*
 * cli-args.c: strict numeric option values (see cli-args.h).  strtol/strtod alone accept "12abc"
 * and silently saturate; these reject anything but a whole, in-range number.
 */
#include "compat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-args.h"

bool lr_parse_int(const char *opt, const char *text, long lo, long hi, long *out, char *msg,
                  size_t msg_len) {
  char *end = NULL;
  long v;
  errno = 0;
  v = strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < lo || v > hi) {
    snprintf(msg, msg_len, "%s must be an integer in [%ld, %ld], not '%s'", opt, lo, hi, text);
    return false;
  }
  *out = v;
  return true;
}

bool lr_parse_double(const char *opt, const char *text, double lo, double hi, double *out,
                     char *msg, size_t msg_len) {
  char *end = NULL;
  double v;
  errno = 0;
  v = strtod(text, &end);
  if (errno || end == text || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
    snprintf(msg, msg_len, "%s must be a number in [%g, %g], not '%s'", opt, lo, hi, text);
    return false;
  }
  *out = v;
  return true;
}
