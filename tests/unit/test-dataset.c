/*
 * test-dataset.c: the dataset loaders on the committed samples in tests/data/datasets (excerpts
 * of the real ARC and OpenBookQA files, and files in the exact CommonsenseQA and MMLU layouts),
 * on one broken line per error the loaders report (file, line and message checked, in both
 * error modes), on whole-file errors, on the real files in ../shared when they are there, and
 * the seeded validation split.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "text/dataset.h"
#include "../tap.h"
#include "../tmpdir.h"

static char data_dir[2048];
static char scratch[2048];

static const char *sample(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", data_dir, name);
  return buf;
}

static lr_status load(const char *name, lr_dataset_format fmt, const lr_dataset_opts *o,
                      lr_dataset *ds, lr_err *err) {
  char path[4096];
  lr_err_init(err);
  return lr_dataset_load(sample(path, sizeof path, name), fmt, o, ds, err);
}

/* Loads a file written into the scratch directory. */
static lr_status load_scratch(const char *name, lr_dataset_format fmt, lr_dataset *ds,
                              lr_err *err) {
  char path[4096];
  tmpdir_path(path, sizeof path, scratch, name);
  lr_err_init(err);
  return lr_dataset_load(path, fmt, NULL, ds, err);
}

static void is_example(const lr_example *ex, const char *id, int line, int n_choices, int label,
                       const char *first_choice, const char *what) {
  tap_is_str(ex->id, id, "%s: id", what);
  tap_is_int(ex->line, line, "%s: line", what);
  tap_is_int(ex->n_choices, n_choices, "%s: %d choices", what, n_choices);
  tap_is_int(ex->label, label, "%s: label %d", what, label);
  tap_is_str(ex->choices[0], first_choice, "%s: first choice in file order", what);
}

/* ---- the samples ---------------------------------------------------------------------------- */

static void test_arc_excerpt(void) {
  lr_dataset ds;
  lr_err err;
  if (!tap_is_int(load("arc-easy-dev-excerpt.jsonl", LR_DATASET_ARC, NULL, &ds, &err), LR_OK,
                  "ARC-Easy excerpt loads"))
    tap_diag("%s", err.msg);
  tap_is_int((long long)ds.n, 6, "six questions");
  tap_is_int((long long)ds.n_files, 1, "one file");
  is_example(&ds.examples[0], "MCAS_2000_4_6", 1, 4, 0, "cellular telephone", "ARC A-D");
  tap_is_str(ds.examples[0].question, "Which technology was developed most recently?", "stem");
  tap_ok(ds.examples[0].subject == NULL, "no subject outside MMLU");
  is_example(&ds.examples[3], "NYSEDREGENTS_2014_8_10", 4, 4, 0, "obtain energy",
             "ARC digit labels, answerKey '1'");
  is_example(&ds.examples[4], "TIMSS_1995_8_J5", 5, 5, 1, "Visible", "ARC five choices");
  is_example(&ds.examples[5], "WASL_2005_5_11", 6, 3, 1,
             "Skin has pores that help the body sense odor.", "ARC three choices");
  tap_like(ds.examples[5].file, "arc-easy-dev-excerpt.jsonl", "examples name their file");
  lr_dataset_release(&ds);
}

static void test_arc_quirks(void) {
  lr_dataset ds;
  lr_err err;
  if (!tap_is_int(load("arc-quirks.jsonl", LR_DATASET_ARC, NULL, &ds, &err), LR_OK,
                  "ARC with a BOM, CRLF and a blank line loads"))
    tap_diag("%s", err.msg);
  tap_is_int((long long)ds.n, 3, "three questions");
  is_example(&ds.examples[0], "Quirk_1", 1, 4, 0, "whale", "labels C A B D: answer C is first");
  tap_is_str(ds.examples[0].choices[3], "eel", "last choice without the CR");
  is_example(&ds.examples[1], "Quirk_2", 2, 3, 1, "joule", "labels 2 1 3: answer 1 is second");
  is_example(&ds.examples[2], "Quirk_3", 4, 5, 4, "Venus", "labels B C D E A: answer A is last");
  lr_dataset_release(&ds);
}

static void test_csqa(void) {
  lr_dataset ds;
  lr_err err;
  tap_is_int(load("csqa-dev.jsonl", LR_DATASET_CSQA, NULL, &ds, &err), LR_OK, "CSQA dev loads");
  tap_is_int((long long)ds.n, 3, "three questions");
  is_example(&ds.examples[2], "2c3d4e5f60718293a4b5c6d7e8f90a1b", 3, 5, 2, "bookstore", "CSQA");
  lr_dataset_release(&ds);
  tap_is_int(load("csqa-test.jsonl", LR_DATASET_CSQA, NULL, &ds, &err), LR_OK,
             "CSQA test (no answerKey) loads");
  tap_is_int((long long)ds.n, 2, "two questions");
  is_example(&ds.examples[1], "4e5f60718293a4b5c6d7e8f90a1b2c3d", 2, 5, -1, "speaker",
             "CSQA test: label -1");
  lr_dataset_release(&ds);
  tap_is_int(load("csqa-test.jsonl", LR_DATASET_ARC, NULL, &ds, &err), LR_EPARSE,
             "as ARC, a missing answerKey is an error");
  tap_is_str(err.msg, "field 'answerKey' is missing", "saying so");
}

static void test_obqa(void) {
  lr_dataset ds;
  lr_err err;
  tap_is_int(load("obqa-excerpt.tsv", LR_DATASET_OBQA, NULL, &ds, &err), LR_OK,
             "OpenBookQA excerpt loads");
  tap_is_int((long long)ds.n, 6, "six questions");
  is_example(&ds.examples[0], "8-376", 2, 4, 0, "Deep sea animals", "OBQA");
  tap_is_str(ds.examples[0].choices[3], "Far Sea Animals", "OBQA last choice");
  tap_is_str(ds.examples[0].question, "Frilled sharks and angler fish live far beneath the "
             "surface of the ocean, which is why they are known as", "OBQA stem");
  is_example(&ds.examples[5], "12-1145", 7, 4, 1, "newborn turtles crawling towards the sea",
             "train 12-1145, a repeated (D) marker");
  tap_is_str(ds.examples[5].choices[3], "baby birds chewing worms (D) mother dogs nursing their "
             "pups", "the repeated marker stays in the text of D");
  lr_dataset_release(&ds);
  if (!tap_is_int(load("obqa-quirks.tsv", LR_DATASET_OBQA, NULL, &ds, &err), LR_OK,
                  "OBQA with a BOM, CRLF and unescaped quotes loads"))
    tap_diag("%s", err.msg);
  tap_is_int((long long)ds.n, 2, "two questions");
  tap_is_str(ds.examples[0].question, "A \"hot\" stove is", "quotes kept in the stem");
  tap_is_str(ds.examples[0].choices[0], "\"dangerous\" to touch", "and in a choice");
  is_example(&ds.examples[1], "q-2", 3, 4, 1, "frown", "last row, CR removed from the key");
  lr_dataset_release(&ds);
}

static void test_generic(void) {
  lr_dataset ds;
  lr_err err;
  tap_is_int(load("generic.jsonl", LR_DATASET_JSONL, NULL, &ds, &err), LR_OK, "generic loads");
  tap_is_int((long long)ds.n, 5, "five questions");
  is_example(&ds.examples[0], "g1", 1, 3, 1, "3", "integer answer");
  is_example(&ds.examples[1], "generic.jsonl:2", 2, 2, 0, "Paris", "no id: file:line; letter");
  is_example(&ds.examples[2], "7", 3, 8, 7, "s", "integer id, eight choices, answer H");
  is_example(&ds.examples[3], "g4", 4, 2, -1, "a feather", "answer null");
  is_example(&ds.examples[4], "g5", 5, 2, -1, "a feather", "no answer");
  lr_dataset_release(&ds);
}

/* ---- MMLU ----------------------------------------------------------------------------------- */

static size_t count_subject(const lr_dataset *ds, const char *subject) {
  size_t n = 0;
  for (size_t i = 0; i < ds->n; i++)
    n += strcmp(ds->examples[i].subject, subject) == 0;
  return n;
}

static void test_mmlu_original(void) {
  lr_dataset_opts o = {LR_ON_ERROR_FAIL, NULL, NULL, "test"};
  lr_dataset ds;
  lr_err err;
  const lr_example *ex;
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_OK,
             "MMLU original layout, test split");
  tap_is_int((long long)ds.n, 8, "8 questions");
  tap_is_int((long long)ds.n_files, 6, "from 6 files");
  ex = &ds.examples[0];
  is_example(ex, "abstract_algebra_test.csv:1", 1, 4, 2, "1", "first file by name");
  tap_is_str(ex->subject, "abstract_algebra", "its subject");
  tap_is_str(ds.examples[1].question, "Let G be a group of order 4. Which statement is true?",
             "a quoted question");
  ex = &ds.examples[3];
  tap_is_str(ex->subject, "high_school_world_history", "quoted multi-line record");
  tap_is_str(ex->question, "This question refers to the following text.\n\"We hold these truths "
             "to be self-evident,\" wrote the author.\nThe text is best read as",
             "newlines, commas and doubled quotes inside quotes");
  tap_is_str(ex->choices[0], "a call for revolution, and for independence", "a comma inside");
  tap_is_str(ex->choices[2], "a \"royal\" decree", "quotes inside");
  is_example(&ds.examples[4], "high_school_world_history_test.csv:4", 4, 4, 1, "Aztec",
             "the record after a 3-line record starts on line 4");
  lr_dataset_release(&ds);

  o.split = NULL;
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_EINVAL,
             "two splits and no --split: an error");
  tap_like(err.msg, "holds more than one split (dev, test): choose one", "naming the splits");
  o.split = "dev";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_OK, "the dev split");
  tap_is_int((long long)ds.n, 1, "one question");
  lr_dataset_release(&ds);
}

static void test_mmlu_selection(void) {
  lr_dataset_opts o = {LR_ON_ERROR_FAIL, NULL, "stem", "test"};
  lr_dataset ds;
  lr_err err;
  static const struct {
    const char *group;
    size_t n;
  } groups[] = {{"stem", 3}, {"humanities", 3}, {"social_sciences", 1}, {"other", 1},
                {"STEM", 3}, {"social sciences", 1}};
  for (size_t i = 0; i < LR_ARRAY_LEN(groups); i++) {
    o.group = groups[i].group;
    tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_OK, "group '%s'",
               groups[i].group);
    tap_is_int((long long)ds.n, (long long)groups[i].n, "group '%s': %zu questions",
               groups[i].group, groups[i].n);
    lr_dataset_release(&ds);
  }
  o.group = NULL;
  o.subjects = "philosophy, sociology";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_OK, "two subjects");
  tap_is_int((long long)ds.n, 2, "their two questions");
  tap_is_int((long long)count_subject(&ds, "sociology"), 1, "one of sociology");
  lr_dataset_release(&ds);
  o.group = "humanities";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_OK, "subjects and group");
  tap_is_int((long long)ds.n, 1, "only philosophy passes both");
  lr_dataset_release(&ds);
  o.group = NULL;
  o.subjects = "abstrat_algebra";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_EINVAL, "a typo");
  tap_like(err.msg, "unknown MMLU subject 'abstrat_algebra' (did you mean 'abstract_algebra'?)",
           "gets a suggestion");
  o.subjects = "virology";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_ENOTFOUND,
             "a subject without its file");
  tap_like(err.msg, "no file for subject 'virology' (looked for virology_test.csv)", "says so");
  o.subjects = NULL;
  o.group = "sciences";
  tap_is_int(load("mmlu-original", LR_DATASET_MMLU, &o, &ds, &err), LR_EINVAL, "a bad group");
  tap_like(err.msg, "unknown MMLU group 'sciences'", "says so");
}

static void test_mmlu_hf(void) {
  lr_dataset ds;
  lr_err err;
  tap_is_int(load("mmlu-hf", LR_DATASET_MMLU, NULL, &ds, &err), LR_OK,
             "MMLU Hugging Face layout (header, integer answers, CRLF, BOM)");
  tap_is_int((long long)ds.n, 3, "3 questions");
  is_example(&ds.examples[0], "anatomy_test.csv:2", 2, 4, 1, "106", "header skipped, BOM too");
  is_example(&ds.examples[1], "astronomy_test.csv:2", 2, 4, 2, "Earth", "integer answer 2");
  tap_is_str(ds.examples[2].choices[3], "8 days", "no CR in the last choice");
  tap_is_str(ds.examples[2].question,
             "How long does light from the Sun take to reach Earth, roughly?", "quoted comma");
  lr_dataset_release(&ds);
  tap_is_int(load("mmlu-hf/astronomy_test.csv", LR_DATASET_MMLU, NULL, &ds, &err), LR_OK,
             "a single MMLU file");
  tap_is_str(ds.examples[0].subject, "astronomy", "subject from the file name");
  lr_dataset_release(&ds);
}

static void test_mmlu_table(void) {
  size_t n, per[4] = {0, 0, 0, 0};
  static const char *const groups[] = {"stem", "humanities", "social_sciences", "other"};
  const lr_mmlu_subject *s = lr_mmlu_subjects(&n);
  bool sorted = true;
  tap_is_int((long long)n, 57, "57 MMLU subjects");
  for (size_t i = 0; i < n; i++) {
    for (int g = 0; g < 4; g++)
      per[g] += strcmp(s[i].group, groups[g]) == 0;
    if (i > 0 && strcmp(s[i - 1].name, s[i].name) >= 0)
      sorted = false;
  }
  tap_ok(sorted, "sorted by name");
  tap_is_int((long long)per[0], 18, "18 STEM");
  tap_is_int((long long)per[1], 13, "13 humanities");
  tap_is_int((long long)per[2], 12, "12 social sciences");
  tap_is_int((long long)per[3], 14, "14 other");
  tap_is_str(lr_mmlu_subject_find("college_physics")->category, "physics", "a subcategory");
  tap_ok(lr_mmlu_subject_find("physics") == NULL, "an unknown subject");
}

/* ---- broken lines --------------------------------------------------------------------------- */

typedef struct bad_case {
  lr_dataset_format fmt;
  const char *file;
  const char *text;
  const char *want; /* "file:line[:col]: message", all of it */
  size_t n_good;    /* examples left when skipping */
} bad_case;

#define ARC_OK(id)                                                                                 \
  "{\"id\":\"" id "\",\"question\":{\"stem\":\"Q?\",\"choices\":[{\"text\":\"a\","                 \
  "\"label\":\"A\"},{\"text\":\"b\",\"label\":\"B\"},{\"text\":\"c\",\"label\":\"C\"},"            \
  "{\"text\":\"d\",\"label\":\"D\"}]},\"answerKey\":\"A\"}\n"
#define OBQA_HEAD "ID\tQuestion Stem\tChoices\tComplete Question\tAnswer Key\n"
#define OBQA_OK(id) id "\tQ\t(A) a (B) b (C) c (D) d\tQ (A) a (B) b (C) c (D) d\tB\n"

static const bad_case bad_cases[] = {
    {LR_DATASET_ARC, "ARC-Easy-Dev.jsonl",
     ARC_OK("x1") "{\"id\":\"x2\",\"question\":{\"stem\":\"Q?\",\"choices\":[{\"text\":\"a\","
     "\"label\":\"A\"},{\"text\":\"b\",\"label\":\"B\"},{\"text\":\"c\",\"label\":\"C\"},{\"text\""
     ":\"d\",\"label\":\"D\"}]},\"answerKey\":\"F\"}\n" ARC_OK("x3"),
     "ARC-Easy-Dev.jsonl:2: answerKey 'F' is not one of the choice labels A, B, C, D", 2},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x2\", \"question\": {\"stem\": tru}}\n",
     "a.jsonl:2:37: not valid JSON: invalid token near 'tru'", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "[1, 2]\n", "a.jsonl:2: line must be a JSON object, "
     "got array", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": 5}\n",
     "a.jsonl:2: field 'id' must be a string, got integer", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": \"Q?\"}\n",
     "a.jsonl:2: field 'question' must be an object with stem and choices, got string (that is "
     "--format jsonl)", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"Q\", "
     "\"choices\": [{\"text\": \"a\", \"label\": \"A\"}, {\"text\": 3, \"label\": \"B\"}]}, "
     "\"answerKey\": \"A\"}\n",
     "a.jsonl:2: field 'question.choices[1].text' must be a string, got integer", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"Q\", "
     "\"choices\": [{\"text\": \"a\", \"label\": \"A\"}]}, \"answerKey\": \"A\"}\n",
     "a.jsonl:2: question.choices has 1 entries; lorens takes 2 to 8", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"Q\", "
     "\"choices\": [{\"text\": \"a\", \"label\": \"A\"}, {\"text\": \"b\", \"label\": \"A\"}]}, "
     "\"answerKey\": \"A\"}\n", "a.jsonl:2: choice label 'A' appears twice", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"Q\"}}\n",
     "a.jsonl:2: field 'question.choices' is missing", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "\n" ARC_OK("x1"),
     "a.jsonl:3: id 'x1' was already used by an earlier example", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"id\": \"y\"}\n",
     "a.jsonl:2:16: not valid JSON: duplicate object key near '\"id\"'", 1},
    {LR_DATASET_CSQA, "c.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"Q\", "
     "\"choices\": [{\"text\": \"a\", \"label\": \"A\"}, {\"text\": \"b\", \"label\": \"B\"}]}, "
     "\"answerKey\": 1}\n", "c.jsonl:2: field 'answerKey' must be a string, got integer", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\t(A) a (B) b\tQ\n" OBQA_OK("3"),
     "dev.tsv:3: row has 4 tab-separated fields, the header has 5", 2},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\tA) a B) b\tQ\tA\n",
     "dev.tsv:3: Choices must start with '(A) ', got 'A) a B) b'", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\t(A) a (C) b\tQ\tA\n",
     "dev.tsv:3: Choices holds only one choice (no ' (B) ' after '(A) ')", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\t(A) a (B) b (C) c\tQ\tD\n",
     "dev.tsv:3: Answer Key 'D' is not one of the choice labels A to C", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\xff\t(A) a (B) b\tQ\tA\n",
     "dev.tsv:3:4: not valid UTF-8 (byte 0xff)", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") OBQA_OK("1"),
     "dev.tsv:3: id '1' was already used by an earlier example", 1},
    {LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\nQ2,a,b,c,d\nQ3,a,b,c,d,B\n",
     "x_test.csv:2: row has 5 fields, expected 6: question, 4 choices, answer", 2},
    {LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\nQ2,a,b,c,d,E\n",
     "x_test.csv:2: answer 'E' is not A, B, C or D", 1},
    {LR_DATASET_MMLU, "x_test.csv", "question,choice0,choice1,choice2,choice3,answer\n"
     "Q1,a,b,c,d,0\nQ2,a,b,c,d,B\n", "x_test.csv:3: answer 'B' is not 0, 1, 2 or 3", 1},
    {LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\n\"Q2\"x,a,b,c,d,A\nQ3,a,b,c,d,A\n",
     "x_test.csv:2: unexpected 'x' after the closing quote of field 1 (a quote inside a quoted "
     "field is written \"\")", 2},
    {LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\nQ2,a,b,c,d,A\n\"Q3\nand more,a,b,c,d,A\n",
     "x_test.csv:3: the quoted field 1 is never closed (a quote inside a quoted field is written "
     "\"\")", 2},
    {LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\n,a,b,c,d,A\n",
     "x_test.csv:2: the question is empty", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n",
     "g.jsonl:2: answer 2 is out of range for 2 choices (0 to 1)", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"], \"answer\": \"C\"}\n",
     "g.jsonl:2: answer 'C' is not a choice letter A to B", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"question\": \"Q\", \"choices\": [\"a\", 2]}\n",
     "g.jsonl:2: choices[1] must be a string, got integer", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"], \"answer\": 1.0}\n",
     "g.jsonl:2: field 'answer' must be an index or a letter, got real", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"choices\": [\"a\", \"b\"]}\n", "g.jsonl:2: field 'question' is missing", 1},
    {LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
     "{\"question\": \" \", \"choices\": [\"a\", \"\"]}\n", "g.jsonl:2: the question is empty", 1},
    {LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\": \"x\", \"question\": {\"stem\": \"\", "
     "\"choices\": [{\"text\": \"a\", \"label\": \"A\"}, {\"text\": \"b\", \"label\": \"B\"}]}, "
     "\"answerKey\": \"A\"}\n", "a.jsonl:2: the question is empty", 1},
    {LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\t\t(A) a (B) b\tQ\tA\n",
     "dev.tsv:3: the question is empty", 1},
};

static void test_bad_case(const bad_case *c) {
  char path[4096], msg[2048];
  const char *tail;
  lr_dataset_opts skip = {LR_ON_ERROR_SKIP, NULL, NULL, NULL};
  lr_dataset ds;
  lr_err err;
  tmpdir_write(scratch, c->file, c->text);
  tmpdir_path(path, sizeof path, scratch, c->file);
  lr_err_init(&err);
  tap_is_int(lr_dataset_load(path, c->fmt, NULL, &ds, &err), LR_EPARSE, "%s: fails", c->want);
  lr_err_format(&err, msg, sizeof msg);
  tail = strlen(msg) > strlen(scratch) + 1 ? msg + strlen(scratch) + 1 : msg;
  tap_is_str(tail, c->want, "the message names the file, the line and what is wrong");
  tap_ok(ds.n == 0 && ds.examples == NULL, "nothing is left loaded");
  lr_err_init(&err);
  if (!tap_is_int(lr_dataset_load(path, c->fmt, &skip, &ds, &err), LR_OK, "%s: skipped", c->want))
    tap_diag("%s", err.msg);
  tap_is_int((long long)ds.n, (long long)c->n_good, "the good lines load");
  tap_is_int((long long)ds.n_skipped, 1, "one line skipped");
  tap_ok(ds.n_reasons == 1 && strstr(ds.reasons[0], c->want) != NULL, "the reason is kept");
  lr_dataset_release(&ds);
}

/* ---- size limits ---------------------------------------------------------------------------- */

/* n copies of c, NUL-terminated (malloc'ed). */
static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  if (s == NULL)
    abort();
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* One bad line: before, a run of n letters, after. */
static void size_case(lr_dataset_format fmt, const char *file, const char *before, size_t n,
                      const char *after, const char *want, size_t n_good) {
  char *run = repeat('x', n), *text = NULL;
  bad_case c = {fmt, file, NULL, want, n_good};
  if (asprintf(&text, "%s%s%s", before, run, after) < 0)
    abort();
  c.text = text;
  test_bad_case(&c);
  free(text);
  free(run);
}

static void test_size_limits(void) {
  const size_t T = LR_DATASET_MAX_TEXT_BYTES, L = LR_DATASET_MAX_LINE_BYTES;
  char want[256], *q = repeat('q', T), *text = NULL;
  lr_dataset ds;
  lr_err err;
  /* At the limit a question loads. */
  if (asprintf(&text, "{\"question\": \"%s\", \"choices\": [\"a\", \"b\"]}\n", q) < 0)
    abort();
  tmpdir_write(scratch, "at-limit.jsonl", text);
  tap_is_int(load_scratch("at-limit.jsonl", LR_DATASET_JSONL, &ds, &err), LR_OK,
             "a question of exactly %zu bytes loads", T);
  tap_is_int((long long)strlen(ds.examples[0].question), (long long)T, "whole");
  lr_dataset_release(&ds);
  free(text);
  free(q);

  snprintf(want, sizeof want, "g.jsonl:2: the question is %zu bytes (at most %zu)", T + 1, T);
  size_case(LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
            "{\"question\": \"", T + 1, "\", \"choices\": [\"a\", \"b\"]}\n", want, 1);
  snprintf(want, sizeof want, "g.jsonl:1: choice B is %zu bytes (at most %zu)", T + 7, T);
  size_case(LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"", T + 7,
            "\"]}\n{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n", want, 1);
  /* A line over the line limit is refused whatever it holds, before it is parsed. */
  snprintf(want, sizeof want, "g.jsonl:2: the line is %zu bytes (at most %zu)", L + 40, L);
  size_case(LR_DATASET_JSONL, "g.jsonl", "{\"question\": \"Q\", \"choices\": [\"a\", \"b\"]}\n"
            "{\"question\": \"", L + 1, "\", \"choices\": [\"a\", \"b\"]}\n", want, 1);
  snprintf(want, sizeof want, "a.jsonl:2: choice C is %zu bytes (at most %zu)", T + 1, T);
  size_case(LR_DATASET_ARC, "a.jsonl", ARC_OK("x1") "{\"id\":\"x2\",\"question\":{\"stem\":\"Q?\","
            "\"choices\":[{\"text\":\"a\",\"label\":\"A\"},{\"text\":\"b\",\"label\":\"B\"},"
            "{\"text\":\"", T + 1, "\",\"label\":\"C\"}]},\"answerKey\":\"A\"}\n", want, 1);
  snprintf(want, sizeof want, "dev.tsv:3: the question is %zu bytes (at most %zu)", T + 1, T);
  size_case(LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\t", T + 1,
            "\t(A) a (B) b\tQ\tA\n", want, 1);
  snprintf(want, sizeof want, "dev.tsv:2: choice D is %zu bytes (at most %zu)", T + 1, T);
  size_case(LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD "2\tQ\t(A) a (B) b (C) c (D) ", T + 1,
            "\tQ\tA\n" OBQA_OK("3"), want, 1);
  snprintf(want, sizeof want, "dev.tsv:3: the line is %zu bytes (at most %zu)", L + 19, L);
  size_case(LR_DATASET_OBQA, "dev.tsv", OBQA_HEAD OBQA_OK("1") "2\tQ\t(A) a (B) ", L + 1,
            "\tQ\tA\n", want, 1);
  snprintf(want, sizeof want, "x_test.csv:1: choice A is %zu bytes (at most %zu)", T + 1, T);
  size_case(LR_DATASET_MMLU, "x_test.csv", "Q1,", T + 1, ",b,c,d,A\nQ2,a,b,c,d,B\n", want, 1);
  /* A quoted field may span lines: the record is reported where it starts. */
  snprintf(want, sizeof want, "x_test.csv:2: the record is %zu bytes (at most %zu)", L + 17, L);
  size_case(LR_DATASET_MMLU, "x_test.csv", "Q1,a,b,c,d,A\n\"Q2\n", L + 1, "\",a,b,c,d,A\n", want,
            1);
}

/* ---- whole-file errors ---------------------------------------------------------------------- */

static void expect_file_error(lr_dataset_format fmt, const char *file, const char *text,
                              lr_on_error mode, const char *want) {
  char path[4096], msg[2048];
  lr_dataset_opts o = {mode, NULL, NULL, NULL};
  lr_dataset ds;
  lr_err err;
  tmpdir_write(scratch, file, text);
  tmpdir_path(path, sizeof path, scratch, file);
  lr_err_init(&err);
  tap_ok(lr_dataset_load(path, fmt, &o, &ds, &err) != LR_OK, "%s: fails", want);
  lr_err_format(&err, msg, sizeof msg);
  tap_like(msg, want, "%s: message", want);
}

static void test_file_errors(void) {
  lr_dataset ds;
  lr_err err;
  expect_file_error(LR_DATASET_ARC, "empty.jsonl", "", LR_ON_ERROR_SKIP,
                    "empty.jsonl: file is empty");
  expect_file_error(LR_DATASET_ARC, "blank.jsonl", "\xef\xbb\xbf\r\n\n", LR_ON_ERROR_FAIL,
                    "blank.jsonl: file is empty");
  expect_file_error(LR_DATASET_OBQA, "head.tsv", OBQA_HEAD, LR_ON_ERROR_SKIP,
                    "head.tsv: file has a header but no examples");
  expect_file_error(LR_DATASET_MMLU, "h_test.csv",
                    "question,choice0,choice1,choice2,choice3,answer\r\n", LR_ON_ERROR_SKIP,
                    "h_test.csv: file has a header but no examples");
  expect_file_error(LR_DATASET_OBQA, "nohead.tsv", OBQA_OK("1"), LR_ON_ERROR_SKIP,
                    "nohead.tsv:1: the first line must be the OpenBookQA header");
  expect_file_error(LR_DATASET_ARC, "allbad.jsonl", "[]\n{}\n", LR_ON_ERROR_SKIP,
                    "allbad.jsonl: no example could be loaded: all 2 examples are bad (first: ");
  lr_err_init(&err);
  tap_is_int(lr_dataset_load("/nonexistent/x.jsonl", LR_DATASET_ARC, NULL, &ds, &err),
             LR_ENOTFOUND, "a missing file");
  tap_like(err.msg, "cannot open", "says it cannot open it");
  lr_err_init(&err);
  tap_is_int(lr_dataset_load(scratch, LR_DATASET_ARC, NULL, &ds, &err), LR_EIO,
             "a directory where a file should be");
}

/* Empty choices: each marker follows the previous one directly.  (The fuzzer found that this ran
 * past the eighth choice before the fix; its input is in the corpus.) */
static void test_obqa_empty_choices(void) {
  char path[4096];
  lr_dataset ds;
  lr_err err;
  tmpdir_write(scratch, "empty-choices.tsv", OBQA_HEAD "1\tQ\t(A) (B) b (C) (D) \tQ\tB\n");
  lr_err_init(&err);
  tap_is_int(lr_dataset_load(tmpdir_path(path, sizeof path, scratch, "empty-choices.tsv"),
                             LR_DATASET_OBQA, NULL, &ds, &err), LR_OK, "OBQA with empty choices");
  tap_is_int(ds.examples[0].n_choices, 4, "four choices");
  tap_is_str(ds.examples[0].choices[0], "", "A is empty");
  tap_is_str(ds.examples[0].choices[1], "b", "B is 'b'");
  tap_is_str(ds.examples[0].choices[2], "", "C is empty");
  tap_is_str(ds.examples[0].choices[3], "", "D is empty (the trailing space is dropped)");
  lr_dataset_release(&ds);
}

static void test_skip_reasons(void) {
  char text[8192] = "", path[4096];
  lr_dataset_opts skip = {LR_ON_ERROR_SKIP, NULL, NULL, NULL};
  lr_dataset ds;
  lr_err err;
  strcat(text, ARC_OK("ok"));
  for (int i = 0; i < 8; i++)
    strcat(text, "[]\n");
  tmpdir_write(scratch, "many.jsonl", text);
  lr_err_init(&err);
  tap_is_int(lr_dataset_load(tmpdir_path(path, sizeof path, scratch, "many.jsonl"),
                             LR_DATASET_ARC, &skip, &ds, &err), LR_OK, "8 bad lines skipped");
  tap_is_int((long long)ds.n_skipped, 8, "all counted");
  tap_is_int((long long)ds.n_reasons, LR_DATASET_MAX_REASONS, "the first few reasons kept");
  tap_like(ds.reasons[4], "many.jsonl:6: line must be a JSON object", "in order");
  lr_dataset_release(&ds);
}

/* ---- formats -------------------------------------------------------------------------------- */

static void test_formats(void) {
  lr_dataset_format f;
  static const char *const names[] = {"arc", "obqa", "csqa", "mmlu", "jsonl"};
  for (size_t i = 0; i < LR_ARRAY_LEN(names); i++)
    tap_ok(lr_dataset_format_parse(names[i], &f) && strcmp(lr_dataset_format_name(f), names[i]) ==
           0, "format '%s' round-trips", names[i]);
  tap_ok(!lr_dataset_format_parse("ARC", &f), "names are lowercase");
}

/* ---- splits --------------------------------------------------------------------------------- */

/* A dataset of n generic examples with ids "e0".."e{n-1}". */
static void make_dataset(lr_dataset *ds, size_t n) {
  char *text = malloc(n * 80 + 1), path[4096];
  size_t used = 0;
  lr_err err;
  for (size_t i = 0; i < n; i++)
    used += (size_t)sprintf(text + used, "{\"id\": \"e%zu\", \"question\": \"q%zu\", \"choices\": "
                            "[\"a\", \"b\"], \"answer\": %zu}\n", i, i, i % 2);
  tmpdir_write(scratch, "split.jsonl", text);
  free(text);
  lr_err_init(&err);
  lr_dataset_load(tmpdir_path(path, sizeof path, scratch, "split.jsonl"), LR_DATASET_JSONL, NULL,
                  ds, &err);
}

static bool same_ids(const lr_dataset *a, const lr_dataset *b) {
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->examples[i].id, b->examples[i].id) != 0)
      return false;
  return true;
}

/* Index of an example by id "eN". */
static size_t index_of(const lr_example *ex) {
  return (size_t)strtoul(ex->id + 1, NULL, 10);
}

static void test_split_partition(const lr_dataset *all, const lr_dataset *tr,
                                 const lr_dataset *va) {
  char *seen = calloc(all->n, 1);
  bool ok = tr->n + va->n == all->n, ordered = true;
  for (size_t i = 0; i < tr->n; i++) {
    ok = ok && !seen[index_of(&tr->examples[i])];
    seen[index_of(&tr->examples[i])] = 1;
    ordered = ordered && (i == 0 || index_of(&tr->examples[i - 1]) < index_of(&tr->examples[i]));
  }
  for (size_t i = 0; i < va->n; i++) {
    ok = ok && !seen[index_of(&va->examples[i])];
    seen[index_of(&va->examples[i])] = 1;
    ordered = ordered && (i == 0 || index_of(&va->examples[i - 1]) < index_of(&va->examples[i]));
  }
  for (size_t i = 0; i < all->n; i++)
    ok = ok && seen[i];
  tap_ok(ok, "train and val are disjoint and cover the input");
  tap_ok(ordered, "each keeps file order");
  free(seen);
}

static void test_split(void) {
  lr_dataset all, tr, va, tr2, va2;
  lr_err err;
  lr_rng rng;
  size_t order[100];
  bool want_val[100] = {false}, match = true;
  char want[32];
  make_dataset(&all, 100);
  tap_is_int((long long)all.n, 100, "100 examples to split");
  lr_err_init(&err);
  tap_is_int(lr_dataset_split(&all, 0.2, 42, &tr, &va, &err), LR_OK, "a 20%% split");
  tap_is_int((long long)va.n, 20, "20 for validation");
  tap_is_int((long long)tr.n, 80, "80 for training");
  test_split_partition(&all, &tr, &va);
  /* The documented algorithm, step by step. */
  lr_rng_seed(&rng, lr_seed_mix(42, LR_DATASET_SPLIT_STREAM));
  for (size_t i = 0; i < 100; i++)
    order[i] = i;
  for (size_t i = 99; i > 0; i--) {
    size_t j = (size_t)lr_rng_below(&rng, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < 20; i++)
    want_val[order[i]] = true;
  for (size_t i = 0; i < va.n; i++)
    match = match && want_val[index_of(&va.examples[i])];
  tap_ok(match, "val is the first 20 of a Fisher-Yates shuffle seeded as documented");
  lr_dataset_release(&all); /* the outputs own their strings */
  snprintf(want, sizeof want, "q%zu", index_of(&va.examples[0]));
  tap_is_str(va.examples[0].question, want, "the split outlives its input");
  make_dataset(&all, 100);
  tap_is_int(lr_dataset_split(&all, 20, 42, &tr2, &va2, &err), LR_OK, "a count of 20");
  tap_ok(same_ids(&va, &va2) && same_ids(&tr, &tr2), "the same seed gives the same split");
  lr_dataset_release(&tr2);
  lr_dataset_release(&va2);
  tap_is_int(lr_dataset_split(&all, 20, 43, &tr2, &va2, &err), LR_OK, "another seed");
  tap_ok(!same_ids(&va, &va2), "gives another split");
  test_split_partition(&all, &tr2, &va2);
  lr_dataset_release(&tr2);
  lr_dataset_release(&va2);
  lr_dataset_release(&tr);
  lr_dataset_release(&va);
  tap_is_int(lr_dataset_split(&all, 0.125, 1, &tr, &va, &err), LR_OK, "12.5%% of 100");
  tap_is_int((long long)va.n, 13, "rounds 12.5 to 13");
  lr_dataset_release(&tr);
  lr_dataset_release(&va);
  tap_is_int(lr_dataset_split(&all, 0.001, 1, &tr, &va, &err), LR_OK, "a tiny fraction");
  tap_is_int((long long)va.n, 1, "still gives one");
  lr_dataset_release(&tr);
  lr_dataset_release(&va);
  lr_err_init(&err);
  tap_is_int(lr_dataset_split(&all, 100, 1, &tr, &va, &err), LR_EINVAL, "all for validation");
  tap_like(err.msg, "leaves none of the 100 for training", "is refused");
  lr_err_init(&err);
  tap_is_int(lr_dataset_split(&all, 2.5, 1, &tr, &va, &err), LR_EINVAL, "2.5 is refused");
  lr_err_init(&err);
  tap_is_int(lr_dataset_split(&all, 0, 1, &tr, &va, &err), LR_EINVAL, "0 is refused");
  lr_dataset_release(&all);
}

/* ---- the real files ------------------------------------------------------------------------- */

static void real_file(const char *shared, const char *rel, lr_dataset_format fmt, size_t want) {
  char path[4096];
  lr_dataset ds;
  lr_err err;
  size_t labelled = 0;
  snprintf(path, sizeof path, "%s/data/%s", shared, rel);
  if (access(path, R_OK) != 0) {
    tap_skip("../shared/data is not there", "%s", rel);
    return;
  }
  lr_err_init(&err);
  if (!tap_is_int(lr_dataset_load(path, fmt, NULL, &ds, &err), LR_OK, "%s loads", rel))
    tap_diag("%s", err.msg);
  for (size_t i = 0; i < ds.n; i++)
    labelled += ds.examples[i].label >= 0 && ds.examples[i].label < ds.examples[i].n_choices;
  tap_is_int((long long)ds.n, (long long)want, "%s: %zu examples", rel, want);
  tap_is_int((long long)labelled, (long long)want, "%s: every one with an answer", rel);
  lr_dataset_release(&ds);
}

static void test_real_files(void) {
  char shared[2048];
  const char *top = getenv("TOP_SRCDIR");
  static const struct {
    const char *rel;
    lr_dataset_format fmt;
    size_t n;
  } files[] = {
      {"arc-easy/ARC-Easy-Train.jsonl", LR_DATASET_ARC, 2251},
      {"arc-easy/ARC-Easy-Dev.jsonl", LR_DATASET_ARC, 570},
      {"arc-easy/ARC-Easy-Test.jsonl", LR_DATASET_ARC, 2376},
      {"arc-challenge/ARC-Challenge-Train.jsonl", LR_DATASET_ARC, 1119},
      {"arc-challenge/ARC-Challenge-Dev.jsonl", LR_DATASET_ARC, 299},
      {"arc-challenge/ARC-Challenge-Test.jsonl", LR_DATASET_ARC, 1172},
      {"openbookqa/train.tsv", LR_DATASET_OBQA, 4957},
      {"openbookqa/dev.tsv", LR_DATASET_OBQA, 500},
      {"openbookqa/test.tsv", LR_DATASET_OBQA, 500},
  };
  snprintf(shared, sizeof shared, "%s/../shared", top ? top : "..");
  for (size_t i = 0; i < LR_ARRAY_LEN(files); i++)
    real_file(shared, files[i].rel, files[i].fmt, files[i].n);
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR");
  if (top == NULL)
    tap_skip_all("TOP_SRCDIR is not set (run through make check)");
  snprintf(data_dir, sizeof data_dir, "%s/tests/data/datasets", top);
  if (tmpdir_make(scratch, sizeof scratch, "dataset") != 0)
    tap_skip_all("cannot make a scratch directory");
  test_arc_excerpt();
  test_arc_quirks();
  test_csqa();
  test_obqa();
  test_generic();
  test_mmlu_original();
  test_mmlu_selection();
  test_mmlu_hf();
  test_mmlu_table();
  for (size_t i = 0; i < LR_ARRAY_LEN(bad_cases); i++)
    test_bad_case(&bad_cases[i]);
  test_size_limits();
  test_file_errors();
  test_obqa_empty_choices();
  test_skip_reasons();
  test_formats();
  test_split();
  test_real_files();
  tmpdir_remove(scratch);
  return tap_done();
}
