/*
 * cmd-plan.c: `lorens plan GRID.yaml`: validate a grid file and show the runs it expands to,
 * without running anything or touching a database.  It is the check to run before a sweep: the
 * same loader runs, so any error it prints is the one `lorens run` would stop at.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/canonical-json.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "grid/grid.h"
#include "run/preflight.h"

enum { FORMAT_TEXT, FORMAT_JSON };

/* Widest a value column gets in the text table; longer values end in "...". */
#define PLAN_VALUE_MAX 40
/* A mapping axis shown by the leaves that vary ("kl.weight=0.1 weight_decay.b=0.0") gets more. */
#define PLAN_LEAVES_MAX 72

/* ---- text ---------------------------------------------------------------------------------------- */

static bool is_dataset(const json_t *v) {
  return json_is_object(v) && json_is_string(json_object_get(v, "name")) &&
         json_is_string(json_object_get(v, "path"));
}

/* The leaf at dotted path `path` inside mapping v, or NULL. */
static const json_t *leaf_at(const json_t *v, const char *path) {
  char key[128];
  const char *dot;
  while (v && (dot = strchr(path, '.')) != NULL) {
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    v = json_object_get(v, key);
    path = dot + 1;
  }
  return v ? json_object_get(v, path) : NULL;
}

/* Adds to `out` (a set: object of path -> true) the dotted leaf paths of mapping v under prefix. */
static void leaf_paths(const json_t *v, const char *prefix, json_t *out) {
  const char *key;
  json_t *child;
  json_object_foreach((json_t *)v, key, child) {
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
    if (json_is_object(child) && !is_dataset(child))
      leaf_paths(child, path, out);
    else
      json_object_set_new(out, path, json_true());
  }
}

/*
 * For an axis whose values are mappings (`regularizer: [{}, {kl: {weight: 0.1}}]`), the leaves
 * that differ between its values, as a JSON array of dotted paths in sorted order: the table
 * shows those ("kl.weight=0.1") instead of every resolved default.  NULL for other axes.
 */
static json_t *differing_leaves(const lr_grid *g, size_t a) {
  json_t *all = json_object(), *out = json_array();
  const char *path;
  json_t *unused;
  bool mapping = g->n_cells > 0;
  for (size_t c = 0; c < g->n_cells && mapping; c++) {
    const json_t *v = json_object_get(g->cells[c].axes, g->axes[a]);
    mapping = json_is_object(v) && !is_dataset(v);
    if (mapping)
      leaf_paths(v, "", all);
  }
  json_object_foreach(all, path, unused) {
    const json_t *first = leaf_at(json_object_get(g->cells[0].axes, g->axes[a]), path);
    bool differs = false;
    for (size_t c = 1; c < g->n_cells && !differs; c++) {
      const json_t *v = leaf_at(json_object_get(g->cells[c].axes, g->axes[a]), path);
      differs = !(first && v && json_equal((json_t *)first, (json_t *)v)) && (first || v);
    }
    if (differs)
      json_array_append_new(out, json_string(path));
  }
  json_decref(all);
  if (!mapping || json_array_size(out) == 0) {
    json_decref(out);
    return NULL;
  }
  /* jansson keeps insertion order; sort the paths so the columns read the same every time. */
  for (size_t i = 1; i < json_array_size(out); i++)
    for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(out, j - 1)),
                                       json_string_value(json_array_get(out, j))) > 0; j--) {
      json_t *x = json_incref(json_array_get(out, j));
      json_array_set(out, j, json_array_get(out, j - 1));
      json_array_set_new(out, j - 1, x);
    }
  return out;
}

static void value_text(const json_t *v, char *buf, size_t size);

/* "kl.weight=0.1 weight_decay.b=0.0": a mapping value shown by the leaves that vary. */
static void leaves_text(const json_t *v, const json_t *paths, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < json_array_size(paths) && used < size; i++) {
    const char *path = json_string_value(json_array_get(paths, i));
    const json_t *leaf = leaf_at(v, path);
    char text[PLAN_VALUE_MAX + 8] = "-";
    if (leaf)
      value_text(leaf, text, sizeof text);
    used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", i ? " " : "", path, text);
  }
}

/* A value as short text: strings bare, data sets by name, anything else as canonical JSON. */
static void value_text(const json_t *v, char *buf, size_t size) {
  char *text = NULL;
  if (json_is_string(v)) {
    snprintf(buf, size, "%s", json_string_value(v));
  } else if (is_dataset(v)) {
    snprintf(buf, size, "%s", json_string_value(json_object_get(v, "name")));
  } else if (json_is_array(v) && json_array_size(v) > 0 && is_dataset(json_array_get(v, 0))) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < json_array_size(v) && used < size; i++)
      used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "",
                               json_string_value(json_object_get(json_array_get(v, i), "name")));
    if (used < size)
      snprintf(buf + used, size - used, "]");
  } else {
    text = lr_json_canonical(v, NULL);
    snprintf(buf, size, "%s", text ? text : "?");
    free(text);
  }
  if (strlen(buf) > PLAN_VALUE_MAX)
    strcpy(buf + PLAN_VALUE_MAX - 3, "...");
}

/* The cell's value on axis a as the table shows it. */
static void cell_text(const lr_grid *g, size_t c, size_t a, json_t *const *leaves, char *buf,
                      size_t size) {
  const json_t *v = json_object_get(g->cells[c].axes, g->axes[a]);
  if (leaves[a]) {
    leaves_text(v, leaves[a], buf, size);
    if (strlen(buf) > PLAN_LEAVES_MAX)
      strcpy(buf + PLAN_LEAVES_MAX - 3, "...");
  } else {
    value_text(v, buf, size);
  }
}

static void print_text(const lr_grid *g) {
  char value[256];
  size_t *width = calloc(g->n_axes ? g->n_axes : 1, sizeof *width);
  json_t **leaves = calloc(g->n_axes ? g->n_axes : 1, sizeof *leaves);
  if (width == NULL || leaves == NULL) {
    free(width);
    free(leaves);
    return;
  }
  for (size_t a = 0; a < g->n_axes; a++)
    leaves[a] = differing_leaves(g, a);
  printf("sweep:  %s\nfile:   %s\nruns:   %zu\n", g->name, g->path, g->n_cells);
  printf("axes:   ");
  for (size_t a = 0; a < g->n_axes; a++)
    printf("%s%s", a ? ", " : "", g->axes[a]);
  printf("%s\n\n", g->n_axes ? "" : "(none: one run)");
  for (size_t a = 0; a < g->n_axes; a++) {
    width[a] = strlen(g->axes[a]);
    for (size_t c = 0; c < g->n_cells; c++) {
      cell_text(g, c, a, leaves, value, sizeof value);
      if (strlen(value) > width[a])
        width[a] = strlen(value);
    }
  }
  printf("%-12s", "run_key");
  for (size_t a = 0; a < g->n_axes; a++)
    printf("  %-*s", (int)width[a], g->axes[a]);
  printf("\n");
  for (size_t c = 0; c < g->n_cells; c++) {
    printf("%.12s", g->cells[c].run_key);
    for (size_t a = 0; a < g->n_axes; a++) {
      cell_text(g, c, a, leaves, value, sizeof value);
      printf("  %-*s", a + 1 < g->n_axes ? (int)width[a] : 0, value);
    }
    printf("\n");
  }
  for (size_t a = 0; a < g->n_axes; a++)
    json_decref(leaves[a]);
  free(leaves);
  free(width);
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

/* Prints v canonically; false when it cannot be written (not UTF-8, out of memory). */
static bool put_json(const json_t *v) {
  char *text = lr_json_canonical(v, NULL);
  if (text == NULL)
    return false;
  fputs(text, stdout);
  free(text);
  return true;
}

/* One line per cell, so that the output greps and diffs well; each value is canonical JSON. */
static int print_json(const lr_grid *g) {
  json_t *name = json_string(g->name), *axes = json_array();
  bool ok = name && axes;
  for (size_t a = 0; ok && a < g->n_axes; a++)
    ok = json_array_append_new(axes, json_string(g->axes[a])) == 0;
  if (ok) {
    printf("{\"name\":");
    ok = put_json(name);
    printf(",\"runs\":%zu,\"axes\":", g->n_cells);
    ok = ok && put_json(axes);
    printf(",\"cells\":[");
  }
  for (size_t c = 0; ok && c < g->n_cells; c++) {
    printf("%s\n{\"run_key\":\"%s\",\"axes\":", c ? "," : "", g->cells[c].run_key);
    ok = put_json(g->cells[c].axes);
    printf(",\"config\":%s}", g->cells[c].canonical);
  }
  if (ok)
    printf("\n]}\n");
  json_decref(name);
  json_decref(axes);
  if (!ok) {
    fprintf(stderr, "lorens: plan: cannot write JSON (out of memory)\n");
    return LR_EXIT_FAILURE;
  }
  return LR_EXIT_OK;
}

/* ---- the command --------------------------------------------------------------------------------- */

typedef struct plan_opts {
  int format;
  bool check;
  lr_strings dirs;
} plan_opts;

static const lr_option options[] = {
    {LR_ARG_CHOICE(plan_opts, format, "format", 0, lr_text_json,
                   "text (default) or json: {\"name\", \"runs\", \"axes\", \"cells\":\n"
                   "[{\"run_key\", \"axes\", \"config\"}]}, one cell per line, each config\n"
                   "in the canonical form its run_key hashes")},
    {LR_ARG_FLAG(plan_opts, check, "check", 0,
                 "also check what the runs will load, as `lorens run` does before it\n"
                 "starts: each backend, model with its tokenizer, and data set")},
    {LR_ARG_STRINGS(plan_opts, dirs, "backend-dir", 0, "DIR",
                    "with --check: search DIR for backends first")},
    LR_ARG_END,
};

static int run_plan(int argc, char **argv) {
  plan_opts o = {.format = FORMAT_TEXT};
  int rc = lr_options_parse(&lr_cmd_plan, argc, argv, &o, NULL);
  lr_grid g;
  lr_err err;
  lr_err_init(&err);
  if (rc == LR_EXIT_OK && lr_grid_load(argv[1], &g, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    rc = LR_EXIT_FAILURE;
  }
  if (rc != LR_EXIT_OK) {
    lr_strings_release(&o.dirs);
    return rc;
  }
  if (o.format == FORMAT_JSON)
    rc = print_json(&g);
  else
    print_text(&g);
  if (o.check && rc == LR_EXIT_OK) {
    lr_preflight_opts po = {o.dirs.a, o.dirs.n, NULL};
    size_t problems = lr_preflight(&g, &po, stderr);
    if (problems > 0) {
      fprintf(stderr, "lorens: plan: %zu problem%s: no run of this grid can start\n", problems,
              problems == 1 ? "" : "s");
      rc = LR_EXIT_FAILURE;
    } else {
      fprintf(stderr, "check: every backend, model and data set of the %zu runs is ready\n",
              g.n_cells);
    }
  }
  lr_grid_release(&g);
  lr_strings_release(&o.dirs);
  return rc;
}

const lr_command lr_cmd_plan = {
    .name = "plan", .args = "GRID.yaml", .options = options, .run = run_plan, .help = lr_help_plan,
    .summary = "Validate an experiment grid and list the runs it expands to.",
    .args_missing = "missing the grid file"};
