/*
 * json-util.c: shared jansson helpers (see json-util.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file-util.h"
#include "base/json-util.h"

const char *lr_json_kind(const json_t *v) {
  if (v == NULL)
    return "nothing";
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "real";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

lr_status lr_json_parse_object(const char *text, size_t len, const char *path, json_t **out,
                               lr_err *err) {
  json_error_t jerr;
  /* A JSON object with a repeated key is ambiguous (jansson would keep the last silently), and
   * in a model file it is a sign of a broken writer: refuse it. */
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  *out = NULL;
  if (root == NULL)
    return lr_fail_at(err, LR_EPARSE, path, jerr.line > 0 ? jerr.line : 0,
                      jerr.column > 0 ? jerr.column : 0, "not valid JSON: %s", jerr.text);
  if (!json_is_object(root)) {
    lr_status rc = lr_fail_at(err, LR_EPARSE, path, 0, 0, "must be a JSON object, got %s",
                              lr_json_kind(root));
    json_decref(root);
    return rc;
  }
  *out = root;
  return LR_OK;
}


lr_status lr_json_load_object(const char *path, size_t max_bytes, json_t **out, lr_err *err) {
  char *text;
  size_t len = 0;
  lr_status rc = lr_read_file(path, max_bytes, "a JSON file of this kind", &text, &len, err);
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  rc = lr_json_parse_object(text, len, path, out, err);
  free(text);
  return rc;
}

static void emit_json(FILE *fp, const void *ctx) {
  char *text = json_dumps(ctx, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text)
    fprintf(fp, "%s\n", text);
  free(text);
}

lr_status lr_json_write_atomic(const char *path, const json_t *v, lr_err *err) {
  return lr_write_file_atomic(path, emit_json, v, err);
}

/* ---- dotted paths ---------------------------------------------------------------------------- */

json_t *lr_json_path_parent(const json_t *config, const char *path, char *last,
                            size_t last_size, size_t *bad_len) {
  json_t *o = (json_t *)config;
  const char *p = path;
  for (;;) {
    size_t len = strcspn(p, ".");
    if (!json_is_object(o) || len >= last_size) {
      if (bad_len)
        *bad_len = p > path ? (size_t)(p - 1 - path) : 0;
      return NULL;
    }
    memcpy(last, p, len);
    last[len] = '\0';
    if (p[len] == '\0')
      return o;
    o = json_object_get(o, last);
    p += len + 1;
  }
}

json_t *lr_json_path_get(const json_t *config, const char *path) {
  char key[256];
  json_t *parent = lr_json_path_parent(config, path, key, sizeof key, NULL);
  return parent ? json_object_get(parent, key) : NULL;
}
