/*
 * hashmap.h: the one hash table, an index from byte-string keys to the caller's items.
 *
 * The items (tokens, words, runs, examples) live in the caller's own array and keep their keys
 * there; the table holds only each item's index and 32 bits of its key's hash.  That makes it
 * intrusive the way git's hashmap is (nothing is copied, an item is found in place) while the
 * arrays stay free to move when they grow, which pointers into them would not allow.  Keys are
 * compared through the eq function given at init, and only when the stored hash bits match.
 *
 * Open addressing with linear probing, at most half full, growing by doubling; removal shifts
 * the following entries back, so there are no tombstones.  Hashes come from the caller (lr_hash
 * for strings: FNV-1a with a final mix, so the low bits used as the slot depend on every byte);
 * all that matters is that equal keys hash alike.  At most LR_HASHMAP_MAX_ITEMS items.
 */
#ifndef LORENS_HASHMAP_H
#define LORENS_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* What lookups return for a key not in the table. */
#define LR_HASHMAP_NONE SIZE_MAX
#define LR_HASHMAP_MAX_ITEMS ((size_t)UINT32_MAX / 2)

/* Whether item (an index the caller added) has the key [key, key + len). */
typedef bool (*lr_hashmap_eq_fn)(const void *ctx, size_t item, const void *key, size_t len);

typedef struct lr_hashmap_slot {
  uint32_t hash; /* low 32 bits of the key's hash */
  uint32_t item; /* index + 1; 0 = empty */
} lr_hashmap_slot;

typedef struct lr_hashmap {
  lr_hashmap_slot *slots; /* from malloc(); NULL until the first insert or reserve */
  size_t mask, count;
  lr_hashmap_eq_fn eq;
  const void *ctx; /* passed to eq: the owner of the items (not the array, which may move) */
} lr_hashmap;

/* FNV-1a over the bytes with a final mix. */
uint64_t lr_hash(const void *key, size_t len);

/* Makes m empty; allocates nothing. */
void lr_hashmap_init(lr_hashmap *m, lr_hashmap_eq_fn eq, const void *ctx);
void lr_hashmap_release(lr_hashmap *m);
/* Makes room for n items in all, so that inserts up to then do not allocate. */
lr_status lr_hashmap_reserve(lr_hashmap *m, size_t n, lr_err *err);

/* The item with the key, or LR_HASHMAP_NONE. */
size_t lr_hashmap_find(const lr_hashmap *m, uint64_t hash, const void *key, size_t len);
/* Adds item under the key unless an item has it already; *found gets that item, or
 * LR_HASHMAP_NONE when item was added.  item must have the key by the next lookup. */
lr_status lr_hashmap_add(lr_hashmap *m, uint64_t hash, const void *key, size_t len, size_t item,
                         size_t *found, lr_err *err);
/* Adds item under the key, replacing an item that has it. */
lr_status lr_hashmap_set(lr_hashmap *m, uint64_t hash, const void *key, size_t len, size_t item,
                         lr_err *err);
/* Removes the key's entry; the item it named, or LR_HASHMAP_NONE if there was none. */
size_t lr_hashmap_remove(lr_hashmap *m, uint64_t hash, const void *key, size_t len);

#endif /* LORENS_HASHMAP_H */
