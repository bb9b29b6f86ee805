#!/bin/sh
# test-micro-batch.sh: runtime.micro_batch_tokens trains each member's batch in micro-batches of
# whole examples (lorens_session_desc.micro_batch_tokens): the same run (run_key) with the same
# steps up to float rounding, whatever the split, and `lorens worker` passes it to the backend.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"

train="train: {epochs: 2, batch_size: 8, lr: 0.05}"
reg="regularizer: {kl: {weight: 0.5}}"
lora="lora: {targets: [q, v], rank: 2, alpha: 4, dropout: 0.1}"
fixture_grid "$tap_tmp/whole.yaml" micro "$train" "$reg" "$lora" > /dev/null
# 1 token: every example is a micro-batch of its own.
fixture_grid "$tap_tmp/micro.yaml" micro "$train" "$reg" "$lora" \
  "runtime: {micro_batch_tokens: 1}" > /dev/null
for g in whole micro; do
  run "$LORENS" run "$tap_tmp/$g.yaml" --db "$tap_tmp/$g.db" --backend-dir "$cpu" --quiet
  is "$status" 0 "the sweep runs ($g batches)"
  [ "$status" = 0 ] || diag "$err"
done
is "$(q "$tap_tmp/micro.db" "SELECT run_key FROM runs")" \
  "$(q "$tap_tmp/whole.db" "SELECT run_key FROM runs")" \
  "micro-batches are a runtime setting: the run_key does not change"
log="SELECT member, step, loss, grad_norm FROM train_log ORDER BY member, step"
q "$tap_tmp/whole.db" "$log" > "$tap_tmp/whole.csv"
q "$tap_tmp/micro.db" "$log" > "$tap_tmp/micro.csv"
is "$(wc -l < "$tap_tmp/micro.csv")" "$(wc -l < "$tap_tmp/whole.csv")" "as many steps logged"
ok "$(test -s "$tap_tmp/whole.csv"; echo $?)" "steps were logged"
worst=$(paste -d, "$tap_tmp/whole.csv" "$tap_tmp/micro.csv" | awk -F, '
  function rel(a, b) { d = a - b; if (d < 0) d = -d; s = a < 0 ? -a : a; return d / (s > 1e-12 ? s : 1e-12) }
  { r = rel($3, $7); if (r > w) w = r; r = rel($4, $8); if (r > w) w = r }
  END { printf "%.2e", w }')
ok "$(awk -v w="$worst" 'BEGIN { exit !(w < 1e-4) }'; echo $?)" \
  "every step's loss and gradient norm as with whole batches (worst relative difference $worst)"
# Summed per example, the gradients round differently: bit-identical logs would mean the setting
# never reached the backend.
ok "$(awk -v w="$worst" 'BEGIN { exit !(w > 0) }'; echo $?)" \
  "and not bit for bit: the backend did split the batches"

run "$LORENS" worker --db "$tap_tmp/whole.db" --run-key x --claim y --micro-batch -1
is "$status" 2 "lorens worker refuses a negative --micro-batch"
done_testing
