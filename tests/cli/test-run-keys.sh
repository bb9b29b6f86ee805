#!/bin/sh
# test-run-keys.sh: the run_keys of every shipped grid (experiments/) and of the grids the tests
# run (tests/data/grids/: collected from tests/cli/*.sh) are those recorded in
# tests/data/grids/run-keys.txt.  A run_key is a run's identity in every existing database: a
# change to how configurations are canonicalised, defaulted or hashed that moves one would make
# lorens re-run finished work, so it must be deliberate (regenerate the file and say why).
. "$TOP_SRCDIR/tests/tap.sh"

cd "$TOP_SRCDIR" || exit 1
want="tests/data/grids/run-keys.txt"
for grid in $(cut -d' ' -f1 "$want" | uniq); do
  "$LORENS" plan "$grid" --format json >"$tap_tmp/plan.json" 2>"$tap_tmp/err"
  is "$?" 0 "$grid plans"
  got=$(grep -o '"run_key":"[0-9a-f]*"' "$tap_tmp/plan.json" | sed "s|\"run_key\":\"\\([0-9a-f]*\\)\"|$grid \\1|")
  is "$got" "$(grep "^$grid " "$want")" "$grid: $(grep -c "^$grid " "$want") run_keys as recorded"
done
# Every shipped grid is covered (the pretraining configuration is not a grid).
for grid in experiments/*.yaml; do
  grep -q "^$grid " "$want"
  ok $? "$grid is in $want"
done
done_testing
