#!/bin/sh
# test-gguf-reference.sh: `lorens predict` on the shipped SmolLM2-135M-Instruct Q4_1 GGUF file
# against transformers' own GGUF loading in float64 (tests/fixtures/make_smollm2_gguf_reference.py):
# ARC-Easy dev questions with the select (the first 120) and the cloze (the first 100) template,
# prompt and choice token ids identical and every choice probability within 1e-4.  Then a PEFT
# adapter that lorens trained on this file and exported (tests/fixtures/smollm2-gguf/peft-adapter,
# LoRA r 1 on q and k, whose rows the GGUF file permutes) against PEFT applying it to
# transformers' model (make_smollm2_peft_reference.py): 20 select and 10 cloze questions.
# The select questions run once more in precision bf16, against a bf16 tolerance.
# Cloze runs each prompt once for all its choices (plugin ABI 1.4): 100 questions take about as
# long as 100 select ones (both under 12 s on 2 cores; each choice token had a forward pass of its
# own before, and 100 cloze questions took 284 s).  Under sanitizers (measured 1.45x slower on 12
# select questions) only a few questions of each are scored: the numbers are the same code's, the
# sanitizers look for memory errors.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
shared="${LORENS_SHARED_DIR:-$TOP_SRCDIR/../shared}"
gguf="$shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
tok="$shared/tokenizers/smollm2/tokenizer.json"
dev="$shared/data/arc-easy/ARC-Easy-Dev.jsonl"
refs="$TOP_SRCDIR/tests/fixtures/smollm2-gguf"

shared_files "$gguf" "$tok" "$dev"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (it compares the predictions)"

# compare TEMPLATE N REFERENCE [ADAPTER]: predict on the first N dev questions against the first
# N lines of REFERENCE.
compare() {
  what="$1 ($2 questions${4:+, adapter})"
  head -n "$2" "$dev" >"$tap_tmp/dev.jsonl"
  head -n "$2" "$3" >"$tap_tmp/ref.jsonl"
  run "$LORENS" predict --model "$gguf" --tokenizer "$tok" --no-bos --data "$tap_tmp/dev.jsonl" \
    --format arc --template "$1" ${4:+--adapter "$4"} --backend-dir "$cpu" --out "$tap_tmp/pred.jsonl"
  is "$status" 0 "$what: predict scores the GGUF model"
  like "$out" "$2 examples from $tap_tmp/dev.jsonl" "$what: every question"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/pred.jsonl" "$tap_tmp/ref.jsonl"
  is "$status" 0 "$what: prompt and choice ids identical to ${4:+PEFT on }transformers', probabilities within 1e-4"
  diag "$what: $out"
}

if "$LORENS" version | grep -q "sanitizers: address"; then
  n_select=12 n_cloze=6 n_adapter_select=4 n_adapter_cloze=2
else
  n_select=120 n_cloze=100 n_adapter_select=20 n_adapter_cloze=10
fi
compare select "$n_select" "$refs/arc-easy-dev-select.jsonl"
compare cloze "$n_cloze" "$refs/arc-easy-dev-cloze.jsonl"
compare select "$n_adapter_select" "$refs/peft-adapter-select.jsonl" "$refs/peft-adapter"
compare cloze "$n_adapter_cloze" "$refs/peft-adapter-cloze.jsonl" "$refs/peft-adapter"

# Precision bf16 (docs/precision.md): the same select questions with the frozen products in bf16
# stay within 0.05 of the float64 reference (measured worst: 0.024 over 120 select, 0.022 over 100
# cloze questions), and are not within fp32's 1e-4, so the bf16 path really ran.
if "$LORENS" backends --backend-dir "$cpu" 2>&1 | grep -q "bf16 through oneDNN"; then
  head -n "$n_select" "$dev" >"$tap_tmp/dev.jsonl"
  head -n "$n_select" "$refs/arc-easy-dev-select.jsonl" >"$tap_tmp/ref.jsonl"
  run "$LORENS" predict --model "$gguf" --tokenizer "$tok" --no-bos --data "$tap_tmp/dev.jsonl" \
    --format arc --backend-dir "$cpu" --precision bf16 --out "$tap_tmp/bf16.jsonl"
  is "$status" 0 "bf16: predict scores the GGUF model"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/bf16.jsonl" "$tap_tmp/ref.jsonl" 0.05
  is "$status" 0 "bf16: $n_select select questions within 0.05 of transformers' float64 probabilities"
  diag "bf16: $(printf '%s\n' "$out" | tail -n 1)"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/bf16.jsonl" "$tap_tmp/ref.jsonl"
  is "$status" 1 "bf16: and not within fp32's 1e-4"
else
  skip "this build or CPU multiplies no bf16 (lorens backends)" "bf16: select questions"
fi

# An export that wrote q/k's LoRA B in the GGUF file's row order is caught, as is an adapter
# left out: both on the first adapter questions of the select template.
head -n "$n_adapter_select" "$dev" >"$tap_tmp/dev.jsonl"
head -n "$n_adapter_select" "$refs/peft-adapter-select.jsonl" >"$tap_tmp/aref.jsonl"
run python3 "$TOP_SRCDIR/tests/cli/permute-peft-qk.py" "$refs/peft-adapter" "$tap_tmp/permuted" 9 3
like "$out" "permuted the rows of 60 lora_B matrices" "an adapter with q/k's B rows in the GGUF order"
for variant in permuted none; do
  if [ "$variant" = none ]; then set --; else set -- --adapter "$tap_tmp/$variant"; fi
  run "$LORENS" predict --model "$gguf" --tokenizer "$tok" --no-bos --data "$tap_tmp/dev.jsonl" \
    --format arc "$@" --backend-dir "$cpu" --out "$tap_tmp/wrong.jsonl"
  is "$status" 0 "adapter $variant: predict runs"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/wrong.jsonl" "$tap_tmp/aref.jsonl"
  is "$status" 1 "adapter $variant: PEFT's probabilities are not matched"
  like "$out" "not ok: largest probability difference" "adapter $variant: the difference is named"
  diag "adapter $variant: $(printf '%s\n' "$out" | tail -n 1)"
done

# The comparison can fail: the last reference with one probability moved by 2e-4.
python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rows[-1]["probs"][0] += 2e-4
sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))' "$tap_tmp/ref.jsonl" >"$tap_tmp/moved.jsonl"
run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/pred.jsonl" "$tap_tmp/moved.jsonl"
is "$status" 1 "a probability 2e-4 off fails the comparison"
like "$out" "not ok: largest probability difference" "naming the difference"
done_testing
