/*
 * cmd-backends.c: `lorens backends`: the plugin search path and every plugin found on it.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "model/plugin-loader.h"

enum { FORMAT_TEXT, FORMAT_JSON };

static void print_text(const lr_search_path *sp, const lr_plugin_list *list) {
  printf("search path:\n");
  for (size_t i = 0; i < sp->n; i++)
    printf("  %s (%s)%s\n", sp->dirs[i].path, lr_dir_origin_name(sp->dirs[i].origin),
           sp->dirs[i].exists ? "" : " [missing]");
  if (list->n == 0) {
    printf("no backend plugins found\n");
    return;
  }
  printf("backends:\n");
  for (size_t i = 0; i < list->n; i++) {
    const lr_plugin *p = &list->items[i];
    if (p->name[0])
      printf("  %-8s ABI %u.%u  version %s  %s", p->name, p->abi_major, p->abi_minor,
             p->version[0] ? p->version : "?", lr_plugin_state_name(p->state));
    else
      printf("  %-8s %s", "-", lr_plugin_state_name(p->state));
    printf("%s%s\n", p->msg[0] ? ": " : "", p->msg);
    if (p->name[0] && !p->can_train)
      printf("           (probe only: this backend cannot train yet)\n");
    printf("           %s\n", p->path);
  }
}

static json_t *plugin_json(const lr_plugin *p) {
  json_t *o = json_object();
  json_object_set_new(o, "file", json_string(p->path));
  json_object_set_new(o, "state", json_string(lr_plugin_state_name(p->state)));
  json_object_set_new(o, "message", json_string(p->msg));
  if (p->name[0]) {
    char abi[32];
    snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "abi", json_string(abi));
    json_object_set_new(o, "version", p->version[0] ? json_string(p->version) : json_null());
    json_object_set_new(o, "description",
                        p->description[0] ? json_string(p->description) : json_null());
    json_object_set_new(o, "score", json_integer(p->score));
    json_object_set_new(o, "can_train", json_boolean(p->can_train));
  }
  return o;
}

static int print_json(const lr_search_path *sp, const lr_plugin_list *list) {
  json_t *root = json_object(), *dirs = json_array(), *plugins = json_array();
  char *text;
  for (size_t i = 0; i < sp->n; i++) {
    json_t *d = json_object();
    json_object_set_new(d, "path", json_string(sp->dirs[i].path));
    json_object_set_new(d, "origin", json_string(lr_dir_origin_name(sp->dirs[i].origin)));
    json_object_set_new(d, "exists", json_boolean(sp->dirs[i].exists));
    json_array_append_new(dirs, d);
  }
  for (size_t i = 0; i < list->n; i++)
    json_array_append_new(plugins, plugin_json(&list->items[i]));
  json_object_set_new(root, "search_path", dirs);
  json_object_set_new(root, "backends", plugins);
  text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (text == NULL) {
    fprintf(stderr, "lorens: backends: out of memory writing JSON\n");
    return LR_EXIT_FAILURE;
  }
  printf("%s\n", text);
  free(text);
  return LR_EXIT_OK;
}

typedef struct backends_opts {
  lr_strings dirs;
  int format;
  double probe_timeout;
} backends_opts;

static const lr_option options[] = {
    {LR_ARG_STRINGS(backends_opts, dirs, "backend-dir", 0, "DIR", "search DIR first")},
    {LR_ARG_CHOICE(backends_opts, format, "format", 0, lr_text_json, "text (default) or json")},
    {LR_ARG_DOUBLE(backends_opts, probe_timeout, "probe-timeout", 0, "SECONDS", 0.001, 1e5,
                   "how long each plugin may take to load and probe (default\n"
                   "$LORENS_PROBE_TIMEOUT, or 60)")},
    LR_ARG_END,
};

static int run_backends(int argc, char **argv) {
  backends_opts o = {.format = FORMAT_TEXT, .probe_timeout = lr_probe_timeout()};
  lr_search_path sp = {0};
  lr_plugin_list list = {0};
  lorens_host host;
  lr_err err;
  int rc = lr_options_parse(&lr_cmd_backends, argc, argv, &o, NULL);

  if (rc != LR_EXIT_OK)
    goto out;

  lr_err_init(&err);
  lr_host_init(&host);
  if (lr_search_path_build(&sp, o.dirs.a, o.dirs.n, getenv("LORENS_BACKEND_PATH"), &err) != LR_OK ||
      lr_plugins_discover(&sp, &host, o.probe_timeout, &list, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    rc = LR_EXIT_FAILURE;
    goto out;
  }
  if (o.format == FORMAT_JSON)
    rc = print_json(&sp, &list);
  else
    print_text(&sp, &list);
out:
  lr_plugin_list_release(&list);
  lr_search_path_release(&sp);
  lr_strings_release(&o.dirs);
  return rc;
}

const lr_command lr_cmd_backends = {
    .name = "backends", .options = options, .run = run_backends, .help = lr_help_backends,
    .summary = "List the backend plugins on the search path and whether each can run here."};
