/*
 * test-synth.c: the synthetic knowledge task (src/text/synth.h).
 *
 * Determinism (byte-identical files for the same options, different ones for another seed, a
 * pinned digest so that another machine or a later change cannot drift silently), and properties
 * checked over several seeds and shapes by reading the files back: sizes, every answer stated
 * in the corpus as often as world.json says, distractors that are other values of the same
 * attribute, balanced answer positions, disjoint facts across train/validation/test, mentor
 * questions that have exactly one right answer, and that every file loads as --format jsonl.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/file-util.h"
#include "base/sha256.h"
#include "text/dataset.h"
#include "text/synth.h"
#include "../tap.h"
#include "../tmpdir.h"

static const char *const files[] = {"world.json", "corpus.txt", "train.jsonl", "validation.jsonl",
                                    "test.jsonl", "ood.jsonl",  "README"};

static char scratch[2048];

/* "a/b" into buf; an overlong path becomes "" (and fails to open) rather than a truncated one. */
static char *join(char *buf, size_t n, const char *a, const char *b) {
  if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n)
    buf[0] = '\0';
  return buf;
}

static char *read_all(const char *dir, const char *name, size_t *len) {
  char path[4096];
  char *buf = NULL;
  lr_err err;
  size_t n = 0;
  lr_err_init(&err);
  join(path, sizeof path, dir, name);
  if (lr_read_file(path, (size_t)1 << 30, "a synth file", &buf, &n, &err) != LR_OK)
    return NULL;
  if (len)
    *len = n;
  return buf;
}

static bool same_file(const char *a, const char *b, const char *name) {
  size_t na = 0, nb = 0;
  char *x = read_all(a, name, &na), *y = read_all(b, name, &nb);
  bool same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

static bool exists(const char *dir, const char *name) {
  char path[4096];
  join(path, sizeof path, dir, name);
  return access(path, F_OK) == 0;
}

static lr_status gen(const char *sub, const lr_synth_opts *o, char *dir, size_t n) {
  lr_err err;
  lr_status rc;
  join(dir, n, scratch, sub);
  lr_err_init(&err);
  rc = lr_synth_write(dir, o, NULL, &err);
  if (rc != LR_OK)
    tap_diag("%s: %s", sub, err.msg);
  return rc;
}

/* ---- determinism ---------------------------------------------------------------------------- */

static void test_determinism(void) {
  lr_synth_opts o;
  char a[4096], b[4096], c[4096], d[4096];
  lr_synth_opts_init(&o);
  o.seed = 42;
  tap_is_int(gen("det-a", &o, a, sizeof a), LR_OK, "defaults, seed 42");
  tap_is_int(gen("det-b", &o, b, sizeof b), LR_OK, "the same again elsewhere");
  for (size_t i = 0; i < LR_ARRAY_LEN(files); i++)
    tap_ok(same_file(a, b, files[i]), "same options: %s byte-identical", files[i]);
  o.seed = 43;
  tap_is_int(gen("det-c", &o, c, sizeof c), LR_OK, "seed 43");
  for (size_t i = 0; i < LR_ARRAY_LEN(files) - 1; i++)
    tap_ok(!same_file(a, c, files[i]), "another seed: %s differs", files[i]);
  /* Resizing the question sets leaves what a model is pretrained on alone. */
  o.seed = 42;
  o.test = 50;
  o.ood = 0;
  tap_is_int(gen("det-d", &o, d, sizeof d), LR_OK, "seed 42, other sizes");
  tap_ok(same_file(a, d, "world.json"), "other sizes: the same world.json");
  tap_ok(same_file(a, d, "corpus.txt"), "other sizes: the same corpus.txt");
  tap_ok(!same_file(a, d, "test.jsonl"), "but another test.jsonl");
}

/* The digest of one small task, pinned: xoshiro256**, splitmix64 and integer-only formatting
 * make it the same everywhere.  A change that moves it must bump LR_SYNTH_VERSION. */
static void test_pinned_digest(void) {
  static const char *const want =
      "80c15d04b3a752b9f0146d22e5ca225fd3bcdfd973ac12ab80e5b8b0b5d20b6c";
  lr_synth_opts o;
  lr_sha256 h;
  uint8_t digest[LR_SHA256_DIGEST];
  char dir[4096], hex[2 * LR_SHA256_DIGEST + 1];
  lr_synth_opts_init(&o);
  o.seed = 2024;
  o.entities = 12;
  o.facts_per_entity = 5;
  o.train = 20;
  o.validation = 10;
  o.test = 10;
  o.ood = 10;
  o.mentions_min = 1;
  o.mentions_max = 3;
  tap_is_int(gen("pinned", &o, dir, sizeof dir), LR_OK, "a small task for the digest");
  lr_sha256_init(&h);
  for (size_t i = 0; i < LR_ARRAY_LEN(files); i++) {
    size_t n = 0;
    char *buf = read_all(dir, files[i], &n);
    if (buf)
      lr_sha256_update(&h, buf, n);
    free(buf);
  }
  lr_sha256_final(&h, digest);
  for (int i = 0; i < LR_SHA256_DIGEST; i++)
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  tap_is_str(hex, want, "the digest of all seven files is pinned (version %d)", LR_SYNTH_VERSION);
}

/* ---- properties ----------------------------------------------------------------------------- */

/* word occurs in line with no letter on either side. */
static bool has_word(const char *line, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
    bool left = p == line || !((p[-1] | 0x20) >= 'a' && (p[-1] | 0x20) <= 'z');
    char r = p[n];
    bool right = !((r | 0x20) >= 'a' && (r | 0x20) <= 'z');
    if (left && right)
      return true;
  }
  return false;
}

typedef struct corpus_lines {
  char *buf;
  char **line;
  size_t n;
} corpus_lines;

static bool corpus_load(const char *dir, corpus_lines *c) {
  size_t len = 0, cap = 0;
  memset(c, 0, sizeof *c);
  if ((c->buf = read_all(dir, "corpus.txt", &len)) == NULL)
    return false;
  for (size_t i = 0; i < len; i++)
    cap += c->buf[i] == '\n';
  c->line = calloc(cap + 1, sizeof *c->line);
  for (char *p = c->buf, *nl; c->line && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
    *nl = '\0';
    c->line[c->n++] = p;
  }
  return c->line != NULL;
}

static int count_lines_with(const corpus_lines *c, const char *a, const char *b) {
  int k = 0;
  for (size_t i = 0; i < c->n; i++)
    k += has_word(c->line[i], a) && has_word(c->line[i], b);
  return k;
}

static bool contains_line(const corpus_lines *c, const char *text) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->line[i], text) == 0)
      return true;
  return false;
}

/* What a check found wrong first, and how often. */
typedef struct tally {
  size_t bad;
  char first[512];
} tally;

static void flag(tally *t, const char *fmt, ...) LR_PRINTF(2, 3);
static void flag(tally *t, const char *fmt, ...) {
  va_list ap;
  if (t->bad++ == 0) {
    va_start(ap, fmt);
    vsnprintf(t->first, sizeof t->first, fmt, ap);
    va_end(ap);
  }
}

static void report(const tally *t, const char *what, const char *cfg) {
  if (!tap_ok(t->bad == 0, "%s: %s", cfg, what))
    tap_diag("%zu bad; first: %s", t->bad, t->first);
}

static const json_t *entity_of(const json_t *world, const char *name) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(world, "entities"), i, e) {
    if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
      return e;
  }
  return NULL;
}

static const json_t *values_of(const json_t *world, const char *attr) {
  size_t i;
  const json_t *a;
  json_array_foreach(json_object_get(world, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "name")), attr) == 0)
      return json_object_get(a, "values");
  }
  return NULL;
}

static bool in_array(const json_t *arr, const char *s) {
  size_t i;
  const json_t *v;
  json_array_foreach(arr, i, v) {
    if (strcmp(json_string_value(v), s) == 0)
      return true;
  }
  return false;
}

/* Checks one attribute question; returns the fact key "entity/attribute" in key. */
static void check_attribute_q(const json_t *world, const corpus_lines *c, const json_t *q,
                              tally *t, char *key, size_t key_len) {
  const char *name = json_string_value(json_object_get(q, "entity"));
  const char *attr = json_string_value(json_object_get(q, "attribute"));
  const json_t *choices = json_object_get(q, "choices"), *e = name ? entity_of(world, name) : NULL;
  const json_t *fact = e && attr ? json_object_get(json_object_get(e, "attributes"), attr) : NULL;
  const json_t *values = attr ? values_of(world, attr) : NULL;
  int answer = (int)json_integer_value(json_object_get(q, "answer"));
  const char *right;
  snprintf(key, key_len, "%s/%s", name ? name : "?", attr ? attr : "?");
  if (fact == NULL || values == NULL || json_array_size(choices) != LR_SYNTH_CHOICES) {
    flag(t, "%s: no such fact in world.json, or not 4 choices", key);
    return;
  }
  right = json_string_value(json_array_get(choices, (size_t)answer));
  if (strcmp(right, json_string_value(json_object_get(fact, "value"))) != 0)
    flag(t, "%s: the answer is '%s', not the world's value", key, right);
  for (size_t i = 0; i < LR_SYNTH_CHOICES; i++) {
    const char *ci = json_string_value(json_array_get(choices, i));
    if (!in_array(values, ci))
      flag(t, "%s: choice '%s' is not a value of the attribute", key, ci);
    for (size_t j = 0; j < i; j++)
      if (strcmp(ci, json_string_value(json_array_get(choices, j))) == 0)
        flag(t, "%s: choice '%s' appears twice", key, ci);
  }
  /* Stated exactly as often as world.json says (values are unique words, names too). */
  long mentions = (long)json_integer_value(json_object_get(fact, "mentions"));
  if (count_lines_with(c, name, right) != mentions ||
      json_integer_value(json_object_get(q, "mentions")) != mentions)
    flag(t, "%s: the corpus states '%s' another number of times than world.json says", key,
         right);
  if (contains_line(c, json_string_value(json_object_get(q, "question"))))
    flag(t, "%s: the question '%s' is a corpus line", key,
         json_string_value(json_object_get(q, "question")));
}

/* Mentor questions: forwards the answer is the mentor; backwards the answer's mentor is the
 * entity and no other choice's is. */
static void check_mentor_q(const json_t *world, const json_t *q, tally *t) {
  const char *name = json_string_value(json_object_get(q, "entity"));
  const char *rel = json_string_value(json_object_get(q, "relation"));
  const json_t *choices = json_object_get(q, "choices");
  int answer = (int)json_integer_value(json_object_get(q, "answer"));
  bool forward = rel && strcmp(rel, "mentor") == 0;
  if (name == NULL || rel == NULL || json_array_size(choices) != LR_SYNTH_CHOICES) {
    flag(t, "ood question without entity, relation or 4 choices");
    return;
  }
  for (size_t i = 0; i < LR_SYNTH_CHOICES; i++) {
    const char *ci = json_string_value(json_array_get(choices, i));
    const json_t *ce = entity_of(world, ci), *m;
    const char *mentor;
    if (ce == NULL) {
      flag(t, "%s: choice '%s' is not an entity", name, ci);
      continue;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(ci, json_string_value(json_array_get(choices, j))) == 0)
        flag(t, "%s: choice '%s' appears twice", name, ci);
    if (strcmp(ci, name) == 0)
      flag(t, "%s: is among its own choices", name);
    if (forward) {
      m = json_object_get(entity_of(world, name), "mentor");
      mentor = json_is_object(m) ? json_string_value(json_object_get(m, "name")) : "";
      if (((int)i == answer) != (strcmp(ci, mentor) == 0))
        flag(t, "%s: choice '%s' is wrongly marked", name, ci);
    } else {
      m = json_object_get(ce, "mentor");
      mentor = json_is_object(m) ? json_string_value(json_object_get(m, "name")) : "";
      if (((int)i == answer) != (strcmp(mentor, name) == 0))
        flag(t, "%s: choice '%s' is wrongly marked as a student or not", name, ci);
    }
  }
}

typedef struct shape {
  uint64_t seed;
  long entities, facts, sizes[4], mmin, mmax;
} shape;

static bool key_in(char **keys, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], key) == 0)
      return true;
  return false;
}

static void check_shape(const shape *s, size_t index) {
  lr_synth_opts o;
  char dir[4096], cfg[128], path[4096];
  char *buf;
  size_t total = 0, nkeys[3] = {0, 0, 0};
  char **keys[3] = {NULL, NULL, NULL};
  json_t *world;
  json_error_t jerr;
  corpus_lines c;
  lr_synth_opts_init(&o);
  o.seed = s->seed;
  o.entities = s->entities;
  o.facts_per_entity = s->facts;
  o.train = s->sizes[0];
  o.validation = s->sizes[1];
  o.test = s->sizes[2];
  o.ood = s->sizes[3];
  o.mentions_min = s->mmin;
  o.mentions_max = s->mmax;
  snprintf(cfg, sizeof cfg, "seed %lu, %ld x %ld, %ld/%ld/%ld/%ld, %ld..%ld",
           (unsigned long)s->seed, s->entities, s->facts, s->sizes[0], s->sizes[1], s->sizes[2],
           s->sizes[3], s->mmin, s->mmax);
  snprintf(path, sizeof path, "shape-%zu", index);
  if (!tap_is_int(gen(path, &o, dir, sizeof dir), LR_OK, "%s: generated", cfg))
    return;
  buf = read_all(dir, "world.json", NULL);
  world = buf ? json_loads(buf, 0, &jerr) : NULL;
  free(buf);
  if (!tap_ok(world != NULL && corpus_load(dir, &c), "%s: world.json parses, corpus reads", cfg))
    return;
  tap_is_int((long long)json_array_size(json_object_get(world, "entities")), s->entities,
             "%s: world.json has every entity", cfg);
  for (int k = 0; k < 4; k++)
    total += (size_t)s->sizes[k];
  for (int k = 0; k < 4; k++) {
    char file[64];
    lr_dataset ds;
    lr_err err;
    tally t = {0, ""};
    size_t at[LR_SYNTH_CHOICES] = {0, 0, 0, 0}, n = (size_t)s->sizes[k];
    snprintf(file, sizeof file, "%s.jsonl", lr_synth_split_names[k]);
    if (n == 0) {
      tap_ok(!exists(dir, file), "%s: no %s for size 0", cfg, file);
      continue;
    }
    lr_err_init(&err);
    join(path, sizeof path, dir, file);
    if (!tap_is_int(lr_dataset_load(path, LR_DATASET_JSONL, NULL, &ds, &err), LR_OK,
                    "%s: %s loads as --format jsonl", cfg, file)) {
      tap_diag("%s", err.msg);
      continue;
    }
    tap_is_int((long long)ds.n, (long long)n, "%s: %s has %zu questions", cfg, file, n);
    if (k < 3)
      keys[k] = calloc(n, sizeof(char *));
    /* The raw lines again, for the extra fields (entity, attribute, mentions). */
    corpus_lines raw;
    memset(&raw, 0, sizeof raw);
    {
      char saved[4096];
      snprintf(saved, sizeof saved, "%s", file);
      raw.buf = read_all(dir, saved, NULL);
      size_t cap = 1;
      for (char *p = raw.buf; p && *p; p++)
        cap += *p == '\n';
      raw.line = calloc(cap, sizeof *raw.line);
      for (char *p = raw.buf, *nl; raw.line && p && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        raw.line[raw.n++] = p;
      }
    }
    for (size_t i = 0; i < ds.n; i++) {
      char line_key[256];
      size_t at_line = (size_t)ds.examples[i].line;
      json_t *q = at_line >= 1 && at_line <= raw.n ? json_loads(raw.line[at_line - 1], 0, &jerr)
                                                  : NULL;
      at[ds.examples[i].label]++;
      if (q == NULL) {
        flag(&t, "%s: %s does not parse", file, ds.examples[i].id);
        continue;
      }
      if (k < 3) {
        check_attribute_q(world, &c, q, &t, line_key, sizeof line_key);
        if (!key_in(keys[k], nkeys[k], line_key))
          keys[k][nkeys[k]++] = strdup(line_key);
      } else {
        check_mentor_q(world, q, &t);
      }
      json_decref(q);
    }
    free(raw.buf);
    free(raw.line);
    if ((size_t)snprintf(path, sizeof path, "%s: %s", cfg, file) >= sizeof path)
      path[0] = '\0';
    report(&t, k < 3 ? "answers stated in the corpus, distractors of the same attribute"
                     : "mentor questions have exactly one right answer",
           path);
    bool balanced = true;
    for (int p = 0; p < LR_SYNTH_CHOICES; p++)
      balanced &= at[p] == n / 4 || at[p] == n / 4 + 1;
    tap_ok(balanced, "%s: %s answer positions balanced (%zu %zu %zu %zu)", cfg, file, at[0], at[1],
           at[2], at[3]);
    lr_dataset_release(&ds);
  }
  /* Disjoint facts across train, validation and test; one question per fact when enough. */
  size_t facts = (size_t)s->entities * (size_t)s->facts, asked = 0;
  bool disjoint = true;
  for (int a = 0; a < 3; a++)
    for (int b = a + 1; b < 3; b++)
      for (size_t i = 0; i < nkeys[a]; i++)
        disjoint &= !key_in(keys[b], nkeys[b], keys[a][i]);
  tap_ok(disjoint, "%s: no fact in two of train/validation/test", cfg);
  for (int a = 0; a < 3; a++)
    asked += nkeys[a];
  if (total - (size_t)s->sizes[3] <= facts)
    tap_is_int((long long)asked, (long long)(total - (size_t)s->sizes[3]),
               "%s: enough facts: one question per fact", cfg);
  else
    tap_is_int((long long)asked, (long long)facts, "%s: too few facts: every fact asked", cfg);
  for (int a = 0; a < 3; a++) {
    for (size_t i = 0; i < nkeys[a]; i++)
      free(keys[a][i]);
    free(keys[a]);
  }
  free(c.buf);
  free(c.line);
  json_decref(world);
}

static void test_properties(void) {
  static const shape shapes[] = {
      {1, 60, 12, {400, 100, 200, 200}, 1, 6}, /* the defaults */
      {2, 60, 12, {400, 100, 200, 200}, 1, 6},
      {3, 20, 4, {30, 10, 20, 25}, 2, 4},
      {4, 5, 3, {40, 7, 9, 30}, 1, 1},          /* 15 facts for 56 questions */
      {5, 9, 1, {0, 3, 5, 0}, 3, 3},            /* empty train and ood */
      {123456789, 200, 6, {1000, 100, 100, 400}, 1, 10},
  };
  for (size_t i = 0; i < LR_ARRAY_LEN(shapes); i++)
    check_shape(&shapes[i], i);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void is_invalid(const lr_synth_opts *o, const char *needle, const char *what) {
  lr_err err;
  lr_err_init(&err);
  tap_is_int(lr_synth_check(o, &err), LR_EINVAL, "%s is refused", what);
  tap_like(err.msg, needle, "%s: the message names it", what);
}

static void test_errors(void) {
  lr_synth_opts o;
  lr_err err;
  char path[4096];
  lr_synth_opts_init(&o);
  o.entities = 4;
  is_invalid(&o, "--entities must be in [5, 2000], not 4", "4 entities");
  lr_synth_opts_init(&o);
  o.facts_per_entity = 13;
  is_invalid(&o, "--facts-per-entity must be in [1, 12]", "13 facts per entity");
  lr_synth_opts_init(&o);
  o.ood = -1;
  is_invalid(&o, "--ood must be in [0, 1000000], not -1", "a negative size");
  lr_synth_opts_init(&o);
  o.mentions_min = 5;
  o.mentions_max = 2;
  is_invalid(&o, "--mentions must be MIN..MAX with 1 <= MIN <= MAX <= 50, not 5..2",
             "mentions 5..2");
  lr_synth_opts_init(&o);
  o.mentions_min = 0;
  is_invalid(&o, "not 0..6", "mentions from 0");

  /* Runtime errors name the path. */
  lr_synth_opts_init(&o);
  join(path, sizeof path, scratch, "no/such/dir");
  lr_err_init(&err);
  tap_is_int(lr_synth_write(path, &o, NULL, &err), LR_EIO, "a missing parent is an I/O error");
  tap_is_str(err.file, path, "naming the directory");
  tap_like(err.msg, "cannot create the directory", "saying what failed");
  tmpdir_write(scratch, "a-file", "x\n");
  join(path, sizeof path, scratch, "a-file");
  lr_err_init(&err);
  tap_is_int(lr_synth_write(path, &o, NULL, &err), LR_EIO, "a file in the way is an I/O error");
  tap_like(err.msg, "exists and is not a directory", "saying so");

  /* A size of 0 removes an older file of that name; nothing is left half-written. */
  char dir[4096];
  lr_synth_opts_init(&o);
  o.seed = 9;
  gen("stale", &o, dir, sizeof dir);
  tap_ok(exists(dir, "ood.jsonl"), "ood.jsonl written");
  o.ood = 0;
  gen("stale", &o, dir, sizeof dir);
  tap_ok(!exists(dir, "ood.jsonl"), "--ood 0 removes the old ood.jsonl");
  bool tmp_left = false;
  for (size_t i = 0; i < LR_ARRAY_LEN(files); i++) {
    char tmp[256];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", files[i]) >= sizeof tmp)
      tmp[0] = '\0';
    tmp_left |= exists(dir, tmp);
  }
  tap_ok(!tmp_left, "no temporary file is left behind");
}

int main(void) {
  if (tmpdir_make(scratch, sizeof scratch, "synth") != 0)
    tap_skip_all("cannot make a scratch directory");
  test_determinism();
  test_pinned_digest();
  test_properties();
  test_errors();
  tmpdir_remove(scratch);
  return tap_done();
}
