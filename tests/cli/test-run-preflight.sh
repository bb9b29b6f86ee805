#!/bin/sh
# test-run-preflight.sh: `lorens run` checks what its runs will load before it claims any (each
# backend, model with its tokenizer, data set, and the runs directory) and fails once, naming
# every problem, its runs left pending; `lorens plan --check` runs the same checks.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
data="$TOP_SRCDIR/tests/data/predict"
LORENS_BACKEND_PATH=$cpu
export LORENS_BACKEND_PATH

# grid NAME KEY=VALUE...: a small grid; MODEL, BACKEND, TRAIN, EVAL and DEVICES override parts.
grid() {
  name=$1
  shift
  MODEL=$fx BACKEND=cpu TRAIN=$data/tiny.jsonl EVAL=$data/tiny.jsonl DEVICES="[]"
  for kv in "$@"; do eval "$kv"; done
  cat > "$tap_tmp/$name.yaml" <<EOF
name: $name
model: $MODEL
tokenizer: $data/char96-tokenizer.json
backend: $BACKEND
data:
  train: {format: jsonl, path: $TRAIN}
  eval:
    - {name: tiny, format: jsonl, path: $EVAL}
prompt: {bos: false}
lora: {targets: [q, v], rank: 2, alpha: 4}
train: {batch_size: 8, epochs: 0}
ensemble: {size: 2}
runtime: {devices: $DEVICES}
grid:
  seed: [0, 1, 2]
EOF
  printf '%s' "$tap_tmp/$name.yaml"
}

q() { "$LORENS" query --db "$1" --format csv "$2" | tr -d '\r' | tail -n +2; }

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

refused "$(grid nobackend BACKEND=cpux)" nobackend "no backend named 'cpux' on the search path (found: cpu)"
refused "$(grid nomodel MODEL=$tap_tmp/no-such-model)" nomodel "$tap_tmp/no-such-model"
refused "$(grid nodata TRAIN=$tap_tmp/missing.jsonl)" nodata \
  "$tap_tmp/missing.jsonl: data set 'missing': cannot open: No such file or directory"
printf '{"question": "q", "choices": ["a", "b"], "answer": 7}\n' > "$tap_tmp/bad.jsonl"
refused "$(grid baddata EVAL=$tap_tmp/bad.jsonl)" baddata \
  "$tap_tmp/bad.jsonl:1: data set 'tiny': answer 7 is out of range for 2 choices"

# Every problem of a grid at once, each named once however many runs share it.
g=$(grid several BACKEND=cpux TRAIN=$tap_tmp/missing.jsonl)
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
g=$(grid devices "DEVICES=[99999999999]")
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
