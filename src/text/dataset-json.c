/*
 * dataset-json.c: the jsonl formats: ARC and CommonsenseQA (one layout), and the generic one.
 *
 * Each non-blank line is one JSON object, parsed on its own so that a bad line names its line
 * (and jansson's column) and, when skipping, costs only itself.  Keys that a format does not use
 * are ignored: AI2 and Hugging Face exports add fields (question_concept, fact1, ...).
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/json-util.h"
#include "text/dataset-impl.h"

/* The part of a path after its last '/'. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Copies a JSON string value into the dataset; NULL when out of memory. */
static const char *dup_json(lr_ds_builder *b, const json_t *s) {
  return lr_ds_strdup(b->ds, json_string_value(s), json_string_length(s));
}

/* A string field of obj: *out the value, or a bad-line message.  Returns 1 when found, 0 when
 * absent or null and optional, -1 after reporting the line as bad. */
static int get_string(lr_ds_builder *b, int line, const json_t *obj, const char *key,
                      const char *where, bool optional, const json_t **out, lr_status *rc) {
  const json_t *v = json_object_get(obj, key);
  *out = NULL;
  if ((v == NULL || json_is_null(v)) && optional)
    return 0;
  if (v == NULL) {
    *rc = lr_ds_bad(b, line, 0, "field '%s%s' is missing", where, key);
    return -1;
  }
  if (!json_is_string(v)) {
    *rc = lr_ds_bad(b, line, 0, "field '%s%s' must be a string, got %s", where, key,
                    lr_json_kind(v));
    return -1;
  }
  *out = v;
  return 1;
}

/* Parses a line into *root (a JSON object) or reports it as bad (*root NULL). */
static lr_status parse_line(lr_ds_builder *b, int line, const char *s, size_t n, json_t **root) {
  json_error_t jerr;
  lr_status rc;
  /* A repeated key would be silently resolved by jansson (last one wins): refuse it. */
  *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
  if (*root == NULL)
    return lr_ds_bad(b, line, jerr.column > 0 ? jerr.column : 0, "not valid JSON: %s", jerr.text);
  if (json_is_object(*root))
    return LR_OK;
  rc = lr_ds_bad(b, line, 0, "line must be a JSON object, got %s", lr_json_kind(*root));
  json_decref(*root);
  *root = NULL;
  return rc;
}

/* Checks the question and the choices (already in ex) against the text limit. */
static lr_status check_texts(lr_ds_builder *b, int line, const json_t *question,
                             const lr_example *ex, bool *ok) {
  size_t lens[LR_DATASET_MAX_CHOICES];
  for (int k = 0; k < ex->n_choices; k++)
    lens[k] = strlen(ex->choices[k]);
  return lr_ds_check_texts(b, line, json_string_length(question), lens, ex->n_choices, ok);
}

/* ---- ARC and CommonsenseQA ------------------------------------------------------------------ */

/* Reads question.choices into ex (texts) and labels; -1 after reporting the line as bad. */
static int arc_choices(lr_ds_builder *b, int line, const json_t *choices, lr_example *ex,
                       const char **labels, lr_status *rc) {
  size_t n = json_array_size(choices);
  char where[64];
  if (!json_is_array(choices)) {
    *rc = lr_ds_bad(b, line, 0, "field 'question.choices' must be an array, got %s",
                    lr_json_kind(choices));
    return -1;
  }
  if (n < LR_DATASET_MIN_CHOICES || n > LR_DATASET_MAX_CHOICES) {
    *rc = lr_ds_bad(b, line, 0, "question.choices has %zu entries; lorens takes %d to %d", n,
                    LR_DATASET_MIN_CHOICES, LR_DATASET_MAX_CHOICES);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *c = json_array_get(choices, i), *text, *label;
    snprintf(where, sizeof where, "question.choices[%zu].", i);
    if (!json_is_object(c)) {
      *rc = lr_ds_bad(b, line, 0, "question.choices[%zu] must be an object, got %s", i,
                      lr_json_kind(c));
      return -1;
    }
    if (get_string(b, line, c, "text", where, false, &text, rc) < 0 ||
        get_string(b, line, c, "label", where, false, &label, rc) < 0)
      return -1;
    labels[i] = json_string_value(label);
    for (size_t j = 0; j < i; j++)
      if (strcmp(labels[j], labels[i]) == 0) {
        *rc = lr_ds_bad(b, line, 0, "choice label '%s' appears twice", labels[i]);
        return -1;
      }
    if ((ex->choices[i] = dup_json(b, text)) == NULL) {
      *rc = lr_ds_oom(b);
      return -1;
    }
  }
  ex->n_choices = (int)n;
  return 0;
}

/* The answerKey, matched by label: choices keep the file's order, which need not be label order. */
static int arc_answer(lr_ds_builder *b, int line, const json_t *root, bool csqa, lr_example *ex,
                      const char **labels, lr_status *rc) {
  const json_t *key;
  char list[128];
  int found = get_string(b, line, root, "answerKey", "", csqa, &key, rc);
  ex->label = -1;
  if (found <= 0)
    return found;
  for (int i = 0; i < ex->n_choices; i++)
    if (strcmp(labels[i], json_string_value(key)) == 0) {
      ex->label = i;
      return 0;
    }
  lr_ds_join_labels(list, sizeof list, labels, ex->n_choices);
  *rc = lr_ds_bad(b, line, 0, "answerKey '%s' is not one of the choice labels %s",
                  json_string_value(key), list);
  return -1;
}

static lr_status arc_example(lr_ds_builder *b, int line, const json_t *root, bool csqa) {
  const json_t *id, *q = json_object_get(root, "question"), *stem;
  const char *labels[LR_DATASET_MAX_CHOICES];
  lr_example ex;
  lr_status rc = LR_OK;
  bool ok;
  memset(&ex, 0, sizeof ex);
  ex.line = line;
  if (get_string(b, line, root, "id", "", false, &id, &rc) < 0)
    return rc;
  if (q == NULL)
    return lr_ds_bad(b, line, 0, "field 'question' is missing");
  if (!json_is_object(q))
    return lr_ds_bad(b, line, 0, "field 'question' must be an object with stem and choices, got "
                     "%s%s", lr_json_kind(q), json_is_string(q) ? " (that is --format jsonl)" : "");
  if (get_string(b, line, q, "stem", "question.", false, &stem, &rc) < 0)
    return rc;
  if (json_object_get(q, "choices") == NULL)
    return lr_ds_bad(b, line, 0, "field 'question.choices' is missing");
  if (arc_choices(b, line, json_object_get(q, "choices"), &ex, labels, &rc) < 0 ||
      arc_answer(b, line, root, csqa, &ex, labels, &rc) < 0)
    return rc;
  if (json_string_length(id) == 0)
    return lr_ds_bad(b, line, 0, "field 'id' is empty");
  if (lr_ds_blank(json_string_value(stem), json_string_length(stem)))
    return lr_ds_bad(b, line, 0, "the question is empty");
  if ((rc = check_texts(b, line, stem, &ex, &ok)) != LR_OK || !ok)
    return rc;
  if ((ex.id = dup_json(b, id)) == NULL || (ex.question = dup_json(b, stem)) == NULL)
    return lr_ds_oom(b);
  return lr_ds_add(b, &ex);
}

/* ---- generic jsonl -------------------------------------------------------------------------- */

static const char *generic_id(lr_ds_builder *b, int line, const json_t *root, lr_status *rc) {
  const json_t *v = json_object_get(root, "id");
  char buf[LR_ERR_FILE_MAX + 32];
  const char *id;
  if (v == NULL || json_is_null(v))
    snprintf(buf, sizeof buf, "%s:%d", base_name(b->file), line);
  else if (json_is_integer(v))
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else if (json_is_string(v) && json_string_length(v) > 0) {
    if ((id = dup_json(b, v)) == NULL)
      *rc = lr_ds_oom(b);
    return id;
  } else {
    *rc = lr_ds_bad(b, line, 0, "field 'id' must be a non-empty string or an integer, got %s",
                    json_is_string(v) ? "an empty string" : lr_json_kind(v));
    return NULL;
  }
  if ((id = lr_ds_strdup(b->ds, buf, strlen(buf))) == NULL)
    *rc = lr_ds_oom(b);
  return id;
}

static int generic_choices(lr_ds_builder *b, int line, const json_t *choices, lr_example *ex,
                           lr_status *rc) {
  size_t n = json_array_size(choices);
  if (choices == NULL) {
    *rc = lr_ds_bad(b, line, 0, "field 'choices' is missing");
    return -1;
  }
  if (!json_is_array(choices)) {
    *rc = lr_ds_bad(b, line, 0, "field 'choices' must be an array of strings, got %s",
                    lr_json_kind(choices));
    return -1;
  }
  if (n < LR_DATASET_MIN_CHOICES || n > LR_DATASET_MAX_CHOICES) {
    *rc = lr_ds_bad(b, line, 0, "choices has %zu entries; lorens takes %d to %d", n,
                    LR_DATASET_MIN_CHOICES, LR_DATASET_MAX_CHOICES);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *c = json_array_get(choices, i);
    if (!json_is_string(c)) {
      *rc = lr_ds_bad(b, line, 0, "choices[%zu] must be a string, got %s", i, lr_json_kind(c));
      return -1;
    }
    if ((ex->choices[i] = dup_json(b, c)) == NULL) {
      *rc = lr_ds_oom(b);
      return -1;
    }
  }
  ex->n_choices = (int)n;
  return 0;
}

/* "answer": an index 0..n-1, a letter A.. naming one of the n choices, or absent/null. */
static int generic_answer(lr_ds_builder *b, int line, const json_t *a, lr_example *ex,
                          lr_status *rc) {
  int n = ex->n_choices;
  ex->label = -1;
  if (a == NULL || json_is_null(a))
    return 0;
  if (json_is_integer(a)) {
    json_int_t v = json_integer_value(a);
    if (v >= 0 && v < n) {
      ex->label = (int)v;
      return 0;
    }
    *rc = lr_ds_bad(b, line, 0, "answer %" JSON_INTEGER_FORMAT " is out of range for %d choices "
                    "(0 to %d)", v, n, n - 1);
    return -1;
  }
  if (json_is_string(a)) {
    const char *s = json_string_value(a);
    if (json_string_length(a) == 1 && s[0] >= 'A' && s[0] < 'A' + n) {
      ex->label = s[0] - 'A';
      return 0;
    }
    *rc = lr_ds_bad(b, line, 0, "answer '%s' is not a choice letter A to %c", s, 'A' + n - 1);
    return -1;
  }
  *rc = lr_ds_bad(b, line, 0, "field 'answer' must be an index or a letter, got %s",
                  lr_json_kind(a));
  return -1;
}

static lr_status generic_example(lr_ds_builder *b, int line, const json_t *root) {
  const json_t *q;
  lr_example ex;
  lr_status rc = LR_OK;
  bool ok;
  memset(&ex, 0, sizeof ex);
  ex.line = line;
  if (get_string(b, line, root, "question", "", false, &q, &rc) < 0 ||
      generic_choices(b, line, json_object_get(root, "choices"), &ex, &rc) < 0 ||
      generic_answer(b, line, json_object_get(root, "answer"), &ex, &rc) < 0)
    return rc;
  if (lr_ds_blank(json_string_value(q), json_string_length(q)))
    return lr_ds_bad(b, line, 0, "the question is empty");
  if ((rc = check_texts(b, line, q, &ex, &ok)) != LR_OK || !ok)
    return rc;
  if ((ex.id = generic_id(b, line, root, &rc)) == NULL)
    return rc;
  if ((ex.question = dup_json(b, q)) == NULL)
    return lr_ds_oom(b);
  return lr_ds_add(b, &ex);
}

/* ---- the line loop -------------------------------------------------------------------------- */

enum { KIND_ARC, KIND_CSQA, KIND_GENERIC };

static lr_status parse_lines(lr_ds_builder *b, const char *buf, size_t len, int kind) {
  lr_ds_lines it = {buf, len, 0, 0};
  const char *s;
  size_t n;
  while (lr_ds_next_line(&it, &s, &n)) {
    json_t *root;
    lr_status rc;
    if (lr_ds_blank(s, n))
      continue;
    /* Refused before jansson builds a tree of it. */
    if (n > LR_DATASET_MAX_LINE_BYTES) {
      if ((rc = lr_ds_bad_size(b, it.line, "the line", n, LR_DATASET_MAX_LINE_BYTES)) != LR_OK)
        return rc;
      continue;
    }
    if ((rc = parse_line(b, it.line, s, n, &root)) != LR_OK)
      return rc;
    if (root == NULL)
      continue;
    rc = kind == KIND_GENERIC ? generic_example(b, it.line, root)
                              : arc_example(b, it.line, root, kind == KIND_CSQA);
    json_decref(root);
    if (rc != LR_OK)
      return rc;
  }
  return LR_OK;
}

lr_status lr_ds_parse_arc(lr_ds_builder *b, const char *buf, size_t len, bool csqa) {
  return parse_lines(b, buf, len, csqa ? KIND_CSQA : KIND_ARC);
}

lr_status lr_ds_parse_jsonl(lr_ds_builder *b, const char *buf, size_t len) {
  return parse_lines(b, buf, len, KIND_GENERIC);
}
