/*
 * cli-args.c: the table-driven option parser and its help (see cli-args.h), and strict numeric
 * values: strtol/strtod alone accept "12abc" and silently saturate; lr_parse_int and
 * lr_parse_double reject anything but a whole, in-range number.
 */
#include "compat.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/suggest.h"
#include "cli/cli-args.h"

const char *const lr_text_json[] = {"text", "json", NULL};

/* Options a table may have: which ones were seen is kept in one 64-bit mask. */
#define MAX_OPTIONS 64

typedef struct parser {
  const lr_command *cmd;
  const lr_option *opts;
  char *base; /* the options struct */
  uint64_t seen;
} parser;

static const lr_option *find_long(const lr_option *opts, const char *name, size_t len) {
  for (const lr_option *o = opts; o && o->name; o++)
    if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
      return o;
  return NULL;
}

static const lr_option *find_short(const lr_option *opts, char c) {
  for (const lr_option *o = opts; o && o->name; o++)
    if (o->short_name && o->short_name == c)
      return o;
  return NULL;
}

static int unknown_long(const parser *p, const char *arg) {
  const char *names[MAX_OPTIONS], *guess;
  char word[64];
  size_t n = 0, len = strcspn(arg + 2, "=");
  for (const lr_option *o = p->opts; o && o->name && n < MAX_OPTIONS; o++)
    names[n++] = o->name;
  snprintf(word, sizeof word, "%.*s", (int)(len < sizeof word ? len : sizeof word - 1), arg + 2);
  guess = lr_suggest(word, names, n);
  if (guess)
    return lr_usage_error(p->cmd, "unknown option '%.*s' (did you mean '--%s'?)", (int)len + 2,
                          arg, guess);
  return lr_usage_error(p->cmd, "unknown option '%.*s'", (int)len + 2, arg);
}

static bool strings_push(lr_strings *s, const char *value) {
  if (LR_GROW(s->a, s->cap, s->n + 2, NULL) != LR_OK) /* and the NULL after it */
    return false;
  s->a[s->n++] = value;
  s->a[s->n] = NULL;
  return true;
}

void lr_strings_release(lr_strings *s) {
  free(s->a);
  s->a = NULL;
  s->n = s->cap = 0;
}

/* "must be one of a|b|c", as the grid's messages say it (grid-schema.c). */
static int bad_choice(const parser *p, const lr_option *o, const char *value) {
  char list[256] = "";
  size_t used = 0, n = 0;
  const char *guess;
  for (; o->choices[n] && used < sizeof list; n++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", n ? "|" : "", o->choices[n]);
  guess = lr_suggest(value, o->choices, n);
  if (guess)
    return lr_usage_error(p->cmd, "--%s must be one of %s, not '%s' (did you mean '%s'?)",
                          o->name, list, value, guess);
  return lr_usage_error(p->cmd, "--%s must be one of %s, not '%s'", o->name, list, value);
}

/* An LR_OPT_INT bound as a long: LONG_MAX is not exact as a double, and converting 2^63 back is
 * undefined. */
static long int_bound(double v) {
  return v >= (double)LONG_MAX ? LONG_MAX : v <= (double)LONG_MIN ? LONG_MIN : (long)v;
}

/* Stores one option's value (NULL for a flag) in its field. */
static int store(parser *p, const lr_option *o, const char *value) {
  void *field = p->base + o->offset;
  char name[80], msg[320];
  snprintf(name, sizeof name, "--%s", o->name);
  p->seen |= UINT64_C(1) << (o - p->opts);
  switch (o->kind) {
  case LR_OPT_FLAG: *(bool *)field = true; return LR_EXIT_OK;
  case LR_OPT_STRING: *(const char **)field = value; return LR_EXIT_OK;
  case LR_OPT_STRINGS:
    if (!strings_push(field, value))
      return lr_usage_error(p->cmd, "out of memory for %s", name);
    return LR_EXIT_OK;
  case LR_OPT_INT:
    if (!lr_parse_int(name, value, int_bound(o->lo), int_bound(o->hi), field, msg, sizeof msg))
      return lr_usage_error(p->cmd, "%s", msg);
    return LR_EXIT_OK;
  case LR_OPT_DOUBLE:
    if (!lr_parse_double(name, value, o->lo, o->hi, field, msg, sizeof msg))
      return lr_usage_error(p->cmd, "%s", msg);
    return LR_EXIT_OK;
  case LR_OPT_CHOICE:
    for (int i = 0; o->choices[i]; i++)
      if (strcmp(o->choices[i], value) == 0) {
        *(int *)field = i;
        return LR_EXIT_OK;
      }
    return bad_choice(p, o, value);
  }
  return LR_EXIT_USAGE;
}

/* --name, --name=value or --name value; *i is left on the last argument used. */
static int parse_long(parser *p, int argc, char **argv, int *i) {
  const char *arg = argv[*i], *eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
  const lr_option *o = find_long(p->opts, arg + 2, len);
  if (o == NULL)
    return unknown_long(p, arg);
  if (o->kind == LR_OPT_FLAG)
    return eq ? lr_usage_error(p->cmd, "option '--%s' takes no value", o->name) : store(p, o, NULL);
  if (eq)
    return store(p, o, eq + 1);
  if (*i + 1 >= argc)
    return lr_usage_error(p->cmd, "option '--%s' needs a value", o->name);
  return store(p, o, argv[++*i]);
}

/* -q, -j 4, -j4 and clusters of flags such as -qj4. */
static int parse_short(parser *p, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  for (const char *c = arg + 1; *c; c++) {
    const lr_option *o = find_short(p->opts, *c);
    int rc;
    if (o == NULL)
      return lr_usage_error(p->cmd, "unknown option '-%c'", *c);
    if (o->kind == LR_OPT_FLAG) {
      if ((rc = store(p, o, NULL)) != LR_EXIT_OK)
        return rc;
      continue;
    }
    if (c[1])
      return store(p, o, c + 1);
    if (*i + 1 >= argc)
      return lr_usage_error(p->cmd, "option '--%s' needs a value", o->name);
    return store(p, o, argv[++*i]);
  }
  return LR_EXIT_OK;
}

static bool is_help(const lr_option *opts, const char *arg) {
  return strcmp(arg, "--help") == 0 || (strcmp(arg, "-h") == 0 && !find_short(opts, 'h'));
}

static void option_label(const lr_option *o, char *buf, size_t len);

static int check_required(const parser *p) {
  char label[256];
  for (const lr_option *o = p->opts; o && o->name; o++)
    if (o->required && !(p->seen & (UINT64_C(1) << (o - p->opts)))) {
      option_label(o, label, sizeof label);
      return lr_usage_error(p->cmd, "missing %s", strstr(label, "--"));
    }
  return LR_EXIT_OK;
}

/* How many positional arguments cmd->args describes (see lr_command). */
static int max_args(const lr_command *cmd) {
  size_t n = cmd->args ? strlen(cmd->args) : 0;
  if (n >= 3 && strcmp(cmd->args + n - 3, "...") == 0)
    return INT_MAX;
  return cmd->args ? 1 : 0;
}

int lr_options_parse(const lr_command *cmd, int argc, char **argv, void *dest, int *n_pos) {
  parser p = {cmd, cmd->options, dest, 0};
  bool only_pos = false;
  int rc = LR_EXIT_OK, n_local;
  if (n_pos == NULL)
    n_pos = &n_local;
  *n_pos = 0;
  for (int i = 1; i < argc && rc == LR_EXIT_OK; i++) {
    const char *arg = argv[i];
    if (only_pos || arg[0] != '-' || arg[1] == '\0')
      argv[1 + (*n_pos)++] = argv[i];
    else if (strcmp(arg, "--") == 0)
      only_pos = true;
    else if (is_help(p.opts, arg)) {
      lr_command_print_help(cmd, stdout);
      return LR_EXIT_HELP;
    } else if (arg[1] == '-')
      rc = parse_long(&p, argc, argv, &i);
    else
      rc = parse_short(&p, argc, argv, &i);
  }
  if (rc == LR_EXIT_OK && *n_pos == 0 && cmd->args_missing)
    return lr_usage_error(cmd, "%s", cmd->args_missing);
  if (rc == LR_EXIT_OK)
    rc = check_required(&p);
  if (rc == LR_EXIT_OK && *n_pos > max_args(cmd))
    rc = lr_usage_error(cmd, "unexpected argument '%s'%s%s%s", argv[1 + max_args(cmd)],
                        cmd->args_extra ? " (" : "", cmd->args_extra ? cmd->args_extra : "",
                        cmd->args_extra ? ")" : "");
  return rc;
}

/* ---- help ------------------------------------------------------------------------------------ */

/* "-j, --jobs N", "--format text|json", "--quiet": the left column of the help. */
static void option_label(const lr_option *o, char *buf, size_t len) {
  int used = o->short_name ? snprintf(buf, len, "-%c, --%s", o->short_name, o->name)
                           : snprintf(buf, len, "--%s", o->name);
  if (o->kind == LR_OPT_FLAG || used < 0 || (size_t)used >= len)
    return;
  if (o->value_name || o->kind != LR_OPT_CHOICE) {
    snprintf(buf + used, len - (size_t)used, " %s", o->value_name ? o->value_name : "VALUE");
    return;
  }
  for (size_t i = 0; o->choices[i] && (size_t)used < len; i++)
    used += snprintf(buf + used, len - (size_t)used, "%c%s", i ? '|' : ' ', o->choices[i]);
}

/* What the table knows beyond the help text: the range, or that the option repeats. */
static void print_note(const lr_option *o, FILE *fp) {
  if (o->kind == LR_OPT_INT)
    fprintf(fp, o->hi >= (double)LONG_MAX ? " [>= %ld]" : " [%ld, %ld]", int_bound(o->lo),
            int_bound(o->hi));
  else if (o->kind == LR_OPT_DOUBLE && isinf(o->hi))
    fprintf(fp, " [>= %g]", o->lo);
  else if (o->kind == LR_OPT_DOUBLE)
    fprintf(fp, " [%g, %g]", o->lo, o->hi);
  else if (o->kind == LR_OPT_STRINGS)
    fprintf(fp, " (repeatable)");
}

void lr_options_print_help(const lr_option *opts, FILE *fp) {
  enum { MAX_WIDTH = 24 };
  char label[256];
  int width = 0;
  if (opts == NULL || opts->name == NULL)
    return;
  for (const lr_option *o = opts; o->name; o++) {
    option_label(o, label, sizeof label);
    if ((int)strlen(label) > width && strlen(label) <= MAX_WIDTH)
      width = (int)strlen(label);
  }
  fprintf(fp, "Options:\n");
  for (const lr_option *o = opts; o->name; o++) {
    const char *h = o->help ? o->help : "";
    option_label(o, label, sizeof label);
    if ((int)strlen(label) > width)
      fprintf(fp, "  %s\n  %*s  ", label, width, "");
    else
      fprintf(fp, "  %-*s  ", width, label);
    if (o->required)
      fputs("required: ", fp);
    for (const char *nl; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
      fprintf(fp, "%.*s\n  %*s  ", (int)(nl - h), h, width, "");
    fputs(h, fp);
    print_note(o, fp);
    fputc('\n', fp);
  }
}

void lr_options_print_synopsis(const lr_command *cmd, FILE *fp) {
  bool optional = false;
  fprintf(fp, "lorens %s", cmd->name);
  if (cmd->args)
    fprintf(fp, " %s", cmd->args);
  for (const lr_option *o = cmd->options; o && o->name; o++) {
    char label[256];
    if (!o->required) {
      optional = true;
      continue;
    }
    option_label(o, label, sizeof label);
    fprintf(fp, " %s", strncmp(label, "--", 2) == 0 ? label : strstr(label, "--"));
  }
  if (optional)
    fputs(" [OPTIONS]", fp);
}

/* ---- numbers --------------------------------------------------------------------------------- */

bool lr_parse_int(const char *opt, const char *text, long lo, long hi, long *out, char *msg,
                  size_t msg_len) {
  char *end = NULL;
  long v;
  errno = 0;
  v = strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < lo || v > hi) {
    if (hi == LONG_MAX)
      snprintf(msg, msg_len, "%s must be an integer >= %ld, not '%s'", opt, lo, text);
    else
      snprintf(msg, msg_len, "%s must be an integer in [%ld, %ld], not '%s'", opt, lo, hi, text);
    return false;
  }
  *out = v;
  return true;
}

bool lr_parse_double(const char *opt, const char *text, double lo, double hi, double *out,
                     char *msg, size_t msg_len) {
  char *end = NULL;
  double v;
  errno = 0;
  v = strtod(text, &end);
  if (errno || end == text || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
    if (isinf(hi))
      snprintf(msg, msg_len, "%s must be a number >= %g, not '%s'", opt, lo, text);
    else
      snprintf(msg, msg_len, "%s must be a number in [%g, %g], not '%s'", opt, lo, hi, text);
    return false;
  }
  *out = v;
  return true;
}

/* ---- usage and help -------------------------------------------------------------------------- */

int lr_usage_error(const lr_command *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "lorens: %s: ", cmd->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nusage: ", stderr);
  lr_options_print_synopsis(cmd, stderr);
  fputc('\n', stderr);
  return LR_EXIT_USAGE;
}

void lr_command_print_help(const lr_command *cmd, FILE *fp) {
  fputs("usage: ", fp);
  lr_options_print_synopsis(cmd, fp);
  fprintf(fp, "\n\n%s\n", cmd->summary);
  if (cmd->options && cmd->options->name) {
    fputc('\n', fp);
    lr_options_print_help(cmd->options, fp);
  }
  if (cmd->help && cmd->help[0])
    fprintf(fp, "\n%s", cmd->help);
}
