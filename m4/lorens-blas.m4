# lorens-blas.m4: the CBLAS the CPU backend multiplies with.
#
# --with-blas=NAME picks an implementation by its pkg-config module: openblas (the default), blis,
# netlib (the reference BLAS), or any other module name that provides the CBLAS interface.  The
# header may be cblas.h or Debian's cblas-netlib.h; whichever is found is recorded in config.h.

AC_DEFUN([LR_CHECK_BLAS], [
  AC_ARG_WITH([blas],
    [AS_HELP_STRING([--with-blas=NAME],
      [CBLAS implementation: openblas (default), blis, netlib, or a pkg-config module name])],
    [], [with_blas=openblas])
  AS_CASE([$with_blas],
    [yes|openblas], [lr_blas_name=openblas; lr_blas_pc=openblas; lr_blas_deb=libopenblas-dev],
    [blis],         [lr_blas_name=blis;     lr_blas_pc=blis;     lr_blas_deb=libblis-dev],
    [netlib|reference],
                    [lr_blas_name=netlib;   lr_blas_pc=blas-netlib; lr_blas_deb=libblas-dev],
    [no], [AC_MSG_ERROR([a CBLAS is required for the CPU backend; --without-blas is not supported])],
    [lr_blas_name=$with_blas; lr_blas_pc=$with_blas; lr_blas_deb="the -dev package of $with_blas"])

  LR_REQUIRE_PKG([BLAS], [$lr_blas_pc], [$lr_blas_deb], [BLAS '$lr_blas_name'])

  lr_save_CPPFLAGS=$CPPFLAGS
  lr_save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $BLAS_CFLAGS"
  LIBS="$BLAS_LIBS $LIBS"
  lr_blas_header=
  for lr_h in cblas.h cblas-netlib.h blis/cblas.h; do
    AC_CHECK_HEADER([$lr_h], [lr_blas_header=$lr_h; break])
  done
  AS_IF([test "x$lr_blas_header" = x],
    [AC_MSG_ERROR([BLAS '$lr_blas_name' has no CBLAS header (cblas.h): on Debian or Ubuntu: apt-get install $lr_blas_deb])])
  AC_MSG_CHECKING([whether cblas_sgemm links with $BLAS_LIBS])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <$lr_blas_header>]],
      [[float a = 1, b = 1, c = 0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([BLAS '$lr_blas_name' does not provide cblas_sgemm: on Debian or Ubuntu: apt-get install $lr_blas_deb])])
  # OpenBLAS keeps its own thread pool; the CPU backend sizes it when the function exists.
  AC_CHECK_FUNCS([openblas_set_num_threads])
  CPPFLAGS=$lr_save_CPPFLAGS
  LIBS=$lr_save_LIBS

  AC_DEFINE_UNQUOTED([LORENS_CBLAS_HEADER], [<$lr_blas_header>], [The CBLAS header to include.])
  AC_DEFINE_UNQUOTED([LORENS_BLAS_NAME], ["$lr_blas_name"], [The CBLAS implementation built against.])
])
