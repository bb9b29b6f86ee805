/*
 * gguf-samples.h: small GGUF files, valid and broken, each built byte for byte by gguf-writer.
 *
 * They serve three purposes: tests/unit/test-gguf.c checks that the reader accepts each valid one
 * and refuses each broken one with its status and message; tests/make-gguf writes them out, as
 * the fuzz corpus tests/fuzz/corpus/gguf/ (`tests/make-gguf corpus DIR`) and as files for the CLI
 * tests (`tests/make-gguf sample NAME FILE`).
 */
#ifndef LORENS_TEST_GGUF_SAMPLES_H
#define LORENS_TEST_GGUF_SAMPLES_H

#include <stddef.h>

#include "gguf-writer.h"

typedef struct gguf_sample {
  const char *name;            /* "bad-magic"; also its file name in the corpus */
  void (*build)(gguf_buf *out);
  int status;                  /* the lr_status the reader must return (0 = LR_OK) */
  const char *message;         /* what its message must contain; NULL for a valid file */
} gguf_sample;

extern const gguf_sample gguf_samples[];
extern const size_t gguf_n_samples;

/* The sample called name, or NULL. */
const gguf_sample *gguf_sample_find(const char *name);

/* The tiny LLaMA-shaped model of the sample "good-llama", described for the tests that read it. */
#define TINY_EMBD 32
#define TINY_VOCAB 8
#define TINY_FF 64
#define TINY_TENSORS 6

#endif /* LORENS_TEST_GGUF_SAMPLES_H */
