#!/bin/sh
# test-run.sh: `lorens run`, the local scheduler: real zero-shot runs stored in SQLite, idempotent
# reruns, crash isolation with fault-injection backends (segfault, abort, SIGKILL, hang), retries,
# SIGTERM, and the usage errors.  The kill -9 and concurrency tests are in test-run-chaos.sh.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
db="$tap_tmp/sweep.db"

# grid NAME BACKEND-LIST SEEDS [EXTRA AXES]: the fixture grid (fixture.sh) over backends and
# seeds, on $MODEL when set, with batches of $BATCH when set.
grid() {
  fixture_grid "$tap_tmp/$1.yaml" "$1" "model: ${MODEL:-$fx}" \
    "train: {batch_size: ${BATCH:-8}, epochs: 0}" "grid:
  backend: $2
  seed: $3
$4"
}

# ---- usage -------------------------------------------------------------------------------------
run "$LORENS" run
is "$status" 2 "a grid file is required"
run "$LORENS" run "$tap_tmp/none.yaml"
is "$status" 2 "--db is required"
like "$err" "missing --db FILE" "and the message says so"
run "$LORENS" run "$tap_tmp/none.yaml" --db "$db" --jobs 0
is "$status" 2 "--jobs 0 is a usage error"
printf 'name: bad\nmodel: m\nlora: {rnak: 4}\n' > "$tap_tmp/bad.yaml"
run "$LORENS" run "$tap_tmp/bad.yaml" --db "$db"
is "$status" 1 "an invalid grid fails before anything runs"
like "$err" "bad.yaml:3:" "naming the file and line"
ok "$([ ! -e "$db" ]; echo $?)" "and creates no database"

# ---- real runs ---------------------------------------------------------------------------------
g=$(grid real "[cpu]" "[0, 1, 2]")
run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu" --jobs 2
is "$status" 0 "a sweep of three zero-shot runs succeeds"
like "$err" "3 runs (3 new)" "it says how many runs it inserted"
is "$(q "$db" "SELECT status, count(*) FROM runs GROUP BY status")" "done,3" "all three are done"
is "$(q "$db" "SELECT count(*) FROM members")" "6" "two members per run"
is "$(q "$db" "SELECT count(*) FROM evaluations WHERE epoch = 0")" "12" \
  "per run: two members and ensembles of 1 and 2, at epoch 0"
is "$(q "$db" "SELECT count(*) FROM predictions")" "18" "a prediction per member and example"
is "$(q "$db" "SELECT count(DISTINCT init_seed) FROM members")" "6" "every member has its own init seed"
is "$(q "$db" "SELECT count(*) FROM evaluations WHERE finite = 1 AND n = 3 AND accuracy IS NOT NULL")" "12" \
  "every evaluation is finite over the three labelled examples"
# With B = 0 every member is the base model: the stored probabilities are `lorens predict`'s.
"$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos 2>/dev/null | head -1 > "$tap_tmp/predict.jsonl"
want=$(sed 's/.*"mean":\[\([^]]*\)\].*/\1/' "$tap_tmp/predict.jsonl" | tr ',' ' ')
got=$(q "$db" "SELECT probs FROM predictions WHERE example = 0 AND member = 1 LIMIT 1" | \
  tr -d '"[]' | tr ',' ' ')
# Within float rounding: predict batches the examples differently, and the thread count may differ.
diag "stored: $got; predict: $want"
awk -v a="$got" -v b="$want" 'BEGIN { n = split(a, x, " "); if (n == 0 || n != split(b, y, " ")) exit 1
  for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > 1e-5) exit 1 } }'
ok $? "the stored zero-shot probabilities are the base model's (lorens predict)"

run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu"
is "$status" 0 "running the same sweep again succeeds"
like "$err" "nothing to do: all 3 runs are done" "does nothing and says so"
is "$(q "$db" "SELECT count(*) FROM evaluations")" "12" "and adds no rows"
sed 's/seed: \[0, 1, 2\]/seed: [0, 1, 2, 3]  # one more/' "$g" > "$tap_tmp/real2.yaml"
run "$LORENS" run "$tap_tmp/real2.yaml" --db "$db" --backend-dir "$cpu" --quiet
is "$status" 0 "a grid grown by one seed"
is "$err" "" "--quiet prints nothing"
is "$(q "$db" "SELECT count(*), sum(attempts) FROM runs")" "4,4" "runs only the new cell"

# ---- crash isolation ---------------------------------------------------------------------------
db2="$tap_tmp/faults.db"
g=$(grid faults "[cpu, fault-segv, fault-abort, fault-kill, fault-hang]" "[0]")
run "$LORENS" run "$g" --db "$db2" --backend-dir "$cpu" --backend-dir "$fault" --jobs 2 --timeout 2
is "$status" 1 "a sweep with failing runs exits 1"
is "$(q "$db2" "SELECT backend, status FROM runs ORDER BY backend")" \
"cpu,done
fault-abort,failed
fault-hang,failed
fault-kill,failed
fault-segv,failed" "the healthy run is done and each faulty one failed"
like "$(q "$db2" "SELECT exit_status FROM runs WHERE backend = 'fault-abort'")" "signal 6 (SIGABRT)" \
  "an abort is recorded as SIGABRT"
like "$(q "$db2" "SELECT exit_status FROM runs WHERE backend = 'fault-kill'")" "signal 9 (SIGKILL)" \
  "a kill (as by the OOM killer) as SIGKILL"
like "$(q "$db2" "SELECT exit_status FROM runs WHERE backend = 'fault-hang'")" "timeout after 2 s" \
  "a hang ends at the timeout"
seg=$(q "$db2" "SELECT exit_status FROM runs WHERE backend = 'fault-segv'")
case "$seg" in
  *"signal 11 (SIGSEGV)"*|"exit 1") ok 0 "a segfault is recorded ($seg; exit 1 under ASan)" ;;
  *) ok 1 "a segfault is recorded (got '$seg')" ;;
esac
is "$(q "$db2" "SELECT count(*) FROM runs WHERE claim IS NOT NULL OR finished_at IS NULL")" "0" \
  "no run is left claimed"
is "$(q "$db2" "SELECT count(*) FROM evaluations e JOIN runs r ON r.id = e.run_id WHERE r.status = 'failed'")" "0" \
  "failed runs left no results"

# A run that fails inside lorens: the tail of the worker's stderr is the error.  (A missing file
# would be caught before any run starts: test-run-preflight.sh.)  The healthy fault-v1-0 backend
# fails to open its session while LORENS_FAULT_OPEN_STATUS is set, as one out of memory does.
db3="$tap_tmp/openfail.db"
g=$(grid openfail "[fault-v1-0]" "[0]")
run env LORENS_FAULT_OPEN_STATUS=2 "$LORENS" run "$g" --db "$db3" --backend-dir "$fault" --retries 1
is "$status" 1 "a run whose backend cannot open a session fails"
like "$err" "injected failure (status 2)" "the scheduler prints the worker's message"
like "$err" "retrying" "and retries it once"
is "$(q "$db3" "SELECT status, attempts, exit_status FROM runs")" "failed,2,exit 1" \
  "two attempts, then failed with the worker's exit status"
like "$(q "$db3" "SELECT error FROM runs")" "injected failure (status 2)" \
  "the stored error is the backend's"
run "$LORENS" run "$g" --db "$db3" --backend-dir "$fault"
is "$status" 1 "without --rerun-failed, failed runs stay failed"
like "$err" "--rerun-failed" "and the message says how to run them again"
run "$LORENS" run "$g" --db "$db3" --backend-dir "$fault" --rerun-failed
is "$status" 0 "--rerun-failed runs it again once the backend can open"
is "$(q "$db3" "SELECT status, attempts FROM runs")" "done,3" "and it is done"

# Examples that do not fit the model's context: the fixture model with a context of 100, where
# q1 and q2 of tiny.jsonl do not fit even without their questions (test-predict.sh).  Every data
# set is checked before the first forward pass: fault-segv, which crashes in its first score call,
# never gets one; the training set is checked too.
small="$tap_tmp/ctx100"
mkdir "$small"
ln -s "$fx/model.safetensors" "$small/model.safetensors"
sed 's/"max_position_embeddings": 512/"max_position_embeddings": 100/' "$fx/config.json" >"$small/config.json"
db6="$tap_tmp/context.db"
g=$(MODEL="$small" grid context "[cpu, fault-segv]" "[0]" "  train.epochs: [1]")
run "$LORENS" run "$g" --db "$db6" --backend-dir "$cpu" --backend-dir "$fault"
is "$status" 1 "runs whose examples do not fit the model's context are refused before they start"
for set in training evaluation; do
  like "$err" "$data/tiny.jsonl:1: $set set 'tiny': example 'q1': prompt and choice take 103 tokens without the question, the model's context is 100; 2 examples do not fit, also tiny.jsonl:2 'q2' (111 tokens)" \
    "the $set set: file, line and id of each example (once per set and model, not once per run)"
done
is "$(q "$db6" "SELECT backend, status, attempts FROM runs ORDER BY backend")" "cpu,pending,0
fault-segv,pending,0" "no run was claimed: the crashing backend was never asked to score"
is "$(q "$db6" "SELECT count(*) FROM evaluations")" "0" "and nothing was stored"

# ---- SIGTERM and SIGHUP -------------------------------------------------------------------------
# stop_sweep SIG STATUS SAYS DB: starts the slow sweep, waits until both workers run, sends SIG to
# the scheduler; it exits STATUS, says SAYS, and its two runs in progress are interrupted.
g=$(BATCH=1 grid term "[fault-slow]" "[0, 1, 2, 3]")
stop_sweep() {
  LORENS_FAULT_SLOW_MS=500 "$LORENS" run "$g" --db "$4" --backend-dir "$fault" --jobs 2 \
    2> "$tap_tmp/stop.err" &
  pid=$!
  i=0
  while [ "$i" -lt 100 ] && [ "$(q "$4" "SELECT count(*) FROM runs WHERE worker_pid IS NOT NULL AND status = 'running'" 2>/dev/null)" != "2" ]; do
    sleep 0.1; i=$((i + 1))
  done
  kill -"$1" "$pid"
  wait "$pid"
  is "$?" "$2" "SIG$1 stops the sweep with status $2"
  like "$(cat "$tap_tmp/stop.err")" "$3" "saying so"
  is "$(q "$4" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" "2" \
    "SIG$1: the two runs in progress are marked interrupted"
  is "$(q "$4" "SELECT count(*) FROM runs WHERE status = 'running'")" "0" "SIG$1: none is left running"
}
db4="$tap_tmp/term.db"
stop_sweep TERM 143 "terminated: stopping" "$db4"
LORENS_FAULT_SLOW_MS=50 run "$LORENS" run "$g" --db "$db4" --backend-dir "$fault" --jobs 2
is "$status" 0 "the next run resumes them"
is "$(q "$db4" "SELECT status, count(*) FROM runs GROUP BY status")" "done,4" "and every run is done"
# The terminal or ssh session went away.
stop_sweep HUP 129 "hangup: stopping" "$tap_tmp/hup.db"

# ---- runs left running by another owner ---------------------------------------------------------
# A run claimed elsewhere: another host with a fresh heartbeat is left alone; the same host after a
# reboot, or another host whose heartbeat is older than --stale-after, is taken over.
sql="$TOP_BUILDDIR/tests/store-sql"
db5="$tap_tmp/stale.db"
g=$(grid stale "[cpu]" "[0, 1, 2]")
"$LORENS" run "$g" --db "$db5" --backend-dir "$cpu" --quiet
here=$(hostname)
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
printf "UPDATE runs SET status = 'running', claim = 'x', attempts = 1, host = 'elsewhere', boot_id = 'b', pid = 1, heartbeat = strftime('%%s', 'now') WHERE id = 1;
UPDATE runs SET status = 'running', claim = 'y', attempts = 1, host = '%s', boot_id = 'another-boot', pid = 1, heartbeat = strftime('%%s', 'now') WHERE id = 2;
UPDATE runs SET status = 'running', claim = 'z', attempts = 1, host = '%s', boot_id = '%s', pid = 999999999, heartbeat = strftime('%%s', 'now') WHERE id = 3;\n" \
  "$here" "$here" "$boot" | "$sql" "$db5"
run "$LORENS" run "$g" --db "$db5" --backend-dir "$cpu"
is "$status" 0 "a sweep with runs claimed elsewhere"
is "$(q "$db5" "SELECT id, status, attempts FROM runs ORDER BY id")" "1,running,1
2,done,2
3,done,2" "runs of this host before a reboot or under a dead pid are run again; another host's is left"
like "$err" "1 runs are running under another scheduler" "and it says one run is still running elsewhere"
printf "UPDATE runs SET heartbeat = heartbeat - 30 WHERE id = 1;\n" | "$sql" "$db5"
run "$LORENS" run "$g" --db "$db5" --backend-dir "$cpu" --stale-after 10
is "$(q "$db5" "SELECT status, attempts FROM runs WHERE id = 1")" "done,2" \
  "another host's run with a heartbeat older than --stale-after is taken over"
for bad in 0 5 -1; do
  run "$LORENS" run "$g" --db "$db5" --backend-dir "$cpu" --stale-after "$bad"
  is "$status" 2 "--stale-after $bad is refused"
done
like "$err" "--stale-after must be a number >= 10" "saying what is allowed"
# On this host the pid decides, not the heartbeat: a live lorens keeps its run (run 1), a pid
# that now belongs to another program (a dead scheduler's, reused) does not (run 2).
sleep 60 | "$LORENS" query --db "$db5" -f - >/dev/null 2>&1 &
live=$!
sleep 60 &
other=$!
printf "UPDATE runs SET status = 'running', claim = 'v', attempts = 1, host = '%s', boot_id = '%s', pid = %s, heartbeat = strftime('%%s', 'now') - 600 WHERE id = 1;
UPDATE runs SET status = 'running', claim = 'w', attempts = 1, host = '%s', boot_id = '%s', pid = %s, heartbeat = strftime('%%s', 'now') - 600 WHERE id = 2;\n" \
  "$here" "$boot" "$live" "$here" "$boot" "$other" | "$sql" "$db5"
run "$LORENS" status --db "$db5"
like "$out" "pid $other now runs another program" "lorens status says which owner is gone"
run "$LORENS" run "$g" --db "$db5" --backend-dir "$cpu" --stale-after 10
is "$(q "$db5" "SELECT id, status, attempts FROM runs WHERE id <= 2 ORDER BY id")" "1,running,1
2,done,2" "a live lorens process keeps its run however old its heartbeat; a reused pid does not"
like "$err" "1 runs are running under another scheduler" "and the kept one is reported"
kill "$live" "$other" 2>/dev/null
pkill -P $$ sleep 2>/dev/null

done_testing
