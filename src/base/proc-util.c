/*
 * proc-util.c: host identity, process liveness and clocks (see proc-util.h).
 */
#include "compat.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/proc-util.h"

void lr_host_id_get(lr_host_id *out) {
  FILE *fp;
  memset(out, 0, sizeof *out);
  if (gethostname(out->host, sizeof out->host - 1) != 0)
    out->host[0] = '\0';
  fp = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (fp) {
    if (fgets(out->boot_id, sizeof out->boot_id, fp) == NULL)
      out->boot_id[0] = '\0';
    out->boot_id[strcspn(out->boot_id, "\r\n")] = '\0';
    fclose(fp);
  }
}

bool lr_pid_alive(pid_t pid) {
  if (pid <= 0)
    return false;
  return kill(pid, 0) == 0 || errno == EPERM;
}

/* The process's name as the kernel keeps it (/proc/PID/comm), into buf; false when unreadable. */
static bool read_comm(const char *path, char *buf, size_t n) {
  FILE *fp = fopen(path, "r");
  bool ok = fp && fgets(buf, (int)n, fp) != NULL;
  if (fp)
    fclose(fp);
  if (ok)
    buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

bool lr_pid_same_program(pid_t pid) {
  char path[64], theirs[64], ours[64];
  snprintf(path, sizeof path, "/proc/%lld/comm", (long long)pid);
  if (!read_comm(path, theirs, sizeof theirs) || !read_comm("/proc/self/comm", ours, sizeof ours))
    return true;
  return strcmp(theirs, ours) == 0;
}

bool lr_run_owner_gone(const lr_run_owner *o, const lr_host_id *here, pid_t self_pid, double now,
                       double stale_after, char *why, size_t n) {
  bool same_boot = o->host && o->boot_id && here->boot_id[0] && strcmp(o->host, here->host) == 0 &&
                   strcmp(o->boot_id, here->boot_id) == 0;
  why[0] = '\0';
  if (o->host && strcmp(o->host, here->host) == 0 && o->boot_id && here->boot_id[0] && !same_boot)
    snprintf(why, n, "claimed before this host rebooted");
  else if (same_boot && o->pid > 0 && o->pid != (long long)self_pid) {
    pid_t pid = (pid_t)o->pid;
    if (!lr_pid_alive(pid))
      snprintf(why, n, "pid %lld is gone", o->pid);
    else if ((!o->has_heartbeat || now - o->heartbeat > stale_after) && !lr_pid_same_program(pid))
      snprintf(why, n, "pid %lld now runs another program", o->pid);
  } else if (!o->has_heartbeat)
    snprintf(why, n, "no heartbeat");
  else if (now - o->heartbeat > stale_after)
    snprintf(why, n, "no heartbeat for %.0f s", floor(now - o->heartbeat));
  return why[0] != '\0';
}

double lr_wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double lr_mono_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void lr_describe_wait_status(int status, char *buf, size_t n) {
  if (WIFEXITED(status)) {
    snprintf(buf, n, "exit %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char *name = sigabbrev_np(sig);
    snprintf(buf, n, "signal %d (SIG%s)%s", sig, name ? name : "?",
             WCOREDUMP(status) ? ", core dumped" : "");
  } else {
    snprintf(buf, n, "wait status %d", status);
  }
}

void lr_format_duration(double seconds, char *buf, size_t n) {
  long t = seconds > 0 && seconds < 1e7 ? (long)(seconds + 0.5) : 0;
  if (t >= 3600)
    snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(buf, n, "%lds", t);
}
