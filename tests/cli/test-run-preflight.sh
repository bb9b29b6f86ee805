#!/bin/sh
# test-run-preflight.sh: `lorens run` checks what its runs will load before it claims any (each
# backend, model with its tokenizer, data set, and the runs directory) and fails once, naming
# every problem, its runs left pending; `lorens plan --check` runs the same checks.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
LORENS_BACKEND_PATH=$cpu
export LORENS_BACKEND_PATH

# grid NAME [YAML]...: the fixture grid over three seeds, with parts replaced (fixture.sh).
grid() {
  name=$1
  shift
  fixture_grid "$tap_tmp/$name.yaml" "$name" "$@" "grid:
  seed: [0, 1, 2]"
}

# data TRAIN EVAL: a data section with these files.
data_of() {
  printf 'data:\n  train: {format: jsonl, path: %s}\n  eval:\n    - {name: tiny, format: jsonl, path: %s}' \
    "$1" "$2"
}

# refused GRID NAME PATTERN: `lorens run` fails before claiming any run, saying PATTERN.
refused() {
  run "$LORENS" run "$1" --db "$tap_tmp/$2.db"
  is "$status" 1 "$2: run exits 1"
  like "$err" "$3" "$2: the problem is named"
  like "$err" "1 problem above: no run of sweep '$2' was started; its runs stay pending" \
    "$2: once, before any run"
  is "$(q "$tap_tmp/$2.db" "SELECT status, count(*), sum(attempts) FROM runs GROUP BY 1")" \
    "pending,3,0" "$2: the sweep's runs are registered, none claimed"
  [ ! -e "$tap_tmp/$2.db.runs" ]
  ok $? "$2: no runs directory is made"
  run "$LORENS" plan "$1" --check
  is "$status" 1 "$2: plan --check exits 1"
  like "$err" "$3" "$2: plan --check names the same problem"
}

refused "$(grid nobackend "backend: cpux")" nobackend "no backend named 'cpux' on the search path (found: cpu)"
refused "$(grid nomodel "model: $tap_tmp/no-such-model")" nomodel "$tap_tmp/no-such-model"
refused "$(grid nodata "$(data_of "$tap_tmp/missing.jsonl" "$data/tiny.jsonl")")" nodata \
  "$tap_tmp/missing.jsonl: data set 'missing': cannot open: No such file or directory"
printf '{"question": "q", "choices": ["a", "b"], "answer": 7}\n' > "$tap_tmp/bad.jsonl"
refused "$(grid baddata "$(data_of "$data/tiny.jsonl" "$tap_tmp/bad.jsonl")")" baddata \
  "$tap_tmp/bad.jsonl:1: data set 'tiny': answer 7 is out of range for 2 choices"

# Every problem of a grid at once, each named once however many runs share it.
g=$(grid several "backend: cpux" "$(data_of "$tap_tmp/missing.jsonl" "$data/tiny.jsonl")")
run "$LORENS" run "$g" --db "$tap_tmp/several.db"
is "$status" 1 "a grid with two problems fails"
like "$err" "2 problems above" "counting both"
is "$(printf '%s\n' "$err" | grep -c "no backend named 'cpux'")" "1" \
  "the backend's problem once for the three runs"

# DB.runs is a regular file: the runs could not keep their adapters.
g=$(grid runsfile)
: > "$tap_tmp/runsfile.db.runs"
run "$LORENS" run "$g" --db "$tap_tmp/runsfile.db"
is "$status" 1 "a runs directory that is a file is refused"
like "$err" "runsfile.db.runs: is not a directory" "naming it"
is "$(q "$tap_tmp/runsfile.db" "SELECT count(*) FROM runs WHERE status = 'pending'")" "3" \
  "before any run is claimed"
rm "$tap_tmp/runsfile.db.runs"
run "$LORENS" run "$g" --db "$tap_tmp/runsfile.db" --quiet
is "$status" 0 "once it is moved away, the same command runs the pending runs"

# A device index that no GPU has is refused by the grid's schema, with file:line.
g=$(grid devices "runtime: {devices: [99999999999]}")
run "$LORENS" plan "$g"
is "$status" 1 "runtime.devices: [99999999999] is refused by plan"
like "$err" "devices.yaml:13:21:" "naming file, line and column"
like "$err" "runtime.devices[0]" "and the key"

# A grid that passes is checked, then runs.
g=$(grid good)
run "$LORENS" plan "$g" --check
is "$status" 0 "plan --check passes a ready grid"
like "$err" "check: every backend, model and data set of the 3 runs is ready" "and says so"
run "$LORENS" run "$g" --db "$tap_tmp/good.db" --quiet
is "$status" 0 "and the sweep runs"

done_testing
