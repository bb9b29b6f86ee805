/*
 * grid-schema.c: the validator of grid files against the field tables of grid-fields.c (see
 * grid-schema.h).
 */
#include "compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json-util.h"
#include "base/suggest.h"
#include "grid/grid-schema-impl.h"
#include "model/adapters.h"

bool lr_schema_is_mapping(const lr_field *f) {
  return f->kind == F_MAP || f->kind == F_DATASET || f->kind == F_DATASET_NULL;
}

bool lr_schema_is_required(const lr_field *f) {
  return f->required;
}

const char *lr_schema_key(const lr_field *f) {
  return f->key;
}

const lr_field *lr_schema_child(const lr_field *map, const char *key, size_t key_len) {
  if (map->sub == NULL || strlen(key) < key_len)
    return NULL;
  for (size_t i = 0; i < map->n_sub; i++)
    if (strlen(map->sub[i].key) == key_len && memcmp(map->sub[i].key, key, key_len) == 0)
      return &map->sub[i];
  return NULL;
}

size_t lr_schema_child_names(const lr_field *map, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < map->n_sub && n < max; i++)
    names[n++] = map->sub[i].key;
  return n;
}

json_t *lr_schema_default(const lr_field *f) {
  json_t *o;
  if (f->required)
    return NULL;
  if (f->kind != F_MAP)
    return json_loads(f->dflt, JSON_DECODE_ANY, NULL);
  if ((o = json_object()) == NULL)
    return NULL;
  for (size_t i = 0; i < f->n_sub; i++)
    if (!f->sub[i].implicit &&
        json_object_set_new(o, f->sub[i].key, lr_schema_default(&f->sub[i])) != 0) {
      json_decref(o);
      return NULL;
    }
  return o;
}

/* ---- messages ------------------------------------------------------------------------------------- */

static lr_status fail(const lr_vctx *vc, const lr_ynode *n, const char *path, const char *fmt, ...)
    LR_PRINTF(4, 5);
static lr_status fail(const lr_vctx *vc, const lr_ynode *n, const char *path, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(vc->err, LR_EINVAL, vc->file, n ? n->line : 0, n ? n->col : 0, "%s%s%s", path,
                    path[0] ? ": " : "", msg);
}

/* A scalar's text for a message: at most 60 bytes (whole UTF-8 characters), control characters
 * as '?', "..." when cut. */
static void excerpt(const lr_ynode *n, char *buf, size_t size) {
  size_t len = n->len < 60 ? n->len : 60, j = 0;
  while (len < n->len && len > 0 && ((unsigned char)n->text[len] & 0xC0) == 0x80)
    len--;
  for (size_t i = 0; i < len && j + 4 < size; i++)
    buf[j++] = (unsigned char)n->text[i] < 0x20 || n->text[i] == 0x7f ? '?' : n->text[i];
  if (len < n->len && j + 4 < size)
    memcpy(buf + j, "...", 3), j += 3;
  buf[j] = '\0';
}

/* What a node is, for "must be X, not Y". */
static void describe(const lr_ynode *n, char *buf, size_t size) {
  char text[80];
  long long i;
  double d;
  bool b;
  if (n->kind != LR_YAML_SCALAR) {
    snprintf(buf, size, "%s", n->kind == LR_YAML_MAP ? "a mapping" : "a list");
    return;
  }
  excerpt(n, text, sizeof text);
  switch (lr_yaml_scalar_type(n, &i, &d, &b)) {
  case LR_YS_NULL:
    snprintf(buf, size, "null");
    break;
  case LR_YS_BOOL:
    snprintf(buf, size, "a boolean (%s)", text);
    break;
  case LR_YS_INT:
  case LR_YS_INT_RANGE:
    snprintf(buf, size, "an integer (%s)", text);
    break;
  case LR_YS_REAL:
    snprintf(buf, size, "a number (%s)", text);
    break;
  case LR_YS_STRING:
    snprintf(buf, size, "a string ('%s')", text);
    break;
  }
}

static lr_status fail_type(const lr_vctx *vc, const lr_ynode *n, const char *path, const char *want) {
  char got[128];
  describe(n, got, sizeof got);
  return fail(vc, n, path, "must be %s, not %s", want, got);
}

/* "an integer >= 1", "a number in [0, 1)", "a number > 0". */
static void range_text(const lr_field *f, char *buf, size_t size) {
  const char *what = f->kind == F_REAL ? "a number" : "an integer";
  if ((f->bounds & B_LO) && (f->bounds & B_HI))
    snprintf(buf, size, "%s in %c%g, %g%c", what, f->bounds & B_LO_OPEN ? '(' : '[', f->lo, f->hi,
             f->bounds & B_HI_OPEN ? ')' : ']');
  else if (f->bounds & B_LO)
    snprintf(buf, size, "%s %s %g", what, f->bounds & B_LO_OPEN ? ">" : ">=", f->lo);
  else
    snprintf(buf, size, "%s", what);
}

static bool in_range(const lr_field *f, double v) {
  if ((f->bounds & B_LO) && (f->bounds & B_LO_OPEN ? v <= f->lo : v < f->lo))
    return false;
  if ((f->bounds & B_HI) && (f->bounds & B_HI_OPEN ? v >= f->hi : v > f->hi))
    return false;
  return true;
}

static void join_key(char *buf, const char *path, const char *key, size_t key_len) {
  if (key_len > 64)
    key_len = 64;
  snprintf(buf, LR_KEY_PATH_MAX, "%s%s%.*s", path, path[0] ? "." : "", (int)key_len, key);
}

static void join_index(char *buf, const char *path, size_t i) {
  snprintf(buf, LR_KEY_PATH_MAX, "%s[%zu]", path, i);
}

static lr_status oom(const lr_vctx *vc) {
  return lr_fail(vc->err, LR_ENOMEM, "out of memory");
}

/* ---- scalars -------------------------------------------------------------------------------------- */

static bool is_null(const lr_ynode *n) {
  long long i;
  double d;
  bool b;
  return n->kind == LR_YAML_SCALAR && lr_yaml_scalar_type(n, &i, &d, &b) == LR_YS_NULL;
}

static bool is_string(const lr_ynode *n) {
  long long i;
  double d;
  bool b;
  return n->kind == LR_YAML_SCALAR && lr_yaml_scalar_type(n, &i, &d, &b) == LR_YS_STRING;
}

static lr_status check_int(const lr_field *f, const lr_ynode *n, const char *path,
                           const lr_vctx *vc, json_t **out) {
  char want[96];
  long long i = 0;
  double d;
  bool b;
  lr_yscalar t = n->kind == LR_YAML_SCALAR ? lr_yaml_scalar_type(n, &i, &d, &b) : LR_YS_STRING;
  range_text(f, want, sizeof want);
  if (t == LR_YS_INT_RANGE)
    return fail(vc, n, path, "must be %s, not %s (too large)", want, n->text);
  if (t != LR_YS_INT)
    return fail_type(vc, n, path, want);
  if (!in_range(f, (double)i) || ((f->bounds & B_LO) && i < (long long)f->lo))
    return fail(vc, n, path, "must be %s, not %s", want, n->text);
  return (*out = json_integer(i)) ? LR_OK : oom(vc);
}

static lr_status check_real(const lr_field *f, const lr_ynode *n, const char *path,
                            const lr_vctx *vc, json_t **out) {
  char want[96];
  long long i = 0;
  double d = 0;
  bool b;
  lr_yscalar t = n->kind == LR_YAML_SCALAR ? lr_yaml_scalar_type(n, &i, &d, &b) : LR_YS_STRING;
  range_text(f, want, sizeof want);
  if (t == LR_YS_INT || t == LR_YS_INT_RANGE)
    d = t == LR_YS_INT ? (double)i : strtod(n->text, NULL);
  else if (t != LR_YS_REAL)
    return fail_type(vc, n, path, want);
  if (!isfinite(d) || !in_range(f, d))
    return fail(vc, n, path, "must be %s, not %s", want, n->text);
  if (d == 0)
    d = 0.0; /* -0.0 and 0.0 are one value */
  return (*out = json_real(d)) ? LR_OK : oom(vc);
}

static lr_status check_bool(const lr_ynode *n, const char *path, const lr_vctx *vc, json_t **out) {
  long long i;
  double d;
  bool b = false;
  if (n->kind != LR_YAML_SCALAR || lr_yaml_scalar_type(n, &i, &d, &b) != LR_YS_BOOL)
    return fail_type(vc, n, path, "true or false");
  *out = json_boolean(b);
  return LR_OK;
}

/* A string value: a quoted scalar, or a plain one the core schema does not read as another type. */
static lr_status check_str(const lr_ynode *n, const char *path, const lr_vctx *vc, json_t **out) {
  if (!is_string(n))
    return fail_type(vc, n, path, "a string");
  if (n->len == 0)
    return fail(vc, n, path, "must not be empty");
  if (strlen(n->text) != n->len)
    return fail(vc, n, path, "must not contain NUL characters");
  if ((*out = json_stringn(n->text, n->len)) == NULL)
    return fail(vc, n, path, "is not valid UTF-8");
  return LR_OK;
}

/* Is text (len bytes) one of "a|b|c"? */
static bool is_choice(const char *choices, const char *text, size_t len) {
  for (const char *p = choices; *p;) {
    size_t n = strcspn(p, "|");
    if (n == len && memcmp(p, text, len) == 0)
      return true;
    p += n + (p[n] == '|');
  }
  return false;
}

/* The choice closest to word (copied into guess), or false. */
static bool suggest_choice(const char *choices, const char *word, char guess[32]) {
  char names[16][32];
  const char *ptrs[16], *best;
  size_t n = 0;
  for (const char *p = choices; *p && n < LR_ARRAY_LEN(names);) {
    size_t len = strcspn(p, "|");
    snprintf(names[n], sizeof names[n], "%.*s", (int)len, p);
    ptrs[n] = names[n];
    n++;
    p += len + (p[len] == '|');
  }
  if (strlen(word) >= 64 || (best = lr_suggest(word, ptrs, n)) == NULL)
    return false;
  snprintf(guess, 32, "%s", best);
  return true;
}

static lr_status check_enum(const lr_field *f, const lr_ynode *n, const char *path,
                            const lr_vctx *vc, json_t **out) {
  char want[160], text[80], guess[32];
  snprintf(want, sizeof want, "one of %s%s", f->choices, f->kind == F_ENUM_NULL ? " or null" : "");
  if (!is_string(n))
    return fail_type(vc, n, path, want);
  if (is_choice(f->choices, n->text, n->len) && strlen(n->text) == n->len)
    return (*out = json_string(n->text)) ? LR_OK : oom(vc);
  excerpt(n, text, sizeof text);
  if (!suggest_choice(f->choices, n->text, guess))
    return fail(vc, n, path, "must be %s, not '%s'", want, text);
  return fail(vc, n, path, "must be %s, not '%s' (did you mean '%s'?)", want, text, guess);
}

/* ---- LoRA targets and MMLU subjects --------------------------------------------------------------- */

static lr_status parse_targets(const lr_ynode *n, const char *path, const lr_vctx *vc,
                               uint32_t *mask) {
  lr_err e;
  uint32_t m;
  if (!is_string(n))
    return fail_type(vc, n, path, "a LoRA target name (q,k,v,o,gate,up,down or all)");
  if (n->len == 0 || n->text[0] == ',' || n->text[n->len - 1] == ',' || strstr(n->text, ",,"))
    return fail(vc, n, path, "an empty LoRA target name in '%.60s'", n->text);
  lr_err_init(&e);
  if (strlen(n->text) != n->len || lr_targets_parse(n->text, &m, &e) != LR_OK)
    return fail(vc, n, path, "%s", e.msg[0] ? e.msg : "unknown LoRA target");
  *mask |= m;
  return LR_OK;
}

static lr_status check_targets(const lr_ynode *n, const char *path, const lr_vctx *vc,
                               json_t **out) {
  char sub[LR_KEY_PATH_MAX];
  uint32_t mask = 0;
  lr_status rc = LR_OK;
  json_t *list;
  if (n->kind == LR_YAML_SEQ) {
    if (n->n == 0)
      return fail(vc, n, path, "must list at least one LoRA target");
    for (size_t i = 0; i < n->n && rc == LR_OK; i++) {
      join_index(sub, path, i);
      rc = parse_targets(n->items[i], sub, vc, &mask);
    }
  } else {
    rc = parse_targets(n, path, vc, &mask);
  }
  if (rc != LR_OK)
    return rc;
  if ((list = json_array()) == NULL)
    return oom(vc);
  for (int t = 0; t < LORENS_LORA_TARGET_COUNT; t++)
    if ((mask & (1u << t)) && json_array_append_new(list, json_string(lr_target_name(t))) != 0) {
      json_decref(list);
      return oom(vc);
    }
  *out = list;
  return LR_OK;
}

static lr_status check_subject(const lr_ynode *n, const char *path, const lr_vctx *vc) {
  if (!is_string(n))
    return fail_type(vc, n, path, "an MMLU subject name");
  if (n->len == 0 || strlen(n->text) != n->len || strchr(n->text, ','))
    return fail(vc, n, path, "must be one MMLU subject name (no commas)");
  return LR_OK;
}

/* null, "a,b" or [a, b]; the list is stored as the comma-separated string the loader takes. */
static lr_status check_subjects(const lr_ynode *n, const char *path, const lr_vctx *vc,
                                json_t **out) {
  char sub[LR_KEY_PATH_MAX], *text;
  size_t len = 0;
  lr_status rc = LR_OK;
  if (is_null(n))
    return (*out = json_null()), LR_OK;
  if (n->kind != LR_YAML_SEQ)
    return n->kind == LR_YAML_SCALAR && is_string(n) ? check_str(n, path, vc, out)
                                                      : fail_type(vc, n, path, "a list of MMLU subjects, a comma-separated string or null");
  if (n->n == 0)
    return fail(vc, n, path, "must list at least one subject (or be null for all)");
  for (size_t i = 0; i < n->n && rc == LR_OK; i++) {
    join_index(sub, path, i);
    rc = check_subject(n->items[i], sub, vc);
    if (rc == LR_OK)
      len += n->items[i]->len + 1;
  }
  if (rc != LR_OK)
    return rc;
  if ((text = malloc(len)) == NULL)
    return oom(vc);
  len = 0;
  for (size_t i = 0; i < n->n; i++) {
    memcpy(text + len, n->items[i]->text, n->items[i]->len);
    len += n->items[i]->len;
    text[len++] = i + 1 < n->n ? ',' : '\0';
  }
  *out = json_string(text);
  free(text);
  return *out ? LR_OK : fail(vc, n, path, "is not valid UTF-8");
}

/* ---- mappings and lists --------------------------------------------------------------------------- */

static lr_status validate(const lr_field *f, const lr_ynode *n, const char *path,
                          const lr_vctx *vc, json_t **out);

static lr_status unknown_key(const lr_field *f, const lr_ynode *key, const char *path,
                             const char *const *extra, size_t n_extra, const lr_vctx *vc) {
  const char *names[32], *guess = NULL;
  char sub[LR_KEY_PATH_MAX], text[80];
  size_t n = lr_schema_child_names(f, names, LR_ARRAY_LEN(names));
  for (size_t i = 0; i < n_extra && n < LR_ARRAY_LEN(names); i++)
    names[n++] = extra[i];
  excerpt(key, text, sizeof text);
  join_key(sub, path, text, strlen(text));
  if (strlen(key->text) == key->len && key->len < 64)
    guess = lr_suggest(key->text, names, n);
  if (guess)
    return fail(vc, key, sub, "unknown key '%s' (did you mean '%s'?)", text, guess);
  return fail(vc, key, sub, "unknown key '%s'", text);
}

static lr_status check_map(const lr_field *f, const lr_ynode *n, const char *path,
                           bool (*skip)(const char *key), const char *const *extra,
                           size_t n_extra, const lr_vctx *vc, json_t **out) {
  char sub[LR_KEY_PATH_MAX];
  lr_status rc = LR_OK;
  json_t *o = json_object(), *v;
  if (o == NULL)
    return oom(vc);
  for (size_t i = 0; i < n->n && rc == LR_OK; i++) {
    const lr_ynode *key = n->keys[i];
    const lr_field *child = lr_schema_child(f, key->text, key->len);
    if (child == NULL && skip && strlen(key->text) == key->len && skip(key->text))
      continue;
    if (child == NULL) {
      rc = unknown_key(f, key, path, extra, n_extra, vc);
      break;
    }
    join_key(sub, path, child->key, strlen(child->key));
    if ((rc = validate(child, n->items[i], sub, vc, &v)) == LR_OK && json_object_set_new(o, child->key, v) != 0)
      rc = oom(vc);
  }
  for (size_t i = 0; i < f->n_sub && rc == LR_OK; i++) {
    const lr_field *child = &f->sub[i];
    if (json_object_get(o, child->key) || child->implicit)
      continue;
    if (child->required)
      rc = fail(vc, n, path, "missing required key '%s'", child->key);
    else if (json_object_set_new(o, child->key, lr_schema_default(child)) != 0)
      rc = oom(vc);
  }
  if (rc != LR_OK) {
    json_decref(o);
    return rc;
  }
  *out = o;
  return LR_OK;
}

/* subjects, group and split filter MMLU directories; on another format they would be ignored
 * silently, so they are refused. */
static lr_status check_mmlu_only(const lr_ynode *n, const json_t *ds, const char *path,
                                 const lr_vctx *vc) {
  static const char *const keys[] = {"subjects", "group", "split"};
  const char *format = json_string_value(json_object_get(ds, "format"));
  char sub[LR_KEY_PATH_MAX];
  if (format == NULL || strcmp(format, "mmlu") == 0)
    return LR_OK;
  for (size_t i = 0; i < LR_ARRAY_LEN(keys); i++) {
    const lr_ynode *key;
    if (!json_is_null(json_object_get(ds, keys[i])) && lr_ynode_get(n, keys[i], &key)) {
      join_key(sub, path, keys[i], strlen(keys[i]));
      return fail(vc, key, sub, "only for format mmlu (this data set's format is %s)", format);
    }
  }
  return LR_OK;
}

static lr_status check_dataset(const lr_field *f, const lr_ynode *n, const char *path,
                               const lr_vctx *vc, json_t **out) {
  lr_status rc;
  if (n->kind != LR_YAML_MAP)
    return fail_type(vc, n, path, f->kind == F_DATASET_NULL ? "a data set mapping or null"
                                                            : "a data set mapping (format, path ...)");
  if ((rc = check_map(f, n, path, NULL, NULL, 0, vc, out)) != LR_OK)
    return rc;
  if ((rc = check_mmlu_only(n, *out, path, vc)) != LR_OK) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

/* The name a data set goes by: its own, or the default from its path. */
static void dataset_name(const json_t *ds, char *buf, size_t size) {
  const char *name = json_string_value(json_object_get(ds, "name"));
  if (name)
    snprintf(buf, size, "%s", name);
  else
    lr_dataset_default_name(json_string_value(json_object_get(ds, "path")), buf, size);
}

static lr_status check_eval_list(const lr_field *f, const lr_ynode *n, const char *path,
                                 const lr_vctx *vc, json_t **out) {
  char sub[LR_KEY_PATH_MAX], name[256], other[256];
  lr_status rc = LR_OK;
  json_t *list, *ds = NULL;
  if (is_null(n))
    return (*out = json_array()) ? LR_OK : oom(vc);
  if (n->kind != LR_YAML_SEQ)
    return fail_type(vc, n, path, "a list of data set mappings");
  if ((list = json_array()) == NULL)
    return oom(vc);
  for (size_t i = 0; i < n->n && rc == LR_OK; i++) {
    join_index(sub, path, i);
    if ((rc = check_dataset(f, n->items[i], sub, vc, &ds)) == LR_OK && json_array_append_new(list, ds) != 0)
      rc = oom(vc);
    if (rc == LR_OK)
      dataset_name(json_array_get(list, i), name, sizeof name);
    for (size_t j = 0; j < i && rc == LR_OK; j++) {
      dataset_name(json_array_get(list, j), other, sizeof other);
      if (strcmp(name, other) == 0)
        rc = fail(vc, n->items[i], sub, "evaluation set name '%s' is already used by %s[%zu]; give "
                  "one of them a name", name, path, j);
    }
  }
  if (rc != LR_OK) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return LR_OK;
}

static lr_status check_int_list(const lr_field *f, const lr_ynode *n, const char *path,
                                const lr_vctx *vc, json_t **out) {
  char sub[LR_KEY_PATH_MAX];
  lr_status rc = LR_OK;
  json_t *list, *v;
  if (is_null(n))
    return (*out = json_array()) ? LR_OK : oom(vc);
  if (n->kind != LR_YAML_SEQ)
    return fail_type(vc, n, path, "a list of integers");
  if ((list = json_array()) == NULL)
    return oom(vc);
  for (size_t i = 0; i < n->n && rc == LR_OK; i++) {
    join_index(sub, path, i);
    if ((rc = check_int(f, n->items[i], sub, vc, &v)) == LR_OK && json_array_append_new(list, v) != 0)
      rc = oom(vc);
  }
  if (rc != LR_OK) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return LR_OK;
}

static lr_status validate(const lr_field *f, const lr_ynode *n, const char *path,
                          const lr_vctx *vc, json_t **out) {
  *out = NULL;
  switch (f->kind) {
  case F_MAP:
    if (is_null(n))
      return check_map(f, &(lr_ynode){.kind = LR_YAML_MAP, .line = n->line, .col = n->col}, path,
                       NULL, NULL, 0, vc, out);
    if (n->kind != LR_YAML_MAP)
      return fail_type(vc, n, path, "a mapping");
    return check_map(f, n, path, NULL, NULL, 0, vc, out);
  case F_STR_NULL:
    if (is_null(n))
      return (*out = json_null()), LR_OK;
    return check_str(n, path, vc, out);
  case F_STR:
    return check_str(n, path, vc, out);
  case F_INT:
    return check_int(f, n, path, vc, out);
  case F_REAL:
    return check_real(f, n, path, vc, out);
  case F_BOOL:
    return check_bool(n, path, vc, out);
  case F_ENUM_NULL:
    if (is_null(n))
      return (*out = json_null()), LR_OK;
    return check_enum(f, n, path, vc, out);
  case F_ENUM:
    return check_enum(f, n, path, vc, out);
  case F_TARGETS:
    return check_targets(n, path, vc, out);
  case F_SUBJECTS:
    return check_subjects(n, path, vc, out);
  case F_DATASET_NULL:
    if (is_null(n))
      return (*out = json_null()), LR_OK;
    return check_dataset(f, n, path, vc, out);
  case F_DATASET:
    return check_dataset(f, n, path, vc, out);
  case F_EVAL_LIST:
    return check_eval_list(f, n, path, vc, out);
  case F_INT_LIST:
    return check_int_list(f, n, path, vc, out);
  }
  return fail(vc, n, path, "internal error: unknown field kind");
}

lr_status lr_schema_check_string(const lr_ynode *n, const char *path, const lr_vctx *vc,
                                 json_t **out) {
  *out = NULL;
  return check_str(n, path, vc, out);
}

lr_status lr_schema_validate(const lr_field *f, const lr_ynode *n, const char *path,
                             const lr_vctx *vc, json_t **out) {
  return validate(f, n, path, vc, out);
}

lr_status lr_schema_validate_top(const lr_field *f, const lr_ynode *n, bool (*skip)(const char *key),
                                 const char *const *extra, size_t n_extra, const lr_vctx *vc,
                                 json_t **out) {
  *out = NULL;
  if (n->kind != LR_YAML_MAP)
    return fail_type(vc, n, "", "a mapping of keys (name, model, data ...)");
  return check_map(f, n, "", skip, extra, n_extra, vc, out);
}

/* ---- paths ---------------------------------------------------------------------------------------- */

const lr_field *lr_schema_find(const lr_field *root, const char *path, char *msg, size_t msg_len) {
  const lr_field *f = root;
  const char *p = path;
  for (;;) {
    size_t len = strcspn(p, ".");
    const lr_field *child;
    if (!lr_schema_is_mapping(f)) {
      snprintf(msg, msg_len, "%.*s is not a mapping: a grid can only vary it as a whole",
               (int)(p - 1 - path), path);
      return NULL;
    }
    if ((child = lr_schema_child(f, p, len)) == NULL) {
      const char *names[32], *guess = NULL;
      char word[64];
      size_t n = lr_schema_child_names(f, names, LR_ARRAY_LEN(names));
      snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), p);
      if (len < 63)
        guess = lr_suggest(word, names, n);
      snprintf(msg, msg_len, "unknown key '%s'%s%s%s", word, guess ? " (did you mean '" : "",
               guess ? guess : "", guess ? "'?)" : "");
      return NULL;
    }
    f = child;
    if (p[len] == '\0')
      return f;
    p += len + 1;
  }
}

/* ---- resolution ----------------------------------------------------------------------------------- */

void lr_dataset_default_name(const char *path, char *buf, size_t n) {
  size_t len = path ? strlen(path) : 0, start, dot;
  while (len > 1 && path[len - 1] == '/')
    len--;
  start = len;
  while (start > 0 && path[start - 1] != '/')
    start--;
  dot = len;
  while (dot > start + 1 && path[dot - 1] != '.')
    dot--;
  if (dot > start + 1)
    len = dot - 1;
  if (len <= start)
    snprintf(buf, n, "data");
  else
    snprintf(buf, n, "%.*s", (int)(len - start), path + start);
}

static bool resolve_dataset(json_t *ds, const char *path, char *msg, size_t msg_len) {
  const char *format = json_string_value(json_object_get(ds, "format"));
  char name[256];
  if (!json_is_object(ds) || format == NULL || !json_is_string(json_object_get(ds, "path"))) {
    snprintf(msg, msg_len, "%s: not a data set", path);
    return false;
  }
  if (strcmp(format, "mmlu") != 0 && !(json_is_null(json_object_get(ds, "subjects")) &&
                                       json_is_null(json_object_get(ds, "group")) &&
                                       json_is_null(json_object_get(ds, "split")))) {
    snprintf(msg, msg_len, "%s: subjects, group and split are only for format mmlu (this data "
             "set's format is %s)", path, format);
    return false;
  }
  if (json_is_null(json_object_get(ds, "name"))) {
    dataset_name(ds, name, sizeof name);
    if (json_object_set_new(ds, "name", json_string(name)) != 0) {
      snprintf(msg, msg_len, "out of memory");
      return false;
    }
  }
  return true;
}

static double real_at(const json_t *config, const char *path) {
  return json_number_value(lr_json_path_get(config, path));
}

/*
 * What the schema allows field by field but training cannot do, found before anything runs:
 * decoupled weight decay multiplies the weights by (1 - lr * decay) each step, which flips and
 * grows them once lr * decay >= 1; early stopping needs a validation set.
 */
static bool check_training(const json_t *config, char *msg, size_t msg_len) {
  static const char *const decays[] = {"regularizer.weight_decay.a", "regularizer.weight_decay.b"};
  const char *mode = json_string_value(lr_json_path_get(config, "regularizer.weight_decay.mode"));
  const char *es = json_string_value(lr_json_path_get(config, "regularizer.early_stopping.metric"));
  double lr = real_at(config, "train.lr");
  for (size_t i = 0; mode && strcmp(mode, "decoupled") == 0 && i < 2; i++) {
    double decay = real_at(config, decays[i]);
    if (lr * decay >= 1) {
      snprintf(msg, msg_len,
               "%s: decoupled decay %g with train.lr %g gives lr * decay = %g >= 1, which flips "
               "and grows the weights every step; lower one of them (or use mode: l2)",
               decays[i], decay, lr, lr * decay);
      return false;
    }
  }
  if (es && strcmp(es, "none") != 0 && json_is_null(lr_json_path_get(config, "data.validation"))) {
    snprintf(msg, msg_len,
             "regularizer.early_stopping.metric: %s needs a validation set (data.validation)", es);
    return false;
  }
  return true;
}

bool lr_schema_resolve(json_t *config, char *msg, size_t msg_len) {
  json_t *data = json_object_get(config, "data");
  json_t *val = json_object_get(data, "validation"), *eval = json_object_get(data, "eval");
  char path[64];
  if (!resolve_dataset(json_object_get(data, "train"), "data.train", msg, msg_len))
    return false;
  if (!json_is_null(val) && !resolve_dataset(val, "data.validation", msg, msg_len))
    return false;
  for (size_t i = 0; i < json_array_size(eval); i++) {
    snprintf(path, sizeof path, "data.eval[%zu]", i);
    if (!resolve_dataset(json_array_get(eval, i), path, msg, msg_len))
      return false;
    for (size_t j = 0; j < i; j++)
      if (json_equal(json_object_get(json_array_get(eval, i), "name"),
                     json_object_get(json_array_get(eval, j), "name"))) {
        snprintf(msg, msg_len, "%s: evaluation set name '%s' is already used by data.eval[%zu]",
                 path, json_string_value(json_object_get(json_array_get(eval, i), "name")), j);
        return false;
      }
  }
  return check_training(config, msg, msg_len);
}

bool lr_schema_fill_implicit_defaults(const lr_field *map, json_t *config) {
  for (size_t i = 0; i < map->n_sub; i++) {
    const lr_field *f = &map->sub[i];
    json_t *v = json_object_get(config, f->key);
    if (v && f->kind == F_MAP && !lr_schema_fill_implicit_defaults(f, v))
      return false;
    if (v == NULL && f->implicit && json_object_set_new(config, f->key, lr_schema_default(f)) != 0)
      return false;
  }
  return true;
}

void lr_schema_drop_implicit_defaults(const lr_field *map, json_t *config) {
  for (size_t i = 0; i < map->n_sub; i++) {
    const lr_field *f = &map->sub[i];
    json_t *v = json_object_get(config, f->key), *dflt;
    if (v && f->kind == F_MAP)
      lr_schema_drop_implicit_defaults(f, v);
    if (v == NULL || !f->implicit)
      continue;
    if ((dflt = lr_schema_default(f)) != NULL && json_equal(v, dflt))
      json_object_del(config, f->key);
    json_decref(dflt);
  }
}

/* ---- binding -------------------------------------------------------------------------------------- */

/* The index of s among "a|b|c" (validated, so it is there). */
static int choice_index(const char *choices, const char *s) {
  int i = 0;
  for (const char *p = choices; s && *p; i++) {
    size_t n = strcspn(p, "|");
    if (strlen(s) == n && strncmp(p, s, n) == 0)
      return i;
    p += n + (p[n] == '|');
  }
  return 0;
}

bool lr_schema_bind(const lr_field *map, const json_t *config, void *dest) {
  bool ok = true;
  for (size_t i = 0; i < map->n_sub; i++) {
    const lr_field *f = &map->sub[i];
    const json_t *v = json_object_get(config, f->key);
    char *at = (char *)dest + f->at;
    const char *s;
    json_t *dflt = NULL;
    if (v == NULL && f->implicit)
      v = dflt = lr_schema_default(f);
    switch (f->bind) {
    case BIND_NONE:
      if (f->kind == F_MAP)
        ok = lr_schema_bind(f, v, dest) && ok;
      break;
    case BIND_STR:
      s = json_string_value(v);
      *(char **)at = s ? strdup(s) : NULL;
      ok = ok && (s == NULL || *(char **)at != NULL);
      break;
    case BIND_LONG: *(long *)at = (long)json_integer_value(v); break;
    case BIND_DOUBLE: *(double *)at = json_real_value(v); break;
    case BIND_BOOL: *(bool *)at = json_is_true(v); break;
    case BIND_CHOICE: *(int *)at = choice_index(f->choices, json_string_value(v)); break;
    }
    json_decref(dflt);
  }
  return ok;
}
