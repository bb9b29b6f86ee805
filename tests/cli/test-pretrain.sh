#!/bin/sh
# test-pretrain.sh: `lorens pretrain` end to end on a small synthetic corpus: the files it writes,
# that the loss falls, reuse of a finished directory, refusal of a directory made otherwise, a run
# stopped by SIGINT that continues to the same weights as an uninterrupted one, configuration
# errors naming file, line and key; and that Hugging Face transformers scores what lorens scores
# (live when a python with torch and transformers is at hand, always against the committed
# fixture tests/fixtures/pretrained-tiny, made by tests/fixtures/make_pretrained_fixture.sh).
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
fx="$TOP_SRCDIR/tests/fixtures/pretrained-tiny"
w="$tap_tmp/world"

run "$LORENS" synth --seed 3 --out "$w" --entities 12 --facts-per-entity 6 --train 40 \
  --validation 10 --test 20 --ood 20
is "$status" 0 "a small synthetic task"

cat >"$tap_tmp/tiny.yaml" <<'EOF'
model: {dim: 32, layers: 1, heads: 2, context: 160}
tokenizer: {vocab_size: 300}
train: {steps: 40, batch: 4, lr: 1e-2, warmup: 4, checkpoint_every: 10}
EOF
pre() {
  run "$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/tiny.yaml" \
    --backend-dir "$cpu" --threads 1 "$@"
}

# ---- a whole run ------------------------------------------------------------------------------
pre --out "$tap_tmp/a"
is "$status" 0 "pretrain runs"
like "$out" "wrote $tap_tmp/a: " "reports what it wrote"
like "$err" "pretrain [########################] 40/40 steps  loss" "a progress line with the loss"
like "$err" "tok/s" "and tokens/s"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json pretrain.json; do
  [ -s "$tap_tmp/a/$f" ]
  ok $? "writes $f"
done
[ ! -e "$tap_tmp/a/pretrain-checkpoint.safetensors" ]
ok $? "the checkpoint is gone once the model is written"
like "$(cat "$tap_tmp/a/config.json")" '"architectures": [' "config.json names the architecture"
like "$(cat "$tap_tmp/a/config.json")" '"LlamaForCausalLM"' "LlamaForCausalLM"
first=$(printf '%s\n' "$err" | grep -o 'loss [0-9.]*' | head -n 1 | cut -d' ' -f2)
final=$(grep -o '"final_loss": [0-9.]*' "$tap_tmp/a/pretrain.json" | cut -d' ' -f2)
awk -v a="$first" -v b="$final" 'BEGIN { exit !(b < a - 0.5) }'
ok $? "the loss falls (first $first, mean of the last steps $final)"

run "$LORENS" model-info "$tap_tmp/a"
is "$status" 0 "lorens model-info loads the directory"
run "$LORENS" predict --model "$tap_tmp/a" --data "$w/test.jsonl" --format jsonl \
  --backend-dir "$cpu" --out "$tap_tmp/a-pred.jsonl"
is "$status" 0 "lorens predict scores with it"

# ---- answered questions in the text ------------------------------------------------------------
pre --out "$tap_tmp/q" --questions "$w/train.jsonl" --quiet
is "$status" 0 "pretrain with --questions"
toks_a=$(grep -o '"corpus_tokens": [0-9]*' "$tap_tmp/a/pretrain.json" | cut -d' ' -f2)
toks_q=$(grep -o '"corpus_tokens": [0-9]*' "$tap_tmp/q/pretrain.json" | cut -d' ' -f2)
[ "$toks_q" -gt "$toks_a" ]
ok $? "the questions add tokens ($toks_a -> $toks_q)"
n_q=$(printf ' Answer:\n' | "$LORENS" tokenize --tokenizer "$tap_tmp/q/tokenizer.json" | wc -w)
n_a=$(printf ' Answer:\n' | "$LORENS" tokenize --tokenizer "$tap_tmp/a/tokenizer.json" | wc -w)
[ "$n_q" -lt "$n_a" ]
ok $? "the tokenizer learnt the prompt's words (' Answer:' in $n_q tokens, $n_a without questions)"
pre --out "$tap_tmp/q2" --questions "$tap_tmp/none.jsonl"
is "$status" 1 "a missing questions file fails"
like "$err" "none.jsonl" "naming it"
run "$LORENS" pretrain --corpus "$w/corpus.txt" --out "$tap_tmp/q3" --questions "$w/train.jsonl" \
  --questions-format csv
is "$status" 2 "an unknown --questions-format is a usage error"

# ---- reuse and refusal --------------------------------------------------------------------------
sum=$(md5sum <"$tap_tmp/a/model.safetensors")
pre --out "$tap_tmp/a"
is "$status" 0 "running it again succeeds"
like "$out" "already holds this model" "and reuses the model"
is "$(md5sum <"$tap_tmp/a/model.safetensors")" "$sum" "without touching it"
sed 's/steps: 40/steps: 41/' "$tap_tmp/tiny.yaml" >"$tap_tmp/other.yaml"
run "$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/other.yaml" \
  --backend-dir "$cpu" --out "$tap_tmp/a"
is "$status" 1 "another configuration into the same directory fails"
like "$err" "holds a model pretrained with another configuration or corpus" "and says why"
is "$(md5sum <"$tap_tmp/a/model.safetensors")" "$sum" "the model there is untouched"

# ---- stopped and continued --------------------------------------------------------------------
# A run stopped with SIGINT after its first checkpoint continues, with the same command, to the
# same bytes as the uninterrupted run (same threads: the arithmetic is the same).
sed 's/steps: 40/steps: 400/; s/checkpoint_every: 10/checkpoint_every: 5/' "$tap_tmp/tiny.yaml" \
  >"$tap_tmp/long.yaml"
"$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/long.yaml" --backend-dir "$cpu" \
  --threads 1 --quiet --out "$tap_tmp/full" >/dev/null 2>&1
"$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/long.yaml" --backend-dir "$cpu" \
  --threads 1 --out "$tap_tmp/b" >"$tap_tmp/b.out" 2>"$tap_tmp/b.err" &
pid=$!
i=0
while [ ! -e "$tap_tmp/b/pretrain-checkpoint.safetensors" ] && [ $i -lt 600 ]; do
  sleep 0.05
  i=$((i + 1))
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc -eq 0 ]; then
  skip "the run finished before SIGINT arrived" "SIGINT stops the run" "a checkpoint is left"
else
  is "$rc" 1 "SIGINT stops the run with a failure status"
  like "$(cat "$tap_tmp/b.err")" "of 400; the checkpoint is saved: run the same command to continue" "and says how to go on"
fi
run "$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/long.yaml" --backend-dir "$cpu" \
  --threads 1 --quiet --out "$tap_tmp/b"
is "$status" 0 "the same command continues"
case $out in *"steps 0..400"*) ok 1 "from the checkpoint's step" ;; *"..400"*) ok 0 "from the checkpoint's step" ;; *) ok 1 "from the checkpoint's step" ;; esac
is "$(md5sum <"$tap_tmp/b/model.safetensors")" "$(md5sum <"$tap_tmp/full/model.safetensors")" \
  "to the same weights as the uninterrupted run"

# ---- bad configurations -------------------------------------------------------------------------
bad_config() {
  printf '%s\n' "$1" >"$tap_tmp/bad.yaml"
  run "$LORENS" pretrain --corpus "$w/corpus.txt" --config "$tap_tmp/bad.yaml" --out "$tap_tmp/bad"
  is "$status" 1 "config '$1' fails"
  like "$err" "$2" "  with '$2'"
}
bad_config "model: {dim: 32, layrs: 2}" "bad.yaml:1:18: model: unknown key 'layrs' (did you mean 'layers'?)"
bad_config "trian: {steps: 3}" "bad.yaml:1:1: unknown section 'trian' (did you mean 'train'?)"
bad_config "train:
  steps: many" "bad.yaml:2:10: train.steps: expected an integer"
bad_config "train: {lr: -1}" "train.lr: expected a number in [0, 10], not '-1'"
bad_config "model: {dim: 30, heads: 4}" "model.dim 30 must be a multiple of model.heads 4"
bad_config "tokenizer: {vocab_size: 100}" "tokenizer.vocab_size: expected an integer in [258,"
[ ! -e "$tap_tmp/bad" ]
ok $? "a bad configuration writes nothing"
run "$LORENS" pretrain --corpus "$tap_tmp/missing.txt" --out "$tap_tmp/bad"
is "$status" 1 "a missing corpus fails"
like "$err" "missing.txt" "naming it"
run "$LORENS" pretrain --out "$tap_tmp/bad"
is "$status" 2 "no --corpus is a usage error"

# ---- transformers agrees ------------------------------------------------------------------------
run "$LORENS" predict --model "$fx" --data "$fx/questions.jsonl" --format jsonl \
  --backend-dir "$cpu" --out "$tap_tmp/fx-pred.jsonl"
is "$status" 0 "predict on the committed pretrained fixture"
run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/fx-pred.jsonl" "$fx/hf-predict.jsonl"
is "$status" 0 "its prompts, choice tokens and probabilities match transformers' (fixture)"
diag "$out"

run "$LORENS" predict --model "$fx" --data "$fx/questions.jsonl" --format jsonl --template cloze \
  --backend-dir "$cpu" --out "$tap_tmp/fx-cloze.jsonl"
is "$status" 0 "predict with the cloze template on the fixture"
run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/fx-cloze.jsonl" "$fx/hf-predict-cloze.jsonl"
is "$status" 0 "cloze: each choice's text scored as transformers scores it (fixture)"
diag "$out"

py=
for cand in "${LORENS_PYTHON:-}" /root/fixenv/bin/python python3; do
  if [ -n "$cand" ] && "$cand" -c 'import torch, transformers' >/dev/null 2>&1; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  skip "no python with torch and transformers" "transformers scores a fresh model as lorens does"
else
  run "$py" "$TOP_SRCDIR/tests/fixtures/make_pretrained_reference.py" "$tap_tmp/a" \
    "$w/test.jsonl" "$tap_tmp/a-hf.jsonl"
  is "$status" 0 "transformers loads the fresh model and tokenizer"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/a-pred.jsonl" "$tap_tmp/a-hf.jsonl"
  is "$status" 0 "transformers scores the fresh model as lorens does"
  diag "$out"
fi
done_testing
