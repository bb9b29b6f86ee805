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

# ---- the model's context ------------------------------------------------------------------------
# The fixture model with a context of 100 positions.  Without BOS, the select prompts of q1 and q2
# take 103 and 111 tokens with their longest choice even without their questions; q3 fits once
# words of its question are dropped.
small="$tap_tmp/ctx100"
mkdir "$small"
ln -s "$fx/model.safetensors" "$small/model.safetensors"
sed 's/"max_position_embeddings": 512/"max_position_embeddings": 100/' "$fx/config.json" >"$small/config.json"
grep -q '"max_position_embeddings": 100,' "$small/config.json"
ok $? "a copy of the fixture model with a context of 100"
run "$LORENS" predict --model "$small" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos --batch 1
is "$status" 1 "examples that do not fit the model's context fail"
like "$err" "lorens: error: $data/tiny.jsonl:1: example 'q1': prompt and choice take 103 tokens without the question, the model's context is 100; 2 examples do not fit, also tiny.jsonl:2 'q2' (111 tokens)" \
  "naming the file, line, id, tokens and context of each"
is "$out" "" "before any example is scored"
run "$LORENS" predict --model "$small" --tokenizer "$data/char96-tokenizer.json" --data "$data/tiny.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos --on-error skip
is "$status" 0 "--on-error skip scores the examples that fit"
like "$err" "1 examples from $data/tiny.jsonl (2 examples skipped: prompt and choice do not fit the model's context; first: $data/tiny.jsonl:1: example 'q1'" \
  "and counts those it skipped"
like "$err" "(1 question lost words from the start to fit the model's context of 100 tokens)" \
  "a question that does not fit is cut, as --max-len cuts it"
q3=$(printf '%s\n' "$out" | grep '"id":"q3"' | sed 's/.*"prompt_ids":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | wc -l)
[ "$q3" -gt 90 ] && [ "$q3" -le 98 ]
ok $? "q3 is scored with its prompt cut to fit 100 with its choice ($q3 prompt tokens)"
# The default --max-len is the model's context: a question of 200 words (1,000 tokens, twice the
# context) was scored at positions the model never saw; its start is now dropped.
awk 'BEGIN { printf "{\"id\": \"long\", \"question\": \""; for (i = 0; i < 200; i++) printf "word "
  print "end?\", \"choices\": [\"yes\", \"no\"], \"answer\": 0}" }' >"$tap_tmp/long.jsonl"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$tap_tmp/long.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos
is "$status" 0 "a question far longer than the context is scored"
like "$err" "(1 question lost words from the start to fit the model's context of 512 tokens)" \
  "from what is left of it"
n=$(printf '%s\n' "$out" | sed 's/.*"prompt_ids":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | wc -l)
[ "$n" -le 510 ] && [ "$n" -gt 500 ]
ok $? "in a prompt that fits the context with its choice ($n tokens)"

# ---- a line of 20 MB ---------------------------------------------------------------------------
# The loader refuses it, naming it, before jansson or the tokenizer sees it.
{
  head -n 1 "$data/tiny.jsonl"
  printf '{"id": "huge", "question": "'
  head -c 20000000 /dev/zero | tr '\0' a
  printf '", "choices": ["a", "b"]}\n'
  tail -n 1 "$data/tiny.jsonl"
} >"$tap_tmp/huge.jsonl"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$tap_tmp/huge.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos
is "$status" 1 "a dataset with a line of 20 MB fails"
like "$err" "lorens: error: $tap_tmp/huge.jsonl:2: the line is 20000053 bytes (at most 1048576)" \
  "naming the line, its size and the limit"
run "$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" --data "$tap_tmp/huge.jsonl" \
  --format jsonl --backend-dir "$cpu" --no-bos --on-error skip
is "$status" 0 "--on-error skip skips it"
like "$err" "2 examples from $tap_tmp/huge.jsonl (1 bad lines skipped; first: $tap_tmp/huge.jsonl:2: the line is 20000053 bytes" \
  "and says so"
rm -f "$tap_tmp/huge.jsonl"

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
