#!/bin/sh
# test-slurm.sh: `lorens slurm submit|status`, `lorens collect` on a real Slurm: a private
# single-node cluster started from Debian's packages (cluster.sh), skipped where it cannot start.
#   1. a small grid as a job array: it completes, collect merges it, its evaluations and
#      adapters equal a local `lorens run` of the same grid; collecting twice changes nothing;
#   2. tasks cancelled with scancel mid-run, then submit --only-missing, then collect: every run
#      done exactly once, PRAGMA integrity_check ok;
#   3. a task sent the warning signal as Slurm sends it before a time limit (SIGUSR1 to the batch
#      shell): it saves its state, requeues itself, resumes from the run's last epoch, and the
#      results equal an uninterrupted run's.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"
. "$TOP_SRCDIR/tests/slurm/cluster.sh"

trap 'cluster_stop; rm -rf "$tap_tmp"' EXIT
cluster_start "$tap_tmp/slurm" || skip_all "Slurm cannot start here: $cluster_why"
cd "$tap_tmp" || exit 1
mkdir scratch
export TMPDIR="$tap_tmp/scratch"   # the tasks' node-local disk (sbatch passes the environment on)

# wait_idle JOB SECONDS: until no task of the array is queued or running; 0 when it got there.
wait_idle() {
  for _ in $(seq 1 $(($2 * 2))); do
    squeue -h --states=all -j "$1" -o %T 2>/dev/null |
      grep -qE 'PENDING|RUNNING|REQUEUED|COMPLETING|CONFIGURING' || return 0
    sleep 0.5
  done
  return 1
}

# wait_epochs SWEEP N SECONDS: until task 0 of the sweep's latest submission holds the rows of
# epoch N in its database on "node-local" disk.
wait_epochs() {
  for _ in $(seq 1 $(($3 * 10))); do
    for db in scratch/lorens-"$1"-*-task-0/task-0.db; do
      [ -f "$db" ] &&
        [ "$(q "$db" "SELECT count(*) > 0 FROM evaluations WHERE epoch >= $2" 2>/dev/null)" = 1 ] &&
        return 0
    done
    sleep 0.1
  done
  return 1
}

# The evaluations of every run and epoch, and the training losses: what two runs must share.
results() {
  q "$1" "SELECT r.run_key, e.kind, e.idx, e.epoch, e.dataset, e.accuracy, e.nll, e.ece, e.brier
          FROM evaluations e JOIN runs r ON r.id = e.run_id ORDER BY 1, 2, 3, 4, 5"
  q "$1" "SELECT r.run_key, t.member, t.step, t.loss, t.grad_norm
          FROM train_log t JOIN runs r ON r.id = t.run_id ORDER BY 1, 2, 3"
}

job_of() { q "$1" "SELECT job_id FROM slurm_jobs ORDER BY id DESC LIMIT 1"; }

# ---- 1. a grid as a job array ------------------------------------------------------------------
g=$(fixture_grid "$tap_tmp/small.yaml" small "train: {batch_size: 8, epochs: 2}" "grid:
  seed: [0, 1, 2]")
run "$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu" --dry-run
is "$status" 0 "--dry-run succeeds"
like "$out" "#SBATCH --requeue" "it prints the batch script"
like "$out" "3 runs in 3 tasks (dry run" "and the task table"
ok "$([ ! -e shards ] && [ ! -e main.db ]; echo $?)" "and writes nothing: no shards, no database"
run "$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu" \
  --runs-per-task 2 --max-parallel 2
is "$status" 0 "submit returns at once"
like "$err" "submitted 3 runs as 2 array tasks" "it says what it submitted"
job=$(job_of main.db)
is "$(q main.db "SELECT n_tasks FROM slurm_jobs")" 2 "the array job is recorded"
wait_idle "$job" 120
ok $? "the array finishes"
run "$LORENS" slurm status --db main.db
is "$status" 0 "status exits 0"
like "$out" "tasks: 2 published, 0 running, 0 pending, 0 failed, 0 lost" "both tasks published"
like "$out" "their runs: 3 published, 0 running" "with the three runs"
# The cluster's MaxArraySize is 2: three tasks make two arrays, tasks 0-1 and 2.
g3=$(fixture_grid "$tap_tmp/three.yaml" three "grid:
  seed: [0, 1, 2]")
run "$LORENS" slurm submit "$g3" --db three.db --shards shards --backend-dir "$cpu"
like "$err" "submitted 3 runs as 3 array tasks" "three runs, a task each"
is "$(q three.db "SELECT first_task || '+' || n_tasks FROM slurm_jobs ORDER BY id" | tr '\n' ' ')" "0+2 2+1 " \
  "split into arrays of at most MaxArraySize tasks"
wait_idle "$(job_of three.db)" 120
run "$LORENS" collect --db three.db --shards shards
is "$(q three.db "SELECT count(*) FROM runs WHERE status = 'done'")" 3 "every task of both arrays ran its run"
run "$LORENS" collect --db main.db --shards shards
is "$status" 0 "collect succeeds"
like "$err" "3 runs merged" "and merges the three runs"
is "$(q main.db "SELECT status, count(*) FROM runs GROUP BY status")" "done,3" "all three are done"
"$LORENS" run "$g" --db local.db --backend-dir "$cpu" -q
results main.db > slurm.txt
results local.db > local.txt
ok "$(cmp -s slurm.txt local.txt; echo $?)" "evaluations and losses equal a local run's ($(wc -l < local.txt) rows)"
ls main.db.runs/*/member-0/adapter_model.safetensors >/dev/null 2>&1
ok $? "the adapters are in the main database's runs directory"
before=$(results main.db | md5sum)
run "$LORENS" collect --db main.db --shards shards
like "$err" "0 runs merged" "collecting again merges nothing"
is "$(results main.db | md5sum)" "$before" "and changes nothing"
run "$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu"
like "$err" "nothing to submit: every run of sweep 'small' is done" "a finished sweep submits nothing"
# Shards that are not what they claim: left alone by name, the others merged all the same.
mkdir -p shards/bogus/shards
printf 'not a database at all\n' > shards/bogus/shards/task-0.db
head -c 3000 "$(ls shards/small-*/shards/task-0.db | head -n 1)" > shards/bogus/shards/task-1.db
touch shards/bogus/shards/task-0.done shards/bogus/shards/task-1.done
run "$LORENS" collect --db main.db --shards shards
is "$status" 1 "collect fails on bad shards"
like "$err" "bogus/shards/task-0.db: cannot be opened: file is not a database; left alone" \
  "naming the garbage one"
like "$err" "bogus/shards/task-1.db:" "and the truncated one"
is "$(results main.db | md5sum)" "$before" "and the database is unchanged"
rm -r shards/bogus

# ---- 2. cancelled, then --only-missing ----------------------------------------------------------
g=$(fixture_grid "$tap_tmp/cancel.yaml" cancel "train: {batch_size: 8, epochs: 600}" "grid:
  seed: [0, 1]")
"$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu" --max-parallel 1 -q
job=$(job_of main.db)
wait_epochs cancel 3 60
ok $? "the first task is training"
scancel "$job"
wait_idle "$job" 60
run "$LORENS" slurm status --db main.db
is "$status" 1 "status exits 1 after the cancel"
like "$out" "CANCELLED" "and names the cancelled tasks"
run "$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu"
like "$err" "nothing to submit: the 2 runs not done are in tasks submitted before" \
  "a plain submit leaves runs an earlier submission carries"
run "$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu" --only-missing
is "$status" 0 "--only-missing submits again"
like "$err" "submitted 2 runs as 2 array tasks" "both runs"
wait_idle "$(job_of main.db)" 180
ok $? "the new array finishes"
run "$LORENS" collect --db main.db --shards shards
is "$status" 0 "collect succeeds"
is "$(q main.db "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'cancel' AND r.status = 'done'")" 2 \
  "both runs are done"
is "$(q main.db "SELECT count(*) FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'cancel' AND e.kind = 'ensemble' AND e.idx = 2")" 1202 \
  "each epoch evaluated exactly once (2 runs x 601 evaluations)"
is "$(q main.db "PRAGMA integrity_check")" "ok" "PRAGMA integrity_check is ok"

# ---- 3. the warning signal: save, requeue, resume -----------------------------------------------
g=$(fixture_grid "$tap_tmp/warned.yaml" warned "train: {batch_size: 8, epochs: 800}")
"$LORENS" slurm submit "$g" --db main.db --shards shards --backend-dir "$cpu" -q
job=$(job_of main.db)
wait_epochs warned 5 60
ok $? "the task is training"
signalled=$(date +%s.%N)
scancel --batch --signal=USR1 "${job}_0"
for _ in $(seq 1 100); do
  squeue -h --states=all -j "$job" -o %r | grep -q BeginTime && break
  sleep 0.1
done
log=$(ls shards/warned-*/logs/*.out)
like "$(cat "$log")" "stopped (Slurm's warning signal): its state is saved" "the task saves its state"
like "$(cat "$log")" "requeueing" "and requeues itself"
# Slurm holds a requeued job back for a while; here it may start at once.
scontrol update JobId="${job}_0" StartTime=now
wait_idle "$job" 180
ok $? "the requeued task finishes"
like "$(cat "$log")" "attempt 2" "its run's second attempt ran"
"$LORENS" collect --db main.db --shards shards -q
"$LORENS" run "$g" --db warned-local.db --backend-dir "$cpu" -q
results main.db | grep "^$(q warned-local.db "SELECT run_key FROM runs")" > slurm.txt
results warned-local.db > local.txt
ok "$(cmp -s slurm.txt local.txt; echo $?)" "the results equal an uninterrupted run's ($(wc -l < local.txt) rows)"
early=$(q main.db "SELECT count(*) FROM evaluations e JOIN runs r ON r.id = e.run_id JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'warned' AND e.created_at < $signalled")
ok "$([ "$early" -gt 0 ]; echo $?)" "epochs finished before the signal were kept, not redone ($early evaluations)"

done_testing
