#!/bin/sh
# test-experiments.sh: every grid in experiments/ passes `lorens plan` and expands to the runs it
# is meant to; the files the small grids name exist when ../shared is beside the checkout.
. "$TOP_SRCDIR/tests/tap.sh"

dir="$TOP_SRCDIR/experiments"

# Expected run counts.  A new grid in experiments/ needs a line here.
runs_of() {
  case $1 in
    example-grid.yaml) echo 7 ;;     # 2 ranks x 2 (kl weight zipped with lr) x 2 seeds - 2 + 1
    paper.yaml) echo 60 ;;           # 4 tasks x (4 regularizers x 2 dropouts - 3) x 3 seeds
    randomness.yaml) echo 18 ;;      # 6 randomness combinations x 3 seeds
    demo.yaml) echo 6 ;;             # 3 regularizers x 2 seeds
    smollm2-arc.yaml) echo 8 ;;      # 4 regularizers x 2 seeds
    smollm2-arc-randomness.yaml) echo 6 ;;  # 3 randomness sources x 2 seeds
    *) echo unknown ;;
  esac
}

for grid in "$dir"/*.yaml; do
  name=$(basename "$grid")
  want=$(runs_of "$name")
  run "$LORENS" plan "$grid"
  is "$status" 0 "$name: lorens plan accepts it"
  [ -n "$err" ] && diag "$err"
  if [ "$want" = unknown ]; then
    ok 1 "$name: has an expected run count in tests/cli/test-experiments.sh"
  else
    like "$out" "runs:   $want
" "$name: expands to $want runs"
  fi
done

# The paper's grid: its axes, and the regularizer each run is filed under in the database.
run "$LORENS" plan "$dir/paper.yaml"
like "$out" "axes:   data, regularizer, lora.dropout, seed" "paper.yaml: its axes"
# `lorens run` files the runs into a database, where the views group them.  A copy of the grid
# away from any model (paths resolve against the grid's directory) is registered and then refused
# before any run starts (the model is missing), and never trains a real model that happens to sit
# in experiments/models.
db="$tap_tmp/paper.db"
cp "$dir/paper.yaml" "$tap_tmp/paper.yaml"
"$LORENS" run "$tap_tmp/paper.yaml" --db "$db" --jobs 2 --quiet >/dev/null 2>&1
if [ -f "$db" ]; then
  run "$LORENS" query --db "$db" --format csv \
    "SELECT dataset, regularizer, count(*) AS n FROM runs GROUP BY dataset, regularizer
     ORDER BY dataset, regularizer"
  is "$(printf '%s' "$out" | tr -d '\r')" "dataset,regularizer,n
arc-challenge,dropout,3
arc-challenge,early_stop,3
arc-challenge,kl,3
arc-challenge,none,3
arc-challenge,wd_b,3
arc-easy,dropout,3
arc-easy,early_stop,3
arc-easy,kl,3
arc-easy,none,3
arc-easy,wd_b,3
csqa,dropout,3
csqa,early_stop,3
csqa,kl,3
csqa,none,3
csqa,wd_b,3
obqa,dropout,3
obqa,early_stop,3
obqa,kl,3
obqa,none,3
obqa,wd_b,3" "paper.yaml: every task has each of the five regularizers, three seeds each"
else
  ok 1 "paper.yaml: lorens run makes a database"
fi

# The randomness ablation: runs.randomness names the sources that vary.  Its copy sits two levels
# down so that ../../shared is nowhere, and no run starts.
db="$tap_tmp/randomness.db"
mkdir -p "$tap_tmp/a/b" && cp "$dir/randomness.yaml" "$tap_tmp/a/b/randomness.yaml"
"$LORENS" run "$tap_tmp/a/b/randomness.yaml" --db "$db" --jobs 2 --quiet >/dev/null 2>&1
run "$LORENS" query --db "$db" --format csv \
  "SELECT randomness, count(*) AS n FROM runs GROUP BY randomness ORDER BY randomness"
is "$(printf '%s' "$out" | tr -d '\r')" "randomness,n
data,3
dropout,3
init,3
init+data,3
init+data+dropout,3
none,3" "randomness.yaml: six combinations of the sources, three seeds each"

# The SmolLM2 ablation reuses the main SmolLM2 sweep's unregularized runs (the same run keys), so
# that in one database it adds only 4 runs.
keys() { "$LORENS" plan "$dir/$1" | awk 'length($1) == 12 && $1 ~ /^[0-9a-f]+$/ { print $1 }' | sort; }
keys smollm2-arc.yaml > "$tap_tmp/main.keys"
keys smollm2-arc-randomness.yaml > "$tap_tmp/ablation.keys"
is "$(comm -12 "$tap_tmp/main.keys" "$tap_tmp/ablation.keys" | wc -l)" "2" \
  "smollm2-arc-randomness.yaml shares its two init+data runs with smollm2-arc.yaml"

# The small grids read ../shared: the paths they name must be there when it is.
if [ -d "$TOP_SRCDIR/../shared" ]; then
  for grid in randomness.yaml smollm2-arc.yaml smollm2-arc-randomness.yaml; do
    missing=
    for p in $(grep -o '\.\./\.\./shared/[^ ,}]*' "$dir/$grid" | sort -u); do
      [ -e "$dir/$p" ] || missing="$missing $p"
    done
    is "$missing" "" "$grid: every file it names under ../shared exists"
  done
else
  for grid in randomness.yaml smollm2-arc.yaml smollm2-arc-randomness.yaml; do
    skip "no ../shared beside the checkout" "$grid: every file it names under ../shared exists"
  done
fi

done_testing
