/*
 * cli-args.h: strict parsing of numeric command-line values.
 */
#ifndef LORENS_CLI_ARGS_H
#define LORENS_CLI_ARGS_H

#include <stdbool.h>

/* Parses the whole of `text` as an integer in [lo, hi].  On failure writes "--opt must be an
 * integer in [lo, hi], not 'text'" into msg and returns false. */
bool lr_parse_int(const char *opt, const char *text, long lo, long hi, long *out, char *msg,
                  size_t msg_len);
bool lr_parse_double(const char *opt, const char *text, double lo, double hi, double *out,
                     char *msg, size_t msg_len);

#endif /* LORENS_CLI_ARGS_H */
