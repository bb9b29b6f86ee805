/*
 * fault-plugin.c: backends that fail the way real ones do, for the scheduler's crash-isolation
 * tests.  Built once per FAULT_* flag (Makefile.am) into backends named fault-segv, fault-abort,
 * fault-kill (what the OOM killer does), fault-hang, fault-slow and fault-nan.  Each opens sessions
 * and takes adapters like a real backend; the fault strikes in score().  fault-slow is healthy: it
 * sleeps $LORENS_FAULT_SLOW_MS (default 300) per call and answers uniform logits, so it keeps a
 * worker busy for the kill-and-restart and concurrency tests.  fault-nan trains: every member's
 * loss is 1 except member 0's, which is NaN from its second step on, and from then on member 0
 * scores NaN logits, as a diverged member of a real backend would.  fault-v1-0 is a healthy
 * backend of ABI 1.0, descriptor and all: it trains (loss 1) and scores uniform logits, and lacks
 * everything later minors added (L2 decay, full-parameter training, peak_gflops).
 *
 * Any of them fails session_open with status $LORENS_FAULT_OPEN_STATUS when it is set, as a
 * backend that runs out of memory or finds no device does.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, pause: this file includes nothing of lorens but the ABI */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lorens/backend.h>

#if defined(FAULT_SEGV)
#define NAME "fault-segv"
#elif defined(FAULT_ABORT)
#define NAME "fault-abort"
#elif defined(FAULT_KILL)
#define NAME "fault-kill"
#elif defined(FAULT_HANG)
#define NAME "fault-hang"
#elif defined(FAULT_NAN)
#define NAME "fault-nan"
#elif defined(FAULT_V1_0)
#define NAME "fault-v1-0"
#else
#define NAME "fault-slow"
#endif

typedef struct lorens_session {
  uint32_t members;
  int32_t vocab;
  int64_t steps;     /* train_step calls so far */
  int nan0;          /* member 0 has diverged */
} fault_session;

static lorens_status open_session(const lorens_session_desc *d, const lorens_host *host,
                                  lorens_session **out, char *msg, size_t len) {
  const char *inject = getenv("LORENS_FAULT_OPEN_STATUS");
  fault_session *s;
  (void)host;
  if (inject != NULL) {
    snprintf(msg, len, "injected failure (status %s)", inject);
    return (lorens_status)atoi(inject);
  }
  s = calloc(1, sizeof *s);
  if (s == NULL) {
    snprintf(msg, len, "out of memory");
    return LORENS_ENOMEM;
  }
  s->members = d->n_members;
  s->vocab = d->model->vocab_size;
  *out = s;
  return LORENS_OK;
}

static lorens_status session_info(lorens_session *s, lorens_session_info *out, char *msg,
                                  size_t len) {
  (void)s, (void)msg, (void)len;
  if (LORENS_HAS_FIELD(out, lorens_session_info, n_params))
    out->n_params = 0;
  if (LORENS_HAS_FIELD(out, lorens_session_info, device_bytes))
    out->device_bytes = 0;
  return LORENS_OK;
}

static lorens_status member_io(lorens_session *s, uint32_t m, lorens_member_state *st, char *msg,
                               size_t len) {
  (void)st;
  if (m >= s->members) {
    snprintf(msg, len, "no member %u", m);
    return LORENS_EINVAL;
  }
  return LORENS_OK;
}

static lorens_status member_set(lorens_session *s, uint32_t m, const lorens_member_state *st,
                                char *msg, size_t len) {
  return member_io(s, m, (lorens_member_state *)st, msg, len);
}

static lorens_status train_step(lorens_session *s, const lorens_train_args *a, char *msg,
                                size_t len) {
#if defined(FAULT_NAN) || defined(FAULT_V1_0)
  (void)msg, (void)len;
  for (uint32_t m = 0; m < s->members; m++) {
#if defined(FAULT_NAN)
    float loss = m == 0 && s->steps >= 1 ? NAN : 1.0f;
#else
    float loss = 1.0f;
#endif
    if (a->batches[m].n == 0)
      continue;
    if (m == 0 && s->steps >= 1)
      s->nan0 = 1;
    if (a->loss)
      a->loss[m] = loss;
    if (a->ce)
      a->ce[m] = loss;
    if (a->kl)
      a->kl[m] = 0;
    if (a->grad_norm)
      a->grad_norm[m] = loss;
  }
  s->steps++;
  return LORENS_OK;
#else
  (void)s, (void)a;
  snprintf(msg, len, "fault backends do not train");
  return LORENS_EUNSUPPORTED;
#endif
}

static void strike(void) {
#if defined(FAULT_SEGV)
  volatile int *nowhere = NULL;
  *nowhere = 1;
#elif defined(FAULT_ABORT)
  abort();
#elif defined(FAULT_KILL)
  raise(SIGKILL);
#elif defined(FAULT_HANG)
  for (;;)
    pause();
#elif defined(FAULT_V1_0)
  /* healthy and quick */
#else
  const char *env = getenv("LORENS_FAULT_SLOW_MS");
  long ms = env ? atol(env) : 300;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
#endif
}

static lorens_status score(lorens_session *s, const lorens_score_args *a, char *msg, size_t len) {
  uint32_t members = a->member == LORENS_SCORE_ALL ? s->members : 1;
  (void)msg, (void)len;
  strike();
  if (a->choice_logits)
    memset(a->choice_logits, 0,
           (size_t)members * a->batch->n * a->batch->max_choices * sizeof *a->choice_logits);
  /* A diverged member 0 scores NaN (it comes first in the output of every member). */
  for (size_t i = 0; s->nan0 && a->member != LORENS_SCORE_BASE && a->member <= 0 &&
                     a->choice_logits && i < (size_t)a->batch->n * a->batch->max_choices; i++)
    a->choice_logits[i] = NAN;
  /* Uniform over the vocabulary too, for choice letters of several tokens. */
  for (size_t i = 0; a->vocab_logprobs && i < (size_t)members * a->batch->n * (size_t)s->vocab; i++)
    a->vocab_logprobs[i] = -logf((float)s->vocab);
  return LORENS_OK;
}

static void close_session(lorens_session *s) {
  free(s);
}

#if defined(FAULT_V1_0)
/* The 1.0 descriptor ended with session_close. */
#define ABI_MINOR 0
#define DESC_SIZE (offsetof(lorens_backend, session_close) + sizeof(void (*)(void)))
#else
#define ABI_MINOR LORENS_BACKEND_ABI_MINOR
#define DESC_SIZE sizeof(lorens_backend)
#endif

static const lorens_backend backend = {
    .abi_major = LORENS_BACKEND_ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .struct_size = DESC_SIZE,
    .name = NAME,
    .version = "test",
    .description = "fails on purpose, for tests",
    .probe = NULL,
    .session_open = open_session,
    .session_info = session_info,
    .member_get = member_io,
    .member_set = member_set,
    .train_step = train_step,
    .score = score,
    .session_close = close_session,
};

LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return &backend;
}
