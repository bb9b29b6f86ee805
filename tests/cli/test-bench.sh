#!/bin/sh
# test-bench.sh: `lorens bench train` on a tiny shape: it runs, reports what it promises, and
# refuses bad options clearly.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
[ -f "$cpu/cpu.so" ] || skip_all "the CPU backend is not built"
tiny="--dim 16 --layers 1 --heads 2 --hidden 24 --vocab 50 --seq 8 --batch 2 --rank 2 --steps 3 --warmup 1 --threads 1"

# shellcheck disable=SC2086
run "$LORENS" bench train --backend-dir "$cpu" $tiny --members 2 --format json
is "$status" 0 "bench train runs on a tiny model"
for key in tokens_per_s gflops mfu peak_rss_mb peak_gflops median_step_s step_s; do
  like "$out" "\"$key\"" "the JSON has $key"
done
if command -v python3 >/dev/null 2>&1; then
  printf '%s' "$out" > "$tap_tmp/bench.json"
  steps=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["step_s"]), d["members"], d["tokens_per_s"] > 0)' "$tap_tmp/bench.json")
  is "$steps" "3 2 True" "three timed steps of two members, positive throughput"
else
  skip "python3 not installed" "the JSON parses"
fi
# shellcheck disable=SC2086
run "$LORENS" bench train --backend-dir "$cpu" $tiny
like "$out" "tokens/s: " "the text report gives tokens/s"
like "$out" "MFU: " "and MFU"

run "$LORENS" bench train --dim abc
is "$status" 2 "a non-numeric dimension is a usage error"
like "$err" "--dim must be an integer in [2, 65536], not 'abc'" "naming the option and the range"
run "$LORENS" bench train --targets q,vv
like "$err" "unknown LoRA target 'vv' (did you mean 'v'?)" "a mistyped target gets a suggestion"
run "$LORENS" bench infer
like "$err" "unknown benchmark 'infer' (there is: train)" "an unknown benchmark is named"
run "$LORENS" bench train --backend nosuch --backend-dir "$cpu" $tiny
is "$status" 1 "an unknown backend is a runtime failure"
like "$err" "no backend named 'nosuch'" "naming the backend"
# A backend of ABI 1.0 has no peak_gflops: its descriptor ends before the field, which is never
# read; the throughput is still reported, and the peak is said to be unknown.
fault="$TOP_BUILDDIR/tests/plugins/fault/.libs"
# shellcheck disable=SC2086
run "$LORENS" bench train --backend fault-v1-0 --backend-dir "$fault" $tiny --format json
is "$status" 0 "bench trains through a 1.0 plugin"
like "$out" '"peak_gflops": null' "its peak is null in the JSON"
like "$out" '"mfu": null' "and so is its MFU"
# shellcheck disable=SC2086
run "$LORENS" bench train --backend fault-v1-0 --backend-dir "$fault" $tiny
like "$out" "tokens/s: " "the text report gives tokens/s"
like "$out" "peak: unknown (backend 'fault-v1-0' (ABI 1.0" "and says why the peak is unknown"
# shellcheck disable=SC2086
run "$LORENS" bench train --backend fault-v1-0 --backend-dir "$fault" $tiny --peak 100
like "$out" "MFU: " "with --peak given, MFU is reported"

run "$LORENS" bench train --backend-dir "$cpu" --dim 10 --heads 4
like "$err" "bad model shape" "a shape that does not split into heads is refused"
done_testing
