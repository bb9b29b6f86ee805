#!/bin/sh
# test-out-of-tree-plugin.sh: a third party builds a backend from the installed header alone, and
# lorens loads it.  The header must also compile as strict C99 and as C++.
. "$TOP_SRCDIR/tests/tap.sh"
# The ABI version the plugins here were built with: the installed header's.
abi=1.$(sed -n 's/^#define LORENS_BACKEND_ABI_MINOR \([0-9]*\)$/\1/p' "$TOP_SRCDIR/plugins/include/lorens/backend.h")

cc=${CC:-cc}
inc="$TOP_SRCDIR/plugins/include"
command -v "${cc%% *}" >/dev/null 2>&1 || skip_all "no C compiler ($cc)"

printf '#include <lorens/backend.h>\nint main(void) { return LORENS_BACKEND_ABI_MAJOR - 1; }\n' > "$tap_tmp/c99.c"
run $cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tap_tmp/c99.c" -o "$tap_tmp/c99.o"
is "$status" 0 "backend.h compiles as strict C99"
[ "$status" = 0 ] || diag "$err"

if command -v c++ >/dev/null 2>&1; then
  cp "$tap_tmp/c99.c" "$tap_tmp/cxx.cc"
  run c++ -Wall -Wextra -Werror -I"$inc" -c "$tap_tmp/cxx.cc" -o "$tap_tmp/cxx.o"
  is "$status" 0 "backend.h compiles as C++"
else
  skip "no C++ compiler" "backend.h compiles as C++"
fi

mkdir "$tap_tmp/plugins"
run $cc -shared -fPIC -fvisibility=hidden -DPLUGIN_GOOD -I"$inc" \
  "$TOP_SRCDIR/tests/plugins/test-plugin.c" -o "$tap_tmp/plugins/third-party.so"
is "$status" 0 "a plugin builds out of tree from the header alone"
[ "$status" = 0 ] || diag "$err"
run "$LORENS" backends --backend-dir "$tap_tmp/plugins"
like "$out" "testgood ABI $abi  version 0.0-test  usable: test device ready" "and lorens loads it"
like "$out" "$tap_tmp/plugins/third-party.so" "from where it was put"
done_testing
