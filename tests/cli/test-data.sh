#!/bin/sh
# test-data.sh: `lorens data` on the committed samples, on broken files, and on the real datasets in
# ../shared when they are there.
. "$TOP_SRCDIR/tests/tap.sh"

samples="$TOP_SRCDIR/tests/data/datasets"
shared="$TOP_SRCDIR/../shared/data"

# Usage errors.
run "$LORENS" data
is "$status" 2 "no file is a usage error"
like "$err" "missing the dataset file" "saying what is missing"
run "$LORENS" data "$samples/generic.jsonl"
is "$status" 2 "no --format is a usage error"
like "$err" "missing --format arc|obqa|csqa|mmlu|jsonl" "listing the formats"
run "$LORENS" data "$samples/generic.jsonl" --format squad
is "$status" 2 "an unknown format is a usage error"
like "$err" "--format must be one of arc|obqa|csqa|mmlu|jsonl, not 'squad'" "naming it"
run "$LORENS" data "$samples/generic.jsonl" --format jsonl --on-error ignore
is "$status" 2 "a bad --on-error"
like "$err" "--on-error must be one of fail|skip, not 'ignore'" "is named"
run "$LORENS" data "$samples/generic.jsonl" --format jsonl --group stem
is "$status" 2 "--group outside MMLU"
like "$err" "--subjects, --group and --split are for --format mmlu" "is refused"
run "$LORENS" data "$samples/generic.jsonl" --format jsonl --show -1
is "$status" 2 "a negative --show"
run "$LORENS" data "$samples/generic.jsonl" --format jsonl --format-out yaml
is "$status" 2 "a bad --format-out"
run "$LORENS" help data
is "$status" 0 "help data exits 0"
like "$out" "docs/datasets.md" "and points to the format docs"

# The samples.
run "$LORENS" data "$samples/arc-easy-dev-excerpt.jsonl" --format arc --show 6
is "$status" 0 "ARC excerpt"
like "$out" "examples:    6" "counts the examples"
like "$out" "with answer: 6" "and those with an answer"
like "$out" "choices:     3: 1, 4: 4, 5: 1" "the choices histogram"
like "$out" "skipped:     0 lines" "nothing skipped"
like "$out" "[4] NYSEDREGENTS_2014_8_10 (" "shows the examples"
like "$out" "  * A. obtain energy" "with the answer marked (digit label '1')"

run "$LORENS" data "$samples/csqa-test.jsonl" --format csqa --show 1
is "$status" 0 "CSQA test split"
like "$out" "with answer: 0" "has no answers"
like "$out" "(no answer in the file)" "and says so per example"

run "$LORENS" data "$samples/mmlu-original" --format mmlu --split test --group humanities --show 0
is "$status" 0 "MMLU humanities"
like "$out" "examples:    3" "three questions"
like "$out" "high_school_world_history                     2  humanities" "per subject"
run "$LORENS" data "$samples/mmlu-original" --format mmlu
is "$status" 1 "an MMLU directory with two splits needs --split"
like "$err" "mmlu-original: holds more than one split (dev, test): choose one (--split)" "says so"
run "$LORENS" data "$samples/mmlu-original" --format mmlu --split test --subjects philosphy
is "$status" 1 "a mistyped subject"
like "$err" "unknown MMLU subject 'philosphy' (did you mean 'philosophy'?)" "gets a suggestion"

run "$LORENS" data "$samples/generic.jsonl" --format jsonl --format-out json --show 1
is "$status" 0 "JSON output"
like "$out" '"examples": 5' "with the count"
like "$out" '"with_answer": 3' "the answered ones"
like "$out" '"id": "g1"' "and the first example"

# Broken files.
arc_line() {
  printf '{"id":"%s","question":{"stem":"Q","choices":[{"text":"x","label":"A"},' "$1"
  printf '{"text":"y","label":"B"}]},"answerKey":"%s"}\n' "$2"
}
{ arc_line a A; arc_line b F; arc_line c B; } > "$tap_tmp/ARC-Easy-Dev.jsonl"
run "$LORENS" data "$tap_tmp/ARC-Easy-Dev.jsonl" --format arc
is "$status" 1 "a bad answerKey fails the load"
want="$tap_tmp/ARC-Easy-Dev.jsonl:2: answerKey 'F' is not one of the choice labels A, B"
is "$err" "lorens: error: $want" "with file:line: what is wrong"
is "$out" "" "and nothing on stdout"
run "$LORENS" data "$tap_tmp/ARC-Easy-Dev.jsonl" --format arc --on-error skip --show 0
is "$status" 0 "skipping loads the rest"
like "$out" "examples:    2" "two examples"
like "$out" "skipped:     1 line" "one skipped"
like "$out" "  $tap_tmp/ARC-Easy-Dev.jsonl:2: answerKey 'F'" "with its reason"
: > "$tap_tmp/empty.tsv"
run "$LORENS" data "$tap_tmp/empty.tsv" --format obqa
is "$status" 1 "an empty file fails"
like "$err" "empty.tsv: file is empty" "saying so"

# The real files.
if [ ! -d "$shared" ]; then
  skip "../shared/data is not there" "real datasets"
  done_testing
fi
check_real() {
  run "$LORENS" data "$shared/$1" --format "$2" --show 0
  is "$status" 0 "$1 loads"
  like "$out" "examples:    $3" "$1: $3 examples"
  like "$out" "with answer: $3" "$1: all with an answer"
}
check_real arc-easy/ARC-Easy-Train.jsonl arc 2251
check_real arc-easy/ARC-Easy-Dev.jsonl arc 570
check_real arc-easy/ARC-Easy-Test.jsonl arc 2376
check_real arc-challenge/ARC-Challenge-Train.jsonl arc 1119
check_real arc-challenge/ARC-Challenge-Dev.jsonl arc 299
check_real arc-challenge/ARC-Challenge-Test.jsonl arc 1172
check_real openbookqa/train.tsv obqa 4957
check_real openbookqa/dev.tsv obqa 500
check_real openbookqa/test.tsv obqa 500
run "$LORENS" data "$shared/arc-easy/ARC-Easy-Train.jsonl" --format arc --show 0
like "$out" "choices:     3: 6, 4: 2241, 5: 4" "ARC-Easy train: 6 with 3 choices, 4 with 5"
done_testing
