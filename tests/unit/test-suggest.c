/*
 * test-suggest.c: edit distance and "did you mean".
 */
#include "compat.h"

#include <stdint.h>

#include "base/suggest.h"
#include "../tap.h"

int main(void) {
  static const char *const keys[] = {"rank", "alpha", "dropout", "targets", "rslora"};
  char long_word[100];

  tap_is_int((long long)lr_edit_distance("", ""), 0, "empty strings are equal");
  tap_is_int((long long)lr_edit_distance("rank", "rank"), 0, "identical");
  tap_is_int((long long)lr_edit_distance("rank", "rnak"), 1, "a transposition costs 1");
  tap_is_int((long long)lr_edit_distance("kitten", "sitting"), 3, "kitten/sitting is 3");
  tap_is_int((long long)lr_edit_distance("", "abc"), 3, "insertions");
  for (size_t i = 0; i < sizeof long_word - 1; i++)
    long_word[i] = 'x';
  long_word[sizeof long_word - 1] = '\0';
  tap_ok(lr_edit_distance(long_word, "x") == SIZE_MAX, "overlong words are never close");

  tap_is_str(lr_suggest("rnak", keys, 5), "rank", "a transposed key");
  tap_is_str(lr_suggest("dropot", keys, 5), "dropout", "a dropped letter");
  tap_is_str(lr_suggest("target", keys, 5), "targets", "a missing plural");
  tap_ok(lr_suggest("learning_rate", keys, 5) == NULL, "nothing close: no suggestion");
  tap_ok(lr_suggest("xy", keys, 5) == NULL, "short words need a near match");
  tap_ok(lr_suggest("rank", keys, 0) == NULL, "no candidates");
  return tap_done();
}
