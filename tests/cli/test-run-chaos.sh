#!/bin/sh
# test-run-chaos.sh: the scheduler killed with SIGKILL at random moments and restarted, again and
# again, until the sweep is done: every run ends done exactly once, with no duplicate or
# half-written rows; two schedulers on one database: no run is executed twice; and a scheduler
# paused past --stale-after keeps its runs.
. "$TOP_SRCDIR/tests/tap.sh"

fault="$TOP_BUILDDIR/tests/plugins/fault/.libs"
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
data="$TOP_SRCDIR/tests/data/predict"

q() { "$LORENS" query --db "$1" --format csv "$2" | tr -d '\r' | tail -n +2; }

# A sweep of 8 runs on the slow backend (each scoring call sleeps), 3 examples scored one by one.
cat > "$tap_tmp/chaos.yaml" <<YAML
name: chaos
model: $fx
tokenizer: $data/char96-tokenizer.json
backend: fault-slow
data:
  train: {format: jsonl, path: $data/tiny.jsonl}
  validation: {format: jsonl, path: $data/tiny.jsonl}
  eval:
    - {name: tiny, format: jsonl, path: $data/tiny.jsonl}
prompt: {bos: false}
train: {batch_size: 1, epochs: 0}
ensemble: {size: 3}
grid:
  seed: [0, 1, 2, 3, 4, 5, 6, 7]
YAML
LORENS_FAULT_SLOW_MS=120
export LORENS_FAULT_SLOW_MS

# check_done DB WHAT: the database holds the finished sweep exactly once.
check_done() {
  is "$(q "$1" "SELECT status, count(*) FROM runs GROUP BY status")" "done,8" "$2: every run is done"
  # Per run: 2 sets x (3 members + 3 ensembles) evaluations; 2 sets x 3 members x 3 examples.
  is "$(q "$1" "SELECT count(*) FROM runs WHERE
        (SELECT count(*) FROM evaluations e WHERE e.run_id = runs.id) = 12 AND
        (SELECT count(*) FROM predictions p WHERE p.run_id = runs.id) = 18 AND
        (SELECT count(*) FROM members m WHERE m.run_id = runs.id AND m.status = 'done') = 3")" "8" \
    "$2: each run has exactly its rows, from one attempt"
  is "$(q "$1" "PRAGMA integrity_check")" "ok" "$2: integrity_check is ok"
  is "$(q "$1" "PRAGMA foreign_key_check")" "" "$2: no dangling rows"
  is "$(q "$1" "SELECT count(*) FROM runs WHERE claim IS NOT NULL")" "0" "$2: no claim is left"
}

workers_of() { pgrep -f "worker --db $1" 2>/dev/null | wc -l; }

# ---- kill -9 at random moments --------------------------------------------------------------
db="$tap_tmp/chaos.db"
kills=0
orphaned=0
for round in 1 2 3 4 5 6 7 8 9 10 11 12; do
  "$LORENS" run "$tap_tmp/chaos.yaml" --db "$db" --backend-dir "$fault" --jobs 2 --quiet &
  pid=$!
  # 0.05 .. 1.2 s: while inserting, claiming, scoring or storing.
  sleep "$(awk -v s="$round" 'BEGIN { srand(s * 7919); printf "%.2f", 0.05 + rand() * 1.15 }')"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
  # Workers die with their scheduler (PR_SET_PDEATHSIG): give the kernel a moment.
  i=0
  while [ "$(workers_of "$db")" -gt 0 ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$i" -lt 50 ] || orphaned=$((orphaned + 1))
done
diag "killed the scheduler $kills times"
ok "$([ "$kills" -ge 6 ]; echo $?)" "the scheduler was killed mid-sweep at least six times ($kills)"
is "$orphaned" "0" "no worker outlives a killed scheduler"
run "$LORENS" run "$tap_tmp/chaos.yaml" --db "$db" --backend-dir "$fault" --jobs 2
is "$status" 0 "a last, undisturbed run finishes the sweep"
check_done "$db" "after kill -9"
retried=$(q "$db" "SELECT count(*) FROM runs WHERE attempts > 1")
ok "$([ "$retried" -ge 1 ]; echo $?)" "runs a killed scheduler left running were found stale and run again ($retried)"

# ---- two schedulers on one database ---------------------------------------------------------
db2="$tap_tmp/two.db"
"$LORENS" run "$tap_tmp/chaos.yaml" --db "$db2" --backend-dir "$fault" --jobs 2 --quiet &
a=$!
"$LORENS" run "$tap_tmp/chaos.yaml" --db "$db2" --backend-dir "$fault" --jobs 2 --quiet &
b=$!
wait "$a"; sa=$?
wait "$b"; sb=$?
is "$sa,$sb" "0,0" "two concurrent schedulers both succeed"
check_done "$db2" "two schedulers"
is "$(q "$db2" "SELECT max(attempts) FROM runs")" "1" "no run was executed twice"
is "$(q "$db2" "SELECT count(DISTINCT pid) FROM runs")" "2" "both schedulers took part"

# ---- a paused scheduler keeps its runs ------------------------------------------------------
# Stopped (SIGSTOP: a debugger, a suspended job, a starved machine) for longer than --stale-after,
# a scheduler on this host is alive all the same: another one must not run its runs a second time.
sql="$TOP_BUILDDIR/tests/store-sql"
db3="$tap_tmp/paused.db"
LORENS_FAULT_SLOW_MS=1500 "$LORENS" run "$tap_tmp/chaos.yaml" --db "$db3" --backend-dir "$fault" \
  --jobs 2 --quiet &
a=$!
i=0
while [ "$(q "$db3" "SELECT count(*) FROM runs WHERE status = 'running' AND worker_pid IS NOT NULL" \
          2>/dev/null)" != "2" ] && [ "$i" -lt 300 ]; do
  sleep 0.1
  i=$((i + 1))
done
kill -STOP "$a"
pkill -STOP -P "$a"
# As if it had been stopped for half a minute: its heartbeats are 30 s old.
printf "UPDATE runs SET heartbeat = heartbeat - 30 WHERE status = 'running';\n" | "$sql" "$db3"
paused=$(q "$db3" "SELECT group_concat(id) FROM runs WHERE status = 'running'" | tr -d '"')
diag "paused runs: $paused"
LORENS_FAULT_SLOW_MS=20 run "$LORENS" run "$tap_tmp/chaos.yaml" --db "$db3" --backend-dir "$fault" \
  --jobs 2 --stale-after 10
like "$err" "2 runs are running under another scheduler" \
  "a second scheduler leaves the paused one's runs alone, however old their heartbeats"
is "$(q "$db3" "SELECT group_concat(status || ':' || attempts) FROM runs WHERE id IN (${paused:-0})")" \
  "\"running:1,running:1\"" "they are still running, attempted once"
pkill -CONT -P "$a"
kill -CONT "$a"
wait "$a"
is "$?" "0" "the paused scheduler, resumed, finishes its runs"
check_done "$db3" "a paused scheduler"
is "$(q "$db3" "SELECT max(attempts) FROM runs")" "1" "no run was executed twice"

done_testing
