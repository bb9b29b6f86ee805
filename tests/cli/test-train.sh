#!/bin/sh
# test-train.sh: LoRA-ensemble training end to end through `lorens run`: a grid of 2 regularizers
# x 2 seeds x M = 3 on stories260K with ARC-Easy (the fixture model on `lorens synth` questions
# when ../shared is absent); the stored rows; every stored metric recomputed from the stored
# predictions (check-metrics.py); determinism; identical members when every randomness source is
# fixed; divergence; a run killed mid-training resumes from its checkpoint and ends with the
# uninterrupted numbers; `lorens export`; refusals.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
shared="$TOP_SRCDIR/../shared"
q() { "$LORENS" query --db "$1" --format csv "$2" | tr -d '\r' | tail -n +2; }

if [ -d "$shared/models/stories260K" ] && [ -f "$shared/data/arc-easy/ARC-Easy-Train.jsonl" ]; then
  model="$shared/models/stories260K"
  tokenizer=null
  arc="$shared/data/arc-easy"
  train="{format: arc, path: $arc/ARC-Easy-Train.jsonl, limit: 24}"
  valid="{format: arc, path: $arc/ARC-Easy-Dev.jsonl, limit: 12}"
  test_path="$arc/ARC-Easy-Test.jsonl" test_format=arc
  test="{name: arc-e-test, format: arc, path: $test_path, limit: 16}"
  ood="{name: arc-c-test, format: arc, path: $shared/data/arc-challenge/ARC-Challenge-Test.jsonl, limit: 16, ood: true}"
  bos=true
  n_train=24 n_valid=12 n_test=16 n_ood=16
  diag "training stories260K on ARC-Easy"
else
  model="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
  tokenizer="$TOP_SRCDIR/tests/data/predict/char96-tokenizer.json"
  syn="$tap_tmp/synth"
  "$LORENS" synth --seed 1 --out "$syn" --entities 20 --train 24 --validation 12 --test 16 \
    --ood 16 > /dev/null || diag "lorens synth failed"
  train="{format: jsonl, path: $syn/train.jsonl}"
  valid="{format: jsonl, path: $syn/validation.jsonl}"
  test_path="$syn/test.jsonl" test_format=jsonl
  test="{name: arc-e-test, format: jsonl, path: $test_path}"
  ood="{name: arc-c-test, format: jsonl, path: $syn/ood.jsonl, ood: true}"
  bos=false
  n_train=24 n_valid=12 n_test=16 n_ood=16
  diag "../shared is absent: training the fixture model on questions from lorens synth"
fi

# grid NAME EPOCHS [MORE YAML]: the sweep, with extra top-level YAML appended; $LORA and
# $ENSEMBLE replace those sections.
grid() {
  lora=$LORA ensemble=$ENSEMBLE
  [ -n "$lora" ] || lora="lora: {targets: [q, v], rank: 4, alpha: 8}"
  [ -n "$ensemble" ] || ensemble="ensemble: {size: 3}"
  cat > "$tap_tmp/$1.yaml" <<YAML
name: $1
model: $model
tokenizer: $tokenizer
data:
  train: $train
  validation: $valid
  eval:
    - $test
    - $ood
prompt: {bos: $bos}
$lora
train: {epochs: $2, batch_size: 8, lr: 0.003, schedule: cosine, warmup_steps: 1}
$ensemble
$3
YAML
  printf '%s' "$tap_tmp/$1.yaml"
}

# ---- the grid: 2 regularizers x 2 seeds x M = 3 ---------------------------------------------
db="$tap_tmp/train.db"
g=$(grid sweep 2 "grid:
  regularizer.kl.weight: [0.0, 0.5]
  seed: [0, 1]")
run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu" --jobs 2
is "$status" 0 "a sweep of four training runs succeeds"
is "$(q "$db" "SELECT status, count(*) FROM runs GROUP BY status")" "done,4" "every run is done"
is "$(q "$db" "SELECT regularizer, count(*) FROM runs GROUP BY regularizer ORDER BY regularizer")" "kl,2
none,2" "the regularizer column says which runs use KL"
is "$(q "$db" "SELECT count(*), sum(status = 'done') FROM members")" "12,12" "3 members per run, all done"
steps=$(( (n_train + 7) / 8 ))
is "$(q "$db" "SELECT count(*) FROM train_log")" "$((4 * 3 * 2 * steps))" \
  "a train log row per run, member and step ($steps steps per epoch, 2 epochs)"
is "$(q "$db" "SELECT count(*) FROM train_log WHERE finite = 1 AND loss > 0 AND grad_norm > 0")" \
  "$((4 * 3 * 2 * steps))" "every logged step has a finite positive loss and gradient norm"
is "$(q "$db" "SELECT count(*) FROM train_log t JOIN runs r ON r.id = t.run_id WHERE r.regularizer = 'kl' AND abs(t.loss - t.ce - 0.5 * t.kl) < 1e-4")" \
  "$((2 * 3 * 2 * steps))" "with KL, loss = CE + beta * KL"
# per run: 3 sets x 3 epochs (0, 1, 2) x (3 members + ensembles of 1, 2, 3)
is "$(q "$db" "SELECT count(*) FROM evaluations")" "$((4 * 3 * 3 * 6))" \
  "evaluations of every member and every ensemble size, per set and epoch"
is "$(q "$db" "SELECT group_concat(k, ' ') FROM (SELECT DISTINCT kind || idx AS k FROM evaluations ORDER BY k)")" \
  "ensemble1 ensemble2 ensemble3 member0 member1 member2" "members 0..2 and ensembles of k = 1..3"
is "$(q "$db" "SELECT count(*) FROM predictions")" "$((4 * 3 * 3 * (n_valid + n_test + n_ood)))" \
  "predictions of every member on every example, per epoch"
first=$(q "$db" "SELECT round(avg(nll), 6) FROM evaluations WHERE kind = 'member' AND split = 'validation' AND epoch = 0")
last=$(q "$db" "SELECT round(avg(nll), 6) FROM evaluations WHERE kind = 'member' AND split = 'validation' AND epoch = 2")
ok "$(awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'; echo $?)" \
  "training lowers the members' validation NLL ($first -> $last)"
run python3 "$TOP_SRCDIR/tests/cli/check-metrics.py" "$db" 10
is "$status" 0 "every stored metric is what the stored predictions give"
like "$out" "216 evaluation rows recomputed from predictions, 0 mismatches" "all of them"
is "$(q "$db" "SELECT count(*) FROM evaluations WHERE ood = 1 AND ood_auroc_maxprob IS NOT NULL AND ood_auroc_entropy IS NOT NULL AND (ood_auroc_mi IS NOT NULL) = (kind = 'ensemble' AND idx > 1)")" \
  "$((4 * 3 * 6))" "the OOD set's rows carry AUROCs (MI for ensembles of 2 and more)"
is "$(q "$db" "SELECT count(*) FROM evaluations WHERE ood = 0 AND coalesce(ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi) IS NOT NULL")" \
  "0" "and the in-distribution sets none"
is "$(q "$db" "SELECT count(*) FROM members WHERE adapter_path IS NOT NULL")" "12" "every member's adapter is saved"

# ---- export ------------------------------------------------------------------------------------
key=$(q "$db" "SELECT substr(run_key, 1, 10) FROM runs ORDER BY id LIMIT 1")
run "$LORENS" export --db "$db" --run "$key" "$tap_tmp/exported"
is "$status" 0 "lorens export copies a run's adapters"
ok "$([ -f "$tap_tmp/exported/member-2/adapter_model.safetensors" ] && [ -f "$tap_tmp/exported/member-0/adapter_config.json" ]; echo $?)" \
  "one PEFT directory per member"
tok_opt=
[ "$tokenizer" = null ] || tok_opt="--tokenizer $tokenizer"
# shellcheck disable=SC2086
head -n 8 "$test_path" > "$tap_tmp/few.jsonl"
run "$LORENS" predict --model "$model" $tok_opt --data "$tap_tmp/few.jsonl" --format "$test_format" \
  --adapter "$tap_tmp/exported/member-0" --adapter "$tap_tmp/exported/member-1" --backend-dir "$cpu"
is "$status" 0 "lorens predict reads the exported adapters"
run "$LORENS" export --db "$db" --run "$key" --member 7 "$tap_tmp/none"
is "$status" 1 "a member the run does not have is an error"
run "$LORENS" export --db "$db" --run zzzz "$tap_tmp/none"
like "$err" "no run with a key starting 'zzzz'" "and so is an unknown key"

# ---- fixed randomness --------------------------------------------------------------------------
fixed=$(ENSEMBLE="ensemble: {size: 3, randomness: {init: fixed, data: fixed, dropout: fixed}}" \
  LORA="lora: {targets: [q, v], rank: 4, alpha: 8, dropout: 0.1}" grid fixed 1)
"$LORENS" run "$fixed" --db "$tap_tmp/fixed.db" --backend-dir "$cpu" --quiet
is "$(q "$tap_tmp/fixed.db" "SELECT count(DISTINCT init_seed || '/' || data_seed || '/' || dropout_seed) FROM members")" "1" \
  "with every source fixed, the members share their seeds"
is "$(q "$tap_tmp/fixed.db" "SELECT count(*) FROM (SELECT example, epoch, split, dataset, count(DISTINCT probs) AS d FROM predictions GROUP BY 1, 2, 3, 4) WHERE d > 1")" "0" \
  "and come out identical"
is "$(q "$tap_tmp/fixed.db" "SELECT count(*) FROM (SELECT epoch, split, count(DISTINCT disagreement) d, max(disagreement) x FROM evaluations WHERE kind = 'ensemble' AND idx > 1 GROUP BY 1, 2) WHERE x <> 0")" "0" \
  "with no disagreement"

# ---- determinism; kill -9 mid-training, then resume ------------------------------------------
long=$(grid long 3 "seed: 3")
"$LORENS" run "$long" --db "$tap_tmp/whole.db" --backend-dir "$cpu" --quiet
"$LORENS" run "$long" --db "$tap_tmp/again.db" --backend-dir "$cpu" --quiet
sel="SELECT kind, idx, epoch, split, accuracy, nll, ece, brier FROM evaluations ORDER BY 1, 2, 3, 4"
is "$(q "$tap_tmp/again.db" "$sel" | md5sum)" "$(q "$tap_tmp/whole.db" "$sel" | md5sum)" \
  "the same run twice gives identical metrics"
"$LORENS" run "$long" --db "$tap_tmp/killed.db" --backend-dir "$cpu" --quiet &
pid=$!
i=0
while [ "$i" -lt 600 ] && ! ls "$tap_tmp"/killed.db.runs/*/checkpoint.safetensors >/dev/null 2>&1; do
  sleep 0.05; i=$((i + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
epochs_before=$(q "$tap_tmp/killed.db" "SELECT max(epoch) FROM evaluations")
diag "killed after epoch $epochs_before was stored"
ok "$([ -n "$epochs_before" ] && [ "$epochs_before" -ge 1 ] && [ "$epochs_before" -lt 3 ]; echo $?)" \
  "the run was killed mid-training, after a checkpoint ($epochs_before of 3 epochs stored)"
run "$LORENS" run "$long" --db "$tap_tmp/killed.db" --backend-dir "$cpu"
is "$status" 0 "the next lorens run finishes it"
is "$(q "$tap_tmp/killed.db" "SELECT status, attempts FROM runs")" "done,2" "in a second attempt"
is "$(q "$tap_tmp/killed.db" "$sel" | md5sum)" "$(q "$tap_tmp/whole.db" "$sel" | md5sum)" \
  "with exactly the numbers of an uninterrupted run"
log="SELECT member, step, loss, grad_norm FROM train_log ORDER BY 1, 2"
is "$(q "$tap_tmp/killed.db" "$log" | md5sum)" "$(q "$tap_tmp/whole.db" "$log" | md5sum)" \
  "and the same train log, each step once"

# ---- divergence: fault-nan's member 0 has a NaN loss from its second step on -----------------
fault="$TOP_BUILDDIR/tests/plugins/fault/.libs"
nan=$(grid nan 2 "backend: fault-nan")
run "$LORENS" run "$nan" --db "$tap_tmp/nan.db" --backend-dir "$fault"
is "$status" 0 "a run with a diverged member still finishes"
is "$(q "$tap_tmp/nan.db" "SELECT status FROM runs")" "diverged" "and is marked diverged"
is "$(q "$tap_tmp/nan.db" "SELECT member, status, coalesce(diverged_step, '-') FROM members ORDER BY member")" "0,diverged,1
1,done,-
2,done,-" "member 0 diverged at step 1; the others trained on"
is "$(q "$tap_tmp/nan.db" "SELECT count(*), sum(loss IS NULL) FROM train_log WHERE finite = 0")" "1,1" \
  "its non-finite step is logged once, with no number"
is "$(q "$tap_tmp/nan.db" "SELECT max(step) FROM train_log WHERE member = 0")" "1" "and it trains no more"
is "$(q "$tap_tmp/nan.db" "SELECT count(*) FROM evaluations WHERE epoch >= (SELECT epoch FROM train_log WHERE finite = 0) AND (kind = 'ensemble' OR idx = 0) AND (finite = 1 OR nll IS NOT NULL)")" "0" \
  "after it diverged, its rows and every ensemble's are non-finite, with NULL metrics"
is "$(q "$tap_tmp/nan.db" "SELECT count(*) FROM evaluations WHERE kind = 'member' AND idx > 0 AND finite = 0")" "0" \
  "the other members' rows stay finite"
is "$(q "$tap_tmp/nan.db" "SELECT count(*) FROM predictions WHERE NOT json_valid(probs)")" "0" \
  "predictions stay valid JSON (null for NaN)"

# ---- a plugin of ABI 1.0 ------------------------------------------------------------------------
# It would not see weight_decay_mode and would apply decoupled decay to a grid that asked for L2:
# the run is refused before anything trains, naming the plugin's ABI and the version L2 needs.
old=$(grid old 1 "backend: fault-v1-0
regularizer: {weight_decay: {b: 0.1, mode: l2}}")
run "$LORENS" run "$old" --db "$tap_tmp/old.db" --backend-dir "$fault"
is "$(q "$tap_tmp/old.db" "SELECT status FROM runs")" "failed" "L2 decay on a 1.0 plugin fails the run"
why=$(q "$tap_tmp/old.db" "SELECT error FROM runs")
like "$why" "backend 'fault-v1-0' speaks ABI 1.0 (" "naming the plugin and its ABI"
like "$why" "fault-v1-0.so); L2 weight decay (weight_decay.mode: l2) needs 1.1 or later" \
  "its file, and the version L2 needs"
is "$(q "$tap_tmp/old.db" "SELECT count(*) FROM train_log")" "0" "and nothing trained"
sed -i 's/mode: l2/mode: decoupled/' "$old"
run "$LORENS" run "$old" --db "$tap_tmp/old2.db" --backend-dir "$fault"
is "$(q "$tap_tmp/old2.db" "SELECT status FROM runs")" "done" "decoupled decay trains on it"

# ---- refusals ----------------------------------------------------------------------------------
bad=$(grid bad 1 "regularizer: {weight_decay: {b: 1000}}")
run "$LORENS" run "$bad" --db "$tap_tmp/bad.db" --backend-dir "$cpu"
is "$status" 1 "decoupled weight decay with lr * decay >= 1 is refused before anything runs"
like "$err" "regularizer.weight_decay.b: decoupled decay 1000 with train.lr 0.003 gives lr * decay = 3 >= 1" \
  "saying why"
ok "$([ ! -e "$tap_tmp/bad.db" ]; echo $?)" "and no database is created"
nov=$(grid nov 1 "regularizer: {early_stopping: {metric: accuracy}}")
sed -i '/^  validation:/d' "$nov"
run "$LORENS" plan "$nov"
like "$err" "early_stopping.metric: accuracy needs a validation set (data.validation)" \
  "early stopping without a validation set is refused by plan"

done_testing
