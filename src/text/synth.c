/*
 * synth.c: the synthetic knowledge task of `lorens synth` (see synth.h).
 *
 * The generator runs in three stages, each drawing from its own RNG streams so that a later stage
 * never shifts an earlier one: the world (names, attribute values, the mentor lineage, how often
 * each fact is stated), the corpus (templates, fillers, line order), and the question sets (which
 * facts each file asks about, phrasings, distractors, answer positions).  Everything is integers
 * and fixed strings; files are written through a temporary name and renamed into place.
 */
#include "compat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-util.h"
#include "base/rng.h"
#include "text/synth.h"

#define N_SAYS 4 /* corpus templates per fact kind */
#define N_ASKS 3 /* question templates per fact kind */
#define MAX_VALUES 8
#define NAME_MAX_LEN 16
#define LINE_MAX_LEN 256

/* ---- the vocabulary -------------------------------------------------------------------------- */

/* An attribute: its closed set of values, how the corpus states it ({e} the entity, {v} the
 * value) and how questions ask about it (phrasings that are not corpus templates). */
typedef struct attribute {
  const char *name;
  const char *values[MAX_VALUES];
  const char *says[N_SAYS];
  const char *asks[N_ASKS];
} attribute;

/* Values are unique across attributes, and none takes "an" where a template writes "a {v}". */
static const attribute attributes[] = {
    {"city",
     {"Tirel", "Varosk", "Meldun", "Quessa", "Orlan", "Ystra"},
     {"{e} lives in {v}.", "The city where {e} lives is {v}.", "{e}'s home is in {v}.",
      "{e} has a house in {v}."},
     {"In which city does {e} live?", "Which city is home to {e}?", "Where does {e} live?"}},
    {"profession",
     {"baker", "sailor", "weaver", "doctor", "farmer", "painter", "miner", "potter"},
     {"{e} is a {v}.", "{e} works as a {v}.", "By trade, {e} is a {v}.",
      "{e} earns a living as a {v}."},
     {"What is {e}'s profession?", "What does {e} do for a living?",
      "Which trade does {e} follow?"}},
    {"colour",
     {"red", "blue", "green", "yellow", "purple", "orange"},
     {"{e}'s favourite colour is {v}.", "{e} likes {v} more than any other colour.",
      "The colour {e} loves most is {v}.", "{e} always wears something {v}."},
     {"Which colour does {e} like best?", "What is the favourite colour of {e}?",
      "Which colour would {e} pick above all others?"}},
    {"pet",
     {"cat", "dog", "parrot", "tortoise", "rabbit", "goat"},
     {"{e} has a pet {v}.", "{e} keeps a {v} at home.", "The pet of {e} is a {v}.",
      "Every evening {e} feeds a pet {v}."},
     {"Which animal does {e} have as a pet?", "What kind of pet does {e} own?",
      "What animal lives with {e}?"}},
    {"instrument",
     {"flute", "drum", "harp", "violin", "trumpet", "lute"},
     {"{e} plays the {v}.", "The instrument {e} plays is the {v}.",
      "{e} practises the {v} every day.", "At festivals {e} performs on the {v}."},
     {"Which instrument does {e} play?", "What instrument can {e} play?",
      "On which instrument does {e} make music?"}},
    {"food",
     {"soup", "bread", "cheese", "plums", "rice", "honey", "beans"},
     {"{e}'s favourite food is {v}.", "{e} loves to eat {v}.", "Above all, {e} enjoys {v}.",
      "For dinner {e} always wants {v}."},
     {"What does {e} like to eat most?", "Which food is {e}'s favourite?",
      "Which dish would {e} choose first?"}},
    {"sport",
     {"tennis", "rowing", "archery", "fencing", "swimming", "hockey"},
     {"{e}'s sport is {v}.", "{e} spends weekends doing {v}.", "{e} is good at {v}.",
      "{e} competes in {v}."},
     {"Which sport does {e} practise?", "What sport does {e} do?",
      "In which sport does {e} take part?"}},
    {"language",
     {"Olvish", "Tarnic", "Melosi", "Dravic", "Kessan"},
     {"{e} speaks {v}.", "The language of {e} is {v}.", "{e} talks in {v} at home.",
      "{e} grew up speaking {v}."},
     {"Which language does {e} speak?", "What is {e}'s mother tongue?",
      "Which tongue is native to {e}?"}},
    {"season",
     {"spring", "summer", "autumn", "winter"},
     {"{e} was born in {v}.", "{e}'s birthday falls in {v}.", "{e} came into the world in {v}.",
      "Every {v}, {e} celebrates a birthday."},
     {"In which season was {e} born?", "When is {e}'s birthday?",
      "During which season was {e} born?"}},
    {"drink",
     {"tea", "milk", "cider", "cocoa", "lemonade"},
     {"{e} drinks {v} every morning.", "{e}'s favourite drink is {v}.",
      "A cup of {v} is what {e} likes best.", "{e} never says no to {v}."},
     {"What does {e} like to drink?", "Which drink does {e} prefer?",
      "What would {e} order to drink?"}},
    {"tree",
     {"birch", "willow", "pine", "maple", "cedar", "larch"},
     {"{e}'s favourite tree is the {v}.", "{e} planted a {v} in the garden.",
      "{e} likes to sit under a {v}.", "No tree pleases {e} more than the {v}."},
     {"Which tree does {e} like best?", "What kind of tree does {e} love?",
      "Which tree would {e} choose?"}},
    {"travel",
     {"boat", "bicycle", "horse", "wagon", "sled", "canoe"},
     {"{e} travels by {v}.", "{e} gets around by {v}.", "The way {e} travels is by {v}.",
      "To go anywhere, {e} takes the {v}."},
     {"How does {e} usually travel?", "What does {e} use to get from place to place?",
      "By what means does {e} go on journeys?"}},
};
#define N_ATTRS ((int)LR_ARRAY_LEN(attributes))
_Static_assert(LR_ARRAY_LEN(attributes) == LR_SYNTH_N_ATTRIBUTES, "the count in synth.h");

/* The mentor relation: {e} the student, {v} the mentor. */
static const char *const mentor_says[N_SAYS] = {
    "{v} is the mentor of {e}.", "{e} was taught by {v}.", "{e} learned everything from {v}.",
    "{e}'s mentor is {v}."};
static const char *const mentor_asks[N_ASKS] = {"Who is {e}'s mentor?", "Who taught {e}?",
                                                "Under whom did {e} study?"};
/* The other direction, asked only in ood.jsonl: {e} the mentor. */
static const char *const mentee_asks[N_ASKS] = {"Which of these people did {e} teach?",
                                                "Who is a student of {e}?",
                                                "Which of these people has {e} as a mentor?"};

/* Filler sentences: about nobody, and free of every name and value. */
static const char *const filler_subjects[] = {
    "The old bridge", "A cold wind",  "The morning market", "The harbour bell", "The lighthouse",
    "A grey cloud",   "The mill wheel", "The village square", "An old map",     "The north road"};
static const char *const filler_predicates[] = {
    "was quiet today.",          "creaked in the night.",       "could be heard from far away.",
    "looked different after the rain.", "was busy until noon.", "has stood there for a hundred years.",
    "needs repairs again.",      "was painted last year."};

/* Names are two or three consonant-vowel syllables with an optional final consonant. */
static const char name_onsets[] = "bdfgklmnprstvz";
static const char name_vowels[] = "aeiou";
static const char name_codas[] = "nlr";

const char *const lr_synth_split_names[4] = {"train", "validation", "test", "ood"};

/* RNG streams: one per purpose (lr_seed_mix(seed, STREAM_BASE + purpose)). */
enum {
  ST_NAMES = 1,
  ST_VALUES,
  ST_MENTORS,
  ST_MENTIONS,
  ST_TEMPLATES,
  ST_FILLERS,
  ST_ORDER,
  ST_SPLITS,
  ST_QUESTIONS, /* + split index */
};
#define STREAM_BASE UINT64_C(0x73796e7468000000) /* "synth" */

static void rng_for(lr_rng *r, const lr_synth_opts *o, int purpose) {
  lr_rng_seed(r, lr_seed_mix(o->seed, STREAM_BASE + (uint64_t)purpose));
}

static int below(lr_rng *r, size_t n) {
  return (int)lr_rng_below(r, (uint64_t)n);
}

static void shuffle_ints(lr_rng *r, int *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)lr_rng_below(r, (uint64_t)i);
    int t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

static int n_values(const attribute *a) {
  int n = 0;
  while (n < MAX_VALUES && a->values[n])
    n++;
  return n;
}

/* ---- options --------------------------------------------------------------------------------- */

void lr_synth_opts_init(lr_synth_opts *o) {
  memset(o, 0, sizeof *o);
  o->entities = 60;
  o->facts_per_entity = N_ATTRS;
  o->train = 400;
  o->validation = 100;
  o->test = 200;
  o->ood = 200;
  o->mentions_min = 1;
  o->mentions_max = 6;
}

long lr_synth_n_attributes(void) {
  return N_ATTRS;
}

lr_status lr_synth_check(const lr_synth_opts *o, lr_err *err) {
  const long sizes[4] = {o->train, o->validation, o->test, o->ood};
  if (o->entities < LR_SYNTH_MIN_ENTITIES || o->entities > LR_SYNTH_MAX_ENTITIES)
    return lr_fail(err, LR_EINVAL,
                   "--entities must be in [%d, %d], not %ld (a mentor question needs the entity, "
                   "its mentor and 3 others)",
                   LR_SYNTH_MIN_ENTITIES, LR_SYNTH_MAX_ENTITIES, o->entities);
  if (o->facts_per_entity < 1 || o->facts_per_entity > N_ATTRS)
    return lr_fail(err, LR_EINVAL,
                   "--facts-per-entity must be in [1, %d] (the world has %d attributes), not %ld",
                   N_ATTRS, N_ATTRS, o->facts_per_entity);
  for (int s = 0; s < 4; s++)
    if (sizes[s] < 0 || sizes[s] > LR_SYNTH_MAX_QUESTIONS)
      return lr_fail(err, LR_EINVAL, "--%s must be in [0, %d], not %ld", lr_synth_split_names[s],
                     LR_SYNTH_MAX_QUESTIONS, sizes[s]);
  if (o->mentions_min < 1 || o->mentions_max > LR_SYNTH_MAX_MENTIONS ||
      o->mentions_min > o->mentions_max)
    return lr_fail(err, LR_EINVAL, "--mentions must be MIN..MAX with 1 <= MIN <= MAX <= %d, not "
                   "%ld..%ld", LR_SYNTH_MAX_MENTIONS, o->mentions_min, o->mentions_max);
  return LR_OK;
}

/* ---- the world ------------------------------------------------------------------------------- */

typedef struct entity {
  char name[NAME_MAX_LEN];
  int value[N_ATTRS];    /* index into the attribute's values; -1: the entity lacks it */
  int mentions[N_ATTRS]; /* times the corpus states it */
  int mentor;            /* entity index; -1 for the first of the lineage */
  int mentor_mentions;
} entity;

typedef struct fact {
  int entity, attr;
} fact;

typedef struct world {
  const lr_synth_opts *o;
  entity *ents;
  size_t n;
  fact *facts; /* entity by entity, attributes in table order */
  size_t n_facts;
} world;

static bool same_text_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if ((*a | 0x20) != (*b | 0x20))
      return false;
  return *a == *b;
}

static bool name_taken(const world *w, size_t upto, const char *name) {
  for (int a = 0; a < N_ATTRS; a++)
    for (int v = 0; v < n_values(&attributes[a]); v++)
      if (same_text_nocase(name, attributes[a].values[v]))
        return true;
  for (size_t i = 0; i < upto; i++)
    if (strcmp(w->ents[i].name, name) == 0)
      return true;
  return false;
}

static void draw_name(lr_rng *r, char *out) {
  int syllables = 2 + below(r, 2), k = 0;
  for (int s = 0; s < syllables; s++) {
    out[k++] = name_onsets[below(r, sizeof name_onsets - 1)];
    out[k++] = name_vowels[below(r, sizeof name_vowels - 1)];
  }
  if (below(r, 3) == 0)
    out[k++] = name_codas[below(r, sizeof name_codas - 1)];
  out[k] = '\0';
  out[0] = (char)(out[0] - 'a' + 'A');
}

static lr_status make_names(world *w, lr_err *err) {
  lr_rng r;
  rng_for(&r, w->o, ST_NAMES);
  for (size_t i = 0; i < w->n; i++) {
    /* 14 * 5 syllables give about 20 million names; a long run of clashes means a bug. */
    int tries = 0;
    do {
      if (++tries > 100000)
        return lr_fail(err, LR_EINVAL, "cannot find %zu distinct names", w->n);
      draw_name(&r, w->ents[i].name);
    } while (name_taken(w, i, w->ents[i].name));
  }
  return LR_OK;
}

/* Each entity gets facts_per_entity attributes, chosen at random, with uniform values. */
static void make_values(world *w) {
  lr_rng r;
  int order[N_ATTRS];
  rng_for(&r, w->o, ST_VALUES);
  for (size_t i = 0; i < w->n; i++) {
    entity *e = &w->ents[i];
    for (int a = 0; a < N_ATTRS; a++) {
      order[a] = a;
      e->value[a] = -1;
    }
    shuffle_ints(&r, order, N_ATTRS);
    for (long k = 0; k < w->o->facts_per_entity; k++)
      e->value[order[k]] = 0; /* marked; drawn below in table order */
    for (int a = 0; a < N_ATTRS; a++)
      if (e->value[a] == 0)
        e->value[a] = below(&r, (size_t)n_values(&attributes[a]));
  }
}

/* A lineage: in a random order, each entity's mentor is one of those before it. */
static lr_status make_mentors(world *w, lr_err *err) {
  lr_rng r;
  int *order = calloc(w->n ? w->n : 1, sizeof *order);
  if (order == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  rng_for(&r, w->o, ST_MENTORS);
  for (size_t i = 0; i < w->n; i++)
    order[i] = (int)i;
  shuffle_ints(&r, order, w->n);
  w->ents[order[0]].mentor = -1;
  for (size_t i = 1; i < w->n; i++)
    w->ents[order[i]].mentor = order[below(&r, i)];
  free(order);
  return LR_OK;
}

static int draw_mentions(lr_rng *r, const lr_synth_opts *o) {
  return (int)(o->mentions_min + below(r, (size_t)(o->mentions_max - o->mentions_min + 1)));
}

static void make_mentions(world *w) {
  lr_rng r;
  rng_for(&r, w->o, ST_MENTIONS);
  for (size_t i = 0; i < w->n; i++) {
    entity *e = &w->ents[i];
    for (int a = 0; a < N_ATTRS; a++)
      e->mentions[a] = e->value[a] >= 0 ? draw_mentions(&r, w->o) : 0;
    e->mentor_mentions = e->mentor >= 0 ? draw_mentions(&r, w->o) : 0;
  }
}

static lr_status world_make(world *w, const lr_synth_opts *o, lr_err *err) {
  lr_status rc;
  memset(w, 0, sizeof *w);
  w->o = o;
  w->n = (size_t)o->entities;
  w->n_facts = w->n * (size_t)o->facts_per_entity;
  w->ents = calloc(w->n, sizeof *w->ents);
  w->facts = calloc(w->n_facts, sizeof *w->facts);
  if (w->ents == NULL || w->facts == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  if ((rc = make_names(w, err)) != LR_OK || (rc = make_mentors(w, err)) != LR_OK)
    return rc;
  make_values(w);
  make_mentions(w);
  for (size_t i = 0, k = 0; i < w->n; i++)
    for (int a = 0; a < N_ATTRS; a++)
      if (w->ents[i].value[a] >= 0)
        w->facts[k++] = (fact){(int)i, a};
  return LR_OK;
}

static void world_release(world *w) {
  free(w->ents);
  free(w->facts);
  memset(w, 0, sizeof *w);
}

/* ---- text ------------------------------------------------------------------------------------ */

/* Expands {e} and {v} in tmpl into out (LINE_MAX_LEN bytes; the parts are short and fixed). */
static void expand(char *out, const char *tmpl, const char *e, const char *v) {
  size_t k = 0;
  for (const char *p = tmpl; *p && k + 1 < LINE_MAX_LEN;) {
    const char *part = NULL;
    if (strncmp(p, "{e}", 3) == 0)
      part = e;
    else if (strncmp(p, "{v}", 3) == 0)
      part = v;
    if (part) {
      for (; *part && k + 1 < LINE_MAX_LEN; part++)
        out[k++] = *part;
      p += 3;
    } else {
      out[k++] = *p++;
    }
  }
  out[k] = '\0';
}

/* A JSON string: the text here is plain ASCII, but escape as JSON requires anyway. */
static void put_json_str(FILE *fp, const char *s) {
  fputc('"', fp);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(fp, "\\%c", c);
    else if (c < 0x20)
      fprintf(fp, "\\u%04x", c);
    else
      fputc(c, fp);
  }
  fputc('"', fp);
}

/* ---- atomic files ---------------------------------------------------------------------------- */


static char *join_path(const char *dir, const char *name, const char *suffix) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s%s", dir, name, suffix) < 0)
    return NULL;
  return p;
}

/* Writes dir/name atomically (file-util.h). */
static lr_status write_atomic(const char *dir, const char *name, lr_emit_fn emit, const void *ctx,
                              lr_err *err) {
  char *path = join_path(dir, name, "");
  lr_status rc = path ? lr_write_file_atomic(path, emit, ctx, err)
                      : lr_fail(err, LR_ENOMEM, "out of memory");
  free(path);
  return rc;
}

static lr_status remove_stale(const char *dir, const char *name, lr_err *err) {
  char *path = join_path(dir, name, "");
  lr_status rc = LR_OK;
  if (path == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  if (unlink(path) != 0 && errno != ENOENT)
    rc = lr_fail_at(err, LR_EIO, path, 0, 0, "cannot remove the old file: %s", strerror(errno));
  free(path);
  return rc;
}

/* ---- world.json ------------------------------------------------------------------------------ */

static void emit_world(FILE *fp, const void *ctx) {
  const world *w = ctx;
  const lr_synth_opts *o = w->o;
  fprintf(fp, "{\n  \"generator\": \"lorens synth\",\n  \"version\": %d,\n", LR_SYNTH_VERSION);
  fprintf(fp, "  \"seed\": %" PRIu64 ",\n  \"entities\": %zu,\n  \"facts_per_entity\": %ld,\n",
          o->seed, w->n, o->facts_per_entity);
  fprintf(fp, "  \"mentions\": [%ld, %ld],\n  \"attributes\": [\n", o->mentions_min,
          o->mentions_max);
  for (int a = 0; a < N_ATTRS; a++) {
    fprintf(fp, "    {\"name\": ");
    put_json_str(fp, attributes[a].name);
    fprintf(fp, ", \"values\": [");
    for (int v = 0; v < n_values(&attributes[a]); v++) {
      fprintf(fp, "%s", v ? ", " : "");
      put_json_str(fp, attributes[a].values[v]);
    }
    fprintf(fp, "]}%s\n", a + 1 < N_ATTRS ? "," : "");
  }
  fprintf(fp, "  ],\n  \"relations\": [{\"name\": \"mentor\", \"about\": \"the mentor of an entity "
              "is another entity; the first of the lineage has none\"}],\n  \"entities\": [\n");
  for (size_t i = 0; i < w->n; i++) {
    const entity *e = &w->ents[i];
    int left = (int)o->facts_per_entity;
    fprintf(fp, "    {\n      \"name\": ");
    put_json_str(fp, e->name);
    fprintf(fp, ",\n      \"mentor\": ");
    if (e->mentor < 0) {
      fprintf(fp, "null");
    } else {
      fprintf(fp, "{\"name\": ");
      put_json_str(fp, w->ents[e->mentor].name);
      fprintf(fp, ", \"mentions\": %d}", e->mentor_mentions);
    }
    fprintf(fp, ",\n      \"attributes\": {\n");
    for (int a = 0; a < N_ATTRS; a++) {
      if (e->value[a] < 0)
        continue;
      fprintf(fp, "        ");
      put_json_str(fp, attributes[a].name);
      fprintf(fp, ": {\"value\": ");
      put_json_str(fp, attributes[a].values[e->value[a]]);
      fprintf(fp, ", \"mentions\": %d}%s\n", e->mentions[a], --left ? "," : "");
    }
    fprintf(fp, "      }\n    }%s\n", i + 1 < w->n ? "," : "");
  }
  fprintf(fp, "  ]\n}\n");
}

/* ---- corpus.txt ------------------------------------------------------------------------------ */

typedef struct corpus {
  char **lines;
  size_t n;
} corpus;

static lr_status add_line(corpus *c, const char *text, lr_err *err) {
  if ((c->lines[c->n] = strdup(text)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  c->n++;
  return LR_OK;
}

/* States one fact `mentions` times, cycling through the templates in a random order so that
 * repeats use other phrasings first. */
static lr_status add_fact_lines(corpus *c, lr_rng *r, const char *const *says, const char *e,
                                const char *v, int mentions, lr_err *err) {
  int order[N_SAYS];
  char line[LINE_MAX_LEN];
  lr_status rc = LR_OK;
  for (int t = 0; t < N_SAYS; t++)
    order[t] = t;
  shuffle_ints(r, order, N_SAYS);
  for (int m = 0; m < mentions && rc == LR_OK; m++) {
    expand(line, says[order[m % N_SAYS]], e, v);
    rc = add_line(c, line, err);
  }
  return rc;
}

static lr_status corpus_make(corpus *c, const world *w, lr_synth_summary *sum, lr_err *err) {
  lr_rng tr, fr, orr;
  size_t n_fill, stated = 0;
  lr_status rc = LR_OK;
  int *order = NULL;
  char **shuffled = NULL;
  for (size_t i = 0; i < w->n; i++) {
    for (int a = 0; a < N_ATTRS; a++)
      sum->fact_lines += (size_t)w->ents[i].mentions[a];
    sum->relation_lines += (size_t)w->ents[i].mentor_mentions;
  }
  stated = sum->fact_lines + sum->relation_lines;
  n_fill = stated / 10 > 0 ? stated / 10 : 1; /* one line in eleven says nothing */
  sum->filler_lines = n_fill;
  c->lines = calloc(stated + n_fill, sizeof *c->lines);
  order = malloc((stated + n_fill) * sizeof *order);
  shuffled = malloc((stated + n_fill) * sizeof *shuffled);
  if (c->lines == NULL || order == NULL || shuffled == NULL) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  rng_for(&tr, w->o, ST_TEMPLATES);
  rng_for(&fr, w->o, ST_FILLERS);
  rng_for(&orr, w->o, ST_ORDER);
  for (size_t i = 0; i < w->n && rc == LR_OK; i++) {
    const entity *e = &w->ents[i];
    for (int a = 0; a < N_ATTRS && rc == LR_OK; a++)
      if (e->value[a] >= 0)
        rc = add_fact_lines(c, &tr, attributes[a].says, e->name,
                            attributes[a].values[e->value[a]], e->mentions[a], err);
    if (e->mentor >= 0 && rc == LR_OK)
      rc = add_fact_lines(c, &tr, mentor_says, e->name, w->ents[e->mentor].name,
                          e->mentor_mentions, err);
  }
  for (size_t k = 0; k < n_fill && rc == LR_OK; k++) {
    char line[LINE_MAX_LEN];
    snprintf(line, sizeof line, "%s %s",
             filler_subjects[below(&fr, LR_ARRAY_LEN(filler_subjects))],
             filler_predicates[below(&fr, LR_ARRAY_LEN(filler_predicates))]);
    rc = add_line(c, line, err);
  }
  if (rc == LR_OK) {
    for (size_t k = 0; k < c->n; k++)
      order[k] = (int)k;
    shuffle_ints(&orr, order, c->n);
    for (size_t k = 0; k < c->n; k++)
      shuffled[k] = c->lines[order[k]];
    memcpy(c->lines, shuffled, c->n * sizeof *shuffled);
    sum->corpus_lines = c->n;
  }
out:
  free(order);
  free(shuffled);
  return rc;
}

static void corpus_release(corpus *c) {
  for (size_t k = 0; k < c->n; k++)
    free(c->lines[k]);
  free(c->lines);
  memset(c, 0, sizeof *c);
}

static void emit_corpus(FILE *fp, const void *ctx) {
  const corpus *c = ctx;
  for (size_t k = 0; k < c->n; k++)
    fprintf(fp, "%s\n", c->lines[k]);
}

/* ---- questions ------------------------------------------------------------------------------- */

enum { ABOUT_MENTOR = -1, ABOUT_MENTEE = -2 };

typedef struct question {
  int entity;   /* asked about: the student (attributes, mentor) or the mentor (mentee) */
  int student;  /* mentor questions: whose mentor fact it is */
  int about;    /* attribute index, ABOUT_MENTOR or ABOUT_MENTEE */
  int ask;      /* question template */
  int choice[LR_SYNTH_CHOICES]; /* value indices (attributes) or entity indices */
  int answer;
  int mentions; /* how often the corpus states the fact */
} question;

typedef struct qset {
  const world *w;
  int split;
  question *q;
  size_t n;
} qset;

/* Fills q->choice: the right one at `pos`, the others drawn from candidates[0..n_cand) (which
 * holds no right answer) without repeats, in the order drawn. */
static void place_choices(lr_rng *r, question *q, int right, int pos, int *cand, size_t n_cand) {
  size_t k = 0;
  q->answer = pos;
  for (int c = 0; c < LR_SYNTH_CHOICES; c++) {
    if (c == pos) {
      q->choice[c] = right;
      continue;
    }
    /* A partial Fisher-Yates over the candidates. */
    size_t j = k + (size_t)lr_rng_below(r, (uint64_t)(n_cand - k));
    int t = cand[k];
    cand[k] = cand[j];
    cand[j] = t;
    q->choice[c] = cand[k++];
  }
}

/* Answer positions 0..3 in equal numbers (the first n % 4 once more), shuffled. */
static int *balanced_positions(lr_rng *r, size_t n) {
  int *pos = malloc((n ? n : 1) * sizeof *pos);
  if (pos == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    pos[i] = (int)(i % LR_SYNTH_CHOICES);
  shuffle_ints(r, pos, n);
  return pos;
}

/* How many facts each of train, validation and test gets: one per question when there are
 * enough, else in proportion to the sizes by largest remainders (at least one each). */
static void divide_facts(size_t n_facts, const size_t want[3], size_t got[3]) {
  size_t total = want[0] + want[1] + want[2], given = 0;
  if (total <= n_facts) {
    memcpy(got, want, 3 * sizeof *got);
    return;
  }
  uint64_t rem[3];
  for (int s = 0; s < 3; s++) {
    /* sizes <= 1e6 and facts <= 24000: the products fit in 64 bits */
    got[s] = (size_t)((uint64_t)want[s] * n_facts / total);
    rem[s] = (uint64_t)want[s] * n_facts % total;
    given += got[s];
  }
  while (given < n_facts) {
    int best = 0;
    for (int s = 1; s < 3; s++)
      if (rem[s] > rem[best])
        best = s;
    got[best]++;
    rem[best] = 0;
    given++;
  }
  for (int s = 0; s < 3; s++) {
    if (want[s] == 0 || got[s] > 0)
      continue;
    int most = 0;
    for (int t = 1; t < 3; t++)
      if (got[t] > got[most])
        most = t;
    got[most]--;
    got[s] = 1;
  }
}

/* Attribute questions of one split about pool[0..n_pool): question i asks about pool[i % n_pool],
 * the r-th time (r = i / n_pool) with the fact's first phrasing + r. */
static lr_status ask_attributes(qset *qs, const fact *pool, size_t n_pool, lr_err *err) {
  const world *w = qs->w;
  lr_rng r;
  int *pos, *first = calloc(n_pool ? n_pool : 1, sizeof *first), cand[MAX_VALUES];
  rng_for(&r, w->o, ST_QUESTIONS + qs->split);
  pos = balanced_positions(&r, qs->n);
  if (pos == NULL || first == NULL) {
    free(pos);
    free(first);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < qs->n; i++) {
    const fact *f = &pool[i % n_pool];
    const entity *e = &w->ents[f->entity];
    const attribute *a = &attributes[f->attr];
    question *q = &qs->q[i];
    size_t n_cand = 0, round = i / n_pool;
    if (round == 0)
      first[i] = below(&r, N_ASKS);
    q->entity = f->entity;
    q->about = f->attr;
    q->ask = (int)((size_t)first[i % n_pool] + round) % N_ASKS;
    q->mentions = e->mentions[f->attr];
    for (int v = 0; v < n_values(a); v++)
      if (v != e->value[f->attr])
        cand[n_cand++] = v;
    place_choices(&r, q, e->value[f->attr], pos[i], cand, n_cand);
  }
  free(pos);
  free(first);
  return LR_OK;
}

/* An ood item: a mentor fact, asked forwards (who taught e?) or backwards (whom did m teach?). */
typedef struct ood_item {
  int student, about;
} ood_item;

static size_t n_mentees(const world *w, int m) {
  size_t k = 0;
  for (size_t i = 0; i < w->n; i++)
    k += w->ents[i].mentor == m;
  return k;
}

static lr_status ask_mentors(qset *qs, lr_err *err) {
  const world *w = qs->w;
  lr_rng r;
  size_t n_items = 0;
  ood_item *items = malloc(2 * w->n * sizeof *items);
  int *cand = malloc(w->n * sizeof *cand), *pos = NULL, *first = NULL;
  lr_status rc = LR_OK;
  rng_for(&r, w->o, ST_QUESTIONS + qs->split);
  for (size_t i = 0; items && i < w->n; i++) {
    int m = w->ents[i].mentor;
    if (m < 0)
      continue;
    items[n_items++] = (ood_item){(int)i, ABOUT_MENTOR};
    /* Backwards needs 3 people who are neither the mentor nor one of its students. */
    if (w->n - 1 - n_mentees(w, m) >= LR_SYNTH_CHOICES - 1)
      items[n_items++] = (ood_item){(int)i, ABOUT_MENTEE};
  }
  pos = balanced_positions(&r, qs->n);
  first = calloc(n_items ? n_items : 1, sizeof *first);
  if (items == NULL || cand == NULL || pos == NULL || first == NULL) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  /* The order of the items, then the same cycling as the attribute questions. */
  for (size_t k = n_items; k > 1; k--) {
    size_t j = (size_t)lr_rng_below(&r, (uint64_t)k);
    ood_item t = items[k - 1];
    items[k - 1] = items[j];
    items[j] = t;
  }
  for (size_t i = 0; i < qs->n; i++) {
    const ood_item *it = &items[i % n_items];
    const entity *s = &w->ents[it->student];
    question *q = &qs->q[i];
    size_t n_cand = 0, round = i / n_items;
    if (round == 0)
      first[i] = below(&r, N_ASKS);
    q->about = it->about;
    q->ask = (int)((size_t)first[i % n_items] + round) % N_ASKS;
    q->mentions = s->mentor_mentions;
    q->entity = it->about == ABOUT_MENTOR ? it->student : s->mentor;
    q->student = it->student;
    for (size_t x = 0; x < w->n; x++) {
      bool ok = it->about == ABOUT_MENTOR
                    ? (int)x != it->student && (int)x != s->mentor
                    : (int)x != s->mentor && w->ents[x].mentor != s->mentor;
      if (ok)
        cand[n_cand++] = (int)x;
    }
    place_choices(&r, q, it->about == ABOUT_MENTOR ? s->mentor : it->student, pos[i], cand,
                  n_cand);
  }
out:
  free(items);
  free(cand);
  free(pos);
  free(first);
  return rc;
}

static int digits(size_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

static void emit_questions(FILE *fp, const void *ctx) {
  const qset *qs = ctx;
  const world *w = qs->w;
  int width = digits(qs->n);
  char text[LINE_MAX_LEN];
  for (size_t i = 0; i < qs->n; i++) {
    const question *q = &qs->q[i];
    const char *name = w->ents[q->entity].name;
    bool attr = q->about >= 0;
    const char *tmpl = attr ? attributes[q->about].asks[q->ask]
                       : q->about == ABOUT_MENTOR ? mentor_asks[q->ask]
                                                  : mentee_asks[q->ask];
    expand(text, tmpl, name, "");
    fprintf(fp, "{\"id\": \"%s-%0*zu\", \"question\": ", lr_synth_split_names[qs->split], width,
            i + 1);
    put_json_str(fp, text);
    fprintf(fp, ", \"choices\": [");
    for (int c = 0; c < LR_SYNTH_CHOICES; c++) {
      fprintf(fp, "%s", c ? ", " : "");
      put_json_str(fp, attr ? attributes[q->about].values[q->choice[c]]
                            : w->ents[q->choice[c]].name);
    }
    fprintf(fp, "], \"answer\": %d, \"entity\": ", q->answer);
    put_json_str(fp, name);
    fputs(attr ? ", \"attribute\": " : ", \"relation\": ", fp);
    put_json_str(fp, attr ? attributes[q->about].name
                          : q->about == ABOUT_MENTOR ? "mentor" : "mentee");
    fprintf(fp, ", \"mentions\": %d}\n", q->mentions);
  }
}

/* Distinct facts a set asks about (for the summary): attribute facts by (entity, attribute),
 * mentor facts by their student, whichever direction they are asked in. */
static lr_status count_facts(const qset *qs, size_t *out, lr_err *err) {
  const world *w = qs->w;
  bool *seen = calloc(w->n * N_ATTRS, sizeof *seen);
  if (seen == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  *out = 0;
  for (size_t i = 0; i < qs->n; i++) {
    const question *q = &qs->q[i];
    size_t key = q->about >= 0 ? (size_t)q->entity * N_ATTRS + (size_t)q->about
                               : (size_t)q->student;
    *out += !seen[key];
    seen[key] = true;
  }
  free(seen);
  return LR_OK;
}

/* ---- README ---------------------------------------------------------------------------------- */

typedef struct readme_ctx {
  const world *w;
  const lr_synth_summary *sum;
} readme_ctx;

static void emit_readme(FILE *fp, const void *ctx) {
  const readme_ctx *rc = ctx;
  const lr_synth_opts *o = rc->w->o;
  const lr_synth_summary *s = rc->sum;
  fprintf(fp,
          "A synthetic knowledge task, made by lorens synth (generator version %d):\n\n"
          "  lorens synth --seed %" PRIu64 " --out DIR --entities %ld --facts-per-entity %ld \\\n"
          "    --train %ld --validation %ld --test %ld --ood %ld --mentions %ld..%ld\n\n"
          "The same command writes the same bytes on every machine.  world.json and corpus.txt\n"
          "depend only on --seed, --entities, --facts-per-entity and --mentions.\n\n",
          LR_SYNTH_VERSION, o->seed, o->entities, o->facts_per_entity, o->train, o->validation,
          o->test, o->ood, o->mentions_min, o->mentions_max);
  fprintf(fp,
          "world.json        the made-up world: %zu entities, each with %ld of the %d attributes\n"
          "                  (%zu facts; values and how often the corpus states each), and\n"
          "                  each one's mentor (%zu mentor facts)\n",
          rc->w->n, o->facts_per_entity, N_ATTRS, s->facts, s->relations);
  fprintf(fp,
          "corpus.txt        %zu sentences for pretraining, one per line, shuffled: %zu state an\n"
          "                  attribute, %zu a mentor, %zu are fillers about nobody; each fact is\n"
          "                  stated %ld to %ld times, in different phrasings\n",
          s->corpus_lines, s->fact_lines, s->relation_lines, s->filler_lines, o->mentions_min,
          o->mentions_max);
  for (int k = 0; k < 4; k++) {
    char file[32];
    snprintf(file, sizeof file, "%s.jsonl", lr_synth_split_names[k]);
    if (s->questions[k] == 0)
      fprintf(fp, "%-17s not written (--%s 0)\n", file, lr_synth_split_names[k]);
    else
      fprintf(fp, "%-17s %zu questions about %zu %s\n", file, s->questions[k], s->split_facts[k],
              k < 3 ? "attribute facts" : "mentor facts (out of distribution)");
  }
  fprintf(fp,
          "\nThe question files are in lorens' generic jsonl format (docs/datasets.md): id,\n"
          "question, %d choices, answer (the index of the right choice), plus entity, attribute\n"
          "or relation, and mentions (how often the corpus states the fact).  Distractors are\n"
          "other values of the same attribute (other people for the mentor questions); answer\n"
          "positions are balanced.  Questions are phrased unlike the corpus sentences.  Train,\n"
          "validation and test ask about disjoint facts; when there are fewer facts than\n"
          "questions, each file asks about some of its own facts again in another phrasing.\n"
          "Load one with: lorens data DIR/test.jsonl --format jsonl\n",
          LR_SYNTH_CHOICES);
}

/* ---- the generator --------------------------------------------------------------------------- */

static lr_status make_questions(const world *w, qset sets[4], lr_synth_summary *sum,
                                lr_err *err) {
  const lr_synth_opts *o = w->o;
  const size_t want[3] = {(size_t)o->train, (size_t)o->validation, (size_t)o->test};
  size_t got[3], start = 0;
  lr_rng r;
  int *order = malloc(w->n_facts * sizeof *order);
  fact *shuffled = malloc(w->n_facts * sizeof *shuffled);
  lr_status rc = LR_OK;
  if (order == NULL || shuffled == NULL) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  rng_for(&r, o, ST_SPLITS);
  for (size_t k = 0; k < w->n_facts; k++)
    order[k] = (int)k;
  shuffle_ints(&r, order, w->n_facts);
  for (size_t k = 0; k < w->n_facts; k++)
    shuffled[k] = w->facts[order[k]];
  divide_facts(w->n_facts, want, got);
  for (int s = 0; s < 4 && rc == LR_OK; s++) {
    sets[s].w = w;
    sets[s].split = s;
    sets[s].n = s < 3 ? want[s] : (size_t)o->ood;
    if (sets[s].n == 0)
      continue;
    if ((sets[s].q = calloc(sets[s].n, sizeof *sets[s].q)) == NULL) {
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      break;
    }
    rc = s < 3 ? ask_attributes(&sets[s], shuffled + start, got[s], err)
               : ask_mentors(&sets[s], err);
    if (s < 3)
      start += got[s];
    sum->questions[s] = sets[s].n;
    if (rc == LR_OK)
      rc = count_facts(&sets[s], &sum->split_facts[s], err);
  }
out:
  free(order);
  free(shuffled);
  return rc;
}

lr_status lr_synth_write(const char *dir, const lr_synth_opts *o, lr_synth_summary *sum,
                         lr_err *err) {
  world w;
  corpus c = {NULL, 0};
  qset sets[4];
  lr_synth_summary local;
  lr_status rc;
  char file[32];
  if (sum == NULL)
    sum = &local;
  memset(sum, 0, sizeof *sum);
  memset(sets, 0, sizeof sets);
  memset(&w, 0, sizeof w);
  if ((rc = lr_synth_check(o, err)) != LR_OK || (rc = lr_make_dir(dir, err)) != LR_OK)
    return rc;
  if ((rc = world_make(&w, o, err)) != LR_OK)
    goto out;
  sum->facts = w.n_facts;
  sum->relations = w.n - 1;
  if ((rc = corpus_make(&c, &w, sum, err)) != LR_OK ||
      (rc = make_questions(&w, sets, sum, err)) != LR_OK)
    goto out;
  if ((rc = write_atomic(dir, "world.json", emit_world, &w, err)) != LR_OK ||
      (rc = write_atomic(dir, "corpus.txt", emit_corpus, &c, err)) != LR_OK)
    goto out;
  for (int s = 0; s < 4 && rc == LR_OK; s++) {
    snprintf(file, sizeof file, "%s.jsonl", lr_synth_split_names[s]);
    rc = sets[s].n ? write_atomic(dir, file, emit_questions, &sets[s], err)
                   : remove_stale(dir, file, err);
  }
  if (rc == LR_OK) {
    readme_ctx rctx = {&w, sum};
    rc = write_atomic(dir, "README", emit_readme, &rctx, err);
  }
out:
  for (int s = 0; s < 4; s++)
    free(sets[s].q);
  corpus_release(&c);
  world_release(&w);
  return rc;
}
