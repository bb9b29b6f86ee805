#!/bin/sh
# test-read-only.sh: a finished database on read-only storage (an archived sweep, a snapshot, a
# read-only mount) is read by `lorens query`, `status`, `summary` and `export`, which write
# nothing there: as `lorens run` leaves it (one file, out of WAL mode), and in WAL mode with no
# side files (opened immutable).  One whose -wal holds changes is readable with its -shm beside
# it, and refused, saying why, without.  The storage is a tmpfs remounted read-only when we are
# root (chmod stops no root), a directory without write permission otherwise.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"

sql="$TOP_BUILDDIR/tests/store-sql"
ro="$tap_tmp/ro"
mkdir "$ro"


# ---- the read-only place -----------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  mount -t tmpfs -o size=32m tmpfs "$ro" 2>"$tap_tmp/mount.err" ||
    skip_all "root, but cannot mount a tmpfs to make read-only storage: $(cat "$tap_tmp/mount.err")"
  trap 'umount "$ro" 2>/dev/null; rm -rf "$tap_tmp"' EXIT
  seal() { mount -o remount,ro "$ro"; }
  how="a tmpfs remounted read-only"
else
  seal() { chmod -R a-w "$ro"; }
  trap 'chmod -R u+w "$tap_tmp" 2>/dev/null; rm -rf "$tap_tmp"' EXIT
  how="directories without write permission"
fi

# ---- a real finished sweep ---------------------------------------------------------------------
fixture_grid "$tap_tmp/g.yaml" archived "train: {epochs: 1, batch_size: 8, lr: 0.05}" > /dev/null
db="$tap_tmp/sweep.db"
run "$LORENS" run "$tap_tmp/g.yaml" --db "$db" --backend-dir "$cpu" --quiet
is "$status" 0 "a sweep of one run finishes"
key=$(q "$db" "SELECT run_key FROM runs")

# What `lorens run` leaves: one file, out of WAL mode, so any SQLite reader can open it anywhere.
is "$(q "$db" "PRAGMA journal_mode")" "delete" "a finished sweep leaves its database out of WAL mode"
ok "$([ ! -e "$db-wal" ] && [ ! -e "$db-shm" ]; echo $?)" "with no -wal or -shm beside it"

# The same database in WAL mode, as every writer leaves it while others have it open.  Read from
# the header (bytes 18 and 19 are 2 in WAL mode): a reader would create the side files.
wal_mode() { od -An -tu1 -j18 -N2 "$1" | tr -s ' ' | sed 's/^ //'; }
printf 'SELECT 1;\n' | "$sql" "$db"
is "$(wal_mode "$db")" "2 2" "a writable open switches it back to WAL"
ok "$([ ! -e "$db-wal" ] && [ ! -e "$db-shm" ]; echo $?)" \
  "and closing leaves no side files, but the file says WAL"

# ---- what goes on the read-only storage --------------------------------------------------------
mkdir "$ro/done" "$ro/wal" "$ro/pending" "$ro/shm"
cp "$db" "$ro/wal/sweep.db"
cp -R "$db.runs" "$ro/wal/sweep.db.runs"
# Out of WAL mode again: the way `lorens run` leaves a file (checked above).
"$LORENS" run "$tap_tmp/g.yaml" --db "$db" --backend-dir "$cpu" --quiet
is "$(q "$db" "PRAGMA journal_mode")" "delete" "running the finished sweep again leaves it out of WAL"
cp "$db" "$ro/done/sweep.db"
cp -R "$db.runs" "$ro/done/sweep.db.runs"
# A database whose last transaction is still in its -wal: the sweep row of 'late'.
cp "$ro/wal/sweep.db" "$tap_tmp/late.db"
"$sql" "$tap_tmp/late.db" --keep-wal <<'SQL'
INSERT INTO sweeps (name, path, base_dir, yaml, yaml_sha256, lorens_version)
  VALUES ('late', 'late.yaml', '/w', 'name: late', 'ffff', '0.1.0');
SQL
ok "$([ -s "$tap_tmp/late.db-wal" ] && [ -e "$tap_tmp/late.db-shm" ]; echo $?)" \
  "a writer that does not checkpoint leaves its changes in -wal (and -shm)"
cp "$tap_tmp/late.db" "$tap_tmp/late.db-wal" "$ro/pending/"
cp "$tap_tmp/late.db" "$tap_tmp/late.db-wal" "$tap_tmp/late.db-shm" "$ro/shm/"

listing() { (cd "$ro" && find . -print | LC_ALL=C sort && find . -type f -exec cksum {} + | LC_ALL=C sort); }
before=$(listing)
seal
diag "read-only storage: $how"
ok "$(touch "$ro/done/probe" 2>/dev/null; [ ! -e "$ro/done/probe" ]; echo $?)" \
  "the storage is read-only"

# ---- reading -----------------------------------------------------------------------------------
for kind in done wal; do
  d="$ro/$kind/sweep.db"
  case $kind in
    done) what="as lorens run leaves it" ;;
    wal) what="in WAL mode" ;;
  esac
  run "$LORENS" query --db "$d" --format csv "SELECT status, count(*) FROM runs GROUP BY status"
  is "$status $(printf '%s' "$out" | tr -d '\r' | tail -n +2)" "0 done,1" "lorens query reads a database $what"
  [ "$status" = 0 ] || diag "$err"
  run "$LORENS" status --db "$d"
  is "$status" 0 "lorens status reads it"
  like "$out" "done         1" "and counts its run"
  run "$LORENS" summary --db "$d"
  is "$status" 0 "lorens summary reads it"
  like "$out" "sweep 'archived': test set 'tiny'" "and prints its table"
  run "$LORENS" export --db "$d" --run "$key" "$tap_tmp/exported-$kind"
  is "$status" 0 "lorens export reads it"
  [ "$status" = 0 ] || diag "$err"
  ok "$(cmp -s "$tap_tmp/exported-$kind/member-1/adapter_model.safetensors" \
    "$ro/$kind/sweep.db.runs/$key/member-1/adapter_model.safetensors"; echo $?)" \
    "and copies its adapters out"
done
is "$(wal_mode "$ro/wal/sweep.db")" "2 2" "the WAL database was read as it is, in WAL mode"

# ---- a -wal that holds changes -----------------------------------------------------------------
run "$LORENS" query --db "$ro/shm/late.db" --format csv "SELECT name FROM sweeps ORDER BY id"
is "$status $(printf '%s' "$out" | tr -d '\r' | tail -n +2 | paste -s -d ' ' -)" "0 archived late" \
  "with its -shm beside it, a -wal's changes are read"
why="$ro/pending/late.db: the database has un-checkpointed changes in $ro/pending/late.db-wal and its directory is read-only: they cannot be read without creating $ro/pending/late.db-shm; copy the database and $ro/pending/late.db-wal together to a writable directory and read the copy"
refused() {
  run "$LORENS" "$@"
  is "$status" 1 "without it, lorens $1 refuses the database rather than skip the changes"
  is "$err" "lorens: error: $why" "saying why"
}
refused query --db "$ro/pending/late.db" "SELECT 1"
refused status --db "$ro/pending/late.db"
refused summary --db "$ro/pending/late.db"
refused export --db "$ro/pending/late.db" --run "$key" "$tap_tmp/x"
cp "$ro/pending/late.db" "$ro/pending/late.db-wal" "$tap_tmp/"
rm -f "$tap_tmp/late.db-shm"
is "$(q "$tap_tmp/late.db" "SELECT name FROM sweeps ORDER BY id" | paste -s -d ' ' -)" "archived late" \
  "the copy the message asks for reads the changes"

is "$(listing)" "$before" "nothing was written to the read-only storage"

done_testing
