/*
 * plugin-loader.h: finding, loading and vetting backend plugins.
 *
 * The search path is, in order: directories given on the command line (--backend-dir), those in
 * $LORENS_BACKEND_PATH (colon-separated), those chosen at configure time (--with-backend-path),
 * and the install directory.  The current directory is never searched implicitly.  Every `*.so`
 * in a directory is a candidate; the first plugin of a name wins and later ones are reported as
 * shadowed.
 *
 * Loading never takes the program down for a bad plugin: one that fails to dlopen, lacks the
 * entry symbol, speaks another ABI major, has a descriptor too small or without a name, is kept in
 * the list as refused, with the reason.  (A plugin whose own code crashes still crashes the
 * process that runs it; the scheduler runs backends in worker processes for that reason.)
 */
#ifndef LORENS_PLUGIN_LOADER_H
#define LORENS_PLUGIN_LOADER_H

#include <stdbool.h>

#include "base/error.h"

/* Where a search-path directory came from, for `lorens backends`. */
typedef enum lr_dir_origin {
  LR_DIR_CLI,        /* --backend-dir */
  LR_DIR_ENV,        /* $LORENS_BACKEND_PATH */
  LR_DIR_CONFIGURED, /* configure --with-backend-path */
  LR_DIR_INSTALL,    /* $(pkglibdir)/backends */
} lr_dir_origin;

typedef struct lr_search_dir {
  char *path;           /* from malloc */
  lr_dir_origin origin;
  bool exists;          /* false: listed, but nothing there to load */
} lr_search_dir;

typedef struct lr_search_path {
  lr_search_dir *dirs;  /* from malloc */
  size_t n, cap;
} lr_search_path;

typedef enum lr_plugin_state {
  LR_PLUGIN_USABLE,    /* loaded, probe says it runs here */
  LR_PLUGIN_UNUSABLE,  /* loaded, probe says it cannot run here (msg says why) */
  LR_PLUGIN_REFUSED,   /* not loaded: dlopen failed, no entry symbol, wrong ABI ... */
  LR_PLUGIN_SHADOWED,  /* loaded fine, but an earlier directory has a plugin of that name */
} lr_plugin_state;

typedef struct lr_plugin {
  char *path;                   /* from malloc */
  lr_plugin_state state;
  void *handle;                 /* dlopen handle; NULL unless USABLE or UNUSABLE */
  const lorens_backend *desc;   /* owned by the plugin; NULL when refused */
  int score;                    /* probe's preference; 0 unless USABLE */
  char msg[LORENS_MSG_MAX];     /* refusal reason, probe reason, or what the probe found */
} lr_plugin;

typedef struct lr_plugin_list {
  lr_plugin *items;             /* from malloc */
  size_t n, cap;
} lr_plugin_list;

/* Fills in the services lorens offers plugins (logging to stderr). */
void lr_host_init(lorens_host *host);

/* Builds the search path.  cli_dirs may be NULL when n_cli is 0; env is $LORENS_BACKEND_PATH or
 * NULL.  Empty entries are skipped, and a directory listed twice is kept only the first time. */
lr_status lr_search_path_build(lr_search_path *sp, const char *const *cli_dirs, size_t n_cli,
                               const char *env, lr_err *err);
void lr_search_path_release(lr_search_path *sp);

/* Loads one plugin file into *out (never fails as a whole: a bad plugin becomes REFUSED).  The
 * host table must outlive the plugin.  Returns LR_ENOMEM only. */
lr_status lr_plugin_load(const char *path, const lorens_host *host, lr_plugin *out);
void lr_plugin_release(lr_plugin *p);

/* Loads every candidate on the search path, in order. */
lr_status lr_plugins_discover(const lr_search_path *sp, const lorens_host *host,
                              lr_plugin_list *out, lr_err *err);
void lr_plugin_list_release(lr_plugin_list *list);

/* The first usable plugin called `name`; LR_ENOTFOUND (with the names that exist) or LR_EDEVICE
 * (with the probe's reason) otherwise. */
lr_status lr_plugins_find(const lr_plugin_list *list, const char *name, const lr_plugin **out,
                          lr_err *err);

const char *lr_plugin_state_name(lr_plugin_state s);
const char *lr_dir_origin_name(lr_dir_origin o);

/* The install directory compiled into this build. */
const char *lr_backend_install_dir(void);

#endif /* LORENS_PLUGIN_LOADER_H */
