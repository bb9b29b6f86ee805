#!/bin/sh
# test-model-info.sh: `lorens model-info` on the real stories260K and on broken model directories.
. "$TOP_SRCDIR/tests/tap.sh"

stories="$TOP_SRCDIR/../shared/models/stories260K"

# Usage errors need no model.
run "$LORENS" model-info
is "$status" 2 "no directory is a usage error"
like "$err" "missing the model directory" "saying what is missing"
run "$LORENS" model-info a b
is "$status" 2 "two directories are a usage error"
like "$err" "unexpected argument 'b'" "naming the extra one"
run "$LORENS" model-info --format yaml x
is "$status" 2 "a bad --format is a usage error"
like "$err" "--format must be one of text|json, not 'yaml'" "naming the value"
run "$LORENS" model-info --bogus x
is "$status" 2 "an unknown option is a usage error"
like "$err" "usage: lorens model-info DIR" "followed by the usage"
run "$LORENS" help model-info
is "$status" 0 "help model-info exits 0"
like "$out" "model.safetensors.index.json" "and explains the files it reads"

run "$LORENS" model-info "$tap_tmp/nonexistent"
is "$status" 1 "a missing directory fails (1)"
like "$err" "lorens: error: $tap_tmp/nonexistent: cannot open model directory" "naming it"

# A broken copy of a model: a good config and weights cut short, as an interrupted download leaves.
mkdir -p "$tap_tmp/cut"
cat > "$tap_tmp/cut/config.json" <<'JSON'
{"model_type": "llama", "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
 "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
JSON
printf '\020\000\000\000\000\000\000\000{"a":1}' > "$tap_tmp/cut/model.safetensors"
run "$LORENS" model-info "$tap_tmp/cut"
is "$status" 1 "truncated weights fail (1)"
like "$err" "lorens: error: $tap_tmp/cut/model.safetensors: header length 16 goes beyond the end of the file (15 bytes" \
  "the message names the file and both lengths"

mkdir -p "$tap_tmp/badcfg"
printf '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,\n "num_hidden_layers": "5"}\n' \
  > "$tap_tmp/badcfg/config.json"
run "$LORENS" model-info "$tap_tmp/badcfg" --format json
is "$status" 1 "a bad config fails (1)"
like "$err" "$tap_tmp/badcfg/config.json: field 'num_hidden_layers' must be a positive integer, got string" \
  "the message names the file and the field"
is "$out" "" "and nothing is printed on stdout"

[ -d "$stories" ] || { skip "../shared/models/stories260K is not there" "stories260K"; done_testing; }

run "$LORENS" model-info "$stories"
is "$status" 0 "stories260K loads"
like "$out" "type:        llama" "its type"
like "$out" "hidden_size 64, intermediate_size 172, vocab_size 512" "its sizes"
like "$out" "layers:      5" "its layers"
like "$out" "8 heads, 4 kv heads, head_dim 8, bias none" "its heads"
like "$out" "rope:        theta 10000, no scaling" "its RoPE"
like "$out" "embeddings:  tied" "tied embeddings"
like "$out" "parameters:  260,032 (F32, 1,040,128 bytes)" "its parameter count and dtype"
like "$out" "model.safetensors: 1,044,984 bytes, 47 tensors (0 ignored)" "its file"

run "$LORENS" model-info --tensors "$stories"
like "$out" "model.layers.4.mlp.down_proj.weight              F32   [64, 172]" "--tensors lists tensors"

run "$LORENS" model-info "$stories" --format json --tensors
is "$status" 0 "--format json exits 0"
if command -v python3 >/dev/null 2>&1; then
  printf '%s' "$out" > "$tap_tmp/info.json"
  summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["model_type"], d["hidden_size"], d["num_hidden_layers"], d["num_attention_heads"],
      d["num_key_value_heads"], d["vocab_size"], d["tie_word_embeddings"], d["parameters"],
      ",".join(d["dtypes"]), len(d["tensors"]), d["files"][0]["name"])' "$tap_tmp/info.json")
  is "$summary" "llama 64 5 8 4 512 True 260032 F32 47 model.safetensors" "the JSON has the summary and tensors"
else
  skip "python3 not installed" "the JSON parses"
fi

done_testing
