/*
 * cmd-help.c: `lorens help [COMMAND]`.
 */
#include "compat.h"

#include <stdio.h>

#include "cli/commands.h"

static int run_help(int argc, char **argv) {
  const lr_command *cmd;
  const char *guess;
  if (argc == 1) {
    lr_commands_print_overview(stdout);
    return LR_EXIT_OK;
  }
  if (argc > 2)
    return lr_usage_error(&lr_cmd_help, "expected at most one command name");
  cmd = lr_command_find(argv[1]);
  if (cmd == NULL) {
    guess = lr_command_suggest(argv[1]);
    if (guess)
      return lr_usage_error(&lr_cmd_help, "no command '%s' (did you mean '%s'?)", argv[1], guess);
    return lr_usage_error(&lr_cmd_help, "no command '%s'; `lorens help` lists them", argv[1]);
  }
  lr_command_print_help(cmd, stdout);
  return LR_EXIT_OK;
}

const lr_command lr_cmd_help = {
    .name = "help", .args = "[COMMAND]", .run = run_help, .help = lr_help_help,
    .summary = "Show the commands, or the full help of one command."};
