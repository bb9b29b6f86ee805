#!/bin/sh
# test-demo.sh: experiments/demo.yaml made CI-sized (a smaller world, a smaller model pretrained
# for fewer steps, one seed, two epochs) and run end to end: the prepare section makes the task
# and the model, every run finishes, the summary table lists each configuration, and a second
# `lorens run` reuses the prepared model and runs nothing.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
d="$tap_tmp/demo"
mkdir -p "$d/pretrain"
cat >"$d/pretrain/demo-model.yaml" <<'EOF'
model: {dim: 48, layers: 2, heads: 2, context: 64}
tokenizer: {vocab_size: 400}
train: {steps: 150, batch: 8, lr: 5e-3, warmup: 10, checkpoint_every: 50}
EOF
# The demo grid with smaller sizes; everything else as the file says.
sed -e 's|synth: {out: ../.demo-cache/world, seed: 1}|synth: {out: cache/world, seed: 1, entities: 15, facts_per_entity: 6, train: 60, validation: 20, test: 40, ood: 40}|' \
  -e 's|\.\./\.demo-cache/|cache/|g' \
  -e 's|train: {epochs: 4, batch_size: 8|train: {epochs: 2, batch_size: 8|' \
  -e 's|  seed: \[0, 1\]|  seed: [0]|' \
  -e 's|ensemble:|ensemble:|' \
  "$TOP_SRCDIR/experiments/demo.yaml" >"$d/demo.yaml"
grep -q 'entities: 15' "$d/demo.yaml" && grep -q 'epochs: 2' "$d/demo.yaml" && grep -q 'seed: \[0\]' "$d/demo.yaml"
ok $? "the CI-sized grid is the demo grid with smaller sizes"

start=$(date +%s)
run "$LORENS" run "$d/demo.yaml" --db "$d/demo.db" --backend-dir "$cpu"
took=$(($(date +%s) - start))
is "$status" 0 "the demo sweep runs to the end (${took}s)"
like "$err" "prepare: synthetic task in" "prepare makes the synthetic task"
like "$err" "prepare: pretrained a model into" "and pretrains the model"
[ -s "$d/cache/model/model.safetensors" ] && [ -s "$d/cache/world/train.jsonl" ]
ok $? "into the grid's cache directory"
like "$err" "3 done, 0 diverged, 0 failed" "all three runs are done"
like "$out" "sweep 'demo': test set 'test', OOD set 'ood'" "the summary table follows"
like "$out" "regularizer" "labelled by the regularizer"
for reg in none kl wd_b; do
  printf '%s\n' "$out" | grep -q "^$reg "
  ok $? "a row for $reg"
done
rows=$(printf '%s\n' "$out" | grep -cE '^(none|kl|wd_b) +[^ ]* *1  4 ')
is "$rows" 3 "each row: 1 run of M = 4"

run "$LORENS" run "$d/demo.yaml" --db "$d/demo.db" --backend-dir "$cpu"
is "$status" 0 "running the demo again"
like "$err" "prepare: reusing the model pretrained in" "reuses the pretrained model"
like "$err" "nothing to do: all 3 runs are done" "and runs nothing"
[ "$took" -lt 120 ]
ok $? "the CI-sized demo takes under two minutes (${took}s)"
done_testing
