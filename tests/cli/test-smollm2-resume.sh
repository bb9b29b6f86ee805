#!/bin/sh
# test-smollm2-resume.sh: a sweep on the real model (SmolLM2-135M from its 4-bit GGUF file, cloze,
# as experiments/smollm2-arc.yaml trains it, sized down): `lorens run` writing to a log file prints
# progress lines with the phase, epoch, step, tokens/s and an ETA from the first run's own pace;
# killed mid-training (kill -9 of the whole process group) and run again, it resumes from the last
# finished epoch and ends with the numbers and train log of an uninterrupted run.
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
shared="${LORENS_SHARED_DIR:-$TOP_SRCDIR/../shared}"
gguf="$shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
arc="$shared/data/arc-easy"
shared_files "$gguf" "$arc/ARC-Easy-Train.jsonl" "$arc/ARC-Easy-Dev.jsonl"

cat > "$tap_tmp/smol.yaml" <<YAML
name: smol
model: $gguf
backend: cpu
data:
  train: {format: arc, path: $arc/ARC-Easy-Train.jsonl, limit: 16}
  validation: {format: arc, path: $arc/ARC-Easy-Dev.jsonl, limit: 6}
prompt: {template: cloze, bos: false}
lora: {targets: [q, v], rank: 4, alpha: 8}
train: {epochs: 3, batch_size: 8, lr: 3e-3}
ensemble: {size: 2}
YAML

# Uninterrupted, its stderr a file: a progress line every 0.5 s.
run "$LORENS" run "$tap_tmp/smol.yaml" --db "$tap_tmp/whole.db" --backend-dir "$cpu" \
  --progress-every 0.5
is "$status" 0 "an uninterrupted SmolLM2 cloze run succeeds"
lines=$(printf '%s\n' "$err" | grep -c '^runs 0/1 done, 0 failed | [0-9a-f]* ')
diag "$lines progress lines; the last: $(printf '%s\n' "$err" | grep '^runs 0/1' | tail -1)"
ok "$([ "$lines" -ge 2 ]; echo $?)" "progress lines go to the log while it runs"
printf '%s\n' "$err" | grep -Eq '^runs 0/1 done, 0 failed \| [0-9a-f]{12} train epoch [1-3]/3 step [12]/2 loss [0-9.e+-]+ [0-9]+ tok/s \| ETA [0-9][0-9hms]*$'
ok $? "a training line has the epoch, step, loss, tokens/s and an ETA from the run's own pace"

# Killed once the first epoch's checkpoint is written, then run again.
setsid "$LORENS" run "$tap_tmp/smol.yaml" --db "$tap_tmp/killed.db" --backend-dir "$cpu" \
  --quiet &
pid=$!
deadline=$(($(date +%s) + 900))
while [ "$(date +%s)" -lt "$deadline" ] &&
  ! ls "$tap_tmp"/killed.db.runs/*/checkpoint.safetensors >/dev/null 2>&1; do
  sleep 0.05
done
kill -9 "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
killed_at=$(date +%s.%N)  # created_at has fractions of a second
stored=$(q "$tap_tmp/killed.db" "SELECT max(epoch) FROM evaluations")
diag "killed with epoch $stored stored"
ok "$([ "$stored" = 1 ] || [ "$stored" = 2 ]; echo $?)" \
  "killed mid-training, after the checkpoint of an epoch ($stored of 3 stored)"
run "$LORENS" run "$tap_tmp/smol.yaml" --db "$tap_tmp/killed.db" --backend-dir "$cpu" \
  --progress-every 0
is "$status" 0 "running the sweep again finishes the run"
is "$(q "$tap_tmp/killed.db" "SELECT status, attempts FROM runs")" "done,2" "in its second attempt"
is "$(q "$tap_tmp/killed.db" "SELECT count(*) = sum(created_at <= $killed_at) FROM evaluations WHERE epoch <= $stored")" \
  "1" "the epochs stored before the kill were kept, not trained and evaluated again"
sel="SELECT kind, idx, epoch, split, accuracy, nll, ece, brier FROM evaluations ORDER BY 1, 2, 3, 4"
is "$(q "$tap_tmp/killed.db" "$sel" | md5sum)" "$(q "$tap_tmp/whole.db" "$sel" | md5sum)" \
  "with exactly the numbers of the uninterrupted run"
log="SELECT member, step, loss, grad_norm FROM train_log ORDER BY 1, 2"
is "$(q "$tap_tmp/killed.db" "$log" | md5sum)" "$(q "$tap_tmp/whole.db" "$log" | md5sum)" \
  "and the same train log"
done_testing
