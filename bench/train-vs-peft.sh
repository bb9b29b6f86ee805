#!/usr/bin/env bash
# bench/train-vs-peft.sh [RUNS] [BUILD_DIR] [MODEL]: one LoRA training step of lorens against
# transformers + PEFT on the CPU, the way a researcher would run either: PEFT in fp32, PEFT under
# torch.autocast("cpu", dtype=torch.bfloat16), lorens in precision fp32 and in precision bf16.
# Same model, batch 8 x 128, LoRA r 8 (alpha 16) on q,v, AdamW, cross-entropy over the vocabulary
# at the last position, 2 threads; RUNS interleaved rounds (default 3), medians of tokens/s and
# peak RSS, and the ratios the CPU-bf16 issue set as targets.
#
# MODEL defaults to ../shared's SmolLM2-135M Q4_1 GGUF file (PEFT gets it dequantized to fp32 by
# transformers; lorens keeps it stored).  Where no such file is, a random model of SmolLM2-135M's
# shape is written once with transformers and both tools train that.
#
# PEFT runs in a virtual environment with PyPI torch, transformers, peft and gguf, created when
# missing at $PEFT_VENV (default ~/.cache/lorens/peft-venv; several GB).  A benchmark, not a test:
# the machine's noise is in the numbers, which is why every configuration runs in the same rounds.
set -eu -o pipefail
runs=${1:-3}
build=${2:-_build/check}
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build=$top/$build ;; esac
model=${3:-$top/../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
venv=${PEFT_VENV:-$HOME/.cache/lorens/peft-venv}
anchor=$top/../shared/bench/peft_lora_bench.py
[ -f "$anchor" ] || { echo "no PEFT anchor at $anchor"; exit 1; }

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, transformers, peft, gguf' 2>/dev/null; then
  echo "creating $venv (PyPI torch, transformers, peft, gguf) ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch transformers peft gguf
fi

if [ ! -f "$model" ]; then
  model=${TMPDIR:-/tmp}/lorens-smollm2-shape
  if [ ! -f "$model/config.json" ]; then
    echo "no model file: writing a random model of SmolLM2-135M's shape to $model" >&2
    "$venv/bin/python" - "$model" <<'EOF'
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
c = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=1e5,
                tie_word_embeddings=True, max_position_embeddings=2048)
LlamaForCausalLM(c).save_pretrained(sys.argv[1], safe_serialization=True)
EOF
  fi
fi

shape=(--batch 8 --seq 128 --rank 8)
configs=("PEFT fp32|peft|"
         "PEFT bf16 autocast|peft|--bf16"
         "lorens fp32|lorens|--precision fp32"
         "lorens bf16|lorens|--precision bf16")

. "$top/bench/lib.sh"

for ((r = 0; r < runs; r++)); do
  for c in "${configs[@]}"; do
    name=${c%%|*}
    rest=${c#*|}
    tool=${rest%%|*}
    read -r -a extra <<< "${rest#*|}"
    if [ "$tool" = peft ]; then
      json=$("$venv/bin/python" "$anchor" "$model" "${shape[@]}" --steps 6 --threads 2 "${extra[@]}")
    else
      json=$("$build/lorens" bench train --backend-dir "$build/plugins/cpu/.libs" --model "$model" \
               "${shape[@]}" --targets q,v --threads 2 --steps 5 --warmup 1 --format json "${extra[@]}")
    fi
    record $((r + 1)) "$name" "$json"
  done
done

declare -A med_tps med_rss
echo "model: $model; batch 8 x 128, r 8 on q,v, 2 threads, medians of $runs rounds"
printf '%-20s %10s %10s\n' configuration tokens/s "RSS MB"
for c in "${configs[@]}"; do
  name=${c%%|*}
  med_tps[$name]=$(median_of "${tps[$name]}")
  med_rss[$name]=$(median_of "${rss[$name]}")
  printf '%-20s %10.0f %10.0f\n' "$name" "${med_tps[$name]}" "${med_rss[$name]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
b=${med_tps[lorens bf16]}
echo "lorens bf16 / PEFT fp32:          $(ratio "$b" "${med_tps[PEFT fp32]}")x tokens/s (target >= 2.0)"
echo "lorens bf16 / PEFT bf16 autocast: $(ratio "$b" "${med_tps[PEFT bf16 autocast]}")x tokens/s (target >= 1.3)"
echo "lorens bf16 / lorens fp32:        $(ratio "$b" "${med_tps[lorens fp32]}")x tokens/s (target >= 1.8)"
echo "lorens bf16 RSS / PEFT fp32 RSS:  $(ratio "${med_rss[lorens bf16]}" "${med_rss[PEFT fp32]}")x (target <= 0.3)"
# The same ratios taken within each round (the two runs minutes apart at most) and their median:
# less moved by the machine's slow spells, which last minutes and hit whole rounds.
paired() {
  paste <(tr ' ' '\n' <<< "${tps[lorens bf16]}" | grep .) <(tr ' ' '\n' <<< "${tps[$1]}" | grep .) |
    awk '{print $1 / $2}' | median
}
echo "within-round medians: $(printf '%.2f' "$(paired 'PEFT fp32')")x PEFT fp32," \
     "$(printf '%.2f' "$(paired 'PEFT bf16 autocast')")x PEFT bf16 autocast," \
     "$(printf '%.2f' "$(paired 'lorens fp32')")x lorens fp32"
