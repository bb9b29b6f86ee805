#!/bin/sh
# test-gguf-model.sh: a GGUF file as the model of `lorens predict` and of a grid: scored and
# trained with a tokenizer.json given; without one, the tokenizer comes from the file's metadata,
# which this file lacks, so it is refused saying so.  The numbers are checked against transformers by
# tests/backend/test-gguf-model.c; this checks the wiring.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
LORENS_BACKEND_PATH=$cpu
export LORENS_BACKEND_PATH
gguf="$TOP_SRCDIR/tests/fixtures/gguf-tiny/llama.gguf"
tok="$data/char96-tokenizer.json"

run "$LORENS" predict --model "$gguf" --data "$data/tiny.jsonl" --format jsonl
is "$status" 1 "predict: a GGUF model without --tokenizer and without tokenizer metadata fails"
like "$err" "$gguf: has no tokenizer in its metadata (no key 'tokenizer.ggml.model')" "and says why"

run "$LORENS" predict --model "$gguf" --tokenizer "$tok" --data "$data/tiny.jsonl" --format jsonl \
  --no-bos
is "$status" 0 "predict scores with a GGUF model and a tokenizer.json"
is "$(printf '%s\n' "$out" | grep -c '"probs":')" 3 "every question of tiny.jsonl"
like "$err" "base model" "with the base model's metrics"

run "$LORENS" predict --model "$TOP_SRCDIR/tests/fixtures/gguf-tiny/expected.safetensors.gguf" \
  --tokenizer "$tok" --data "$data/tiny.jsonl" --format jsonl
is "$status" 1 "a missing .gguf file fails"
like "$err" "expected.safetensors.gguf" "naming it"

# A grid over the GGUF model: one epoch trains both members and stores their adapters.  The model
# is named relative to the grid's directory, and the adapters name it by its canonical path.
mkdir "$tap_tmp/models"
cp "$gguf" "$tap_tmp/models/tiny.gguf"
g=$(fixture_grid "$tap_tmp/gguf.yaml" gguf "model: models/../models/tiny.gguf" \
  "train: {batch_size: 8, epochs: 1}")
run "$LORENS" run "$g" --db "$tap_tmp/gguf.db"
is "$status" 0 "a sweep over a GGUF model runs"
is "$(q "$tap_tmp/gguf.db" "SELECT status, count(*) FROM runs GROUP BY 1")" "done,1" "its run is done"
ls "$tap_tmp"/gguf.db.runs/*/member-1/adapter_config.json >/dev/null 2>&1
ok $? "with each member's adapter saved"
key=$(q "$tap_tmp/gguf.db" "SELECT run_key FROM runs")
run "$LORENS" export --db "$tap_tmp/gguf.db" --run "$key" --member 1 "$tap_tmp/exported"
is "$status" 0 "lorens export copies member 1"
like "$(cat "$tap_tmp/exported/adapter_config.json")" \
  "\"base_model_name_or_path\": \"$(cd "$tap_tmp/models" && pwd -P)/tiny.gguf\"" \
  "naming the GGUF file by its canonical path, not relative to the grid"

g=$(fixture_grid "$tap_tmp/notok.yaml" notok "model: $gguf" "tokenizer: null")
run "$LORENS" run "$g" --db "$tap_tmp/notok.db"
is "$status" 1 "a grid with a GGUF model without tokenizer metadata and no tokenizer: is refused"
like "$err" "has no tokenizer in its metadata (no key 'tokenizer.ggml.model')" "before any run, saying why"

done_testing
