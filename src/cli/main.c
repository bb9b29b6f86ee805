/*
 * main.c: the `lorens` program: global options, then dispatch to a subcommand (commands.h).
 */
#include "compat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli-args.h"
#include "cli/commands.h"

static bool is_help_flag(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Output that never reached its file (a full disk, a quota, an I/O error) is a failure, whatever
 * the command: one check here rather than one in each command (coreutils' close_stdout). */
static int check_output(const char *name, int rc) {
  int e = fflush(stdout) != 0 ? errno : 0;
  if (e == 0 && !ferror(stdout))
    return rc;
  fprintf(stderr, "lorens: %s: cannot write the output%s%s\n", name, e ? ": " : "",
          e ? strerror(e) : "");
  return rc == LR_EXIT_OK ? LR_EXIT_FAILURE : rc;
}

int main(int argc, char **argv) {
  const lr_command *cmd;
  const char *guess;
  int rc;
  if (argc < 2) {
    lr_commands_print_overview(stderr);
    return LR_EXIT_USAGE;
  }
  if (is_help_flag(argv[1])) {
    lr_commands_print_overview(stdout);
    return check_output("help", LR_EXIT_OK);
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
    return check_output("version", lr_cmd_version.run(1, (char *[]){(char *)"version", NULL}));
  if (argv[1][0] == '-') {
    fprintf(stderr, "lorens: unknown option '%s'\n", argv[1]);
    fprintf(stderr, "usage: lorens [--version] [--help] COMMAND [ARGS]\n");
    return LR_EXIT_USAGE;
  }
  cmd = lr_command_find(argv[1]);
  if (cmd == NULL) {
    guess = lr_command_suggest(argv[1]);
    fprintf(stderr, "lorens: '%s' is not a lorens command", argv[1]);
    if (guess)
      fprintf(stderr, " (did you mean '%s'?)", guess);
    fprintf(stderr, "; see 'lorens help'\n");
    return LR_EXIT_USAGE;
  }
  if (argc > 2 && is_help_flag(argv[2])) {
    lr_command_print_help(cmd, stdout);
    return check_output(cmd->name, LR_EXIT_OK);
  }
  rc = cmd->run(argc - 1, argv + 1);
  return check_output(cmd->name, rc == LR_EXIT_HELP ? LR_EXIT_OK : rc);
}
