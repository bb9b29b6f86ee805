#!/bin/sh
# test-summary.sh: the summary table `lorens run` prints at its end and `lorens summary` prints
# for a database.  Real sweeps of the fixture model on `lorens synth` questions: every number of
# the table against means computed here straight from the evaluations table; a second sweep that
# shares a run with the first (each table counts its own runs); failed and diverged runs; --quiet.
# Then a hand-made database where every number is worked out by hand: members pooled over runs,
# the last epoch only, NaN rows left out, NULL as "-", configurations told apart by a key outside
# the axes.  And the errors.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
fault="$TOP_BUILDDIR/tests/plugins/fault/.libs"
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
tok="$TOP_SRCDIR/tests/data/predict/char96-tokenizer.json"
sql="$TOP_BUILDDIR/tests/store-sql"
db="$tap_tmp/sum.db"
syn="$tap_tmp/synth"

q() { "$LORENS" query --db "$1" --format csv "$2" | tr -d '\r' | tail -n +2; }

"$LORENS" synth --seed 1 --out "$syn" --entities 20 --train 24 --validation 12 --test 16 --ood 16 \
  > /dev/null || diag "lorens synth failed"

# grid NAME GRID-SECTION [EVAL-SETS]: a sweep of 2 epochs, M = 2, on the synthetic questions.
grid() {
  sets=${3:-"[{name: test, format: jsonl, path: $syn/test.jsonl}, {name: ood, format: jsonl, path: $syn/ood.jsonl, ood: true}]"}
  cat > "$tap_tmp/$1.yaml" <<EOF
name: $1
model: $fx
tokenizer: $tok
data:
  train: {format: jsonl, path: $syn/train.jsonl}
  eval: $sets
prompt: {bos: false}
lora: {targets: [q, v], rank: 2, alpha: 4}
train: {epochs: 2, batch_size: 8, lr: 0.05}
ensemble: {size: 2}
$2
EOF
  printf '%s' "$tap_tmp/$1.yaml"
}

# The table row whose label starts with $1 (a regex), and its parts counted from the right:
# the eight metrics, runs and M.
row() { printf '%s\n' "$out" | grep -E "^$1" | head -n 1; }
metrics() { row "$1" | awk '{ for (i = NF - 7; i <= NF; i++) printf "%s%s", $i, i < NF ? " " : "\n" }'; }
runs_m() { row "$1" | awk '{ print $(NF - 9), $(NF - 8) }'; }

# want SWEEP-ID CONDITION: the eight numbers of a row computed from the evaluations table alone
# (member then ensemble for accuracy, NLL and ECE on the test set, the AUROC by max probability on
# the OOD set), at the sweep's last epoch, over the sweep's runs that meet CONDITION, finite rows
# only; printed as the table prints them (%.3f, "-" for none).
want() {
  q "$db" "SELECT
      avg(CASE WHEN e.kind = 'member' AND e.dataset = 'test' THEN e.accuracy END),
      avg(CASE WHEN e.kind = 'ensemble' AND e.dataset = 'test' THEN e.accuracy END),
      avg(CASE WHEN e.kind = 'member' AND e.dataset = 'test' THEN e.nll END),
      avg(CASE WHEN e.kind = 'ensemble' AND e.dataset = 'test' THEN e.nll END),
      avg(CASE WHEN e.kind = 'member' AND e.dataset = 'test' THEN e.ece END),
      avg(CASE WHEN e.kind = 'ensemble' AND e.dataset = 'test' THEN e.ece END),
      avg(CASE WHEN e.kind = 'member' AND e.dataset = 'ood' THEN e.ood_auroc_maxprob END),
      avg(CASE WHEN e.kind = 'ensemble' AND e.dataset = 'ood' THEN e.ood_auroc_maxprob END)
    FROM evaluations AS e JOIN runs AS r ON r.id = e.run_id
    WHERE r.id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = $1) AND $2
      AND e.split = 'eval' AND e.selection = 'epoch' AND e.finite AND e.epoch = 2
      AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size))" |
    tr ',' '\n' | while IFS= read -r v; do
      if [ -z "$v" ]; then echo -; else printf '%.3f\n' "$v"; fi
    done | paste -s -d ' ' -
}

# ---- a sweep over the KL weight ---------------------------------------------------------------
g=$(grid reg "grid:
  regularizer.kl.weight: [0.0, 0.5]
  seed: [0, 1]")
run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu" --jobs 2
is "$status" 0 "a sweep of 2 KL weights x 2 seeds"
diag "the table it printed:"
diag "$out"
first=$out
like "$err" "sweep 'reg': 4 done" "the scheduler's last line is on stderr"
is "$(printf '%s\n' "$out" | head -n 3)" "sweep 'reg': test set 'test', OOD set 'ood', epoch 2
                                   accuracy         NLL            ECE         OOD AUROC
regularizer  strength  runs  M  member   ens.  member   ens.  member   ens.  member   ens." \
  "the table on stdout: title, the metrics over their pairs, the columns"
is "$(printf '%s\n' "$out" | grep -c -E '^(none|kl) ')" 2 "a row per KL weight, labelled by the axes that vary"
like "$(row none)" "none                      2  2" "no strength for none; two runs of M = 2"
is "$(runs_m 'kl +0\.5 ')" "2 2" "kl 0.5: two runs of M = 2"
is "$(metrics none)" "$(want 1 "r.regularizer = 'none'")" \
  "none: members and ensembles are the means of the evaluations table"
is "$(metrics 'kl +0\.5 ')" "$(want 1 "r.regularizer = 'kl'")" "kl 0.5: the same"
ok "$([ "$(metrics none)" != "$(metrics kl)" ]; echo $?)" "and the two rows differ"
like "$out" "member: mean single member; ens.: ensemble of all M members" "a note says what the columns are"
ok "$(printf '%s\n' "$out" | awk 'length > 100 { bad = 1 } END { exit bad }'; echo $?)" \
  "no line is wider than 100 columns"

run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu"
like "$err" "nothing to do" "running the finished sweep again does nothing"
is "$out" "$first" "but prints the same table"
run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu" --quiet
is "$out$err" "" "--quiet prints no table"
run "$LORENS" summary --db "$db"
is "$out" "$first" "lorens summary prints the same table"

# ---- a second sweep sharing a run --------------------------------------------------------------
# kl 0.5 with seeds 1 and 2: the seed-1 run is the first sweep's.  The database holds three kl
# runs of one configuration; each sweep's table averages its own two.
g2=$(grid more "regularizer: {kl: {weight: 0.5}}
grid:
  seed: [1, 2]")
run "$LORENS" run "$g2" --db "$db" --backend-dir "$cpu"
is "$status" 0 "a second sweep into the same database"
like "$err" "2 runs (1 new)" "which shares one run with the first"
is "$(q "$db" "SELECT count(*) FROM v_run_axes WHERE regularizer = 'kl' GROUP BY group_id")" 3 \
  "the database's kl group has three runs"
is "$(printf '%s\n' "$out" | sed -n 3p)" "train set  runs  M  member   ens.  member   ens.  member   ens.  member   ens." \
  "nothing varies in this sweep: its one row is labelled by the training set"
is "$(runs_m 'train +[0-9]')" "2 2" "and counts the sweep's two runs"
is "$(metrics 'train +[0-9]')" "$(want 2 1)" "whose means it shows"
run "$LORENS" summary --db "$db" --sweep reg
is "$out" "$first" "the first sweep's table is unchanged (--sweep NAME)"
run "$LORENS" summary --db "$db" --sweep 2
like "$out" "sweep 'more'" "--sweep takes an id too"
run "$LORENS" summary --db "$db"
is "$(printf '%s\n' "$out" | grep -c "^sweep '")" 2 "without --sweep, every sweep's table"
like "$out" "by max probability

sweep 'more'" "one after the other, a blank line apart"

# ---- failed and diverged runs -----------------------------------------------------------------
# No OOD set.  fault-nan's member 0 turns NaN in epoch 1 (its ensembles too); fault-segv dies
# before evaluating anything.
g3=$(grid faulty "grid:
  backend: [cpu, fault-nan, fault-segv]" "[{name: test, format: jsonl, path: $syn/test.jsonl}]")
run "$LORENS" run "$g3" --db "$db" --backend-dir "$cpu" --backend-dir "$fault"
is "$status" 1 "a sweep with a failed run exits 1"
diag "$out"
is "$(printf '%s\n' "$out" | head -n 1)" "sweep 'faulty': test set 'test', no OOD set, epoch 2" \
  "the table is printed all the same; no OOD set"
is "$(runs_m 'cpu ')" "1 2" "the healthy run"
is "$(metrics 'cpu ')" "$(want 3 "r.backend = 'cpu'")" "with its numbers, and - for the AUROC"
is "$(metrics 'fault-nan ')" "$(want 3 "r.backend = 'fault-nan'")" \
  "the diverged run: its finite members only, - for its non-finite ensembles"
is "$(metrics 'fault-nan ' | awk '{ print $2, $4, $6, $7, $8 }')" "- - - - -" \
  "(which are -, as is the AUROC)"
is "$(row 'fault-segv ')" "fault-segv   0/1  2       -      -       -      -       -      -       -      -" \
  "the failed run: 0 of 1 evaluated, every metric -"
nonfinite=$(q "$db" "SELECT count(*) FROM evaluations AS e JOIN runs AS r ON r.id = e.run_id
  WHERE r.backend = 'fault-nan' AND e.epoch = 2 AND e.split = 'eval' AND e.selection = 'epoch'
  AND NOT e.finite AND (e.kind = 'member' OR e.idx = 2)")
like "$out" "3 runs: 1 done, 1 failed, 1 diverged (\`lorens status --db $db\` says why)" \
  "a note counts the runs that are not done"
like "$out" "runs a/b: a of the configuration's b runs have evaluations at that epoch" \
  "and one explains a/b"
like "$out" "$nonfinite evaluation rows with NaN or infinite metrics (diverged members) are left out" \
  "and one the non-finite rows left out ($nonfinite)"

# ---- every number by hand ---------------------------------------------------------------------
# Two configurations equal but for lora.alpha (4: runs 1, 2; 8: runs 3, 4), M = 2, test set arc,
# OOD set mmlu.  Epoch 2 is the last; rows at epoch 1, of the 'best' selection, of the validation
# split and of the ensemble of 1 are decoys with accuracy 0.  Run 2's member 0 and its ensemble
# are NaN (finite = 0), so alpha 4 pools members 0.5, 0.75 (run 1) and 1.0 (run 2): accuracy
# 0.75 (the mean of the runs' means would be 0.8125); NLL (1 + 0.5 + 0.25) / 3 = 0.583; ECE
# (0.25 + 0.125 + 0) / 3 = 0.125; AUROC (0.5 + 0.75 + 0.625) / 3 = 0.625.  Its ensembles: run 1's
# alone (0.75, 0.625, 0.06, AUROC 0.875).  Alpha 8: run 3 only (run 4 failed), no OOD rows:
# members 0.375, 1.375, 0.4; ensemble 0.5, 1.125, 0.25.  Four NaN rows are left out.
hand="$tap_tmp/hand.db"
"$sql" "$hand" <<'SQL' || ok 1 "the hand-made database builds"
INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)
  VALUES (1, 'hand', 'hand.yaml', '/w', 'name: hand', 'cd34', '0.1.0');
WITH c (id, alpha, seed, status) AS (VALUES (1, 4, 0, 'done'), (2, 4, 1, 'diverged'),
                                            (3, 8, 0, 'done'), (4, 8, 1, 'failed'))
INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,
                  ensemble_size, seed, randomness, lr, backend, status)
  SELECT id, 'k' || id, 1, json_object('model', 'm', 'data', json('{"eval":[{"name":"arc","ood":false},{"name":"mmlu","ood":true}]}'),
         'lora', json_object('alpha', alpha), 'seed', seed),
         'arc', 'none', 0, 8, 2, seed, 'init+data+dropout', 1e-4, 'cpu', status FROM c;
INSERT INTO sweep_runs SELECT 1, id FROM runs;
WITH v (run, kind, idx, sel, epoch, split, dataset, ood, acc, nll, ece, amax, finite) AS (VALUES
  (1, 'member',   0, 'epoch', 1, 'eval',       'arc',  0, 0.0,  1.0,  0.0,   NULL,  1),
  (1, 'member',   0, 'epoch', 2, 'validation', 'arc',  0, 0.0,  1.0,  0.0,   NULL,  1),
  (1, 'ensemble', 2, 'best',  2, 'eval',       'arc',  0, 0.0,  1.0,  0.0,   NULL,  1),
  (1, 'ensemble', 1, 'epoch', 2, 'eval',       'arc',  0, 0.0,  1.0,  0.0,   NULL,  1),
  (1, 'member',   0, 'epoch', 2, 'eval',       'arc',  0, 0.5,  1.0,  0.25,  NULL,  1),
  (1, 'member',   1, 'epoch', 2, 'eval',       'arc',  0, 0.75, 0.5,  0.125, NULL,  1),
  (1, 'ensemble', 2, 'epoch', 2, 'eval',       'arc',  0, 0.75, 0.625, 0.06, NULL,  1),
  (1, 'member',   0, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  2.0,  0.5,   0.5,   1),
  (1, 'member',   1, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  2.0,  0.5,   0.75,  1),
  (1, 'ensemble', 2, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  2.0,  0.5,   0.875, 1),
  (2, 'member',   0, 'epoch', 2, 'eval',       'arc',  0, 0.25, NULL, NULL,  NULL,  0),
  (2, 'member',   1, 'epoch', 2, 'eval',       'arc',  0, 1.0,  0.25, 0.0,   NULL,  1),
  (2, 'ensemble', 2, 'epoch', 2, 'eval',       'arc',  0, 0.5,  NULL, NULL,  NULL,  0),
  (2, 'member',   0, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  NULL, NULL,  0.25,  0),
  (2, 'member',   1, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  2.0,  0.5,   0.625, 1),
  (2, 'ensemble', 2, 'epoch', 2, 'eval',       'mmlu', 1, 0.0,  NULL, NULL,  0.25,  0),
  (3, 'member',   0, 'epoch', 2, 'eval',       'arc',  0, 0.25, 1.5,  0.5,   NULL,  1),
  (3, 'member',   1, 'epoch', 2, 'eval',       'arc',  0, 0.5,  1.25, 0.3,   NULL,  1),
  (3, 'ensemble', 2, 'epoch', 2, 'eval',       'arc',  0, 0.5,  1.125, 0.25, NULL,  1))
INSERT INTO evaluations (run_id, kind, idx, selection, epoch, split, dataset, ood, n, accuracy,
                         nll, ece, ood_auroc_maxprob, finite)
  SELECT run, kind, idx, sel, epoch, split, dataset, ood, 4, acc, nll, ece, amax, finite FROM v;
SQL
run "$LORENS" summary --db "$hand"
is "$status" 0 "lorens summary on the hand-made database"
is "$out" "sweep 'hand': test set 'arc', OOD set 'mmlu', epoch 2
                           accuracy         NLL            ECE         OOD AUROC
configuration  runs  M  member   ens.  member   ens.  member   ens.  member   ens.
lora.alpha=4      2  2   0.750  0.750   0.583  0.625   0.125  0.060   0.625  0.875
lora.alpha=8    1/2  2   0.375  0.500   1.375  1.125   0.400  0.250       -      -
member: mean single member; ens.: ensemble of all M members; means over the runs (seeds);
OOD AUROC by max probability
4 runs: 2 done, 1 failed, 1 diverged (\`lorens status --db $hand\` says why)
runs a/b: a of the configuration's b runs have evaluations at that epoch
4 evaluation rows with NaN or infinite metrics (diverged members) are left out" \
  "every number as worked out by hand; configurations told apart by lora.alpha"
is "$(q "$hand" "SELECT n_runs, n_evaluated, final_epoch, round(member_accuracy, 6), ensemble_accuracy, n_member_nonfinite, n_ensemble_nonfinite, first_run_id FROM v_summary ORDER BY first_run_id")" \
  "2,2,2,0.75,0.75,2,2,1
2,1,2,0.375,0.5,0,0,3" "v_summary holds the same"
is "$("$LORENS" query --db "$hand" --format csv -f "$TOP_SRCDIR/db/queries/summary.sql" | tr -d '\r')" \
  "sweep,dataset,regularizer,strength,rank,lr,M,test_set,ood_set,epoch,runs,member_acc,ensemble_acc,member_nll,ensemble_nll,member_ece,ensemble_ece,member_auroc,ensemble_auroc,nonfinite
hand,arc,none,0.0,8,0.0001,2,arc,mmlu,2,2/2,0.75,0.75,0.5833,0.625,0.125,0.06,0.625,0.875,4
hand,arc,none,0.0,8,0.0001,2,arc,mmlu,2,1/2,0.375,0.5,1.375,1.125,0.4,0.25,,,0" \
  "and db/queries/summary.sql prints it with every axis"

# ---- errors ----------------------------------------------------------------------------------
run "$LORENS" summary
is "$status" 2 "lorens summary needs --db"
run "$LORENS" summary --db "$hand" --sweep nope
is "$status" 1 "an unknown sweep is an error"
like "$err" "no sweep 'nope'" "naming it"
run "$LORENS" summary --db "$tap_tmp/absent.db"
like "$err" "does not exist" "a missing database is an error"
"$sql" "$hand" --raw <<'SQL'
DROP VIEW v_summary;
SQL
run "$LORENS" summary --db "$hand"
is "$status" 1 "a database from before v_summary"
like "$err" "has no v_summary view" "is refused with a message"
like "$err" "\`lorens run\` on it adds the current views" "that says what to do"
"$sql" "$hand" < /dev/null
run "$LORENS" summary --db "$hand"
is "$status" 0 "after a writable open, the view is there"

done_testing
