# lorens-fuzz.m4: --enable-fuzzers, libFuzzer builds of the targets in tests/fuzz.

# LR_FUZZERS: with --enable-fuzzers, every object is compiled with libFuzzer's coverage
# instrumentation plus ASan and UBSan (fuzzer-no-link: only the fuzz programs link libFuzzer's
# main, through FUZZ_LDFLAGS), and tests/fuzz/fuzz-* are built.  The compiler must be clang with
# its fuzzer runtime; configure stops with what to install and how to call it otherwise.
AC_DEFUN([LR_FUZZERS], [
  AC_ARG_ENABLE([fuzzers],
    [AS_HELP_STRING([--enable-fuzzers],
      [build the libFuzzer targets in tests/fuzz (needs CC=clang)])],
    [], [enable_fuzzers=no])
  FUZZ_LDFLAGS=
  AS_IF([test "x$enable_fuzzers" = xyes], [
    lr_fuzz_cflags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
    lr_save_CFLAGS=$CFLAGS
    lr_save_LDFLAGS=$LDFLAGS
    CFLAGS="$CFLAGS -fsanitize=fuzzer,address,undefined"
    LDFLAGS="$LDFLAGS -fsanitize=fuzzer,address,undefined"
    AC_MSG_CHECKING([whether $CC can build libFuzzer targets])
    AC_LINK_IFELSE([AC_LANG_SOURCE([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return data && size > 1 ? 0 : 0; }
]])], [AC_MSG_RESULT([yes])], [
      AC_MSG_RESULT([no])
      AC_MSG_ERROR([--enable-fuzzers needs a compiler with libFuzzer: $CC cannot link with -fsanitize=fuzzer,address,undefined.
  Configure with CC=clang; on Debian or Ubuntu: apt-get install clang libclang-rt-dev libomp-dev])])
    CFLAGS=$lr_save_CFLAGS
    LDFLAGS=$lr_save_LDFLAGS
    LR_CFLAGS="$LR_CFLAGS $lr_fuzz_cflags"
    LR_LDFLAGS="$LR_LDFLAGS -fsanitize=address,undefined"
    FUZZ_LDFLAGS="-fsanitize=fuzzer"
    AC_DEFINE([LORENS_FUZZING], [1], [Define to 1 in a libFuzzer build.])
  ])
  AC_SUBST([FUZZ_LDFLAGS])
  AM_CONDITIONAL([ENABLE_FUZZERS], [test "x$enable_fuzzers" = xyes])
])
