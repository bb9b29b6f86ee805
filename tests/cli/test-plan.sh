#!/bin/sh
# test-plan.sh: `lorens plan` on the example grid and on small grids written here: text and JSON
# output, located errors, exit statuses.
. "$TOP_SRCDIR/tests/tap.sh"

example="$TOP_SRCDIR/experiments/example-grid.yaml"

# Usage errors exit 2.
run "$LORENS" plan
is "$status" 2 "no grid file is a usage error"
like "$err" "missing the grid file" "saying what is missing"
like "$err" "usage: lorens plan GRID.yaml [OPTIONS]" "with the usage"
run "$LORENS" plan "$example" --format yaml
is "$status" 2 "a bad --format"
like "$err" "--format must be one of text|json, not 'yaml'" "is named"
run "$LORENS" plan "$example" extra.yaml
is "$status" 2 "a second file"
like "$err" "unexpected argument 'extra.yaml'" "is refused"
run "$LORENS" plan --bogus "$example"
is "$status" 2 "an unknown option"
run "$LORENS" help plan
is "$status" 0 "help plan exits 0"
like "$out" "docs/grid.md" "and points to the schema"
run "$LORENS" help
like "$out" "plan" "plan is listed in lorens help"

# The example grid.
run "$LORENS" plan "$example"
is "$status" 0 "the example grid is valid"
like "$out" "sweep:  example-arc-easy" "names the sweep"
like "$out" "runs:   7" "counts the runs"
like "$out" "axes:   lora.rank, regularizer.kl.weight, train.lr, seed" "lists the axes"
like "$out" "run_key       lora.rank  regularizer.kl.weight  train.lr  seed" "a header row"
is "$(printf '%s\n' "$out" | grep -cE '^[0-9a-f]{12}  ')" 7 "one row per run"
like "$out" "16         0.0                    0.0001    7" "the include row"

# A mapping-valued axis is shown by the leaves that differ between its values, not as JSON.
run "$LORENS" plan "$TOP_SRCDIR/experiments/demo.yaml"
is "$status" 0 "the demo grid is valid"
like "$out" "run_key       regularizer                        seed" "its axes"
like "$out" "  kl.weight=0.0 weight_decay.b=0.0   0" "no regularizer, as its varying leaves"
like "$out" "  kl.weight=0.1 weight_decay.b=0.0   1" "the KL penalty"
like "$out" "  kl.weight=0.0 weight_decay.b=50.0  0" "weight decay on B"
run "$LORENS" plan "$TOP_SRCDIR/experiments/paper.yaml"
like "$out" "eval=[csqa-dev,mmlu-stem,mmlu-social] train=csqa validation=csqa-val" \
  "data sets inside a mapping axis are shown by name"

cd "$tap_tmp" || exit 1
cat >g.yaml <<'YAML'
name: small
model: models/m
data: {train: {path: data/train.jsonl}}
grid:
  lora.rank: [4, 8]
  data.train: [{path: a.jsonl}, {path: b.jsonl, format: obqa}]
YAML
run "$LORENS" plan g.yaml
is "$status" 0 "a small grid"
like "$out" "runs:   4" "2 x 2 runs"
like "$out" "4          a" "data sets show by name"

run "$LORENS" plan g.yaml --format json
is "$status" 0 "JSON output"
json=$out
like "$json" '{"name":"small","runs":4,"axes":["lora.rank","data.train"],"cells":[' "JSON header"
is "$(printf '%s\n' "$json" | grep -c '^{"run_key":"[0-9a-f]\{64\}","axes":{"data.train":{')" 4 "one line per cell"
like "$json" '"axes":{"data.train":{"format":"arc","group":null,"limit":0,"name":"a","path":"a.jsonl","split":null,"subjects":null},"lora.rank":4},"config":{"backend":"cpu"' "axes and the canonical config"
if command -v python3 >/dev/null 2>&1; then
  printf '%s\n' "$json" >plan.json
  python3 - plan.json <<'PY' >check.out 2>&1
import hashlib, json, sys
doc = json.load(open(sys.argv[1]))
assert doc["runs"] == len(doc["cells"]) == 4
for c in doc["cells"]:
    canon = json.dumps(c["config"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == c["run_key"], c["run_key"]
print("ok")
PY
  is "$(cat check.out)" "ok" "the JSON parses and each run_key is the SHA-256 of its config"
else
  skip "no python3" "run_keys recomputed"
fi

# Comments and formatting do not change run_keys.
cat >g2.yaml <<'YAML'
# the same sweep, written differently
name: renamed
data:
  train:
    path: "data/train.jsonl"   # quoted
model: models/m
grid:
  lora.rank: [4, 8]
  data.train:
    - {format: arc, path: a.jsonl}
    - {path: b.jsonl, format: obqa, limit: 0}
runtime: {jobs: 4}
YAML
"$LORENS" plan g.yaml --format json | grep -o '"run_key":"[0-9a-f]*"' >keys1
"$LORENS" plan g2.yaml --format json | grep -o '"run_key":"[0-9a-f]*"' >keys2
is "$(cat keys1)" "$(cat keys2)" "the same run_keys whatever the formatting, name and runtime"

# Errors exit 1 with file:line:col and the key path.
cat >bad.yaml <<'YAML'
name: bad
model: m
data: {train: {path: a.jsonl}}
lora:
  rnak: 8
YAML
run "$LORENS" plan bad.yaml
is "$status" 1 "an invalid grid exits 1"
is "$err" "lorens: error: bad.yaml:5:3: lora.rnak: unknown key 'rnak' (did you mean 'rank'?)" "the error is located"
is "$out" "" "and nothing is printed on stdout"
printf 'name: bad\nmodel: m\ndata: {train: {path: a.jsonl}}\ngrid:\n  lora.rank: [4, 0]\n' >bad2.yaml
run "$LORENS" plan bad2.yaml --format json
is "$status" 1 "a bad grid value exits 1"
is "$err" "lorens: error: bad2.yaml:5:18: grid.lora.rank[1]: must be an integer in [1, 4096], not 0" "pointing at the value"
run "$LORENS" plan missing.yaml
is "$status" 1 "a missing file exits 1"
like "$err" "missing.yaml: cannot open" "and says so"

done_testing
