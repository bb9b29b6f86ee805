#!/bin/sh
# test-synth.sh: `lorens synth`: usage errors, runtime errors naming the path, the same bytes for
# the same arguments (md5sum), and files that `lorens data --format jsonl` loads with no bad line.
. "$TOP_SRCDIR/tests/tap.sh"

# Usage errors: exit 2 with the message and the usage line.
usage_error() {
  want=$1
  shift
  run "$LORENS" synth "$@"
  is "$status" 2 "synth $*: exit 2"
  like "$err" "$want" "synth $*: says '$want'"
}
usage_error "missing --seed" --out "$tap_tmp/x"
usage_error "missing --out DIR" --seed 1
usage_error "--seed must be an integer" --seed -3 --out "$tap_tmp/x"
usage_error "--seed must be an integer" --seed 1x --out "$tap_tmp/x"
usage_error "--entities must be an integer in [5, 2000], not '4'" --seed 1 --out "$tap_tmp/x" --entities 4
usage_error "--facts-per-entity must be an integer in [1, 12], not '13'" --seed 1 --out "$tap_tmp/x" --facts-per-entity 13
usage_error "--train must be an integer in [0, 1000000], not '-1'" --seed 1 --out "$tap_tmp/x" --train -1
usage_error "--validation must be an integer" --seed 1 --out "$tap_tmp/x" --validation many
usage_error "--test must be an integer" --seed 1 --out "$tap_tmp/x" --test 2.5
usage_error "--ood must be an integer" --seed 1 --out "$tap_tmp/x" --ood ''
usage_error "--mentions must be MIN..MAX with 1 <= MIN <= MAX <= 50, not 5..2" --seed 1 --out "$tap_tmp/x" --mentions 5..2
usage_error "--mentions MIN must be an integer in [1, 50], not '0'" --seed 1 --out "$tap_tmp/x" --mentions 0..3
usage_error "--mentions MAX must be an integer in [1, 50], not '99'" --seed 1 --out "$tap_tmp/x" --mentions 1..99
usage_error "--mentions must be MIN..MAX (like 1..6), not '..4'" --seed 1 --out "$tap_tmp/x" --mentions ..4
usage_error "unknown option '--entitys'" --seed 1 --out "$tap_tmp/x" --entitys 5
usage_error "option '--seed' needs a value" --out "$tap_tmp/x" --seed
usage_error "unexpected argument 'extra'" --seed 1 --out "$tap_tmp/x" extra
like "$err" "usage: lorens synth --seed S --out DIR" "a usage error prints the usage"
[ ! -e "$tap_tmp/x" ]
ok $? "usage errors write nothing"

run "$LORENS" help synth
is "$status" 0 "help synth"
like "$out" "--mentions MIN..MAX" "lists the options"
run "$LORENS" help
like "$out" "synth" "lorens help lists synth"

# Runtime errors: exit 1, naming the path.
run "$LORENS" synth --seed 1 --out "$tap_tmp/no/such/dir"
is "$status" 1 "a missing parent directory: exit 1"
is "$err" "lorens: error: $tap_tmp/no/such/dir: cannot create the directory: No such file or directory" "naming it"
: > "$tap_tmp/file"
run "$LORENS" synth --seed 1 --out "$tap_tmp/file"
is "$status" 1 "a file in the way: exit 1"
like "$err" "$tap_tmp/file: exists and is not a directory" "naming it"
mkdir -p "$tap_tmp/ro"
chmod a-w "$tap_tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
  run "$LORENS" synth --seed 1 --out "$tap_tmp/ro"
  is "$status" 1 "a read-only directory: exit 1"
  like "$err" "$tap_tmp/ro/world.json.tmp: cannot create" "naming the file"
else
  skip "root writes anywhere" "a read-only directory: exit 1"
  skip "root writes anywhere" "naming the file"
fi
chmod u+w "$tap_tmp/ro"

# The defaults.
run "$LORENS" synth --seed 7 --out "$tap_tmp/a"
is "$status" 0 "defaults: exit 0"
like "$out" "wrote $tap_tmp/a (seed 7): 60 entities, 720 facts, 59 mentor facts" "reports the world"
like "$out" "train.jsonl       400 questions about 400 facts" "and each file"
for f in world.json corpus.txt train.jsonl validation.jsonl test.jsonl ood.jsonl README; do
  [ -s "$tap_tmp/a/$f" ]
  ok $? "writes $f"
done
ls "$tap_tmp/a" | grep -q '\.tmp$'
ok $((! $?)) "leaves no temporary file"
like "$(cat "$tap_tmp/a/README")" "lorens synth --seed 7 --out DIR --entities 60 --facts-per-entity 12" \
  "README gives the arguments"

for f in train:400 validation:100 test:200 ood:200; do
  name=${f%%:*} n=${f##*:}
  run "$LORENS" data "$tap_tmp/a/$name.jsonl" --format jsonl --show 1
  is "$status" 0 "$name.jsonl loads with lorens data"
  like "$out" "examples:    $n" "$name.jsonl: $n examples"
  like "$out" "with answer: $n" "$name.jsonl: all with an answer"
  like "$out" "choices:     4: $n" "$name.jsonl: 4 choices each"
  like "$out" "skipped:     0 lines" "$name.jsonl: no bad line"
done

# Determinism: same arguments, same bytes; another seed, other bytes.
sums() { (cd "$1" && md5sum world.json corpus.txt train.jsonl validation.jsonl test.jsonl ood.jsonl README); }
run "$LORENS" synth --seed 7 --out "$tap_tmp/b"
is "$(sums "$tap_tmp/b")" "$(sums "$tap_tmp/a")" "the same seed twice: identical md5sums"
run "$LORENS" synth --seed 7 --out "$tap_tmp/a"
is "$(sums "$tap_tmp/a")" "$(sums "$tap_tmp/b")" "rewriting in place: identical md5sums"
run "$LORENS" synth --seed 8 --out "$tap_tmp/c"
cmp -s "$tap_tmp/a/corpus.txt" "$tap_tmp/c/corpus.txt"
ok $((! $?)) "another seed: another corpus"
cmp -s "$tap_tmp/a/test.jsonl" "$tap_tmp/c/test.jsonl"
ok $((! $?)) "another seed: another test set"

# Sizes, and a size of 0.
run "$LORENS" synth --seed 3 --out "$tap_tmp/d" --entities 10 --facts-per-entity 2 --train 30 \
  --validation 0 --test 5 --ood 7 --mentions 2
is "$status" 0 "small sizes: exit 0"
is "$(wc -l < "$tap_tmp/d/train.jsonl" | tr -d ' ')" 30 "train.jsonl has 30 lines"
is "$(wc -l < "$tap_tmp/d/test.jsonl" | tr -d ' ')" 5 "test.jsonl has 5 lines"
is "$(wc -l < "$tap_tmp/d/ood.jsonl" | tr -d ' ')" 7 "ood.jsonl has 7 lines"
[ ! -e "$tap_tmp/d/validation.jsonl" ]
ok $? "--validation 0 writes no validation.jsonl"
like "$out" "validation.jsonl  not written" "and says so"
like "$out" "train.jsonl       30 questions about 17 facts" "20 facts shared 30:5 between train and test (17 and 3)"
# 10 entities x 2 facts x 2 mentions + 9 mentors x 2 = 58 stated lines, and 5 fillers.
is "$(wc -l < "$tap_tmp/d/corpus.txt" | tr -d ' ')" 63 "--mentions 2: every fact stated twice, plus fillers"

done_testing
