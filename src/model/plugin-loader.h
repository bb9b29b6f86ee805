/*
 * plugin-loader.h: finding, loading and vetting backend plugins.
 *
 * The search path is, in order: directories given on the command line (--backend-dir), those in
 * $LORENS_BACKEND_PATH (colon-separated), those chosen at configure time (--with-backend-path),
 * and the install directory.  The current directory is never searched implicitly.  Every `*.so`
 * in a directory is a candidate; the first plugin of a name wins and later ones are reported as
 * shadowed.  A backend is looked for by its file name first (backend `cpu` in cpu.so), so that
 * a command opens only that file when it is there.
 *
 * Loading never takes the program down for a bad plugin: one that fails to dlopen, lacks the
 * entry symbol, speaks another ABI major, has a descriptor too small or without a name, is kept in
 * the list as refused, with the reason.  And a plugin's own code (its entry point, its probe) runs
 * in this process only when it is the backend asked for and has already loaded and probed
 * cleanly in a child process: a plugin that crashes, calls exit() or hangs there is refused by
 * path, and never takes down a command that did not ask for it.
 */
#ifndef LORENS_PLUGIN_LOADER_H
#define LORENS_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stdint.h>

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
  LR_PLUGIN_FAILED,    /* crashed, exited or hung while loading or probing in a child process */
} lr_plugin_state;

typedef struct lr_plugin {
  char *path;                   /* from malloc */
  lr_plugin_state state;
  void *handle;                 /* dlopen handle: only when loaded in this process, not refused */
  const lorens_backend *desc;   /* owned by the plugin; NULL unless loaded in this process */
  /* What the descriptor says, copied so that it outlives a probe in a child process; name[0] is
   * '\0' when no descriptor passed the ABI checks. */
  char name[40];
  uint32_t abi_major, abi_minor;
  char version[64];
  char description[160];
  bool can_train;               /* it has the session calls */
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

/* Loads one plugin file into this process, *out (never fails as a whole: a bad plugin becomes
 * REFUSED).  The host table must outlive the plugin.  Returns LR_ENOMEM only.  The plugin's code
 * runs here: use it on a file that lr_plugin_probe_isolated has vetted. */
lr_status lr_plugin_load(const char *path, const lorens_host *host, lr_plugin *out);
void lr_plugin_release(lr_plugin *p);

/* Loads and probes one plugin file in a child process and reports what it found in *out, with
 * no handle or descriptor: this process runs none of the plugin's code.  A child that dies of a
 * signal, exits, or does not answer within timeout_s seconds (it is then killed) makes the
 * plugin REFUSED with a message that says which.  Returns LR_ENOMEM, or LR_EIO when no child
 * process could be started, in err; LR_OK otherwise, whatever the plugin did. */
lr_status lr_plugin_probe_isolated(const char *path, const lorens_host *host, double timeout_s,
                                   lr_plugin *out, lr_err *err);

/* How long a probe in a child process may take: $LORENS_PROBE_TIMEOUT seconds when set to a
 * positive number, 60 otherwise (a GPU backend's first probe initialises its driver). */
double lr_probe_timeout(void);

/* Probes every candidate on the search path, in order, each in a child process (for `lorens
 * backends`): a later plugin with the name of an earlier one is SHADOWED. */
lr_status lr_plugins_discover(const lr_search_path *sp, const lorens_host *host, double timeout_s,
                              lr_plugin_list *out, lr_err *err);
void lr_plugin_list_release(lr_plugin_list *list);

/* Loads into this process the backend called `name` and no other: the first file NAME.so on
 * the search path whose descriptor has that name, and only when there is none, the first other
 * file that has it (each vetted in a child process first).  LR_ENOTFOUND (with the names that
 * exist), LR_EDEVICE (with the probe's reason), or LR_EBACKEND when NAME.so crashed or hung in
 * its probe (naming its file).  *out is the caller's to release, also on failure. */
lr_status lr_plugin_open(const lr_search_path *sp, const lorens_host *host, const char *name,
                         double timeout_s, lr_plugin *out, lr_err *err);

/* The same search, without loading the plugin into this process: *out is what the child process
 * found (no handle, no descriptor).  For checking a backend before work starts elsewhere. */
lr_status lr_plugin_find(const lr_search_path *sp, const lorens_host *host, const char *name,
                         double timeout_s, lr_plugin *out, lr_err *err);

const char *lr_plugin_state_name(lr_plugin_state s);
const char *lr_dir_origin_name(lr_dir_origin o);

/* The install directory compiled into this build. */
const char *lr_backend_install_dir(void);

#endif /* LORENS_PLUGIN_LOADER_H */
