/*
 * utf8.h: the one UTF-8 validator, RFC 3629 strict (no overlong forms, no surrogates, nothing
 * above U+10FFFF), as Rust's str and Hugging Face's tokenizers accept it.
 */
#ifndef LORENS_UTF8_H
#define LORENS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid character starting at s[0] (n > 0), or 0 if none starts there; then
 * *bad (if not NULL) gets the length of the maximal invalid subpart, the bytes one U+FFFD
 * replaces in a lossy conversion (Unicode 3.9, as String::from_utf8_lossy does). */
size_t lr_utf8_char_len(const char *s, size_t n, size_t *bad);

/* Length of the longest valid UTF-8 prefix of s[0..n) (n when all of it is valid). */
size_t lr_utf8_valid_prefix(const char *s, size_t n);

/* Whether all of s[0..n) is valid UTF-8. */
bool lr_utf8_valid(const char *s, size_t n);

#endif /* LORENS_UTF8_H */
