/*
 * tokenizer-load.c: tokenizer.json -> lr_tokenizer.
 *
 * Every component HF `tokenizers` can serialise is either implemented here with HF's defaults or
 * refused with LR_EUNSUPPORTED and its JSON path ("pre_tokenizer.pretokenizers[1].type
 * 'Whitespace' is not supported"): a tokenizer that silently encoded differently from the one the
 * model was trained with would corrupt every experiment that used it.  Malformed values are
 * LR_EPARSE with their path.
 */
#include "compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/json-util.h"
#include "base/utf8.h"
#include "base/file-util.h"
#include "text/tokenizer-internal.h"

/* Ids beyond this are refused: no real vocabulary comes near, and a fuzzed or corrupt file must
 * not make the loader allocate gigabytes. */
#define MAX_TOKEN_ID (1 << 24)
#define MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct loader {
  lr_tokenizer *t;
  const char *file;
  lr_err *err;
} loader;

static lr_status fail(loader *L, lr_status s, const char *fmt, ...) LR_PRINTF(3, 4);
static lr_status fail(loader *L, lr_status s, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(L->err, s, L->file, 0, 0, "%s", msg);
}

static lr_status oom(loader *L) {
  return lr_fail(L->err, LR_ENOMEM, "out of memory loading '%s'", L->file);
}

/* ---- typed field access ------------------------------------------------------------------------ */

/* A missing or null field leaves *out as it was (the default). */
static lr_status get_bool(loader *L, const json_t *o, const char *path, const char *key,
                          bool *out) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v))
    return LR_OK;
  if (!json_is_boolean(v))
    return fail(L, LR_EPARSE, "%s.%s must be a boolean, got %s", path, key, lr_json_kind(v));
  *out = json_is_true(v);
  return LR_OK;
}

/* A string field; *out is borrowed from the JSON (NULL when missing or null). */
static lr_status get_str(loader *L, const json_t *o, const char *path, const char *key,
                         bool required, const char **out, size_t *len) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (len)
    *len = 0;
  if (v == NULL || json_is_null(v))
    return required ? fail(L, LR_EPARSE, "%s.%s is missing", path, key) : LR_OK;
  if (!json_is_string(v))
    return fail(L, LR_EPARSE, "%s.%s must be a string, got %s", path, key, lr_json_kind(v));
  *out = json_string_value(v);
  if (len)
    *len = json_string_length(v);
  return LR_OK;
}

static lr_status get_size(loader *L, const json_t *o, const char *path, const char *key,
                          size_t *out) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v))
    return LR_OK;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
    return fail(L, LR_EPARSE, "%s.%s must be a small non-negative integer", path, key);
  *out = (size_t)json_integer_value(v);
  return LR_OK;
}

static lr_status get_type(loader *L, const json_t *o, const char *path, const char **type) {
  if (!json_is_object(o))
    return fail(L, LR_EPARSE, "%s must be an object, got %s", path, lr_json_kind(o));
  return get_str(L, o, path, "type", true, type, NULL);
}

static lr_status unsupported_type(loader *L, const char *path, const char *type) {
  return fail(L, LR_EUNSUPPORTED, "%s.type '%s' is not supported", path, type);
}

/* The array member of a Sequence. */
static lr_status get_array(loader *L, const json_t *o, const char *path, const char *key,
                           json_t **out) {
  *out = json_object_get(o, key);
  if (!json_is_array(*out))
    return fail(L, LR_EPARSE, "%s.%s must be an array, got %s", path, key, lr_json_kind(*out));
  return LR_OK;
}

/* ---- patterns ------------------------------------------------------------------------------------ */

/* {"String": "..."} or {"Regex": "..."}. */
static lr_status parse_pattern(loader *L, const json_t *o, const char *path, tk_pattern *p) {
  json_t *v = json_object_get(o, "pattern");
  const char *s;
  size_t n;
  char where[256];
  memset(p, 0, sizeof *p);
  if (!json_is_object(v))
    return fail(L, LR_EPARSE, "%s.pattern must be an object ({\"String\": ...} or "
                "{\"Regex\": ...}), got %s", path, lr_json_kind(v));
  snprintf(where, sizeof where, "%s.pattern", path);
  if (get_str(L, v, where, "String", false, &s, &n) != LR_OK)
    return L->err->code;
  if (s) {
    p->kind = PAT_STRING;
    p->literal_len = n;
    return (p->literal = tk_dup_bytes(s, n)) ? LR_OK : oom(L);
  }
  if (get_str(L, v, where, "Regex", false, &s, &n) != LR_OK)
    return L->err->code;
  if (s == NULL)
    return fail(L, LR_EPARSE, "%s.pattern must have a \"String\" or a \"Regex\"", path);
  if (lr_utf8_valid_prefix(s, n) != n)
    return fail(L, LR_EPARSE, "%s.pattern.Regex is not valid UTF-8", path);
  snprintf(where, sizeof where, "%s.pattern.Regex", path);
  return tk_pattern_regex(p, s, n, L->file, where, L->err);
}

/* A single character (Metaspace replacement, Strip content). */
static lr_status get_char(loader *L, const json_t *o, const char *path, const char *key,
                          char *buf, size_t *len) {
  const char *s;
  size_t n;
  int32_t cp;
  if (get_str(L, o, path, key, false, &s, &n) != LR_OK)
    return L->err->code;
  if (s == NULL)
    return LR_OK;
  if (n == 0 || n > 4 || tk_utf8_next(s, n, &cp) != n)
    return fail(L, LR_EPARSE, "%s.%s must be a single character, got '%s'", path, key, s);
  memcpy(buf, s, n);
  *len = n;
  return LR_OK;
}

/* ---- normalizers --------------------------------------------------------------------------------- */

static lr_status parse_normalizer(loader *L, const json_t *o, const char *path, int depth) {
  const char *type, *s;
  size_t len;
  char sub[512];
  tk_normalizer n;
  if (depth > 16)
    return fail(L, LR_EPARSE, "%s: Sequences nested too deeply", path);
  if (get_type(L, o, path, &type) != LR_OK)
    return L->err->code;
  memset(&n, 0, sizeof n);
  if (strcmp(type, "Sequence") == 0) {
    json_t *a, *v;
    size_t i;
    if (get_array(L, o, path, "normalizers", &a) != LR_OK)
      return L->err->code;
    json_array_foreach(a, i, v) {
      snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
      if (parse_normalizer(L, v, sub, depth + 1) != LR_OK)
        return L->err->code;
    }
    return LR_OK;
  }
  if (strcmp(type, "NFC") == 0 || strcmp(type, "NFKC") == 0) {
    n.kind = type[2] == 'K' ? NORM_NFKC : NORM_NFC;
    return tk_push_normalizer(L->t, n, L->err);
  }
  if (strcmp(type, "Prepend") == 0) {
    if (get_str(L, o, path, "prepend", true, &s, &len) != LR_OK)
      return L->err->code;
    n.kind = NORM_PREPEND;
    n.text_len = len;
    return (n.text = tk_dup_bytes(s, len)) ? tk_push_normalizer(L->t, n, L->err) : oom(L);
  }
  if (strcmp(type, "Replace") == 0) {
    if (get_str(L, o, path, "content", true, &s, &len) != LR_OK)
      return L->err->code;
    n.kind = NORM_REPLACE;
    n.text_len = len;
    if ((n.text = tk_dup_bytes(s, len)) == NULL)
      return oom(L);
    if (parse_pattern(L, o, path, &n.pattern) != LR_OK) {
      free(n.text);
      return L->err->code;
    }
    return tk_push_normalizer(L->t, n, L->err);
  }
  return unsupported_type(L, path, type);
}

/* ---- pre-tokenizers ------------------------------------------------------------------------------ */

static lr_status parse_behavior(loader *L, const json_t *o, const char *path,
                                tk_split_behavior *b) {
  static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                      "MergedWithNext", "Contiguous"};
  const char *s;
  if (get_str(L, o, path, "behavior", true, &s, NULL) != LR_OK)
    return L->err->code;
  for (size_t i = 0; i < LR_ARRAY_LEN(names); i++)
    if (strcmp(s, names[i]) == 0) {
      *b = (tk_split_behavior)i;
      return LR_OK;
    }
  return fail(L, LR_EUNSUPPORTED, "%s.behavior '%s' is not supported (Removed, Isolated, "
              "MergedWithPrevious, MergedWithNext or Contiguous)", path, s);
}

/* prepend_scheme, or the older add_prefix_space flag it replaced. */
static lr_status parse_prepend_scheme(loader *L, const json_t *o, const char *path,
                                      tk_prepend_scheme *out) {
  const char *s;
  bool add = true;
  if (get_str(L, o, path, "prepend_scheme", false, &s, NULL) != LR_OK)
    return L->err->code;
  if (s == NULL) {
    if (get_bool(L, o, path, "add_prefix_space", &add) != LR_OK)
      return L->err->code;
    *out = add ? PREPEND_ALWAYS : PREPEND_NEVER;
  } else if (strcmp(s, "always") == 0)
    *out = PREPEND_ALWAYS;
  else if (strcmp(s, "first") == 0)
    *out = PREPEND_FIRST;
  else if (strcmp(s, "never") == 0)
    *out = PREPEND_NEVER;
  else
    return fail(L, LR_EUNSUPPORTED, "%s.prepend_scheme '%s' is not supported (always, first or "
                "never)", path, s);
  return LR_OK;
}

static lr_status parse_metaspace(loader *L, const json_t *o, const char *path, tk_pretok *p) {
  memcpy(p->replacement, "\xE2\x96\x81", 3); /* U+2581, HF's default */
  p->replacement_len = 3;
  p->split = true;
  if (get_char(L, o, path, "replacement", p->replacement, &p->replacement_len) != LR_OK ||
      parse_prepend_scheme(L, o, path, &p->prepend) != LR_OK ||
      get_bool(L, o, path, "split", &p->split) != LR_OK)
    return L->err->code;
  return LR_OK;
}

static lr_status parse_pretok(loader *L, const json_t *o, const char *path, int depth) {
  const char *type;
  char sub[512];
  tk_pretok p;
  if (depth > 16)
    return fail(L, LR_EPARSE, "%s: Sequences nested too deeply", path);
  if (get_type(L, o, path, &type) != LR_OK)
    return L->err->code;
  memset(&p, 0, sizeof p);
  if (strcmp(type, "Sequence") == 0) {
    json_t *a, *v;
    size_t i;
    if (get_array(L, o, path, "pretokenizers", &a) != LR_OK)
      return L->err->code;
    json_array_foreach(a, i, v) {
      snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
      if (parse_pretok(L, v, sub, depth + 1) != LR_OK)
        return L->err->code;
    }
    return LR_OK;
  }
  if (strcmp(type, "ByteLevel") == 0) {
    p.kind = PRE_BYTELEVEL;
    p.add_prefix_space = p.use_regex = true; /* HF's defaults */
    if (get_bool(L, o, path, "add_prefix_space", &p.add_prefix_space) != LR_OK ||
        get_bool(L, o, path, "use_regex", &p.use_regex) != LR_OK)
      return L->err->code;
    return tk_push_pretok(L->t, p, L->err);
  }
  if (strcmp(type, "Split") == 0) {
    p.kind = PRE_SPLIT;
    if (parse_behavior(L, o, path, &p.behavior) != LR_OK ||
        get_bool(L, o, path, "invert", &p.invert) != LR_OK ||
        parse_pattern(L, o, path, &p.pattern) != LR_OK)
      return L->err->code;
    return tk_push_pretok(L->t, p, L->err);
  }
  if (strcmp(type, "Digits") == 0) {
    p.kind = PRE_DIGITS;
    if (get_bool(L, o, path, "individual_digits", &p.individual_digits) != LR_OK)
      return L->err->code;
    return tk_push_pretok(L->t, p, L->err);
  }
  if (strcmp(type, "Metaspace") == 0) {
    p.kind = PRE_METASPACE;
    if (parse_metaspace(L, o, path, &p) != LR_OK)
      return L->err->code;
    return tk_push_pretok(L->t, p, L->err);
  }
  return unsupported_type(L, path, type);
}

/* ---- decoders ------------------------------------------------------------------------------------ */

static lr_status parse_decoder(loader *L, const json_t *o, const char *path, int depth) {
  const char *type, *s;
  size_t len;
  char sub[512];
  tk_decoder d;
  if (depth > 16)
    return fail(L, LR_EPARSE, "%s: Sequences nested too deeply", path);
  if (get_type(L, o, path, &type) != LR_OK)
    return L->err->code;
  memset(&d, 0, sizeof d);
  if (strcmp(type, "Sequence") == 0) {
    json_t *a, *v;
    size_t i;
    if (get_array(L, o, path, "decoders", &a) != LR_OK)
      return L->err->code;
    json_array_foreach(a, i, v) {
      snprintf(sub, sizeof sub, "%s.decoders[%zu]", path, i);
      if (parse_decoder(L, v, sub, depth + 1) != LR_OK)
        return L->err->code;
    }
    return LR_OK;
  }
  if (strcmp(type, "ByteLevel") == 0) {
    d.kind = DEC_BYTELEVEL;
    return tk_push_decoder(L->t, d, L->err);
  }
  if (strcmp(type, "ByteFallback") == 0 || strcmp(type, "Fuse") == 0) {
    d.kind = type[0] == 'B' ? DEC_BYTEFALLBACK : DEC_FUSE;
    return tk_push_decoder(L->t, d, L->err);
  }
  if (strcmp(type, "Metaspace") == 0) {
    tk_pretok p;
    memset(&p, 0, sizeof p);
    if (parse_metaspace(L, o, path, &p) != LR_OK)
      return L->err->code;
    d.kind = DEC_METASPACE;
    memcpy(d.replacement, p.replacement, sizeof d.replacement);
    d.replacement_len = p.replacement_len;
    d.prepend = p.prepend != PREPEND_NEVER;
    return tk_push_decoder(L->t, d, L->err);
  }
  if (strcmp(type, "Strip") == 0) {
    char c[8] = " ";
    size_t clen = 1;
    d.kind = DEC_STRIP;
    if (get_char(L, o, path, "content", c, &clen) != LR_OK ||
        get_size(L, o, path, "start", &d.strip_start) != LR_OK ||
        get_size(L, o, path, "stop", &d.strip_stop) != LR_OK)
      return L->err->code;
    tk_utf8_next(c, clen, &d.strip_char);
    return tk_push_decoder(L->t, d, L->err);
  }
  if (strcmp(type, "Replace") == 0) {
    if (get_str(L, o, path, "content", true, &s, &len) != LR_OK)
      return L->err->code;
    d.kind = DEC_REPLACE;
    d.content_len = len;
    if ((d.content = tk_dup_bytes(s, len)) == NULL)
      return oom(L);
    if (parse_pattern(L, o, path, &d.pattern) != LR_OK) {
      free(d.content);
      return L->err->code;
    }
    return tk_push_decoder(L->t, d, L->err);
  }
  return unsupported_type(L, path, type);
}

/* ---- post-processor ------------------------------------------------------------------------------ */

static lr_status append_ids(loader *L, int32_t **a, size_t *n, const json_t *ids,
                            const char *path) {
  size_t i, cap = *n; /* allocated exactly so far */
  json_t *v;
  if (!json_is_array(ids))
    return fail(L, LR_EPARSE, "%s.ids must be an array, got %s", path, lr_json_kind(ids));
  if (lr_grow(a, &cap, *n + json_array_size(ids), sizeof **a, NULL) != LR_OK)
    return oom(L);
  json_array_foreach(ids, i, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= (json_int_t)L->t->n_pieces ||
        lr_tokenizer_piece(L->t, (int32_t)json_integer_value(v)) == NULL)
      return fail(L, LR_EPARSE, "%s.ids[%zu] must be a token id of the vocabulary", path, i);
    (*a)[(*n)++] = (int32_t)json_integer_value(v);
  }
  return LR_OK;
}

/* TemplateProcessing's "single" template: special tokens around the one sequence $A. */
static lr_status parse_template(loader *L, const json_t *o, const char *path) {
  json_t *single, *specials = json_object_get(o, "special_tokens"), *item;
  char sub[512];
  size_t i;
  bool seen_a = false;
  if (get_array(L, o, path, "single", &single) != LR_OK)
    return L->err->code;
  if (L->t->n_tmpl_pre || L->t->n_tmpl_post || L->t->tmpl_pre || L->t->tmpl_post)
    return fail(L, LR_EUNSUPPORTED, "%s: a second TemplateProcessing is not supported", path);
  json_array_foreach(single, i, item) {
    json_t *tok = json_object_get(item, "SpecialToken"), *seq = json_object_get(item, "Sequence");
    snprintf(sub, sizeof sub, "%s.single[%zu]", path, i);
    if (json_is_object(seq)) {
      const char *id;
      if (get_str(L, seq, sub, "id", true, &id, NULL) != LR_OK)
        return L->err->code;
      if (strcmp(id, "A") != 0 || seen_a)
        return fail(L, LR_EUNSUPPORTED, "%s: only one sequence, A, is supported in a single "
                    "template", sub);
      seen_a = true;
    } else if (json_is_object(tok)) {
      const char *name;
      json_t *spec;
      if (get_str(L, tok, sub, "id", true, &name, NULL) != LR_OK)
        return L->err->code;
      spec = json_object_get(specials, name);
      if (!json_is_object(spec))
        return fail(L, LR_EPARSE, "%s: special token '%s' is not in %s.special_tokens", sub,
                    name, path);
      snprintf(sub, sizeof sub, "%s.special_tokens[\"%s\"]", path, name);
      if (append_ids(L, seen_a ? &L->t->tmpl_post : &L->t->tmpl_pre,
                     seen_a ? &L->t->n_tmpl_post : &L->t->n_tmpl_pre, json_object_get(spec, "ids"),
                     sub) != LR_OK)
        return L->err->code;
    } else
      return fail(L, LR_EPARSE, "%s must be {\"SpecialToken\": ...} or {\"Sequence\": ...}", sub);
  }
  if (!seen_a)
    return fail(L, LR_EPARSE, "%s.single has no sequence A", path);
  return LR_OK;
}

static lr_status parse_post(loader *L, const json_t *o, const char *path, int depth) {
  const char *type;
  char sub[512];
  if (depth > 16)
    return fail(L, LR_EPARSE, "%s: Sequences nested too deeply", path);
  if (get_type(L, o, path, &type) != LR_OK)
    return L->err->code;
  if (strcmp(type, "Sequence") == 0) {
    json_t *a, *v;
    size_t i;
    if (get_array(L, o, path, "processors", &a) != LR_OK)
      return L->err->code;
    json_array_foreach(a, i, v) {
      snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
      if (parse_post(L, v, sub, depth + 1) != LR_OK)
        return L->err->code;
    }
    return LR_OK;
  }
  /* ByteLevel as a post-processor only trims offsets, which lorens does not report. */
  if (strcmp(type, "ByteLevel") == 0)
    return LR_OK;
  if (strcmp(type, "TemplateProcessing") == 0)
    return parse_template(L, o, path);
  return unsupported_type(L, path, type);
}

/* ---- the model ------------------------------------------------------------------------------------ */

static lr_status parse_vocab(loader *L, const json_t *vocab) {
  lr_tokenizer *t = L->t;
  const char *key;
  json_t *v;
  size_t max_id = 0;
  if (!json_is_object(vocab))
    return fail(L, LR_EPARSE, "model.vocab must be an object, got %s", lr_json_kind(vocab));
  json_object_foreach((json_t *)vocab, key, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= MAX_TOKEN_ID)
      return fail(L, LR_EPARSE, "model.vocab[\"%s\"] must be an id in [0, %d), got %s", key,
                  MAX_TOKEN_ID, json_is_integer(v) ? "an integer out of range" : lr_json_kind(v));
    if ((size_t)json_integer_value(v) + 1 > max_id)
      max_id = (size_t)json_integer_value(v) + 1;
  }
  if (tk_vocab_init(t, max_id, json_object_size(vocab), L->err) != LR_OK)
    return L->err->code;
  json_object_foreach((json_t *)vocab, key, v) {
    size_t id = (size_t)json_integer_value(v), len = strlen(key);
    if (t->pieces[id])
      return fail(L, LR_EPARSE, "model.vocab: id %zu is given to both '%s' and '%s'", id,
                  t->pieces[id], key);
    if (tk_vocab_put(t, id, key, len, L->err) != LR_OK)
      return L->err->code;
  }
  return LR_OK;
}

/* One merge, "a b" or ["a", "b"]; its result must be in the vocabulary, as HF requires. */
static lr_status parse_merge(loader *L, const json_t *m, size_t i, lr_buf *tmp) {
  const char *a, *c;
  size_t na, nc;
  if (json_is_string(m)) {
    const char *s = json_string_value(m), *sp = memchr(s, ' ', json_string_length(m));
    if (sp == NULL || memchr(sp + 1, ' ', json_string_length(m) - (size_t)(sp + 1 - s)))
      return fail(L, LR_EPARSE, "model.merges[%zu] must be two tokens separated by one space, "
                  "got '%s'", i, s);
    a = s, na = (size_t)(sp - s), c = sp + 1, nc = json_string_length(m) - na - 1;
  } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
             json_is_string(json_array_get(m, 1))) {
    a = json_string_value(json_array_get(m, 0)), na = json_string_length(json_array_get(m, 0));
    c = json_string_value(json_array_get(m, 1)), nc = json_string_length(json_array_get(m, 1));
  } else
    return fail(L, LR_EPARSE, "model.merges[%zu] must be a string \"a b\" or a pair [\"a\", "
                "\"b\"], got %s", i, lr_json_kind(m));
  return tk_merge_pieces(L->t, "model.merges", "the vocabulary", i, a, na, c, nc, tmp, L->err);
}

static lr_status parse_affix(loader *L, const json_t *m, const char *key, char **out,
                             size_t *len) {
  const char *s;
  if (get_str(L, m, "model", key, false, &s, len) != LR_OK)
    return L->err->code;
  if (s && *len > 0 && (*out = tk_dup_bytes(s, *len)) == NULL)
    return oom(L);
  return LR_OK;
}

static lr_status parse_model_options(loader *L, const json_t *m) {
  tk_bpe *b = &L->t->bpe;
  json_t *dropout = json_object_get(m, "dropout");
  const char *unk;
  if (dropout && !json_is_null(dropout) &&
      !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
    return fail(L, LR_EUNSUPPORTED, "model.dropout is not supported (only null): BPE dropout "
                "makes encoding random");
  if (get_bool(L, m, "model", "fuse_unk", &b->fuse_unk) != LR_OK ||
      get_bool(L, m, "model", "byte_fallback", &b->byte_fallback) != LR_OK ||
      get_bool(L, m, "model", "ignore_merges", &b->ignore_merges) != LR_OK ||
      parse_affix(L, m, "continuing_subword_prefix", &b->prefix, &b->prefix_len) != LR_OK ||
      parse_affix(L, m, "end_of_word_suffix", &b->suffix, &b->suffix_len) != LR_OK ||
      get_str(L, m, "model", "unk_token", false, &unk, NULL) != LR_OK)
    return L->err->code;
  b->unk_id = -1;
  if (unk && (b->unk_id = tk_vocab_id(L->t, unk, strlen(unk))) < 0)
    return fail(L, LR_EPARSE, "model.unk_token '%s' is not in the vocabulary", unk);
  tk_bpe_index_bytes(L->t);
  return LR_OK;
}

static lr_status parse_model(loader *L, const json_t *m) {
  const char *type;
  json_t *merges, *v;
  lr_buf tmp = LR_BUF_INIT;
  size_t i;
  if (!json_is_object(m))
    return fail(L, LR_EPARSE, "model must be an object, got %s", lr_json_kind(m));
  if (get_str(L, m, "model", "type", false, &type, NULL) != LR_OK)
    return L->err->code;
  if (type && strcmp(type, "BPE") != 0)
    return fail(L, LR_EUNSUPPORTED, "model.type '%s' is not supported (only BPE)", type);
  if (type == NULL && json_object_get(m, "merges") == NULL)
    return fail(L, LR_EUNSUPPORTED, "model has no type and no merges: only BPE is supported");
  if (parse_vocab(L, json_object_get(m, "vocab")) != LR_OK)
    return L->err->code;
  if (parse_model_options(L, m) != LR_OK)
    return L->err->code;
  merges = json_object_get(m, "merges");
  if (merges == NULL)
    merges = json_array(); /* a vocabulary without merges: every word is split to characters */
  else
    json_incref(merges);
  if (!json_is_array(merges)) {
    json_decref(merges);
    return fail(L, LR_EPARSE, "model.merges must be an array, got %s", lr_json_kind(merges));
  }
  if (tk_bpe_init_tables(&L->t->bpe, json_array_size(merges), L->err) == LR_OK) {
    json_array_foreach(merges, i, v) {
      if (parse_merge(L, v, i, &tmp) != LR_OK)
        break;
    }
  }
  lr_buf_release(&tmp);
  json_decref(merges);
  return L->err->code;
}

/* ---- added tokens --------------------------------------------------------------------------------- */

static lr_status parse_added_token(loader *L, const json_t *o, size_t i, tk_added *a) {
  char path[64];
  const char *content;
  size_t len;
  json_t *id = json_object_get(o, "id");
  snprintf(path, sizeof path, "added_tokens[%zu]", i);
  if (!json_is_object(o))
    return fail(L, LR_EPARSE, "%s must be an object, got %s", path, lr_json_kind(o));
  if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= MAX_TOKEN_ID)
    return fail(L, LR_EPARSE, "%s.id must be an id in [0, %d)", path, MAX_TOKEN_ID);
  a->normalized = true; /* HF's default for added tokens */
  if (get_str(L, o, path, "content", true, &content, &len) != LR_OK ||
      get_bool(L, o, path, "special", &a->special) != LR_OK ||
      get_bool(L, o, path, "lstrip", &a->lstrip) != LR_OK ||
      get_bool(L, o, path, "rstrip", &a->rstrip) != LR_OK ||
      get_bool(L, o, path, "single_word", &a->single_word) != LR_OK ||
      get_bool(L, o, path, "normalized", &a->normalized) != LR_OK)
    return L->err->code;
  if (len == 0)
    return fail(L, LR_EPARSE, "%s.content must not be empty", path);
  a->id = (int32_t)json_integer_value(id);
  a->len = len;
  return (a->content = tk_dup_bytes(content, len)) ? LR_OK : oom(L);
}

static lr_status parse_added(loader *L, const json_t *a) {
  lr_tokenizer *t = L->t;
  size_t i;
  json_t *v;
  if (a == NULL || json_is_null(a))
    return tk_index_added(L->t, L->err);
  if (!json_is_array(a))
    return fail(L, LR_EPARSE, "added_tokens must be an array, got %s", lr_json_kind(a));
  if ((t->added = calloc(json_array_size(a) + 1, sizeof *t->added)) == NULL)
    return oom(L);
  json_array_foreach(a, i, v) {
    if (parse_added_token(L, v, i, &t->added[i]) != LR_OK)
      return L->err->code;
    t->n_added++;
  }
  return tk_index_added(L->t, L->err);
}

/* ---- the whole file ------------------------------------------------------------------------------- */

static lr_status check_absent(loader *L, const json_t *root, const char *key) {
  json_t *v = json_object_get(root, key);
  if (v && !json_is_null(v))
    return fail(L, LR_EUNSUPPORTED, "%s is not supported (it must be null)", key);
  return LR_OK;
}

static lr_status parse_root(loader *L, const json_t *root) {
  lr_tokenizer *t = L->t;
  json_t *v;
  if (check_absent(L, root, "truncation") != LR_OK || check_absent(L, root, "padding") != LR_OK)
    return L->err->code;
  if (parse_model(L, json_object_get(root, "model")) != LR_OK)
    return L->err->code;
  /* The normalizers come before the added tokens: normalized ones are matched normalized. */
  if ((v = json_object_get(root, "normalizer")) && !json_is_null(v) &&
      parse_normalizer(L, v, "normalizer", 0) != LR_OK)
    return L->err->code;
  if (parse_added(L, json_object_get(root, "added_tokens")) != LR_OK)
    return L->err->code;
  if ((v = json_object_get(root, "pre_tokenizer")) && !json_is_null(v) &&
      parse_pretok(L, v, "pre_tokenizer", 0) != LR_OK)
    return L->err->code;
  if ((v = json_object_get(root, "post_processor")) && !json_is_null(v) &&
      parse_post(L, v, "post_processor", 0) != LR_OK)
    return L->err->code;
  if ((v = json_object_get(root, "decoder")) && !json_is_null(v)) {
    t->has_decoder = true;
    if (parse_decoder(L, v, "decoder", 0) != LR_OK)
      return L->err->code;
  }
  return tk_finish(t, L->err);
}

lr_status lr_tokenizer_load_buffer(const char *json, size_t len, const char *name,
                                   lr_tokenizer **out, lr_err *err) {
  json_t *root = NULL;
  lr_tokenizer *t;
  lr_status rc = tk_tokenizer_new(name, &t, err);
  loader L = {t, name, err};
  *out = NULL;
  if (rc != LR_OK)
    return rc;
  rc = lr_json_parse_object(json, len, name, &root, err);
  if (rc == LR_OK && parse_root(&L, root) != LR_OK)
    rc = err->code != LR_OK ? err->code : LR_EPARSE;
  json_decref(root);
  if (rc != LR_OK) {
    lr_tokenizer_free(t);
    return rc;
  }
  *out = t;
  return LR_OK;
}

lr_status lr_tokenizer_load(const char *path, lr_tokenizer **out, lr_err *err) {
  char *buf = NULL;
  size_t n = 0;
  lr_status rc;
  *out = NULL;
  if (lr_gguf_path_is_gguf(path))
    return lr_tokenizer_load_gguf(path, out, err);
  rc = lr_read_file(path, MAX_FILE_BYTES, "a tokenizer.json", &buf, &n, err);
  if (rc == LR_OK)
    rc = lr_tokenizer_load_buffer(buf, n, path, out, err);
  free(buf);
  return rc;
}

/* ---- release and lookups -------------------------------------------------------------------------- */

const char *lr_tokenizer_piece(const lr_tokenizer *t, int32_t id) {
  if (id < 0 || (size_t)id >= t->n_pieces)
    return NULL;
  if (t->added_of_id[id] >= 0)
    return t->added[t->added_of_id[id]].content;
  return t->pieces[id];
}

size_t lr_tokenizer_vocab_size(const lr_tokenizer *t) {
  return t->n_pieces;
}

int32_t lr_tokenizer_bos(const lr_tokenizer *t) {
  return t->n_tmpl_pre > 0 ? t->tmpl_pre[0] : -1;
}

int32_t lr_tokenizer_token_id(const lr_tokenizer *t, const char *piece) {
  int32_t id = tk_added_id(t, piece, strlen(piece));
  return id >= 0 ? id : tk_vocab_id(t, piece, strlen(piece));
}
