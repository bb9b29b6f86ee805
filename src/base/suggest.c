/*
 * suggest.c: optimal-string-alignment distance and the nearest candidate (see suggest.h).
 */
#include "compat.h"

#include <stdint.h>
#include <string.h>

#include "base/suggest.h"

#define SUGGEST_MAX 64

static size_t min3(size_t a, size_t b, size_t c) {
  size_t m = a < b ? a : b;
  return m < c ? m : c;
}

size_t lr_edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
  if (na > SUGGEST_MAX || nb > SUGGEST_MAX)
    return SIZE_MAX;
  for (size_t i = 0; i <= na; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= nb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= na; i++) {
    for (size_t j = 1; j <= nb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
        d[i][j] = d[i - 2][j - 2] + 1;
    }
  }
  return d[na][nb];
}

const char *lr_suggest(const char *word, const char *const *candidates, size_t n) {
  size_t limit = strlen(word) / 3, best = SIZE_MAX;
  const char *choice = NULL;
  if (limit < 1)
    limit = 1;
  for (size_t i = 0; i < n; i++) {
    size_t dist = lr_edit_distance(word, candidates[i]);
    if (dist < best) {
      best = dist;
      choice = candidates[i];
    }
  }
  return best <= limit ? choice : NULL;
}
