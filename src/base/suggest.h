/*
 * suggest.h: "did you mean" for mistyped names (commands, grid keys, options).
 */
#ifndef LORENS_SUGGEST_H
#define LORENS_SUGGEST_H

#include <stddef.h>

/* Edit distance (insertions, deletions, substitutions and adjacent transpositions) between a and
 * b, both shorter than 64 bytes; longer strings compare as SIZE_MAX apart. */
size_t lr_edit_distance(const char *a, const char *b);

/* The candidate closest to `word`, if it is close enough to be a plausible typo (at most a third
 * of the word's length, and at least 1); NULL otherwise. */
const char *lr_suggest(const char *word, const char *const *candidates, size_t n);

#endif /* LORENS_SUGGEST_H */
