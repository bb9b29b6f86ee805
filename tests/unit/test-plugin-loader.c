/*
 * test-plugin-loader.c: the search path, and every way a plugin can be refused or accepted.
 *
 * The plugins come from tests/plugins/test-plugin.c, built once per misbehaviour; the test finds
 * them through $TEST_PLUGIN_DIR, which Makefile.am sets.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/plugin-loader.h"
#include "../tap.h"

static const char *plugin_dir;

/* How a probe's segfault ends the child: by the signal, or, under AddressSanitizer, which
 * catches it and reports, by exit 1. */
#ifdef LORENS_SANITIZERS
#define SEGV_TEXT "ended its process while loading or probing (exit 1)"
#else
#define SEGV_TEXT "crashed while loading or probing (signal 11 (SIGSEGV))"
#endif

static void load(const char *file, lr_plugin *p) {
  char path[1024];
  lorens_host host;
  lr_host_init(&host);
  snprintf(path, sizeof path, "%s/%s", plugin_dir, file);
  if (lr_plugin_load(path, &host, p) != LR_OK)
    tap_diag("lr_plugin_load(%s) ran out of memory", path);
}

/* Loads one plugin and checks its state and that its message says what we expect. */
static void expect(const char *file, lr_plugin_state state, const char *needle) {
  lr_plugin p;
  load(file, &p);
  tap_is_str(lr_plugin_state_name(p.state), lr_plugin_state_name(state), "%s is %s", file,
             lr_plugin_state_name(state));
  tap_like(p.msg, needle, "%s: message says why", file);
  if (state == LR_PLUGIN_REFUSED)
    tap_ok(p.handle == NULL && p.desc == NULL, "%s: a refused plugin is unloaded", file);
  lr_plugin_release(&p);
}

static void test_each_plugin(void) {
  char version[64];
  lr_plugin p;
  load("good.so", &p);
  tap_is_str(lr_plugin_state_name(p.state), "usable", "good.so is usable");
  tap_is_str(p.desc ? p.desc->name : NULL, "testgood", "good.so is called testgood");
  tap_is_int(p.score, 5, "its probe score is kept");
  tap_is_str(p.msg, "test device ready", "its probe description is kept");
  lr_plugin_release(&p);

  snprintf(version, sizeof version, "built for backend ABI %d.%d; this lorens speaks %d.%d",
           LORENS_BACKEND_ABI_MAJOR + 1, LORENS_BACKEND_ABI_MINOR, LORENS_BACKEND_ABI_MAJOR,
           LORENS_BACKEND_ABI_MINOR);
  expect("unusable.so", LR_PLUGIN_UNUSABLE, "no test device on this machine");
  expect("wrong-major.so", LR_PLUGIN_REFUSED, version);
  expect("v2-entry.so", LR_PLUGIN_REFUSED, "built for backend ABI major 2 (exports lorens_backend_v2)");
  expect("no-entry.so", LR_PLUGIN_REFUSED, "not a lorens backend: no symbol 'lorens_backend_v1'");
  expect("too-small.so", LR_PLUGIN_REFUSED, "its descriptor is 12 bytes");
  expect("null-desc.so", LR_PLUGIN_REFUSED, "returned no descriptor");
  expect("unresolved.so", LR_PLUGIN_REFUSED, "lorens_test_symbol_defined_nowhere");
  expect("bad-name.so", LR_PLUGIN_REFUSED, "no valid name");
  expect("does-not-exist.so", LR_PLUGIN_REFUSED, "cannot load");
}

static void test_not_elf(const char *tmp) {
  char path[1024];
  lorens_host host;
  lr_plugin p;
  FILE *fp;
  snprintf(path, sizeof path, "%s/notes.so", tmp);
  fp = fopen(path, "w");
  fputs("this is not a shared object\n", fp);
  fclose(fp);
  lr_host_init(&host);
  lr_plugin_load(path, &host, &p);
  tap_is_str(lr_plugin_state_name(p.state), "refused", "a text file named .so is refused");
  tap_like(p.msg, "cannot load", "with the loader's reason");
  lr_plugin_release(&p);
  unlink(path);
}

static void test_search_path(const char *tmp) {
  const char *cli[] = {tmp, "/nonexistent/lorens-a", tmp};
  char env[2048];
  lr_search_path sp;
  lr_err err;
  lr_err_init(&err);
  snprintf(env, sizeof env, "::%s:/nonexistent/lorens-b:", plugin_dir);
  tap_is_int(lr_search_path_build(&sp, cli, 3, env, &err), LR_OK, "search path builds");
  tap_ok(sp.n >= 4, "it has the given directories and the install directory (%zu)", sp.n);
  if (sp.n < 4) {
    lr_search_path_release(&sp);
    return;
  }
  tap_is_str(sp.dirs[0].path, tmp, "--backend-dir comes first");
  tap_is_int(sp.dirs[0].origin, LR_DIR_CLI, "with its origin");
  tap_is_str(sp.dirs[1].path, "/nonexistent/lorens-a", "in the order given; duplicates dropped");
  tap_ok(!sp.dirs[1].exists, "a missing directory is marked missing");
  tap_is_str(sp.dirs[2].path, plugin_dir, "then $LORENS_BACKEND_PATH, empty entries skipped");
  tap_is_int(sp.dirs[2].origin, LR_DIR_ENV, "with its origin");
  tap_is_str(sp.dirs[3].path, "/nonexistent/lorens-b", "every entry of the variable");
  tap_is_str(sp.dirs[sp.n - 1].path, lr_backend_install_dir(), "the install directory is last");
  tap_is_int(sp.dirs[sp.n - 1].origin, LR_DIR_INSTALL, "with its origin");
  lr_search_path_release(&sp);
}

static int copy_file(const char *from, const char *to) {
  char buf[65536];
  size_t n;
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  int rc = in && out ? 0 : -1;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n)
      rc = -1;
  if (in)
    fclose(in);
  if (out && fclose(out) != 0)
    rc = -1;
  return rc;
}

static void test_discover(const char *tmp) {
  const char *cli[] = {tmp};
  char from[1024], to[1024];
  lr_plugin found;
  lr_search_path sp;
  lr_plugin_list list;
  lorens_host host;
  size_t usable = 0, unusable = 0, refused = 0, shadowed = 0, failed = 0;
  lr_err err;

  snprintf(from, sizeof from, "%s/good.so", plugin_dir);
  snprintf(to, sizeof to, "%s/zz-copy-of-good.so", tmp);
  tap_is_int(copy_file(from, to), 0, "a second copy of the good plugin is placed first on the path");
  lr_err_init(&err);
  lr_host_init(&host);
  lr_search_path_build(&sp, cli, 1, plugin_dir, &err);
  tap_is_int(lr_plugins_discover(&sp, &host, 30, &list, &err), LR_OK, "discovery runs");
  for (size_t i = 0; i < list.n; i++) {
    switch (list.items[i].state) {
    case LR_PLUGIN_USABLE: usable++; break;
    case LR_PLUGIN_UNUSABLE: unusable++; break;
    case LR_PLUGIN_REFUSED: refused++; break;
    case LR_PLUGIN_SHADOWED: shadowed++; break;
    case LR_PLUGIN_FAILED: failed++; break;
    }
  }
  tap_is_int((long long)list.n, 10, "every .so is a candidate, nothing else");
  tap_is_int((long long)usable, 1, "one usable (the first copy)");
  tap_is_int((long long)unusable, 1, "one unusable");
  tap_is_int((long long)refused, 7, "seven refused");
  tap_is_int((long long)shadowed, 1, "the later good.so is shadowed");
  tap_is_int((long long)failed, 0, "none failed");
  tap_is_str(list.n ? list.items[0].path : NULL, to, "directories are searched in order");
  tap_ok(list.n > 2 && strcmp(list.items[1].path, list.items[2].path) < 0,
         "files within a directory are probed in sorted order");
  tap_ok(list.n > 0 && list.items[0].handle == NULL && list.items[0].desc == NULL,
         "discovery loads nothing into this process");
  tap_is_str(list.n ? list.items[0].name : NULL, "testgood", "but keeps the descriptor's name");
  tap_is_str(list.n ? list.items[0].version : NULL, "0.0-test", "and version");
  lr_plugin_list_release(&list);

  tap_is_int(lr_plugin_open(&sp, &host, "testgood", 30, &found, &err), LR_OK,
             "open a usable backend");
  tap_is_str(found.path, to, "the first one on the path");
  tap_ok(found.handle != NULL && found.desc != NULL, "loaded into this process");
  lr_plugin_release(&found);
  tap_is_int(lr_plugin_open(&sp, &host, "testunusable", 30, &found, &err), LR_EDEVICE,
             "an unusable backend cannot be chosen");
  tap_like(err.msg, "cannot run here: no test device on this machine", "and says why");
  lr_plugin_release(&found);
  lr_err_init(&err);
  tap_is_int(lr_plugin_open(&sp, &host, "cuda9", 30, &found, &err), LR_ENOTFOUND,
             "an unknown name");
  tap_like(err.msg, "found: testgood, testunusable", "lists the backends that exist");
  lr_plugin_release(&found);
  lr_search_path_release(&sp);
  unlink(to);
}

/* Plugins whose probe crashes, hangs or exits: in a child process, never in this one. */
static void test_broken(void) {
  const char *broken_dir = getenv("TEST_BROKEN_PLUGIN_DIR");
  const char *cli[2];
  char path[1024];
  lorens_host host;
  lr_search_path sp;
  lr_plugin p;
  lr_err err;
  if (broken_dir == NULL) {
    tap_skip("TEST_BROKEN_PLUGIN_DIR is not set", "plugins whose probe crashes");
    return;
  }
  lr_host_init(&host);
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/probe-segv.so", broken_dir);
  tap_is_int(lr_plugin_probe_isolated(path, &host, 30, &p, &err), LR_OK,
             "a probe that crashes is survived");
  tap_is_str(lr_plugin_state_name(p.state), "failed", "the plugin failed");
  tap_like(p.msg, SEGV_TEXT, "saying how");
  lr_plugin_release(&p);
  snprintf(path, sizeof path, "%s/probe-exit.so", broken_dir);
  lr_plugin_probe_isolated(path, &host, 30, &p, &err);
  tap_is_str(lr_plugin_state_name(p.state), "failed", "a probe that calls exit() fails");
  tap_like(p.msg, "ended its process while loading or probing (exit 7)", "saying how");
  lr_plugin_release(&p);
  snprintf(path, sizeof path, "%s/probe-hang.so", broken_dir);
  lr_plugin_probe_isolated(path, &host, 0.5, &p, &err);
  tap_is_str(lr_plugin_state_name(p.state), "failed", "a probe that hangs fails");
  tap_like(p.msg, "did not answer within 0.5 s while loading or probing (killed", "after the limit");
  lr_plugin_release(&p);
  snprintf(path, sizeof path, "%s/good.so", plugin_dir);
  tap_is_int(lr_plugin_probe_isolated(path, &host, 30, &p, &err), LR_OK, "a good plugin probes");
  tap_is_str(lr_plugin_state_name(p.state), "usable", "usable");
  tap_is_str(p.msg, "test device ready", "with its probe's description");
  tap_is_int(p.score, 5, "and score");
  tap_ok(p.can_train == false && p.abi_major == LORENS_BACKEND_ABI_MAJOR, "and its descriptor");
  lr_plugin_release(&p);

  /* The broken directory comes first on the path; a backend elsewhere is found all the same. */
  cli[0] = broken_dir;
  cli[1] = plugin_dir;
  lr_search_path_build(&sp, cli, 2, NULL, &err);
  /* The limit covers the healthy plugins too: generous enough for a busy, sanitized machine. */
  setenv("LORENS_PROBE_TIMEOUT", "5", 1);
  tap_is_int(lr_plugin_open(&sp, &host, "testgood", lr_probe_timeout(), &p, &err), LR_OK,
             "a backend is opened past plugins that crash, exit and hang");
  lr_plugin_release(&p);
  tap_is_int(lr_plugin_open(&sp, &host, "probe-segv", 30, &p, &err), LR_EBACKEND,
             "asking for the crashing one is an error");
  tap_like(err.msg, "backend 'probe-segv' (", "naming the backend");
  tap_like(err.msg, "/probe-segv.so) " SEGV_TEXT,
           "its file, and what happened");
  lr_plugin_release(&p);
  lr_err_init(&err);
  tap_is_int(lr_plugin_open(&sp, &host, "probe-hang", 0.5, &p, &err), LR_EBACKEND,
             "asking for the hanging one is an error too");
  tap_like(err.msg, "/probe-hang.so) did not answer within 0.5 s", "after the limit");
  lr_plugin_release(&p);
  unsetenv("LORENS_PROBE_TIMEOUT");
  tap_ok(lr_probe_timeout() == 60.0, "the default limit is 60 s");
  lr_search_path_release(&sp);
}

int main(void) {
  char tmp[] = "/tmp/lorens-loader-XXXXXX";
  plugin_dir = getenv("TEST_PLUGIN_DIR");
  if (plugin_dir == NULL)
    tap_skip_all("TEST_PLUGIN_DIR is not set (run through `make check`)");
  if (mkdtemp(tmp) == NULL)
    tap_skip_all("cannot create a temporary directory");
  test_each_plugin();
  test_not_elf(tmp);
  test_search_path(tmp);
  test_discover(tmp);
  test_broken();
  rmdir(tmp);
  return tap_done();
}
