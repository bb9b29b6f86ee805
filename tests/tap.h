/*
 * tap.h: a small Test Anything Protocol producer for the C tests.
 *
 * Each test program prints "ok N - name" / "not ok N - name" lines and a plan at the end
 * (tap_done), read by automake's tap-driver.sh.  A program whose inputs are missing calls
 * tap_skip_all("why"), which prints "1..0 # SKIP why".  Failures print the got/want values as
 * TAP diagnostics ("# ...").
 */
#ifndef LORENS_TAP_H
#define LORENS_TAP_H

#include <stdbool.h>

#if defined(__GNUC__) || defined(__clang__)
#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TAP_PRINTF(a, b)
#endif

/* Each returns whether the check passed. */
bool tap_ok(bool cond, const char *fmt, ...) TAP_PRINTF(2, 3);
bool tap_is_int(long long got, long long want, const char *fmt, ...) TAP_PRINTF(3, 4);
bool tap_is_str(const char *got, const char *want, const char *fmt, ...) TAP_PRINTF(3, 4);
/* got contains needle. */
bool tap_like(const char *got, const char *needle, const char *fmt, ...) TAP_PRINTF(3, 4);
/* |got - want| <= abs_tol + rel_tol * |want| */
bool tap_is_near(double got, double want, double abs_tol, double rel_tol, const char *fmt, ...)
    TAP_PRINTF(5, 6);
void tap_skip(const char *reason, const char *fmt, ...) TAP_PRINTF(2, 3);
void tap_diag(const char *fmt, ...) TAP_PRINTF(1, 2);

/* Prints "1..0 # SKIP reason" and exits 0; only before any test ran. */
void tap_skip_all(const char *reason) __attribute__((noreturn));

/* Prints the plan; returns the exit status for main (0 if every test passed). */
int tap_done(void);

#endif /* LORENS_TAP_H */
