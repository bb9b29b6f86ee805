/*
 * cmd-slurm.c: `lorens slurm ACTION`: a sweep on a Slurm cluster as job arrays (docs/slurm.md),
 * dispatched to its actions: submit (cmd-slurm-submit.c), status (cmd-slurm-status.c) and task
 * (cmd-slurm-task.c, what the batch script runs).  `lorens collect` (cmd-collect.c) merges what
 * the tasks published.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli-args.h"
#include "cli/commands.h"

static int run_slurm(int argc, char **argv) {
  static const lr_command *const subs[] = {&lr_cmd_slurm_submit, &lr_cmd_slurm_status,
                                           &lr_cmd_slurm_task};
  if (argc < 2)
    return lr_usage_error(&lr_cmd_slurm, "which of submit, status or task?");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    lr_command_print_help(&lr_cmd_slurm, stdout);
    return LR_EXIT_HELP;
  }
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    if (strcmp(argv[1], subs[i]->name + strlen("slurm ")) == 0)
      return subs[i]->run(argc - 1, argv + 1);
  return lr_usage_error(&lr_cmd_slurm, "unknown action '%s' (submit, status or task)", argv[1]);
}

const lr_command lr_cmd_slurm = {
    .name = "slurm", .args = "ACTION...", .run = run_slurm, .help = lr_help_slurm,
    .summary = "Run a sweep on a Slurm cluster: submit, status (and collect to merge)."};
