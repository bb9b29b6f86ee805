/*
 * commands.c: the subcommand table: lookup, suggestions and the overview.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>

#include "base/suggest.h"
#include "cli/cli-args.h"
#include "cli/commands.h"

static const lr_command *const all_commands[] = {
    &lr_cmd_help,
    &lr_cmd_version,
    &lr_cmd_backends,
    &lr_cmd_bench,
    &lr_cmd_model_info,
    &lr_cmd_tokenize,
    &lr_cmd_bpe_train,
    &lr_cmd_data,
    &lr_cmd_synth,
    &lr_cmd_pretrain,
    &lr_cmd_predict,
    &lr_cmd_plan,
    &lr_cmd_run,
    &lr_cmd_status,
    &lr_cmd_slurm,
    &lr_cmd_collect,
    &lr_cmd_summary,
    &lr_cmd_query,
    &lr_cmd_report,
    &lr_cmd_export,
    &lr_cmd_worker,
};

const lr_command *const *lr_commands(size_t *n) {
  *n = LR_ARRAY_LEN(all_commands);
  return all_commands;
}

const lr_command *lr_command_find(const char *name) {
  for (size_t i = 0; i < LR_ARRAY_LEN(all_commands); i++)
    if (strcmp(all_commands[i]->name, name) == 0)
      return all_commands[i];
  return NULL;
}

void lr_commands_print_overview(FILE *fp) {
  fprintf(fp,
          "usage: lorens [--version] [--help] COMMAND [ARGS]\n"
          "\n"
          "lorens runs LoRA-ensemble experiments on large language models and stores every\n"
          "result in SQLite.\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < LR_ARRAY_LEN(all_commands); i++)
    fprintf(fp, "  %-10s %s\n", all_commands[i]->name, all_commands[i]->summary);
  fprintf(fp,
          "\n"
          "`lorens help COMMAND` or `lorens COMMAND --help` describes one command.\n"
          "Exit status: 0 success, 1 runtime failure, 2 usage error.\n");
}

const char *lr_command_suggest(const char *name) {
  const char *names[LR_ARRAY_LEN(all_commands)];
  for (size_t i = 0; i < LR_ARRAY_LEN(all_commands); i++)
    names[i] = all_commands[i]->name;
  return lr_suggest(name, names, LR_ARRAY_LEN(names));
}
