/*
 * hashmap.c: the hash table index (see hashmap.h).
 */
#include "compat.h"

#include <stdlib.h>

#include "base/hashmap.h"

uint64_t lr_hash(const void *key, size_t len) {
  const uint8_t *s = key;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    h = (h ^ s[i]) * 1099511628211ull;
  /* FNV's low bits depend weakly on the last bytes; the table indexes with the low bits. */
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

void lr_hashmap_init(lr_hashmap *m, lr_hashmap_eq_fn eq, const void *ctx) {
  m->slots = NULL;
  m->mask = 0;
  m->count = 0;
  m->eq = eq;
  m->ctx = ctx;
}

void lr_hashmap_release(lr_hashmap *m) {
  free(m->slots);
  lr_hashmap_init(m, m->eq, m->ctx);
}

lr_status lr_hashmap_reserve(lr_hashmap *m, size_t n, lr_err *err) {
  size_t cap = m->slots ? m->mask + 1 : 0, ncap = cap ? cap : 16;
  lr_hashmap_slot *s;
  if (n > LR_HASHMAP_MAX_ITEMS)
    return lr_fail(err, LR_EINVAL, "a table of %zu entries is too large", n);
  if (m->slots && n * 2 <= cap)
    return LR_OK;
  while (n * 2 > ncap)
    ncap *= 2;
  if ((s = calloc(ncap, sizeof *s)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory (a table of %zu entries)", n);
  for (size_t i = 0; i < cap; i++) {
    size_t k;
    if (m->slots[i].item == 0)
      continue;
    for (k = m->slots[i].hash & (ncap - 1); s[k].item; k = (k + 1) & (ncap - 1))
      ;
    s[k] = m->slots[i];
  }
  free(m->slots);
  m->slots = s;
  m->mask = ncap - 1;
  return LR_OK;
}

/* The slot holding the key, or the empty slot that ends its probe sequence. */
static size_t probe(const lr_hashmap *m, uint32_t h, const void *key, size_t len) {
  size_t i = h & m->mask;
  for (; m->slots[i].item; i = (i + 1) & m->mask)
    if (m->slots[i].hash == h && m->eq(m->ctx, m->slots[i].item - 1, key, len))
      break;
  return i;
}

size_t lr_hashmap_find(const lr_hashmap *m, uint64_t hash, const void *key, size_t len) {
  size_t i;
  if (m->slots == NULL)
    return LR_HASHMAP_NONE;
  i = probe(m, (uint32_t)hash, key, len);
  return m->slots[i].item ? m->slots[i].item - 1 : LR_HASHMAP_NONE;
}

static lr_status put(lr_hashmap *m, uint64_t hash, const void *key, size_t len, size_t item,
                     bool replace, size_t *found, lr_err *err) {
  size_t i;
  if (item >= LR_HASHMAP_MAX_ITEMS)
    return lr_fail(err, LR_EINVAL, "item %zu is beyond what a table can index", item);
  if (lr_hashmap_reserve(m, m->count + 1, err) != LR_OK)
    return err ? err->code : LR_ENOMEM;
  i = probe(m, (uint32_t)hash, key, len);
  if (found)
    *found = m->slots[i].item ? m->slots[i].item - 1 : LR_HASHMAP_NONE;
  if (m->slots[i].item && !replace)
    return LR_OK;
  if (m->slots[i].item == 0)
    m->count++;
  m->slots[i] = (lr_hashmap_slot){(uint32_t)hash, (uint32_t)(item + 1)};
  return LR_OK;
}

lr_status lr_hashmap_add(lr_hashmap *m, uint64_t hash, const void *key, size_t len, size_t item,
                         size_t *found, lr_err *err) {
  return put(m, hash, key, len, item, false, found, err);
}

lr_status lr_hashmap_set(lr_hashmap *m, uint64_t hash, const void *key, size_t len, size_t item,
                         lr_err *err) {
  return put(m, hash, key, len, item, true, NULL, err);
}

size_t lr_hashmap_remove(lr_hashmap *m, uint64_t hash, const void *key, size_t len) {
  size_t i, j, item;
  if (m->slots == NULL || m->slots[i = probe(m, (uint32_t)hash, key, len)].item == 0)
    return LR_HASHMAP_NONE;
  item = m->slots[i].item - 1;
  /* Backward shift: move up each later entry of the run whose home is not in (i, j], so that
   * no probe sequence crosses the hole. */
  for (j = (i + 1) & m->mask; m->slots[j].item; j = (j + 1) & m->mask) {
    size_t home = m->slots[j].hash & m->mask;
    if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i] = (lr_hashmap_slot){0, 0};
  m->count--;
  return item;
}
