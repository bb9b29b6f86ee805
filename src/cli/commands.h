/*
 * commands.h: the table of `lorens` subcommands.
 *
 * Each subcommand lives in its own cmd-NAME.c and defines one lr_command (cli-args.h): its name,
 * one-line summary, arguments, table of options, help text, and the function that runs it.  This
 * is the list of them, for main.c to dispatch and `lorens help` to show.
 */
#ifndef LORENS_COMMANDS_H
#define LORENS_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/cli-args.h"

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

/* The command name closest to a mistyped one ("did you mean"), or NULL. */
const char *lr_command_suggest(const char *name);

/* Prints the list of commands (for `lorens help` and a bare `lorens`). */
void lr_commands_print_overview(FILE *fp);

#endif /* LORENS_COMMANDS_H */
