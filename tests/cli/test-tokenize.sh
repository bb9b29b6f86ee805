#!/bin/sh
# test-tokenize.sh: `lorens tokenize`: usage errors, line-by-line ids and pieces, --add-bos,
# --json-lines, --bench, and the errors for a bad tokenizer.json, for input that is not UTF-8
# and for a word too long to encode.
. "$TOP_SRCDIR/tests/tap.sh"

shared="$TOP_SRCDIR/../shared/tokenizers"

run "$LORENS" tokenize
is "$status" 2 "no --tokenizer is a usage error"
like "$err" "missing --tokenizer FILE" "saying what is missing"
run "$LORENS" tokenize --tokenizer x extra
is "$status" 2 "an extra argument is a usage error"
like "$err" "unexpected argument 'extra'" "naming it"
run "$LORENS" tokenize --bogus
is "$status" 2 "an unknown option is a usage error"
like "$err" "usage: lorens tokenize --tokenizer FILE" "followed by the usage"
run "$LORENS" help tokenize
is "$status" 0 "help tokenize exits 0"
like "$out" "one line of output per input line" "and documents the line format"

run "$LORENS" tokenize --tokenizer "$tap_tmp/missing.json"
is "$status" 1 "a missing tokenizer.json fails (1)"
like "$err" "$tap_tmp/missing.json: cannot open" "naming the file"

printf '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$tap_tmp/wp.json"
run "$LORENS" tokenize --tokenizer "$tap_tmp/wp.json"
is "$status" 1 "an unsupported model fails (1)"
like "$err" "lorens: error: $tap_tmp/wp.json: model.type 'WordPiece' is not supported" \
  "naming the file, the JSON path and the feature"

# A tiny tokenizer of our own, so these run without ../shared.
cat > "$tap_tmp/tiny.json" <<'JSON'
{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2, "ab": 3, "<s>": 4, "\\": 5},
           "merges": ["a b"]},
 "post_processor": {"type": "TemplateProcessing",
   "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
   "special_tokens": {"<s>": {"id": "<s>", "ids": [4], "tokens": ["<s>"]}}}}
JSON
printf 'ab a\nba\n\n\\ab' > "$tap_tmp/in.txt"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/tiny.json' < '$tap_tmp/in.txt'"
is "$status" 0 "tokenize exits 0"
is "$out" "3 2 0
1 0

5 3" "one line of ids per input line, the last line without a newline too"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/tiny.json' --pieces --add-bos < '$tap_tmp/in.txt'"
is "$out" '<s> ab \x20 a
<s> b a
<s>
<s> \\ ab' "--pieces --add-bos: BOS first, space and backslash escaped"
printf 'a\377b\n' > "$tap_tmp/bad.txt"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/tiny.json' < '$tap_tmp/bad.txt'"
is "$status" 1 "input that is not UTF-8 fails (1)"
like "$err" "stdin line 1: text is not valid UTF-8 (at byte 1)" "naming the line and the byte"

run "$LORENS" tokenize --tokenizer "$tap_tmp/tiny.json" --bench "$tap_tmp/in.txt"
is "$status" 0 "--bench exits 0"
like "$out" "tokens: 6" "and counts the tokens of the whole file, encoded as one text"
like "$out" "MB/s: " "and reports MB/s"

# --json-lines: each line is one JSON string, so a text may hold a newline.  This tokenizer has
# no pre-tokenizer and merges "a" "\n" "b" into one token, so the text a, newline, b is one id,
# and the same characters as two lines are two.
cat > "$tap_tmp/nl.json" <<'JSON'
{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "\n": 2, "a\n": 3, "a\nb": 4, "\"": 5},
           "merges": ["a \n", "a\n b"]}}
JSON
printf '"a\\nb"\n"a"\n""\n"\\"b"\r\n' > "$tap_tmp/in.jsonl"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/nl.json' --json-lines < '$tap_tmp/in.jsonl'"
is "$status" 0 "--json-lines exits 0"
is "$out" "4
0

5 1" "one line of ids per JSON string, each string decoded and encoded as one text"
run sh -c "printf 'a\nb\n' | '$LORENS' tokenize --tokenizer '$tap_tmp/nl.json'"
is "$out" "0
1" "the same characters as two lines give other ids"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/nl.json' --json-lines --pieces < '$tap_tmp/in.jsonl'"
like "$out" 'a\x0Ab' "--pieces writes the newline inside a piece as \\x0A"
printf '"a"\n"a\\nb\n' > "$tap_tmp/bad.jsonl"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/nl.json' --json-lines < '$tap_tmp/bad.jsonl'"
is "$status" 1 "a line that is not valid JSON fails (1)"
like "$err" "stdin line 2: not valid JSON at column" "naming the line"
is "$out" "0" "after the lines before it"
printf '"a"\n5\n' > "$tap_tmp/bad.jsonl"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/nl.json' --json-lines < '$tap_tmp/bad.jsonl'"
is "$status" 1 "a JSON value that is not a string fails (1)"
like "$err" "stdin line 2: expected a JSON string (\"text\"), got integer" "naming the line and the kind"
printf '\n' > "$tap_tmp/bad.jsonl"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/nl.json' --json-lines < '$tap_tmp/bad.jsonl'"
like "$err" "stdin line 1: not valid JSON" "an empty line is not a JSON string"
run "$LORENS" tokenize --tokenizer "$tap_tmp/nl.json" --json-lines --bench "$tap_tmp/in.jsonl"
is "$status" 2 "--json-lines with --bench is a usage error"

# A word over 8 MiB is refused before BPE spends memory on it (the tiny tokenizer has no
# pre-tokenizer, so a line is one word): 20 MB of 'a' once took gigabytes.
head -c 20971520 /dev/zero | tr '\0' a > "$tap_tmp/huge.txt"
echo >> "$tap_tmp/huge.txt"
run sh -c "'$LORENS' tokenize --tokenizer '$tap_tmp/tiny.json' < '$tap_tmp/huge.txt'"
is "$status" 1 "a word of 20 MB fails (1)"
like "$err" "stdin line 1: a word of 20971520 bytes is longer than lorens encodes (at most 8388608 bytes" \
  "naming the line, the size and the limit"
is "$out" "" "and prints no ids"
run "$LORENS" tokenize --tokenizer "$tap_tmp/tiny.json" --bench "$tap_tmp/huge.txt"
is "$status" 1 "--bench on it fails too"
like "$err" "huge.txt: a word of 20971521 bytes" "naming the file"
rm -f "$tap_tmp/huge.txt"

# A GGUF file as the tokenizer: its metadata (tests/fixtures/gguf-tokenizer: ids from transformers).
gg="$TOP_SRCDIR/tests/fixtures/gguf-tokenizer/gpt2.gguf"
run sh -c "printf 'Hello world\n' | '$LORENS' tokenize --tokenizer '$gg'"
is "$out" "42 71 272 81 223 89 274 78 70" "a .gguf tokenizer: transformers' ids of 'Hello world'"
printf '"<|im_start|>user\\nthe hat<|im_end|>"\n' > "$tap_tmp/chat.jsonl"
run sh -c "'$LORENS' tokenize --tokenizer '$gg' --json-lines --add-bos --pieces < '$tap_tmp/chat.jsonl'"
is "$out" "<|im_start|> <|im_start|> u s er Ċ t he Ġh a t <|im_end|> <|im_end|>" \
  "--add-bos: BOS and EOS as add_bos_token and add_eos_token say, special tokens whole"
run sh -c "printf 'x\n' | '$LORENS' tokenize --tokenizer '$TOP_SRCDIR/tests/fixtures/gguf-tiny/llama.gguf'"
is "$status" 1 "a .gguf without tokenizer metadata fails (1)"
like "$err" "gguf-tiny/llama.gguf: has no tokenizer in its metadata" "naming the file and why"

if [ -f "$shared/gpt2/tokenizer.json" ]; then
  run sh -c "printf 'Hello world\n' | '$LORENS' tokenize --tokenizer '$shared/gpt2/tokenizer.json'"
  is "$out" "15496 995" "GPT-2 ids of 'Hello world'"
  run sh -c "printf 'Hello world\n' | '$LORENS' tokenize --tokenizer '$shared/llama2/tokenizer.json' --add-bos --pieces"
  is "$out" "<s> ▁Hello ▁world" "Llama 2 pieces with BOS"
else
  skip "../shared is absent" "GPT-2 ids"
  skip "../shared is absent" "Llama 2 pieces"
fi

done_testing
