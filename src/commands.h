/*
 * commands.h: the table of `lorens` subcommands.
 *
 * Each subcommand lives in its own cmd-NAME.c and defines one lr_command: its name, one-line
 * summary, arguments, table of options, help text (printed with the options' help by `lorens help
 * NAME` and `lorens NAME --help`), and the function that runs it.  main.c only dispatches.
 */
#ifndef LORENS_COMMANDS_H
#define LORENS_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

struct lr_option;

typedef struct lr_command {
  const char *name;
  const char *summary; /* one line for `lorens help` */
  const char *args;    /* the positional arguments in the synopsis: "GRID.yaml", or NULL */
  /* When the arguments are required: the usage error without any ("missing the grid file"),
   * which comes before that of a missing required option. */
  const char *args_missing;
  /* The command's options (cli-args.h), NULL-name terminated: they parse its command line and
   * write the "Options:" part of its help and the synopsis.  NULL for none. */
  const struct lr_option *options;
  const char *help;    /* the rest of `lorens help NAME`: what it does, examples */
  /* argv[0] is the command's name.  Returns LR_EXIT_OK, LR_EXIT_FAILURE, LR_EXIT_USAGE, or
   * LR_EXIT_HELP (cli-args.h) when it printed its help on request. */
  int (*run)(int argc, char **argv);
} lr_command;

extern const lr_command lr_cmd_help;
extern const lr_command lr_cmd_version;
extern const lr_command lr_cmd_backends;
extern const lr_command lr_cmd_bench;
extern const lr_command lr_cmd_model_info;
extern const lr_command lr_cmd_tokenize;
extern const lr_command lr_cmd_bpe_train;
extern const lr_command lr_cmd_data;
extern const lr_command lr_cmd_synth;
extern const lr_command lr_cmd_pretrain;
extern const lr_command lr_cmd_predict;
extern const lr_command lr_cmd_query;
extern const lr_command lr_cmd_status;
extern const lr_command lr_cmd_summary;
extern const lr_command lr_cmd_run;
extern const lr_command lr_cmd_export;
extern const lr_command lr_cmd_worker;
extern const lr_command lr_cmd_plan;

/* All commands, in the order `lorens help` lists them. */
const lr_command *const *lr_commands(size_t *n);

/* The command called `name`, or NULL. */
const lr_command *lr_command_find(const char *name);

/* Prints "lorens: NAME: <message>" and the command's synopsis to stderr; returns LR_EXIT_USAGE. */
int lr_usage_error(const lr_command *cmd, const char *fmt, ...) LR_PRINTF(2, 3);

/* The command name closest to a mistyped one ("did you mean"), or NULL. */
const char *lr_command_suggest(const char *name);

/* Prints the full help of a command to fp. */
void lr_command_print_help(const lr_command *cmd, FILE *fp);

/* Prints the list of commands (for `lorens help` and a bare `lorens`). */
void lr_commands_print_overview(FILE *fp);

#endif /* LORENS_COMMANDS_H */
