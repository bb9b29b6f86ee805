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
