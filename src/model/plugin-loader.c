/*
 * plugin-loader.c: search path, dlopen and ABI checks for backend plugins (see plugin-loader.h).
 */
#include "compat.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/proc-util.h"
#include "model/plugin-loader.h"

#ifndef LORENS_BACKEND_DIR
#error "LORENS_BACKEND_DIR must be defined by the build"
#endif

const char *lr_backend_install_dir(void) {
  return LORENS_BACKEND_DIR;
}

const char *lr_plugin_state_name(lr_plugin_state s) {
  switch (s) {
  case LR_PLUGIN_USABLE: return "usable";
  case LR_PLUGIN_UNUSABLE: return "unusable";
  case LR_PLUGIN_REFUSED: return "refused";
  case LR_PLUGIN_SHADOWED: return "shadowed";
  case LR_PLUGIN_FAILED: return "failed";
  }
  return "unknown";
}

const char *lr_dir_origin_name(lr_dir_origin o) {
  switch (o) {
  case LR_DIR_CLI: return "--backend-dir";
  case LR_DIR_ENV: return "LORENS_BACKEND_PATH";
  case LR_DIR_CONFIGURED: return "configured";
  case LR_DIR_INSTALL: return "install directory";
  }
  return "unknown";
}

static void log_to_stderr(void *ctx, int level, const char *msg) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  const char *backend = ctx ? (const char *)ctx : "backend";
  if (level < 0 || level > LORENS_LOG_DEBUG)
    level = LORENS_LOG_INFO;
  /* Debug chatter stays quiet unless asked for, so `lorens backends` output is readable. */
  if (level == LORENS_LOG_DEBUG && getenv("LORENS_DEBUG") == NULL)
    return;
  fprintf(stderr, "lorens: %s: %s: %s\n", backend, names[level], msg);
}

void lr_host_init(lorens_host *host) {
  memset(host, 0, sizeof *host);
  host->abi_major = LORENS_BACKEND_ABI_MAJOR;
  host->abi_minor = LORENS_BACKEND_ABI_MINOR;
  host->struct_size = sizeof *host;
  host->log = log_to_stderr;
  host->log_ctx = NULL;
}

/* ---- search path ------------------------------------------------------------------------- */

static bool same_dir(const char *a, const char *b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (strcmp(a, b) == 0)
    return true;
  return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static lr_status add_dir(lr_search_path *sp, const char *path, size_t len, lr_dir_origin origin,
                         lr_err *err) {
  struct stat st;
  char *copy;
  if (len == 0)
    return LR_OK;
  copy = strndup(path, len);
  if (copy == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory building the backend search path");
  for (size_t i = 0; i < sp->n; i++) {
    if (same_dir(sp->dirs[i].path, copy)) {
      free(copy);
      return LR_OK;
    }
  }
  if (LR_GROW(sp->dirs, sp->cap, sp->n + 1, err) != LR_OK) {
    free(copy);
    return err->code;
  }
  sp->dirs[sp->n].path = copy;
  sp->dirs[sp->n].origin = origin;
  sp->dirs[sp->n].exists = stat(copy, &st) == 0 && S_ISDIR(st.st_mode);
  sp->n++;
  return LR_OK;
}

/* Adds each entry of a colon-separated list. */
static lr_status add_dir_list(lr_search_path *sp, const char *list, lr_dir_origin origin,
                              lr_err *err) {
  lr_status rc = LR_OK;
  while (list != NULL && *list != '\0' && rc == LR_OK) {
    const char *colon = strchr(list, ':');
    size_t len = colon ? (size_t)(colon - list) : strlen(list);
    rc = add_dir(sp, list, len, origin, err);
    list = colon ? colon + 1 : NULL;
  }
  return rc;
}

lr_status lr_search_path_build(lr_search_path *sp, const char *const *cli_dirs, size_t n_cli,
                               const char *env, lr_err *err) {
  lr_status rc = LR_OK;
  sp->dirs = NULL;
  sp->n = sp->cap = 0;
  for (size_t i = 0; i < n_cli && rc == LR_OK; i++)
    rc = add_dir(sp, cli_dirs[i], strlen(cli_dirs[i]), LR_DIR_CLI, err);
  if (rc == LR_OK)
    rc = add_dir_list(sp, env, LR_DIR_ENV, err);
  if (rc == LR_OK)
    rc = add_dir_list(sp, LORENS_CONFIGURED_BACKEND_PATH, LR_DIR_CONFIGURED, err);
  if (rc == LR_OK)
    rc = add_dir(sp, LORENS_BACKEND_DIR, strlen(LORENS_BACKEND_DIR), LR_DIR_INSTALL, err);
  if (rc != LR_OK)
    lr_search_path_release(sp);
  return rc;
}

void lr_search_path_release(lr_search_path *sp) {
  for (size_t i = 0; i < sp->n; i++)
    free(sp->dirs[i].path);
  free(sp->dirs);
  sp->dirs = NULL;
  sp->n = sp->cap = 0;
}

/* ---- one plugin --------------------------------------------------------------------------- */

static void refuse(lr_plugin *p, const char *fmt, ...) LR_PRINTF(2, 3);
static void refuse(lr_plugin *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->msg, sizeof p->msg, fmt, ap);
  va_end(ap);
  p->state = LR_PLUGIN_REFUSED;
  p->desc = NULL;
  p->name[0] = '\0';
  p->score = 0;
  if (p->handle)
    dlclose(p->handle);
  p->handle = NULL;
}

/* Looks for the entry symbol of another ABI major, so the refusal can say which one it is. */
static int other_abi_major(void *handle) {
  char sym[32];
  for (int major = 0; major <= 16; major++) {
    if (major == LORENS_BACKEND_ABI_MAJOR)
      continue;
    snprintf(sym, sizeof sym, "lorens_backend_v%d", major);
    if (dlsym(handle, sym) != NULL)
      return major;
  }
  return -1;
}

static bool valid_name(const char *name) {
  if (name == NULL || *name == '\0' || strlen(name) > 32)
    return false;
  for (const char *c = name; *c; c++)
    if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_' || *c == '-'))
      return false;
  return true;
}

/* Checks a descriptor against this host's ABI; refuses the plugin when it does not fit. */
static bool vet_descriptor(lr_plugin *p, const lorens_backend *d) {
  if (d == NULL) {
    refuse(p, "its entry point %s returned no descriptor", LORENS_BACKEND_ENTRY_SYMBOL);
    return false;
  }
  if (d->abi_major != LORENS_BACKEND_ABI_MAJOR) {
    refuse(p, "built for backend ABI %u.%u; this lorens speaks %d.%d", d->abi_major,
           d->abi_minor, LORENS_BACKEND_ABI_MAJOR, LORENS_BACKEND_ABI_MINOR);
    return false;
  }
  if (d->struct_size < LORENS_BACKEND_MIN_SIZE_V1_0) {
    refuse(p, "its descriptor is %u bytes; ABI %d.0 needs at least %zu", d->struct_size,
           LORENS_BACKEND_ABI_MAJOR, (size_t)LORENS_BACKEND_MIN_SIZE_V1_0);
    return false;
  }
  if (!valid_name(d->name)) {
    refuse(p, "its descriptor has no valid name (want 1-32 of [a-z0-9_-])");
    return false;
  }
  return true;
}

static void copy_info(lr_plugin *p, const lorens_backend *d) {
  snprintf(p->name, sizeof p->name, "%s", d->name);
  p->abi_major = d->abi_major;
  p->abi_minor = d->abi_minor;
  snprintf(p->version, sizeof p->version, "%s", d->version ? d->version : "");
  snprintf(p->description, sizeof p->description, "%s", d->description ? d->description : "");
  p->can_train = LORENS_BACKEND_HAS_SESSIONS(d);
}

static void run_probe(lr_plugin *p) {
  char msg[LORENS_MSG_MAX] = "";
  int score = 1;
  if (p->desc->probe != NULL)
    score = p->desc->probe(msg, sizeof msg);
  msg[sizeof msg - 1] = '\0';
  if (score > 0) {
    p->state = LR_PLUGIN_USABLE;
    p->score = score;
    snprintf(p->msg, sizeof p->msg, "%s", msg);
  } else {
    p->state = LR_PLUGIN_UNUSABLE;
    p->score = 0;
    snprintf(p->msg, sizeof p->msg, "%s", msg[0] ? msg : "its probe gave no reason");
  }
}

lr_status lr_plugin_load(const char *path, const lorens_host *host, lr_plugin *out) {
  lorens_backend_entry_fn entry;
  void *sym;
  int major;
  memset(out, 0, sizeof *out);
  out->path = strdup(path);
  if (out->path == NULL)
    return LR_ENOMEM;
  dlerror();
  /* RTLD_NODELETE: a backend may start threads (OpenMP, BLAS, a GPU runtime) that outlive any
   * call into it; unmapping its code under them would crash the process at exit. */
  out->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (out->handle == NULL) {
    const char *why = dlerror();
    refuse(out, "cannot load: %s", why ? why : "unknown dlopen error");
    return LR_OK;
  }
  sym = dlsym(out->handle, LORENS_BACKEND_ENTRY_SYMBOL);
  if (sym == NULL) {
    major = other_abi_major(out->handle);
    if (major >= 0)
      refuse(out, "built for backend ABI major %d (exports lorens_backend_v%d); this lorens speaks %d",
             major, major, LORENS_BACKEND_ABI_MAJOR);
    else
      refuse(out, "not a lorens backend: no symbol '%s'", LORENS_BACKEND_ENTRY_SYMBOL);
    return LR_OK;
  }
  /* POSIX guarantees that a data pointer from dlsym converts to a function pointer. */
  memcpy(&entry, &sym, sizeof entry);
  out->desc = entry(host);
  if (vet_descriptor(out, out->desc)) {
    copy_info(out, out->desc);
    run_probe(out);
  }
  return LR_OK;
}

void lr_plugin_release(lr_plugin *p) {
  if (p->handle)
    dlclose(p->handle);
  free(p->path);
  memset(p, 0, sizeof *p);
}

/* ---- a probe in a child process --------------------------------------------------------- */

/* What the child sends back: the plugin's state and descriptor fields, fixed-size. */
typedef struct probe_report {
  int32_t state, score;
  uint32_t abi_major, abi_minor;
  int32_t can_train;
  char name[40], version[64], description[160], msg[LORENS_MSG_MAX];
} probe_report;

double lr_probe_timeout(void) {
  const char *v = getenv("LORENS_PROBE_TIMEOUT");
  char *end;
  double t = v ? strtod(v, &end) : 0;
  return v && end != v && *end == '\0' && t > 0 && t < 1e6 ? t : 60.0;
}

/* The child: load and probe in-process, send the report, and leave without running the
 * parent's exit handlers or flushing its stdio buffers (_exit). */
static void probe_child(int fd, const char *path, const lorens_host *host) {
  lr_plugin p;
  probe_report r;
  const char *at = (const char *)&r;
  size_t left = sizeof r;
  memset(&r, 0, sizeof r);
  if (lr_plugin_load(path, host, &p) != LR_OK)
    _exit(3);
  r.state = (int32_t)p.state;
  r.score = p.score;
  r.abi_major = p.abi_major;
  r.abi_minor = p.abi_minor;
  r.can_train = p.can_train;
  memcpy(r.name, p.name, sizeof r.name);
  memcpy(r.version, p.version, sizeof r.version);
  memcpy(r.description, p.description, sizeof r.description);
  memcpy(r.msg, p.msg, sizeof r.msg);
  while (left > 0) {
    ssize_t w = write(fd, at, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      _exit(4);
    at += w;
    left -= (size_t)w;
  }
  _exit(0);
}

/* Reads the report until it is whole, the child closes the pipe, or the deadline passes.
 * Returns the bytes read; *timed_out tells the last case. */
static size_t read_report(int fd, probe_report *r, double timeout_s, bool *timed_out) {
  char *at = (char *)r;
  size_t got = 0;
  double deadline = lr_mono_time() + timeout_s;
  *timed_out = false;
  while (got < sizeof *r) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    double left = deadline - lr_mono_time();
    ssize_t n;
    int ready;
    if (left <= 0) {
      *timed_out = true;
      break;
    }
    ready = poll(&pfd, 1, left > 3600 ? 3600000 : (int)(left * 1000) + 1);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      continue; /* the deadline check above ends it */
    n = read(fd, at + got, sizeof *r - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  return got;
}

lr_status lr_plugin_probe_isolated(const char *path, const lorens_host *host, double timeout_s,
                                   lr_plugin *out, lr_err *err) {
  probe_report r;
  int fds[2], status = 0;
  bool timed_out;
  size_t got;
  pid_t pid;
  memset(out, 0, sizeof *out);
  if ((out->path = strdup(path)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory probing '%s'", path);
  if (pipe(fds) != 0)
    return lr_fail(err, LR_EIO, "cannot probe '%s': pipe: %s", path, strerror(errno));
  fflush(NULL); /* nothing buffered here is written twice by the child */
  pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return lr_fail(err, LR_EIO, "cannot probe '%s': fork: %s", path, strerror(e));
  }
  if (pid == 0) {
    close(fds[0]);
    probe_child(fds[1], path, host);
  }
  close(fds[1]);
  memset(&r, 0, sizeof r);
  got = read_report(fds[0], &r, timeout_s, &timed_out);
  close(fds[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (timed_out) {
    refuse(out, "did not answer within %g s while loading or probing (killed; "
                "LORENS_PROBE_TIMEOUT sets the limit)", timeout_s);
    out->state = LR_PLUGIN_FAILED;
  } else if (got < sizeof r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char how[64];
    lr_describe_wait_status(status, how, sizeof how);
    refuse(out, "%s while loading or probing (%s)",
           WIFSIGNALED(status) ? "crashed" : "ended its process", how);
    out->state = LR_PLUGIN_FAILED;
  } else {
    out->state = (lr_plugin_state)r.state;
    out->score = r.score;
    out->abi_major = r.abi_major;
    out->abi_minor = r.abi_minor;
    out->can_train = r.can_train != 0;
    r.name[sizeof r.name - 1] = r.version[sizeof r.version - 1] = '\0';
    r.description[sizeof r.description - 1] = r.msg[sizeof r.msg - 1] = '\0';
    memcpy(out->name, r.name, sizeof out->name);
    memcpy(out->version, r.version, sizeof out->version);
    memcpy(out->description, r.description, sizeof out->description);
    memcpy(out->msg, r.msg, sizeof out->msg);
  }
  return LR_OK;
}

/* ---- discovery ---------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_plugin_file(const char *name) {
  size_t n = strlen(name);
  return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* The sorted paths of candidate files in dir (an unreadable directory has none). */
static lr_status list_candidates(const char *dir, char ***names, size_t *n, lr_err *err) {
  DIR *d = opendir(dir);
  struct dirent *ent;
  size_t cap = 0;
  *names = NULL;
  *n = 0;
  if (d == NULL)
    return LR_OK;
  while ((ent = readdir(d)) != NULL) {
    if (!is_plugin_file(ent->d_name))
      continue;
    if (LR_GROW(*names, cap, *n + 1, NULL) != LR_OK)
      goto oom;
    if (asprintf(&(*names)[*n], "%s/%s", dir, ent->d_name) < 0)
      goto oom;
    (*n)++;
  }
  closedir(d);
  qsort(*names, *n, sizeof **names, cmp_str);
  return LR_OK;
oom:
  closedir(d);
  free_names(*names, *n);
  *names = NULL;
  *n = 0;
  return lr_fail(err, LR_ENOMEM, "out of memory listing '%s'", dir);
}

static const lr_plugin *find_named(const lr_plugin_list *list, const char *name) {
  for (size_t i = 0; i < list->n; i++) {
    const lr_plugin *p = &list->items[i];
    if (p->name[0] && p->state != LR_PLUGIN_SHADOWED && strcmp(p->name, name) == 0)
      return p;
  }
  return NULL;
}

static lr_status append_plugin(lr_plugin_list *list, const char *path, const lorens_host *host,
                               double timeout_s, lr_err *err) {
  lr_plugin p;
  const lr_plugin *earlier;
  if (lr_plugin_probe_isolated(path, host, timeout_s, &p, err) != LR_OK) {
    lr_plugin_release(&p);
    return err->code;
  }
  if (p.name[0] && (earlier = find_named(list, p.name)) != NULL) {
    snprintf(p.msg, sizeof p.msg, "a backend named '%s' was found first in %s", p.name,
             earlier->path);
    p.state = LR_PLUGIN_SHADOWED;
  }
  if (LR_GROW(list->items, list->cap, list->n + 1, err) != LR_OK) {
    lr_plugin_release(&p);
    return err->code;
  }
  list->items[list->n++] = p;
  return LR_OK;
}

lr_status lr_plugins_discover(const lr_search_path *sp, const lorens_host *host, double timeout_s,
                              lr_plugin_list *out, lr_err *err) {
  lr_status rc = LR_OK;
  out->items = NULL;
  out->n = out->cap = 0;
  for (size_t i = 0; i < sp->n && rc == LR_OK; i++) {
    char **names;
    size_t n;
    if (!sp->dirs[i].exists)
      continue;
    rc = list_candidates(sp->dirs[i].path, &names, &n, err);
    for (size_t j = 0; j < n && rc == LR_OK; j++)
      rc = append_plugin(out, names[j], host, timeout_s, err);
    free_names(names, n);
  }
  if (rc != LR_OK)
    lr_plugin_list_release(out);
  return rc;
}

void lr_plugin_list_release(lr_plugin_list *list) {
  for (size_t i = 0; i < list->n; i++)
    lr_plugin_release(&list->items[i]);
  free(list->items);
  list->items = NULL;
  list->n = list->cap = 0;
}

/* ---- opening the backend asked for -------------------------------------------------------- */

/* Whether the file at path is called NAME.so. */
static bool file_is_named(const char *path, const char *name) {
  const char *base = strrchr(path, '/');
  size_t len = strlen(name);
  base = base ? base + 1 : path;
  return strncmp(base, name, len) == 0 && strcmp(base + len, ".so") == 0;
}

/* Adds ", name" to the list of names seen, once each. */
static void note_name(char *seen, size_t size, const char *name) {
  size_t len = strlen(name), used = strlen(seen);
  for (const char *at = seen; (at = strstr(at, name)) != NULL; at += len)
    if ((at == seen || at[-1] == ' ') && (at[len] == ',' || at[len] == '\0'))
      return;
  snprintf(seen + used, size - used, "%s%s", used ? ", " : "", name);
}

/* Vets one candidate in a child; loads it here when it is the one.  Returns LR_OK with *done
 * false to go on looking. */
static lr_status try_candidate(const char *path, bool by_file_name, bool load_here,
                               const lorens_host *host, const char *name, double timeout_s,
                               lr_plugin *out, char *seen, size_t seen_size, char *refused,
                               size_t refused_size, bool *done, lr_err *err) {
  lr_plugin probe;
  lr_status rc = lr_plugin_probe_isolated(path, host, timeout_s, &probe, err);
  *done = false;
  if (rc != LR_OK) {
    lr_plugin_release(&probe);
    return rc;
  }
  if (probe.name[0] == '\0') {
    /* Refused.  A crash or hang of NAME.so is the backend asked for failing: say so now. */
    if (by_file_name && probe.state == LR_PLUGIN_FAILED) {
      *done = true;
      rc = lr_fail(err, LR_EBACKEND, "backend '%s' (%s) %s", name, path, probe.msg);
    } else if (by_file_name && refused[0] == '\0') {
      snprintf(refused, refused_size, "; %s was refused: %s", path, probe.msg);
    }
    lr_plugin_release(&probe);
    return rc;
  }
  note_name(seen, seen_size, probe.name);
  if (strcmp(probe.name, name) != 0) {
    lr_plugin_release(&probe);
    return LR_OK;
  }
  *done = true;
  if (probe.state != LR_PLUGIN_USABLE) {
    rc = lr_fail(err, LR_EDEVICE, "backend '%s' (%s) cannot run here: %s", name, path, probe.msg);
    lr_plugin_release(&probe);
    return rc;
  }
  if (!load_here) {
    *out = probe; /* what the child found: no handle, no descriptor */
    return LR_OK;
  }
  lr_plugin_release(&probe);
  if (lr_plugin_load(path, host, out) != LR_OK)
    return lr_fail(err, LR_ENOMEM, "out of memory loading '%s'", path);
  if (out->state != LR_PLUGIN_USABLE || strcmp(out->name, name) != 0)
    return lr_fail(err, LR_EBACKEND, "backend '%s' (%s) probed differently in this process: %s",
                   name, path, out->msg);
  return LR_OK;
}

static lr_status find_plugin(const lr_search_path *sp, const lorens_host *host, const char *name,
                             double timeout_s, bool load_here, lr_plugin *out, lr_err *err) {
  char seen[LORENS_MSG_MAX] = "", refused[LORENS_MSG_MAX + 64] = "";
  bool done = false;
  lr_status rc = LR_OK;
  memset(out, 0, sizeof *out);
  /* Pass 0 tries each directory's NAME.so, pass 1 the other files: a plugin elsewhere on the
   * path, however broken, costs nothing when the backend asked for is where its name says. */
  for (int pass = 0; pass < 2 && rc == LR_OK && !done; pass++) {
    for (size_t i = 0; i < sp->n && rc == LR_OK && !done; i++) {
      char **names;
      size_t n;
      if (!sp->dirs[i].exists)
        continue;
      rc = list_candidates(sp->dirs[i].path, &names, &n, err);
      for (size_t j = 0; j < n && rc == LR_OK && !done; j++) {
        bool by_file_name = file_is_named(names[j], name);
        if (by_file_name == (pass == 0))
          rc = try_candidate(names[j], by_file_name, load_here, host, name, timeout_s, out, seen,
                             sizeof seen, refused, sizeof refused, &done, err);
      }
      free_names(names, n);
    }
  }
  if (rc == LR_OK && !done)
    rc = lr_fail(err, LR_ENOTFOUND, "no backend named '%s' on the search path (found: %s)%s", name,
                 seen[0] ? seen : "none; see `lorens backends`", refused);
  return rc;
}

lr_status lr_plugin_open(const lr_search_path *sp, const lorens_host *host, const char *name,
                         double timeout_s, lr_plugin *out, lr_err *err) {
  return find_plugin(sp, host, name, timeout_s, true, out, err);
}

lr_status lr_plugin_find(const lr_search_path *sp, const lorens_host *host, const char *name,
                         double timeout_s, lr_plugin *out, lr_err *err) {
  return find_plugin(sp, host, name, timeout_s, false, out, err);
}
