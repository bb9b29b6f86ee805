#!/bin/sh
# tests/check.sh [--sanitizers] [CONFIGURE-ARGS...]: build lorens out of tree and run every test.
#
# The README's test command and what .ci/run calls.  Builds in _build/check (or _build/sanitizers
# with --sanitizers, an ASan + UBSan build) so the two never share objects, runs `make check`, and
# prints automake's counts as one line: "N passed, N failed, N skipped".  Exits non-zero if the
# build or any test failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
name=check
flags="--enable-werror"
if [ "${1:-}" = "--sanitizers" ]; then
  shift
  name=sanitizers
  flags="$flags --enable-sanitizers"
fi
jobs=$(nproc 2>/dev/null || echo 2)

cd "$top" || exit 1
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi || { echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "_build/$name" && cd "_build/$name" || exit 1
# shellcheck disable=SC2086
if ! "$top/configure" $flags "$@" >configure.out 2>&1; then
  tail -n 30 configure.out
  echo "configure failed; see _build/$name/config.log"
  echo "0 passed, 1 failed"
  exit 1
fi
make -j"$jobs" >make.out 2>&1 || { tail -n 40 make.out; echo "0 passed, 1 failed"; exit 1; }
make -j"$jobs" check
rc=$?
count() { sed -n "s/^# $1: *\([0-9]*\)$/\1/p" test-suite.log 2>/dev/null | head -n 1; }
if [ ! -f test-suite.log ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
# test-suite.log lists only failures; the counts come from make's summary.
make check 2>/dev/null | sed -n 's/^# \([A-Z]*\): *\([0-9]*\)$/\1 \2/p' > summary.txt
pass=$(awk '$1=="PASS"||$1=="XFAIL"{s+=$2} END{print s+0}' summary.txt)
fail=$(awk '$1=="FAIL"||$1=="XPASS"||$1=="ERROR"{s+=$2} END{print s+0}' summary.txt)
skip=$(awk '$1=="SKIP"{s+=$2} END{print s+0}' summary.txt)
[ "$rc" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1
echo "$pass passed, $fail failed, $skip skipped"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
