/*
 * synth.h: a synthetic knowledge task, generated from a seed (`lorens synth`).
 *
 * A small made-up world (entities with pronounceable names, each with attributes drawn from
 * closed vocabularies, and a mentor relation between entities), a pretraining corpus that states
 * its facts in varied phrasings, each fact a random number of times, and multiple-choice question
 * sets about those facts in the generic jsonl format (docs/datasets.md): train, validation and
 * test about attributes, and an out-of-distribution set about the mentor relation.  Facts stated
 * only once are hard to learn, so a model pretrained on the corpus ends up above chance but far
 * from perfect: calibration matters.
 *
 * Everything random comes from lorens' portable RNG (src/base/rng.h), one stream per purpose drawn
 * with lr_seed_mix, and nothing is formatted from floating point: the same options give the same
 * bytes on every machine.  The world and the corpus depend only on the seed, the entity count,
 * the facts per entity and the mention range, so the question sets can be resized without
 * changing what a model was pretrained on.
 */
#ifndef LORENS_SYNTH_H
#define LORENS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Bumped whenever the same options would write different bytes. */
#define LR_SYNTH_VERSION 1

/* Bounds of the options, checked by lr_synth_check. */
#define LR_SYNTH_MIN_ENTITIES 5 /* a mentor question needs the entity, its mentor and 3 others */
#define LR_SYNTH_MAX_ENTITIES 2000
#define LR_SYNTH_MAX_QUESTIONS 1000000 /* per file */
#define LR_SYNTH_MAX_MENTIONS 50
#define LR_SYNTH_N_ATTRIBUTES 12 /* what lr_synth_n_attributes() returns, as a constant */
#define LR_SYNTH_CHOICES 4

typedef struct lr_synth_opts {
  uint64_t seed;
  long entities;         /* default 60 */
  long facts_per_entity; /* attributes each entity has, 1..lr_synth_n_attributes(); default all */
  long train, validation, test, ood; /* questions per file; 0 writes no file; 400/100/200/200 */
  long mentions_min, mentions_max;   /* times each fact is stated in the corpus; 1..6 */
} lr_synth_opts;

/* What lr_synth_write wrote, for the command's report. */
typedef struct lr_synth_summary {
  size_t facts;           /* attribute facts in the world (entities * facts_per_entity) */
  size_t relations;       /* mentor facts (entities - 1: the first of the lineage has none) */
  size_t corpus_lines;    /* all lines of corpus.txt */
  size_t fact_lines;      /* of which state an attribute */
  size_t relation_lines;  /* of which state a mentor */
  size_t filler_lines;    /* of which state nothing about anyone */
  size_t questions[4];    /* train, validation, test, ood */
  size_t split_facts[4];  /* distinct facts asked about in each (ood: mentor facts) */
} lr_synth_summary;

/* The split names, also the file names without ".jsonl": "train", "validation", "test", "ood". */
extern const char *const lr_synth_split_names[4];

/* The defaults above. */
void lr_synth_opts_init(lr_synth_opts *o);

/* How many attributes the world knows (the largest facts_per_entity). */
long lr_synth_n_attributes(void);

/* Checks that o can be generated: LR_EINVAL with a message naming the option otherwise. */
lr_status lr_synth_check(const lr_synth_opts *o, lr_err *err);

/*
 * Generates the task into dir (created if missing; its parent must exist): world.json,
 * corpus.txt, train.jsonl, validation.jsonl, test.jsonl, ood.jsonl and README.  Each file is
 * written to a temporary name and renamed into place, so a crash never leaves half a file; a
 * question file whose size is 0 is not written and an older one of that name is removed.
 *
 * Train, validation and test ask about disjoint facts.  When there are at least as many facts as
 * questions, each question has a fact of its own.  Otherwise the facts are divided between the
 * three files in proportion to their sizes (at least one each), and a file asks about some of its
 * facts more than once, each time with the next phrasing, other distractors and another answer
 * position.  sum may be NULL.
 */
lr_status lr_synth_write(const char *dir, const lr_synth_opts *o, lr_synth_summary *sum,
                         lr_err *err);

#endif /* LORENS_SYNTH_H */
