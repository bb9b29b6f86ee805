#!/usr/bin/env bash
# bench/gguf-train.sh [RUNS] [BUILD_DIR] [MODEL]: the LoRA step on a GGUF model with its base kept
# in its stored type, against the same model converted to fp32 first (`lorens bench train
# --dequantize`, the path before typed base tensors), back to back, RUNS times each (default 3):
# batch 8 x 128, LoRA r 8 on q,v, 2 threads, M = 1 and M = 5, whole batches and micro-batches of
# 512 and 384 tokens.
# Prints the median tokens/s and peak RSS of each configuration and their ratios to fp32's.  A
# benchmark, not a test: the machine's noise is in the numbers, which is why every configuration
# is measured in the same run, interleaved.  MODEL defaults to ../shared's SmolLM2 Q4_1 file.
set -eu -o pipefail
runs=${1:-3}
build=${2:-_build/check}
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build=$top/$build ;; esac
model=${3:-$top/../shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$model" ] || { echo "no model at $model"; exit 1; }
common=(--model "$model" --seq 128 --batch 8 --rank 8 --targets q,v --threads 2 --steps 5
        --warmup 1 --format json)
configs=("fp32, M=1|--dequantize --members 1"
         "stored, M=1|--members 1"
         "stored, M=1, micro 512|--members 1 --micro-batch 512"
         "stored, M=1, micro 384|--members 1 --micro-batch 384"
         "fp32, M=5|--dequantize --members 5"
         "stored, M=5, micro 384|--members 5 --micro-batch 384")

. "$top/bench/lib.sh"

for ((r = 0; r < runs; r++)); do
  for c in "${configs[@]}"; do
    name=${c%%|*}
    read -r -a extra <<< "${c#*|}"
    record $((r + 1)) "$name" \
      "$("$build/lorens" bench train --backend-dir "$build/plugins/cpu/.libs" "${common[@]}" "${extra[@]}")"
  done
done

printf '%-26s %10s %10s %10s %10s\n' configuration tokens/s "vs fp32" "RSS MB" "vs fp32"
for c in "${configs[@]}"; do
  name=${c%%|*}
  m=${name##*M=}; m=${m%%,*}
  t=$(median_of "${tps[$name]}")
  s=$(median_of "${rss[$name]}")
  t0=$(median_of "${tps["fp32, M=$m"]}")
  s0=$(median_of "${rss["fp32, M=$m"]}")
  awk -v n="$name" -v t="$t" -v t0="$t0" -v s="$s" -v s0="$s0" \
    'BEGIN { printf "%-26s %10.0f %9.2fx %10.0f %9.2fx\n", n, t, t / t0, s, s / s0 }'
done
