/*
 * proc-util.c: host identity, process liveness and clocks (see proc-util.h).
 */
#include "compat.h"

#include <errno.h>
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
