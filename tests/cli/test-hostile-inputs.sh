#!/bin/sh
# test-hostile-inputs.sh: inputs a hostile but fair user gives: a FIFO in place of any input
# file (it must be refused at once, never block), a --db that is a directory, a device, empty or
# ":memory:", and the smaller traps of issue 13 (each section says which).
. "$TOP_SRCDIR/tests/tap.sh"

. "$TOP_SRCDIR/tests/cli/fixture.sh"
LORENS_BACKEND_PATH=$cpu
export LORENS_BACKEND_PATH
# A command that blocks would hang the suite: `timeout` turns that into a failure (status 124).
limit() { run timeout 60 "$@"; }

# ---- FIFOs --------------------------------------------------------------------------------------
fifo="$tap_tmp/fifo"
mkfifo "$fifo" || skip_all "mkfifo failed"
limit "$LORENS" plan "$fifo"
is "$status" 1 "a FIFO as the grid is refused, without blocking"
like "$err" "$fifo: is a FIFO (named pipe), not a regular file" "saying what it is"
limit "$LORENS" data "$fifo" --format jsonl
is "$status" 1 "a FIFO as a dataset is refused"
like "$err" "is a FIFO (named pipe)" "saying so"
limit "$LORENS" tokenize --tokenizer "$fifo"
is "$status" 1 "a FIFO as the tokenizer is refused"
like "$err" "is a FIFO (named pipe)" "saying so"
limit "$LORENS" query --db "$fifo" "SELECT 1"
is "$status" 1 "a FIFO as --db is refused"
like "$err" "$fifo: is a FIFO (named pipe), not a database file" "saying so"
: > "$tap_tmp/empty.db"
limit "$LORENS" query --db "$tap_tmp/empty.db" -f "$fifo"
is "$status" 1 "a FIFO as query -f is refused"
like "$err" "is a FIFO (named pipe)" "saying so"
limit "$LORENS" pretrain --corpus "$fifo" --out "$tap_tmp/pre"
is "$status" 1 "a FIFO as the corpus is refused"
like "$err" "is a FIFO (named pipe)" "saying so"
mkdir "$tap_tmp/model"
cp "$fx/config.json" "$tap_tmp/model/"
mkfifo "$tap_tmp/model/model.safetensors"
limit "$LORENS" model-info "$tap_tmp/model"
is "$status" 1 "a FIFO as the weights is refused"
like "$err" "model.safetensors: is a FIFO (named pipe)" "saying so"

# ---- --db that is not a database file ---------------------------------------------------------
limit "$LORENS" status --db "$tap_tmp"
is "$status" 1 "--db naming a directory is refused"
like "$err" "$tap_tmp: is a directory, not a database file" "saying so, not 'disk I/O error'"
limit "$LORENS" status --db /dev/null
is "$status" 1 "--db /dev/null is refused"
like "$err" "/dev/null: is a device, not a database file" "saying so"
[ ! -e /dev/null-journal ]
ok $? "and nothing is created beside it"
limit "$LORENS" status --db ""
is "$status" 1 "an empty --db is refused"
like "$err" "the database path is empty" "saying so, not blaming a network filesystem"
limit "$LORENS" query --db :memory: "SELECT 1"
is "$status" 1 "--db :memory: is refused"
like "$err" ":memory:: not a file: lorens keeps results in a file" "saying why"

# ---- grids --------------------------------------------------------------------------------------
base="name: big
model: m
backend: cpu
data:
  train: {format: jsonl, path: t.jsonl}"
# An axis longer than a sweep may be is refused before its values are read one by one (this took
# 37 s, comparing every value with every other, before the cap was checked).
{ printf '%s\ngrid:\n  seed: [' "$base"; awk 'BEGIN { for (i = 0; i <= 100000; i++) printf "%s%d", i ? ", " : "", i }'; printf ']\n'; } \
  > "$tap_tmp/big.yaml"
limit "$LORENS" plan "$tap_tmp/big.yaml"
is "$status" 1 "an axis of 100,001 values is refused"
like "$err" "big.yaml:7:9: grid.seed: 100001 values, more than the 100000 cells a sweep may have" \
  "at once, naming the axis"
# A long axis with one repeat is checked through a hash table, not pair by pair.
{ printf '%s\ngrid:\n  seed: [' "$base"; awk 'BEGIN { for (i = 0; i < 50000; i++) printf "%d, ", i; printf "17" }'; printf ']\n'; } \
  > "$tap_tmp/twice.yaml"
limit "$LORENS" plan "$tap_tmp/twice.yaml"
is "$status" 1 "a repeated value among 50,001 is refused"
like "$err" "grid.seed[50000]: the same value as grid.seed[17]" "naming both places"
# A rule between fields, in a file without a grid section, points at the key that breaks it.
printf '%s\nregularizer:\n  early_stopping: {metric: nll, patience: 2}\n' "$base" > "$tap_tmp/cross.yaml"
limit "$LORENS" plan "$tap_tmp/cross.yaml"
is "$status" 1 "early stopping without a validation set is refused"
like "$err" "cross.yaml:7:28: regularizer.early_stopping.metric: nll needs a validation set" \
  "at the key's line and column, not at 1:1 'grid:'"

# ---- a batch larger than the data set ------------------------------------------------------------
# train.batch_size: 1000000000 failed the run with a bare "out of memory": a batch larger than the
# set is the whole set, the same steps as a batch of exactly its size.
n=$(wc -l < "$data/tiny.jsonl")
fixture_grid "$tap_tmp/batch.yaml" batch "train: {epochs: 2, lr: 1e-2}" "grid:
  train.batch_size: [1000000000, $n]" > /dev/null
limit "$LORENS" run "$tap_tmp/batch.yaml" --db "$tap_tmp/batch.db" --quiet
is "$status" 0 "a batch of a billion examples over a small set trains"
is "$("$LORENS" query --db "$tap_tmp/batch.db" --format csv \
      "SELECT count(*), count(DISTINCT printf('%.9f', nll)) FROM evaluations
       WHERE epoch = 2 AND kind = 'ensemble' AND idx = 2" | tr -d '\r' | tail -n 1)" "2,1" \
  "exactly as a batch of the set's size ($n) does"

# ---- a LoRA rank the model cannot use ----------------------------------------------------------
# The fixture is 32 wide (q, o: 32 x 32; k, v: 16 x 32): rank 4096 trained without a word.
fixture_grid "$tap_tmp/rank.yaml" rank "lora: {targets: [q, v], rank: 4096, alpha: 4}" > /dev/null
limit "$LORENS" run "$tap_tmp/rank.yaml" --db "$tap_tmp/rank.db" --quiet
is "$status" 1 "lora.rank 4096 on a 32-wide model is refused before any run"
like "$err" "lora.rank 4096 is larger than any target matrix can use (at most 32" "saying why"
limit "$LORENS" plan "$tap_tmp/rank.yaml" --check
is "$status" 1 "plan --check refuses it too"
fixture_grid "$tap_tmp/rank24.yaml" rank24 "lora: {targets: [q, v], rank: 24, alpha: 4}" \
  "train: {epochs: 1}" > /dev/null
limit "$LORENS" run "$tap_tmp/rank24.yaml" --db "$tap_tmp/rank24.db" --quiet
is "$status" 0 "rank 24 on q and v runs"
like "$err" "warning: $fx: lora.rank 24 is more than some targets can use: v (16)" \
  "with a warning that v cannot use all of it"

# ---- a corpus that is not UTF-8 ------------------------------------------------------------------
printf 'hello world\nsecond line\nbad \377 byte\nlast\n' > "$tap_tmp/corpus.txt"
printf 'model: {dim: 16, layers: 1, heads: 2, context: 32}\ntokenizer: {vocab_size: 280}\ntrain: {steps: 2, batch: 2, warmup: 1}\n' \
  > "$tap_tmp/tiny-model.yaml"
limit "$LORENS" pretrain --corpus "$tap_tmp/corpus.txt" --config "$tap_tmp/tiny-model.yaml" \
  --out "$tap_tmp/pre-utf8"
is "$status" 1 "pretrain refuses a corpus that is not UTF-8"
like "$err" "corpus.txt:3:5: not valid UTF-8 (byte 0xff)" "naming the file, line and column"
[ ! -e "$tap_tmp/pre-utf8" ]
ok $? "and writes nothing"

done_testing
