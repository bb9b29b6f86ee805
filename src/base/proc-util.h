/*
 * proc-util.h: what the scheduler needs to know about processes and the machine it runs on.
 *
 * A run's owner is recorded as (host, boot id, pid): on the same host and boot a dead pid means
 * the owner is gone at once; a different boot id means the machine rebooted since.  Other hosts
 * are judged by the age of their heartbeats only.
 */
#ifndef LORENS_PROC_UTIL_H
#define LORENS_PROC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct lr_host_id {
  char host[256];    /* gethostname(), "" if unknown */
  char boot_id[64];  /* /proc/sys/kernel/random/boot_id, "" where there is none */
} lr_host_id;

void lr_host_id_get(lr_host_id *out);

/* True when a process with this pid exists on this machine (kill(pid, 0)). */
bool lr_pid_alive(pid_t pid);

/* True unless pid is known to run another program than this process (their /proc/PID/comm
 * differ): a pid reused since a scheduler died is then not mistaken for it.  When that cannot be
 * read, true: keeping a run waiting is safer than running it twice. */
bool lr_pid_same_program(pid_t pid);

/* Who holds a running run, as the runs table records it: host, boot id, scheduler pid and
 * heartbeat (NULL strings, pid 0 and has_heartbeat false where unknown). */
typedef struct lr_run_owner {
  const char *host, *boot_id;
  long long pid;
  bool has_heartbeat;
  double heartbeat; /* lr_wall_time() seconds */
} lr_run_owner;

/* Whether a running run's owner is gone, for whoever asks from here (self_pid: the asking
 * scheduler, 0 for none), into why ("pid 123 is gone"; empty when it looks alive).  On this host
 * and boot the pid decides: a live lorens process owns its runs whatever its heartbeat says (a
 * scheduler stopped with SIGSTOP, or starved, keeps them); a dead one, or a pid now held by
 * another program, does not.  Another boot of this host means a reboot since.  Another host can
 * be judged only by its heartbeat, stale after stale_after seconds; so is a run claimed under
 * self_pid (our own busy slots, or a dead namesake's after a pid wrap). */
bool lr_run_owner_gone(const lr_run_owner *o, const lr_host_id *here, pid_t self_pid, double now,
                       double stale_after, char *why, size_t n);

/* Seconds since the epoch, wall clock, with sub-second precision: stored as heartbeats. */
double lr_wall_time(void);

/* Seconds on a monotonic clock: for timeouts and rates. */
double lr_mono_time(void);

/* A duration for people: "42s", "3m07s", "2h05m" (rounded to the second; 0s for negative,
 * NaN or absurd values, as an ETA may be before its rate is known). */
void lr_format_duration(double seconds, char *buf, size_t n);

/* "signal 11 (SIGSEGV)", "exit 3": how a waitpid() status ended. */
void lr_describe_wait_status(int status, char *buf, size_t n);

#endif /* LORENS_PROC_UTIL_H */
