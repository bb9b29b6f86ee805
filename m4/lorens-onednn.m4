# lorens-onednn.m4: oneDNN, through which the CPU backend multiplies the frozen base in bf16
# (runtime precision bf16, docs/precision.md).
#
# Optional and auto-detected: --with-onednn requires it, --without-onednn leaves it out.  Without
# it the CPU backend runs precision bf16 as fp32 and `lorens backends` says why.  oneDNN 2.x
# ships no pkg-config file on Debian, so the header and the library are checked directly.

AC_DEFUN([LR_CHECK_ONEDNN], [
  AC_ARG_WITH([onednn],
    [AS_HELP_STRING([--with-onednn], [bf16 frozen products on the CPU through oneDNN (default: if found)])],
    [], [with_onednn=check])
  lr_onednn_summary="no"
  DNNL_LIBS=
  AS_IF([test "x$with_onednn" != xno], [
    lr_onednn_ok=no
    AC_CHECK_HEADER([oneapi/dnnl/dnnl.h],
      [AC_CHECK_LIB([dnnl], [dnnl_get_effective_cpu_isa], [lr_onednn_ok=yes])])
    AS_IF([test "x$lr_onednn_ok" = xyes],
      [DNNL_LIBS=-ldnnl
       lr_onednn_summary="yes (-ldnnl)"
       AC_DEFINE([HAVE_ONEDNN], [1], [Define when oneDNN is there for bf16 products on the CPU.])],
      [test "x$with_onednn" = xyes],
      [AC_MSG_ERROR([--with-onednn: oneDNN not found: on Debian or Ubuntu: apt-get install libdnnl-dev])],
      [lr_onednn_summary="no: precision bf16 runs as fp32 (apt-get install libdnnl-dev)"
       AC_MSG_WARN([oneDNN not found: the CPU backend will run precision bf16 as fp32; on Debian or Ubuntu: apt-get install libdnnl-dev])])
  ])
  AC_SUBST([DNNL_LIBS])
])
