#!/bin/sh
# test-hostile-inputs.sh: inputs a hostile but fair user gives: a FIFO in place of any input
# file (it must be refused at once, never block), a --db that is a directory, a device, empty or
# ":memory:", and the smaller traps of issue 13 (each section says which).
. "$TOP_SRCDIR/tests/tap.sh"

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
data="$TOP_SRCDIR/tests/data/predict"
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

done_testing
