/*
 * canonical-json.h: one text per JSON value, so that equal configurations hash equally.
 *
 * The canonical form of a value is JSON with object keys sorted bytewise, no whitespace,
 * integers in decimal, strings escaped as jansson escapes them (UTF-8 kept as is), and reals in
 * the shortest "%.{p}g" form (p = 1..17) that reads back as the same double, except that an
 * integral real below 1e15 in magnitude is written in full with ".0" (16.0, 100.0, -0.0 as 0.0):
 * 1e-4 and 0.0001 both become "0.0001", 1e-5 becomes "1e-05", 2.5e20 "2.5e+20", 1e15 "1e+15".
 * Non-finite reals have no JSON form and are refused.
 */
#ifndef LORENS_CANONICAL_JSON_H
#define LORENS_CANONICAL_JSON_H

#include <stddef.h>

#include <jansson.h>

/* Room for any real lr_format_real writes. */
#define LR_REAL_TEXT_MAX 32

/* The canonical text of v as a new NUL-terminated string (*len bytes before the NUL, len may be
 * NULL); NULL when out of memory or when v holds a non-finite real. */
char *lr_json_canonical(const json_t *v, size_t *len);

/* Writes a finite real in the canonical form above; returns false (buf = "") if d is not finite. */
int lr_format_real(double d, char buf[LR_REAL_TEXT_MAX]);

#endif /* LORENS_CANONICAL_JSON_H */
