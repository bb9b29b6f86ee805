/*
 * dataset-mmlu.c: MMLU (Hendrycks et al., "Measuring Massive Multitask Language Understanding").
 *
 * One CSV file per subject and split, <subject>_{dev,val,test}.csv, in two layouts:
 *
 *   original (the paper's data.tar): no header; question,A,B,C,D,answer with answer a letter A-D
 *   Hugging Face export:             header question,choice0,choice1,choice2,choice3,answer;
 *                                    answer an integer 0-3
 *
 * The layout is decided per file by its first record: the export's header, or data.  A path is a
 * single file, or a directory of such files from which a split and a selection of subjects (by
 * name and/or by the paper's four groups) are loaded, in file-name order.  A directory in the
 * original tarball's layout (data/{dev,val,test}/) works too: give the split and the parent.
 */
#include "compat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/csv.h"
#include "base/suggest.h"
#include "text/dataset-impl.h"

/* ---- subjects ------------------------------------------------------------------------------- */

#define STEM "stem"
#define HUM "humanities"
#define SOC "social_sciences"
#define OTHER "other"

/* categories.py of github.com/hendrycks/test: each subject's subcategory, and the subcategories
 * of each group ("STEM": physics, chemistry, biology, computer science, math, engineering;
 * "humanities": history, philosophy, law; "social sciences": politics, culture, economics,
 * geography, psychology; "other (business, health, misc.)": other, business, health). */
static const lr_mmlu_subject subjects[] = {
    {"abstract_algebra", "math", STEM},
    {"anatomy", "health", OTHER},
    {"astronomy", "physics", STEM},
    {"business_ethics", "business", OTHER},
    {"clinical_knowledge", "health", OTHER},
    {"college_biology", "biology", STEM},
    {"college_chemistry", "chemistry", STEM},
    {"college_computer_science", "computer science", STEM},
    {"college_mathematics", "math", STEM},
    {"college_medicine", "health", OTHER},
    {"college_physics", "physics", STEM},
    {"computer_security", "computer science", STEM},
    {"conceptual_physics", "physics", STEM},
    {"econometrics", "economics", SOC},
    {"electrical_engineering", "engineering", STEM},
    {"elementary_mathematics", "math", STEM},
    {"formal_logic", "philosophy", HUM},
    {"global_facts", "other", OTHER},
    {"high_school_biology", "biology", STEM},
    {"high_school_chemistry", "chemistry", STEM},
    {"high_school_computer_science", "computer science", STEM},
    {"high_school_european_history", "history", HUM},
    {"high_school_geography", "geography", SOC},
    {"high_school_government_and_politics", "politics", SOC},
    {"high_school_macroeconomics", "economics", SOC},
    {"high_school_mathematics", "math", STEM},
    {"high_school_microeconomics", "economics", SOC},
    {"high_school_physics", "physics", STEM},
    {"high_school_psychology", "psychology", SOC},
    {"high_school_statistics", "math", STEM},
    {"high_school_us_history", "history", HUM},
    {"high_school_world_history", "history", HUM},
    {"human_aging", "health", OTHER},
    {"human_sexuality", "culture", SOC},
    {"international_law", "law", HUM},
    {"jurisprudence", "law", HUM},
    {"logical_fallacies", "philosophy", HUM},
    {"machine_learning", "computer science", STEM},
    {"management", "business", OTHER},
    {"marketing", "business", OTHER},
    {"medical_genetics", "health", OTHER},
    {"miscellaneous", "other", OTHER},
    {"moral_disputes", "philosophy", HUM},
    {"moral_scenarios", "philosophy", HUM},
    {"nutrition", "health", OTHER},
    {"philosophy", "philosophy", HUM},
    {"prehistory", "history", HUM},
    {"professional_accounting", "other", OTHER},
    {"professional_law", "law", HUM},
    {"professional_medicine", "health", OTHER},
    {"professional_psychology", "psychology", SOC},
    {"public_relations", "politics", SOC},
    {"security_studies", "politics", SOC},
    {"sociology", "culture", SOC},
    {"us_foreign_policy", "politics", SOC},
    {"virology", "health", OTHER},
    {"world_religions", "philosophy", HUM},
};

const lr_mmlu_subject *lr_mmlu_subjects(size_t *n) {
  *n = LR_ARRAY_LEN(subjects);
  return subjects;
}

const lr_mmlu_subject *lr_mmlu_subject_find(const char *name) {
  for (size_t i = 0; i < LR_ARRAY_LEN(subjects); i++)
    if (strcmp(subjects[i].name, name) == 0)
      return &subjects[i];
  return NULL;
}

const char *lr_mmlu_group_parse(const char *name) {
  static const char *const spellings[][2] = {
      {"stem", STEM},           {"humanities", HUM},      {"social_sciences", SOC},
      {"social-sciences", SOC}, {"social sciences", SOC}, {"other", OTHER},
  };
  for (size_t i = 0; i < LR_ARRAY_LEN(spellings); i++)
    if (strcasecmp(name, spellings[i][0]) == 0)
      return spellings[i][1];
  return NULL;
}

/* ---- one CSV file --------------------------------------------------------------------------- */

static const char *const hf_header[] = {"question", "choice0", "choice1", "choice2", "choice3",
                                        "answer"};
#define MMLU_FIELDS 6

/* s[0..n) without spaces around it. */
static void trim(const char **s, size_t *n) {
  while (*n > 0 && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
    (*n)--;
}

static bool is_hf_header(const lr_csv *r) {
  if (r->n_fields != MMLU_FIELDS)
    return false;
  for (size_t i = 0; i < MMLU_FIELDS; i++) {
    size_t n;
    const char *f = lr_csv_field(r, i, &n);
    trim(&f, &n);
    if (n != strlen(hf_header[i]) || strncasecmp(f, hf_header[i], n) != 0)
      return false;
  }
  return true;
}

/* The answer field: a letter A-D (original) or a digit 0-3 (export); -1 when it is neither. */
static int parse_answer(const char *s, size_t n, bool hf) {
  trim(&s, &n);
  if (n != 1)
    return -1;
  if (hf)
    return s[0] >= '0' && s[0] <= '3' ? s[0] - '0' : -1;
  return s[0] >= 'A' && s[0] <= 'D' ? s[0] - 'A' : -1;
}

static lr_status parse_record(lr_ds_builder *b, const lr_csv *r, int line, bool hf,
                              const char *base) {
  lr_example ex;
  char id[LR_ERR_FILE_MAX + 32];
  const char *f[MMLU_FIELDS];
  size_t n[MMLU_FIELDS], bad;
  lr_status rc;
  bool ok;
  memset(&ex, 0, sizeof ex);
  ex.line = line;
  if (r->n_fields != MMLU_FIELDS)
    return lr_ds_bad(b, line, 0, "row has %zu fields, expected 6: question, 4 choices, answer",
                     r->n_fields);
  for (size_t i = 0; i < MMLU_FIELDS; i++) {
    f[i] = lr_csv_field(r, i, &n[i]);
    if (!lr_ds_utf8_ok(f[i], n[i], &bad))
      return lr_ds_bad(b, line, 0, "field %zu is not valid UTF-8 text (byte 0x%02x at offset "
                       "%zu)", i + 1, (unsigned char)f[i][bad], bad);
  }
  if (lr_ds_blank(f[0], n[0]))
    return lr_ds_bad(b, line, 0, "the question is empty");
  if ((ex.label = parse_answer(f[5], n[5], hf)) < 0)
    return lr_ds_bad(b, line, 0, "answer '%.*s' is not %s", (int)(n[5] > 20 ? 20 : n[5]), f[5],
                     hf ? "0, 1, 2 or 3" : "A, B, C or D");
  if ((rc = lr_ds_check_texts(b, line, n[0], n + 1, 4, &ok)) != LR_OK || !ok)
    return rc;
  snprintf(id, sizeof id, "%s:%d", base, line);
  ex.n_choices = 4;
  if ((ex.id = lr_ds_strdup(b->ds, id, strlen(id))) == NULL ||
      (ex.question = lr_ds_strdup(b->ds, f[0], n[0])) == NULL)
    return lr_ds_oom(b);
  for (int i = 0; i < 4; i++)
    if ((ex.choices[i] = lr_ds_strdup(b->ds, f[i + 1], n[i + 1])) == NULL)
      return lr_ds_oom(b);
  return lr_ds_add(b, &ex);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* "abstract_algebra_test.csv" -> "abstract_algebra" into buf; the split ("test") into *split
 * (NULL when the name has no _dev/_val/_test before .csv). */
static void subject_of(const char *name, char *buf, size_t n, const char **split) {
  static const char *const splits[] = {"dev", "val", "test"};
  size_t len = strlen(name);
  *split = NULL;
  if (len > 4 && strcmp(name + len - 4, ".csv") == 0)
    len -= 4;
  for (size_t i = 0; i < LR_ARRAY_LEN(splits); i++) {
    size_t k = strlen(splits[i]);
    if (len > k + 1 && name[len - k - 1] == '_' && strncmp(name + len - k, splits[i], k) == 0) {
      *split = splits[i];
      len -= k + 1;
      break;
    }
  }
  snprintf(buf, n, "%.*s", (int)len, name);
}

lr_status lr_ds_parse_mmlu(lr_ds_builder *b, const char *buf, size_t len) {
  lr_csv r;
  char msg[256];
  const char *base = base_name(b->file);
  bool first = true, hf = false, rows = false;
  lr_status rc = LR_OK;
  int line;
  if (b->subject == NULL) {
    char subject[256];
    const char *split;
    subject_of(base, subject, sizeof subject, &split);
    if ((b->subject = lr_ds_strdup(b->ds, subject, strlen(subject))) == NULL)
      return lr_ds_oom(b);
  }
  lr_csv_init(&r, buf, len);
  for (;;) {
    size_t at = r.pos;
    lr_csv_result res = lr_csv_next(&r, &line, msg, sizeof msg);
    if (res == LR_CSV_END)
      break;
    if (res == LR_CSV_NOMEM) {
      rc = lr_ds_oom(b);
      break;
    }
    if (res == LR_CSV_BAD) {
      rows = true;
      first = false;
      if ((rc = lr_ds_bad(b, line, 0, "%s", msg)) != LR_OK)
        break;
      continue;
    }
    if (r.n_fields == 1 && r.lens[0] == 0)
      continue; /* a blank line */
    if (first && (hf = is_hf_header(&r))) {
      first = false;
      continue;
    }
    first = false;
    rows = true;
    /* A quoted field may span lines: the record is measured in the file, from where it starts. */
    if (r.pos - at > LR_DATASET_MAX_LINE_BYTES)
      rc = lr_ds_bad_size(b, line, "the record", r.pos - at, LR_DATASET_MAX_LINE_BYTES);
    else
      rc = parse_record(b, &r, line, hf, base);
    if (rc != LR_OK)
      break;
  }
  lr_csv_release(&r);
  if (rc == LR_OK && !rows)
    rc = lr_fail_at(b->err, LR_EPARSE, b->file, 0, 0, "file has a header but no examples");
  return rc;
}

/* ---- directories ---------------------------------------------------------------------------- */

/* The subjects named in a comma-separated list, checked against the known subjects and the
 * files present (names[0..n_names)). */
typedef struct selection {
  char **names; /* from the --subjects list */
  size_t n, cap;
  const char *group;
} selection;

static void selection_release(selection *sel) {
  for (size_t i = 0; i < sel->n; i++)
    free(sel->names[i]);
  free(sel->names);
}

static bool is_file_subject(const char *subject, char *const *files, size_t n_files) {
  char buf[256];
  const char *split;
  for (size_t i = 0; i < n_files; i++) {
    subject_of(files[i], buf, sizeof buf, &split);
    if (strcmp(buf, subject) == 0)
      return true;
  }
  return false;
}

static lr_status unknown_subject(lr_ds_builder *b, const char *dir, const char *name) {
  const char *names[LR_ARRAY_LEN(subjects)], *hint;
  for (size_t i = 0; i < LR_ARRAY_LEN(subjects); i++)
    names[i] = subjects[i].name;
  hint = lr_suggest(name, names, LR_ARRAY_LEN(names));
  return lr_fail_at(b->err, LR_EINVAL, dir, 0, 0, "unknown MMLU subject '%s'%s%s%s", name,
                    hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
}

static lr_status parse_selection(lr_ds_builder *b, const char *dir, const lr_dataset_opts *o,
                                 char *const *files, size_t n_files, selection *sel) {
  const char *p = o->subjects;
  memset(sel, 0, sizeof *sel);
  if (o->group && (sel->group = lr_mmlu_group_parse(o->group)) == NULL)
    return lr_fail(b->err, LR_EINVAL, "unknown MMLU group '%s': stem, humanities, "
                   "social_sciences or other", o->group);
  while (p && *p) {
    const char *comma = strchr(p, ','), *s = p;
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    p = comma ? comma + 1 : p + n;
    trim(&s, &n);
    if (n == 0)
      continue;
    if (LR_GROW(sel->names, sel->cap, sel->n + 1, NULL) != LR_OK)
      return lr_ds_oom(b);
    if ((sel->names[sel->n] = strndup(s, n)) == NULL)
      return lr_ds_oom(b);
    sel->n++;
    if (!lr_mmlu_subject_find(sel->names[sel->n - 1]) &&
        !is_file_subject(sel->names[sel->n - 1], files, n_files))
      return unknown_subject(b, dir, sel->names[sel->n - 1]);
  }
  if (o->subjects && sel->n == 0)
    return lr_fail(b->err, LR_EINVAL, "the subject list '%s' names no subject", o->subjects);
  return LR_OK;
}

static bool selected(const selection *sel, const char *subject) {
  const lr_mmlu_subject *known = lr_mmlu_subject_find(subject);
  bool in_list = sel->n == 0;
  for (size_t i = 0; i < sel->n && !in_list; i++)
    in_list = strcmp(sel->names[i], subject) == 0;
  return in_list && (sel->group == NULL || (known && strcmp(known->group, sel->group) == 0));
}

static int csv_file(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0;
}

/* Decides which split to load: the one asked for, or the only one present. */
static lr_status pick_split(lr_ds_builder *b, const char *dir, const lr_dataset_opts *o,
                            char *const *files, size_t n_files, const char **split) {
  bool seen[3] = {false, false, false};
  static const char *const names[] = {"dev", "val", "test"};
  int n_seen = 0;
  char subject[256], list[64] = "";
  const char *s;
  for (size_t i = 0; i < n_files; i++) {
    subject_of(files[i], subject, sizeof subject, &s);
    for (int k = 0; k < 3; k++)
      if (s && strcmp(s, names[k]) == 0 && !seen[k]) {
        seen[k] = true;
        n_seen++;
      }
  }
  if (o->split) {
    for (int k = 0; k < 3; k++)
      if (strcmp(o->split, names[k]) == 0) {
        *split = names[k];
        return LR_OK;
      }
    return lr_fail(b->err, LR_EINVAL, "unknown MMLU split '%s': dev, val or test", o->split);
  }
  if (n_seen == 0)
    return lr_fail_at(b->err, LR_ENOTFOUND, dir, 0, 0, "no MMLU files here (named "
                      "<subject>_dev.csv, <subject>_val.csv or <subject>_test.csv)");
  for (int k = 0; k < 3; k++)
    if (seen[k]) {
      *split = names[k];
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
               names[k]);
    }
  if (n_seen > 1)
    return lr_fail_at(b->err, LR_EINVAL, dir, 0, 0, "holds more than one split (%s): choose one "
                      "(--split)", list);
  return LR_OK;
}

static lr_status load_file(lr_ds_builder *b, const char *path, const char *subject) {
  char *text;
  size_t len;
  lr_status rc = lr_ds_read_file(path, &text, &len, b->err);
  if (rc != LR_OK)
    return rc;
  b->subject = lr_ds_strdup(b->ds, subject, strlen(subject));
  rc = b->subject ? lr_ds_parse_file(b, text, len, path, LR_DATASET_MMLU) : lr_ds_oom(b);
  free(text);
  return rc;
}

/* Every listed subject must have its file. */
static lr_status check_listed(lr_ds_builder *b, const char *dir, const selection *sel,
                              const char *split, const bool *found) {
  for (size_t i = 0; i < sel->n; i++)
    if (!found[i])
      return lr_fail_at(b->err, LR_ENOTFOUND, dir, 0, 0, "no file for subject '%s' (looked for "
                        "%s_%s.csv)", sel->names[i], sel->names[i], split);
  return LR_OK;
}

static lr_status load_selected(lr_ds_builder *b, const char *dir, struct dirent **ents, int n,
                               const char *split, const selection *sel) {
  char path[4096], subject[256];
  bool *found = calloc(sel->n + 1, sizeof *found);
  lr_status rc = LR_OK;
  size_t loaded = 0;
  if (found == NULL)
    return lr_ds_oom(b);
  for (int i = 0; i < n && rc == LR_OK; i++) {
    const char *s;
    subject_of(ents[i]->d_name, subject, sizeof subject, &s);
    if (s == NULL || strcmp(s, split) != 0)
      continue;
    for (size_t k = 0; k < sel->n; k++)
      found[k] |= strcmp(sel->names[k], subject) == 0;
    if (!selected(sel, subject))
      continue;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name) >= sizeof path)
      rc = lr_fail_at(b->err, LR_EINVAL, dir, 0, 0, "path too long");
    else
      rc = load_file(b, path, subject);
    loaded++;
  }
  if (rc == LR_OK)
    rc = check_listed(b, dir, sel, split, found);
  if (rc == LR_OK && loaded == 0 && sel->n == 0 && sel->group == NULL)
    rc = lr_fail_at(b->err, LR_ENOTFOUND, dir, 0, 0, "no files named <subject>_%s.csv here",
                    split);
  else if (rc == LR_OK && loaded == 0)
    rc = lr_fail_at(b->err, LR_ENOTFOUND, dir, 0, 0, "no %s file matches the subject selection",
                    split);
  free(found);
  return rc;
}

static lr_status load_dir(lr_ds_builder *b, const char *path, const lr_dataset_opts *o) {
  char sub[4096];
  struct stat st;
  struct dirent **ents = NULL;
  char **files = NULL;
  const char *split = NULL;
  selection sel = {NULL, 0, 0, NULL};
  int n;
  lr_status rc;
  /* The original tarball keeps each split in its own directory: data/test/<subject>_test.csv. */
  if (o->split && snprintf(sub, sizeof sub, "%s/%s", path, o->split) < (int)sizeof sub &&
      stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
    path = sub;
  if ((n = scandir(path, &ents, csv_file, alphasort)) < 0)
    return lr_fail_at(b->err, LR_EIO, path, 0, 0, "cannot read directory: %s", strerror(errno));
  if ((files = calloc((size_t)n + 1, sizeof *files)) == NULL)
    rc = lr_ds_oom(b);
  else {
    for (int i = 0; i < n; i++)
      files[i] = ents[i]->d_name;
    rc = pick_split(b, path, o, files, (size_t)n, &split);
  }
  if (rc == LR_OK)
    rc = parse_selection(b, path, o, files, (size_t)n, &sel);
  if (rc == LR_OK)
    rc = load_selected(b, path, ents, n, split, &sel);
  selection_release(&sel);
  free(files);
  for (int i = 0; i < n; i++)
    free(ents[i]);
  free(ents);
  return rc;
}

lr_status lr_ds_load_mmlu(lr_ds_builder *b, const char *path, const lr_dataset_opts *o) {
  struct stat st;
  char subject[256];
  const char *split;
  if (stat(path, &st) != 0)
    return lr_fail_at(b->err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, path, 0, 0,
                      "cannot open: %s", strerror(errno));
  if (S_ISDIR(st.st_mode))
    return load_dir(b, path, o);
  subject_of(base_name(path), subject, sizeof subject, &split);
  return load_file(b, path, subject);
}
