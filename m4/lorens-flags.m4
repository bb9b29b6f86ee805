# lorens-flags.m4: compiler flag probes, warnings and sanitizers.

# LR_ADD_CFLAG(FLAG, VAR): append FLAG to VAR when the C compiler accepts it without a warning.
AC_DEFUN([LR_ADD_CFLAG], [
  AS_VAR_PUSHDEF([lr_cv], [lr_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [lr_cv], [
    lr_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([lr_cv], [yes])],
      [AS_VAR_SET([lr_cv], [no])])
    CFLAGS=$lr_save_CFLAGS])
  AS_VAR_IF([lr_cv], [yes], [$2="$$2 $1"])
  AS_VAR_POPDEF([lr_cv])
])

# LR_WARN_CFLAGS: the warning set every lorens file compiles clean under.
AC_DEFUN([LR_WARN_CFLAGS], [
  for lr_flag in -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
      -Wformat=2 -Wpointer-arith -Wvla -Wundef -Wno-unused-parameter; do
    LR_ADD_CFLAG([$lr_flag], [LR_WARN])
  done
])

# LR_SANITIZERS: --enable-sanitizers builds everything with AddressSanitizer and UBSan, and makes
# any UB report fatal so that a test run cannot pass over it.
AC_DEFUN([LR_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers], [build with AddressSanitizer and UndefinedBehaviorSanitizer])],
    [], [enable_sanitizers=no])
  AS_IF([test "x$enable_sanitizers" = xyes], [
    lr_san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    lr_save_CFLAGS=$CFLAGS
    lr_save_LDFLAGS=$LDFLAGS
    CFLAGS="$CFLAGS $lr_san"
    LDFLAGS="$LDFLAGS $lr_san"
    AC_MSG_CHECKING([whether $CC can build with $lr_san])
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [AC_MSG_RESULT([yes])], [
      AC_MSG_RESULT([no])
      AC_MSG_ERROR([the compiler cannot build with sanitizers: on Debian or Ubuntu: apt-get install gcc (libasan, libubsan)])])
    CFLAGS=$lr_save_CFLAGS
    LDFLAGS=$lr_save_LDFLAGS
    LR_CFLAGS="$LR_CFLAGS $lr_san"
    LR_LDFLAGS="$LR_LDFLAGS $lr_san"
    AC_DEFINE([LORENS_SANITIZERS], [1], [Define to 1 in an ASan/UBSan build.])
  ])
])
