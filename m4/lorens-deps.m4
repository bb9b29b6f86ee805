# lorens-deps.m4: required dependencies, each failing with the Debian package that provides it.

# LR_REQUIRE_PKG(VAR, MODULES, DEBIAN-PACKAGE, HUMAN-NAME)
# Finds MODULES with pkg-config into VAR_CFLAGS/VAR_LIBS; users may still set those two by hand,
# as PKG_CHECK_MODULES allows, to point at a copy without a .pc file.
AC_DEFUN([LR_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [], [
    AC_MSG_ERROR([$4 not found: pkg-config could not find '$2'.
  On Debian or Ubuntu: apt-get install $3
  Or set $1_CFLAGS and $1_LIBS to its compiler and linker flags.
  pkg-config said: $$1_PKG_ERRORS])
  ])
])

# LR_REQUIRE_LIBDL: dlopen() for backend plugins (in libc on glibc >= 2.34, in libdl before).
AC_DEFUN([LR_REQUIRE_LIBDL], [
  AC_CHECK_HEADER([dlfcn.h], [],
    [AC_MSG_ERROR([dlfcn.h not found: on Debian or Ubuntu: apt-get install libc6-dev])])
  lr_save_LIBS=$LIBS
  AC_SEARCH_LIBS([dlopen], [dl], [],
    [AC_MSG_ERROR([dlopen() not found: on Debian or Ubuntu: apt-get install libc6-dev])])
  DL_LIBS=$LIBS
  LIBS=$lr_save_LIBS
  AS_IF([test "x$DL_LIBS" = "x$LIBS"], [DL_LIBS=], [DL_LIBS=${DL_LIBS%" $LIBS"}])
  AC_SUBST([DL_LIBS])
])

# LR_REQUIRE_OPENMP: the CPU backend parallelises with OpenMP.
AC_DEFUN([LR_REQUIRE_OPENMP], [
  AC_OPENMP
  AS_IF([test "x$ac_cv_prog_c_openmp" = xunsupported || test "x$ac_cv_prog_c_openmp" = x],
    [AC_MSG_ERROR([the C compiler does not support OpenMP: on Debian or Ubuntu: apt-get install gcc (libgomp1)])])
  AS_IF([test "x$ac_cv_prog_c_openmp" != "xnone needed"],
    [AC_DEFINE([LORENS_HAVE_OPENMP], [1], [Define to 1 when the compiler supports OpenMP.])])
])
