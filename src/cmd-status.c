/*
 * cmd-status.c: `lorens status --db FILE [--format text|json]`: where a sweep stands.
 *
 * Counts runs by status (all six, zero included), per sweep too when the database holds several;
 * lists running runs with their host, pid and heartbeat age, marking stale ones; and lists failed,
 * diverged and interrupted runs with their exit status and error.  It opens the database
 * read-only, so it is safe to run while a scheduler writes.
 *
 * A running run is stale when its heartbeat is older than STALE_SECONDS, or when it was claimed on
 * this very boot of this host (same hostname and boot_id) by a process that no longer exists.
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

#include "cli-args.h"
#include "commands.h"
#include "store.h"

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
  char host[256];
  char boot_id[64];
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

static lr_status read_totals(lr_store *s, counts *c, lr_err *err) {
  sqlite3_stmt *st = NULL;
  int rc;
  memset(c, 0, sizeof *c);
  if (lr_store_prepare(s, "SELECT status, count(*) FROM runs GROUP BY status", &st, err))
    return err->code;
  while ((rc = lr_store_step(s, st, "counting runs", err)) == SQLITE_ROW)
    count_add(c, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LR_OK : err->code;
}

typedef struct sweep {
  long long id;
  char *name;
  counts c;
} sweep;

/* Every sweep with the runs it owns or shares (runs.sweep_id and sweep_runs, counted once). */
static lr_status read_sweeps(lr_store *s, sweep **out, size_t *n, lr_err *err) {
  static const char sql[] =
      "SELECT s.id, s.name, r.status, count(r.id) FROM sweeps AS s"
      " LEFT JOIN (SELECT sweep_id, run_id FROM sweep_runs UNION SELECT sweep_id, id FROM runs)"
      "   AS m ON m.sweep_id = s.id"
      " LEFT JOIN runs AS r ON r.id = m.run_id"
      " GROUP BY s.id, r.status ORDER BY s.id";
  sqlite3_stmt *st = NULL;
  sweep *list = NULL;
  size_t count = 0;
  int rc;
  *out = NULL;
  *n = 0;
  if (lr_store_prepare(s, sql, &st, err))
    return err->code;
  while ((rc = lr_store_step(s, st, "counting runs per sweep", err)) == SQLITE_ROW) {
    long long id = sqlite3_column_int64(st, 0);
    if (count == 0 || list[count - 1].id != id) {
      sweep *bigger = realloc(list, (count + 1) * sizeof *bigger);
      const char *name = (const char *)sqlite3_column_text(st, 1);
      if (bigger == NULL || (bigger[count].name = strdup(name ? name : "")) == NULL) {
        list = bigger ? bigger : list;
        rc = -1;
        lr_fail(err, LR_ENOMEM, "out of memory");
        break;
      }
      list = bigger;
      list[count].id = id;
      memset(&list[count].c, 0, sizeof list[count].c);
      count++;
    }
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      count_add(&list[count - 1].c, (const char *)sqlite3_column_text(st, 2),
                sqlite3_column_int64(st, 3));
  }
  sqlite3_finalize(st);
  *out = list;
  *n = count;
  return rc == SQLITE_DONE ? LR_OK : err->code;
}

static void sweeps_free(sweep *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i].name);
  free(list);
}

/* ---- liveness ------------------------------------------------------------------------------------ */

static void here_init(here *h) {
  struct timespec ts;
  FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");
  h->host[0] = h->boot_id[0] = '\0';
  if (gethostname(h->host, sizeof h->host) != 0)
    h->host[0] = '\0';
  h->host[sizeof h->host - 1] = '\0';
  if (fp) {
    if (fgets(h->boot_id, sizeof h->boot_id, fp) == NULL)
      h->boot_id[0] = '\0';
    h->boot_id[strcspn(h->boot_id, "\r\n")] = '\0';
    fclose(fp);
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  h->now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Why a running run looks abandoned, into why (empty when it looks alive). */
static void stale_reason(sqlite3_stmt *st, const here *h, char *why, size_t n) {
  const char *host = (const char *)sqlite3_column_text(st, 1);
  const char *boot = (const char *)sqlite3_column_text(st, 2);
  why[0] = '\0';
  if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
    snprintf(why, n, "no heartbeat");
    return;
  }
  if (h->now - sqlite3_column_double(st, 6) > STALE_SECONDS) {
    snprintf(why, n, "no heartbeat for %.0f s", floor(h->now - sqlite3_column_double(st, 6)));
    return;
  }
  /* A pid means something only on the boot of the host that recorded it. */
  if (host && boot && h->boot_id[0] && strcmp(host, h->host) == 0 &&
      strcmp(boot, h->boot_id) == 0 && sqlite3_column_type(st, 3) != SQLITE_NULL) {
    pid_t pid = (pid_t)sqlite3_column_int64(st, 3);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
      snprintf(why, n, "pid %lld is gone", (long long)pid);
  }
}

/* ---- text ---------------------------------------------------------------------------------------- */

/* Rows of cells printed as aligned columns; right[c] right-aligns column c. */
typedef struct grid {
  int ncols;
  const bool *right;
  char **cells; /* row-major, from malloc */
  size_t nrows;
} grid;

static lr_status grid_add(grid *g, lr_err *err, ...) {
  va_list ap;
  char **bigger = realloc(g->cells, (g->nrows + 1) * (size_t)g->ncols * sizeof *bigger);
  if (bigger == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  g->cells = bigger;
  va_start(ap, err);
  for (int c = 0; c < g->ncols; c++) {
    const char *s = va_arg(ap, const char *);
    g->cells[g->nrows * (size_t)g->ncols + (size_t)c] = strdup(s ? s : "");
  }
  va_end(ap);
  g->nrows++;
  return LR_OK;
}

static void grid_print(grid *g, FILE *fp) {
  size_t width[16] = {0};
  for (size_t i = 0; i < g->nrows * (size_t)g->ncols; i++) {
    const char *s = g->cells[i] ? g->cells[i] : "";
    if (strlen(s) > width[i % (size_t)g->ncols])
      width[i % (size_t)g->ncols] = strlen(s);
  }
  for (size_t r = 0; r < g->nrows; r++) {
    fputs("  ", fp);
    for (int c = 0; c < g->ncols; c++) {
      const char *s = g->cells[r * (size_t)g->ncols + (size_t)c];
      bool last = c == g->ncols - 1;
      int w = (int)width[c];
      s = s ? s : "";
      if (g->right && g->right[c])
        fprintf(fp, "%*s%s", w, s, last ? "" : "  ");
      else if (last)
        fputs(s, fp);
      else
        fprintf(fp, "%-*s  ", w, s);
    }
    fputc('\n', fp);
  }
}

static void grid_free(grid *g) {
  for (size_t i = 0; i < g->nrows * (size_t)g->ncols; i++)
    free(g->cells[i]);
  free(g->cells);
}

static void print_counts_text(const counts *c) {
  printf("runs: %lld\n", c->total);
  for (int i = 0; i < N_STATUS; i++)
    printf("  %-12s %lld\n", statuses[i], c->n[i]);
}

static lr_status print_sweeps_text(const sweep *list, size_t n, lr_err *err) {
  static const bool right[9] = {true, false, true, true, true, true, true, true, true};
  grid g = {9, right, NULL, 0};
  char num[8][32];
  lr_status st = grid_add(&g, err, "id", "sweep", "total", statuses[0], statuses[1], statuses[2],
                          statuses[3], statuses[4], statuses[5]);
  for (size_t i = 0; st == LR_OK && i < n; i++) {
    snprintf(num[0], sizeof num[0], "%lld", list[i].id);
    snprintf(num[1], sizeof num[1], "%lld", list[i].c.total);
    for (int k = 0; k < N_STATUS; k++)
      snprintf(num[2 + k], sizeof num[2 + k], "%lld", list[i].c.n[k]);
    st = grid_add(&g, err, num[0], list[i].name, num[1], num[2], num[3], num[4], num[5], num[6],
                  num[7]);
  }
  if (st == LR_OK) {
    printf("\nsweeps: %zu\n", n);
    grid_print(&g, stdout);
  }
  grid_free(&g);
  return st;
}

static const char *key_prefix(sqlite3_stmt *st, int col, char *buf) {
  const char *key = (const char *)sqlite3_column_text(st, col);
  snprintf(buf, KEY_PREFIX + 1, "%s", key ? key : "");
  return buf;
}

/* The column as text, or "" / "-" for NULL. */
static const char *text_or(sqlite3_stmt *st, int col, const char *null_text) {
  const char *s = (const char *)sqlite3_column_text(st, col);
  return s ? s : null_text;
}

static const char running_sql[] =
    "SELECT run_key, host, boot_id, pid, worker_pid, attempts, heartbeat, started_at, claim"
    " FROM runs WHERE status = 'running' ORDER BY id";

static lr_status print_running_text(lr_store *s, const here *h, lr_err *err) {
  grid g = {5, NULL, NULL, 0};
  sqlite3_stmt *st = NULL;
  int rc;
  lr_status status = grid_add(&g, err, "run_key", "host", "pid", "attempts", "heartbeat");
  if (status == LR_OK && lr_store_prepare(s, running_sql, &st, err) != LR_OK)
    status = err->code;
  while (status == LR_OK && (rc = lr_store_step(s, st, "listing running runs", err)) == SQLITE_ROW) {
    char key[KEY_PREFIX + 1], why[96], age[160], attempts[32];
    stale_reason(st, h, why, sizeof why);
    if (sqlite3_column_type(st, 6) == SQLITE_NULL)
      snprintf(age, sizeof age, "never");
    else
      snprintf(age, sizeof age, "%.0f s ago", floor(h->now - sqlite3_column_double(st, 6)));
    if (why[0])
      snprintf(age + strlen(age), sizeof age - strlen(age), "  stale: %s", why);
    snprintf(attempts, sizeof attempts, "%lld", (long long)sqlite3_column_int64(st, 5));
    status = grid_add(&g, err, key_prefix(st, 0, key), text_or(st, 1, "-"), text_or(st, 3, "-"),
                      attempts, age);
  }
  if (status == LR_OK && rc != SQLITE_DONE)
    status = err->code;
  sqlite3_finalize(st);
  if (status == LR_OK && g.nrows > 1) {
    printf("\nrunning: %zu\n", g.nrows - 1);
    grid_print(&g, stdout);
  }
  grid_free(&g);
  return status;
}

static const char problems_sql[] =
    "SELECT run_key, status, attempts, exit_status, error FROM runs"
    " WHERE status IN ('failed', 'diverged', 'interrupted') ORDER BY id";

static lr_status print_problems_text(lr_store *s, lr_err *err) {
  grid g = {5, NULL, NULL, 0};
  sqlite3_stmt *st = NULL;
  size_t total = 0;
  int rc;
  lr_status status = grid_add(&g, err, "run_key", "status", "attempts", "exit", "error");
  if (status == LR_OK && lr_store_prepare(s, problems_sql, &st, err) != LR_OK)
    status = err->code;
  while (status == LR_OK && (rc = lr_store_step(s, st, "listing failed runs", err)) == SQLITE_ROW) {
    char key[KEY_PREFIX + 1], attempts[32], first[256];
    const char *error = text_or(st, 4, "");
    if (++total > MAX_LISTED)
      continue;
    snprintf(first, sizeof first, "%.*s", (int)strcspn(error, "\r\n"), error);
    snprintf(attempts, sizeof attempts, "%lld", (long long)sqlite3_column_int64(st, 2));
    status = grid_add(&g, err, key_prefix(st, 0, key), text_or(st, 1, ""), attempts,
                      text_or(st, 3, "-"), first);
  }
  if (status == LR_OK && rc != SQLITE_DONE)
    status = err->code;
  sqlite3_finalize(st);
  if (status == LR_OK && total > 0) {
    printf("\nfailed, diverged or interrupted: %zu\n", total);
    grid_print(&g, stdout);
    if (total > MAX_LISTED)
      printf("  ... and %zu more (--format json lists them all)\n", total - MAX_LISTED);
  }
  grid_free(&g);
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
static json_t *column_json(sqlite3_stmt *st, int col) {
  switch (sqlite3_column_type(st, col)) {
  case SQLITE_NULL:
    return json_null();
  case SQLITE_INTEGER:
    return json_integer(sqlite3_column_int64(st, col));
  case SQLITE_FLOAT:
    return json_real(sqlite3_column_double(st, col));
  default:
    return json_string((const char *)sqlite3_column_text(st, col));
  }
}

/* Runs sql and turns each row into an object with `add`. */
static lr_status rows_json(lr_store *s, const char *sql, const here *h, json_t *array,
                           json_t *(*add)(sqlite3_stmt *, const here *), lr_err *err) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (lr_store_prepare(s, sql, &st, err) != LR_OK)
    return err->code;
  while ((rc = lr_store_step(s, st, "listing runs", err)) == SQLITE_ROW)
    json_array_append_new(array, add(st, h));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LR_OK : err->code;
}

static json_t *running_json(sqlite3_stmt *st, const here *h) {
  char why[96];
  json_t *o = json_object();
  static const char *const names[] = {"run_key", "host", "boot_id", "pid", "worker_pid",
                                      "attempts", "heartbeat", "started_at", "claim"};
  for (int c = 0; c < (int)LR_ARRAY_LEN(names); c++)
    json_object_set_new(o, names[c], column_json(st, c));
  stale_reason(st, h, why, sizeof why);
  json_object_set_new(o, "heartbeat_age",
                      sqlite3_column_type(st, 6) == SQLITE_NULL
                          ? json_null()
                          : json_real(round((h->now - sqlite3_column_double(st, 6)) * 1e3) / 1e3));
  json_object_set_new(o, "stale", json_boolean(why[0] != '\0'));
  json_object_set_new(o, "stale_reason", why[0] ? json_string(why) : json_null());
  return o;
}

static json_t *problem_json(sqlite3_stmt *st, const here *h) {
  json_t *o = json_object();
  static const char *const names[] = {"run_key", "status", "attempts", "exit_status", "error"};
  for (int c = 0; c < (int)LR_ARRAY_LEN(names); c++)
    json_object_set_new(o, names[c], column_json(st, c));
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
    st = rows_json(s, running_sql, h, running, running_json, err);
  if (st == LR_OK)
    st = rows_json(s, problems_sql, h, problems, problem_json, err);
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

static int parse_options(int argc, char **argv, status_opts *o) {
  int n_pos, rc = lr_options_parse(&lr_cmd_status, argc, argv, o, &n_pos);
  if (rc == LR_EXIT_OK && n_pos > 0)
    return lr_usage_error(&lr_cmd_status, "unexpected argument '%s'", argv[1]);
  return rc;
}

static int run_status(int argc, char **argv) {
  status_opts o = {NULL, FORMAT_TEXT};
  lr_store *s = NULL;
  here h;
  lr_err err;
  lr_status st;
  int rc = parse_options(argc, argv, &o);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  here_init(&h);
  st = lr_store_open(o.db, LR_STORE_READONLY, &s, &err);
  /* One read transaction: every count and list comes from the same moment. */
  if (st == LR_OK)
    st = lr_store_exec(s, "BEGIN", &err);
  if (st == LR_OK)
    st = o.format == FORMAT_JSON ? print_json(s, &h, &err) : print_text(s, &h, &err);
  if (fflush(stdout) != 0 && st == LR_OK)
    st = lr_fail(&err, LR_EIO, "cannot write the status");
  if (st != LR_OK)
    lr_err_print(&err, stderr);
  lr_store_close(s);
  return st == LR_OK ? LR_EXIT_OK : LR_EXIT_FAILURE;
}

const lr_command lr_cmd_status = {
    .name = "status",
    .summary = "Show how far the runs in a results database have got.",
    .options = options,
    .help =
        "Opens the database read-only (safe while a scheduler writes to it) and prints:\n"
        "  - the number of runs in each status (pending, running, done, failed, diverged,\n"
        "    interrupted) and in all, and the same per sweep when there are several;\n"
        "  - running runs: run_key (first 12 characters), host, pid, attempts and heartbeat\n"
        "    age, marked stale when the heartbeat is older than 60 s or when the run was\n"
        "    claimed on this boot of this host by a process that is gone;\n"
        "  - failed, diverged and interrupted runs: run_key, attempts, exit status and the\n"
        "    first line of the error (the first 50; --format json lists all, in full).\n"
        "\n"
        "Exit status: 0 success, 1 when the database cannot be read, 2 usage error.\n",
    .run = run_status,
};
