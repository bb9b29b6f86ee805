/*
 * cmd-synth.c: `lorens synth --seed S --out DIR [...]`: generates the synthetic knowledge task
 * (src/text/synth.h): a made-up world, a pretraining corpus about it and multiple-choice question sets
 * in the generic jsonl format, the same bytes for the same arguments on every machine.
 */
#include "compat.h"

#include <stddef.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "text/synth.h"

typedef struct options {
  lr_synth_opts synth;
  const char *out, *mentions;
  long seed;
} options;

static const lr_option option_table[] = {
    {LR_ARG_INT(options, seed, "seed", 0, "S", 0, (double)LONG_MAX, "the world's seed"),
     .required = true},
    {LR_ARG_STRING(options, out, "out", 0, "DIR", "the output directory"), .required = true},
    {LR_ARG_INT(options, synth.entities, "entities", 0, "N", LR_SYNTH_MIN_ENTITIES,
                LR_SYNTH_MAX_ENTITIES, "people in the world (default 60)")},
    {LR_ARG_INT(options, synth.facts_per_entity, "facts-per-entity", 0, "K", 1,
                LR_SYNTH_N_ATTRIBUTES, "attributes each has (default 12)")},
    {LR_ARG_INT(options, synth.train, "train", 0, "N", 0, LR_SYNTH_MAX_QUESTIONS,
                "questions in train.jsonl (default 400)")},
    {LR_ARG_INT(options, synth.validation, "validation", 0, "N", 0, LR_SYNTH_MAX_QUESTIONS,
                "questions in validation.jsonl (default 100)")},
    {LR_ARG_INT(options, synth.test, "test", 0, "N", 0, LR_SYNTH_MAX_QUESTIONS,
                "questions in test.jsonl (default 200)")},
    {LR_ARG_INT(options, synth.ood, "ood", 0, "N", 0, LR_SYNTH_MAX_QUESTIONS,
                "questions in ood.jsonl (default 200); 0 writes no file")},
    {LR_ARG_STRING(options, mentions, "mentions", 0, "MIN..MAX",
                   "times the corpus states each fact, 1 to 50 (default\n1..6; N means N..N)")},
    LR_ARG_END,
};

/* "MIN..MAX", or "N" for N..N. */
static bool parse_mentions(const char *arg, lr_synth_opts *o, char *msg, size_t msg_len) {
  const char *dots = strstr(arg, "..");
  char lo[32];
  size_t n = dots ? (size_t)(dots - arg) : strlen(arg);
  long max = LR_SYNTH_MAX_MENTIONS;
  if (n == 0 || n >= sizeof lo) {
    snprintf(msg, msg_len, "--mentions must be MIN..MAX (like 1..6), not '%s'", arg);
    return false;
  }
  memcpy(lo, arg, n);
  lo[n] = '\0';
  if (!lr_parse_int("--mentions MIN", lo, 1, max, &o->mentions_min, msg, msg_len))
    return false;
  if (dots == NULL) {
    o->mentions_max = o->mentions_min;
    return true;
  }
  return lr_parse_int("--mentions MAX", dots + 2, 1, max, &o->mentions_max, msg, msg_len);
}

static int parse_options(int argc, char **argv, options *o) {
  char msg[256];
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_synth, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  o->synth.seed = (uint64_t)o->seed;
  if (o->mentions && !parse_mentions(o->mentions, &o->synth, msg, sizeof msg))
    return lr_usage_error(&lr_cmd_synth, "%s", msg);
  if (o->out[0] == '\0')
    return lr_usage_error(&lr_cmd_synth, "missing --out DIR");
  /* What single options cannot say: --mentions 5..2. */
  lr_err_init(&err);
  if (lr_synth_check(&o->synth, &err) != LR_OK)
    return lr_usage_error(&lr_cmd_synth, "%s", err.msg);
  return LR_EXIT_OK;
}

static void print_summary(const options *o, const lr_synth_summary *s) {
  printf("wrote %s (seed %" PRIu64 "): %ld entities, %zu facts, %zu mentor facts\n", o->out,
         o->synth.seed, o->synth.entities, s->facts, s->relations);
  printf("  corpus.txt        %zu lines (%zu facts stated, %zu mentors stated, %zu fillers)\n",
         s->corpus_lines, s->fact_lines, s->relation_lines, s->filler_lines);
  for (int k = 0; k < 4; k++) {
    char file[32];
    snprintf(file, sizeof file, "%s.jsonl", lr_synth_split_names[k]);
    if (s->questions[k] == 0)
      printf("  %-17s not written\n", file);
    else
      printf("  %-17s %zu questions about %zu facts\n", file, s->questions[k],
             s->split_facts[k]);
  }
}

static int run_synth(int argc, char **argv) {
  options o;
  lr_synth_summary sum;
  lr_err err;
  int rc;
  memset(&o, 0, sizeof o);
  lr_synth_opts_init(&o.synth);
  if ((rc = parse_options(argc, argv, &o)) != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (lr_synth_write(o.out, &o.synth, &sum, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  print_summary(&o, &sum);
  return LR_EXIT_OK;
}

const lr_command lr_cmd_synth = {
    .name = "synth", .options = option_table, .run = run_synth, .help = lr_help_synth,
    .summary = "Generate a synthetic knowledge task: a made-up world, a corpus and questions."};
