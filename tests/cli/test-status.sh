#!/bin/sh
# test-status.sh: `lorens status`: counts by status and sweep, running runs with stale markers,
# failed runs with their errors, in text and JSON.
. "$TOP_SRCDIR/tests/tap.sh"

sql="$TOP_BUILDDIR/tests/store-sql"
db="$tap_tmp/runs.db"

run "$LORENS" status --db "$tap_tmp/missing.db"
is "$status" 1 "a missing database exits 1"
is "$err" "lorens: error: $tap_tmp/missing.db: does not exist" "saying so"
[ ! -e "$tap_tmp/missing.db" ]
ok $? "and is not created"
run "$LORENS" status
is "$status" 2 "no --db is a usage error"
run "$LORENS" status --db "$db" --format yaml
like "$err" "--format must be one of text|json, not 'yaml'" "a bad --format is a usage error"

# An empty database: every status listed with 0.
"$sql" "$db" < /dev/null
run "$LORENS" status --db "$db"
is "$status" 0 "an empty database has a status"
is "$out" "database: $db (schema version $("$sql" --schema-version))
runs: 0
  pending      0
  running      0
  done         0
  failed       0
  diverged     0
  interrupted  0" "all six statuses, zero included"

# Runs in every state.  Run 2 is alive (this shell), run 3's pid is gone (same host and boot),
# run 4's heartbeat is old, run 7 was claimed on another boot of this host (before a reboot).
host=$(uname -n)
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
sh -c 'exit 0' &
dead=$!
wait "$dead"
"$sql" "$db" <<SQL || ok 1 "the test database builds"
INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)
  VALUES (1, 'demo', 'demo.yaml', '/w', 'a', 'ab', '0.1.0'),
         (2, 'paper', 'paper.yaml', '/w', 'b', 'cd', '0.1.0');
INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,
                  ensemble_size, seed, randomness, lr, backend, status, attempts, host, boot_id,
                  pid, heartbeat, exit_status, error) VALUES
 (1, 'aaaa1111bbbb2222', 1, '{}', 'd', 'none', 0, 8, 4, 0, 'all', 0.1, 'cpu', 'done', 1,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (2, 'bbbb1111bbbb2222', 1, '{}', 'd', 'none', 0, 8, 4, 1, 'all', 0.1, 'cpu', 'running', 1,
  '$host', '$boot', $$, CAST(strftime('%s', 'now') AS REAL) - 5, NULL, NULL),
 (3, 'cccc1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 2, 'all', 0.1, 'cpu', 'running', 2,
  '$host', '$boot', $dead, CAST(strftime('%s', 'now') AS REAL) - 5, NULL, NULL),
 (4, 'dddd1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 3, 'all', 0.1, 'cpu', 'running', 1,
  'elsewhere', 'x', 1, CAST(strftime('%s', 'now') AS REAL) - 300, NULL, NULL),
 (5, 'eeee1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 4, 'all', 0.1, 'cpu', 'failed', 3,
  NULL, NULL, NULL, NULL, 'signal 11 (SIGSEGV)', 'segfault in a kernel
backtrace follows'),
 (6, 'ffff1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 5, 'all', 0.1, 'cpu', 'diverged', 1,
  NULL, NULL, NULL, NULL, 'exit 3', 'loss is NaN at step 12'),
 (7, 'gggg1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 6, 'all', 0.1, 'cpu', 'running', 1,
  '$host', 'another-boot', $dead, CAST(strftime('%s', 'now') AS REAL) - 5, NULL, NULL),
 (8, 'hhhh1111bbbb2222', 2, '{}', 'd', 'none', 0, 8, 4, 7, 'all', 0.1, 'cpu', 'pending', 0,
  NULL, NULL, NULL, NULL, NULL, NULL);
-- Run 1 belongs to both sweeps.
INSERT INTO sweep_runs VALUES (1, 1), (1, 2), (2, 1), (2, 3), (2, 4), (2, 5), (2, 6), (2, 7),
  (2, 8);
SQL
before=$(cksum < "$db")

run "$LORENS" status --db "$db"
is "$status" 0 "status exits 0"
like "$out" "runs: 8
  pending      1
  running      4
  done         1
  failed       1
  diverged     1
  interrupted  0" "counts by status and the total"
like "$out" "sweeps: 2
  id  sweep  total  pending  running  done  failed  diverged  interrupted
   1  demo       2        0        1     1       0         0            0
   2  paper      7        1        3     1       1         1            0" \
  "counts per sweep, a shared run counted in both"
like "$out" "running: 4
  run_key       host" "running runs are listed"
# Ages depend on how fast this runs: N stands for any number of seconds.
line() { printf '%s\n' "$out" | grep "^  $1" | sed -e 's/  */ /g' -e 's/[0-9][0-9]* s ago/N s ago/' -e 's/for [0-9][0-9]* s/for N s/'; }
is "$(line bbbb1111bbbb)" " bbbb1111bbbb $host $$ 1 N s ago" "a live run: key prefix, host, pid, attempts, age"
is "$(line cccc1111bbbb)" " cccc1111bbbb $host $dead 2 N s ago stale: pid $dead is gone" \
  "a run whose process is gone on this boot is stale"
is "$(line dddd1111bbbb)" " dddd1111bbbb elsewhere 1 1 N s ago stale: no heartbeat for N s" \
  "a run with an old heartbeat is stale"
is "$(line gggg1111bbbb)" " gggg1111bbbb $host $dead 1 N s ago stale: claimed before this host rebooted" \
  "a run claimed before a reboot is stale, as the scheduler judges it"
like "$out" "failed, diverged or interrupted: 2" "failed and diverged runs are listed"
is "$(line eeee1111bbbb)" " eeee1111bbbb failed 3 signal 11 (SIGSEGV) segfault in a kernel" \
  "with attempts, exit status and the first line of the error"
is "$(line ffff1111bbbb)" " ffff1111bbbb diverged 1 exit 3 loss is NaN at step 12" "diverged too"

run "$LORENS" status --db "$db" --format json
is "$status" 0 "--format json exits 0"
if command -v python3 >/dev/null 2>&1; then
  printf '%s' "$out" > "$tap_tmp/status.json"
  summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counts"]
print(d["total"], " ".join("%s=%d" % (k, c[k]) for k in c))
print(" ".join("%s:%d" % (s["name"], s["total"]) for s in d["sweeps"]))
print(" ".join("%s:%s" % (r["run_key"][:4], r["stale"]) for r in d["running"]))
p = d["problems"][0]
print(p["run_key"], p["status"], p["attempts"], p["exit_status"], repr(p["error"]))' "$tap_tmp/status.json")
  is "$summary" "8 pending=1 running=4 done=1 failed=1 diverged=1 interrupted=0
demo:2 paper:7
bbbb:False cccc:True dddd:True gggg:True
eeee1111bbbb2222 failed 3 signal 11 (SIGSEGV) 'segfault in a kernel\nbacktrace follows'" \
    "the JSON has counts, sweeps, running runs with stale flags and full errors"
else
  skip "python3 not installed" "the JSON"
fi
is "$(cksum < "$db")" "$before" "status changes nothing"

done_testing
