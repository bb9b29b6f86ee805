#!/bin/sh
# test-plugin-exports.sh: each built backend exports its entry symbol and nothing else, so that
# plugins cannot clash with each other or with the host (see STYLE: check-exports).
. "$TOP_SRCDIR/tests/tap.sh"

command -v nm >/dev/null 2>&1 || skip_all "nm not installed"
found=0
for so in "$TOP_BUILDDIR"/plugins/*/.libs/*.so; do
  [ -f "$so" ] || continue
  found=1
  syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort | tr '\n' ' ')
  is "$syms" "lorens_backend_v1 " "$(basename "$so") exports only lorens_backend_v1"
done
[ "$found" = 1 ] || skip_all "no backend plugins were built"
done_testing
