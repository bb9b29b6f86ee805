#!/usr/bin/env bash
# bench/demo-time.sh [RUNS] [BUILD_DIR]: the wall time of the CI-sized demo sweep that
# tests/cli/test-demo.sh checks (tests/cli/ci-demo-grid.sh writes it), from nothing prepared to the
# summary table, RUNS times (default 3) in fresh directories.  Prints each run's seconds, split
# into prepare (synth + pretrain) and the sweep, and the medians.  A benchmark, not a test: a
# busy machine is slower, and no test asserts how long anything takes.
set -eu -o pipefail
runs=${1:-3}
build=${2:-_build/check}
top=$(cd "$(dirname "$0")/.." && pwd)
lorens="$top/$build/lorens"
cpu="$top/$build/plugins/cpu/.libs"
[ -x "$lorens" ] || { echo "no lorens at $lorens: build first (tests/check.sh)"; exit 1; }

. "$top/bench/lib.sh"
now() { date +%s.%N; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/total"
: >"$tmp/sweep"
for i in $(seq 1 "$runs"); do
  d="$tmp/run$i"
  sh "$top/tests/cli/ci-demo-grid.sh" "$top" "$d"
  t0=$(now)
  # `plan` is quick; the prepare step is timed by a first run that the sweep then reuses.
  "$lorens" run "$d/demo.yaml" --db "$d/demo.db" --backend-dir "$cpu" --quiet
  t1=$(now)
  rm -rf "$d/demo.db" "$d/demo.db-wal" "$d/demo.db-shm" "$d/demo.db.runs"
  "$lorens" run "$d/demo.yaml" --db "$d/demo.db" --backend-dir "$cpu" --quiet
  t2=$(now)
  total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  sweep=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
  echo "run $i: ${total} s from nothing (prepare + sweep), ${sweep} s for the sweep alone"
  echo "$total" >>"$tmp/total"
  echo "$sweep" >>"$tmp/sweep"
done
echo "median of $runs: $(median <"$tmp/total") s from nothing, $(median <"$tmp/sweep") s for the sweep ($(nproc) cores)"
