#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET SECONDS [LIBFUZZER-OPTIONS...]: fuzz one target for SECONDS seconds.
#
# TARGET is safetensors, gguf, model-config, tokenizer-json, tokenize, dataset or grid (tokenize
# reads the tokenizers of ../shared when present, through TOP_SRCDIR, which this script sets).
# The fuzzers are built in _build/fuzz (or $FUZZ_BUILD), configured there with CC=clang
# --enable-fuzzers --without-cuda on first use.  The committed corpus tests/fuzz/corpus/TARGET
# seeds the run and is never written to: inputs the fuzzer finds go to
# $FUZZ_BUILD/tests/fuzz/work/TARGET, crashes to $FUZZ_BUILD/tests/fuzz/artifacts/TARGET/.  One
# job, no forks; the last lines are libFuzzer's final stats (executions, coverage).  Exits
# non-zero when the fuzzer finds a crash, a leak or undefined behaviour.
#
# A crash found is a bug to fix: fix it, then copy the artifact into tests/fuzz/corpus/TARGET/ so
# that `make check` replays it from then on.
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 2 ]; then
  echo "usage: tests/fuzz/run.sh safetensors|gguf|model-config|tokenizer-json|tokenize|dataset|grid SECONDS [LIBFUZZER-OPTIONS...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
case $target in
  safetensors) max_len=8192 ;;
  gguf) max_len=8192 ;;
  model-config) max_len=4096 ;;
  tokenizer-json) max_len=8192 ;;
  tokenize) max_len=4096 ;;
  dataset) max_len=4096 ;;
  grid) max_len=4096 ;;
  *) echo "run.sh: unknown target '$target' (safetensors, gguf, model-config, tokenizer-json, tokenize, dataset or grid)" >&2
     exit 2 ;;
esac
build=${FUZZ_BUILD:-$top/_build/fuzz}

if [ ! -f "$build/Makefile" ]; then
  if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
    (cd "$top" && autoreconf -fi) || exit 1
  fi
  mkdir -p "$build" || exit 1
  (cd "$build" && "$top/configure" CC="${CC:-clang}" --enable-fuzzers --without-cuda \
    >configure.out 2>&1) || { tail -n 20 "$build/configure.out"; exit 1; }
fi
if ! grep -q '^FUZZ_LDFLAGS = -fsanitize=fuzzer' "$build/Makefile"; then
  echo "run.sh: $build was configured without --enable-fuzzers; remove it or set FUZZ_BUILD" >&2
  exit 1
fi
make -C "$build" -j"${JOBS:-2}" "tests/fuzz/fuzz-$target" >"$build/fuzz-make.out" 2>&1 \
  || { tail -n 40 "$build/fuzz-make.out"; exit 1; }

work="$build/tests/fuzz/work/$target"
artifacts="$build/tests/fuzz/artifacts/$target/"
mkdir -p "$work" "$artifacts" || exit 1
echo "fuzzing $target for $seconds s (max_len $max_len); new inputs in $work"
TOP_SRCDIR=$top "$build/tests/fuzz/fuzz-$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
  -dict="$top/tests/fuzz/$target.dict" "$@" "$work" "$top/tests/fuzz/corpus/$target"
