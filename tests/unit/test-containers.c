/*
 * test-containers.c: the shared containers: lr_buf, lr_grow, lr_hashmap and the UTF-8 validator.
 */
#include "compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hashmap.h"
#include "base/text-table.h"
#include "base/utf8.h"
#include "../tap.h"

static void test_buf_invariants(void) {
  lr_buf b = LR_BUF_INIT, c;
  tap_ok(b.buf != NULL && b.buf[0] == '\0' && b.len == 0, "an initialised buffer is \"\", not NULL");
  lr_buf_init(&c, 10);
  tap_ok(c.buf != NULL && c.len == 0 && c.max == 10, "lr_buf_init sets the cap");
  lr_buf_setlen(&c, 0); /* would write to read-only memory if it touched the shared "" */
  lr_buf_reset(&c);
  tap_ok(c.buf[0] == '\0' && c.alloc == 0, "setlen and reset leave an unallocated buffer alone");
  lr_buf_release(&c);
  tap_ok(c.buf != NULL && c.alloc == 0, "release leaves a usable empty buffer");
  tap_is_int(lr_buf_add(&b, "ab\0c", 4, NULL), LR_OK, "bytes with a NUL append");
  tap_is_int((long long)b.len, 4, "len counts the embedded NUL");
  tap_ok(b.buf[4] == '\0' && memcmp(b.buf, "ab\0c", 4) == 0, "the text is kept and terminated");
  lr_buf_reset(&b);
  tap_ok(b.len == 0 && b.buf[0] == '\0' && b.alloc > 0, "reset empties, keeping the memory");
  tap_is_int(lr_buf_add(&b, NULL, 0, NULL), LR_OK, "appending nothing is fine");
  lr_buf_release(&b);
}

static void test_buf_growth(void) {
  lr_buf b = LR_BUF_INIT;
  char want[10001];
  int ok = 1;
  for (int i = 0; i < 10000; i++) {
    want[i] = (char)('a' + i % 26);
    ok &= lr_buf_addch(&b, want[i], NULL) == LR_OK;
  }
  want[10000] = '\0';
  tap_ok(ok, "10000 one-byte appends succeed");
  tap_ok(b.len == 10000 && strcmp(b.buf, want) == 0, "and give the text appended");
  tap_ok(b.alloc >= 10001 && b.alloc < 40000, "capacity grows geometrically (%zu)", b.alloc);
  tap_is_int(lr_buf_grow(&b, 100000, NULL), LR_OK, "grow makes room");
  tap_ok(b.alloc >= b.len + 100001, "for the bytes asked and the NUL");
  lr_buf_release(&b);
}

static void test_buf_cap(void) {
  lr_buf b;
  lr_err err;
  lr_err_init(&err);
  lr_buf_init(&b, 8);
  tap_is_int(lr_buf_adds(&b, "12345678", &err), LR_OK, "up to the cap appends");
  tap_is_int(lr_buf_addch(&b, '9', &err), LR_EINVAL, "one byte past the cap fails");
  tap_like(err.msg, "longer than 8 bytes", "saying the cap (%s)", err.msg);
  tap_ok(b.len == 0 && b.buf != NULL && b.buf[0] == '\0', "a failed buffer is emptied");
  tap_is_int(lr_buf_adds(&b, "x", NULL), LR_EINVAL, "and later appends fail too");
  tap_ok(lr_buf_detach(&b, NULL) == NULL, "detach after a failure gives NULL");
  lr_buf_reset(&b);
  tap_is_int(lr_buf_adds(&b, "x", NULL), LR_OK, "reset clears the failure");
  lr_buf_release(&b);
  lr_buf_init(&b, 5);
  tap_is_int(lr_buf_addf(&b, NULL, "%d", 123456), LR_EINVAL, "printf past the cap fails");
  lr_buf_release(&b);
}

static void test_buf_printf_detach(void) {
  lr_buf b = LR_BUF_INIT;
  char big[300], *s;
  size_t len = 0;
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  tap_is_int(lr_buf_addf(&b, NULL, "%s=%d;", "rank", 8), LR_OK, "addf appends");
  tap_is_int(lr_buf_addf(&b, NULL, "[%s]", big), LR_OK, "addf past the room there is");
  tap_is_int((long long)b.len, 7 + 301, "addf keeps len");
  tap_ok(strncmp(b.buf, "rank=8;[zzz", 11) == 0 && b.buf[b.len - 1] == ']', "addf's text");
  s = lr_buf_detach(&b, &len);
  tap_ok(s != NULL && len == 308 && strlen(s) == 308, "detach hands over the text");
  tap_ok(b.buf != NULL && b.len == 0 && b.alloc == 0, "and leaves the buffer empty");
  free(s);
  s = lr_buf_detach(&b, &len);
  tap_ok(s != NULL && s[0] == '\0' && len == 0, "detaching an empty buffer gives a malloc'd \"\"");
  free(s);
}

static void test_grow(void) {
  int *v = NULL;
  size_t cap = 0, n = 0;
  int ok = 1;
  lr_err err;
  for (int i = 0; i < 1000; i++) {
    ok &= LR_GROW(v, cap, n + 1, NULL) == LR_OK;
    v[n++] = i;
  }
  tap_ok(ok && v[999] == 999 && v[0] == 0, "1000 pushes through LR_GROW");
  tap_ok(cap >= 1000 && cap <= 2048, "capacity doubles (%zu)", cap);
  lr_err_init(&err);
  size_t before = cap;
  int *keep = v;
  tap_is_int(lr_grow(&v, &cap, SIZE_MAX / 2, sizeof *v, &err), LR_EINVAL,
             "count * size overflowing is refused");
  tap_ok(v == keep && cap == before, "and leaves the array as it was");
  tap_is_int(lr_grow(&v, &cap, 10, sizeof *v, NULL), LR_OK, "a need below the capacity is a no-op");
  free(v);
}

/* Items for the table: keys in an array that moves as it grows. */
typedef struct keys {
  char **k;
  size_t *len, n, cap, cap_len;
} keys;

static bool key_eq(const void *ctx, size_t item, const void *key, size_t len) {
  const keys *ks = ctx;
  return ks->len[item] == len && memcmp(ks->k[item], key, len) == 0;
}

static size_t push_key(keys *ks, const void *key, size_t len) {
  if (LR_GROW(ks->k, ks->cap, ks->n + 1, NULL) != LR_OK ||
      LR_GROW(ks->len, ks->cap_len, ks->n + 1, NULL) != LR_OK)
    abort();
  ks->k[ks->n] = malloc(len ? len : 1);
  memcpy(ks->k[ks->n], key, len);
  ks->len[ks->n] = len;
  return ks->n++;
}

static void free_keys(keys *ks) {
  for (size_t i = 0; i < ks->n; i++)
    free(ks->k[i]);
  free(ks->k);
  free(ks->len);
}

static void test_hashmap_basic(void) {
  keys ks = {0};
  lr_hashmap m;
  size_t found, a, b;
  lr_hashmap_init(&m, key_eq, &ks);
  tap_is_int((long long)lr_hashmap_find(&m, lr_hash("x", 1), "x", 1), (long long)LR_HASHMAP_NONE,
             "an empty table finds nothing");
  a = push_key(&ks, "alpha", 5);
  tap_is_int(lr_hashmap_add(&m, lr_hash("alpha", 5), "alpha", 5, a, &found, NULL), LR_OK, "add");
  tap_ok(found == LR_HASHMAP_NONE, "a new key is added");
  tap_is_int((long long)lr_hashmap_find(&m, lr_hash("alpha", 5), "alpha", 5), (long long)a, "find");
  b = push_key(&ks, "alpha", 5);
  lr_hashmap_add(&m, lr_hash("alpha", 5), "alpha", 5, b, &found, NULL);
  tap_is_int((long long)found, (long long)a, "adding a present key reports the item there");
  tap_is_int((long long)lr_hashmap_find(&m, lr_hash("alpha", 5), "alpha", 5), (long long)a,
             "and keeps it");
  lr_hashmap_set(&m, lr_hash("alpha", 5), "alpha", 5, b, NULL);
  tap_is_int((long long)lr_hashmap_find(&m, lr_hash("alpha", 5), "alpha", 5), (long long)b,
             "set replaces");
  tap_is_int((long long)m.count, 1, "one key, one entry");
  tap_is_int((long long)lr_hashmap_remove(&m, lr_hash("alpha", 5), "alpha", 5), (long long)b,
             "remove gives the item");
  tap_is_int((long long)lr_hashmap_find(&m, lr_hash("alpha", 5), "alpha", 5),
             (long long)LR_HASHMAP_NONE, "a removed key is gone");
  tap_is_int((long long)lr_hashmap_remove(&m, lr_hash("alpha", 5), "alpha", 5),
             (long long)LR_HASHMAP_NONE, "removing it again finds nothing");
  lr_hashmap_release(&m);
  free_keys(&ks);
}

static void test_hashmap_many(void) {
  keys ks = {0};
  lr_hashmap m;
  char key[32];
  int ok = 1;
  lr_hashmap_init(&m, key_eq, &ks);
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    size_t it = push_key(&ks, key, (size_t)n);
    ok &= lr_hashmap_add(&m, lr_hash(key, (size_t)n), key, (size_t)n, it, NULL, NULL) == LR_OK;
  }
  tap_ok(ok && m.count == 20000, "20000 keys go in, growing the table");
  tap_ok(m.mask + 1 >= 40000, "which stays at most half full (%zu slots)", m.mask + 1);
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    ok &= lr_hashmap_find(&m, lr_hash(key, (size_t)n), key, (size_t)n) == (size_t)i;
  }
  tap_ok(ok, "each is found at its item");
  for (int i = 0; i < 20000; i += 2) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    ok &= lr_hashmap_remove(&m, lr_hash(key, (size_t)n), key, (size_t)n) == (size_t)i;
  }
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    size_t got = lr_hashmap_find(&m, lr_hash(key, (size_t)n), key, (size_t)n);
    ok &= got == (i % 2 ? (size_t)i : LR_HASHMAP_NONE);
  }
  tap_ok(ok && m.count == 10000, "after removing every other key the rest are still found");
  lr_hashmap_release(&m);
  free_keys(&ks);
}

/* Every key hashes alike: the table must tell them apart by eq alone, through removals. */
static void test_hashmap_collisions(void) {
  keys ks = {0};
  lr_hashmap m;
  const char bin[][3] = {{0, 1, 2}, {0, 1, 3}, {0, 0, 0}, {(char)0xff, 0, 1}};
  int ok = 1;
  lr_hashmap_init(&m, key_eq, &ks);
  for (size_t i = 0; i < LR_ARRAY_LEN(bin); i++)
    ok &= lr_hashmap_add(&m, 42, bin[i], 3, push_key(&ks, bin[i], 3), NULL, NULL) == LR_OK;
  lr_hashmap_add(&m, 42, "", 0, push_key(&ks, "", 0), NULL, NULL);
  for (size_t i = 0; i < LR_ARRAY_LEN(bin); i++)
    ok &= lr_hashmap_find(&m, 42, bin[i], 3) == i;
  tap_ok(ok, "binary keys with one hash are told apart");
  tap_is_int((long long)lr_hashmap_find(&m, 42, "", 0), 4, "the empty key is a key");
  tap_is_int((long long)lr_hashmap_find(&m, 42, "\0\1", 2), (long long)LR_HASHMAP_NONE,
             "a prefix of a key is not it");
  lr_hashmap_remove(&m, 42, bin[1], 3);
  tap_ok(lr_hashmap_find(&m, 42, bin[3], 3) == 3 && lr_hashmap_find(&m, 42, bin[0], 3) == 0,
         "removing from the middle of a run keeps the rest reachable");
  tap_ok(lr_hash("ab", 2) != lr_hash("ba", 2) && lr_hash("", 0) != lr_hash("\0", 1),
         "lr_hash depends on order and length");
  lr_hashmap_release(&m);
  free_keys(&ks);
}

static void test_utf8(void) {
  static const struct {
    const char *s;
    size_t n, valid;
    const char *what;
  } cases[] = {
      {"plain ascii", 11, 11, "ASCII"},
      {"\xC3\xA9t\xC3\xA9", 6, 6, "two-byte characters"},
      {"\xE2\x82\xAC", 3, 3, "a three-byte character"},
      {"\xF0\x9F\x98\x80", 4, 4, "a four-byte character"},
      {"\xF4\x8F\xBF\xBF", 4, 4, "U+10FFFF"},
      {"\xEF\xBF\xBF", 3, 3, "U+FFFF"},
      {"a\xC0\xAF", 3, 1, "overlong C0"},
      {"a\xC1\xBF", 3, 1, "overlong C1"},
      {"\xE0\x80\xAF", 3, 0, "overlong three-byte"},
      {"\xF0\x8F\xBF\xBF", 4, 0, "overlong four-byte"},
      {"x\xED\xA0\x80", 4, 1, "a high surrogate"},
      {"\xED\xBF\xBF", 3, 0, "a low surrogate"},
      {"\xED\x9F\xBF", 3, 3, "U+D7FF, just below the surrogates"},
      {"\xF4\x90\x80\x80", 4, 0, "U+110000"},
      {"\xF5\x80\x80\x80", 4, 0, "an F5 lead byte"},
      {"ab\xE2\x82", 4, 2, "a truncated three-byte sequence"},
      {"\xF0\x9F\x98", 3, 0, "a truncated four-byte sequence"},
      {"\x80", 1, 0, "a lone continuation byte"},
      {"\xC3\xA9\xC3", 3, 2, "a lead byte at the end"},
      {"a\0b", 3, 3, "NUL is valid UTF-8"},
  };
  for (size_t i = 0; i < LR_ARRAY_LEN(cases); i++)
    tap_is_int((long long)lr_utf8_valid_prefix(cases[i].s, cases[i].n), (long long)cases[i].valid,
               "valid prefix: %s", cases[i].what);
  size_t bad = 0;
  tap_is_int((long long)lr_utf8_char_len("\xF0\x9F\x98x", 4, &bad), 0, "a cut sequence is no character");
  tap_is_int((long long)bad, 3, "its maximal invalid subpart is the three bytes");
  lr_utf8_char_len("\xE0\x80", 2, &bad);
  tap_is_int((long long)bad, 1, "an overlong start is replaced byte by byte");
  tap_ok(lr_utf8_valid("", 0) && !lr_utf8_valid("\xFF", 1), "lr_utf8_valid");
}

/* Prints t into a string (the caller frees it). */
static char *print_table(const lr_text_table *t) {
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&text, &len);
  if (fp == NULL)
    return NULL;
  lr_text_table_print(t, fp);
  fclose(fp);
  return text;
}

static void test_text_table(void) {
  static const char *const header[] = {"name", "n"};
  const char *rows[][2] = {{"caf\xc3\xa9", "7"}, {"a\tb", "12"}, {NULL, "3"}};
  lr_text_table t;
  lr_err err;
  char *out;
  lr_err_init(&err);
  tap_is_int(lr_text_table_init(&t, 2, header, true, &err), LR_OK, "a text table");
  t.null_text = "NULL";
  t.right[1] = true;
  for (size_t i = 0; i < 3; i++)
    lr_text_table_add(&t, rows[i], &err);
  tap_is_int((long long)t.width[0], 4, "widths count code points and escapes (\"a\\tb\" is 4)");
  out = print_table(&t);
  tap_is_str(out, "name   n\n----  --\ncaf\xc3\xa9   7\na\\tb  12\nNULL   3\n",
             "header, dashes, escaped tab, NULL, right-aligned numbers, no trailing blanks");
  free(out);
  lr_text_table_release(&t);
  tap_ok(t.cells == NULL && t.nrows == 0, "release empties the table");

  lr_text_table_init(&t, 2, NULL, false, &err);
  t.indent = "  ";
  lr_text_table_add(&t, (const char *const[]){"x", "long value"}, &err);
  lr_text_table_add(&t, (const char *const[]){"longer", "y"}, &err);
  out = print_table(&t);
  tap_is_str(out, "  x       long value\n  longer  y\n", "indent, left-aligned, last column unpadded");
  free(out);
  lr_text_table_release(&t);
  lr_text_table_release(&t);
  tap_ok(t.cells == NULL && t.width == NULL && t.right == NULL && t.nrows == 0,
         "a released table is empty, and releasing it again is harmless");
}

int main(void) {
  test_buf_invariants();
  test_buf_growth();
  test_buf_cap();
  test_buf_printf_detach();
  test_grow();
  test_hashmap_basic();
  test_hashmap_many();
  test_hashmap_collisions();
  test_utf8();
  test_text_table();
  return tap_done();
}
