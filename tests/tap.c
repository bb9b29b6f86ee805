/*
 * tap.c: the TAP producer (see tap.h).  Test-only code: it keeps its counters in file statics,
 * which the rest of lorens never does.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int n_run, n_failed;

static bool report(bool pass, const char *fmt, va_list ap) {
  n_run++;
  if (!pass)
    n_failed++;
  printf("%s %d - ", pass ? "ok" : "not ok", n_run);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  return pass;
}

bool tap_ok(bool cond, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  return cond;
}

bool tap_is_int(long long got, long long want, const char *fmt, ...) {
  va_list ap;
  bool pass = got == want;
  va_start(ap, fmt);
  report(pass, fmt, ap);
  va_end(ap);
  if (!pass)
    tap_diag("got %lld, want %lld", got, want);
  return pass;
}

bool tap_is_str(const char *got, const char *want, const char *fmt, ...) {
  va_list ap;
  bool pass = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
  va_start(ap, fmt);
  report(pass, fmt, ap);
  va_end(ap);
  if (!pass)
    tap_diag("got '%s', want '%s'", got ? got : "(null)", want ? want : "(null)");
  return pass;
}

bool tap_like(const char *got, const char *needle, const char *fmt, ...) {
  va_list ap;
  bool pass = got && needle && strstr(got, needle) != NULL;
  va_start(ap, fmt);
  report(pass, fmt, ap);
  va_end(ap);
  if (!pass)
    tap_diag("'%s' does not contain '%s'", got ? got : "(null)", needle ? needle : "(null)");
  return pass;
}

bool tap_is_near(double got, double want, double abs_tol, double rel_tol, const char *fmt, ...) {
  va_list ap;
  bool pass = isfinite(got) && fabs(got - want) <= abs_tol + rel_tol * fabs(want);
  va_start(ap, fmt);
  report(pass, fmt, ap);
  va_end(ap);
  if (!pass)
    tap_diag("got %.9g, want %.9g (abs tol %g, rel tol %g)", got, want, abs_tol, rel_tol);
  return pass;
}

void tap_skip(const char *reason, const char *fmt, ...) {
  va_list ap;
  n_run++;
  printf("ok %d - ", n_run);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf(" # SKIP %s\n", reason);
  fflush(stdout);
}

void tap_diag(const char *fmt, ...) {
  va_list ap;
  printf("# ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

void tap_skip_all(const char *reason) {
  printf("1..0 # SKIP %s\n", reason);
  fflush(stdout);
  exit(0);
}

int tap_done(void) {
  printf("1..%d\n", n_run);
  if (n_failed)
    tap_diag("%d of %d tests failed", n_failed, n_run);
  fflush(stdout);
  return n_failed ? 1 : 0;
}
