#!/usr/bin/env bash
# bench/train-vs-torch.sh [RUNS] [BUILD_DIR]: `lorens bench train` against the PyTorch anchor
# (../shared/bench/torch_lora_ref.py --last-only, Debian's python3-torch) on the same shape and
# threads, back to back, RUNS times each (default 3), with M = 1 and M = 5.  Prints the median
# tokens/s and peak RSS of each and the ratios.  A benchmark, not a test: the machine's noise is
# in the numbers, which is why both sides are measured in the same run.
set -eu -o pipefail
runs=${1:-3}
build=${2:-_build/check}
top=$(cd "$(dirname "$0")/.." && pwd)
ref="$top/../shared/bench/torch_lora_ref.py"
shape=(--dim 288 --layers 6 --heads 6 --hidden 768 --vocab 32000 --seq 128 --batch 8 --rank 8
       --threads 2)
[ -f "$ref" ] || { echo "no PyTorch anchor at $ref"; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "apt-get install python3-torch first"; exit 1; }

. "$top/bench/lib.sh"

# rss_of CMD...: runs CMD under GNU time; prints "tokens_per_s peak_rss_mb".
torch_run() {
  local out
  out=$( { /usr/bin/time -f 'RSS %M' /usr/bin/python3 "$ref" --last-only "${shape[@]}" \
             --members "$1" --steps 20; } 2>&1 )
  echo "$(echo "$out" | sed -n 's/.*: \([0-9]*\) tokens\/s/\1/p') $(echo "$out" | awk '/^RSS/ {print $2/1024}')"
}
lorens_run() {
  "$top/$build/lorens" bench train --backend-dir "$top/$build/plugins/cpu/.libs" "${shape[@]}" \
    --kv-heads 6 --targets q,v --members "$1" --steps 20 --format json |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tokens_per_s"], d["peak_rss_mb"])'
}

for m in 1 5; do
  : > "/tmp/lorens-bench-t$m"; : > "/tmp/lorens-bench-l$m"
  for _ in $(seq "$runs"); do
    torch_run "$m" >> "/tmp/lorens-bench-t$m"
    lorens_run "$m" >> "/tmp/lorens-bench-l$m"
  done
  eval "t_tok$m=$(cut -d' ' -f1 /tmp/lorens-bench-t$m | median)"
  eval "t_rss$m=$(cut -d' ' -f2 /tmp/lorens-bench-t$m | median)"
  eval "l_tok$m=$(cut -d' ' -f1 /tmp/lorens-bench-l$m | median)"
  eval "l_rss$m=$(cut -d' ' -f2 /tmp/lorens-bench-l$m | median)"
done
printf '%-28s %12s %12s\n' "median of $runs runs" "tokens/s" "peak RSS MB"
printf '%-28s %12.0f %12.0f\n' "torch --last-only, M=1" "$t_tok1" "$t_rss1"
printf '%-28s %12.0f %12.0f\n' "lorens cpu, M=1" "$l_tok1" "$l_rss1"
printf '%-28s %12.0f %12.0f\n' "torch --last-only, M=5" "$t_tok5" "$t_rss5"
printf '%-28s %12.0f %12.0f\n' "lorens cpu, M=5" "$l_tok5" "$l_rss5"
awk -v a="$l_tok1" -v b="$t_tok1" -v c="$l_rss1" -v d="$t_rss1" -v e="$l_tok5" -v f="$l_rss5" 'BEGIN {
  printf "lorens/torch tokens/s (M=1): %.2fx   peak RSS: %.2fx\n", a / b, c / d
  printf "lorens M=5 / M=1: tokens/s %.2fx   peak RSS %.2fx\n", e / a, f / c }'
