/*
 * scheduler.c: the local executor (see scheduler.h).
 */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/proc-util.h"
#include "run/scheduler.h"
#include "run/worker.h"
#include "store/store-runs.h"

#define TAIL_MAX 4096        /* bytes of a worker's stderr kept for the run's error */
#define KILL_GRACE 5.0       /* seconds between SIGTERM and SIGKILL */

typedef struct slot {
  bool busy;
  lr_claim claim;
  pid_t pid;
  int err_fd, prog_fd;
  char tail[TAIL_MAX + 1];
  size_t tail_len;
  char prog_line[256];       /* being read */
  size_t prog_len;
  char progress[256];        /* the last complete progress line */
  double left, left_at;      /* the worker's last estimate of the seconds left (< 0: none yet),
                                and when it came */
  double started, term_at;
  bool timed_out, term_sent, killed;
  long device;
} slot;

/* Failures per run in this invocation, for --retries. */
typedef struct retry_count {
  int64_t run_id;
  long failures;
} retry_count;

typedef struct sched {
  lr_store *store;
  int64_t sweep_id;
  const lr_sched_opts *o;
  lr_sched_result *res;
  lr_owner me;
  slot *slots;
  retry_count *retries;
  size_t n_retries;
  bool exhausted;            /* the last claim found nothing */
  bool stopping;
  double last_beat, last_draw, last_line, t0, run_seconds;
  long runs_timed;           /* finished runs whose durations sum to run_seconds */
  lr_run_counts counts;      /* at the start */
} sched;

/* The self-pipe the signal handlers write to; main() has one scheduler at a time. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(signal_pipe[1], &b, 1) < 0) {
    /* The pipe is full: enough signals are already pending. */
  }
  errno = saved;
}

/* The signals that stop a sweep, its runs marked interrupted: Ctrl-C, kill, and the hangup of the
 * terminal or ssh session it was started from. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { N_STOP_SIGNALS = 3 };

static lr_status install_signals(struct sigaction old_stop[N_STOP_SIGNALS],
                                 struct sigaction *old_chld, lr_err *err) {
  struct sigaction sa;
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return lr_fail(err, LR_EIO, "pipe: %s", strerror(errno));
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < N_STOP_SIGNALS; i++)
    sigaction(stop_signals[i], &sa, &old_stop[i]);
  sigaction(SIGCHLD, &sa, old_chld);
  signal(SIGPIPE, SIG_IGN);
  return LR_OK;
}

static void restore_signals(const struct sigaction old_stop[N_STOP_SIGNALS],
                            const struct sigaction *old_chld) {
  for (int i = 0; i < N_STOP_SIGNALS; i++)
    sigaction(stop_signals[i], &old_stop[i], NULL);
  sigaction(SIGCHLD, old_chld, NULL);
  close(signal_pipe[0]);
  close(signal_pipe[1]);
  signal_pipe[0] = signal_pipe[1] = -1;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void clear_live(sched *s) {
  if (s->o->live)
    fputs("\r\033[K", stderr);
}

static void say(sched *s, const char *fmt, ...) LR_PRINTF(2, 3);
static void say(sched *s, const char *fmt, ...) {
  va_list ap;
  if (s->o->quiet)
    return;
  clear_live(s);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  s->last_draw = 0;
}

/* The value of key in a worker's "k=v k=v" progress line, into buf ("" when absent). */
static const char *kv_get(const char *line, const char *key, char *buf, size_t n) {
  size_t klen = strlen(key);
  buf[0] = '\0';
  for (const char *p = line; *p;) {
    const char *end = p + strcspn(p, " ");
    if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
      snprintf(buf, n, "%.*s", (int)(end - p - (ptrdiff_t)klen - 1), p + klen + 1);
    p = *end ? end + 1 : end;
  }
  return buf;
}

/* A worker's progress line for people: "train epoch 2 member 1 step 40 loss 0.71 5.2k tok/s". */
static void render_progress(const char *kv, char *out, size_t n) {
  static const char *const keys[] = {"epoch", "member", "step", "loss", "set"};
  char v[64], done[32], total[32];
  size_t len = (size_t)snprintf(out, n, "%s", kv_get(kv, "phase", v, sizeof v));
  for (size_t i = 0; i < LR_ARRAY_LEN(keys) && len < n; i++)
    if (*kv_get(kv, keys[i], v, sizeof v))
      len += (size_t)snprintf(out + len, n - len, " %s %s", keys[i], v);
  if (len < n && *kv_get(kv, "done", done, sizeof done) && *kv_get(kv, "total", total, sizeof total))
    len += (size_t)snprintf(out + len, n - len, " %s/%s", done, total);
  if (len < n && *kv_get(kv, "tps", v, sizeof v))
    snprintf(out + len, n - len, " %s tok/s", v);
}

/*
 * Seconds until the sweep's `left` unfinished runs are done, or < 0 when unknown.  A busy run
 * counts what its worker estimates is left of it (the "left" of its progress, from its own pace)
 * or else the mean duration of the runs finished here minus its age; a run not started yet costs
 * that mean, or before any has finished, the busy runs' estimated durations.
 */
static double sweep_left(const sched *s, double now, long left) {
  double busy = 0, longest = 0, est = 0, mean = -1;
  long n_busy = 0, n_est = 0;
  bool unknown = false;
  if (s->runs_timed > 0)
    mean = s->run_seconds / (double)s->runs_timed;
  for (long i = 0; i < s->o->jobs; i++) {
    const slot *sl = &s->slots[i];
    double age = now - sl->started, rest = -1;
    if (!sl->busy)
      continue;
    n_busy++;
    if (sl->left >= 0) {
      /* Counted down since it came: a long batch sends no line. */
      rest = sl->left > now - sl->left_at ? sl->left - (now - sl->left_at) : 0;
      est += age + rest;
      n_est++;
    } else if (mean >= 0) {
      rest = mean > age ? mean - age : 0;
    } else {
      unknown = true;
    }
    busy += rest;
    longest = rest > longest ? rest : longest;
  }
  if (mean < 0 && n_est > 0)
    mean = est / (double)n_est;
  if (unknown || (left > n_busy && mean < 0))
    return -1;
  busy += left > n_busy ? (double)(left - n_busy) * mean : 0;
  /* The jobs share the work; none ends before its busy run does. */
  busy /= (double)s->o->jobs;
  return busy > longest ? busy : longest;
}

/* The progress line: runs done/total, failed, the first busy run's progress, the ETA.  Redrawn in
 * place on a terminal; otherwise (a log file) printed every progress_every seconds. */
static void draw(sched *s, double now) {
  char eta[32] = "?", line[512], prog[256] = "starting";
  long total = s->counts.total, done = s->counts.done + s->counts.diverged + s->res->done;
  long left = total - done - s->counts.failed - s->res->failed;
  const slot *cur = NULL;
  double secs;
  if (s->o->quiet)
    return;
  if (s->o->live ? now - s->last_draw < 0.2
                 : s->o->progress_every <= 0 || now - s->last_line < s->o->progress_every)
    return;
  s->last_draw = s->last_line = now;
  for (long i = 0; i < s->o->jobs && cur == NULL; i++)
    if (s->slots[i].busy)
      cur = &s->slots[i];
  if (cur == NULL && !s->o->live)
    return;
  if (left > 0 && (secs = sweep_left(s, now, left)) >= 0)
    lr_format_duration(secs, eta, sizeof eta);
  if (cur && cur->progress[0])
    render_progress(cur->progress, prog, sizeof prog);
  snprintf(line, sizeof line, "runs %ld/%ld done, %ld failed | %.12s %s | ETA %s", done, total,
           s->counts.failed + s->res->failed, cur ? cur->claim.run_key : "-", cur ? prog : "",
           eta);
  if (s->o->live) {
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
  } else {
    say(s, "%s", line);
  }
}

/* ---- workers ----------------------------------------------------------------------------- */

static void child_exec(const sched *s, const slot *sl, pid_t parent, int err_w, int prog_w) {
  const lr_sched_opts *o = s->o;
  char threads[32], device[32], micro[32];
  const char **argv = calloc(20 + 2 * o->n_backend_dirs, sizeof *argv);
  size_t n = 0;
  sigset_t none;
#ifdef PR_SET_PDEATHSIG
  /* The worker must not outlive the scheduler, whose heartbeats keep its claim. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != parent)
    _exit(127);
  for (int i = 0; i < N_STOP_SIGNALS; i++)
    signal(stop_signals[i], SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* stderr first: err_w may be fd 3.  dup2 onto itself keeps FD_CLOEXEC, so clear it. */
  if (dup2(err_w, 2) < 0 || dup2(err_w, 1) < 0 || argv == NULL)
    _exit(127);
  if (prog_w == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(prog_w, 3) < 0)
    _exit(127);
  snprintf(threads, sizeof threads, "%ld", o->threads);
  snprintf(device, sizeof device, "%ld", sl->device);
  snprintf(micro, sizeof micro, "%ld", o->micro_batch_tokens);
  argv[n++] = "lorens";
  argv[n++] = "worker";
  argv[n++] = "--db";
  argv[n++] = o->db_path;
  argv[n++] = "--run-key";
  argv[n++] = sl->claim.run_key;
  argv[n++] = "--claim";
  argv[n++] = sl->claim.token;
  argv[n++] = "--progress-fd";
  argv[n++] = "3";
  argv[n++] = "--threads";
  argv[n++] = threads;
  if (o->micro_batch_tokens > 0) {
    argv[n++] = "--micro-batch";
    argv[n++] = micro;
  }
  if (sl->device >= 0) {
    argv[n++] = "--device";
    argv[n++] = device;
  }
  for (size_t i = 0; i < o->n_backend_dirs; i++) {
    argv[n++] = "--backend-dir";
    argv[n++] = o->backend_dirs[i];
  }
  execv(o->worker_exe, (char *const *)argv);
  dprintf(2, "lorens: cannot start the worker '%s': %s\n", o->worker_exe, strerror(errno));
  _exit(127);
}

static lr_status spawn(sched *s, slot *sl, lr_err *err) {
  int errp[2], progp[2];
  pid_t parent = getpid(), pid;
  if (pipe2(errp, O_CLOEXEC) != 0)
    return lr_fail(err, LR_EIO, "pipe: %s", strerror(errno));
  if (pipe2(progp, O_CLOEXEC) != 0) {
    close(errp[0]);
    close(errp[1]);
    return lr_fail(err, LR_EIO, "pipe: %s", strerror(errno));
  }
  fflush(NULL);
  pid = fork();
  if (pid == 0)
    child_exec(s, sl, parent, errp[1], progp[1]);
  close(errp[1]);
  close(progp[1]);
  if (pid < 0) {
    close(errp[0]);
    close(progp[0]);
    return lr_fail(err, LR_EIO, "fork: %s", strerror(errno));
  }
  fcntl(errp[0], F_SETFL, O_NONBLOCK);
  fcntl(progp[0], F_SETFL, O_NONBLOCK);
  sl->pid = pid;
  sl->err_fd = errp[0];
  sl->prog_fd = progp[0];
  sl->tail_len = sl->prog_len = 0;
  sl->progress[0] = '\0';
  sl->started = lr_mono_time();
  sl->left = -1;
  sl->timed_out = sl->term_sent = sl->killed = false;
  sl->busy = true;
  s->res->started++;
  say(s, "run %.12s: started (attempt %ld, worker pid %d)", sl->claim.run_key, sl->claim.attempts,
      (int)pid);
  return lr_runs_started(s->store, &sl->claim, pid, err);
}

/* Keeps the last TAIL_MAX bytes a worker wrote to stderr. */
static void read_tail(slot *sl) {
  char buf[4096];
  ssize_t n;
  while (sl->err_fd >= 0 && (n = read(sl->err_fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return; /* EAGAIN: nothing more now */
    }
    if ((size_t)n >= TAIL_MAX) {
      memcpy(sl->tail, buf + n - TAIL_MAX, TAIL_MAX);
      sl->tail_len = TAIL_MAX;
    } else {
      size_t keep = sl->tail_len + (size_t)n > TAIL_MAX ? TAIL_MAX - (size_t)n : sl->tail_len;
      memmove(sl->tail, sl->tail + sl->tail_len - keep, keep);
      memcpy(sl->tail + keep, buf, (size_t)n);
      sl->tail_len = keep + (size_t)n;
    }
  }
  if (sl->err_fd >= 0) { /* end of file */
    close(sl->err_fd);
    sl->err_fd = -1;
  }
}

/* Keeps the "left" of the progress line just read: lines without one (storing, loading) keep the
 * last estimate, counted down. */
static void note_left(slot *sl) {
  char v[32];
  double left = *kv_get(sl->progress, "left", v, sizeof v) ? atof(v) : -1;
  if (left >= 0) {
    sl->left = left;
    sl->left_at = lr_mono_time();
  }
}

static void read_progress(slot *sl) {
  char buf[1024];
  ssize_t n;
  while (sl->prog_fd >= 0 && (n = read(sl->prog_fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] == '\n') {
        sl->prog_line[sl->prog_len] = '\0';
        snprintf(sl->progress, sizeof sl->progress, "%s", sl->prog_line);
        note_left(sl);
        sl->prog_len = 0;
      } else if (sl->prog_len + 1 < sizeof sl->prog_line) {
        sl->prog_line[sl->prog_len++] = buf[i];
      }
    }
  }
  if (sl->prog_fd >= 0) {
    close(sl->prog_fd);
    sl->prog_fd = -1;
  }
}

static long *failures_of(sched *s, int64_t run_id) {
  for (size_t i = 0; i < s->n_retries; i++)
    if (s->retries[i].run_id == run_id)
      return &s->retries[i].failures;
  s->retries[s->n_retries].run_id = run_id;
  s->retries[s->n_retries].failures = 0;
  return &s->retries[s->n_retries++].failures;
}

/* The worker is gone: record how the attempt ended. */
/* The last non-empty line of text, without "lorens: error: ", into buf. */
static void last_line(const char *text, char *buf, size_t n) {
  const char *end = text + strlen(text), *start;
  static const char prefix[] = "lorens: error: ";
  while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  start = end;
  while (start > text && start[-1] != '\n')
    start--;
  if ((size_t)(end - start) >= sizeof prefix - 1 && strncmp(start, prefix, sizeof prefix - 1) == 0)
    start += sizeof prefix - 1;
  snprintf(buf, n, "%.*s", (int)(end - start), start);
}

/* A finished worker's warnings (lines with "warning: "), which --quiet does not silence: a
 * precision the backend could not honour, a rank larger than a layer. */
static void pass_warnings(sched *s, const char *run_key, const char *tail) {
  for (const char *line = tail; *line;) {
    size_t len = strcspn(line, "\n");
    const char *w = strstr(line, "warning: ");
    if (w && w < line + len) {
      clear_live(s);
      fprintf(stderr, "run %.12s: %.*s\n", run_key, (int)(line + len - w), w);
      s->last_draw = 0;
    }
    line += len + (line[len] == '\n');
  }
}

static lr_status finish(sched *s, slot *sl, int status, lr_err *err) {
  char how[192], state[32] = "";
  const char *tail;
  bool applied = false;
  lr_status rc;
  double took = lr_mono_time() - sl->started;
  read_tail(sl);
  read_progress(sl);
  if (sl->err_fd >= 0)
    close(sl->err_fd);
  if (sl->prog_fd >= 0)
    close(sl->prog_fd);
  sl->err_fd = sl->prog_fd = -1;
  sl->busy = false;
  sl->tail[sl->tail_len] = '\0';
  tail = sl->tail;
  if (sl->timed_out) {
    char sig[96];
    lr_describe_wait_status(status, sig, sizeof sig);
    snprintf(how, sizeof how, "timeout after %.0f s (%s)", s->o->timeout, sig);
  } else {
    lr_describe_wait_status(status, how, sizeof how);
  }
  if ((rc = lr_runs_status(s->store, sl->claim.run_id, state, sizeof state, err)) != LR_OK)
    return rc;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      (strcmp(state, "done") == 0 || strcmp(state, "diverged") == 0)) {
    s->res->done++;
    s->run_seconds += took;
    s->runs_timed++;
    pass_warnings(s, sl->claim.run_key, tail);
    say(s, "run %.12s: %s in %.1f s", sl->claim.run_key, state, took);
    return LR_OK;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    tail = "the worker exited without finishing the run";
  if (WIFEXITED(status) && WEXITSTATUS(status) == LR_WORKER_EXIT_DISK_FULL) {
    char line[sizeof s->res->disk_full];
    last_line(tail, line, sizeof line);
    rc = lr_runs_release(s->store, &sl->claim, "interrupted", "disk full", tail, &applied, err);
    s->res->interrupted += applied;
    if (!s->res->disk_full[0])
      say(s, "run %.12s: interrupted, disk full: %s; starting no more runs", sl->claim.run_key,
          line);
    else
      say(s, "run %.12s: interrupted, disk full", sl->claim.run_key);
    if (!s->res->disk_full[0])
      snprintf(s->res->disk_full, sizeof s->res->disk_full, "%s", line[0] ? line : "disk full");
    return rc;
  }
  if (s->stopping && !sl->timed_out) {
    rc = lr_runs_release(s->store, &sl->claim, "interrupted", how, tail, &applied, err);
    s->res->interrupted += applied;
    say(s, "run %.12s: interrupted (%s)", sl->claim.run_key, how);
    return rc;
  }
  {
    long *failures = failures_of(s, sl->claim.run_id);
    bool retry = ++*failures <= s->o->retries;
    char line[512];
    /* The last non-empty line of the worker's stderr says most. */
    last_line(tail, line, sizeof line);
    say(s, "run %.12s: failed (%s)%s%s%s", sl->claim.run_key, how, line[0] ? ": " : "", line,
        retry ? "; retrying" : "");
    rc = lr_runs_release(s->store, &sl->claim, retry ? "pending" : "failed", how, tail, &applied,
                         err);
    if (applied && retry) {
      s->res->retried++;
      s->exhausted = false;
    } else if (applied) {
      s->res->failed++;
    }
  }
  return rc;
}

static slot *slot_of(sched *s, pid_t pid) {
  for (long i = 0; i < s->o->jobs; i++)
    if (s->slots[i].busy && s->slots[i].pid == pid)
      return &s->slots[i];
  return NULL;
}

static lr_status reap(sched *s, lr_err *err) {
  int status;
  pid_t pid;
  lr_status rc = LR_OK;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    slot *sl = slot_of(s, pid);
    if (sl) {
      lr_status r = finish(s, sl, status, err);
      rc = rc == LR_OK ? r : rc;
    }
  }
  return rc;
}

static void signal_workers(sched *s, int sig) {
  for (long i = 0; i < s->o->jobs; i++)
    if (s->slots[i].busy)
      kill(s->slots[i].pid, sig);
}

static void check_timeouts(sched *s, double now) {
  for (long i = 0; i < s->o->jobs; i++) {
    slot *sl = &s->slots[i];
    if (!sl->busy)
      continue;
    if (s->o->timeout > 0 && !sl->term_sent && now - sl->started > s->o->timeout) {
      sl->timed_out = sl->term_sent = true;
      sl->term_at = now;
      kill(sl->pid, SIGTERM);
    } else if (sl->term_sent && !sl->killed && now - sl->term_at > KILL_GRACE) {
      sl->killed = true;
      kill(sl->pid, SIGKILL);
    }
  }
}

/* Stops the sweep on a stop signal (or the caller's stop request, as SIGTERM): no more runs are
 * started, and the workers are asked to stop, which marks their runs interrupted. */
static void stop_sweep(sched *s, int sig, const char *why) {
  if (!s->stopping)
    say(s, "lorens: %s: stopping; the runs in progress are marked interrupted", why);
  s->stopping = true;
  s->res->signal = sig;
  signal_workers(s, SIGTERM);
  for (long j = 0; j < s->o->jobs; j++)
    if (s->slots[j].busy && !s->slots[j].term_sent) {
      s->slots[j].term_sent = true;
      s->slots[j].term_at = lr_mono_time();
    }
}

static void drain_signals(sched *s) {
  unsigned char buf[64];
  ssize_t n;
  while ((n = read(signal_pipe[0], buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      int sig = buf[i];
      if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
        stop_sweep(s, sig, sig == SIGINT ? "interrupted" : sig == SIGHUP ? "hangup" : "terminated");
    }
  }
  if (s->o->stop && *s->o->stop && !s->stopping)
    stop_sweep(s, SIGTERM, "stop requested");
}

static size_t busy_count(const sched *s) {
  size_t n = 0;
  for (long i = 0; i < s->o->jobs; i++)
    n += s->slots[i].busy;
  return n;
}

/* Claims and starts runs while there are free slots and runs to claim. */
static lr_status launch(sched *s, lr_err *err) {
  for (long i = 0; i < s->o->jobs && !s->stopping && !s->exhausted && !s->res->disk_full[0]; i++) {
    slot *sl = &s->slots[i];
    bool found = false;
    lr_status rc;
    if (sl->busy)
      continue;
    rc = lr_runs_claim(s->store, s->sweep_id, &s->me, s->o->stale_after, &sl->claim, &found, err);
    if (rc != LR_OK)
      return rc;
    if (!found) {
      s->exhausted = true;
      break;
    }
    sl->device = s->o->n_devices ? s->o->devices[i % (long)s->o->n_devices] : -1;
    if ((rc = spawn(s, sl, err)) != LR_OK)
      return rc;
  }
  return LR_OK;
}

static lr_status loop(sched *s, lr_err *err) {
  size_t cap = 3 + 2 * (size_t)s->o->jobs;
  struct pollfd *fds = calloc(cap, sizeof *fds);
  lr_status rc = fds ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  while (rc == LR_OK) {
    size_t n = 0;
    double now;
    drain_signals(s); /* a stop that came before the first claim claims nothing */
    rc = launch(s, err);
    if (rc != LR_OK || busy_count(s) == 0)
      break;
    fds[n++] = (struct pollfd){signal_pipe[0], POLLIN, 0};
    for (long i = 0; i < s->o->jobs; i++) {
      if (!s->slots[i].busy)
        continue;
      if (s->slots[i].err_fd >= 0)
        fds[n++] = (struct pollfd){s->slots[i].err_fd, POLLIN, 0};
      if (s->slots[i].prog_fd >= 0)
        fds[n++] = (struct pollfd){s->slots[i].prog_fd, POLLIN, 0};
    }
    if (poll(fds, n, 250) < 0 && errno != EINTR) {
      rc = lr_fail(err, LR_EIO, "poll: %s", strerror(errno));
      break;
    }
    drain_signals(s);
    for (long i = 0; i < s->o->jobs; i++)
      if (s->slots[i].busy) {
        read_tail(&s->slots[i]);
        read_progress(&s->slots[i]);
      }
    rc = reap(s, err);
    now = lr_mono_time();
    check_timeouts(s, now);
    if (rc == LR_OK && now - s->last_beat >= s->o->heartbeat_every) {
      lr_claim claims[256];
      size_t k = 0;
      lr_err beat_err;
      lr_err_init(&beat_err);
      for (long i = 0; i < s->o->jobs && k < LR_ARRAY_LEN(claims); i++)
        if (s->slots[i].busy)
          claims[k++] = s->slots[i].claim;
      /* A busy database delays a heartbeat; the next one will do. */
      if (lr_runs_heartbeat(s->store, claims, k, &beat_err) == LR_OK)
        s->last_beat = now;
    }
    draw(s, now);
  }
  free(fds);
  return rc;
}

/* After an error of the scheduler itself: stop the workers, wait, and give their runs back. */
static void abandon(sched *s) {
  signal_workers(s, SIGTERM);
  for (long i = 0; i < s->o->jobs; i++) {
    slot *sl = &s->slots[i];
    int status = 0;
    bool applied;
    lr_err e;
    if (!sl->busy)
      continue;
    lr_err_init(&e);
    waitpid(sl->pid, &status, 0);
    lr_runs_release(s->store, &sl->claim, "interrupted", "scheduler error", NULL, &applied, &e);
    if (sl->err_fd >= 0)
      close(sl->err_fd);
    if (sl->prog_fd >= 0)
      close(sl->prog_fd);
    sl->busy = false;
  }
}

lr_status lr_schedule(lr_store *store, int64_t sweep_id, const lr_sched_opts *o,
                      lr_sched_result *res, lr_err *err) {
  sched s = {0};
  struct sigaction old_stop[N_STOP_SIGNALS], old_chld;
  lr_status rc;
  memset(res, 0, sizeof *res);
  s.store = store;
  s.sweep_id = sweep_id;
  s.o = o;
  s.res = res;
  s.t0 = lr_mono_time();
  s.last_line = s.t0;
  lr_host_id_get(&s.me.id);
  s.me.pid = getpid();
  if ((rc = lr_runs_count(store, sweep_id, &s.counts, err)) != LR_OK)
    return rc;
  s.slots = calloc((size_t)o->jobs, sizeof *s.slots);
  s.retries = calloc((size_t)s.counts.total + 1, sizeof *s.retries);
  if (!s.slots || !s.retries) {
    free(s.slots);
    free(s.retries);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  for (long i = 0; i < o->jobs; i++)
    s.slots[i].err_fd = s.slots[i].prog_fd = -1;
  if ((rc = install_signals(old_stop, &old_chld, err)) == LR_OK) {
    rc = loop(&s, err);
    if (rc != LR_OK)
      abandon(&s);
    clear_live(&s);
    restore_signals(old_stop, &old_chld);
  }
  free(s.slots);
  free(s.retries);
  return rc;
}
