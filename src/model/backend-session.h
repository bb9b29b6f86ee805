/*
 * backend-session.h: the one host-side layer between lorens and a backend plugin.
 *
 * Nothing else in the core calls a plugin's function table.  Going through here
 *   - keeps the plugin's own status (out of memory, no device, unsupported ...) and its message
 *     in the caller's lr_err, instead of flattening every failure into LR_EBACKEND;
 *   - gates each optional call and each feature on the descriptor's struct_size and abi_minor,
 *     refusing with a message that names the backend, its ABI and the version a feature needs,
 *     so that an older plugin is never handed a field it cannot see (it would silently ignore it);
 *   - builds the session description from named fields in one place.
 * ggml-backend.c wraps its backends' iface the same way, and SQLite's os.c its VFS methods.
 */
#ifndef LORENS_BACKEND_SESSION_H
#define LORENS_BACKEND_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"
#include "model/base-convert.h"
#include "model/plugin-loader.h"

/* A backend loaded for use, with everything that keeps it alive.  The host table lives here and
 * the plugin may keep a pointer to it: an opened lr_backend must not be copied or moved. */
typedef struct lr_backend {
  const lorens_backend *desc; /* owned by the plugin; NULL until opened */
  const char *name;           /* desc->name */
  const char *path;           /* the plugin's file, for messages */
  lorens_host host;
  lr_search_path sp;
  lr_plugin plugin;           /* the one plugin loaded into this process */
} lr_backend;

/* Optional capabilities, each tied to the ABI version (or descriptor size) that brought it. */
typedef enum lr_backend_feature {
  LR_FEATURE_L2_DECAY,     /* lorens_train_args.weight_decay_mode = L2: minor 1 */
  LR_FEATURE_TRAIN_BASE,   /* lorens_session_desc.train_base: minor 2 */
  LR_FEATURE_NEXT_TOKEN,   /* lorens_train_args.objective = NEXT_TOKEN: minor 2 */
  LR_FEATURE_PEAK_GFLOPS,  /* lorens_backend.peak_gflops: a descriptor that has the field */
  LR_FEATURE_MICRO_BATCH,  /* lorens_session_desc.micro_batch_tokens: minor 3 */
  LR_FEATURE_CHOICE_SPANS, /* choices of several tokens in one pass (choice_len): minor 4 */
  LR_FEATURE_PRECISION,    /* lorens_session_desc.precision, session_info.precision: minor 5 */
} lr_backend_feature;

/* Finds the usable backend called `name` on the search path (dirs, then $LORENS_BACKEND_PATH,
 * the configured and install directories), loads it and no other plugin into this process (see
 * lr_plugin_open: each candidate is vetted in a child process first, so another plugin's crash
 * or a crash in this one's probe is an error naming its file), and checks that it has session
 * calls.  *b is the caller's to close, also on failure. */
lr_status lr_backend_open(lr_backend *b, const char *name, const char *const *dirs, size_t n_dirs,
                          lr_err *err);
void lr_backend_close(lr_backend *b);

/* Whether lr_backend_open would find a usable backend called `name` that can train, without
 * loading any plugin into this process (a scheduler checks the grid's backends so). */
lr_status lr_backend_check(const char *name, const char *const *dirs, size_t n_dirs, lr_err *err);

/* Whether the opened backend has a feature; lr_backend_require says why not, as an error. */
bool lr_backend_has(const lr_backend *b, lr_backend_feature f);
lr_status lr_backend_require(const lr_backend *b, lr_backend_feature f, lr_err *err);

/* The backend's measured dense GEMM rate (GFLOP/s) with n_threads in a lorens_precision (fp32:
 * peak_gflops; others: peak_gflops_at, ABI 1.5); LR_EUNSUPPORTED when its descriptor has no such
 * call. */
lr_status lr_backend_peak_gflops(const lr_backend *b, int n_threads, uint32_t precision,
                                 double *out, lr_err *err);

/* What a session is opened with, by name (see lorens_session_desc for each field's meaning).
 * Zero means "not given" for the max_* sizes, n_threads and device. */
typedef struct lr_session_params {
  uint32_t n_members;
  const lorens_model *model;
  uint32_t lora_targets;  /* bit set of lorens_lora_target */
  uint32_t lora_rank;
  float lora_alpha;
  bool lora_rslora;
  float lora_dropout;
  int32_t n_threads;
  int32_t device;
  uint32_t max_tokens, max_examples, max_choices;
  bool train_base;        /* full-parameter training: needs LR_FEATURE_TRAIN_BASE */
  uint32_t micro_batch_tokens; /* 0: whole batches; else needs LR_FEATURE_MICRO_BATCH */
  uint32_t precision;     /* lorens_precision; other than FP32 needs LR_FEATURE_PRECISION */
} lr_session_params;

typedef struct lr_session {
  const lr_backend *backend; /* borrowed: it outlives the session */
  lorens_session *handle;    /* the plugin's; NULL when closed */
  uint32_t n_members;
  /* The lorens_precision the session computes in, as the backend reports it: FP32 where bf16 was
   * asked of a backend or CPU that cannot (the caller says so). */
  uint32_t precision;
  /* The model as the backend takes it, when some of its tensors had to be converted (a backend
   * that does not multiply quantized weights itself); unused otherwise. */
  lr_base_view base;
} lr_session;

lr_status lr_session_open(lr_session *s, const lr_backend *b, const lr_session_params *p,
                          lr_err *err);

/* "fp32" or "bf16"; lr_precision_parse gives -1 for another name. */
const char *lr_precision_name(uint32_t precision);
int lr_precision_parse(const char *name);
/* Safe on a session that never opened (zeroed) and idempotent. */
void lr_session_close(lr_session *s);
/* The memory the session holds now (lorens_session_info.device_bytes: weights as the backend keeps
 * them, adapters with their gradients and AdamW state, activations), or 0 where the backend does
 * not say. */
uint64_t lr_session_bytes(const lr_session *s);

lr_status lr_session_member_get(lr_session *s, uint32_t member, lorens_member_state *out,
                                lr_err *err);
lr_status lr_session_member_set(lr_session *s, uint32_t member, const lorens_member_state *in,
                                lr_err *err);

/* One optimizer step (see lorens_train_args).  Sets a->struct_size, and refuses what the backend
 * cannot see: an L2 weight decay from a 1.0 plugin, the next-token objective before 1.2,
 * choices of several tokens before 1.4. */
lr_status lr_session_train_step(lr_session *s, lorens_train_args *a, lr_err *err);

/* Scores a batch (see lorens_score_args); sets a->struct_size, and refuses choices of several
 * tokens (choice_len) from a plugin before 1.4. */
lr_status lr_session_score(lr_session *s, lorens_score_args *a, lr_err *err);

#endif /* LORENS_BACKEND_SESSION_H */
