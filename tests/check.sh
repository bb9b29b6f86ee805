#!/usr/bin/env bash
# tests/check.sh [--sanitizers] [CONFIGURE-ARGS...]: build lorens out of tree and run every test.
#
# This is the README's test command and what .ci/run calls.  It builds in _build/check (or
# _build/sanitizers with --sanitizers: AddressSanitizer + UBSan) so that the two builds never
# share objects, with warnings as errors, runs `make check`, and ends with automake's counts as one
# line, "N passed, N failed, N skipped".  It exits non-zero if the build or any test failed.
set -u -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
name=check
flags=(--enable-werror)
if [ "${1:-}" = "--sanitizers" ]; then
  shift
  name=sanitizers
  # oneDNN stays out: LeakSanitizer (GCC 12) crashes scanning the dynamic TLS of its threads, and
  # its JIT code is opaque to the sanitizers anyway; precision bf16's tests skip there.
  flags+=(--enable-sanitizers --without-onednn)
fi
jobs=$(nproc 2>/dev/null || echo 2)
build="$top/_build/$name"

die() {
  echo "$1"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
}

cd "$top" || exit 1
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi || die "autoreconf failed"
fi
mkdir -p "$build" && cd "$build" || exit 1
if ! "$top/configure" "${flags[@]}" "$@" >configure.out 2>&1; then
  tail -n 30 configure.out
  die "configure failed; see $build/config.log"
fi
make -j"$jobs" >make.out 2>&1 || { tail -n 40 make.out; die "build failed; see $build/make.out"; }

make -j"$jobs" check 2>&1 | tee check.out
rc=$?
count() { awk -v k="# $1:" 'index($0, k) == 1 { s += $NF } END { print s + 0 }' check.out; }
pass=$(( $(count PASS) + $(count XFAIL) ))
fail=$(( $(count FAIL) + $(count XPASS) + $(count ERROR) ))
skip=$(count SKIP)
# A failed make with no failed test (a test that did not build, say) still counts as a failure.
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
