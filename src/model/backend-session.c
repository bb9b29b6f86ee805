/*
 * backend-session.c: every call from the core into a backend plugin (see backend-session.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "model/backend-session.h"

/* ---- the backend ---------------------------------------------------------------------------- */

lr_status lr_backend_open(lr_backend *b, const char *name, const char *const *dirs, size_t n_dirs,
                          lr_err *err) {
  lr_status rc;
  memset(b, 0, sizeof *b);
  lr_host_init(&b->host);
  rc = lr_search_path_build(&b->sp, dirs, n_dirs, getenv("LORENS_BACKEND_PATH"), err);
  if (rc == LR_OK)
    rc = lr_plugin_open(&b->sp, &b->host, name, lr_probe_timeout(), &b->plugin, err);
  if (rc == LR_OK && !LORENS_BACKEND_HAS_SESSIONS(b->plugin.desc))
    rc = lr_fail(err, LR_EUNSUPPORTED, "backend '%s' (%s) has no session calls: it can only probe",
                 name, b->plugin.path);
  if (rc == LR_OK) {
    b->desc = b->plugin.desc;
    b->name = b->plugin.name;
    b->path = b->plugin.path;
  }
  return rc;
}

lr_status lr_backend_check(const char *name, const char *const *dirs, size_t n_dirs,
                           lr_err *err) {
  lr_search_path sp;
  lr_plugin p;
  lorens_host host;
  lr_status rc;
  memset(&p, 0, sizeof p);
  lr_host_init(&host);
  rc = lr_search_path_build(&sp, dirs, n_dirs, getenv("LORENS_BACKEND_PATH"), err);
  if (rc == LR_OK) {
    rc = lr_plugin_find(&sp, &host, name, lr_probe_timeout(), &p, err);
    lr_search_path_release(&sp);
  }
  if (rc == LR_OK && !p.can_train)
    rc = lr_fail(err, LR_EUNSUPPORTED, "backend '%s' (%s) has no session calls: it can only probe",
                 name, p.path);
  lr_plugin_release(&p);
  return rc;
}

void lr_backend_close(lr_backend *b) {
  lr_plugin_release(&b->plugin);
  lr_search_path_release(&b->sp);
  b->desc = NULL;
  b->name = b->path = NULL;
}

/* Whether the descriptor is large enough to hold `field` (a later addition). */
#define DESC_HAS(d, field) \
  ((d)->struct_size >= offsetof(lorens_backend, field) + sizeof((d)->field))

/* The minor version that brought each ABI feature (0: gated on the descriptor's size instead). */
static uint32_t feature_minor(lr_backend_feature f) {
  switch (f) {
  case LR_FEATURE_L2_DECAY: return 1;
  case LR_FEATURE_TRAIN_BASE: return 2;
  case LR_FEATURE_NEXT_TOKEN: return 2;
  case LR_FEATURE_PEAK_GFLOPS: return 0;
  case LR_FEATURE_MICRO_BATCH: return 3;
  case LR_FEATURE_CHOICE_SPANS: return 4;
  case LR_FEATURE_PRECISION: return 5;
  }
  return UINT32_MAX;
}

static const char *feature_text(lr_backend_feature f) {
  switch (f) {
  case LR_FEATURE_L2_DECAY: return "L2 weight decay (weight_decay.mode: l2)";
  case LR_FEATURE_TRAIN_BASE: return "full-parameter training";
  case LR_FEATURE_NEXT_TOKEN: return "the next-token objective";
  case LR_FEATURE_PEAK_GFLOPS: return "measuring its peak GFLOP/s";
  case LR_FEATURE_MICRO_BATCH: return "micro-batches (micro_batch_tokens)";
  case LR_FEATURE_CHOICE_SPANS: return "choices of several tokens scored in one pass";
  case LR_FEATURE_PRECISION: return "precision bf16";
  }
  return "an unknown feature";
}

bool lr_backend_has(const lr_backend *b, lr_backend_feature f) {
  const lorens_backend *d = b->desc;
  if (d == NULL)
    return false;
  if (f == LR_FEATURE_PEAK_GFLOPS)
    return DESC_HAS(d, peak_gflops) && d->peak_gflops != NULL;
  return d->abi_minor >= feature_minor(f);
}

lr_status lr_backend_require(const lr_backend *b, lr_backend_feature f, lr_err *err) {
  uint32_t minor = feature_minor(f);
  if (lr_backend_has(b, f))
    return LR_OK;
  if (minor == 0)
    return lr_fail(err, LR_EUNSUPPORTED, "backend '%s' (ABI %u.%u, %s) does not offer %s",
                   b->name, b->desc->abi_major, b->desc->abi_minor, b->path, feature_text(f));
  return lr_fail(err, LR_EUNSUPPORTED, "backend '%s' speaks ABI %u.%u (%s); %s needs %u.%u or later",
                 b->name, b->desc->abi_major, b->desc->abi_minor, b->path, feature_text(f),
                 LORENS_BACKEND_ABI_MAJOR, minor);
}

/*
 * Records a plugin's failure with its own status, so that "out of memory" or "no device" survives
 * into the run's error; a value this lorens does not know (a newer plugin, or garbage) and a
 * failure reported as LORENS_OK with an empty message both become LR_EBACKEND.
 */
static lr_status plugin_failed(const lr_backend *b, lorens_status st, const char *msg,
                               const char *call, lr_err *err) {
  lr_status code = st > LORENS_OK && st < LORENS_STATUS_COUNT_ ? (lr_status)st : LR_EBACKEND;
  if (msg[0] == '\0')
    msg = lr_strerror(code);
  return lr_fail(err, code, "backend '%s': %s: %s", b->name, call, msg);
}

lr_status lr_backend_peak_gflops(const lr_backend *b, int n_threads, uint32_t precision,
                                 double *out, lr_err *err) {
  char msg[LORENS_MSG_MAX] = "";
  lr_status rc;
  *out = 0;
  if (precision != LORENS_PRECISION_FP32) {
    if (!lr_backend_has(b, LR_FEATURE_PRECISION) || !b->desc->peak_gflops_at)
      return lr_fail(err, LR_EUNSUPPORTED, "backend '%s' does not measure its %s peak", b->name,
                     lr_precision_name(precision));
    *out = b->desc->peak_gflops_at(n_threads, precision, msg, sizeof msg);
    return *out > 0 ? LR_OK : plugin_failed(b, LR_EBACKEND, msg, "peak_gflops_at", err);
  }
  if ((rc = lr_backend_require(b, LR_FEATURE_PEAK_GFLOPS, err)) != LR_OK)
    return rc;
  *out = b->desc->peak_gflops(n_threads, msg, sizeof msg);
  if (!(*out > 0))
    return plugin_failed(b, LR_EBACKEND, msg, "peak_gflops", err);
  return LR_OK;
}

/* ---- sessions ------------------------------------------------------------------------------- */

/* The backend's takes_dtype (minor 3), or NULL: F32, F16 and BF16 only. */
static lr_takes_dtype_fn backend_takes(const lr_backend *b) {
  const lorens_backend *d = b->desc;
  return d->abi_minor >= 3 && DESC_HAS(d, takes_dtype) ? d->takes_dtype : NULL;
}

lr_status lr_session_open(lr_session *s, const lr_backend *b, const lr_session_params *p,
                          lr_err *err) {
  lorens_session_desc d;
  char msg[LORENS_MSG_MAX] = "";
  lorens_status st;
  memset(s, 0, sizeof *s);
  s->backend = b;
  /* Without this gate a 1.0/1.1 plugin would not see train_base and would train LoRA instead. */
  if (p->train_base && lr_backend_require(b, LR_FEATURE_TRAIN_BASE, err) != LR_OK)
    return err->code;
  /* An older plugin would process whole batches: the memory asked for would not be kept to. */
  if (p->micro_batch_tokens && lr_backend_require(b, LR_FEATURE_MICRO_BATCH, err) != LR_OK)
    return err->code;
  /* An older plugin would compute fp32 without a word: the run's identity would lie. */
  if (p->precision != LORENS_PRECISION_FP32 &&
      lr_backend_require(b, LR_FEATURE_PRECISION, err) != LR_OK)
    return err->code;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.n_members = p->n_members;
  d.model = p->model;
  d.lora_targets = p->lora_targets;
  d.lora_rank = p->lora_rank;
  d.lora_alpha = p->lora_alpha;
  d.lora_rslora = p->lora_rslora;
  d.lora_dropout = p->lora_dropout;
  d.n_threads = p->n_threads;
  d.device = p->device;
  d.max_tokens = p->max_tokens;
  d.max_examples = p->max_examples;
  d.max_choices = p->max_choices;
  d.train_base = p->train_base;
  d.micro_batch_tokens = p->micro_batch_tokens;
  d.precision = p->precision;
  if (!lr_base_taken_as_stored(p->model, backend_takes(b))) {
    if (lr_base_view_init(&s->base, p->model, backend_takes(b), err) != LR_OK)
      return err->code;
    d.model = &s->base.model;
  }
  st = b->desc->session_open(&d, &b->host, &s->handle, msg, sizeof msg);
  if (st != LORENS_OK || s->handle == NULL) {
    s->handle = NULL;
    lr_base_view_release(&s->base);
    return plugin_failed(b, st, msg, "cannot open a session", err);
  }
  s->n_members = p->n_members;
  s->precision = LORENS_PRECISION_FP32;
  if (lr_backend_has(b, LR_FEATURE_PRECISION) && b->desc->session_info) {
    lorens_session_info info = {.struct_size = sizeof info};
    if (b->desc->session_info(s->handle, &info, msg, sizeof msg) == LORENS_OK)
      s->precision = info.precision;
  }
  return LR_OK;
}

uint64_t lr_session_bytes(const lr_session *s) {
  lorens_session_info info = {.struct_size = sizeof info};
  char msg[LORENS_MSG_MAX];
  if (s->handle == NULL || s->backend->desc->session_info == NULL ||
      s->backend->desc->session_info(s->handle, &info, msg, sizeof msg) != LORENS_OK)
    return 0;
  return info.device_bytes;
}

const char *lr_precision_name(uint32_t precision) {
  return precision == LORENS_PRECISION_BF16 ? "bf16" : "fp32";
}

int lr_precision_parse(const char *name) {
  if (strcmp(name, "fp32") == 0)
    return LORENS_PRECISION_FP32;
  if (strcmp(name, "bf16") == 0)
    return LORENS_PRECISION_BF16;
  return -1;
}

void lr_session_close(lr_session *s) {
  if (s->handle != NULL)
    s->backend->desc->session_close(s->handle);
  s->handle = NULL;
  lr_base_view_release(&s->base);
}

/* member_get (out != NULL) or member_set (in != NULL) of one member. */
static lr_status member_io(lr_session *s, uint32_t member, lorens_member_state *out,
                           const lorens_member_state *in, lr_err *err) {
  const lorens_backend *d = s->backend->desc;
  char msg[LORENS_MSG_MAX] = "";
  lorens_status st;
  if (member >= s->n_members)
    return lr_fail(err, LR_EINVAL, "backend '%s': member %u of a session with %u", s->backend->name,
                   member, s->n_members);
  st = out ? d->member_get(s->handle, member, out, msg, sizeof msg)
           : d->member_set(s->handle, member, in, msg, sizeof msg);
  return st == LORENS_OK ? LR_OK
                         : plugin_failed(s->backend, st, msg, out ? "member_get" : "member_set", err);
}

lr_status lr_session_member_get(lr_session *s, uint32_t member, lorens_member_state *out,
                                lr_err *err) {
  return member_io(s, member, out, NULL, err);
}

lr_status lr_session_member_set(lr_session *s, uint32_t member, const lorens_member_state *in,
                                lr_err *err) {
  return member_io(s, member, NULL, in, err);
}

lr_status lr_session_train_step(lr_session *s, lorens_train_args *a, lr_err *err) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_status st;
  a->struct_size = sizeof *a;
  if (a->weight_decay_mode != LORENS_WD_DECOUPLED &&
      lr_backend_require(s->backend, LR_FEATURE_L2_DECAY, err) != LR_OK)
    return err->code;
  if (a->objective != LORENS_OBJECTIVE_CHOICES &&
      lr_backend_require(s->backend, LR_FEATURE_NEXT_TOKEN, err) != LR_OK)
    return err->code;
  if (a->choice_len && lr_backend_require(s->backend, LR_FEATURE_CHOICE_SPANS, err) != LR_OK)
    return err->code;
  st = s->backend->desc->train_step(s->handle, a, msg, sizeof msg);
  return st == LORENS_OK ? LR_OK : plugin_failed(s->backend, st, msg, "train_step", err);
}

lr_status lr_session_score(lr_session *s, lorens_score_args *a, lr_err *err) {
  char msg[LORENS_MSG_MAX] = "";
  lorens_status st;
  a->struct_size = sizeof *a;
  if (a->choice_len && lr_backend_require(s->backend, LR_FEATURE_CHOICE_SPANS, err) != LR_OK)
    return err->code;
  st = s->backend->desc->score(s->handle, a, msg, sizeof msg);
  return st == LORENS_OK ? LR_OK : plugin_failed(s->backend, st, msg, "score", err);
}
