#!/bin/sh
# test-broken-plugins.sh: plugins whose probe crashes, hangs or calls exit() sit first on the
# search path.  `lorens backends` probes each in a child process with a time limit and names the
# broken ones by path; run, predict and pretrain, which ask for `cpu`, load cpu.so and nothing
# else, so the broken plugins never run at all; asking for a broken one is an error naming it.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"

broken="$TEST_BROKEN_PLUGIN_DIR"
[ -d "$broken" ] || skip_all "broken test plugins not built ($broken)"
probed="$tap_tmp/probed.log"
LORENS_TEST_PROBE_LOG=$probed
export LORENS_TEST_PROBE_LOG
# Every search below puts the broken plugins first.
LORENS_BACKEND_PATH="$broken:$cpu"
export LORENS_BACKEND_PATH

# ---- lorens backends ---------------------------------------------------------------------------
# 10 s: the limit covers the CPU backend too, which a busy, sanitized machine may probe slowly.
run "$LORENS" backends --probe-timeout 10
is "$status" 0 "backends lists a path of broken plugins and exits 0"
# Under AddressSanitizer a segfault is caught and reported, and the process exits 1.
if "$LORENS" version | grep -q "sanitizers: address"; then
  segv="ended its process while loading or probing (exit 1)"
else
  segv="crashed while loading or probing (signal 11 (SIGSEGV))"
fi
like "$out" "failed: $segv
           $broken/probe-segv.so" "a probe that crashes is named by path, with how it ended"
like "$out" "failed: did not answer within 10 s while loading or probing (killed" \
  "a probe that hangs is killed after the limit"
like "$out" "$broken/probe-hang.so" "and named by path"
like "$out" "failed: ended its process while loading or probing (exit 7)
           $broken/probe-exit.so" "a probe that calls exit() is named by path"
like "$out" "cpu      ABI 1." "the CPU backend after them is listed"
like "$out" "usable: " "as usable"
is "$(sort "$probed" | tr '\n' ' ')" "probe-exit probe-hang probe-segv " \
  "each broken probe ran once, in its own process"
run env LORENS_PROBE_TIMEOUT=1 "$LORENS" backends --format json
is "$status" 0 "--format json too, with the limit from LORENS_PROBE_TIMEOUT"
like "$out" '"state": "failed"' "the broken ones are failed"
like "$out" '"message": "did not answer within 1 s' "the variable set the limit"
rm -f "$probed"

# ---- commands that ask for cpu -----------------------------------------------------------------
g=$(fixture_grid "$tap_tmp/g.yaml" past-broken "train: {batch_size: 8, epochs: 1}" "grid:
  seed: [0, 1]")
run "$LORENS" run "$g" --db "$tap_tmp/g.db" --jobs 2
is "$status" 0 "a cpu sweep runs with broken plugins first on the path"
like "$err" "2 runs (2 new)" "both runs"
is "$(q "$tap_tmp/g.db" "SELECT status, count(*) FROM runs GROUP BY 1")" "done,2" "and both are done"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" \
  --data "$data/tiny.jsonl" --format jsonl --no-bos
is "$status" 0 "predict runs with broken plugins first on the path"
run "$LORENS" synth --seed 3 --out "$tap_tmp/w" --entities 8 --facts-per-entity 4 --train 10 \
  --validation 4 --test 4 --ood 4
printf 'model: {dim: 16, layers: 1, heads: 2, context: 32}\ntokenizer: {vocab_size: 280}\ntrain: {steps: 2, batch: 2, warmup: 1}\n' \
  > "$tap_tmp/tiny.yaml"
run "$LORENS" pretrain --corpus "$tap_tmp/w/corpus.txt" --config "$tap_tmp/tiny.yaml" \
  --out "$tap_tmp/pre" --threads 1
is "$status" 0 "pretrain runs with broken plugins first on the path"
[ ! -e "$probed" ]
ok $? "and none of the broken plugins' code ran in any of them"

# ---- asking for a broken one --------------------------------------------------------------------
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" \
  --data "$data/tiny.jsonl" --format jsonl --no-bos --backend probe-segv
is "$status" 1 "predict with a backend that crashes in its probe exits 1, not 139"
like "$err" "backend 'probe-segv' ($broken/probe-segv.so) $segv" \
  "naming the backend, its file and the signal"
run env LORENS_PROBE_TIMEOUT=1 "$LORENS" pretrain --corpus "$tap_tmp/w/corpus.txt" \
  --config "$tap_tmp/tiny.yaml" --out "$tap_tmp/pre-hang" --threads 1 --backend probe-hang
is "$status" 1 "pretrain with a backend that hangs in its probe exits 1"
like "$err" "backend 'probe-hang' ($broken/probe-hang.so) did not answer within 1 s" \
  "naming it, after the limit"
[ ! -e "$tap_tmp/pre-hang" ]
ok $? "and leaves no output directory"
x=$(fixture_grid "$tap_tmp/x.yaml" exit "backend: probe-exit")
run "$LORENS" run "$x" --db "$tap_tmp/x.db"
is "$status" 1 "a sweep on a backend that exits in its probe fails before any run starts"
like "$err" "backend 'probe-exit' ($broken/probe-exit.so) ended its process while loading or probing (exit 7)" \
  "naming the backend and its file"
is "$(q "$tap_tmp/x.db" "SELECT status, attempts FROM runs")" "pending,0" "its run is left pending"

done_testing
