/*
 * grid.c: grid files into cells (see grid.h; the schema is in grid-fields.c, docs in
 * docs/grid.md).
 *
 * The steps: parse the YAML into a tree with positions (yaml-tree.c); validate the top level into
 * the base configuration (every key checked, defaults filled in); read the axes of `grid`, the
 * groups of `zip` and the entries of `exclude` and `include`, validating each value exactly as
 * the same key in the base configuration; count the cells against the cap; then build each cell
 * (base + axis values, resolved, canonical, hashed), drop the excluded ones, add the included
 * ones, and drop any cell whose run_key an earlier cell already has.
 */
#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/canonical-json.h"
#include "base/json-util.h"
#include "base/file-util.h"
#include "base/hashmap.h"
#include "base/sha256.h"
#include "base/suggest.h"
#include "base/yaml-tree.h"
#include "grid/grid-schema.h"
#include "grid/grid.h"

/* One axis of `grid`: a path and its values (validated, in file order). */
typedef struct axis {
  const char *path;    /* the key's text */
  const lr_ynode *key; /* for messages */
  json_t **values;
  size_t n;
  long zip;            /* index of its zip group, -1 when it moves on its own */
} axis;

/* One entry of `exclude` or `include`: paths and values. */
typedef struct entry {
  const lr_ynode *node;
  const char **paths;
  json_t **values;
  size_t n;
} entry;

/* A dimension of the product: one axis, or a zip group whose axes move together. */
typedef struct dim {
  size_t *axes;
  size_t n_axes, len;
} dim;

typedef struct parser {
  lr_vctx vc;
  lr_grid *g;
  size_t max_cells;
  const lr_ynode *root, *grid_node;
  json_t *base;
  axis *axes;
  size_t n_axes;
  dim *dims;
  size_t n_dims;
  entry *excl, *incl;
  size_t n_excl, n_incl;
} parser;

static const char *const meta_keys[] = {"name", "runtime", "prepare", "grid", "zip", "exclude",
                                        "include"};

static bool is_meta_key(const char *key) {
  for (size_t i = 0; i < LR_ARRAY_LEN(meta_keys); i++)
    if (strcmp(key, meta_keys[i]) == 0)
      return true;
  return false;
}

static lr_status fail(parser *p, const lr_ynode *n, const char *fmt, ...) LR_PRINTF(3, 4);
static lr_status fail(parser *p, const lr_ynode *n, const char *fmt, ...) {
  char msg[LR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lr_fail_at(p->vc.err, LR_EINVAL, p->vc.file, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

static lr_status oom(parser *p) {
  return lr_fail(p->vc.err, LR_ENOMEM, "out of memory");
}

static bool has_nul(const lr_ynode *n) {
  return strlen(n->text) != n->len;
}

/* ---- paths in a configuration --------------------------------------------------------------------- */

/* Sets path in config to value (stolen). */
static bool config_set_new(json_t *config, const char *path, json_t *value) {
  char key[LR_KEY_PATH_MAX];
  json_t *parent = lr_json_path_parent(config, path, key, sizeof key, NULL);
  if (parent == NULL || value == NULL) {
    json_decref(value);
    return false;
  }
  return json_object_set_new(parent, key, value) == 0;
}

/* Checks a key path of grid/exclude/include (key node k, "grid" etc. as where): it names a field
 * of a run's configuration, and (need_parent) every mapping above it is there in the base. */
static lr_status check_path(parser *p, const lr_ynode *k, const char *where, bool need_parent,
                            const lr_field **out) {
  char msg[LR_ERR_MSG_MAX], first[64], key[LR_KEY_PATH_MAX];
  size_t bad_len = 0;
  if (has_nul(k) || k->len == 0 || k->len >= LR_KEY_PATH_MAX - 64)
    return fail(p, k, "%s: '%.60s' is not a key path", where, k->text);
  snprintf(first, sizeof first, "%.*s", (int)strcspn(k->text, "."), k->text);
  if (is_meta_key(first))
    return fail(p, k, "%s.%s: '%s' is not part of a run's configuration and cannot vary", where,
                k->text, first);
  if ((*out = lr_schema_find(lr_schema_config(), k->text, msg, sizeof msg)) == NULL)
    return fail(p, k, "%s.%s: %s", where, k->text, msg);
  if (need_parent && lr_json_path_parent(p->base, k->text, key, sizeof key, &bad_len) == NULL)
    return fail(p, k, "%s.%s: %.*s is null in the base configuration; set it there, or vary %.*s as "
                "a whole", where, k->text, (int)bad_len, k->text, (int)bad_len, k->text);
  return LR_OK;
}

/* Does a equal b or contain it (or the other way round) as a dotted path? */
static bool paths_overlap(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b), n = na < nb ? na : nb;
  if (strncmp(a, b, n) != 0)
    return false;
  return na == nb || (na < nb ? b[na] == '.' : a[nb] == '.');
}

/* ---- name and runtime ----------------------------------------------------------------------------- */

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* ^[A-Za-z0-9][A-Za-z0-9_.-]*$, at most 128 bytes. */
static bool valid_name(const char *s, size_t len) {
  return len > 0 && len <= 128 && strlen(s) == len && strchr(ALNUM, s[0]) != NULL &&
         strspn(s, ALNUM "_.-") == len;
}

static lr_status parse_name(parser *p) {
  const lr_ynode *n = lr_ynode_get(p->root, "name", NULL);
  json_t *v;
  lr_status rc;
  if (n == NULL)
    return fail(p, p->root, "missing required key 'name'");
  if ((rc = lr_schema_check_string(n, "name", &p->vc, &v)) != LR_OK)
    return rc;
  json_decref(v);
  if (!valid_name(n->text, n->len))
    return fail(p, n, "name: must be 1 to 128 letters, digits, '_', '.' or '-', starting with a "
                "letter or digit, not '%.60s'", n->text);
  return (p->g->name = strdup(n->text)) ? LR_OK : oom(p);
}

static lr_status parse_runtime(parser *p) {
  const lr_ynode *n = lr_ynode_get(p->root, "runtime", NULL);
  lr_runtime *r = &p->g->runtime;
  json_t *o = NULL, *devices;
  lr_status rc;
  if (n)
    rc = lr_schema_validate(lr_schema_runtime(), n, "runtime", &p->vc, &o);
  else
    rc = (o = lr_schema_default(lr_schema_runtime())) ? LR_OK : oom(p);
  if (rc != LR_OK)
    return rc;
  r->jobs = (long)json_integer_value(json_object_get(o, "jobs"));
  r->threads = (long)json_integer_value(json_object_get(o, "threads"));
  r->retries = (long)json_integer_value(json_object_get(o, "retries"));
  r->micro_batch_tokens = (long)json_integer_value(json_object_get(o, "micro_batch_tokens"));
  r->timeout = json_real_value(json_object_get(o, "timeout"));
  if (json_is_string(json_object_get(o, "precision")) &&
      (r->precision = strdup(json_string_value(json_object_get(o, "precision")))) == NULL) {
    json_decref(o);
    return oom(p);
  }
  devices = json_object_get(o, "devices");
  if ((r->n_devices = json_array_size(devices)) > 0) {
    if ((r->devices = malloc(r->n_devices * sizeof *r->devices)) == NULL) {
      r->n_devices = 0;
      json_decref(o);
      return oom(p);
    }
    for (size_t i = 0; i < r->n_devices; i++)
      r->devices[i] = (long)json_integer_value(json_array_get(devices, i));
  }
  json_decref(o);
  return LR_OK;
}

/* ---- grid, zip, exclude, include ------------------------------------------------------------------ */

static bool is_null_node(const lr_ynode *n) {
  long long i;
  double d;
  bool b;
  return n->kind == LR_YAML_SCALAR && lr_yaml_scalar_type(n, &i, &d, &b) == LR_YS_NULL;
}

/* Whether value `item` of an axis, as canonical text, is key (an lr_hashmap_eq_fn). */
static bool same_text(const void *ctx, size_t item, const void *key, size_t len) {
  const char *const *texts = ctx;
  return strlen(texts[item]) == len && memcmp(texts[item], key, len) == 0;
}

static lr_status parse_axis_values(parser *p, axis *a, const lr_field *f, const lr_ynode *list) {
  char where[LR_KEY_PATH_MAX];
  char **texts;
  lr_hashmap seen;
  lr_status rc = LR_OK;
  if (list->kind != LR_YAML_SEQ || list->n == 0)
    return fail(p, list, "grid.%s: must be a non-empty list of values", a->path);
  /* Before any value is read: each one is at least one cell. */
  if (list->n > p->max_cells)
    return fail(p, list, "grid.%s: %zu values, more than the %zu cells a sweep may have", a->path,
                list->n, p->max_cells);
  if ((a->values = calloc(list->n, sizeof *a->values)) == NULL ||
      (texts = calloc(list->n, sizeof *texts)) == NULL)
    return oom(p);
  /* Repeated values are found by their canonical text in a hash table: a list as long as the cap
   * takes no longer to check than to read. */
  lr_hashmap_init(&seen, same_text, texts);
  for (size_t i = 0; i < list->n && rc == LR_OK; i++) {
    size_t twin = LR_HASHMAP_NONE;
    snprintf(where, sizeof where, "grid.%s[%zu]", a->path, i);
    if ((rc = lr_schema_validate(f, list->items[i], where, &p->vc, &a->values[i])) != LR_OK)
      break;
    a->n++;
    texts[i] = json_dumps(a->values[i], JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (texts[i] == NULL) {
      rc = oom(p);
      break;
    }
    if (lr_hashmap_add(&seen, lr_hash(texts[i], strlen(texts[i])), texts[i], strlen(texts[i]), i,
                       &twin, NULL) != LR_OK)
      rc = oom(p);
    else if (twin != LR_HASHMAP_NONE)
      rc = fail(p, list->items[i], "%s: the same value as grid.%s[%zu]", where, a->path, twin);
  }
  lr_hashmap_release(&seen);
  for (size_t i = 0; i < list->n; i++)
    free(texts[i]);
  free(texts);
  return rc;
}

static lr_status parse_grid(parser *p) {
  const lr_ynode *n = p->grid_node;
  lr_status rc;
  if (n == NULL || is_null_node(n))
    return LR_OK;
  if (n->kind != LR_YAML_MAP)
    return fail(p, n, "grid: must be a mapping of key paths to lists of values");
  if ((p->axes = calloc(n->n ? n->n : 1, sizeof *p->axes)) == NULL)
    return oom(p);
  for (size_t i = 0; i < n->n; i++) {
    axis *a = &p->axes[i];
    const lr_field *f;
    a->key = n->keys[i];
    a->path = n->keys[i]->text;
    a->zip = -1;
    p->n_axes++;
    if ((rc = check_path(p, a->key, "grid", true, &f)) != LR_OK)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (paths_overlap(a->path, p->axes[j].path))
        return fail(p, a->key, "grid.%s: overlaps the grid axis %s (%d:%d); vary a value or the "
                    "mapping that holds it, not both", a->path, p->axes[j].path, p->axes[j].key->line,
                    p->axes[j].key->col);
    if ((rc = parse_axis_values(p, a, f, n->items[i])) != LR_OK)
      return rc;
  }
  return LR_OK;
}

static axis *find_axis(parser *p, const lr_ynode *item) {
  for (size_t i = 0; i < p->n_axes; i++)
    if (!has_nul(item) && strcmp(p->axes[i].path, item->text) == 0)
      return &p->axes[i];
  return NULL;
}

static lr_status not_an_axis(parser *p, const lr_ynode *item, size_t g, size_t j) {
  const char *names[64], *guess = NULL;
  size_t n = 0;
  for (size_t i = 0; i < p->n_axes && n < LR_ARRAY_LEN(names); i++)
    names[n++] = p->axes[i].path;
  if (item->len < 64 && !has_nul(item))
    guess = lr_suggest(item->text, names, n);
  return fail(p, item, "zip[%zu][%zu]: '%.60s' is not a grid axis%s%s%s", g, j, item->text,
              guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
}

static lr_status parse_zip_group(parser *p, const lr_ynode *group, size_t g) {
  const axis *first = NULL;
  if (group->kind != LR_YAML_SEQ || group->n < 2)
    return fail(p, group, "zip[%zu]: must be a list of at least two grid axes", g);
  for (size_t j = 0; j < group->n; j++) {
    const lr_ynode *item = group->items[j];
    axis *a;
    if (item->kind != LR_YAML_SCALAR)
      return fail(p, item, "zip[%zu][%zu]: must be a grid axis (a key path of grid)", g, j);
    if ((a = find_axis(p, item)) == NULL)
      return not_an_axis(p, item, g, j);
    if (a->zip == (long)g)
      return fail(p, item, "zip[%zu][%zu]: %s is listed twice", g, j, a->path);
    if (a->zip >= 0)
      return fail(p, item, "zip[%zu][%zu]: %s is already zipped in zip[%ld]", g, j, a->path, a->zip);
    a->zip = (long)g;
    if (first && a->n != first->n)
      return fail(p, item, "zip[%zu][%zu]: %s has %zu values but %s has %zu; zipped axes move "
                  "together and need the same number of values", g, j, a->path, a->n, first->path,
                  first->n);
    if (first == NULL)
      first = a;
  }
  return LR_OK;
}

static lr_status parse_zip(parser *p) {
  const lr_ynode *n = lr_ynode_get(p->root, "zip", NULL);
  lr_status rc;
  if (n == NULL || is_null_node(n))
    return LR_OK;
  if (n->kind != LR_YAML_SEQ)
    return fail(p, n, "zip: must be a list of lists of grid axes");
  for (size_t g = 0; g < n->n; g++)
    if ((rc = parse_zip_group(p, n->items[g], g)) != LR_OK)
      return rc;
  return LR_OK;
}

/* Fills in the names of data sets inside v (a value to compare with resolved cells). */
static bool fill_dataset_names(json_t *v) {
  const char *key;
  json_t *item;
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (!fill_dataset_names(json_array_get(v, i)))
        return false;
    return true;
  }
  if (!json_is_object(v))
    return true;
  if (json_is_string(json_object_get(v, "path")) && json_is_string(json_object_get(v, "format")) &&
      json_is_null(json_object_get(v, "name"))) {
    char name[256];
    lr_dataset_default_name(json_string_value(json_object_get(v, "path")), name, sizeof name);
    return json_object_set_new(v, "name", json_string(name)) == 0;
  }
  json_object_foreach(v, key, item)
    if (!fill_dataset_names(item))
      return false;
  return true;
}

static lr_status parse_entry(parser *p, const char *section, size_t i, const lr_ynode *m, entry *e) {
  char where[64], path[LR_KEY_PATH_MAX];
  lr_status rc;
  bool include = strcmp(section, "include") == 0;
  snprintf(where, sizeof where, "%s[%zu]", section, i);
  e->node = m;
  if (m->kind != LR_YAML_MAP || m->n == 0)
    return fail(p, m, "%s: must be a mapping of key paths to values", where);
  if ((e->paths = calloc(m->n, sizeof *e->paths)) == NULL ||
      (e->values = calloc(m->n, sizeof *e->values)) == NULL)
    return oom(p);
  for (size_t k = 0; k < m->n; k++) {
    const lr_field *f;
    if ((rc = check_path(p, m->keys[k], where, include, &f)) != LR_OK)
      return rc;
    e->paths[k] = m->keys[k]->text;
    for (size_t j = 0; j < k; j++)
      if (paths_overlap(e->paths[k], e->paths[j]))
        return fail(p, m->keys[k], "%s.%s: overlaps %s in the same entry", where, e->paths[k],
                    e->paths[j]);
    snprintf(path, sizeof path, "%s.%s", where, e->paths[k]);
    if ((rc = lr_schema_validate(f, m->items[k], path, &p->vc, &e->values[k])) != LR_OK)
      return rc;
    e->n++;
    if (!include && !fill_dataset_names(e->values[k]))
      return oom(p);
  }
  return LR_OK;
}

static lr_status parse_entries(parser *p, const char *section, entry **out, size_t *n_out) {
  const lr_ynode *n = lr_ynode_get(p->root, section, NULL);
  lr_status rc;
  if (n == NULL || is_null_node(n))
    return LR_OK;
  if (n->kind != LR_YAML_SEQ)
    return fail(p, n, "%s: must be a list of mappings of key paths to values", section);
  if ((*out = calloc(n->n ? n->n : 1, sizeof **out)) == NULL)
    return oom(p);
  for (size_t i = 0; i < n->n; i++) {
    (*n_out)++;
    if ((rc = parse_entry(p, section, i, n->items[i], &(*out)[i])) != LR_OK)
      return rc;
  }
  return LR_OK;
}

/* ---- dimensions and the cap ----------------------------------------------------------------------- */

/* One dimension per unzipped axis and per zip group, ordered by their first axis in the file. */
static lr_status make_dims(parser *p, size_t *n_product) {
  size_t product = 1;
  if ((p->dims = calloc(p->n_axes ? p->n_axes : 1, sizeof *p->dims)) == NULL)
    return oom(p);
  for (size_t i = 0; i < p->n_axes; i++) {
    dim *d;
    bool placed = false;
    for (size_t j = 0; j < i && p->axes[i].zip >= 0; j++)
      placed = placed || p->axes[j].zip == p->axes[i].zip;
    if (placed)
      continue;
    d = &p->dims[p->n_dims++];
    if ((d->axes = calloc(p->n_axes, sizeof *d->axes)) == NULL)
      return oom(p);
    d->len = p->axes[i].n;
    for (size_t j = i; j < p->n_axes; j++)
      if (j == i || (p->axes[i].zip >= 0 && p->axes[j].zip == p->axes[i].zip))
        d->axes[d->n_axes++] = j;
    if (product > p->max_cells / d->len)
      return fail(p, p->grid_node, "grid: expands to more than %zu cells, the most a sweep may have",
                  p->max_cells);
    product *= d->len;
  }
  if (p->n_incl > p->max_cells - product)
    return fail(p, p->grid_node ? p->grid_node : p->root, "grid: with include, more than %zu cells, "
                "the most a sweep may have", p->max_cells);
  *n_product = product;
  return LR_OK;
}

/* ---- cells ---------------------------------------------------------------------------------------- */

/* run_keys seen so far: an index over the grid's cells, allocated once for every cell. */
static bool run_key_eq(const void *ctx, size_t i, const void *key, size_t len) {
  const lr_cell *c = &((const lr_grid *)ctx)->cells[i];
  return memcmp(c->run_key, key, len) == 0 && c->run_key[len] == '\0';
}

static bool excluded(const parser *p, const json_t *config) {
  for (size_t i = 0; i < p->n_excl; i++) {
    const entry *e = &p->excl[i];
    size_t k = 0;
    while (k < e->n && json_equal(lr_json_path_get(config, e->paths[k]), e->values[k]))
      k++;
    if (k == e->n)
      return true;
  }
  return false;
}

/* "lora.rank=4, seed=1" for messages about one cell. */
static void describe_cell(const parser *p, const json_t *config, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < p->n_axes && used + 1 < size; i++) {
    char *v = lr_json_canonical(lr_json_path_get(config, p->axes[i].path), NULL);
    used += (size_t)snprintf(buf + used, size - used, "%s%s=%.60s", i ? ", " : "", p->axes[i].path,
                             v ? v : "?");
    free(v);
  }
}

/* Resolves config (stolen), excludes it or hashes it into the next cell unless its run_key is
 * already there.  at and what locate errors. */
/* The node in the file of the key path a message starts with ("regularizer.early_stopping.metric:
 * ..."; "data.eval[1].name: ..."), or its nearest ancestor there; NULL when the path's first key
 * is not in the file either (a default). */
static const lr_ynode *node_of_message(const lr_ynode *root, const char *msg) {
  const lr_ynode *at = root, *found = NULL;
  char path[LR_KEY_PATH_MAX], *part, *save = NULL;
  size_t len = strcspn(msg, ": ");
  if (msg[len] != ':' || len == 0 || len >= sizeof path)
    return NULL;
  memcpy(path, msg, len);
  path[len] = '\0';
  for (part = strtok_r(path, ".", &save); part && at; part = strtok_r(NULL, ".", &save)) {
    char *bracket = strchr(part, '[');
    size_t index = bracket ? strtoul(bracket + 1, NULL, 10) : 0;
    if (bracket)
      *bracket = '\0';
    at = at->kind == LR_YAML_MAP ? lr_ynode_get(at, part, NULL) : NULL;
    if (at && bracket)
      at = at->kind == LR_YAML_SEQ && index < at->n ? at->items[index] : NULL;
    if (at)
      found = at;
  }
  return found;
}

static lr_status add_cell(parser *p, lr_hashmap *keys, json_t *config, bool check_exclude,
                          const lr_ynode *at, const char *what) {
  char msg[LR_ERR_MSG_MAX], cell[512];
  lr_cell *c = &p->g->cells[p->g->n_cells];
  size_t len, found;
  if (config == NULL)
    return oom(p);
  if (!lr_schema_resolve(config, msg, sizeof msg)) {
    describe_cell(p, config, cell, sizeof cell);
    json_decref(config);
    /* A grid without axes is one cell, the file as written: point at the key, not at "grid". */
    if (p->n_axes == 0 && check_exclude) {
      const lr_ynode *key = node_of_message(p->root, msg);
      return fail(p, key ? key : p->root, "%s", msg);
    }
    if (check_exclude && cell[0])
      return fail(p, at, "%s: the cell %s: %s", what, cell, msg);
    return fail(p, at, "%s: %s", what, msg);
  }
  /* runtime.precision is the precision of a cell that sets none; then every implicit key is
   * spelled out for exclude to match, and left out of the canonical text at its default. */
  if ((p->g->runtime.precision && !json_object_get(config, "precision") &&
       json_object_set_new(config, "precision", json_string(p->g->runtime.precision)) != 0) ||
      !lr_schema_fill_implicit_defaults(lr_schema_config(), config)) {
    json_decref(config);
    return oom(p);
  }
  if (check_exclude && excluded(p, config)) {
    json_decref(config);
    return LR_OK;
  }
  lr_schema_drop_implicit_defaults(lr_schema_config(), config);
  if ((c->canonical = lr_json_canonical(config, &len)) == NULL) {
    json_decref(config);
    return oom(p);
  }
  lr_sha256_hex(c->canonical, len, c->run_key);
  c->config = config;
  len = strlen(c->run_key);
  if (lr_hashmap_add(keys, lr_hash(c->run_key, len), c->run_key, len, p->g->n_cells, &found,
                     NULL) != LR_OK) /* cannot fail: reserved for every cell */
    return oom(p);
  if (found != LR_HASHMAP_NONE) {
    free(c->canonical);
    json_decref(config);
    memset(c, 0, sizeof *c);
    return LR_OK;
  }
  p->g->n_cells++;
  return LR_OK;
}

/* The base configuration with the values of product cell idx (the last dimension moves fastest). */
static json_t *product_config(const parser *p, size_t idx) {
  json_t *config = json_deep_copy(p->base);
  for (size_t d = p->n_dims; d-- > 0 && config;) {
    const dim *dm = &p->dims[d];
    size_t k = idx % dm->len;
    idx /= dm->len;
    for (size_t a = 0; a < dm->n_axes; a++) {
      const axis *ax = &p->axes[dm->axes[a]];
      if (!config_set_new(config, ax->path, json_deep_copy(ax->values[k]))) {
        json_decref(config);
        return NULL;
      }
    }
  }
  return config;
}

static json_t *include_config(const parser *p, const entry *e) {
  json_t *config = json_deep_copy(p->base);
  for (size_t k = 0; k < e->n && config; k++)
    if (!config_set_new(config, e->paths[k], json_deep_copy(e->values[k]))) {
      json_decref(config);
      return NULL;
    }
  return config;
}

static lr_status expand(parser *p, size_t n_product) {
  const lr_ynode *at = p->grid_node ? p->grid_node : p->root;
  size_t total = n_product + p->n_incl;
  lr_hashmap keys;
  lr_status rc = LR_OK;
  char what[64];
  lr_hashmap_init(&keys, run_key_eq, p->g);
  if ((p->g->cells = calloc(total, sizeof *p->g->cells)) == NULL ||
      lr_hashmap_reserve(&keys, total, NULL) != LR_OK)
    return oom(p);
  for (size_t i = 0; i < n_product && rc == LR_OK; i++)
    rc = add_cell(p, &keys, product_config(p, i), true, at, "grid");
  for (size_t i = 0; i < p->n_incl && rc == LR_OK; i++) {
    snprintf(what, sizeof what, "include[%zu]", i);
    rc = add_cell(p, &keys, include_config(p, &p->incl[i]), false, p->incl[i].node, what);
  }
  lr_hashmap_release(&keys);
  if (rc == LR_OK && p->g->n_cells == 0)
    rc = fail(p, lr_ynode_get(p->root, "exclude", NULL), "exclude: removes every cell of the grid");
  return rc;
}

/* g->axes: the grid's axes, then include keys that are not axes; then each cell's axes object. */
static lr_status name_axes(parser *p) {
  lr_grid *g = p->g;
  size_t cap = p->n_axes;
  for (size_t i = 0; i < p->n_incl; i++)
    cap += p->incl[i].n;
  if ((g->axes = calloc(cap ? cap : 1, sizeof *g->axes)) == NULL)
    return oom(p);
  for (size_t i = 0; i < p->n_axes; i++)
    if ((g->axes[g->n_axes++] = strdup(p->axes[i].path)) == NULL)
      return oom(p);
  g->n_grid_axes = g->n_axes;
  for (size_t i = 0; i < p->n_incl; i++)
    for (size_t k = 0; k < p->incl[i].n; k++) {
      bool seen = false;
      for (size_t j = 0; j < g->n_axes && !seen; j++)
        seen = strcmp(g->axes[j], p->incl[i].paths[k]) == 0;
      if (!seen && (g->axes[g->n_axes++] = strdup(p->incl[i].paths[k])) == NULL)
        return oom(p);
    }
  for (size_t c = 0; c < g->n_cells; c++) {
    if ((g->cells[c].axes = json_object()) == NULL)
      return oom(p);
    for (size_t i = 0; i < g->n_axes; i++) {
      json_t *v = lr_json_path_get(g->cells[c].config, g->axes[i]);
      if (json_object_set(g->cells[c].axes, g->axes[i], v ? v : json_null()) != 0)
        return oom(p);
    }
  }
  return LR_OK;
}

/* ---- prepare ------------------------------------------------------------------------------------- */

/* A path of the prepare section, resolved against the grid's directory; NULL stays NULL. */
static lr_status prepare_path(parser *p, const json_t *o, const char *key, char **out) {
  const char *v = json_string_value(json_object_get(o, key));
  if (v == NULL)
    return LR_OK;
  return (*out = lr_path_resolve(p->g->base_dir, v)) ? LR_OK : oom(p);
}

/* "MIN..MAX" or "N". */
static bool parse_mentions(const char *s, long *lo, long *hi) {
  char *end;
  *lo = strtol(s, &end, 10);
  if (end == s)
    return false;
  if (*end == '\0') {
    *hi = *lo;
    return true;
  }
  if (strncmp(end, "..", 2) != 0)
    return false;
  s = end + 2;
  *hi = strtol(s, &end, 10);
  return end != s && *end == '\0';
}

static lr_status parse_prepare(parser *p) {
  const lr_ynode *n = lr_ynode_get(p->root, "prepare", NULL);
  lr_prepare *pr = &p->g->prepare;
  json_t *o = NULL, *sy, *pt;
  lr_status rc;
  if (n == NULL)
    return LR_OK;
  if ((rc = lr_schema_validate(lr_schema_prepare(), n, "prepare", &p->vc, &o)) != LR_OK)
    return rc;
  sy = json_object_get(o, "synth");
  pt = json_object_get(o, "pretrain");
  lr_synth_opts_init(&pr->synth);
  pr->synth.seed = (uint64_t)json_integer_value(json_object_get(sy, "seed"));
  pr->synth.entities = (long)json_integer_value(json_object_get(sy, "entities"));
  pr->synth.facts_per_entity = (long)json_integer_value(json_object_get(sy, "facts_per_entity"));
  pr->synth.train = (long)json_integer_value(json_object_get(sy, "train"));
  pr->synth.validation = (long)json_integer_value(json_object_get(sy, "validation"));
  pr->synth.test = (long)json_integer_value(json_object_get(sy, "test"));
  pr->synth.ood = (long)json_integer_value(json_object_get(sy, "ood"));
  if (!parse_mentions(json_string_value(json_object_get(sy, "mentions")), &pr->synth.mentions_min,
                      &pr->synth.mentions_max))
    rc = fail(p, n, "prepare.synth.mentions: expected MIN..MAX (like 1..6), not '%s'",
              json_string_value(json_object_get(sy, "mentions")));
  if (rc == LR_OK)
    rc = prepare_path(p, sy, "out", &pr->synth_out);
  if (rc == LR_OK && pr->synth_out) {
    lr_err e;
    lr_err_init(&e);
    if (lr_synth_check(&pr->synth, &e) != LR_OK)
      rc = fail(p, n, "prepare.synth: %s", e.msg);
  }
  if (rc == LR_OK)
    rc = prepare_path(p, pt, "out", &pr->pretrain_out);
  if (rc == LR_OK)
    rc = prepare_path(p, pt, "corpus", &pr->pretrain_corpus);
  if (rc == LR_OK)
    rc = prepare_path(p, pt, "config", &pr->pretrain_config);
  if (rc == LR_OK)
    rc = prepare_path(p, pt, "questions", &pr->pretrain_questions);
  if (rc == LR_OK &&
      (pr->pretrain_template = strdup(json_string_value(json_object_get(pt, "template")))) == NULL)
    rc = oom(p);
  if (rc == LR_OK && pr->pretrain_out && pr->pretrain_corpus == NULL)
    rc = fail(p, n, "prepare.pretrain: 'out' needs a 'corpus' to pretrain on");
  json_decref(o);
  return rc;
}

/* ---- the whole file ------------------------------------------------------------------------------- */

static lr_status parse_tree(parser *p) {
  size_t n_product = 0;
  lr_status rc = lr_schema_validate_top(lr_schema_config(), p->root, is_meta_key, meta_keys,
                                        LR_ARRAY_LEN(meta_keys), &p->vc, &p->base);
  if (rc == LR_OK)
    rc = parse_name(p);
  if (rc == LR_OK)
    rc = parse_runtime(p);
  if (rc == LR_OK)
    rc = parse_prepare(p);
  p->grid_node = lr_ynode_get(p->root, "grid", NULL);
  if (rc == LR_OK)
    rc = parse_grid(p);
  if (rc == LR_OK)
    rc = parse_zip(p);
  if (rc == LR_OK)
    rc = parse_entries(p, "exclude", &p->excl, &p->n_excl);
  if (rc == LR_OK)
    rc = parse_entries(p, "include", &p->incl, &p->n_incl);
  if (rc == LR_OK)
    rc = make_dims(p, &n_product);
  if (rc == LR_OK)
    rc = expand(p, n_product);
  if (rc == LR_OK)
    rc = name_axes(p);
  return rc;
}

static void free_entries(entry *e, size_t n) {
  for (size_t i = 0; e && i < n; i++) {
    for (size_t k = 0; k < e[i].n; k++)
      json_decref(e[i].values[k]);
    free(e[i].values);
    free(e[i].paths);
  }
  free(e);
}

static void parser_release(parser *p) {
  for (size_t i = 0; i < p->n_axes; i++) {
    for (size_t k = 0; k < p->axes[i].n; k++)
      json_decref(p->axes[i].values[k]);
    free(p->axes[i].values);
  }
  free(p->axes);
  for (size_t i = 0; i < p->n_dims; i++)
    free(p->dims[i].axes);
  free(p->dims);
  free_entries(p->excl, p->n_excl);
  free_entries(p->incl, p->n_incl);
  json_decref(p->base);
}

static lr_status copy_source(lr_grid *g, const char *file, const char *text, size_t len,
                             const char *base_dir) {
  g->path = strdup(file);
  g->base_dir = strdup(base_dir ? base_dir : ".");
  g->text = malloc(len + 1);
  if (g->path == NULL || g->base_dir == NULL || g->text == NULL)
    return LR_ENOMEM;
  memcpy(g->text, text, len);
  g->text[len] = '\0';
  g->text_len = len;
  lr_sha256_hex(text, len, g->text_sha256);
  return LR_OK;
}

lr_status lr_grid_parse_capped(const char *file_for_errors, const char *text, size_t len,
                               const char *base_dir, size_t max_cells, lr_grid *g, lr_err *err) {
  parser p;
  lr_ynode *root = NULL;
  lr_status rc;
  memset(g, 0, sizeof *g);
  memset(&p, 0, sizeof p);
  p.vc.file = file_for_errors;
  p.vc.err = err;
  p.g = g;
  p.max_cells = max_cells;
  if (copy_source(g, file_for_errors, text, len, base_dir) != LR_OK)
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  else
    rc = lr_yaml_parse(file_for_errors, text, len, &root, err);
  if (rc == LR_OK) {
    p.root = root;
    rc = parse_tree(&p);
  }
  parser_release(&p);
  lr_ynode_free(root);
  if (rc != LR_OK)
    lr_grid_release(g);
  return rc;
}

lr_status lr_grid_parse(const char *file_for_errors, const char *text, size_t len,
                        const char *base_dir, lr_grid *g, lr_err *err) {
  return lr_grid_parse_capped(file_for_errors, text, len, base_dir, LR_GRID_MAX_CELLS, g, err);
}

/* The absolute directory holding path. */
static char *absolute_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir, *abs;
  if (slash == NULL)
    dir = strdup(".");
  else if (slash == path)
    dir = strdup("/");
  else
    dir = strndup(path, (size_t)(slash - path));
  if (dir == NULL)
    return NULL;
  abs = realpath(dir, NULL);
  free(dir);
  return abs;
}

lr_status lr_grid_load(const char *path, lr_grid *g, lr_err *err) {
  char *text = NULL, *dir;
  size_t len = 0;
  lr_status rc;
  memset(g, 0, sizeof *g);
  rc = lr_read_file(path, LR_GRID_MAX_FILE_BYTES, "a grid file", &text, &len, err);
  if (rc != LR_OK)
    return rc;
  if ((dir = absolute_dir(path)) == NULL) {
    free(text);
    return lr_fail_at(err, LR_EIO, path, 0, 0, "cannot resolve the file's directory: %s",
                      strerror(errno));
  }
  rc = lr_grid_parse(path, text, len, dir, g, err);
  free(dir);
  free(text);
  return rc;
}

void lr_grid_release(lr_grid *g) {
  for (size_t i = 0; g->cells && i < g->n_cells; i++) {
    free(g->cells[i].canonical);
    json_decref(g->cells[i].config);
    json_decref(g->cells[i].axes);
  }
  free(g->cells);
  for (size_t i = 0; i < g->n_axes; i++)
    free(g->axes[i]);
  free(g->axes);
  free(g->runtime.devices);
  free(g->runtime.precision);
  free(g->prepare.synth_out);
  free(g->prepare.pretrain_out);
  free(g->prepare.pretrain_corpus);
  free(g->prepare.pretrain_config);
  free(g->prepare.pretrain_questions);
  free(g->prepare.pretrain_template);
  free(g->path);
  free(g->base_dir);
  free(g->name);
  free(g->text);
  memset(g, 0, sizeof *g);
}

size_t lr_grid_keep_cells(lr_grid *g, const char *const *keys, size_t n_keys) {
  size_t kept = 0;
  for (size_t i = 0; i < g->n_cells; i++) {
    bool keep = false;
    for (size_t j = 0; j < n_keys && !keep; j++)
      keep = strcmp(g->cells[i].run_key, keys[j]) == 0;
    if (keep) {
      g->cells[kept++] = g->cells[i];
      continue;
    }
    free(g->cells[i].canonical);
    json_decref(g->cells[i].config);
    json_decref(g->cells[i].axes);
  }
  g->n_cells = kept;
  return kept;
}

char *lr_path_resolve(const char *base_dir, const char *path) {
  size_t nb, np;
  char *out;
  if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
    return strdup(path);
  nb = strlen(base_dir);
  np = strlen(path);
  if ((out = malloc(nb + np + 2)) == NULL)
    return NULL;
  memcpy(out, base_dir, nb);
  out[nb] = '/';
  memcpy(out + nb + 1, path, np + 1);
  return out;
}
