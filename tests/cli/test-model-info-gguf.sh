#!/bin/sh
# test-model-info-gguf.sh: `lorens model-info` on GGUF files: a tiny one written by tests/make-gguf
# (tests/gguf-samples.c), broken ones, and the real SmolLM2 Q4_1 file of ../shared when it is there.
. "$TOP_SRCDIR/tests/tap.sh"

make_gguf="$TOP_BUILDDIR/tests/make-gguf"
smol="$TOP_SRCDIR/../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

# has_line REGEX NAME: some line of $out matches the extended regex.
has_line() {
  if printf '%s\n' "$out" | grep -Eq -- "$1"; then ok 0 "$2"; else ok 1 "$2"; diag "no line matches '$1' in:"; diag "$out"; fi
}

run "$LORENS" help model-info
like "$out" "usage: lorens model-info DIR|FILE.gguf" "the usage names GGUF files"
like "$out" "A GGUF file (a path ending in .gguf" "and the help explains them"

"$make_gguf" sample good-llama "$tap_tmp/tiny.gguf"
ok $? "make-gguf writes the tiny LLaMA sample"
run "$LORENS" model-info "$tap_tmp/tiny.gguf"
is "$status" 0 "a tiny GGUF file reads (0)"
is "$err" "" "with nothing on stderr"
has_line "^model: +$tap_tmp/tiny.gguf$" "the path"
has_line "^format: +GGUF v3, 3,520 bytes, 15 metadata keys, alignment 32$" "the format line"
has_line "^architecture: llama$" "general.architecture"
has_line "^name: +tiny-llama$" "general.name"
has_line "^file type: +MOSTLY_Q4_1 \(3\)$" "the file type, named"
has_line "^  llama.context_length +128$" "context_length"
has_line "^  llama.embedding_length +32$" "embedding_length"
has_line "^  llama.block_count +1$" "block_count"
has_line "^  llama.feed_forward_length +64$" "feed_forward_length"
has_line "^  llama.attention.head_count +4$" "head_count"
has_line "^  llama.attention.head_count_kv +2$" "head_count_kv"
has_line "^  llama.attention.layer_norm_rms_epsilon +1e-05$" "the float32 epsilon, shortest"
has_line "^  llama.rope.freq_base +10000$" "rope.freq_base"
has_line "^tensors: +6, 2,384 bytes$" "the tensor count and bytes"
has_line "^  F32 +2 tensors +256 bytes$" "F32 totals"
has_line "^  Q4_0 +1 tensor +1,152 bytes$" "Q4_0 totals"
has_line "^  Q8_0 +1 tensor +272 bytes$" "Q8_0 totals"
case $out in *"tensor list"*) ok 1 "no tensor list without --tensors" ;; *) ok 0 "no tensor list without --tensors" ;; esac

run "$LORENS" model-info --tensors "$tap_tmp/tiny.gguf"
is "$status" 0 "--tensors exits 0"
has_line "^  token_embd.weight +Q8_0 +\[8, 32\] +272 +1120$" "token_embd: Q8_0, shape in HF order, bytes, offset"
has_line "^  blk.0.ffn_down.weight +Q4_0 +\[32, 64\] +1152 +2176$" "ffn_down: ne [64, 32] listed as [32, 64]"
has_line "^  output_norm.weight +F32 +\[32\] +128 +3392$" "a 1-D tensor"

# A GGUF file is known by its magic, whatever its name.
cp "$tap_tmp/tiny.gguf" "$tap_tmp/tiny.bin"
run "$LORENS" model-info "$tap_tmp/tiny.bin"
is "$status" 0 "a GGUF file without the suffix reads too"
has_line "^architecture: llama$" "as GGUF"

if command -v python3 >/dev/null 2>&1; then
  run "$LORENS" model-info "$tap_tmp/tiny.gguf" --format json --tensors
  is "$status" 0 "--format json exits 0"
  printf '%s' "$out" > "$tap_tmp/tiny.json"
  summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
h = d["hyperparameters"]
print(d["format"], d["version"], d["architecture"], d["name"], d["file_type_name"],
      h["llama.block_count"], h["llama.embedding_length"], h["llama.attention.head_count_kv"],
      h["llama.attention.layer_norm_rms_epsilon"], d["tensor_count"], d["tensor_bytes"],
      ",".join("%s:%d" % (t["type"], t["tensors"]) for t in d["tensor_types"]),
      d["tensors"][3]["name"], d["tensors"][3]["shape"], d["tensors"][3]["offset"])' "$tap_tmp/tiny.json")
  is "$summary" "gguf 3 llama tiny-llama MOSTLY_Q4_1 1 32 2 1e-05 6 2384 F32:2,F16:1,Q4_0:1,Q4_1:1,Q8_0:1 blk.0.ffn_down.weight [32, 64] 2176" \
    "the JSON has the same facts"
else
  skip "python3 not installed" "the JSON parses"
fi

# Broken files fail with the file, the byte offset and what is wrong, and print nothing on stdout.
"$make_gguf" sample bad-magic "$tap_tmp/magic.gguf"
run "$LORENS" model-info "$tap_tmp/magic.gguf"
is "$status" 1 "a wrong magic fails (1)"
is "$err" "lorens: error: $tap_tmp/magic.gguf: byte 0: not a GGUF file: it starts with \"GGML\", not \"GGUF\"" \
  "naming the file and the byte"
is "$out" "" "nothing on stdout"
"$make_gguf" sample bad-truncated-data "$tap_tmp/cut.gguf"
run "$LORENS" model-info "$tap_tmp/cut.gguf" --format json
is "$status" 1 "a truncated file fails (1)"
like "$err" "$tap_tmp/cut.gguf: byte 1048: tensor 'output_norm.weight': its data (128 bytes at offset 2272 of the data section, which starts at byte 1120) goes past the end of the file (3420 bytes; truncated?)" \
  "naming the tensor"
"$make_gguf" sample bad-version1 "$tap_tmp/v1.gguf"
run "$LORENS" model-info "$tap_tmp/v1.gguf"
like "$err" "byte 4: GGUF version 1 is not supported" "version 1 is refused by name"
"$make_gguf" sample bad-tensor-overlap "$tap_tmp/overlap.gguf"
run "$LORENS" model-info "$tap_tmp/overlap.gguf"
like "$err" "tensor 'b': its data (file bytes 128..160) overlaps that of tensor 'a'" "overlaps are refused"
run "$LORENS" model-info "$tap_tmp/missing.gguf"
is "$status" 1 "a missing .gguf fails (1)"
like "$err" "$tap_tmp/missing.gguf: cannot open" "as a file, not a directory"
# A file that is neither GGUF nor named .gguf is still taken for a model directory.
printf 'not a model\n' > "$tap_tmp/notes.txt"
run "$LORENS" model-info "$tap_tmp/notes.txt"
is "$status" 1 "another file fails (1)"
like "$err" "$tap_tmp/notes.txt" "naming it"
case $err in *GGUF*) ok 1 "without calling it GGUF" ;; *) ok 0 "without calling it GGUF" ;; esac

[ -f "$smol" ] || { skip "../shared/models/smollm2-135m-instruct is not there" "SmolLM2 GGUF"; done_testing; }

# Figures from gguf-py 0.19.0 (GGUFReader) on the same file.
run "$LORENS" model-info "$smol"
is "$status" 0 "SmolLM2-135M-Instruct.Q4_1.gguf reads"
has_line "^format: +GGUF v3, 98,362,432 bytes, 33 metadata keys, alignment 32$" "its format"
has_line "^architecture: llama$" "llama"
has_line "^file type: +MOSTLY_Q4_1 \(3\)$" "Q4_1"
has_line "^  llama.context_length +8192$" "context 8192"
has_line "^  llama.embedding_length +576$" "hidden 576"
has_line "^  llama.block_count +30$" "30 blocks"
has_line "^  llama.feed_forward_length +1536$" "FFN 1536"
has_line "^  llama.attention.head_count +9$" "9 heads"
has_line "^  llama.attention.head_count_kv +3$" "3 KV heads"
has_line "^  llama.attention.layer_norm_rms_epsilon +1e-05$" "RMSNorm eps 1e-5"
has_line "^  llama.rope.freq_base +100000$" "RoPE base 1e5"
has_line "^tensors: +272, 96,576,768 bytes$" "272 tensors"
has_line "^  F32 +61 tensors +140,544 bytes$" "61 F32 norms"
has_line "^  Q4_1 +210 tensors +66,355,200 bytes$" "210 Q4_1 matrices"
has_line "^  Q8_0 +1 tensor +30,081,024 bytes$" "a Q8_0 embedding"

run "$LORENS" model-info --tensors "$smol"
has_line "^  token_embd.weight +Q8_0 +\[49152, 576\] +30081024 +1785664$" "token_embd at the data start"
has_line "^  blk.0.attn_q.weight +Q4_1 +\[576, 576\] +207360 +33806656$" "blk.0.attn_q.weight"
has_line "^  blk.0.ffn_down.weight +Q4_1 +\[576, 1536\] +552960 +31868992$" "blk.0.ffn_down.weight"
has_line "^  output_norm.weight +F32 +\[576\] +2304 +98360128$" "output_norm last"
n=$(printf '%s\n' "$out" | grep -c '^  blk\.')
is "$n" 270 "270 block tensors listed"

done_testing
