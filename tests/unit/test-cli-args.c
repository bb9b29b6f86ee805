/*
 * test-cli-args.c: the table-driven option parser (cli-args.h): every kind of option, the
 * messages of every mistake, and the help written from the same table.
 */
#include "compat.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "../tap.h"

typedef struct opts {
  bool quiet;
  const char *db;
  lr_strings dirs;
  long threads;
  double timeout;
  int format;
} opts;

static const char *const formats[] = {"text", "json", "csv", NULL};

static const lr_option table[] = {
    {LR_ARG_FLAG(opts, quiet, "quiet", 'q', "say less")},
    {LR_ARG_STRING(opts, db, "db", 0, "FILE", "the database"), .required = true},
    {LR_ARG_STRINGS(opts, dirs, "backend-dir", 'B', "DIR", "search DIR first")},
    {LR_ARG_INT(opts, threads, "threads", 'T', "N", 0, 4096, "threads")},
    {LR_ARG_DOUBLE(opts, timeout, "timeout", 0, "SECONDS", 0, HUGE_VAL, "per attempt")},
    {LR_ARG_CHOICE(opts, format, "format", 0, formats, "how to print")},
    LR_ARG_END,
};

static int run_nothing(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return LR_EXIT_OK;
}

static const lr_command cmd = {
    .name = "demo", .summary = "A demo.", .args = "FILE...", .options = table,
    .help = "Free text.\n", .run = run_nothing,
};

/* The same with its argument required. */
static const lr_command cmd_arg = {
    .name = "demo", .summary = "A demo.", .args = "FILE", .args_missing = "missing the file",
    .options = table, .run = run_nothing,
};

/* What a parse left: its result, the struct, the positional arguments and what it printed. */
typedef struct result {
  int rc, n_pos;
  opts o;
  char *argv[16];
  char err[2048]; /* stderr, and stdout (the help) */
} result;

/* Parses a NULL-terminated list of arguments after "demo" by the command's table, with its output
 * captured. */
static result parse_for(const lr_command *c, const char *first, va_list ap) {
  result r = {.o = {.threads = -1, .format = 0}};
  FILE *tmp = tmpfile();
  int argc = 1, saved = dup(STDERR_FILENO), saved_out = dup(STDOUT_FILENO);
  r.argv[0] = (char *)"demo";
  for (const char *a = first; a && argc < 15; a = va_arg(ap, const char *))
    r.argv[argc++] = (char *)a;
  fflush(stderr);
  fflush(stdout);
  dup2(fileno(tmp), STDERR_FILENO);
  dup2(fileno(tmp), STDOUT_FILENO);
  r.rc = lr_options_parse(c, argc, r.argv, &r.o, &r.n_pos);
  fflush(stderr);
  fflush(stdout);
  dup2(saved, STDERR_FILENO);
  dup2(saved_out, STDOUT_FILENO);
  close(saved);
  close(saved_out);
  rewind(tmp);
  r.err[fread(r.err, 1, sizeof r.err - 1, tmp)] = '\0';
  fclose(tmp);
  return r;
}

static result parse(const char *first, ...) {
  va_list ap;
  result r;
  va_start(ap, first);
  r = parse_for(&cmd, first, ap);
  va_end(ap);
  return r;
}

static result parse_arg(const char *first, ...) {
  va_list ap;
  result r;
  va_start(ap, first);
  r = parse_for(&cmd_arg, first, ap);
  va_end(ap);
  return r;
}

static void test_values(void) {
  result r = parse("--db", "a.db", "x", "--threads=8", "-q", "--format", "json", "--timeout", "2.5",
                   "y", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "a full command line parses");
  tap_is_str(r.o.db, "a.db", "--name value");
  tap_is_int(r.o.threads, 8, "--name=value");
  tap_ok(r.o.quiet, "a short flag");
  tap_is_int(r.o.format, 1, "a choice is stored as its index");
  tap_is_near(r.o.timeout, 2.5, 0, 0, "a double");
  tap_is_int(r.n_pos, 2, "two positional arguments, mixed with options");
  tap_is_str(r.argv[1], "x", "moved to argv[1]");
  tap_is_str(r.argv[2], "y", "and argv[2], in order");
  tap_is_str(r.err, "", "nothing on stderr");
  lr_strings_release(&r.o.dirs);

  r = parse("--db", "a", "-T4", "-qT", "5", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "-T4 and a cluster -qT 5");
  tap_is_int(r.o.threads, 5, "the last value wins");
  tap_ok(r.o.quiet, "the cluster's flag is set");
}

static void test_lists(void) {
  result r = parse("--backend-dir", "a", "--db", "x", "-B", "b", "--backend-dir=c", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "a repeated option");
  tap_is_int((long long)r.o.dirs.n, 3, "collects every value");
  tap_ok(r.o.dirs.n == 3 && strcmp(r.o.dirs.a[0], "a") == 0 && strcmp(r.o.dirs.a[1], "b") == 0 &&
             strcmp(r.o.dirs.a[2], "c") == 0,
         "in order");
  tap_ok(r.o.dirs.a[3] == NULL, "NULL-terminated");
  lr_strings_release(&r.o.dirs);
  tap_ok(r.o.dirs.a == NULL && r.o.dirs.n == 0, "released, the list is empty");

  r = parse("--db", "x", NULL);
  tap_ok(r.o.dirs.a == NULL && r.o.dirs.n == 0, "never given, it is empty");
}

static void test_double_dash(void) {
  result r = parse("--db", "x", "--", "--quiet", "-", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "-- ends the options");
  tap_ok(!r.o.quiet, "what follows is not an option");
  tap_is_int(r.n_pos, 2, "but positional");
  tap_is_str(r.argv[1], "--quiet", "kept as it is");
  tap_is_str(r.argv[2], "-", "and '-' is positional");
}

static void test_errors(void) {
  result r = parse("--db", NULL);
  tap_is_int(r.rc, LR_EXIT_USAGE, "a missing value is a usage error");
  tap_like(r.err, "lorens: demo: option '--db' needs a value\n", "saying so");
  tap_like(r.err, "usage: lorens demo FILE... --db FILE [OPTIONS]\n", "then the synopsis");

  r = parse("--db", "x", "-T", NULL);
  tap_like(r.err, "option '--threads' needs a value", "a short option's too, by its long name");

  r = parse("--db", "x", "--thread", "3", NULL);
  tap_like(r.err, "unknown option '--thread' (did you mean '--threads'?)", "a near miss");
  r = parse("--db", "x", "--thread=3", NULL);
  tap_like(r.err, "unknown option '--thread' (did you mean '--threads'?)", "with =value too");
  r = parse("--db", "x", "--frobnicate", NULL);
  tap_like(r.err, "unknown option '--frobnicate'\n", "nothing close: no suggestion");
  r = parse("--db", "x", "--th", "3", NULL);
  tap_is_int(r.rc, LR_EXIT_USAGE, "a prefix is not an abbreviation");
  r = parse("--db", "x", "-z", NULL);
  tap_like(r.err, "unknown option '-z'", "an unknown short option");

  r = parse("--db", "x", "--threads", "5000", NULL);
  tap_like(r.err, "--threads must be an integer in [0, 4096], not '5000'", "out of range");
  r = parse("--db", "x", "--threads", "4x", NULL);
  tap_like(r.err, "--threads must be an integer in [0, 4096], not '4x'", "not a number");
  r = parse("--db", "x", "--timeout", "-1", NULL);
  tap_like(r.err, "--timeout must be a number >= 0, not '-1'", "a double out of range");
  r = parse("--db", "x", "--format", "xml", NULL);
  tap_like(r.err, "--format must be one of text|json|csv, not 'xml'\n", "a bad choice");
  r = parse("--db", "x", "--format", "jsn", NULL);
  tap_like(r.err, "--format must be one of text|json|csv, not 'jsn' (did you mean 'json'?)",
           "a near miss of a choice");
  r = parse("--db", "x", "--quiet=yes", NULL);
  tap_like(r.err, "option '--quiet' takes no value", "a flag with a value");
  r = parse("x", NULL);
  tap_like(r.err, "missing --db FILE", "a required option");
  r = parse_arg("--threads", "2", NULL);
  tap_like(r.err, "lorens: demo: missing the file\n", "a missing argument comes first");
  r = parse_arg("--threads", "2", "--db", "x", "f", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "given, all is well");
  r = parse_arg("--db", "x", "f", "g", NULL);
  tap_is_int(r.rc, LR_EXIT_USAGE, "a second argument where args names one is a usage error");
  tap_like(r.err, "lorens: demo: unexpected argument 'g'\n", "naming it");
}

static void test_help(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&text, &len);
  result r = parse("x", "--help", NULL);
  tap_is_int(r.rc, LR_EXIT_HELP, "--help anywhere asks for the help");
  tap_like(r.err, "Options:\n", "and prints it");
  r = parse("-h", NULL);
  tap_is_int(r.rc, LR_EXIT_HELP, "-h too");
  r = parse("--db", "x", "--", "--help", NULL);
  tap_is_int(r.rc, LR_EXIT_OK, "but not after --");

  lr_command_print_help(&cmd, fp);
  fclose(fp);
  tap_like(text, "usage: lorens demo FILE... --db FILE [OPTIONS]\n\nA demo.\n\nOptions:\n",
           "the help starts with the synopsis, summary and options");
  tap_like(text, "  -q, --quiet             say less\n", "a short name goes first");
  tap_like(text, "  --db FILE               required: the database\n", "a required option");
  tap_like(text, "  -B, --backend-dir DIR   search DIR first (repeatable)\n", "a list");
  tap_like(text, "  -T, --threads N         threads [0, 4096]\n", "an integer's range");
  tap_like(text, "  --timeout SECONDS       per attempt [>= 0]\n", "a double's bound");
  tap_like(text, "  --format text|json|csv  how to print\n", "the choices");
  tap_like(text, "\nFree text.\n", "then the command's own text");
  free(text);
}

/* What the parser assumes of every command's table, checked once here rather than on each run. */
static void test_tables(void) {
  size_t n_cmds;
  const lr_command *const *cmds = lr_commands(&n_cmds);
  for (size_t c = 0; c < n_cmds; c++) {
    const lr_option *t = cmds[c]->options;
    size_t n = 0;
    bool ok = true;
    for (; t && t[n].name; n++) {
      const lr_option *o = &t[n];
      ok &= o->help != NULL && o->short_name != 'h' && o->name[0] != '-';
      ok &= o->kind == LR_OPT_FLAG ? o->value_name == NULL
            : o->kind == LR_OPT_CHOICE ? o->choices != NULL && o->choices[0] != NULL
                                       : o->value_name != NULL;
      ok &= o->kind == LR_OPT_INT || o->kind == LR_OPT_DOUBLE ? o->lo <= o->hi : true;
      for (size_t j = 0; j < n; j++)
        ok &= strcmp(t[j].name, o->name) != 0 &&
              (!o->short_name || t[j].short_name != o->short_name);
    }
    tap_ok(ok && n <= 64, "%s: %zu options, each named once, with help and a value name",
           cmds[c]->name, n);
  }
}

int main(void) {
  test_tables();
  test_values();
  test_lists();
  test_double_dash();
  test_errors();
  test_help();
  return tap_done();
}
