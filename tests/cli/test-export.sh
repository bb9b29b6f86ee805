#!/bin/sh
# test-export.sh: `lorens export` reads a run's adapters from the database's own FILE.runs/,
# wherever the database is now: members.adapter_path is relative to it, so a moved database
# exports, a copied one exports its own adapters (never the original's), and one moved without
# its FILE.runs/ says so.  Databases written before hold absolute paths: read the same way.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"

sql="$TOP_BUILDDIR/tests/store-sql"

# same A B: the exported member directory A holds exactly the files of adapter directory B.
same() {
  cmp -s "$1/adapter_model.safetensors" "$2/adapter_model.safetensors" &&
    cmp -s "$1/adapter_config.json" "$2/adapter_config.json"
}

fixture_grid "$tap_tmp/g.yaml" export "train: {epochs: 1, batch_size: 8, lr: 0.05}" > /dev/null
mkdir "$tap_tmp/a" "$tap_tmp/b" "$tap_tmp/c"
db="$tap_tmp/a/r.db"
run "$LORENS" run "$tap_tmp/g.yaml" --db "$db" --backend-dir "$cpu" --quiet
is "$status" 0 "a sweep of one run of M = 2 finishes"
key=$(q "$db" "SELECT run_key FROM runs")
is "$(q "$db" "SELECT group_concat(adapter_path, ' ') FROM (SELECT adapter_path FROM members ORDER BY member)")" \
  "$key/member-0 $key/member-1" "adapter paths are stored relative to the database's runs directory"

# ---- moved ------------------------------------------------------------------------------------
mv "$db" "$db.runs" "$tap_tmp/b/"
db="$tap_tmp/b/r.db"
run "$LORENS" export --db "$db" --run "$key" "$tap_tmp/out-moved"
is "$status" 0 "a moved database exports"
[ "$status" = 0 ] || diag "$err"
ok "$(same "$tap_tmp/out-moved/member-0" "$db.runs/$key/member-0" &&
  same "$tap_tmp/out-moved/member-1" "$db.runs/$key/member-1"; echo $?)" \
  "the adapters of its new place"
(cd "$tap_tmp/b" && "$LORENS" export --db r.db --run "$key" --member 1 ../out-rel > /dev/null)
ok "$(same "$tap_tmp/out-rel" "$db.runs/$key/member-1"; echo $?)" \
  "also when it is named by a relative path"

# ---- copied -----------------------------------------------------------------------------------
# The original's adapters are made to differ from the copy's, so that the export shows which it read.
cp "$db" "$tap_tmp/c/copy.db"
cp -R "$db.runs" "$tap_tmp/c/copy.db.runs"
copy="$tap_tmp/c/copy.db"
printf 'x' >> "$db.runs/$key/member-0/adapter_model.safetensors"
run "$LORENS" export --db "$copy" --run "$key" "$tap_tmp/out-copy"
is "$status" 0 "a copied database exports"
ok "$(same "$tap_tmp/out-copy/member-0" "$copy.runs/$key/member-0" &&
  ! same "$tap_tmp/out-copy/member-0" "$db.runs/$key/member-0"; echo $?)" \
  "its own adapters, not the original's"
rm -rf "$db" "$db.runs"
run "$LORENS" export --db "$copy" --run "$key" "$tap_tmp/out-copy2"
is "$status" 0 "and still with the original deleted"
ok "$(same "$tap_tmp/out-copy2/member-1" "$copy.runs/$key/member-1"; echo $?)" "the same adapters"

# ---- an older database: absolute paths --------------------------------------------------------
# What earlier lorens stored: the absolute path under the runs directory of the time.
printf "UPDATE members SET adapter_path = '/gone/away/old.db.runs/' || (SELECT run_key FROM runs) || '/member-' || member;\n" |
  "$sql" "$copy"
like "$(q "$copy" "SELECT adapter_path FROM members WHERE member = 0")" "/gone/away/old.db.runs/$key/member-0" \
  "an older database holds absolute paths"
run "$LORENS" export --db "$copy" --run "$key" "$tap_tmp/out-old"
is "$status" 0 "they are read relative to where the database is now"
[ "$status" = 0 ] || diag "$err"
ok "$(same "$tap_tmp/out-old/member-0" "$copy.runs/$key/member-0"; echo $?)" "from its own runs directory"

# ---- moved without its runs directory ---------------------------------------------------------
mkdir "$tap_tmp/alone"
cp "$copy" "$tap_tmp/alone/r.db"
run "$LORENS" export --db "$tap_tmp/alone/r.db" --run "$key" "$tap_tmp/out-alone"
is "$status" 1 "a database without its runs directory cannot export"
like "$err" "alone/r.db.runs/$key/member-0: run ${key%"${key#????????????}"} member 0: no such adapter directory (a database's adapters are in FILE.runs/ beside it: move or copy $tap_tmp/alone/r.db.runs/ with $tap_tmp/alone/r.db)" \
  "saying where they should be"
ok "$([ ! -e "$tap_tmp/out-alone" ]; echo $?)" "and makes nothing, not even the directory"

# ---- --best -----------------------------------------------------------------------------------
run "$LORENS" export --db "$copy" --run "$key" --best "$tap_tmp/out-best"
is "$status" 1 "--best without early stopping is an error"
like "$err" "member 0 has no early-stopping best adapter" "saying so"
ok "$([ ! -e "$tap_tmp/out-best" ]; echo $?)" "and leaves no empty directory"

done_testing
