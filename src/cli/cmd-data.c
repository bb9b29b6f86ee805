/*
 * cmd-data.c: `lorens data PATH --format FMT`: load a dataset as a run would and describe it:
 * how many examples, how many with an answer, how many choices they have, what was skipped and
 * why, and the first few examples as lorens sees them.  The quickest check that a dataset file
 * will load, and that its answers are where they should be.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "text/dataset.h"

enum { OUT_TEXT, OUT_JSON };

typedef struct options {
  const char *path;
  int format, on_error; /* lr_dataset_format; an index in on_error_choices */
  lr_dataset_opts load;
  long show;
  int out;
} options;

/* Counts for the report. */
typedef struct summary {
  size_t with_label;
  size_t by_choices[LR_DATASET_MAX_CHOICES + 1];
} summary;

static void summarize(const lr_dataset *ds, summary *s) {
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < ds->n; i++) {
    s->with_label += ds->examples[i].label >= 0;
    s->by_choices[ds->examples[i].n_choices]++;
  }
}

/* ---- text ---------------------------------------------------------------------------------- */

static void print_subjects_text(const lr_dataset *ds) {
  const char *current = NULL;
  size_t count = 0;
  printf("subjects:\n");
  /* Examples of one subject are contiguous: each subject is one file. */
  for (size_t i = 0; i <= ds->n; i++) {
    const char *s = i < ds->n ? ds->examples[i].subject : NULL;
    if (current && (s == NULL || strcmp(s, current) != 0)) {
      const lr_mmlu_subject *known = lr_mmlu_subject_find(current);
      printf("  %-40s %6zu  %s\n", current, count, known ? known->group : "(not an MMLU subject)");
      count = 0;
    }
    current = s;
    count++;
  }
}

static void print_example_text(const lr_example *ex, size_t k) {
  printf("\n[%zu] %s (%s:%d)%s%s\n", k + 1, ex->id, ex->file, ex->line,
         ex->subject ? " subject " : "", ex->subject ? ex->subject : "");
  printf("    %s\n", ex->question);
  for (int c = 0; c < ex->n_choices; c++)
    printf("  %c %c. %s\n", c == ex->label ? '*' : ' ', 'A' + c, ex->choices[c]);
  if (ex->label < 0)
    printf("    (no answer in the file)\n");
}

static void print_text(const options *o, const lr_dataset *ds) {
  summary s;
  bool first = true;
  summarize(ds, &s);
  printf("dataset:     %s (%s, %zu file%s)\n", o->path, lr_dataset_format_name(ds->format),
         ds->n_files, ds->n_files == 1 ? "" : "s");
  printf("examples:    %zu\n", ds->n);
  printf("with answer: %zu\n", s.with_label);
  printf("choices:     ");
  for (int c = 0; c <= LR_DATASET_MAX_CHOICES; c++)
    if (s.by_choices[c]) {
      printf("%s%d: %zu", first ? "" : ", ", c, s.by_choices[c]);
      first = false;
    }
  printf("\nskipped:     %zu line%s\n", ds->n_skipped, ds->n_skipped == 1 ? "" : "s");
  for (size_t i = 0; i < ds->n_reasons; i++)
    printf("  %s\n", ds->reasons[i]);
  if (ds->n_skipped > ds->n_reasons)
    printf("  ... and %zu more\n", ds->n_skipped - ds->n_reasons);
  if (ds->format == LR_DATASET_MMLU)
    print_subjects_text(ds);
  for (size_t k = 0; k < ds->n && k < (size_t)o->show; k++)
    print_example_text(&ds->examples[k], k);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *example_json(const lr_example *ex) {
  json_t *choices = json_array();
  for (int c = 0; c < ex->n_choices; c++)
    json_array_append_new(choices, json_string(ex->choices[c]));
  return json_pack("{s:s, s:s, s:o, s:i, s:s?, s:s, s:i}", "id", ex->id, "question", ex->question,
                   "choices", choices, "label", ex->label, "subject", ex->subject, "file",
                   ex->file, "line", ex->line);
}

static json_t *dataset_json(const options *o, const lr_dataset *ds) {
  summary s;
  json_t *hist = json_object(), *reasons = json_array(), *show = json_array();
  char key[8];
  summarize(ds, &s);
  for (int c = 0; c <= LR_DATASET_MAX_CHOICES; c++)
    if (s.by_choices[c]) {
      snprintf(key, sizeof key, "%d", c);
      json_object_set_new(hist, key, json_integer((json_int_t)s.by_choices[c]));
    }
  for (size_t i = 0; i < ds->n_reasons; i++)
    json_array_append_new(reasons, json_string(ds->reasons[i]));
  for (size_t k = 0; k < ds->n && k < (size_t)o->show; k++)
    json_array_append_new(show, example_json(&ds->examples[k]));
  return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:o, s:o}", "path", o->path, "format",
                   lr_dataset_format_name(ds->format), "files", (json_int_t)ds->n_files,
                   "examples", (json_int_t)ds->n, "with_answer", (json_int_t)s.with_label,
                   "choices", hist, "skipped", (json_int_t)ds->n_skipped, "skip_reasons", reasons,
                   "first_examples", show);
}

static int print_json(const options *o, const lr_dataset *ds) {
  json_t *j = dataset_json(o, ds);
  char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  if (text == NULL) {
    fprintf(stderr, "lorens: data: cannot write JSON (out of memory, or a path that is not "
            "UTF-8)\n");
    return LR_EXIT_FAILURE;
  }
  printf("%s\n", text);
  free(text);
  return LR_EXIT_OK;
}

/* ---- the command --------------------------------------------------------------------------- */

static const char *const on_error_choices[] = {"fail", "skip", NULL};

static const lr_option option_table[] = {
    {LR_ARG_CHOICE(options, format, "format", 0, lr_dataset_format_choices,
                   "arc (AI2 ARC jsonl), obqa (OpenBookQA TSV), csqa\n"
                   "(CommonsenseQA jsonl), mmlu (a CSV file or a directory of\n"
                   "<subject>_<split>.csv), jsonl (generic: question, choices,\n"
                   "answer)"),
     .required = true},
    {LR_ARG_CHOICE(options, on_error, "on-error", 0, on_error_choices,
                   "fail (default): the first bad line stops the load;\n"
                   "skip: bad lines are counted and reported, the rest loads")},
    {LR_ARG_STRING(options, load.subjects, "subjects", 0, "LIST",
                   "MMLU: comma-separated subjects to load")},
    {LR_ARG_STRING(options, load.group, "group", 0, "NAME",
                   "MMLU: stem, humanities, social_sciences or other")},
    {LR_ARG_STRING(options, load.split, "split", 0, "SPLIT",
                   "MMLU directory: dev, val or test (needed when it holds several)")},
    {LR_ARG_INT(options, show, "show", 0, "N", 0, 1000000,
                "print the first N examples (default 3)")},
    {LR_ARG_CHOICE(options, out, "format-out", 0, lr_text_json, "text (default) or json")},
    LR_ARG_END,
};

static int parse_options(int argc, char **argv, options *o) {
  int rc = lr_options_parse(&lr_cmd_data, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  if (o->format != LR_DATASET_MMLU && (o->load.subjects || o->load.group || o->load.split))
    return lr_usage_error(&lr_cmd_data, "--subjects, --group and --split are for --format mmlu");
  o->load.on_error = o->on_error == 1 ? LR_ON_ERROR_SKIP : LR_ON_ERROR_FAIL;
  o->path = argv[1];
  return LR_EXIT_OK;
}

static int run_data(int argc, char **argv) {
  options o;
  lr_dataset ds;
  lr_err err;
  int rc;
  memset(&o, 0, sizeof o);
  o.show = 3;
  if ((rc = parse_options(argc, argv, &o)) != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (lr_dataset_load(o.path, o.format, &o.load, &ds, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  if (o.out == OUT_JSON)
    rc = print_json(&o, &ds);
  else
    print_text(&o, &ds);
  lr_dataset_release(&ds);
  return rc;
}

const lr_command lr_cmd_data = {
    .name = "data", .args = "PATH", .options = option_table, .run = run_data, .help = lr_help_data,
    .summary = "Load a multiple-choice dataset and describe it.",
    .args_missing = "missing the dataset file"};
