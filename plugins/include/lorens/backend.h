/*
 * lorens/backend.h: the ABI between lorens and its backend plugins.
 *
 * A backend is a shared object that lorens loads with dlopen(RTLD_NOW | RTLD_LOCAL).  It exports
 * exactly one symbol, lorens_backend_v1 (the ABI major is part of the name), which returns a
 * static descriptor.  The descriptor starts with the ABI version and its own size, so that a host
 * can refuse an incompatible plugin, and read only the fields a plugin actually has.
 *
 * A plugin links nothing from lorens: what it needs from the host (logging today) arrives in the
 * lorens_host table passed to the entry point, as SQLite hands extensions sqlite3_api_routines.
 * A plugin never calls exit() or abort(): every call returns a lorens_status and, on failure,
 * writes a message into the caller's buffer.
 *
 * Build a backend out of tree with:
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags lorens-backend) my.c -o my.so
 * and install it into $(pkg-config --variable=backenddir lorens-backend).
 *
 * Versioning rules (read before changing anything below):
 *   - LORENS_BACKEND_ABI_MAJOR changes when an existing field, type or meaning changes.  The host
 *     refuses a plugin of another major, and the entry symbol's name changes with it.
 *   - LORENS_BACKEND_ABI_MINOR rises when fields are appended to the end of a struct.  Never
 *     reorder, resize or remove a field; an obsolete one keeps its place, renamed obsolete_N.
 *   - lorens_status values are append-only: they are stored in result databases.
 *   - A struct's struct_size tells the reader how much of it the writer knew about; fields past
 *     it are treated as absent (NULL / zero).  An output struct (lorens_session_info) is sized by
 *     the caller: a plugin writes only the fields inside the caller's struct_size and leaves
 *     struct_size alone (LORENS_HAS_FIELD).
 *   - Fields of ABI structs are fixed-width integers, never C enums, whose size is the compiler's.
 *   - Every appended field gets a row in the history of docs/plugin-abi.md.
 */
#ifndef LORENS_BACKEND_H
#define LORENS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LORENS_BACKEND_ABI_MAJOR 1
#define LORENS_BACKEND_ABI_MINOR 5

#if defined(__GNUC__) || defined(__clang__)
#define LORENS_BACKEND_EXPORT __attribute__((visibility("default")))
#else
#define LORENS_BACKEND_EXPORT
#endif

/* Status codes: X(name, value, text).  Append only. */
#define LORENS_STATUS_MAP(X)                                                   \
  X(OK, 0, "success")                                                          \
  X(ENOMEM, 1, "out of memory")                                                \
  X(EIO, 2, "input/output error")                                              \
  X(EPARSE, 3, "malformed input")                                              \
  X(EINVAL, 4, "invalid argument")                                             \
  X(EABI, 5, "incompatible plugin ABI")                                        \
  X(EBACKEND, 6, "backend failure")                                            \
  X(EUNSUPPORTED, 7, "not supported")                                          \
  X(EDEVICE, 8, "device unavailable")                                          \
  X(ENOTFOUND, 9, "not found")                                                 \
  X(EINTERRUPTED, 10, "interrupted")                                          \
  X(ENOSPC, 11, "no space left on device")

typedef enum lorens_status {
#define LORENS_STATUS_ENUM_(name, value, text) LORENS_##name = value,
  LORENS_STATUS_MAP(LORENS_STATUS_ENUM_)
#undef LORENS_STATUS_ENUM_
  LORENS_STATUS_COUNT_
} lorens_status;

/* Whether a struct that its writer sized at (p)->struct_size holds `field`: the test before reading
 * or writing a field that a later minor appended. */
#define LORENS_HAS_FIELD(p, type, field) \
  ((p)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* Messages written by a plugin into a caller's buffer are at most this long, NUL included. */
#define LORENS_MSG_MAX 512

enum lorens_log_level { LORENS_LOG_ERROR = 0, LORENS_LOG_WARN = 1, LORENS_LOG_INFO = 2,
                        LORENS_LOG_DEBUG = 3 };

/* What the host offers a plugin.  The plugin must check struct_size before using a field that a
 * later minor appended. */
typedef struct lorens_host {
  uint32_t abi_major;   /* LORENS_BACKEND_ABI_MAJOR of the host */
  uint32_t abi_minor;
  uint32_t struct_size; /* sizeof(lorens_host) as the host was compiled */
  uint32_t reserved0;
  /* Writes one line to the host's log; safe to call from any thread.  May be NULL. */
  void (*log)(void *ctx, int level, const char *msg);
  void *log_ctx;
} lorens_host;

/* ---- the model a session is opened on ------------------------------------------------------- */

typedef enum lorens_dtype { LORENS_DTYPE_F32 = 0, LORENS_DTYPE_F16 = 1, LORENS_DTYPE_BF16 = 2 } lorens_dtype;

/* Minor 3.  The dtype of a tensor stored as ggml quantization blocks (as in a GGUF file):
 * LORENS_DTYPE_GGML(t) for ggml_type number t (Q8_0 is 8, Q4_1 3, Q4_K 12: the numbers GGUF
 * stores).  Such a tensor is 2-D; each of its shape[0] rows is shape[1] / block elements of
 * consecutive blocks, row r starting at data + r * (shape[1] / block elements * block bytes),
 * with no alignment.  A host hands these only to a backend whose takes_dtype says yes, and
 * converts them to F32 for any other. */
#define LORENS_DTYPE_GGML_BASE 256
#define LORENS_DTYPE_GGML(t) (LORENS_DTYPE_GGML_BASE + (t))

/* One tensor of the frozen base model, row-major, in host memory that stays valid and unchanged
 * until the session is closed (the host maps the safetensors or GGUF file).  A backend converts
 * to its compute type itself; it may use the data in place without copying. */
typedef struct lorens_tensor {
  const void *data;  /* NULL: the tensor is absent (an optional bias, a tied head) */
  int32_t dtype;     /* lorens_dtype or LORENS_DTYPE_GGML(t) (fixed-width: an enum's size is the
                      * compiler's) */
  uint32_t ndim;     /* 1 or 2 */
  int64_t shape[2];  /* Hugging Face layout: a linear layer's weight is [out, in] */
} lorens_tensor;

/* The tensors of one decoder layer, in lorens_model.layers[l * layer_stride + slot]. */
enum lorens_layer_slot {
  LORENS_SLOT_ATTN_NORM = 0, /* input_layernorm.weight [dim] */
  LORENS_SLOT_Q = 1,         /* self_attn.q_proj.weight [n_heads*head_dim, dim] */
  LORENS_SLOT_K = 2,         /* self_attn.k_proj.weight [n_kv_heads*head_dim, dim] */
  LORENS_SLOT_V = 3,         /* self_attn.v_proj.weight [n_kv_heads*head_dim, dim] */
  LORENS_SLOT_O = 4,         /* self_attn.o_proj.weight [dim, n_heads*head_dim] */
  LORENS_SLOT_GATE = 5,      /* mlp.gate_proj.weight [hidden, dim] */
  LORENS_SLOT_UP = 6,        /* mlp.up_proj.weight [hidden, dim] */
  LORENS_SLOT_DOWN = 7,      /* mlp.down_proj.weight [dim, hidden] */
  LORENS_SLOT_MLP_NORM = 8,  /* post_attention_layernorm.weight [dim] */
  LORENS_SLOT_Q_BIAS = 9,    /* self_attn.q_proj.bias, optional (Qwen2, attention_bias) */
  LORENS_SLOT_K_BIAS = 10,
  LORENS_SLOT_V_BIAS = 11,
  LORENS_SLOT_O_BIAS = 12,   /* self_attn.o_proj.bias, optional (attention_bias in LLaMA) */
  LORENS_SLOT_COUNT_V1_0 = 13
};

typedef enum lorens_rope_scaling { LORENS_ROPE_NONE = 0, LORENS_ROPE_LLAMA3 = 1 } lorens_rope_scaling;

/* A LLaMA-family decoder as config.json describes it, with its tensors. */
typedef struct lorens_model {
  uint32_t struct_size;
  uint32_t layer_stride; /* entries per layer in `layers`: LORENS_SLOT_COUNT_V1_0 or more */
  int32_t vocab_size, dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim;
  int32_t max_position_embeddings;
  float rms_norm_eps, rope_theta;
  int32_t rope_scaling;        /* lorens_rope_scaling */
  float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  int32_t rope_original_max_position_embeddings;
  int32_t tie_word_embeddings; /* lm_head is embed_tokens when non-zero */
  lorens_tensor embed;         /* model.embed_tokens.weight [vocab, dim] */
  lorens_tensor final_norm;    /* model.norm.weight [dim] */
  lorens_tensor lm_head;       /* lm_head.weight [vocab, dim]; data NULL when tied */
  const lorens_tensor *layers; /* n_layers * layer_stride */
} lorens_model;

/* ---- LoRA members and sessions ------------------------------------------------------------- */

/* LoRA targets, as a bit set.  The order of the bits is the canonical order of a member's
 * adapters (see lorens_backend.member_get). */
enum lorens_lora_target {
  LORENS_LORA_Q = 1u << 0, LORENS_LORA_K = 1u << 1, LORENS_LORA_V = 1u << 2, LORENS_LORA_O = 1u << 3,
  LORENS_LORA_GATE = 1u << 4, LORENS_LORA_UP = 1u << 5, LORENS_LORA_DOWN = 1u << 6,
  LORENS_LORA_TARGET_COUNT = 7
};

typedef struct lorens_session_desc {
  uint32_t struct_size;
  uint32_t n_members;      /* M >= 1 */
  const lorens_model *model;
  uint32_t lora_targets;   /* bit set of lorens_lora_target */
  uint32_t lora_rank;      /* r >= 1 */
  float lora_alpha;        /* scale = alpha / r, or alpha / sqrt(r) with rslora */
  int32_t lora_rslora;
  float lora_dropout;      /* probability in [0, 1) of zeroing an input of a LoRA path */
  int32_t n_threads;       /* 0: the backend's default */
  int32_t device;          /* device index for GPU backends */
  uint32_t max_tokens;     /* most tokens (summed over examples) in one member's batch */
  uint32_t max_examples;   /* most examples in one batch */
  uint32_t max_choices;    /* most choices per example (K) */
  /* Minor 2.  Non-zero: full-parameter training (pretraining).  The session has one member whose
   * trainable state is every tensor of the model, copied at open (see lorens_member_state for the
   * order); lora_targets must be 0 and lora_rank is ignored.  A backend that cannot train base
   * weights refuses with LORENS_EUNSUPPORTED.  Absent (a 1.0/1.1 host) means LoRA training. */
  uint32_t train_base;
  /* Minor 3.  0: a member's batch is processed at once.  N > 0: with the choices objective, a
   * batch of more than N tokens is processed as micro-batches of whole examples of at most N
   * tokens each (an example longer than N alone), whose gradients add up to the batch's: the
   * same step up to float rounding, with the activation memory of N tokens instead of the
   * batch's.  Dropout masks are those of the whole batch.  A 1.0-1.2 backend ignores it. */
  uint32_t micro_batch_tokens;
  /* Minor 5.  How the products with the frozen base compute (lorens_precision).  BF16: both
   * operands rounded to bf16, fp32 accumulation; adapters, their gradients, optimizer state,
   * norms, softmax and the loss stay fp32.  A backend that cannot multiply bf16 natively runs
   * FP32 and says so in lorens_session_info.precision.  A 1.0-1.4 backend ignores it. */
  uint32_t precision;
} lorens_session_desc;

/* Values of lorens_session_desc.precision and lorens_session_info.precision. */
enum lorens_precision { LORENS_PRECISION_FP32 = 0, LORENS_PRECISION_BF16 = 1 };

/* The size of a 1.0 lorens_session_desc, the smallest a backend accepts. */
#define LORENS_SESSION_DESC_SIZE_1_0 offsetof(lorens_session_desc, train_base)

/*
 * A batch of multiple-choice examples, packed without padding: example i is tokens[offsets[i] ..
 * offsets[i+1]).  It is scored by the logits that predict the token after position answer_pos[i]
 * (relative to the example's start), restricted to its choice tokens choice_ids[i*max_choices ..
 * + n_choices[i]).
 */
typedef struct lorens_batch {
  uint32_t n;                 /* examples; 0 means "nothing for this member" */
  uint32_t max_choices;       /* row stride of choice_ids, kl_target and score outputs */
  const int32_t *tokens;      /* offsets[n] token ids */
  const uint32_t *offsets;    /* n + 1, offsets[0] = 0, increasing */
  const uint32_t *answer_pos; /* n */
  const uint32_t *n_choices;  /* n, each in [1, max_choices] */
  const int32_t *choice_ids;  /* n * max_choices */
  const int32_t *labels;      /* n, in [0, n_choices[i]); NULL when scoring */
  /* Base-model probabilities for the KL term: n * max_choices over the choices, or n * vocab
   * over the vocabulary (lorens_train_args.kl_support).  NULL when kl_weight is 0. */
  const float *kl_target;
} lorens_batch;

/*
 * Choices of several tokens (minor 4: choice_len in lorens_train_args and lorens_score_args).
 * With choice_len[i * max_choices + k] >= 1 tokens for choice k of example i, the example's
 * tokens are its prompt (answer_pos[i] + 1 tokens) followed by every choice's tokens, choice
 * after choice, filling it to offsets[i + 1].  Each choice continues the prompt (its tokens at
 * positions answer_pos[i] + 1 onwards) and sees the prompt and its own earlier tokens, never
 * another choice: the prompt is run once for all of them.  A choice's score is its
 * log-likelihood, the sum over its tokens of their log-softmax over the vocabulary given what
 * precedes them; choice_logits receives these scores, and the loss's distribution over the
 * choices is their softmax (loss_support and kl_support must be LORENS_SUPPORT_CHOICES, and
 * vocab_logprobs NULL).  choice_ids[i * max_choices + k] must be choice k's first token.
 */
enum lorens_support { LORENS_SUPPORT_CHOICES = 0, LORENS_SUPPORT_VOCAB = 1 };
enum lorens_kl_direction {
  LORENS_KL_MEMBER_BASE = 0, /* KL(p_theta || p_0), the default */
  LORENS_KL_BASE_MEMBER = 1  /* KL(p_0 || p_theta) */
};

/*
 * One optimisation step for every member, each on its own batch.  The loss of a member is the
 * mean over its examples of
 *     CE(label | softmax over the support) + kl_weight * KL(direction, support)
 * where the support is the example's choice tokens or the whole vocabulary.  Gradients of the
 * loss are clipped per member to global norm grad_clip (0: off), then AdamW (PyTorch's
 * decoupled form, bias-corrected, step counted per member) updates A with weight_decay_a and B
 * with weight_decay_b.
 */
typedef struct lorens_train_args {
  uint32_t struct_size;
  const lorens_batch *batches;    /* n_members batches; member m trains on batches[m] */
  const float *lr;                /* n_members learning rates */
  float weight_decay_a, weight_decay_b;
  float adam_beta1, adam_beta2, adam_eps;
  float grad_clip;
  float kl_weight;
  int32_t kl_support;             /* lorens_support */
  int32_t kl_direction;           /* lorens_kl_direction */
  int32_t loss_support;           /* lorens_support */
  const uint64_t *dropout_seeds;  /* n_members seeds of the dropout masks */
  uint64_t dropout_step;          /* mixed into the masks: one value per optimizer step */
  /* Outputs, n_members each; any may be NULL.  Means over the member's examples. */
  float *loss, *ce, *kl;
  float *grad_norm;               /* global gradient norm before clipping */
  /* Minor 1.  How weight decay applies (lorens_wd_mode); absent (a 1.0 host) means decoupled. */
  int32_t weight_decay_mode;
  /* Minor 2.  What the loss is (lorens_objective); absent means LORENS_OBJECTIVE_CHOICES. */
  int32_t objective;
  /* Minor 4.  Choices of several tokens (see lorens_support): n_members pointers, member m's
   * NULL or its batch's n * max_choices choice lengths; absent or NULL: one token each. */
  const uint32_t *const *choice_len;
} lorens_train_args;

/*
 * LORENS_OBJECTIVE_CHOICES: the multiple-choice loss above, at each example's answer position.
 * LORENS_OBJECTIVE_NEXT_TOKEN: language modelling.  Every token of an example after its first is
 * predicted from the tokens before it, by a softmax over the whole vocabulary; the loss (and ce)
 * is the mean cross-entropy over all predicted tokens of the batch, kl is 0.  Only tokens and
 * offsets of the batch are read (answer_pos, n_choices, choice_ids, labels, kl_target may be
 * NULL), every example needs at least 2 tokens, and kl_weight must be 0.
 */
enum lorens_objective { LORENS_OBJECTIVE_CHOICES = 0, LORENS_OBJECTIVE_NEXT_TOKEN = 1 };

/*
 * LORENS_WD_DECOUPLED: AdamW's decoupled decay, w -= lr * decay * w after the Adam update.
 * LORENS_WD_L2: an L2 penalty in the loss, (decay_a / 2) * |A|^2 + (decay_b / 2) * |B|^2 summed
 * over the adapters: its gradient decay * w joins the loss gradient before clipping and Adam, and
 * the reported loss includes it (ce and kl do not).
 */
enum lorens_wd_mode { LORENS_WD_DECOUPLED = 0, LORENS_WD_L2 = 1 };

/* The size of a 1.0 lorens_train_args, the smallest a backend accepts. */
#define LORENS_TRAIN_ARGS_SIZE_1_0 offsetof(lorens_train_args, weight_decay_mode)

#define LORENS_SCORE_BASE (-1)    /* lorens_score_args.member: adapters off */
#define LORENS_SCORE_ALL (-2)     /* every member, one after another in the output */

typedef struct lorens_score_args {
  uint32_t struct_size;
  const lorens_batch *batch;
  int32_t member;                 /* 0..M-1, LORENS_SCORE_BASE or LORENS_SCORE_ALL */
  /* Output choice logits: [members][n][max_choices] (members = M for ALL, else 1); entries past
   * n_choices[i] are left untouched. */
  float *choice_logits;
  /* Optional: log-probabilities over the whole vocabulary at each answer position,
   * [members][n][vocab]. */
  float *vocab_logprobs;
  /* Minor 4.  The batch's n * max_choices choice lengths when its choices take several tokens
   * (see lorens_support); absent or NULL: one token each. */
  const uint32_t *choice_len;
} lorens_score_args;

/* The size of a 1.0 lorens_score_args, the smallest a backend accepts. */
#define LORENS_SCORE_ARGS_SIZE_1_0 offsetof(lorens_score_args, choice_len)

/* One member's trainable state, in canonical order: for each layer, for each target in bit order,
 * A [rank, in] then B [out, rank], row-major.  Arrays hold lorens_session_info.n_params floats;
 * any pointer may be NULL to skip it.
 *
 * In a train_base session the one member's state is the model itself, row-major in Hugging Face
 * layout and in this order: embed [vocab, dim]; for each layer input_layernorm [dim], q, k, v, o,
 * gate, up, down projections, post_attention_layernorm [dim] (the lorens_layer_slot order); the
 * final norm [dim]; lm_head [vocab, dim] unless tied.  Models with biases are refused.  There,
 * weight_decay_a decays the matrices (embedding, projections, head) and weight_decay_b the norm
 * weights. */
typedef struct lorens_member_state {
  float *weights;
  float *adam_m;
  float *adam_v;
  int64_t step;                   /* AdamW steps taken */
} lorens_member_state;

/* Written by the plugin, sized by the caller: see the versioning rules at the top. */
typedef struct lorens_session_info {
  uint32_t struct_size;           /* set by the caller */
  uint64_t n_params;              /* trainable floats per member */
  uint64_t device_bytes;          /* memory the session holds (host or device) */
  uint32_t precision;             /* minor 5: the lorens_precision the session computes in */
} lorens_session_info;

typedef struct lorens_session lorens_session; /* opaque, owned by the backend */

/* What a plugin offers.  The host reads only the first struct_size bytes. */
typedef struct lorens_backend {
  uint32_t abi_major;   /* must equal the host's LORENS_BACKEND_ABI_MAJOR */
  uint32_t abi_minor;   /* fields appended up to this minor are present */
  uint32_t struct_size; /* sizeof(lorens_backend) as the plugin was compiled */
  uint32_t reserved0;
  const char *name;        /* short and unique: "cpu", "cuda"; [a-z0-9_-]+ */
  const char *version;     /* the plugin's own version, free form */
  const char *description; /* one line for `lorens backends` */

  /*
   * Can this backend run here?  Returns 0 when it cannot, with the reason in `msg` ("no CUDA
   * device"), or a positive preference (higher is better) with a one-line description of what it
   * found in `msg` ("NVIDIA H200, 139 GiB, sm_90").  Cheap and side-effect free: the host may call
   * it more than once.  May be NULL, meaning "always usable, preference 1".
   */
  int (*probe)(char *msg, size_t msg_len);

  /*
   * Session calls.  NULL in a backend that can only probe.  Every call returns LORENS_OK or a
   * status with a message in msg (LORENS_MSG_MAX bytes is enough).  A session is used by one
   * thread at a time.  Members start with A = 0, B = 0 and no optimizer state: the host sets A
   * (from its portable RNG, so that every backend starts from the same adapters).
   */
  lorens_status (*session_open)(const lorens_session_desc *desc, const lorens_host *host,
                                lorens_session **out, char *msg, size_t msg_len);
  lorens_status (*session_info)(lorens_session *s, lorens_session_info *out, char *msg,
                                size_t msg_len);
  lorens_status (*member_get)(lorens_session *s, uint32_t member, lorens_member_state *out,
                              char *msg, size_t msg_len);
  lorens_status (*member_set)(lorens_session *s, uint32_t member, const lorens_member_state *in,
                              char *msg, size_t msg_len);
  lorens_status (*train_step)(lorens_session *s, const lorens_train_args *args, char *msg,
                              size_t msg_len);
  lorens_status (*score)(lorens_session *s, const lorens_score_args *args, char *msg,
                         size_t msg_len);
  void (*session_close)(lorens_session *s);

  /* Appended while the ABI was 1.0, without a minor of its own: a 1.0 descriptor may end before
   * it, so a host reads it only when struct_size covers it (LORENS_HAS_FIELD).  Measures the backend's dense fp32 matrix-multiply rate in GFLOP/s with
   * n_threads (0: its default), the ceiling that `lorens bench` reports utilisation against.
   * May be NULL. */
  double (*peak_gflops)(int n_threads, char *msg, size_t msg_len);
  /* Minor 3.  Whether session_open takes frozen base tensors of this dtype as they are stored
   * (non-zero) rather than converted to F32 by the host: a backend that multiplies 16-bit or
   * quantized weights itself keeps the model small in memory.  Absent or NULL: F32, F16 and BF16
   * only, as in 1.0-1.2.  Cheap and pure: the host may ask for every tensor. */
  int (*takes_dtype)(int32_t dtype);
  /* Minor 5.  peak_gflops for the products of a session of that lorens_precision: the ceiling
   * of a bf16 session is the bf16 matmul rate.  0 with a message where the backend cannot
   * multiply in that precision.  May be NULL (then only peak_gflops, for FP32). */
  double (*peak_gflops_at)(int n_threads, uint32_t precision, char *msg, size_t msg_len);
  /* Later minors append here; never reorder. */
} lorens_backend;

/* True when a descriptor of this size has the session calls. */
#define LORENS_BACKEND_HAS_SESSIONS(d)                                                     \
  ((d)->struct_size >= offsetof(lorens_backend, session_close) + sizeof(void (*)(void)) &&    \
   (d)->session_open != NULL)

/* ---- shared helpers: every backend computes these identically ---------------------------- */

#if defined(__CUDACC__)
#define LORENS_HD __host__ __device__
#else
#define LORENS_HD
#endif

/* IEEE half and bfloat16 to float. */
static inline LORENS_HD float lorens_bf16_to_f32(uint16_t h) {
  union { uint32_t u; float f; } v;
  v.u = (uint32_t)h << 16;
  return v.f;
}

static inline LORENS_HD float lorens_f16_to_f32(uint16_t h) {
  union { uint32_t u; float f; } v;
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) {                 /* inf or NaN */
    v.u = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {             /* normal */
    v.u = sign | ((exp + 112u) << 23) | (man << 13);
  } else if (man == 0) {             /* zero */
    v.u = sign;
  } else {                           /* subnormal: renormalise */
    exp = 113;
    while ((man & 0x400u) == 0) {
      man <<= 1;
      exp--;
    }
    v.u = sign | (exp << 23) | ((man & 0x3ffu) << 13);
  }
  return v.f;
}

/* A 64-bit mixer (splitmix64's finaliser): the basis of the counter-based dropout masks. */
static inline LORENS_HD uint64_t lorens_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/*
 * Whether LoRA dropout keeps input element `index` of LoRA site `site` (layer * 7 + target bit
 * index) at optimizer step `step` for a member with dropout seed `seed`.  `index` is token *
 * in_features + feature, with tokens numbered across the packed batch.  A kept element is scaled
 * by 1 / (1 - p).  Pure function of its arguments, so every backend draws the same masks.
 */
static inline LORENS_HD int lorens_dropout_keep(uint64_t seed, uint64_t step, uint32_t site,
                                                uint64_t index, float p) {
  uint64_t h = lorens_mix64(seed ^ 0x9e3779b97f4a7c15ull);
  h = lorens_mix64(h ^ (step * 0xd1b54a32d192ed03ull));
  h = lorens_mix64(h ^ ((uint64_t)site * 0x8cb92ba72f3d8dd7ull));
  h = lorens_mix64(h ^ index);
  /* Top 24 bits as a uniform in [0, 1). */
  return (float)(h >> 40) * (1.0f / 16777216.0f) >= p;
}

/* The size of the minor-0 descriptor: a plugin whose struct_size is below it is refused. */
#define LORENS_BACKEND_MIN_SIZE_V1_0 (offsetof(lorens_backend, probe) + sizeof(void (*)(void)))

/* The entry point every plugin exports.  `host` stays valid until the plugin is unloaded.
 * Returns NULL only if the plugin cannot initialise at all. */
typedef const lorens_backend *(*lorens_backend_entry_fn)(const lorens_host *host);
#define LORENS_BACKEND_ENTRY_SYMBOL "lorens_backend_v1"
LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host);

#ifdef __cplusplus
}
#endif
#endif /* LORENS_BACKEND_H */
