/*
 * cmd-synth.c: `lorens synth --seed S --out DIR [...]`: generates the synthetic knowledge task
 * (src/synth.h): a made-up world, a pretraining corpus about it and multiple-choice question sets
 * in the generic jsonl format, the same bytes for the same arguments on every machine.
 */
#include "compat.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "commands.h"
#include "synth.h"

typedef struct options {
  lr_synth_opts synth;
  const char *out;
  bool have_seed;
} options;

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

static int parse_value(int c, const char *arg, options *o) {
  char msg[256];
  bool ok = true;
  long v = 0;
  lr_synth_opts *s = &o->synth;
  switch (c) {
  case 's':
    ok = lr_parse_int("--seed", arg, 0, LONG_MAX, &v, msg, sizeof msg);
    s->seed = (uint64_t)v;
    o->have_seed = true;
    break;
  case 'o':
    o->out = arg;
    break;
  case 'e':
    ok = lr_parse_int("--entities", arg, LR_SYNTH_MIN_ENTITIES, LR_SYNTH_MAX_ENTITIES,
                      &s->entities, msg, sizeof msg);
    break;
  case 'k':
    ok = lr_parse_int("--facts-per-entity", arg, 1, lr_synth_n_attributes(),
                      &s->facts_per_entity, msg, sizeof msg);
    break;
  case 't':
    ok = lr_parse_int("--train", arg, 0, LR_SYNTH_MAX_QUESTIONS, &s->train, msg, sizeof msg);
    break;
  case 'v':
    ok = lr_parse_int("--validation", arg, 0, LR_SYNTH_MAX_QUESTIONS, &s->validation, msg,
                      sizeof msg);
    break;
  case 'T':
    ok = lr_parse_int("--test", arg, 0, LR_SYNTH_MAX_QUESTIONS, &s->test, msg, sizeof msg);
    break;
  case 'd':
    ok = lr_parse_int("--ood", arg, 0, LR_SYNTH_MAX_QUESTIONS, &s->ood, msg, sizeof msg);
    break;
  case 'm':
    ok = parse_mentions(arg, s, msg, sizeof msg);
    break;
  }
  return ok ? LR_EXIT_OK : lr_usage_error(&lr_cmd_synth, "%s", msg);
}

static int parse_options(int argc, char **argv, options *o) {
  static const struct option opts[] = {
      {"seed", required_argument, NULL, 's'},       {"out", required_argument, NULL, 'o'},
      {"entities", required_argument, NULL, 'e'},   {"facts-per-entity", required_argument, NULL, 'k'},
      {"train", required_argument, NULL, 't'},      {"validation", required_argument, NULL, 'v'},
      {"test", required_argument, NULL, 'T'},       {"ood", required_argument, NULL, 'd'},
      {"mentions", required_argument, NULL, 'm'},   {NULL, 0, NULL, 0},
  };
  lr_err err;
  int c, rc;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == '?' || c == ':')
      return optopt ? lr_usage_error(&lr_cmd_synth, "option '%s' needs a value", argv[optind - 1])
                    : lr_usage_error(&lr_cmd_synth, "unknown option '%s'", argv[optind - 1]);
    if ((rc = parse_value(c, optarg, o)) != LR_EXIT_OK)
      return rc;
  }
  if (optind < argc)
    return lr_usage_error(&lr_cmd_synth, "unexpected argument '%s'", argv[optind]);
  if (!o->have_seed)
    return lr_usage_error(&lr_cmd_synth, "missing --seed");
  if (o->out == NULL || o->out[0] == '\0')
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
    .name = "synth",
    .summary = "Generate a synthetic knowledge task: a made-up world, a corpus and questions.",
    .usage = "lorens synth --seed S --out DIR [--entities N] [--facts-per-entity K]\n"
             "       [--train N] [--validation N] [--test N] [--ood N] [--mentions MIN..MAX]",
    .help =
        "Writes into DIR (created if missing): world.json (the made-up world), corpus.txt\n"
        "(one sentence per line stating its facts, for pretraining), train.jsonl,\n"
        "validation.jsonl and test.jsonl (4-choice questions about attribute facts, in the\n"
        "generic jsonl format of `lorens data --format jsonl`), ood.jsonl (questions about\n"
        "the mentor relation: out of distribution) and README.  The same arguments write\n"
        "the same bytes on every machine.\n"
        "\n"
        "Options:\n"
        "  --seed S                 required: 0 to 2^63-1\n"
        "  --out DIR                required: the output directory\n"
        "  --entities N             people in the world, 5 to 2000 (default 60)\n"
        "  --facts-per-entity K     attributes each has, 1 to 12 (default 12)\n"
        "  --train N                questions in train.jsonl (default 400)\n"
        "  --validation N           questions in validation.jsonl (default 100)\n"
        "  --test N                 questions in test.jsonl (default 200)\n"
        "  --ood N                  questions in ood.jsonl (default 200)\n"
        "                           (0 writes no file; at most 1000000 each)\n"
        "  --mentions MIN..MAX      times the corpus states each fact, 1 to 50 (default\n"
        "                           1..6; N means N..N)\n"
        "\n"
        "Train, validation and test ask about disjoint facts.  With fewer facts\n"
        "(entities x facts per entity) than questions, the facts are divided between the\n"
        "three in proportion to their sizes and each asks about some of its own facts again,\n"
        "in another phrasing.  docs/cli.md has examples of every file.\n"
        "\n"
        "Exit status: 0 written, 1 a file could not be written (the message names it),\n"
        "2 on a usage error.\n",
    .run = run_synth,
};
