# lorens-cuda.m4: optional CUDA toolchain for the CUDA backend.
#
# --with-cuda=DIR uses DIR/bin/nvcc; --with-cuda (or no option) looks for nvcc on PATH, then in
# /usr/local/cuda; --without-cuda skips it.  Asking for CUDA explicitly makes a missing or broken
# toolchain an error; auto-detection only reports it.  The probe compiles a real .cu file and links
# cudart and cuBLAS from C, because that is exactly what the backend build does.
#
# Output: NVCC, NVCC_ARCHFLAGS (precious), CUDA_CFLAGS, CUDA_LIBS, AM_CONDITIONAL HAVE_CUDA.

AC_DEFUN([LR_CHECK_CUDA], [
  AC_ARG_WITH([cuda],
    [AS_HELP_STRING([--with-cuda@<:@=DIR@:>@],
      [build the CUDA backend (default: auto-detect nvcc on PATH or in /usr/local/cuda)])],
    [], [with_cuda=check])
  AC_ARG_VAR([NVCC], [the CUDA compiler])
  AC_ARG_VAR([NVCC_ARCHFLAGS], [nvcc flags choosing GPU architectures (default: sm_80, sm_90 and compute_90 PTX)])
  AS_IF([test "x$NVCC_ARCHFLAGS" = x],
    [NVCC_ARCHFLAGS="-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90"])

  lr_cuda_ok=no
  lr_cuda_summary=no
  lr_cuda_why=
  AS_CASE([$with_cuda],
    [no], [lr_cuda_why="disabled with --without-cuda"],
    [yes|check], [
      AS_IF([test "x$NVCC" = x], [AC_PATH_PROG([NVCC], [nvcc], [], [$PATH:/usr/local/cuda/bin])])],
    [NVCC=$with_cuda/bin/nvcc])

  AS_IF([test "x$with_cuda" != xno], [
    AS_IF([test "x$NVCC" = x || test ! -x "$NVCC"], [lr_cuda_why="nvcc not found"], [
      lr_cuda_dir=`dirname "$NVCC"`
      lr_cuda_dir=`cd "$lr_cuda_dir/.." && pwd`
      AS_IF([test -d "$lr_cuda_dir/lib64"], [lr_cuda_libdir=$lr_cuda_dir/lib64], [lr_cuda_libdir=$lr_cuda_dir/lib])
      lr_cuda_version=`"$NVCC" --version 2>/dev/null | sed -n 's/.*release \(@<:@0-9.@:>@*\).*/\1/p'`

      AC_MSG_CHECKING([whether $NVCC compiles position-independent device code])
      cat > conftest.cu <<_LR_EOF
__global__ void lr_probe(float *x) { x[[threadIdx.x]] += 1.0f; }
extern "C" int lr_probe_launch(float *x) { lr_probe<<<1, 1>>>(x); return 0; }
_LR_EOF
      AS_IF([$NVCC $NVCC_ARCHFLAGS -Xcompiler -fPIC -c conftest.cu -o conftest.$OBJEXT >&AS_MESSAGE_LOG_FD 2>&1],
        [AC_MSG_RESULT([yes])],
        [AC_MSG_RESULT([no]); lr_cuda_why="$NVCC cannot compile a .cu file (see config.log)"])
      rm -f conftest.cu conftest.$OBJEXT

      AS_IF([test "x$lr_cuda_why" = x], [
        # -isystem: the CUDA headers are not clean under our warning set (-Wundef).
        CUDA_CFLAGS="-isystem $lr_cuda_dir/include"
        # nvcc emits C++: the module links the C++ runtime that its objects need.
        CUDA_LIBS="-L$lr_cuda_libdir -Wl,-rpath,$lr_cuda_libdir -lcublas -lcudart -lstdc++"
        lr_save_CPPFLAGS=$CPPFLAGS
        lr_save_LIBS=$LIBS
        CPPFLAGS="$CPPFLAGS $CUDA_CFLAGS"
        LIBS="$CUDA_LIBS $LIBS"
        AC_MSG_CHECKING([whether cudart and cuBLAS link from C])
        AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <cuda_runtime_api.h>
#include <cublas_v2.h>]],
            [[int n = 0; cublasHandle_t h; cudaGetDeviceCount(&n); cublasCreate(&h); cublasDestroy(h);]])],
          [AC_MSG_RESULT([yes]); lr_cuda_ok=yes],
          [AC_MSG_RESULT([no]); lr_cuda_why="cudart/cuBLAS from $lr_cuda_libdir do not link (see config.log)"])
        CPPFLAGS=$lr_save_CPPFLAGS
        LIBS=$lr_save_LIBS
      ])
    ])
  ])

  AS_IF([test "x$lr_cuda_ok" = xyes], [
    lr_cuda_summary="yes (CUDA $lr_cuda_version, $NVCC)"
    AC_DEFINE([LORENS_HAVE_CUDA], [1], [Define to 1 when the CUDA backend is built.])
    AC_DEFINE_UNQUOTED([LORENS_CUDA_VERSION], ["$lr_cuda_version"], [The CUDA toolkit version built against.])
  ], [
    AS_IF([test "x$with_cuda" != xcheck && test "x$with_cuda" != xno],
      [AC_MSG_ERROR([CUDA was asked for (--with-cuda=$with_cuda) but $lr_cuda_why.
  On Debian: install the CUDA toolkit (nvidia-cuda-toolkit) or pass --with-cuda=DIR])])
    lr_cuda_summary="no ($lr_cuda_why)"
    CUDA_CFLAGS=
    CUDA_LIBS=
  ])
  HAVE_CUDA_VALUE=$lr_cuda_ok
  AC_SUBST([HAVE_CUDA_VALUE])
  AC_SUBST([CUDA_CFLAGS])
  AC_SUBST([CUDA_LIBS])
  AM_CONDITIONAL([HAVE_CUDA], [test "x$lr_cuda_ok" = xyes])
])
