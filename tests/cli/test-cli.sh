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

# ---- every command's options: one table parses them and writes the help ------------------------
# The long options a command accepts, read from its table in src/cli/cmd-NAME.c (the first string of
# each entry is the name); kinds that take a value when $2 is "value".
table_options() {
  kinds='[A-Z]+'
  [ "$2" = value ] && kinds='(STRING|STRINGS|INT|DOUBLE|CHOICE)'
  grep -E "LR_ARG_$kinds\\(" "$TOP_SRCDIR/src/cli/cmd-$1.c" | grep -v LR_ARG_END |
    sed -E 's/^[^"]*"([^"]*)".*/\1/'
}

commands=$("$LORENS" help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }')
like "$commands" "worker" "lorens help lists the commands"
for cmd in $commands; do
  run "$LORENS" "$cmd" --help
  is "$status" 0 "'$cmd --help' exits 0"
  like "$out" "usage: lorens $cmd" "'$cmd --help' starts with the usage"
  help_out=$out
  for opt in $(table_options "$cmd"); do
    like "$help_out" "--$opt" "'$cmd --help' lists --$opt"
  done
  # slurm dispatches to actions, each with its own table (below).
  case $cmd in help | version | slurm) continue ;; esac
  [ -n "$(table_options "$cmd")" ]
  ok $? "'$cmd' has options in a table"
  like "$help_out" "
Options:
  " "'$cmd --help' has an Options section"
  # A value-taking option at the very end has none: every command says so the same way.
  opt=$(table_options "$cmd" value | head -n 1)
  run "$LORENS" "$cmd" "--$opt"
  is "$status" 2 "'$cmd --$opt' without a value is a usage error"
  like "$err" "lorens: $cmd: option '--$opt' needs a value
usage: lorens $cmd" "'$cmd' says --$opt needs a value, then the usage"
  run "$LORENS" "$cmd" --no-such-option
  is "$status" 2 "'$cmd --no-such-option' is a usage error"
  like "$err" "lorens: $cmd: unknown option '--no-such-option'" "'$cmd' names the unknown option"
  run "$LORENS" "$cmd" x --help
  is "$status" 0 "'$cmd x --help' prints the help too"
  is "$out" "$help_out" "the same help"
done

# The actions of `lorens slurm`, each a command of its own: src/cli/cmd-slurm-ACTION.c.
for act in submit status task; do
  run "$LORENS" slurm "$act" --help
  is "$status" 0 "'slurm $act --help' exits 0"
  like "$out" "usage: lorens slurm $act" "'slurm $act --help' starts with the usage"
  help_out=$out
  for opt in $(table_options "slurm-$act"); do
    like "$help_out" "--$opt" "'slurm $act --help' lists --$opt"
  done
  opt=$(table_options "slurm-$act" value | head -n 1)
  run "$LORENS" slurm "$act" "--$opt"
  is "$status" 2 "'slurm $act --$opt' without a value is a usage error"
  like "$err" "lorens: slurm $act: option '--$opt' needs a value
usage: lorens slurm $act" "'slurm $act' says --$opt needs a value, then the usage"
done
run "$LORENS" slurm
is "$status" 2 "'slurm' without an action is a usage error"
like "$err" "which of submit, status or task?" "and asks which"
run "$LORENS" slurm subnit
is "$status" 2 "an unknown action is a usage error"
like "$err" "unknown action 'subnit' (submit, status or task)" "naming it and the actions"

run "$LORENS" run --help
like "$out" "  --db FILE " "run --help lists --db"
like "$out" "  --backend-dir DIR " "run --help lists --backend-dir"
run "$LORENS" run g.yaml --db x.db --thread 2
like "$err" "unknown option '--thread' (did you mean '--threads'?)" "a near miss is suggested"
run "$LORENS" run g.yaml --db x.db --threads x
like "$err" "--threads must be an integer in [0, 4096], not 'x'" "an integer is checked"


# Output that cannot be written (here /dev/full: "No space left on device") fails the command,
# whichever it is, with the same message; it is never a silent exit 0.
if [ -w /dev/full ]; then
  full() {
    "$@" >/dev/full 2>"$tap_tmp/err"
    status=$?
    err=$(cat "$tap_tmp/err")
  }
  full "$LORENS" --version
  is "$status" 1 "--version into a full disk exits 1"
  like "$err" "lorens: version: cannot write the output: " "and says it could not write"
  full "$LORENS" --help
  is "$status" 1 "--help into a full disk exits 1"
  for cmd in help backends data status; do
    full "$LORENS" help "$cmd"
    is "$status" 1 "'help $cmd' into a full disk exits 1"
    like "$err" "lorens: help: cannot write the output: " "and says so"
  done
  full "$LORENS" data "$TOP_SRCDIR/tests/data/datasets/arc-quirks.jsonl" --format arc
  is "$status" 1 "'data' into a full disk exits 1"
  like "$err" "lorens: data: cannot write the output: " "naming the command"
  full "$LORENS" backends
  is "$status" 1 "'backends' into a full disk exits 1"
  full "$LORENS" plan "$TOP_SRCDIR/experiments/example-grid.yaml" --format json
  is "$status" 1 "'plan --format json' into a full disk exits 1"
  full "$LORENS" no-such-command
  is "$status" 2 "a usage error stays a usage error (2), whatever stdout is"
else
  skip "no writable /dev/full here" "output into a full disk"
fi

done_testing
