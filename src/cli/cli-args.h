/*
 * cli-args.h: the option parser of every `lorens` command, and strict numeric values.
 *
 * Each command describes its options once, in a table of lr_option, and that one table both
 * parses the command line (lr_options_parse) and writes the "Options:" part of the command's
 * help (lr_options_print_help, called by lr_command_print_help), so the two cannot drift.  Every
 * command therefore says the same thing for the same mistake:
 *
 *   option '--threads' needs a value
 *   unknown option '--thread' (did you mean '--threads'?)
 *   --threads must be an integer in [0, 4096], not 'x'
 *   --format must be one of text|json, not 'xml'
 *   missing --db FILE
 *
 * Accepted: `--name value`, `--name=value`, `-x value`, `-xvalue`, `--` (what follows is
 * positional), and `--help`/`-h` anywhere before `--`.  Options and positional arguments may be
 * mixed.  Long names must be spelled out: a prefix is not an abbreviation, so that a new option
 * never changes what an old command line means.
 */
#ifndef LORENS_CLI_ARGS_H
#define LORENS_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>


/* What an option takes, and the type of the field it is stored in. */
typedef enum lr_opt_kind {
  LR_OPT_FLAG,    /* bool, set to true */
  LR_OPT_STRING,  /* const char *, the last one given wins */
  LR_OPT_STRINGS, /* lr_strings, one entry per time the option is given */
  LR_OPT_INT,     /* long in [lo, hi] */
  LR_OPT_DOUBLE,  /* double in [lo, hi] */
  LR_OPT_CHOICE,  /* int: the index of the value in choices */
} lr_opt_kind;

/* A repeatable option's values, in order; a is NULL-terminated once anything was added.  The
 * strings are argv's, not copies. */
typedef struct lr_strings {
  const char **a;
  size_t n, cap;
} lr_strings;

typedef struct lr_option {
  const char *name;        /* "threads", for --threads; NULL ends a table */
  char short_name;         /* 'j' for -j, or 0 */
  lr_opt_kind kind;
  size_t offset;           /* of the field in the command's options struct (offsetof) */
  const char *value_name;  /* "N", "DIR"; NULL for a flag (a choice shows its choices) */
  const char *help;        /* one line or more, '\n'-separated, no trailing newline */
  double lo, hi;           /* LR_OPT_INT and LR_OPT_DOUBLE */
  const char *const *choices; /* LR_OPT_CHOICE: NULL-terminated */
  bool required;           /* "missing --db FILE" when absent */
} lr_option;

/* Table entries: {LR_ARG_INT(run_opts, jobs, "jobs", 'j', "N", 1, 1024, "workers at a time")},
 * with `, .required = true` before the closing brace for an option that must be given. */
#define LR_ARG_(T, field, lname, sname, k, zvalue, zhelp)                                         \
  .name = (lname), .short_name = (sname), .kind = (k), .offset = offsetof(T, field),              \
  .value_name = (zvalue), .help = (zhelp)
#define LR_ARG_FLAG(T, field, lname, sname, zhelp)                                                \
  LR_ARG_(T, field, lname, sname, LR_OPT_FLAG, NULL, zhelp)
#define LR_ARG_STRING(T, field, lname, sname, zvalue, zhelp)                                      \
  LR_ARG_(T, field, lname, sname, LR_OPT_STRING, zvalue, zhelp)
#define LR_ARG_STRINGS(T, field, lname, sname, zvalue, zhelp)                                     \
  LR_ARG_(T, field, lname, sname, LR_OPT_STRINGS, zvalue, zhelp)
#define LR_ARG_INT(T, field, lname, sname, zvalue, vlo, vhi, zhelp)                               \
  LR_ARG_(T, field, lname, sname, LR_OPT_INT, zvalue, zhelp), .lo = (vlo), .hi = (vhi)
#define LR_ARG_DOUBLE(T, field, lname, sname, zvalue, vlo, vhi, zhelp)                            \
  LR_ARG_(T, field, lname, sname, LR_OPT_DOUBLE, zvalue, zhelp), .lo = (vlo), .hi = (vhi)
#define LR_ARG_CHOICE(T, field, lname, sname, achoices, zhelp)                                    \
  LR_ARG_(T, field, lname, sname, LR_OPT_CHOICE, NULL, zhelp), .choices = (achoices)
#define LR_ARG_END {.name = NULL}

/* {"text", "json", NULL}: the --format choices of most commands, in the order of their
 * FORMAT_TEXT, FORMAT_JSON. */
extern const char *const lr_text_json[];

/* A `lorens` subcommand: each cmd-NAME.c defines one (the list is commands.h). */
typedef struct lr_command {
  const char *name;
  const char *summary; /* one line for `lorens help` */
  const char *args;    /* the positional arguments in the synopsis: "GRID.yaml", or NULL */
  /* When the arguments are required: the usage error without any ("missing the grid file"),
   * which comes before that of a missing required option. */
  const char *args_missing;
  /* A command takes one positional argument when args is set ("FILE"), any number when args ends
   * in "..." ("FILE..."), and none otherwise; more is the usage error "unexpected argument 'X'",
   * followed by args_extra in parentheses when set ("quote the SQL as one argument"). */
  const char *args_extra;
  /* The command's options, NULL-name terminated: they parse its command line and
   * write the "Options:" part of its help and the synopsis.  NULL for none. */
  const lr_option *options;
  const char *help;    /* the rest of `lorens help NAME`: lr_help_NAME, from help/NAME.txt */
  /* argv[0] is the command's name.  Returns LR_EXIT_OK, LR_EXIT_FAILURE, LR_EXIT_USAGE, or
   * LR_EXIT_HELP when it printed its help on request. */
  int (*run)(int argc, char **argv);
} lr_command;

/* Prints "lorens: NAME: <message>" and the command's synopsis to stderr; returns LR_EXIT_USAGE. */
int lr_usage_error(const lr_command *cmd, const char *fmt, ...) LR_PRINTF(2, 3);

/* Prints the full help of a command to fp. */
void lr_command_print_help(const lr_command *cmd, FILE *fp);

/* Returned by lr_options_parse when --help was given and the help printed: the command returns
 * it as it is, and main() exits 0. */
enum { LR_EXIT_HELP = -1 };

/* Parses argv[1..argc-1] by cmd->options into the struct at dest (fields not given keep their
 * values) and moves the positional arguments, in order, to argv[1..*n_pos] (n_pos may be NULL).
 * Checks, in this order, each option, that there are arguments if cmd->args_missing says they
 * are required, the required options, and that there are no more positional arguments than
 * cmd->args names.  Returns LR_EXIT_OK, LR_EXIT_HELP, or LR_EXIT_USAGE after printing the error
 * and the usage (lr_usage_error).  On any return, the caller releases dest's lr_strings
 * (lr_strings_release). */
int lr_options_parse(const lr_command *cmd, int argc, char **argv, void *dest, int *n_pos);

/* Frees the list and leaves it empty. */
void lr_strings_release(lr_strings *s);

/* Prints "Options:" and one entry per option of the table to fp, for the command's help. */
void lr_options_print_help(const lr_option *opts, FILE *fp);

/* Prints the synopsis "lorens NAME ARGS --required VALUE... [OPTIONS]" to fp, without newline. */
void lr_options_print_synopsis(const lr_command *cmd, FILE *fp);

/* Parses the whole of `text` as an integer in [lo, hi].  On failure writes "--opt must be an
 * integer in [lo, hi], not 'text'" into msg and returns false. */
bool lr_parse_int(const char *opt, const char *text, long lo, long hi, long *out, char *msg,
                  size_t msg_len);
bool lr_parse_double(const char *opt, const char *text, double lo, double hi, double *out,
                     char *msg, size_t msg_len);

#endif /* LORENS_CLI_ARGS_H */
