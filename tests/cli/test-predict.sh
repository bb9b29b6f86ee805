#!/bin/sh
# test-predict.sh: `lorens predict` on the real stories260K over all 570 ARC-Easy dev questions,
# against probabilities computed by Hugging Face transformers + tokenizers for the same prompts
# (tests/fixtures/make_predict_reference.py); and its usage errors.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
shared="$TOP_SRCDIR/../shared"
ref="$TOP_SRCDIR/tests/fixtures/stories260k/arc-easy-dev-predict.jsonl"

run "$LORENS" predict --data x --format arc
is "$status" 2 "--model is required"
like "$err" "missing --model DIR" "and the message says so"
run "$LORENS" predict --model m --data x --format arcc
like "$err" "--format must be one of arc|obqa|csqa|mmlu|jsonl, not 'arcc'" "a bad format is named"
for bad in 0 1001 ten; do
  run "$LORENS" predict --model m --data x --format arc --ece-bins "$bad"
  is "$status" 2 "--ece-bins $bad is a usage error"
  like "$err" "--ece-bins" "naming the option"
done
run "$LORENS" predict --model /nonexistent --data x --format arc --backend-dir "$cpu"
is "$status" 1 "a missing model directory is a runtime failure"
like "$err" "/nonexistent" "naming it"

# An ensemble of two PEFT adapters on the fixture model, with a 96-character tokenizer.
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
data="$TOP_SRCDIR/tests/data/predict"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --adapter "$fx/peft-adapter" --adapter "$fx/peft-adapter" --backend-dir "$cpu" --no-bos
is "$status" 0 "predict scores an ensemble of two adapters"
like "$err" "adapter 1                     3" "metrics of each adapter"
like "$err" "ensemble of 2                 3" "and of the ensemble"
# Every answer is wrong here, so the ECE is the mean confidence (0.6630) whatever the bins.
like "$err" "ensemble of 2                 3    0.0000   2.4492   0.6630" "ECE with the default 10 bins"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --adapter "$fx/peft-adapter" --adapter "$fx/peft-adapter" --backend-dir "$cpu" --no-bos \
  --ece-bins 1
is "$status" 0 "--ece-bins 1 is accepted"
like "$err" "ensemble of 2                 3    0.0000   2.4492   0.6630" "and gives the same ECE"
lines=$(printf '%s\n' "$out" | grep -c '"probs":\[\[.*\],\[.*\]\],"mean"')
is "$lines" 3 "every line has one probability list per adapter and their mean"
like "$out" '"id":"q2","label":1,"K":4' "a letter answer becomes its index; K per example"
mkdir "$tap_tmp/other"
cp "$fx/peft-adapter/adapter_model.safetensors" "$tap_tmp/other/"
sed 's/"use_rslora": false/"use_rslora": true/' "$fx/peft-adapter/adapter_config.json" > "$tap_tmp/other/adapter_config.json"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --adapter "$fx/peft-adapter" --adapter "$tap_tmp/other" --backend-dir "$cpu"
is "$status" 1 "adapters with different LoRA configurations are refused"
like "$err" "differs from" "saying they must share one"

if [ ! -d "$shared/models/stories260K" ] || [ ! -f "$shared/data/arc-easy/ARC-Easy-Dev.jsonl" ]; then
  skip "../shared is absent" "stories260K on ARC-Easy dev matches transformers"
  done_testing
fi
run "$LORENS" predict --model "$shared/models/stories260K" --data "$shared/data/arc-easy/ARC-Easy-Dev.jsonl" \
  --format arc --backend-dir "$cpu" --out "$tap_tmp/pred.jsonl"
is "$status" 0 "predict runs over ARC-Easy dev"
like "$out" "570 examples" "all 570 questions"
like "$out" "base model                  570" "metrics of the base model over 570 labelled questions"
if command -v python3 >/dev/null 2>&1; then
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/pred.jsonl" "$ref"
  is "$status" 0 "prompts, choice tokens and probabilities match transformers within 1e-4"
  diag "$out"
else
  skip "python3 not installed" "prompts, choice tokens and probabilities match transformers"
fi
run "$LORENS" predict --model "$shared/models/stories260K" --data "$shared/data/arc-easy/ARC-Easy-Dev.jsonl" \
  --format arc --backend-dir "$cpu" --template qq
is "$status" 1 "an unknown template fails"
like "$err" "unknown prompt template 'qq' (did you mean 'qa'?)" "with a suggestion"
done_testing
