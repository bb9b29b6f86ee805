/*
 * test-plugin.c: backends that misbehave in one way each, for the loader tests.
 *
 * Built once per PLUGIN_* flag (Makefile.am); each variant checks one refusal or state of
 * plugin-loader.c.  The PLUGIN_PROBE_* ones (in tests/plugins/broken/) crash, hang or exit in
 * their probe.  Also compiled out of tree by tests/cli/test-out-of-tree-plugin.sh, which is
 * how a third party builds a backend: this file includes nothing from lorens but the ABI header.
 */
#if defined(PLUGIN_PROBE_HANG)
#define _POSIX_C_SOURCE 200809L /* pause() */
#include <unistd.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#include <lorens/backend.h>

/* Each variant uses one of the probes; the others must not warn. */
#define UNUSED_OK __attribute__((unused))

static UNUSED_OK int probe_ok(char *msg, size_t len) {
  snprintf(msg, len, "test device ready");
  return 5;
}

static UNUSED_OK int probe_unusable(char *msg, size_t len) {
  snprintf(msg, len, "no test device on this machine");
  return 0;
}

#if defined(PLUGIN_UNRESOLVED)
/* Defined nowhere: dlopen(RTLD_NOW) must fail with "undefined symbol". */
extern int lorens_test_symbol_defined_nowhere(void);
static int probe_unresolved(char *msg, size_t len) {
  return lorens_test_symbol_defined_nowhere() + (int)len + (msg != NULL);
}
#endif

/* Probes whose own code fails: the loader runs them in a child process and must survive.  Each
 * first appends its name to $LORENS_TEST_PROBE_LOG, so a test can tell whether it ran at all. */
#if defined(PLUGIN_PROBE_SEGV) || defined(PLUGIN_PROBE_HANG) || defined(PLUGIN_PROBE_EXIT)
static void log_probe(const char *name) {
  const char *path = getenv("LORENS_TEST_PROBE_LOG");
  FILE *fp = path ? fopen(path, "a") : NULL;
  if (fp) {
    fprintf(fp, "%s\n", name);
    fclose(fp);
  }
}
#endif
#if defined(PLUGIN_PROBE_SEGV)
static int probe_segv(char *msg, size_t len) {
  volatile int *volatile nowhere = NULL;
  log_probe("probe-segv");
  snprintf(msg, len, "about to crash");
  return *nowhere;
}
#elif defined(PLUGIN_PROBE_HANG)
static int probe_hang(char *msg, size_t len) {
  log_probe("probe-hang");
  snprintf(msg, len, "waiting forever");
  for (;;)
    pause();
  return 0;
}
#elif defined(PLUGIN_PROBE_EXIT)
static int probe_exit(char *msg, size_t len) {
  log_probe("probe-exit");
  snprintf(msg, len, "leaving");
  exit(7); /* what the ABI forbids */
}
#endif

#if defined(PLUGIN_GOOD)
#define NAME "testgood"
#define PROBE probe_ok
#elif defined(PLUGIN_UNUSABLE)
#define NAME "testunusable"
#define PROBE probe_unusable
#elif defined(PLUGIN_WRONG_MAJOR)
#define NAME "testmajor"
#define PROBE probe_ok
#define MAJOR (LORENS_BACKEND_ABI_MAJOR + 1)
#elif defined(PLUGIN_TOO_SMALL)
#define NAME "testsmall"
#define PROBE probe_ok
#define SIZE 12
#elif defined(PLUGIN_BAD_NAME)
#define NAME "Bad Name!"
#define PROBE probe_ok
#elif defined(PLUGIN_UNRESOLVED)
#define NAME "testunresolved"
#define PROBE probe_unresolved
#elif defined(PLUGIN_PROBE_SEGV)
#define NAME "probe-segv"
#define PROBE probe_segv
#elif defined(PLUGIN_PROBE_HANG)
#define NAME "probe-hang"
#define PROBE probe_hang
#elif defined(PLUGIN_PROBE_EXIT)
#define NAME "probe-exit"
#define PROBE probe_exit
#else
#define NAME "testother"
#define PROBE probe_ok
#endif

#ifndef MAJOR
#define MAJOR LORENS_BACKEND_ABI_MAJOR
#endif
#ifndef SIZE
#define SIZE sizeof(lorens_backend)
#endif

static const lorens_backend descriptor = {
    .abi_major = MAJOR,
    .abi_minor = LORENS_BACKEND_ABI_MINOR,
    .struct_size = SIZE,
    .name = NAME,
    .version = "0.0-test",
    .description = "loader test plugin",
    .probe = PROBE,
};

#if defined(PLUGIN_NO_ENTRY)
LORENS_BACKEND_EXPORT int lorens_not_an_entry(void);
int lorens_not_an_entry(void) {
  return descriptor.probe == NULL;
}
#elif defined(PLUGIN_V2_ENTRY)
/* A plugin from a future lorens: its entry symbol carries ABI major 2. */
LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v2(const lorens_host *host);
const lorens_backend *lorens_backend_v2(const lorens_host *host) {
  (void)host;
  return &descriptor;
}
#elif defined(PLUGIN_NULL_DESC)
const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return descriptor.name ? NULL : &descriptor;
}
#else
const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  if (host && host->log && host->struct_size >= sizeof *host)
    host->log(host->log_ctx, LORENS_LOG_DEBUG, "test plugin " NAME " initialised");
  return &descriptor;
}
#endif
