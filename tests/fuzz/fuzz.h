/*
 * fuzz.h: the libFuzzer entry point every target in tests/fuzz defines.
 *
 * Each fuzz-TARGET.c is built twice: with clang's -fsanitize=fuzzer (configure --enable-fuzzers)
 * into tests/fuzz/fuzz-TARGET, which libFuzzer drives; and in every build with replay.c into
 * tests/fuzz/replay-TARGET, which `make check` runs over the committed corpus
 * tests/fuzz/corpus/TARGET, so the targets keep compiling and old finds stay fixed.
 *
 * A target traps (__builtin_trap) when an invariant of its API breaks; crashes, leaks and
 * undefined behaviour are left to ASan and UBSan.
 */
#ifndef LORENS_FUZZ_H
#define LORENS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the process when cond is false: the fuzzer reports it as a crash, with the input. */
#define FUZZ_CHECK(cond)     \
  do {                       \
    if (!(cond))             \
      __builtin_trap();      \
  } while (0)

#endif /* LORENS_FUZZ_H */
