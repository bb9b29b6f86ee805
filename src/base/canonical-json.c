/*
 * canonical-json.c: the canonical JSON writer (see canonical-json.h).
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/canonical-json.h"

typedef struct out {
  lr_buf text;
  bool failed; /* a value with no canonical form: the text is abandoned (lr_buf keeps OOM) */
} out;

static void put(out *o, const char *s, size_t n) {
  if (!o->failed)
    (void)lr_buf_add(&o->text, s, n, NULL); /* a failure sticks in text.status */
}

static void put_str(out *o, const char *s) {
  put(o, s, strlen(s));
}

int lr_format_real(double d, char buf[LR_REAL_TEXT_MAX]) {
  buf[0] = '\0';
  if (!isfinite(d))
    return false;
  /* Integral values print in full (100.0, not the shorter 1e+02) while that stays exact. */
  if (d == trunc(d) && fabs(d) < 1e15) {
    snprintf(buf, LR_REAL_TEXT_MAX, "%.1f", d == 0 ? 0.0 : d);
    return true;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, LR_REAL_TEXT_MAX, "%.*g", p, d);
    if (strtod(buf, NULL) == d)
      break;
  }
  if (strpbrk(buf, ".e") == NULL)
    strcat(buf, ".0");
  return true;
}

/* A string as jansson writes it: the quotes and escapes are jansson's own. */
static void put_string(out *o, const json_t *s) {
  char *text = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);
  if (text == NULL) {
    o->failed = true;
    return;
  }
  put_str(o, text);
  free(text);
}

static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_value(out *o, const json_t *v);

static void put_object(out *o, const json_t *v) {
  size_t n = json_object_size(v), i = 0;
  const char **keys = malloc((n ? n : 1) * sizeof *keys);
  const char *key;
  json_t *item;
  if (keys == NULL) {
    o->failed = true;
    return;
  }
  json_object_foreach((json_t *)v, key, item)
    keys[i++] = key;
  qsort(keys, n, sizeof *keys, compare_keys);
  put(o, "{", 1);
  for (i = 0; i < n && !o->failed; i++) {
    json_t *k = json_string(keys[i]);
    if (i > 0)
      put(o, ",", 1);
    if (k == NULL)
      o->failed = true;
    else
      put_string(o, k);
    json_decref(k);
    put(o, ":", 1);
    put_value(o, json_object_get(v, keys[i]));
  }
  put(o, "}", 1);
  free(keys);
}

static void put_value(out *o, const json_t *v) {
  char num[LR_REAL_TEXT_MAX];
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    put_object(o, v);
    break;
  case JSON_ARRAY:
    put(o, "[", 1);
    for (size_t i = 0; i < json_array_size(v) && !o->failed; i++) {
      if (i > 0)
        put(o, ",", 1);
      put_value(o, json_array_get(v, i));
    }
    put(o, "]", 1);
    break;
  case JSON_STRING:
    put_string(o, v);
    break;
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    put_str(o, num);
    break;
  case JSON_REAL:
    if (!lr_format_real(json_real_value(v), num))
      o->failed = true;
    put_str(o, num);
    break;
  case JSON_TRUE:
    put_str(o, "true");
    break;
  case JSON_FALSE:
    put_str(o, "false");
    break;
  case JSON_NULL:
    put_str(o, "null");
    break;
  }
}

char *lr_json_canonical(const json_t *v, size_t *len) {
  out o = {LR_BUF_INIT, false};
  if (v == NULL)
    return NULL;
  put_value(&o, v);
  if (o.failed) {
    lr_buf_release(&o.text);
    return NULL;
  }
  return lr_buf_detach(&o.text, len); /* NULL after a failed append */
}
