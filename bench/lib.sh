# bench/lib.sh: what the benchmark scripts share (sourced).

# median: the median of the numbers on standard input, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# The samples of each configuration, by name: tokens/s and peak RSS (MB), space-separated.
declare -A tps rss

# record ROUND NAME JSON: adds the tokens_per_s and peak_rss_mb of a benchmark's JSON (lorens
# bench train --format json, or an anchor printing the same keys) to NAME's samples.
record() {
  local out
  out=$(printf '%s' "$3" | python3 -c \
          'import json,sys; d=json.load(sys.stdin); print(d["tokens_per_s"], d["peak_rss_mb"])')
  tps[$2]="${tps[$2]:-} ${out% *}"
  rss[$2]="${rss[$2]:-} ${out#* }"
  echo "run $1: $2: ${out% *} tokens/s, ${out#* } MB" >&2
}

# median_of SAMPLES: the median of a space-separated list (record's).
median_of() { tr ' ' '\n' <<< "$1" | grep . | median; }
