/*
 * compat.h: included first by every lorens source file.
 *
 * It brings in config.h (feature macros from configure, including _GNU_SOURCE through
 * AC_USE_SYSTEM_EXTENSIONS) before any system header can be read without them, and holds the few
 * portability helpers the whole tree shares.
 */
#ifndef LORENS_COMPAT_H
#define LORENS_COMPAT_H

#include <config.h>

#include <stddef.h>

/* lorens reads UTF-8 only: every pcre2.h include gets the 8-bit API. */
#define PCRE2_CODE_UNIT_WIDTH 8

#define LR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define LR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define LR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define LR_PRINTF(fmt, args)
#define LR_WARN_UNUSED
#endif

/* Exit statuses of the lorens program (documented in `lorens help`). */
enum { LR_EXIT_OK = 0, LR_EXIT_FAILURE = 1, LR_EXIT_USAGE = 2 };

#endif /* LORENS_COMPAT_H */
