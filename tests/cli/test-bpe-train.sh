#!/bin/sh
# test-bpe-train.sh: `lorens bpe-train`: usage and runtime errors, the files it writes, the same
# bytes twice, the summary when the corpus runs out of pairs; then, with a Python that imports
# Hugging Face `tokenizers` ($LORENS_PYTHON, /root/fixenv/bin/python or python3), the tokenizer
# against HF (tests/tokenizer/check-bpe-hf.py): `lorens tokenize` ids against tokenizers and
# transformers' AutoTokenizer, and lorens' merges against HF's BpeTrainer on the same corpus.
. "$TOP_SRCDIR/tests/tap.sh"

check="$TOP_SRCDIR/tests/tokenizer/check-bpe-hf.py"

usage_error() {
  want=$1
  shift
  run "$LORENS" bpe-train "$@"
  is "$status" 2 "bpe-train $*: exit 2"
  like "$err" "$want" "bpe-train $*: says '$want'"
}
usage_error "missing --corpus FILE" --vocab-size 300 --out "$tap_tmp/x"
usage_error "missing --vocab-size N" --corpus c --out "$tap_tmp/x"
usage_error "missing --out DIR" --corpus c --vocab-size 300
usage_error "--vocab-size must be an integer in [258, 16777216], not '257'" --corpus c \
  --vocab-size 257 --out "$tap_tmp/x"
usage_error "--min-frequency must be an integer" --corpus c --vocab-size 300 --out "$tap_tmp/x" \
  --min-frequency 0
usage_error "unknown option '--size'" --corpus c --size 300 --out "$tap_tmp/x"
usage_error "unexpected argument 'extra'" --corpus c --vocab-size 300 --out "$tap_tmp/x" extra
run "$LORENS" help bpe-train
is "$status" 0 "help bpe-train exits 0"
like "$out" "0 is <s> (BOS), 1 is </s> (EOS)" "and documents the ids"

run "$LORENS" bpe-train --corpus "$tap_tmp/missing.txt" --vocab-size 300 --out "$tap_tmp/x"
is "$status" 1 "a missing corpus fails (1)"
like "$err" "$tap_tmp/missing.txt: cannot open" "naming it"
: > "$tap_tmp/empty.txt"
run "$LORENS" bpe-train --corpus "$tap_tmp/empty.txt" --vocab-size 300 --out "$tap_tmp/x"
is "$status" 1 "an empty corpus fails (1)"
like "$err" "lorens: error: $tap_tmp/empty.txt: the training text is empty" "saying so"
: > "$tap_tmp/file"
printf 'ab ab ab\n' > "$tap_tmp/tiny.txt"
run "$LORENS" bpe-train --corpus "$tap_tmp/tiny.txt" --vocab-size 300 --out "$tap_tmp/file"
is "$status" 1 "a file where DIR should be fails (1)"
like "$err" "$tap_tmp/file: exists and is not a directory" "saying so"

run "$LORENS" bpe-train --corpus "$tap_tmp/tiny.txt" --vocab-size 1000 --out "$tap_tmp/tiny"
is "$status" 0 "a corpus with few pairs trains"
like "$out" "260 tokens: 2 special, 256 bytes, 2 merged (1000 asked: no more pairs occur 2 times)" \
  "and the summary says why the vocabulary is smaller"

# The synthetic corpus, and a second one with many scripts, emoji and odd whitespace (its lines
# repeat, so that their bytes merge).
run "$LORENS" synth --seed 1 --out "$tap_tmp/syn"
is "$status" 0 "lorens synth writes a corpus"
corpus="$tap_tmp/syn/corpus.txt"
mixed="$tap_tmp/mixed.txt"
head -n 400 "$corpus" > "$mixed"
for i in 1 2 3 4 5 6; do
  printf 'Caf\303\251 na\303\257ve r\303\251sum\303\251, \344\270\255\346\226\207\346\227\245\346\234\254\350\252\236 and \360\237\230\200\360\237\230\200!\n'
  printf '\tTabs\tand  spaces  \342\200\224 \316\261\316\262\316\263 \320\266\320\266 it'"'"'s 12,345.67\n'
  printf '\327\251\327\234\327\225\327\235 \330\263\331\204\330\247\331\205 \340\244\250\340\244\256\340\244\270\340\245\215\340\244\244\340\245\207\n'
done >> "$mixed"

run "$LORENS" bpe-train --corpus "$corpus" --vocab-size 512 --out "$tap_tmp/t512"
is "$status" 0 "bpe-train exits 0"
like "$out" "vocabulary  512 tokens: 2 special, 256 bytes, 254 merged" "with 512 tokens"
like "$out" "tokens per byte" "and reports the corpus' tokens per byte"
for f in tokenizer.json tokenizer_config.json special_tokens_map.json; do
  test -s "$tap_tmp/t512/$f"
  ok $? "it writes $f"
done
run "$LORENS" bpe-train --corpus "$corpus" --vocab-size 512 --out "$tap_tmp/again"
cmp -s "$tap_tmp/t512/tokenizer.json" "$tap_tmp/again/tokenizer.json"
ok $? "the same corpus and options write the same bytes"
run sh -c "printf 'Hello world\n' | '$LORENS' tokenize --tokenizer '$tap_tmp/t512/tokenizer.json' --add-bos --pieces"
like "$out" "<s> " "lorens tokenize --add-bos puts <s> first"
run "$LORENS" bpe-train --corpus "$mixed" --vocab-size 700 --out "$tap_tmp/mixed"
is "$status" 0 "bpe-train trains on the mixed corpus"

# A Python that imports tokenizers, for the checks against Hugging Face.
python=
for py in "${LORENS_PYTHON:-}" /root/fixenv/bin/python python3; do
  if [ -n "$py" ] && "$py" -c 'import tokenizers' >/dev/null 2>&1; then
    python=$py
    break
  fi
done

hf_check() {
  name=$1
  shift
  if [ -z "$python" ]; then
    skip "no python with tokenizers (set LORENS_PYTHON)" "$name"
    return
  fi
  run "$python" "$check" "$@" --lorens "$LORENS"
  if [ "$status" -eq 77 ]; then
    skip "$out" "$name"
    return
  fi
  is "$status" 0 "$name"
  [ "$status" -eq 0 ] || diag "$out$err"
}

hf_check "ids of tokenizers.Tokenizer (synth, 512)" encode --dir "$tap_tmp/t512" --corpus "$corpus"
hf_check "ids of transformers' AutoTokenizer (synth, 512)" transformers --dir "$tap_tmp/t512" \
  --corpus "$corpus"
hf_check "merges of HF's BpeTrainer (synth, 512)" train --dir "$tap_tmp/t512" --corpus "$corpus" \
  --vocab-size 512
hf_check "ids of tokenizers.Tokenizer (mixed, 700)" encode --dir "$tap_tmp/mixed" --corpus "$mixed"
hf_check "ids of transformers' AutoTokenizer (mixed, 700)" transformers --dir "$tap_tmp/mixed" \
  --corpus "$mixed"
hf_check "merges of HF's BpeTrainer (mixed, 700)" train --dir "$tap_tmp/mixed" --corpus "$mixed" \
  --vocab-size 700
run "$LORENS" bpe-train --corpus "$corpus" --vocab-size 258 --out "$tap_tmp/bytes"
like "$out" "258 tokens: 2 special, 256 bytes, 0 merged" "--vocab-size 258: bytes only"
hf_check "ids of tokenizers.Tokenizer (bytes only)" encode --dir "$tap_tmp/bytes" --corpus "$corpus"

done_testing
