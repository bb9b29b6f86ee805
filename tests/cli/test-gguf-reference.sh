#!/bin/sh
# test-gguf-reference.sh: `lorens predict` on the shipped SmolLM2-135M-Instruct Q4_1 GGUF file
# against transformers' own GGUF loading in float64 (tests/fixtures/make_smollm2_gguf_reference.py):
# the first 120 ARC-Easy dev questions with the select and the cloze template, prompt and choice
# token ids identical and every choice probability within 1e-4.  Under sanitizers (about ten
# times slower) the first 12 questions only.
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
shared="${LORENS_SHARED_DIR:-$TOP_SRCDIR/../shared}"
gguf="$shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
tok="$shared/tokenizers/smollm2/tokenizer.json"
dev="$shared/data/arc-easy/ARC-Easy-Dev.jsonl"
refs="$TOP_SRCDIR/tests/fixtures/smollm2-gguf"

for f in "$gguf" "$tok" "$dev"; do
  [ -f "$f" ] || skip_all "$f is absent (../shared holds it)"
done
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (it compares the predictions)"

n=$(wc -l <"$refs/arc-easy-dev-select.jsonl")
if "$LORENS" version | grep -q "sanitizers: address"; then
  n=12
fi
head -n "$n" "$dev" >"$tap_tmp/dev.jsonl"

for template in select cloze; do
  head -n "$n" "$refs/arc-easy-dev-$template.jsonl" >"$tap_tmp/ref.jsonl"
  run "$LORENS" predict --model "$gguf" --tokenizer "$tok" --no-bos --data "$tap_tmp/dev.jsonl" \
    --format arc --template "$template" --backend-dir "$cpu" --out "$tap_tmp/pred.jsonl"
  is "$status" 0 "$template: predict scores the GGUF model"
  like "$out" "$n examples from $tap_tmp/dev.jsonl" "$template: all $n questions"
  run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/pred.jsonl" "$tap_tmp/ref.jsonl"
  is "$status" 0 "$template: prompt and choice ids identical to transformers', probabilities within 1e-4"
  diag "$template: $out"
done

# The comparison can fail: the cloze reference with one probability moved by 2e-4.
python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rows[-1]["probs"][0] += 2e-4
sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))' "$tap_tmp/ref.jsonl" >"$tap_tmp/moved.jsonl"
run python3 "$TOP_SRCDIR/tests/cli/compare-predictions.py" "$tap_tmp/pred.jsonl" "$tap_tmp/moved.jsonl"
is "$status" 1 "a probability 2e-4 off fails the comparison"
like "$out" "not ok: largest probability difference" "naming the difference"
done_testing
