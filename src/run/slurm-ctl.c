/*
 * slurm-ctl.c: calling Slurm's commands (slurm-ctl.h).
 */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/proc-util.h"
#include "run/slurm-ctl.h"

/* Runs argv with stdout and stderr captured (each from malloc, NUL-terminated); returns its wait
 * status (127 with the reason in *errtext when the program could not be run), or -1 when no
 * process could be made. */
static int capture(char *const argv[], char **out, char **errtext) {
  int po[2], pe[2], status = -1;
  pid_t pid;
  lr_buf bo, be;
  lr_err ignored;
  lr_buf_init(&bo, (size_t)64 << 20);
  lr_buf_init(&be, (size_t)1 << 20);
  *out = *errtext = NULL;
  if (pipe2(po, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(pe, O_CLOEXEC) != 0) {
    close(po[0]);
    close(po[1]);
    return -1;
  }
  if ((pid = fork()) == 0) {
    dup2(po[1], STDOUT_FILENO);
    dup2(pe[1], STDERR_FILENO);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  if (pid > 0) {
    /* Both pipes at once, whichever has data: reading one to its end first would wait forever
     * on a child blocked writing to the other, full, one. */
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    lr_buf *into[2] = {&bo, &be};
    char chunk[4096];
    int open_fds = 2;
    while (open_fds > 0) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      for (int i = 0; i < 2; i++) {
        ssize_t n;
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        n = read(fds[i].fd, chunk, sizeof chunk);
        if (n > 0) {
          lr_buf_add(into[i], chunk, (size_t)n, &ignored);
        } else if (n == 0 || errno != EINTR) {
          fds[i].fd = -1;
          open_fds--;
        }
      }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  close(po[0]);
  close(pe[0]);
  *out = lr_buf_detach(&bo, NULL);
  *errtext = lr_buf_detach(&be, NULL);
  return status;
}

/* The first line of text, without its newline, for messages. */
static const char *first_line(char *text) {
  char *nl;
  if (text == NULL || *text == '\0')
    return "(no message)";
  if ((nl = strchr(text, '\n')) != NULL)
    *nl = '\0';
  return text;
}

lr_status lr_sbatch(const char *script, const char *array_spec, const char *export_env,
                    long *job_id, lr_err *err) {
  char *array_arg = NULL, *export_arg = NULL, *out = NULL, *errtext = NULL;
  char *argv[6];
  int n = 0, status;
  lr_status rc = LR_OK;
  if (asprintf(&array_arg, "--array=%s", array_spec) < 0 ||
      (export_env && asprintf(&export_arg, "--export=ALL,%s", export_env) < 0))
    return lr_fail(err, LR_ENOMEM, "out of memory");
  argv[n++] = "sbatch";
  argv[n++] = "--parsable";
  argv[n++] = array_arg;
  if (export_arg)
    argv[n++] = export_arg;
  argv[n++] = (char *)script;
  argv[n] = NULL;
  status = capture(argv, &out, &errtext);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    rc = lr_fail(err, LR_EIO, "sbatch %s %s failed: %s", array_arg, script,
                 status == -1 ? "cannot start it" : first_line(errtext));
  } else {
    /* --parsable prints "JOBID" or "JOBID;CLUSTER". */
    char *end = NULL;
    errno = 0;
    *job_id = strtol(out ? out : "", &end, 10);
    if (errno || end == out || *job_id <= 0)
      rc = lr_fail(err, LR_EIO, "sbatch printed no job id: %s", first_line(out));
  }
  free(array_arg);
  free(export_arg);
  free(out);
  free(errtext);
  return rc;
}

bool lr_slurm_active(const char *s) {
  static const char *const live[] = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD",
                                     "REQUEUE_FED", "CONFIGURING", "COMPLETING", "RESIZING",
                                     "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", NULL};
  for (size_t i = 0; live[i]; i++)
    if (strcmp(s, live[i]) == 0)
      return true;
  return false;
}

lr_status lr_slurm_tasks_of(const lr_slurm_job *jobs, size_t n_jobs, lr_slurm_task **out,
                            size_t *n, lr_err *err) {
  long *ids = n_jobs ? malloc(n_jobs * sizeof *ids) : NULL;
  lr_status rc;
  *out = NULL;
  *n = 0;
  if (n_jobs && ids == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  for (size_t i = 0; i < n_jobs; i++)
    ids[i] = jobs[i].job_id;
  rc = lr_slurm_tasks(ids, n_jobs, out, n, err);
  free(ids);
  return rc;
}

lr_status lr_slurm_requeue(const char *job, lr_err *err) {
  char *argv[] = {"scontrol", "requeue", (char *)job, NULL}, *out = NULL, *errtext = NULL;
  int status = capture(argv, &out, &errtext);
  lr_status rc = LR_OK;
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    rc = lr_fail(err, LR_EIO, "scontrol requeue %s failed: %s", job,
                 status == -1 ? "cannot start it" : first_line(errtext));
  free(out);
  free(errtext);
  return rc;
}

long lr_slurm_max_array_size(void) {
  char *argv[] = {"scontrol", "show", "config", NULL}, *out = NULL, *errtext = NULL, *p;
  long v = 1001;
  int status = capture(argv, &out, &errtext);
  if (status != -1 && out && (p = strstr(out, "MaxArraySize")) != NULL &&
      (p = strchr(p, '=')) != NULL) {
    long got = strtol(p + 1, NULL, 10);
    if (got > 0)
      v = got;
  }
  free(out);
  free(errtext);
  return v;
}

static lr_status add_task(lr_slurm_task **out, size_t *n, size_t *cap, const lr_slurm_task *t,
                          lr_err *err) {
  if (LR_GROW(*out, *cap, *n + 1, err) != LR_OK)
    return err->code;
  (*out)[(*n)++] = *t;
  return LR_OK;
}

static int known(const lr_slurm_task *t, size_t n, long job) {
  for (size_t i = 0; i < n; i++)
    if (t[i].job_id == job)
      return 1;
  return 0;
}

/* The job ids as one comma-separated list, from malloc. */
static char *id_list(const long *ids, size_t n) {
  lr_buf b;
  lr_err err;
  lr_buf_init(&b, LR_BUF_NO_MAX);
  for (size_t i = 0; i < n; i++)
    if (lr_buf_addf(&b, &err, "%s%ld", i ? "," : "", ids[i]) != LR_OK) {
      lr_buf_release(&b);
      return NULL;
    }
  return lr_buf_detach(&b, NULL);
}

/* sacct, for arrays squeue has forgotten (finished longer ago than MinJobAge); silent where the
 * cluster keeps no accounting. */
static lr_status ask_sacct(const long *ids, size_t n_ids, lr_slurm_task **out, size_t *n,
                           size_t *cap, lr_err *err) {
  char *list = id_list(ids, n_ids), *jobs = NULL, *text = NULL, *errtext = NULL, *line, *save;
  lr_status rc = LR_OK;
  if (list == NULL || asprintf(&jobs, "--jobs=%s", list) < 0) {
    free(list);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  char *argv[] = {"sacct", "--noheader", "--parsable2", "--allocations", jobs,
                  "--format=JobID,State,ExitCode", NULL};
  int status = capture(argv, &text, &errtext);
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && text) {
    for (line = strtok_r(text, "\n", &save); rc == LR_OK && line;
         line = strtok_r(NULL, "\n", &save)) {
      lr_slurm_task t = {0};
      char state[64] = "", code[32] = "";
      int ex = 0, sig = 0;
      /* "JOB_INDEX|STATE|EXIT:SIGNAL"; the pending array itself ("JOB_[0-3]") is skipped. */
      if (sscanf(line, "%ld_%ld|%63[^|]|%31s", &t.job_id, &t.index, state, code) != 4)
        continue;
      snprintf(t.state, sizeof t.state, "%.*s", (int)strcspn(state, " "), state);
      if (sscanf(code, "%d:%d", &ex, &sig) == 2)
        snprintf(t.exit, sizeof t.exit, sig ? "signal %d" : "exit %d", sig ? sig : ex);
      rc = add_task(out, n, cap, &t, err);
    }
  }
  free(list);
  free(jobs);
  free(text);
  free(errtext);
  return rc;
}

lr_status lr_slurm_tasks(const long *job_ids, size_t n_jobs, lr_slurm_task **out, size_t *n,
                         lr_err *err) {
  char *list = NULL, *jobs = NULL, *text = NULL, *errtext = NULL, *line, *save;
  long *missing = NULL;
  size_t n_missing = 0, cap = 0;
  int status;
  lr_status rc = LR_OK;
  *out = NULL;
  *n = 0;
  if (n_jobs == 0)
    return LR_OK;
  if ((list = id_list(job_ids, n_jobs)) == NULL || asprintf(&jobs, "--jobs=%s", list) < 0) {
    free(list);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  char *argv[] = {"squeue", "--noheader", "--array", "--states=all", jobs,
                  "--Format=ArrayJobID:20 ,ArrayTaskID:20 ,State:24 ,exit_code:12 ,Reason:60",
                  NULL};
  status = capture(argv, &text, &errtext);
  /* squeue fails on a list where none of the ids is known any more: then sacct alone. */
  if (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
    rc = lr_fail(err, LR_EUNSUPPORTED, "cannot run squeue: %s", first_line(errtext));
  else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && text)
    for (line = strtok_r(text, "\n", &save); rc == LR_OK && line;
         line = strtok_r(NULL, "\n", &save)) {
      lr_slurm_task t = {0};
      long code = 0;
      char reason[64] = "";
      if (sscanf(line, "%ld %ld %23s %ld %63s", &t.job_id, &t.index, t.state, &code, reason) < 3)
        continue;
      snprintf(t.reason, sizeof t.reason, "%s", reason);
      if (strcmp(t.state, "PENDING") != 0 && strcmp(t.state, "RUNNING") != 0)
        lr_describe_wait_status((int)code, t.exit, sizeof t.exit); /* squeue's %d: a wait status */
      rc = add_task(out, n, &cap, &t, err);
    }
  if (rc == LR_OK && (missing = malloc(n_jobs * sizeof *missing)) != NULL) {
    for (size_t i = 0; i < n_jobs; i++)
      if (!known(*out, *n, job_ids[i]))
        missing[n_missing++] = job_ids[i];
    if (n_missing)
      rc = ask_sacct(missing, n_missing, out, n, &cap, err);
  }
  free(missing);
  free(list);
  free(jobs);
  free(text);
  free(errtext);
  return rc;
}
