#!/bin/sh
# tests/cli/ci-demo-grid.sh TOP_SRCDIR DIR: writes experiments/demo.yaml made CI-sized into
# DIR/demo.yaml (a smaller world, a smaller model pretrained for fewer steps, one seed, three
# epochs, no validation set; everything else as the file says), with its pretraining
# configuration in DIR/pretrain/.  Shared by tests/cli/test-demo.sh and bench/demo-time.sh, so the
# benchmark times exactly what the test checks.
set -eu
top=$1
d=$2
mkdir -p "$d/pretrain"
cat >"$d/pretrain/demo-model.yaml" <<'EOF'
model: {dim: 96, layers: 3, heads: 4, context: 64}
tokenizer: {vocab_size: 384}
train: {steps: 1000, batch: 16, lr: 4e-3, warmup: 30, checkpoint_every: 250}
EOF
sed -e 's|synth: {out: ../.demo-cache/world, seed: 1}|synth: {out: cache/world, seed: 1, entities: 30, facts_per_entity: 6, train: 100, validation: 0, test: 120, ood: 30}|' \
  -e 's|\.\./\.demo-cache/|cache/|g' \
  -e 's|  seed: \[0, 1\]|  seed: [0]|' \
  -e 's|train: {epochs: 4, batch_size: 8, lr: 4e-3, schedule: constant}|train: {epochs: 3, batch_size: 8, lr: 1.5e-3, schedule: constant, eval_every: 3}|' \
  -e '/^  validation: /d' \
  "$top/experiments/demo.yaml" >"$d/demo.yaml"
