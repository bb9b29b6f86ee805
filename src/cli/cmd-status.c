/*
 * cmd-status.c: `lorens status --db FILE [--format text|json]`: where a sweep stands.
 *
 * Counts runs by status (all six, zero included), per sweep too when the database holds several;
 * lists running runs with their host, pid and heartbeat age, marking stale ones; and lists failed,
 * diverged and interrupted runs with their exit status and error.  It opens the database
 * read-only, so it is safe to run while a scheduler writes.
 *
 * A running run is stale when the scheduler would take it over (lr_run_owner_gone): claimed on
 * this host by a process that no longer exists, or before this host rebooted; claimed elsewhere
 * with a heartbeat older than STALE_SECONDS (the default --stale-after).
 */
#include "compat.h"

#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/proc-util.h"
#include "base/text-table.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "store/store-status.h"
#include "store/store.h"

enum { FORMAT_TEXT, FORMAT_JSON };
enum { N_STATUS = 6, KEY_PREFIX = 12, MAX_LISTED = 50 };

#define STALE_SECONDS 60.0

static const char *const statuses[N_STATUS] = {"pending", "running",  "done",
                                               "failed",  "diverged", "interrupted"};

typedef struct counts {
  long long n[N_STATUS];
  long long total;
} counts;

/* What this process knows about where it runs, for the liveness check. */
typedef struct here {
  lr_host_id id;
  double now;
} here;

/* ---- reading ------------------------------------------------------------------------------------- */

static int status_index(const char *s) {
  for (int i = 0; s && i < N_STATUS; i++)
    if (strcmp(s, statuses[i]) == 0)
      return i;
  return -1;
}

static void count_add(counts *c, const char *status, long long n) {
  int i = status_index(status);
  if (i >= 0)
    c->n[i] += n;
  c->total += n;
}

static void count_row(void *ctx, const char *status, long long n) {
  count_add(ctx, status, n);
}

static lr_status read_totals(lr_store *s, counts *c, lr_err *err) {
  memset(c, 0, sizeof *c);
  return lr_status_counts(s, count_row, c, err);
}

typedef struct sweep {
  long long id;
  char *name;
  counts c;
} sweep;

typedef struct sweep_list {
  sweep *list;
  size_t n, cap;
} sweep_list;

static lr_status sweep_row(void *ctx, int64_t id, const char *name, const char *status,
                           long long n, lr_err *err) {
  sweep_list *l = ctx;
  if (l->n == 0 || l->list[l->n - 1].id != id) {
    sweep *w;
    if (LR_GROW(l->list, l->cap, l->n + 1, err) != LR_OK)
      return err->code;
    w = &l->list[l->n];
    if ((w->name = strdup(name ? name : "")) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    w->id = id;
    memset(&w->c, 0, sizeof w->c);
    l->n++;
  }
  if (status != NULL) /* NULL: a sweep without runs */
    count_add(&l->list[l->n - 1].c, status, n);
  return LR_OK;
}

/* Every sweep with the runs it owns or shares. */
static lr_status read_sweeps(lr_store *s, sweep **out, size_t *n, lr_err *err) {
  sweep_list l = {NULL, 0, 0};
  lr_status st = lr_status_sweep_counts(s, sweep_row, &l, err);
  *out = l.list;
  *n = l.n;
  return st;
}

static void sweeps_free(sweep *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i].name);
  free(list);
}

/* ---- liveness ------------------------------------------------------------------------------------ */

static void here_init(here *h) {
  lr_host_id_get(&h->id);
  h->now = lr_wall_time();
}

/* A column's text, NULL when it is NULL. */
static const char *text_of(const lr_value *v) {
  return v->type == LR_VALUE_TEXT ? v->s : NULL;
}

/* Why a running run (a row of lr_status_running) looks abandoned, into why (empty when it looks
 * alive): the scheduler's own rule (lr_run_owner_gone), at the default --stale-after. */
static void stale_reason(const lr_value *row, const here *h, char *why, size_t n) {
  const lr_value *pid = &row[LR_RUNNING_PID], *beat = &row[LR_RUNNING_HEARTBEAT];
  lr_run_owner o = {text_of(&row[LR_RUNNING_HOST]), text_of(&row[LR_RUNNING_BOOT_ID]),
                    pid->type == LR_VALUE_INT ? pid->i : 0, beat->type != LR_VALUE_NULL,
                    beat->type == LR_VALUE_NULL ? 0 : beat->r};
  lr_run_owner_gone(&o, &h->id, 0, h->now, STALE_SECONDS, why, n);
}

/* ---- text ---------------------------------------------------------------------------------------- */

/* An indented listing, its first row the column names. */
static lr_status listing_init(lr_text_table *t, int ncols, lr_err *err) {
  lr_status rc = lr_text_table_init(t, ncols, NULL, false, err);
  t->indent = "  ";
  return rc;
}

/* Appends a row of t->ncols strings (NULL prints as ""); the listings have at most 9 columns. */
static lr_status add(lr_text_table *t, lr_err *err, ...) {
  const char *cells[16] = {NULL};
  va_list ap;
  if (t->ncols > 16)
    return lr_fail(err, LR_EINVAL, "a listing of %d columns (at most 16)", t->ncols);
  va_start(ap, err);
  for (int c = 0; c < t->ncols; c++)
    cells[c] = va_arg(ap, const char *);
  va_end(ap);
  return lr_text_table_add(t, cells, err);
}

static void print_counts_text(const counts *c) {
  printf("runs: %lld\n", c->total);
  for (int i = 0; i < N_STATUS; i++)
    printf("  %-12s %lld\n", statuses[i], c->n[i]);
}

static lr_status print_sweeps_text(const sweep *list, size_t n, lr_err *err) {
  lr_text_table g;
  char num[8][32];
  lr_status st = listing_init(&g, 9, err);
  for (int c = 0; st == LR_OK && c < 9; c++)
    g.right[c] = c != 1; /* numbers, and the sweep's name */
  if (st == LR_OK)
    st = add(&g, err, "id", "sweep", "total", statuses[0], statuses[1], statuses[2], statuses[3],
             statuses[4], statuses[5]);
  for (size_t i = 0; st == LR_OK && i < n; i++) {
    snprintf(num[0], sizeof num[0], "%lld", list[i].id);
    snprintf(num[1], sizeof num[1], "%lld", list[i].c.total);
    for (int k = 0; k < N_STATUS; k++)
      snprintf(num[2 + k], sizeof num[2 + k], "%lld", list[i].c.n[k]);
    st = add(&g, err, num[0], list[i].name, num[1], num[2], num[3], num[4], num[5], num[6], num[7]);
  }
  if (st == LR_OK) {
    printf("\nsweeps: %zu\n", n);
    lr_text_table_print(&g, stdout);
  }
  lr_text_table_release(&g);
  return st;
}

static const char *key_prefix(const lr_value *v, char *buf) {
  const char *key = text_of(v);
  snprintf(buf, KEY_PREFIX + 1, "%s", key ? key : "");
  return buf;
}

/* The column as text (an integer in decimal, into buf), or null_text for NULL.  The columns
 * printed this way are TEXT or INTEGER (the runs table is STRICT). */
static const char *text_or(const lr_value *v, const char *null_text, char *buf, size_t n) {
  if (v->type == LR_VALUE_INT) {
    snprintf(buf, n, "%lld", (long long)v->i);
    return buf;
  }
  return v->type == LR_VALUE_TEXT ? v->s : null_text;
}

/* A text listing being built from rows. */
typedef struct listing {
  lr_text_table g;
  const here *h;
  size_t total;
} listing;

static lr_status running_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  listing *l = ctx;
  const lr_value *beat = &row[LR_RUNNING_HEARTBEAT];
  char key[KEY_PREFIX + 1], why[96], age[160], attempts[32], pid[32];
  (void)ncols;
  stale_reason(row, l->h, why, sizeof why);
  if (beat->type == LR_VALUE_NULL)
    snprintf(age, sizeof age, "never");
  else
    snprintf(age, sizeof age, "%.0f s ago", floor(l->h->now - beat->r));
  if (why[0])
    snprintf(age + strlen(age), sizeof age - strlen(age), "  stale: %s", why);
  snprintf(attempts, sizeof attempts, "%lld", (long long)row[LR_RUNNING_ATTEMPTS].i);
  return add(&l->g, err, key_prefix(&row[LR_RUNNING_RUN_KEY], key),
             text_or(&row[LR_RUNNING_HOST], "-", NULL, 0),
             text_or(&row[LR_RUNNING_PID], "-", pid, sizeof pid), attempts, age);
}

static lr_status print_running_text(lr_store *s, const here *h, lr_err *err) {
  listing l = {.h = h};
  lr_status status = listing_init(&l.g, 5, err);
  if (status == LR_OK)
    status = add(&l.g, err, "run_key", "host", "pid", "attempts", "heartbeat");
  if (status == LR_OK)
    status = lr_status_running(s, running_row, &l, err);
  if (status == LR_OK && l.g.nrows > 1) {
    printf("\nrunning: %zu\n", l.g.nrows - 1);
    lr_text_table_print(&l.g, stdout);
  }
  lr_text_table_release(&l.g);
  return status;
}

static lr_status problem_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  listing *l = ctx;
  char key[KEY_PREFIX + 1], attempts[32], first[256];
  const char *error = text_or(&row[LR_PROBLEM_ERROR], "", NULL, 0);
  (void)ncols;
  if (++l->total > MAX_LISTED)
    return LR_OK;
  snprintf(first, sizeof first, "%.*s", (int)strcspn(error, "\r\n"), error);
  snprintf(attempts, sizeof attempts, "%lld", (long long)row[LR_PROBLEM_ATTEMPTS].i);
  return add(&l->g, err, key_prefix(&row[LR_PROBLEM_RUN_KEY], key),
             text_or(&row[LR_PROBLEM_STATUS], "", NULL, 0), attempts,
             text_or(&row[LR_PROBLEM_EXIT_STATUS], "-", NULL, 0), first);
}

static lr_status print_problems_text(lr_store *s, lr_err *err) {
  listing l = {.h = NULL};
  lr_status status = listing_init(&l.g, 5, err);
  if (status == LR_OK)
    status = add(&l.g, err, "run_key", "status", "attempts", "exit", "error");
  if (status == LR_OK)
    status = lr_status_problems(s, problem_row, &l, err);
  if (status == LR_OK && l.total > 0) {
    printf("\nfailed, diverged or interrupted: %zu\n", l.total);
    lr_text_table_print(&l.g, stdout);
    if (l.total > MAX_LISTED)
      printf("  ... and %zu more (--format json lists them all)\n", l.total - MAX_LISTED);
  }
  lr_text_table_release(&l.g);
  return status;
}

static lr_status print_text(lr_store *s, const here *h, lr_err *err) {
  counts c;
  sweep *list = NULL;
  size_t n = 0;
  lr_status st = read_totals(s, &c, err);
  if (st == LR_OK)
    st = read_sweeps(s, &list, &n, err);
  if (st == LR_OK) {
    printf("database: %s (schema version %d)\n", lr_store_path(s), lr_store_file_version(s));
    print_counts_text(&c);
  }
  if (st == LR_OK && n > 1)
    st = print_sweeps_text(list, n, err);
  if (st == LR_OK)
    st = print_running_text(s, h, err);
  if (st == LR_OK)
    st = print_problems_text(s, err);
  sweeps_free(list, n);
  return st;
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

static json_t *counts_json(const counts *c) {
  json_t *o = json_object();
  for (int i = 0; o && i < N_STATUS; i++)
    json_object_set_new(o, statuses[i], json_integer(c->n[i]));
  return o;
}

/* A column as JSON: NULL, integer, real or string by its type. */
static json_t *column_json(const lr_value *v) {
  switch (v->type) {
  case LR_VALUE_NULL:
    return json_null();
  case LR_VALUE_INT:
    return json_integer(v->i);
  case LR_VALUE_REAL:
    return json_real(v->r);
  case LR_VALUE_BLOB:
    return json_stringn(v->s ? v->s : "", v->len);
  default:
    return json_string(v->s);
  }
}

/* Rows turned into objects with `add` and appended to an array. */
typedef struct json_rows {
  json_t *array;
  const here *h;
  json_t *(*add)(const lr_value *, const here *);
} json_rows;

static lr_status json_row(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  json_rows *j = ctx;
  (void)ncols;
  (void)err;
  json_array_append_new(j->array, j->add(row, j->h));
  return LR_OK;
}

static json_t *running_json(const lr_value *row, const here *h) {
  char why[96];
  json_t *o = json_object();
  static const char *const names[LR_RUNNING_NCOLS] = {
      "run_key", "host", "boot_id", "pid", "worker_pid", "attempts", "heartbeat", "started_at",
      "claim"};
  const lr_value *beat = &row[LR_RUNNING_HEARTBEAT];
  for (int c = 0; c < (int)LR_ARRAY_LEN(names); c++)
    json_object_set_new(o, names[c], column_json(&row[c]));
  stale_reason(row, h, why, sizeof why);
  json_object_set_new(o, "heartbeat_age",
                      beat->type == LR_VALUE_NULL
                          ? json_null()
                          : json_real(round((h->now - beat->r) * 1e3) / 1e3));
  json_object_set_new(o, "stale", json_boolean(why[0] != '\0'));
  json_object_set_new(o, "stale_reason", why[0] ? json_string(why) : json_null());
  return o;
}

static json_t *problem_json(const lr_value *row, const here *h) {
  json_t *o = json_object();
  static const char *const names[LR_PROBLEM_NCOLS] = {"run_key", "status", "attempts",
                                                      "exit_status", "error"};
  (void)h;
  for (int c = 0; c < (int)LR_ARRAY_LEN(names); c++)
    json_object_set_new(o, names[c], column_json(&row[c]));
  return o;
}

static lr_status print_json(lr_store *s, const here *h, lr_err *err) {
  counts c;
  sweep *list = NULL;
  size_t n = 0;
  json_t *root = json_object(), *sweeps = json_array(), *running = json_array(),
         *problems = json_array();
  char *text = NULL;
  lr_status st = read_totals(s, &c, err);
  if (st == LR_OK)
    st = read_sweeps(s, &list, &n, err);
  for (size_t i = 0; st == LR_OK && i < n; i++)
    json_array_append_new(sweeps, json_pack("{s:I, s:s, s:I, s:o}", "id", (json_int_t)list[i].id,
                                            "name", list[i].name, "total",
                                            (json_int_t)list[i].c.total, "counts",
                                            counts_json(&list[i].c)));
  if (st == LR_OK)
    st = lr_status_running(s, json_row, &(json_rows){running, h, running_json}, err);
  if (st == LR_OK)
    st = lr_status_problems(s, json_row, &(json_rows){problems, h, problem_json}, err);
  if (st == LR_OK) {
    json_object_set_new(root, "database", json_string(lr_store_path(s)));
    json_object_set_new(root, "schema_version", json_integer(lr_store_file_version(s)));
    json_object_set_new(root, "total", json_integer(c.total));
    json_object_set_new(root, "counts", counts_json(&c));
    json_object_set(root, "sweeps", sweeps);
    json_object_set(root, "running", running);
    json_object_set(root, "problems", problems);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
      st = lr_fail(err, LR_EINVAL, "cannot write JSON (out of memory, or text that is not "
                   "UTF-8 in the database)");
  }
  if (text)
    printf("%s\n", text);
  free(text);
  json_decref(sweeps);
  json_decref(running);
  json_decref(problems);
  json_decref(root);
  sweeps_free(list, n);
  return st;
}

/* ---- the command --------------------------------------------------------------------------------- */

typedef struct status_opts {
  const char *db;
  int format;
} status_opts;

static const lr_option options[] = {
    {LR_ARG_STRING(status_opts, db, "db", 0, "FILE", "the database"), .required = true},
    {LR_ARG_CHOICE(status_opts, format, "format", 0, lr_text_json, "text (default) or json")},
    LR_ARG_END,
};

static int run_status(int argc, char **argv) {
  status_opts o = {NULL, FORMAT_TEXT};
  lr_store *s = NULL;
  here h;
  lr_err err;
  lr_status st;
  int rc = lr_options_parse(&lr_cmd_status, argc, argv, &o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  here_init(&h);
  st = lr_store_open(o.db, LR_STORE_READONLY, &s, &err);
  /* One read transaction: every count and list comes from the same moment. */
  if (st == LR_OK)
    st = lr_store_begin_read(s, &err);
  if (st == LR_OK)
    st = o.format == FORMAT_JSON ? print_json(s, &h, &err) : print_text(s, &h, &err);
  if (st != LR_OK)
    lr_err_print(&err, stderr);
  lr_store_close(s);
  return st == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

const lr_command lr_cmd_status = {
    .name = "status", .options = options, .run = run_status, .help = lr_help_status,
    .summary = "Show how far the runs in a results database have got."};
