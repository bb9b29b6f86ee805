# fixture.sh: what the CLI tests that run sweeps share (sourced after tap.sh): where the CPU
# backend, the fault-injection backends, the fixture model and its data are; `q`, a query's rows;
# and `fixture_grid`, a small grid over the fixture model.

cpu="$TOP_BUILDDIR/plugins/cpu/.libs"
fault="$TOP_BUILDDIR/tests/plugins/fault/.libs"
fx="$TOP_SRCDIR/tests/fixtures/llama-gqa-tied"
data="$TOP_SRCDIR/tests/data/predict"

# q DB SQL: the rows, comma-separated, without the header line.
q() { "$LORENS" query --db "$1" --format csv "$2" | tr -d '\r' | tail -n +2; }

# fixture_grid FILE NAME [YAML]...: writes FILE, the sweep NAME over the fixture model: the cpu
# backend, tiny.jsonl to train on and to evaluate, LoRA rank 2 on q and v, two members, no
# training epochs, one seed.  Each YAML argument (one line, or several for a nested key)
# replaces the top-level key it starts with, or is added at the end: "train: {epochs: 2}",
# "grid:
#   seed: [0, 1]".
fixture_grid() {
  file=$1
  name=$2
  shift 2
  cat > "$file" <<YAML
name: $name
model: $fx
tokenizer: $data/char96-tokenizer.json
backend: cpu
data:
  train: {format: jsonl, path: $data/tiny.jsonl}
  eval:
    - {name: tiny, format: jsonl, path: $data/tiny.jsonl}
prompt: {bos: false}
lora: {targets: [q, v], rank: 2, alpha: 4}
train: {batch_size: 8, epochs: 0}
ensemble: {size: 2}
YAML
  for part in "$@"; do
    key=${part%%:*}
    # Drop the key's lines (the key, then its indented ones), then add the new ones.
    awk -v key="$key" '
      /^[^ ]/ { skip = (substr($0, 1, length(key) + 1) == key ":") }
      !skip' "$file" > "$file.tmp" && mv "$file.tmp" "$file"
    printf '%s\n' "$part" >> "$file"
  done
  printf '%s' "$file"
}
