/*
 * cmd-version.c: `lorens version` (also `lorens --version`): the version and what this build has.
 *
 * Results are only reproducible if one knows what produced them, so this prints the library
 * versions found at run time next to the features chosen at configure time.
 */
#include "compat.h"

#include <stdio.h>

#include <jansson.h>
#include <pcre2.h>
#include <yaml.h>

#include "cli/commands.h"
#include "model/plugin-loader.h"
#include "store/store.h"

static void print_pcre2_version(FILE *fp) {
  char buf[64] = "unknown";
  pcre2_config(PCRE2_CONFIG_VERSION, buf);
  fprintf(fp, "PCRE2: %s\n", buf);
}

static int run_version(int argc, char **argv) {
  if (argc > 1)
    return lr_usage_error(&lr_cmd_version, "unexpected argument '%s'", argv[1]);
  printf("lorens %s\n", PACKAGE_VERSION);
  printf("backend ABI: %d.%d\n", LORENS_BACKEND_ABI_MAJOR, LORENS_BACKEND_ABI_MINOR);
  printf("BLAS: %s\n", LORENS_BLAS_NAME);
#ifdef LORENS_HAVE_OPENMP
  printf("OpenMP: yes\n");
#else
  printf("OpenMP: no\n");
#endif
#ifdef LORENS_HAVE_CUDA
  printf("CUDA: yes (toolkit %s)\n", LORENS_CUDA_VERSION);
#else
  printf("CUDA: no\n");
#endif
#ifdef LORENS_SANITIZERS
  printf("sanitizers: address,undefined\n");
#else
  printf("sanitizers: no\n");
#endif
  printf("SQLite: %s\n", lr_store_sqlite_version());
  printf("libyaml: %s\n", yaml_get_version_string());
  printf("jansson: %s\n", jansson_version_str());
  print_pcre2_version(stdout);
  printf("backend directory: %s\n", lr_backend_install_dir());
  return LR_EXIT_OK;
}

const lr_command lr_cmd_version = {
    .name = "version", .run = run_version, .help = lr_help_version,
    .summary = "Print the version of lorens and the features of this build."};
