/*
 * yaml-tree.c: libyaml events into an lr_ynode tree, and core-schema scalar typing (see
 * yaml-tree.h).
 */
#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/yaml-tree.h"

typedef struct builder {
  yaml_parser_t parser;
  const char *file, *text;
  size_t len;
  lr_err *err;
} builder;

/* ---- errors --------------------------------------------------------------------------------------- */

/* Reader errors (bad UTF-8, control characters) come with a byte offset only. */
static void offset_to_mark(const char *text, size_t len, size_t off, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      (*col)++;
    }
  }
}

static lr_status parser_error(builder *b) {
  const yaml_parser_t *p = &b->parser;
  int line, col;
  if (p->error == YAML_MEMORY_ERROR)
    return lr_fail(b->err, LR_ENOMEM, "out of memory while parsing YAML");
  if (p->error == YAML_READER_ERROR) {
    offset_to_mark(b->text, b->len, p->problem_offset, &line, &col);
    return lr_fail_at(b->err, LR_EPARSE, b->file, line, col, "invalid YAML: %s",
                      p->problem ? p->problem : "unreadable input");
  }
  line = (int)p->problem_mark.line + 1;
  col = (int)p->problem_mark.column + 1;
  if (p->context)
    return lr_fail_at(b->err, LR_EPARSE, b->file, line, col, "invalid YAML: %s %s", p->context,
                      p->problem ? p->problem : "");
  return lr_fail_at(b->err, LR_EPARSE, b->file, line, col, "invalid YAML: %s",
                    p->problem ? p->problem : "syntax error");
}

static lr_status fail_event(builder *b, const yaml_event_t *ev, const char *fmt, ...) LR_PRINTF(3, 4);
static lr_status fail_event(builder *b, const yaml_event_t *ev, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(b->err, LR_EPARSE, b->file, (int)ev->start_mark.line + 1,
                    (int)ev->start_mark.column + 1, "%s", msg);
}

static lr_status next(builder *b, yaml_event_t *ev) {
  if (!yaml_parser_parse(&b->parser, ev))
    return parser_error(b);
  return LR_OK;
}

/* ---- nodes ---------------------------------------------------------------------------------------- */

void lr_ynode_free(lr_ynode *n) {
  if (n == NULL)
    return;
  for (size_t i = 0; i < n->n; i++) {
    if (n->keys)
      lr_ynode_free(n->keys[i]);
    lr_ynode_free(n->items[i]);
  }
  free(n->keys);
  free(n->items);
  free(n->text);
  free(n);
}

static lr_ynode *new_node(lr_ynode_kind kind, const yaml_event_t *ev) {
  lr_ynode *n = calloc(1, sizeof *n);
  if (n) {
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
  }
  return n;
}

/* Appends (key, item) to a mapping or item to a sequence, doubling the arrays as needed. */
static bool append(lr_ynode *n, lr_ynode *key, lr_ynode *item) {
  if ((n->n & (n->n - 1)) == 0) { /* n is 0 or a power of two: full */
    size_t cap = n->n ? 2 * n->n : 4;
    lr_ynode **items = realloc(n->items, cap * sizeof *items);
    if (items == NULL)
      return false;
    n->items = items;
    if (n->kind == LR_YAML_MAP) {
      lr_ynode **keys = realloc(n->keys, cap * sizeof *keys);
      if (keys == NULL)
        return false;
      n->keys = keys;
    }
  }
  if (n->kind == LR_YAML_MAP)
    n->keys[n->n] = key;
  n->items[n->n++] = item;
  return true;
}

/* Only the core schema's own tags are accepted; !!str (and the non-specific "!") make a string. */
static lr_status check_tag(builder *b, const yaml_event_t *ev, const char *path,
                           const unsigned char *tag, bool *is_str) {
  static const char *const ok[] = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                                   "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                                   "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"};
  *is_str = false;
  if (tag == NULL)
    return LR_OK;
  if (strcmp((const char *)tag, "tag:yaml.org,2002:str") == 0 || strcmp((const char *)tag, "!") == 0) {
    *is_str = true;
    return LR_OK;
  }
  for (size_t i = 0; i < LR_ARRAY_LEN(ok); i++)
    if (strcmp((const char *)tag, ok[i]) == 0)
      return LR_OK;
  return fail_event(b, ev, "%s%sunsupported YAML tag '%.100s'", path, path[0] ? ": " : "",
                    (const char *)tag);
}

static lr_status build(builder *b, yaml_event_t *ev, int depth, const char *path, lr_ynode **out);

#define PATH_MAX_LEN 256

static lr_status build_scalar(builder *b, yaml_event_t *ev, const char *path, lr_ynode **out) {
  bool is_str;
  lr_status rc = check_tag(b, ev, path, ev->data.scalar.tag, &is_str);
  lr_ynode *n;
  if (rc != LR_OK)
    return rc;
  if ((n = new_node(LR_YAML_SCALAR, ev)) == NULL ||
      (n->text = malloc(ev->data.scalar.length + 1)) == NULL) {
    lr_ynode_free(n);
    return lr_fail(b->err, LR_ENOMEM, "out of memory while parsing YAML");
  }
  memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
  n->text[ev->data.scalar.length] = '\0';
  n->len = ev->data.scalar.length;
  n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str;
  *out = n;
  return LR_OK;
}

static bool same_key(const lr_ynode *a, const lr_ynode *b) {
  return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Reads the key/value pairs of a mapping up to its end event. */
static lr_status build_map_items(builder *b, lr_ynode *m, int depth, const char *path) {
  for (;;) {
    char sub[PATH_MAX_LEN];
    yaml_event_t ev;
    lr_ynode *key = NULL, *val = NULL;
    lr_status rc = next(b, &ev);
    if (rc != LR_OK)
      return rc;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      return LR_OK;
    }
    if (ev.type != YAML_SCALAR_EVENT && ev.type != YAML_ALIAS_EVENT)
      rc = fail_event(b, &ev, "%s", "mapping keys must be scalars, not mappings or lists");
    else
      rc = build(b, &ev, depth + 1, path, &key);
    yaml_event_delete(&ev);
    for (size_t i = 0; rc == LR_OK && i < m->n; i++)
      if (same_key(m->keys[i], key)) {
        char first[64];
        snprintf(first, sizeof first, "%d:%d", m->keys[i]->line, m->keys[i]->col);
        rc = lr_fail_at(b->err, LR_EPARSE, b->file, key->line, key->col,
                        "%s%sduplicate key '%.100s' (first at %s)", path, path[0] ? ": " : "",
                        key->text, first);
      }
    if (rc == LR_OK)
      snprintf(sub, sizeof sub, "%s%s%.64s", path, path[0] ? "." : "", key->text);
    if (rc == LR_OK && (rc = next(b, &ev)) == LR_OK) {
      rc = build(b, &ev, depth + 1, sub, &val);
      yaml_event_delete(&ev);
    }
    if (rc == LR_OK && !append(m, key, val))
      rc = lr_fail(b->err, LR_ENOMEM, "out of memory while parsing YAML");
    if (rc != LR_OK) {
      lr_ynode_free(key);
      lr_ynode_free(val);
      return rc;
    }
  }
}

static lr_status build_seq_items(builder *b, lr_ynode *s, int depth, const char *path) {
  for (;;) {
    char sub[PATH_MAX_LEN];
    yaml_event_t ev;
    lr_ynode *item = NULL;
    lr_status rc = next(b, &ev);
    if (rc != LR_OK)
      return rc;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return LR_OK;
    }
    snprintf(sub, sizeof sub, "%s[%zu]", path, s->n);
    rc = build(b, &ev, depth + 1, sub, &item);
    yaml_event_delete(&ev);
    if (rc == LR_OK && !append(s, NULL, item))
      rc = lr_fail(b->err, LR_ENOMEM, "out of memory while parsing YAML");
    if (rc != LR_OK) {
      lr_ynode_free(item);
      return rc;
    }
  }
}

/* Builds the node that starts with *ev (which the caller deletes). */
static lr_status build(builder *b, yaml_event_t *ev, int depth, const char *path, lr_ynode **out) {
  lr_ynode *n;
  lr_status rc;
  bool is_str;
  *out = NULL;
  if (depth > LR_YAML_MAX_DEPTH)
    return fail_event(b, ev, "nested more than %d levels deep", LR_YAML_MAX_DEPTH);
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    return build_scalar(b, ev, path, out);
  case YAML_ALIAS_EVENT:
    return fail_event(b, ev, "%s%saliases (*%s) are not supported: write the value out", path,
                      path[0] ? ": " : "", (const char *)ev->data.alias.anchor);
  case YAML_MAPPING_START_EVENT:
  case YAML_SEQUENCE_START_EVENT:
    rc = check_tag(b, ev, path, ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.tag
                                                                : ev->data.sequence_start.tag,
                   &is_str);
    if (rc == LR_OK && is_str)
      rc = fail_event(b, ev, "%s%sa mapping or list cannot be tagged as a string", path,
                      path[0] ? ": " : "");
    if (rc != LR_OK)
      return rc;
    n = new_node(ev->type == YAML_MAPPING_START_EVENT ? LR_YAML_MAP : LR_YAML_SEQ, ev);
    if (n == NULL)
      return lr_fail(b->err, LR_ENOMEM, "out of memory while parsing YAML");
    rc = n->kind == LR_YAML_MAP ? build_map_items(b, n, depth, path)
                                 : build_seq_items(b, n, depth, path);
    if (rc != LR_OK) {
      lr_ynode_free(n);
      return rc;
    }
    *out = n;
    return LR_OK;
  default:
    return fail_event(b, ev, "%s", "unexpected YAML event");
  }
}

/* Stream start, document start, the root node, document end, then the stream must end. */
static lr_status build_document(builder *b, lr_ynode **root) {
  yaml_event_t ev;
  lr_status rc = next(b, &ev); /* stream start */
  if (rc != LR_OK)
    return rc;
  yaml_event_delete(&ev);
  if ((rc = next(b, &ev)) != LR_OK)
    return rc;
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    return lr_fail_at(b->err, LR_EPARSE, b->file, 1, 1, "the file is empty");
  }
  yaml_event_delete(&ev); /* document start */
  if ((rc = next(b, &ev)) != LR_OK)
    return rc;
  rc = build(b, &ev, 0, "", root);
  yaml_event_delete(&ev);
  if (rc == LR_OK && (rc = next(b, &ev)) == LR_OK) /* document end */
    yaml_event_delete(&ev);
  if (rc == LR_OK && (rc = next(b, &ev)) == LR_OK) {
    if (ev.type != YAML_STREAM_END_EVENT)
      rc = fail_event(b, &ev, "%s", "more than one YAML document: a grid file holds one");
    yaml_event_delete(&ev);
  }
  if (rc != LR_OK) {
    lr_ynode_free(*root);
    *root = NULL;
  }
  return rc;
}

lr_status lr_yaml_parse(const char *file, const char *text, size_t len, lr_ynode **root,
                        lr_err *err) {
  builder b = {.file = file, .text = text, .len = len, .err = err};
  lr_status rc;
  *root = NULL;
  if (!yaml_parser_initialize(&b.parser))
    return lr_fail(err, LR_ENOMEM, "out of memory while parsing YAML");
  yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
  rc = build_document(&b, root);
  yaml_parser_delete(&b.parser);
  return rc;
}

/* ---- scalars -------------------------------------------------------------------------------------- */

static bool is_one_of(const char *s, const char *const *words, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, words[i]) == 0)
      return true;
  return false;
}

static size_t digits(const char *s, const char *set) {
  return strspn(s, set);
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_decimal_real(const char *s) {
  size_t n;
  if (*s == '-' || *s == '+')
    s++;
  if (*s == '.') {
    if ((n = digits(s + 1, "0123456789")) == 0)
      return false;
    s += 1 + n;
  } else {
    if ((n = digits(s, "0123456789")) == 0)
      return false;
    s += n;
    if (*s == '.')
      s += 1 + digits(s + 1, "0123456789");
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+')
      s++;
    if ((n = digits(s, "0123456789")) == 0)
      return false;
    s += n;
  }
  return *s == '\0';
}

static lr_yscalar parse_int(const char *s, int base, long long *i) {
  unsigned long long u;
  char *end;
  errno = 0;
  u = strtoull(s, &end, base);
  if (errno == ERANGE || u > (unsigned long long)LLONG_MAX)
    return LR_YS_INT_RANGE;
  *i = (long long)u;
  return LR_YS_INT;
}

static lr_yscalar plain_number(const char *s, long long *i, double *d) {
  static const char *const inf[] = {".inf", ".Inf", ".INF"}, *const nan[] = {".nan", ".NaN", ".NAN"};
  const char *body = (*s == '-' || *s == '+') ? s + 1 : s;
  if (s[0] == '0' && s[1] == 'o' && s[2] && digits(s + 2, "01234567") == strlen(s + 2))
    return parse_int(s + 2, 8, i);
  if (s[0] == '0' && s[1] == 'x' && s[2] && digits(s + 2, "0123456789abcdefABCDEF") == strlen(s + 2))
    return parse_int(s + 2, 16, i);
  if (*body && digits(body, "0123456789") == strlen(body)) {
    lr_yscalar t = parse_int(body, 10, i);
    if (t == LR_YS_INT && *s == '-')
      *i = -*i;
    return t;
  }
  if (is_one_of(body, inf, 3)) {
    *d = *s == '-' ? -INFINITY : INFINITY;
    return LR_YS_REAL;
  }
  if (is_one_of(s, nan, 3)) {
    *d = NAN;
    return LR_YS_REAL;
  }
  if (is_decimal_real(s)) {
    *d = strtod(s, NULL);
    return LR_YS_REAL;
  }
  return LR_YS_STRING;
}

lr_yscalar lr_yaml_scalar_type(const lr_ynode *n, long long *i, double *d, bool *b) {
  static const char *const nulls[] = {"null", "Null", "NULL", "~"};
  static const char *const trues[] = {"true", "True", "TRUE"}, *const falses[] = {"false", "False", "FALSE"};
  if (n->kind != LR_YAML_SCALAR || !n->plain || strlen(n->text) != n->len)
    return LR_YS_STRING;
  if (n->len == 0 || is_one_of(n->text, nulls, 4))
    return LR_YS_NULL;
  if (is_one_of(n->text, trues, 3) || is_one_of(n->text, falses, 3)) {
    *b = n->text[0] == 't' || n->text[0] == 'T';
    return LR_YS_BOOL;
  }
  return plain_number(n->text, i, d);
}

const lr_ynode *lr_ynode_get(const lr_ynode *m, const char *key, const lr_ynode **key_node) {
  if (m->kind == LR_YAML_MAP)
    for (size_t i = 0; i < m->n; i++)
      if (strcmp(m->keys[i]->text, key) == 0 && strlen(m->keys[i]->text) == m->keys[i]->len) {
        if (key_node)
          *key_node = m->keys[i];
        return m->items[i];
      }
  return NULL;
}
