#!/bin/sh
# test-precision.sh: precision bf16 from a grid to the backend and back (docs/precision.md).
# `runtime.precision: bf16` (or a run's own `precision`) reaches the worker's session and is part
# of the run: it gets its own run_key, its stored configuration says bf16, and its training losses
# stay within a band of the fp32 run's while differing from them.  Where bf16 cannot run (a CPU
# without AVX512_BF16, here simulated with oneDNN's ONEDNN_MAX_CPU_ISA), `lorens backends` says
# why, and a run, a bench and a predict compute fp32 and say so.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"

run "$LORENS" backends --backend-dir "$cpu"
if ! printf '%s' "$out" | grep -q "bf16 through oneDNN"; then
  diag "$out"
  skip_all "this build or CPU multiplies no bf16 (lorens backends)"
fi
ok 0 "lorens backends: the CPU backend multiplies bf16 through oneDNN"

train="train: {epochs: 2, batch_size: 8, lr: 0.05}"
lora="lora: {targets: [q, k, v, o, gate, up, down], rank: 2, alpha: 4}"
fixture_grid "$tap_tmp/fp32.yaml" prec "$train" "$lora" > /dev/null
fixture_grid "$tap_tmp/bf16.yaml" prec "$train" "$lora" "runtime: {precision: bf16}" > /dev/null
for p in fp32 bf16; do
  run "$LORENS" run "$tap_tmp/$p.yaml" --db "$tap_tmp/$p.db" --backend-dir "$cpu" --quiet
  is "$status" 0 "the sweep runs ($p)"
  [ "$status" = 0 ] || diag "$err"
done
ok "$(test "$(q "$tap_tmp/bf16.db" "SELECT run_key FROM runs")" != \
  "$(q "$tap_tmp/fp32.db" "SELECT run_key FROM runs")"; echo $?)" "precision bf16 is another run (run_key)"
is "$(q "$tap_tmp/bf16.db" "SELECT json_extract(config, '$.precision') FROM runs")" bf16 \
  "its stored configuration says bf16"
is "$(q "$tap_tmp/fp32.db" "SELECT json_extract(config, '$.precision') IS NULL FROM runs")" 1 \
  "an fp32 run's leaves it out, as runs recorded before the key existed"
log="SELECT member, step, loss FROM train_log ORDER BY member, step"
q "$tap_tmp/fp32.db" "$log" > "$tap_tmp/fp32.csv"
q "$tap_tmp/bf16.db" "$log" > "$tap_tmp/bf16.csv"
ok "$(test -s "$tap_tmp/fp32.csv"; echo $?)" "steps were logged"
is "$(wc -l < "$tap_tmp/bf16.csv")" "$(wc -l < "$tap_tmp/fp32.csv")" "as many steps"
worst=$(paste -d, "$tap_tmp/fp32.csv" "$tap_tmp/bf16.csv" | awk -F, '
  { d = $3 - $6; if (d < 0) d = -d; b = 0.01 + 0.02 * ($3 < 0 ? -$3 : $3); if (d / b > w) w = d / b;
    if (d > m) m = d }
  END { printf "%.3f %.2e", w, m }')
ok "$(awk -v w="${worst% *}" 'BEGIN { exit !(w <= 1) }'; echo $?)" \
  "every step's loss within 2% + 0.01 of fp32's (worst ${worst% *} of the band)"
ok "$(awk -v m="${worst#* }" 'BEGIN { exit !(m > 0) }'; echo $?)" \
  "and not bit for bit (largest difference ${worst#* }): the backend computed bf16"

# A quantized base: its layer matrices are packed in bf16 for oneDNN within LORENS_CPU_BF16_HOLD_MB
# (default an eighth of memory), expanded a tile per product without.  The same products up to
# the order of fp32 sums (oneDNN may block them differently for packed and plain weights): the
# losses agree to 1e-5, far inside bf16's differences from fp32 above.
gguf="$TOP_SRCDIR/tests/fixtures/gguf-tiny/llama.gguf"
for hold in "" 0; do
  LORENS_CPU_BF16_HOLD_MB=$hold run "$LORENS" bench train --backend-dir "$cpu" --model "$gguf" \
    --batch 2 --seq 16 --steps 1 --warmup 0 --precision bf16 --format json
  mb=$(printf '%s\n' "$out" | sed -n 's/.*"session_mb": \([0-9.]*\).*/\1/p')
  eval "held_mb_${hold:-default}=\$mb"
  eval "err_${hold:-default}=\$err"
done
like "$err_0" "precision bf16: 0 of 14 layer matrices packed within LORENS_CPU_BF16_HOLD_MB; the other 14 are repacked" \
  "a budget too small to pack the layers is reported, with how much more would do"
ok "$(printf '%s' "$err_default" | grep -q "layer matrices packed"; test $? = 1; echo $?)" \
  "and none when every layer matrix is packed"
ok "$(awk -v a="$held_mb_default" -v b="$held_mb_0" 'BEGIN { exit !(a > b && b > 0) }'; echo $?)" \
  "bf16 on a GGUF base packs its quantized layer matrices in bf16 ($held_mb_default MB, $held_mb_0 MB with a budget of 0)"
LORENS_CPU_BF16_HOLD_MB=lots run "$LORENS" bench train --backend-dir "$cpu" --model "$gguf" \
  --batch 2 --seq 16 --steps 1 --warmup 0 --precision bf16
is "$status" 1 "a budget that is not a number is refused"
like "$err" "LORENS_CPU_BF16_HOLD_MB: 'lots' is not a number of MB" "naming the variable and its value"
fixture_grid "$tap_tmp/q.yaml" q "model: $gguf" "$train" "$lora" "runtime: {precision: bf16}" \
  > /dev/null
for hold in "" 0; do
  LORENS_CPU_BF16_HOLD_MB=$hold run "$LORENS" run "$tap_tmp/q.yaml" --db "$tap_tmp/q$hold.db" \
    --backend-dir "$cpu" --quiet
  is "$status" 0 "a bf16 sweep over the GGUF base runs (budget '${hold:-default}')"
done
q "$tap_tmp/q.db" "$log" > "$tap_tmp/q.csv"
q "$tap_tmp/q0.db" "$log" > "$tap_tmp/q0.csv"
ok "$(test -s "$tap_tmp/q.csv" && test "$(wc -l < "$tap_tmp/q.csv")" = "$(wc -l < "$tap_tmp/q0.csv")"; echo $?)" \
  "its steps were logged, as many either way"
apart=$(paste -d, "$tap_tmp/q.csv" "$tap_tmp/q0.csv" | awk -F, '
  { d = ($3 - $6) / ($6 < 0 ? -$6 : $6); if (d < 0) d = -d; if (d > m) m = d } END { printf "%.2e", m }')
ok "$(awk -v m="$apart" 'BEGIN { exit !(m <= 1e-5) }'; echo $?)" \
  "with the same losses to 1e-5, packed or expanded per product (largest relative difference $apart)"

# A CPU without bf16: oneDNN told to use no more than AVX-512 without BF16.
ONEDNN_MAX_CPU_ISA=AVX512_CORE run "$LORENS" backends --backend-dir "$cpu"
like "$out" "bf16 runs as fp32: the CPU lacks AVX512_BF16" "without AVX512_BF16 lorens backends says bf16 runs as fp32, and why"
ONEDNN_MAX_CPU_ISA=AVX512_CORE run "$LORENS" run "$tap_tmp/bf16.yaml" --db "$tap_tmp/fallback.db" \
  --backend-dir "$cpu" --quiet
is "$status" 0 "a bf16 sweep still runs there"
like "$err" "warning: precision bf16 asked, backend 'cpu' computes fp32 here" "saying it computes fp32, even with --quiet"
is "$(q "$tap_tmp/fallback.db" "SELECT group_concat(loss) FROM ($log)")" \
  "$(q "$tap_tmp/fp32.db" "SELECT group_concat(loss) FROM ($log)")" "with fp32's losses, bit for bit"
tiny="--dim 32 --layers 2 --heads 4 --hidden 64 --vocab 100 --seq 16 --batch 2 --steps 2 --warmup 0"
run "$LORENS" bench train --backend-dir "$cpu" $tiny --precision bf16 --format json
like "$out" '"precision": "bf16"' "bench --precision bf16 computes bf16"
ONEDNN_MAX_CPU_ISA=AVX512_CORE run "$LORENS" bench train --backend-dir "$cpu" $tiny --precision bf16
like "$out" "precision: fp32 (bf16 asked: the backend cannot here)" "and says when it cannot"
done_testing
