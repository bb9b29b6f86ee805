/*
 * utf8.c: UTF-8 validation (see utf8.h).
 */
#include "compat.h"

#include <stdint.h>

#include "base/utf8.h"

size_t lr_utf8_char_len(const char *s, size_t n, size_t *bad) {
  const uint8_t *u = (const uint8_t *)s;
  uint8_t c = u[0], lo = 0x80, hi = 0xBF;
  size_t need, i;
  if (bad)
    *bad = 1;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    need = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F would be overlong */
    hi = c == 0xED ? 0x9F : 0xBF; /* ED A0..BF would be a surrogate */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    lo = c == 0xF0 ? 0x90 : 0x80; /* F0 80..8F would be overlong */
    hi = c == 0xF4 ? 0x8F : 0xBF; /* F4 90.. would be above U+10FFFF */
  } else
    return 0; /* a continuation byte, C0/C1 (always overlong) or F5..FF */
  for (i = 1; i < need; i++) {
    if (i >= n || u[i] < (i == 1 ? lo : 0x80) || u[i] > (i == 1 ? hi : 0xBF)) {
      if (bad)
        *bad = i;
      return 0;
    }
  }
  return need;
}

size_t lr_utf8_valid_prefix(const char *s, size_t n) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, k;
  while (i < n) {
    if (u[i] < 0x80) { /* the common case, without a call */
      i++;
      continue;
    }
    if ((k = lr_utf8_char_len(s + i, n - i, NULL)) == 0)
      return i;
    i += k;
  }
  return n;
}

bool lr_utf8_valid(const char *s, size_t n) {
  return lr_utf8_valid_prefix(s, n) == n;
}
