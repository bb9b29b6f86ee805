#!/bin/sh
# test-disk-full.sh: a sweep on a disk that fills up (a small tmpfs, so root only).  A run that
# hits the full disk is interrupted, not failed, no more runs start, the message says "disk full"
# with the path, and once space is freed the same command finishes every run exactly once.  A
# database that cannot be created on a full disk says so and leaves no stub behind.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
LORENS_BACKEND_PATH=$cpu
export LORENS_BACKEND_PATH
mnt="$tap_tmp/disk"
mkdir "$mnt"
mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null ||
  skip_all "cannot mount a small tmpfs here (it needs root)"
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tap_tmp"' EXIT

# fill KB: leaves KB kilobytes free on the tmpfs.
fill() {
  avail=$(df -k "$mnt" | awk 'NR == 2 { print $4 }')
  dd if=/dev/zero of="$mnt/filler" bs=1024 count=$((avail - $1)) 2>/dev/null
  diag "free on the tmpfs: $(df -k "$mnt" | awk 'NR == 2 { print $4 }') KB"
}

# Each run keeps ~100 KB of adapters and checkpoints: every target, rank 8, two members.
grid() {
  fixture_grid "$tap_tmp/$1.yaml" full "lora: {targets: [q, k, v, o, gate, up, down], rank: 8, alpha: 16}" \
    "train: {batch_size: 8, epochs: 2}" "grid:
  seed: $2"
}

db="$mnt/sweep.db"
run "$LORENS" run "$(grid one "[0]")" --db "$db" --quiet
is "$status" 0 "a first run, with room"
g=$(grid six "[0, 1, 2, 3, 4, 5]")
fill 150
run "$LORENS" run "$g" --db "$db" --jobs 1
is "$status" 1 "the sweep stops when the disk is full"
like "$err" "disk full" "saying so"
like "$err" "$mnt/" "with the path"
like "$err" "free some space, then run the same command again" "and what to do"
is "$(q "$db" "SELECT count(*) FROM runs WHERE status = 'failed'")" "0" "no run is marked failed"
done_before=$(q "$db" "SELECT count(*) FROM runs WHERE status = 'done'")
ok "$([ "$done_before" -lt 6 ]; echo $?)" "and not every run ran ($done_before done)"
stopped=$(q "$db" "SELECT count(*) FROM runs WHERE status != 'done' AND attempts > 0")
ok "$([ "$stopped" -le 1 ]; echo $?)" \
  "no more runs were started after the disk filled ($stopped run stopped, with --jobs 1)"

rm -f "$mnt/filler"
run "$LORENS" run "$g" --db "$db" --jobs 2 --quiet
is "$status" 0 "with space freed, the same command goes on"
is "$(q "$db" "SELECT status, count(*) FROM runs GROUP BY status")" "done,6" "every run is done"
is "$(q "$db" "SELECT count(*) FROM runs WHERE
      (SELECT count(*) FROM evaluations e WHERE e.run_id = runs.id) = 12")" "6" \
  "each with its evaluations (3 epochs x 2 members and 2 ensembles), once"
is "$(q "$db" "PRAGMA integrity_check")" "ok" "the database is sound"

# A database that cannot be created.
fill 0
run "$LORENS" run "$g" --db "$mnt/new.db" --quiet
is "$status" 1 "a database cannot be made on a full disk"
like "$err" "$mnt/new.db: " "naming it"
like "$err" "disk full" "saying why"
[ ! -e "$mnt/new.db" ] && [ ! -e "$mnt/new.db-wal" ]
ok $? "and leaving no stub"
rm -f "$mnt/filler"

done_testing
