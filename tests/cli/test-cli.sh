#!/bin/sh
# test-cli.sh: the `lorens` command line: version, help, dispatch and exit statuses.
. "$TOP_SRCDIR/tests/tap.sh"

run "$LORENS" --version
is "$status" 0 "--version exits 0"
like "$out" "lorens " "--version names the program"
like "$out" "backend ABI: 1." "--version gives the backend ABI"
like "$out" "BLAS: " "--version says which BLAS"
like "$out" "CUDA: " "--version says whether CUDA is built"
like "$out" "SQLite: 3." "--version gives the SQLite it runs with"
version_out=$out
run "$LORENS" version
is "$out" "$version_out" "'lorens version' prints the same as --version"
if [ "$LORENS_HAVE_CUDA" = yes ]; then
  like "$version_out" "CUDA: yes (toolkit " "a CUDA build says so, with the toolkit version"
else
  like "$version_out" "CUDA: no" "a build without CUDA says so"
fi

run "$LORENS"
is "$status" 2 "no command is a usage error (2)"
like "$err" "usage: lorens" "and prints the usage on stderr"

run "$LORENS" --help
is "$status" 0 "--help exits 0"
for cmd in help version backends model-info; do
  like "$out" "  $cmd " "--help lists '$cmd'"
done
like "$out" "Exit status: 0 success, 1 runtime failure, 2 usage error" "--help documents exit statuses"

run "$LORENS" help backends
is "$status" 0 "help backends exits 0"
like "$out" "usage: lorens backends" "help backends gives its usage"
like "$out" "LORENS_BACKEND_PATH" "help backends explains the search path"
help_out=$out
run "$LORENS" backends --help
is "$out" "$help_out" "'backends --help' is 'help backends'"

run "$LORENS" help nosuch
is "$status" 2 "help for an unknown command is a usage error"
run "$LORENS" help bakends
like "$err" "did you mean 'backends'?" "help suggests the nearest command"

run "$LORENS" backnds
is "$status" 2 "an unknown command is a usage error"
like "$err" "'backnds' is not a lorens command (did you mean 'backends'?)" "with a suggestion"
run "$LORENS" frobnicate
like "$err" "'frobnicate' is not a lorens command; see 'lorens help'" "no suggestion when nothing is close"

run "$LORENS" --bogus
is "$status" 2 "an unknown global option is a usage error"
like "$err" "unknown option '--bogus'" "naming the option"

run "$LORENS" version extra
is "$status" 2 "version takes no arguments"
run "$LORENS" backends --format xml
is "$status" 2 "a bad --format is a usage error"
like "$err" "--format must be one of text|json, not 'xml'" "naming the value"
run "$LORENS" backends --nope
is "$status" 2 "an unknown command option is a usage error"
like "$err" "unknown option '--nope'" "naming the option"
like "$err" "usage: lorens backends" "followed by the usage"
run "$LORENS" backends stray
is "$status" 2 "a stray argument is a usage error"

done_testing
