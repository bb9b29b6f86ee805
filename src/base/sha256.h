/*
 * sha256.h: SHA-256 (FIPS 180-4), for run keys and file fingerprints.
 *
 * A run's identity is the SHA-256 of its canonical configuration (grid.h); the hash has to be the
 * standard one so that anyone can recompute a run_key from the stored canonical text with
 * `sha256sum`.  Incremental use: init, update any number of times, final.
 */
#ifndef LORENS_SHA256_H
#define LORENS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define LR_SHA256_DIGEST 32
#define LR_SHA256_HEX 65 /* 64 lowercase hex digits and a NUL */

typedef struct lr_sha256 {
  uint32_t h[8];
  uint64_t n_bytes;   /* hashed so far */
  uint8_t block[64];  /* the partial block */
  size_t used;        /* bytes in block */
} lr_sha256;

void lr_sha256_init(lr_sha256 *s);
void lr_sha256_update(lr_sha256 *s, const void *data, size_t len);
/* Writes the digest; *s must be initialised again before reuse. */
void lr_sha256_final(lr_sha256 *s, uint8_t digest[LR_SHA256_DIGEST]);

/* The digest of len bytes as lowercase hex, NUL-terminated. */
void lr_sha256_hex(const void *data, size_t len, char hex[LR_SHA256_HEX]);

#endif /* LORENS_SHA256_H */
