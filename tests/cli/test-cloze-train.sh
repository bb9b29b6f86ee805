#!/bin/sh
# test-cloze-train.sh: training with the cloze template through `lorens run`: every choice is its
# whole continuation (several tokens with the fixture model's one-character tokenizer), packed
# after its prompt (plugin ABI 1.4).  The zero-shot probabilities a run stores are `lorens
# predict --template cloze`'s; two epochs lower the validation NLL; the KL term is in the loss;
# micro-batches train the same members; kl.support vocab is refused by name.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"

syn="$tap_tmp/synth"
"$LORENS" synth --seed 3 --out "$syn" --entities 20 --train 16 --validation 8 --test 8 --ood 8 \
  > /dev/null || diag "lorens synth failed"
db="$tap_tmp/cloze.db"

# grid NAME [YAML]...: the fixture grid on the synthetic questions, cloze, two epochs.
grid() {
  name=$1
  shift
  fixture_grid "$tap_tmp/$name.yaml" "$name" "data:
  train: {format: jsonl, path: $syn/train.jsonl}
  validation: {format: jsonl, path: $syn/validation.jsonl}
  eval:
    - {name: test, format: jsonl, path: $syn/test.jsonl}" \
    "prompt: {template: cloze, bos: false}" "train: {batch_size: 8, epochs: 2, lr: 0.01}" \
    "regularizer: {kl: {weight: 0.5}}" "$@"
}

g=$(grid cloze)
run "$LORENS" run "$g" --db "$db" --backend-dir "$cpu"
is "$status" 0 "a cloze training run succeeds"
diag "$err"
is "$(q "$db" "SELECT status FROM runs")" "done" "the run is done"
is "$(q "$db" "SELECT count(*) FROM train_log WHERE finite = 1 AND loss > 0 AND grad_norm > 0")" \
  "8" "every step of both members is logged, finite (2 epochs x 2 steps x 2 members)"
# KL >= 0 up to float rounding: at the first step the members equal the base model, and their KL is
# a difference of nearly equal log-probabilities (measured: within 5e-9 of 0, either sign).
is "$(q "$db" "SELECT count(*) FROM train_log WHERE abs(loss - ce - 0.5 * kl) < 1e-4 AND kl >= -1e-6")" \
  "8" "the loss is the cross-entropy plus 0.5 KL over the choices"
first=$(q "$db" "SELECT avg(nll) FROM evaluations WHERE kind = 'member' AND split = 'validation' AND epoch = 0")
last=$(q "$db" "SELECT avg(nll) FROM evaluations WHERE kind = 'member' AND split = 'validation' AND epoch = 2")
diag "validation NLL of the members: $first at epoch 0, $last at epoch 2"
ok "$(awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'; echo $?)" \
  "two epochs on whole continuations lower the members' validation NLL"

# At epoch 0 B = 0: every member is the base model, scored as lorens predict scores it.
"$LORENS" predict --model "$fx" --tokenizer "$data/char96-tokenizer.json" \
  --data "$syn/validation.jsonl" --format jsonl --template cloze --no-bos --backend-dir "$cpu" \
  --out "$tap_tmp/predict.jsonl" > /dev/null 2>&1
want=$(head -1 "$tap_tmp/predict.jsonl" | sed 's/.*"mean":\[\([^]]*\)\].*/\1/' | tr ',' ' ')
got=$(q "$db" "SELECT probs FROM predictions WHERE split = 'validation' AND epoch = 0 AND example = 0 ORDER BY member LIMIT 1" | tr -d '"[]' | tr ',' ' ')
diag "stored: $got; predict: $want"
awk -v a="$got" -v b="$want" 'BEGIN { n = split(a, x, " "); if (n == 0 || n != split(b, y, " ")) exit 1
  for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > 1e-5) exit 1 } }'
ok $? "the stored zero-shot probabilities are lorens predict's with the cloze template"

# Micro-batches of whole examples train the same members (a runtime setting, same run_key).
g2=$(grid cloze "runtime: {micro_batch_tokens: 40}")
run "$LORENS" run "$g2" --db "$tap_tmp/micro.db" --backend-dir "$cpu"
is "$status" 0 "the same run in micro-batches of at most 40 tokens succeeds"
# worst COLUMN: the largest relative difference of a train_log column between the two runs, over
# every member and step.
worst() {
  for m in 0 1; do
    for s in 0 1 2 3; do
      a=$(q "$db" "SELECT $1 FROM train_log WHERE member = $m AND step = $s")
      b=$(q "$tap_tmp/micro.db" "SELECT $1 FROM train_log WHERE member = $m AND step = $s")
      awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "") { print "inf"; exit }
        d = a - b; if (d < 0) d = -d; print d / (a > 0 ? a : 1) }'
    done
  done | sort -g | tail -1
}
worst=$(worst loss)
worst_norm=$(worst grad_norm)
diag "worst relative difference of the step losses: $worst, of the gradient norms: $worst_norm"
ok "$(awk -v w="$worst" 'BEGIN { exit !(w != "" && w != "inf" && w + 0 < 1e-4) }'; echo $?)" \
  "and logs the same losses, step by step"
# The losses are stored in fp32 and may round alike; the gradient norms show the split sums.
ok "$(awk -v w="$worst_norm" 'BEGIN { exit !(w != "inf" && w + 0 > 0 && w + 0 < 1e-4) }'; echo $?)" \
  "and not bit for bit: the batches were split"

g3=$(grid vocab "regularizer: {kl: {weight: 0.5, support: vocab}}")
run "$LORENS" run "$g3" --db "$tap_tmp/vocab.db" --backend-dir "$cpu"
ok "$([ "$status" -ne 0 ]; echo $?)" "a KL over the vocabulary with cloze choices fails"
like "$(q "$tap_tmp/vocab.db" "SELECT error FROM runs")" "kl.support: vocab" \
  "and the run's error names kl.support"

done_testing
