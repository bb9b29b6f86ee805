/*
 * llama-lora.c: the forward and backward passes of a LLaMA-family decoder with LoRA members, over
 * a kernel table (see llama-lora.h), and the session calls built from them.
 *
 * Memory: the frozen matrices stay as the backend's `frozen` kernel keeps them (on the CPU, in
 * their stored type, in place: the GEMMs expand tiles of them), the norm weights and biases are
 * converted once at open (or used in place); each member owns one
 * flat buffer [weights | grads | adam m | adam v] of n_params values each, with the adapters of
 * every (layer, target) at a fixed offset, in the ABI's canonical order; activations and scratch
 * live in buffers shared by all members (members are trained one after another), grown to fit the
 * largest batch seen.
 *
 * Members stacked (LORENS_STACK_MEMBERS=1): a training step stages every member's batch as one,
 * so that each frozen product runs once over all their rows; the rows are spans, one per member,
 * and only the LoRA paths (and the loss, on the host) go span by span.  Activations then hold
 * every member's rows.
 */
#include "compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama-lora.h"
#include "quant.h"
#include "stacked-batch.h"

enum { T_Q, T_K, T_V, T_O, T_GATE, T_UP, T_DOWN, N_TGT };

static const int target_slot[N_TGT] = {LORENS_SLOT_Q,    LORENS_SLOT_K,  LORENS_SLOT_V,
                                       LORENS_SLOT_O,    LORENS_SLOT_GATE, LORENS_SLOT_UP,
                                       LORENS_SLOT_DOWN};
static const char *const target_name[N_TGT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                "gate_proj", "up_proj", "down_proj"};

typedef struct layer_weights {
  const real *attn_norm, *mlp_norm;
  lr_frozen w[N_TGT];
  const real *bias[4]; /* q, k, v, o; NULL when absent */
} layer_weights;

typedef struct lora_site {
  int active;
  int in, out;
  size_t off; /* of A within a member's weights; B follows at off + rank * in */
} lora_site;

/* A span of a member's parameters that AdamW updates with one weight decay: decay 0 takes
 * weight_decay_a (LoRA A, or a matrix in full training), 1 weight_decay_b (LoRA B, or a norm). */
typedef struct param_span {
  size_t off, count;
  int decay;
} param_span;

/* Rows of the staged batch whose LoRA paths are one member's, with its dropout seed. */
typedef struct member_span {
  int member;
  int row0, rows;
  uint64_t seed;
} member_span;

typedef struct member_state {
  real *buf; /* weights | grads | adam m | adam v */
  int64_t step;
} member_state;

/*
 * Activations of one layer kept for the backward pass.  What is cheap to recompute is not kept:
 * the normed inputs (from the residual stream and rstd), the attention output (from q, k, v) and
 * the SwiGLU product (from g, u) are rebuilt in shared scratch when the backward needs them,
 * which roughly halves activation memory for a few percent more work.  Attention's softmax rows
 * are never kept: its backward rebuilds them from each row's log-sum-exp (lse, [T, H]).  In
 * precision bf16 the CPU kernels keep g and u in bf16 (kernels.h: swiglu_keep).
 */
typedef struct layer_acts {
  real *rstd1, *q, *k, *v, *lse, *xmid, *rstd2, *g, *u;
  uint16_t *g16, *u16; /* g and u in bf16 instead, where the kernels keep them so (swiglu_keep) */
  real *lora_u[N_TGT]; /* dropout(input) A^T per active target, [T, rank] */
} layer_acts;

/* Sizes the activation buffers were made for.  `layers` is how many layers keep their own
 * activations: all of them for training, one for scoring, whose forward pass needs nothing of a
 * layer once the next has run (its layers then share one set, and two residual streams take
 * turns), so that evaluation holds a small fraction of training's memory. */
typedef struct capacity {
  size_t tokens, examples, width, layers;
  size_t idx;      /* int32 index entries (point_indices) */
  size_t backward; /* 1: the backward's buffers too (training); scoring needs none of them */
} capacity;

struct lr_net {
  const lr_kernels *k;
  void *ctx;
  int V, D, F, L, H, Hkv, hd, q_dim, kv_dim, rank;
  real eps, lora_scale, dropout;
  uint32_t n_members;
  int tied;
  const real *final_norm;
  lr_frozen embed, head; /* the head is the embedding when tied */
  layer_weights *lw;
  void **owned;
  size_t n_owned;
  real *inv_freq;
  lora_site *sites; /* L * N_TGT */
  size_t n_params;
  param_span *spans; /* how the parameters decay, in order */
  size_t n_spans;
  /* Full-parameter training (train_base): the base weights live in member 0's buffer, and these
   * are their offsets there, for the gradients. */
  int full;
  size_t off_embed, off_final_norm, off_head;
  size_t *off_layer; /* L * LORENS_SLOT_COUNT_V1_0; biases unused */
  member_state *members;

  /* Activations and scratch, sized to `cap`. */
  capacity cap;
  size_t act_bytes;     /* activations, scratch and index arrays as allocated */
  size_t n_owned_bytes; /* converted base weights (0 when used in place) */
  real *act_mem, *idx_mem_f;
  int32_t *idx32;
  int64_t *idx64;
  uint32_t *idx_u32;
  int32_t *h_idx32; /* host staging of the index arrays */
  int64_t *h_idx64;
  real *h_logits, *h_dlogits;
  real **xs; /* L + 1 residual streams [T, D] */
  layer_acts *acts;
  real *h; /* recomputed per layer */
  /* Two [T, wide] arrays the steps of a layer take turns on (wide = max(F, q_dim, D)): the
   * attention output and the MLP's activation in the forward; in the backward each step's input
   * gradient goes where a spent array was (layer_backward). */
  real *scratch[2];
  real *dx, *dh, *dk, *dv, *ldu, *drop_in, *drop_grad;
  real *xf_in, *rstdf, *xf, *logits, *dlogits, *dxf, *dxf_in;

  /* The batch being processed. */
  int T, n_ex, width, vocab_mode, next_token;
  const int32_t *targets; /* host: the token each row predicts, in next-token mode */
  int32_t *tokens, *pos, *seq_start, *answer_rows, *choice_ids;
  /* Choices of several tokens (lorens_support): the staged batch's choice lengths (host), whose
   * head rows are lr_loss_multi's. */
  const uint32_t *choice_len;
  int64_t *token_index;
  uint32_t *n_choices;
  lr_attn_shape shape;
  /* Whose adapters apply to which rows: one span (every row, one member) or one per member when
   * stacked; none for the base model. */
  member_span *mspans;
  int n_mspans;
  int stack; /* LORENS_STACK_MEMBERS=1 at open */
  int training;
  /* Micro-batches (lorens_session_desc.micro_batch_tokens): the most tokens staged at once (0:
   * no limit); while accumulate is set the backward adds to the member's gradients instead of
   * overwriting them, and loss_scale (the micro-batch's share of the batch's examples) scales
   * the logit gradients. */
  uint32_t micro_tokens;
  int accumulate;
  double loss_scale;
  uint64_t drop_step;
};

static lorens_status fail(char *msg, size_t len, lorens_status s, const char *fmt, ...)
    LR_PRINTF(4, 5);
static lorens_status fail(char *msg, size_t len, lorens_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg && len)
    vsnprintf(msg, len, fmt, ap);
  va_end(ap);
  return s;
}

/* ---- opening: weights, adapters layout, rope frequencies ---------------------------------- */

/* F32, F16, BF16, or for a matrix, rows of whole ggml blocks of a type quant.h expands. */
static int dtype_ok(const lorens_tensor *t, int ndim) {
  int q = t->dtype - LORENS_DTYPE_GGML_BASE;
  if (t->dtype >= LORENS_DTYPE_F32 && t->dtype <= LORENS_DTYPE_BF16)
    return 1;
  return ndim == 2 && t->dtype >= LORENS_DTYPE_GGML_BASE && lr_quant_can_dequantize(q) &&
         t->shape[1] % (int64_t)lr_quant_block_elems(q) == 0;
}

static int check_tensor(const lorens_tensor *t, int64_t d0, int64_t d1, const char *what, int layer,
                        char *msg, size_t len) {
  int ndim = d1 ? 2 : 1;
  char where[32] = "";
  if (layer >= 0)
    snprintf(where, sizeof where, "layer %d ", layer);
  if (t->data != NULL && (int)t->ndim == ndim && !dtype_ok(t, ndim)) {
    fail(msg, len, LORENS_EUNSUPPORTED, "%s%s: dtype %d is not one this backend reads", where,
         what, (int)t->dtype);
    return -1;
  }
  if (t->data == NULL || (int)t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
    fail(msg, len, LORENS_EINVAL, "%s%s: expected %s [%lld%s%lld]", where, what,
         t->data ? "shape" : "a tensor of shape", (long long)d0, ndim == 2 ? ", " : "",
         ndim == 2 ? (long long)d1 : 0LL);
    return -1;
  }
  return 0;
}

static const real *take_weights(lr_net *n, const lorens_tensor *t) {
  void *owned = NULL;
  size_t count = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
  const real *w = n->k->weights(n->ctx, t, count, &owned);
  if (owned) {
    n->owned[n->n_owned++] = owned;
    n->n_owned_bytes += count * sizeof(real);
  }
  return w;
}

/* A frozen base matrix as the backend's GEMMs read it (table: the embedding or the head); 0 or
 * -1 when out of memory. */
static int take_frozen(lr_net *n, const lorens_tensor *t, int table, lr_frozen *out) {
  void *owned = NULL;
  if (n->k->frozen(n->ctx, t, table, out, &owned) != 0)
    return -1;
  if (owned)
    n->owned[n->n_owned++] = owned;
  n->n_owned_bytes += out->held_bytes;
  return 0;
}

/* An fp32 matrix of the member buffer (full training) as a frozen matrix for the same kernels. */
static lr_frozen frozen_reals(const real *p, int rows, int cols) {
  return (lr_frozen){.data = p, .dtype = LORENS_DTYPE_F32, .rows = rows, .cols = cols,
                     .row_bytes = (size_t)cols * sizeof(real)};
}

/* In full training, a base tensor's trainable copy at `off` in member 0's buffer. */
static const real *take_trainable(lr_net *n, const lorens_tensor *t, size_t off) {
  void *owned = NULL;
  size_t count = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
  const real *w = n->k->weights(n->ctx, t, count, &owned);
  real *dst = n->members[0].buf + off;
  if (w == NULL)
    return NULL;
  n->k->copy(n->ctx, dst, w, count * sizeof(real));
  if (owned)
    n->k->free(n->ctx, owned);
  return dst;
}

static int tensor_dims(const lr_net *n, int slot, int64_t *d0, int64_t *d1) {
  switch (slot) {
  case LORENS_SLOT_ATTN_NORM: case LORENS_SLOT_MLP_NORM: *d0 = n->D; *d1 = 0; return 0;
  case LORENS_SLOT_Q: *d0 = n->q_dim; *d1 = n->D; return 0;
  case LORENS_SLOT_K: case LORENS_SLOT_V: *d0 = n->kv_dim; *d1 = n->D; return 0;
  case LORENS_SLOT_O: *d0 = n->D; *d1 = n->q_dim; return 0;
  case LORENS_SLOT_GATE: case LORENS_SLOT_UP: *d0 = n->F; *d1 = n->D; return 0;
  case LORENS_SLOT_DOWN: *d0 = n->D; *d1 = n->F; return 0;
  case LORENS_SLOT_Q_BIAS: *d0 = n->q_dim; *d1 = 0; return 0;
  case LORENS_SLOT_K_BIAS: case LORENS_SLOT_V_BIAS: *d0 = n->kv_dim; *d1 = 0; return 0;
  case LORENS_SLOT_O_BIAS: *d0 = n->D; *d1 = 0; return 0;
  }
  return -1;
}

static lorens_status load_layer(lr_net *n, const lorens_model *m, int l, char *msg, size_t len) {
  const lorens_tensor *lt = m->layers + (size_t)l * m->layer_stride;
  layer_weights *w = &n->lw[l];
  for (int slot = 0; slot < LORENS_SLOT_COUNT_V1_0; slot++) {
    int64_t d0, d1;
    const real *p = NULL;
    int matrix = slot >= LORENS_SLOT_Q && slot <= LORENS_SLOT_DOWN;
    tensor_dims(n, slot, &d0, &d1);
    if (slot >= LORENS_SLOT_Q_BIAS && lt[slot].data == NULL)
      continue; /* biases are optional */
    if (slot >= LORENS_SLOT_Q_BIAS && n->full)
      return fail(msg, len, LORENS_EUNSUPPORTED,
                  "layer %d has projection biases, which full-parameter training does not train", l);
    if (check_tensor(&lt[slot], d0, d1, slot == LORENS_SLOT_ATTN_NORM ? "input_layernorm"
                     : slot == LORENS_SLOT_MLP_NORM ? "post_attention_layernorm"
                     : slot >= LORENS_SLOT_Q_BIAS ? "bias" : target_name[slot - 1], l, msg, len))
      return LORENS_EINVAL;
    if (n->full)
      p = take_trainable(n, &lt[slot], n->off_layer[l * LORENS_SLOT_COUNT_V1_0 + slot]);
    else if (!matrix)
      p = take_weights(n, &lt[slot]);
    if (matrix && !n->full) {
      if (take_frozen(n, &lt[slot], 0, &w->w[slot - LORENS_SLOT_Q]) != 0)
        return fail(msg, len, LORENS_ENOMEM, "out of memory converting layer %d weights", l);
      continue;
    }
    if (p == NULL)
      return fail(msg, len, LORENS_ENOMEM, "out of memory converting layer %d weights", l);
    if (slot == LORENS_SLOT_ATTN_NORM)
      w->attn_norm = p;
    else if (slot == LORENS_SLOT_MLP_NORM)
      w->mlp_norm = p;
    else if (slot >= LORENS_SLOT_Q_BIAS)
      w->bias[slot - LORENS_SLOT_Q_BIAS] = p;
    else
      w->w[slot - LORENS_SLOT_Q] = frozen_reals(p, (int)d0, (int)d1);
  }
  return LORENS_OK;
}

/* Hugging Face's inverse frequencies, with llama3 scaling when configured. */
static void rope_frequencies(const lorens_model *m, int hd, real *out) {
  for (int i = 0; i < hd / 2; i++) {
    double f = 1.0 / pow((double)m->rope_theta, (2.0 * i) / hd);
    if (m->rope_scaling == LORENS_ROPE_LLAMA3) {
      double old = m->rope_original_max_position_embeddings;
      double low_wl = old / m->rope_low_freq_factor, high_wl = old / m->rope_high_freq_factor;
      double wl = 2 * M_PI / f;
      if (wl > low_wl) {
        f = f / m->rope_factor;
      } else if (wl >= high_wl) {
        double smooth = (old / wl - m->rope_low_freq_factor) /
                        (m->rope_high_freq_factor - m->rope_low_freq_factor);
        f = (1 - smooth) * f / m->rope_factor + smooth * f;
      }
    }
    out[i] = (real)f;
  }
}

static int desc_full(const lorens_session_desc *d) {
  return d->struct_size >= offsetof(lorens_session_desc, train_base) + sizeof d->train_base &&
         d->train_base != 0;
}

static lorens_status check_desc(const lorens_session_desc *d, char *msg, size_t len) {
  const lorens_model *m = d->model;
  if (d->struct_size < LORENS_SESSION_DESC_SIZE_1_0 || m == NULL || m->struct_size < sizeof *m)
    return fail(msg, len, LORENS_EABI, "session description or model too small for ABI 1.0");
  if (desc_full(d) && (d->n_members != 1 || d->lora_targets != 0))
    return fail(msg, len, LORENS_EINVAL,
                "full-parameter training takes one member and no LoRA targets (got %u, 0x%x)",
                d->n_members, d->lora_targets);
  if (d->n_members < 1 || (d->lora_rank < 1 && !desc_full(d)) || d->lora_dropout < 0 ||
      d->lora_dropout >= 1 || (d->lora_targets & ~((1u << LORENS_LORA_TARGET_COUNT) - 1)) != 0)
    return fail(msg, len, LORENS_EINVAL,
                "bad session: members %u, rank %u, dropout %g, targets 0x%x", d->n_members,
                d->lora_rank, (double)d->lora_dropout, d->lora_targets);
  if (m->dim < 1 || m->n_layers < 1 || m->n_heads < 1 || m->n_kv_heads < 1 ||
      m->n_heads % m->n_kv_heads != 0 || m->head_dim < 2 || m->head_dim % 2 != 0 ||
      m->vocab_size < 1 || m->hidden_dim < 1 || m->layer_stride < LORENS_SLOT_COUNT_V1_0 ||
      m->layers == NULL)
    return fail(msg, len, LORENS_EINVAL, "bad model dimensions");
  return LORENS_OK;
}

static void set_dims(lr_net *n, const lorens_session_desc *d) {
  const lorens_model *m = d->model;
  n->V = m->vocab_size;
  n->D = m->dim;
  n->F = m->hidden_dim;
  n->L = m->n_layers;
  n->H = m->n_heads;
  n->Hkv = m->n_kv_heads;
  n->hd = m->head_dim;
  n->q_dim = n->H * n->hd;
  n->kv_dim = n->Hkv * n->hd;
  n->eps = (real)m->rms_norm_eps;
  n->full = desc_full(d);
  n->rank = n->full ? 0 : (int)d->lora_rank;
  n->lora_scale = n->full ? 0
                  : (real)(d->lora_rslora ? d->lora_alpha / sqrt((double)d->lora_rank)
                                          : (double)d->lora_alpha / d->lora_rank);
  n->dropout = (real)d->lora_dropout;
  n->n_members = d->n_members;
  n->micro_tokens = d->struct_size >= offsetof(lorens_session_desc, micro_batch_tokens) +
                                          sizeof d->micro_batch_tokens
                        ? d->micro_batch_tokens
                        : 0;
  n->loss_scale = 1;
  n->tied = m->tie_word_embeddings;
}

static void add_span(lr_net *n, size_t count, int decay) {
  n->spans[n->n_spans++] = (param_span){n->n_params, count, decay};
  n->n_params += count;
}

/* Assigns each (layer, target) its adapter offset, in canonical order; in full training, every
 * base tensor its offset instead (no adapter is active). */
static void layout_params(lr_net *n, uint32_t targets) {
  for (int l = 0; l < n->L; l++) {
    for (int t = 0; t < N_TGT; t++) {
      lora_site *s = &n->sites[l * N_TGT + t];
      int64_t out, in;
      tensor_dims(n, target_slot[t], &out, &in);
      s->in = (int)in;
      s->out = (int)out;
      s->active = !n->full && ((targets >> t) & 1u);
      s->off = n->n_params;
      if (s->active) {
        add_span(n, (size_t)n->rank * (size_t)s->in, 0);
        add_span(n, (size_t)n->rank * (size_t)s->out, 1);
      }
    }
  }
  if (!n->full)
    return;
  n->off_embed = n->n_params;
  add_span(n, (size_t)n->V * n->D, 0);
  for (int l = 0; l < n->L; l++) {
    for (int slot = 0; slot < LORENS_SLOT_Q_BIAS; slot++) {
      int64_t d0, d1;
      tensor_dims(n, slot, &d0, &d1);
      n->off_layer[l * LORENS_SLOT_COUNT_V1_0 + slot] = n->n_params;
      add_span(n, (size_t)d0 * (size_t)(d1 ? d1 : 1), d1 ? 0 : 1);
    }
  }
  n->off_final_norm = n->n_params;
  add_span(n, (size_t)n->D, 1);
  n->off_head = n->tied ? n->off_embed : n->n_params;
  if (!n->tied)
    add_span(n, (size_t)n->V * n->D, 0);
}

static lorens_status load_model(lr_net *n, const lorens_model *m, char *msg, size_t len) {
  const lorens_tensor *head = m->tie_word_embeddings ? &m->embed : &m->lm_head;
  real *freq;
  lorens_status rc;
  if (check_tensor(&m->embed, n->V, n->D, "embed_tokens", -1, msg, len) ||
      check_tensor(&m->final_norm, n->D, 0, "norm", -1, msg, len) ||
      check_tensor(head, n->V, n->D, "lm_head", -1, msg, len))
    return LORENS_EINVAL;
  if (n->full) {
    const real *e = take_trainable(n, &m->embed, n->off_embed);
    const real *h = m->tie_word_embeddings ? e : take_trainable(n, &m->lm_head, n->off_head);
    n->final_norm = take_trainable(n, &m->final_norm, n->off_final_norm);
    if (!e || !h || !n->final_norm)
      return fail(msg, len, LORENS_ENOMEM, "out of memory converting weights");
    n->embed = frozen_reals(e, n->V, n->D);
    n->head = frozen_reals(h, n->V, n->D);
  } else {
    n->final_norm = take_weights(n, &m->final_norm);
    if (!n->final_norm || take_frozen(n, &m->embed, 1, &n->embed) != 0 ||
        (!m->tie_word_embeddings && take_frozen(n, &m->lm_head, 1, &n->head) != 0))
      return fail(msg, len, LORENS_ENOMEM, "out of memory converting weights");
    if (m->tie_word_embeddings)
      n->head = n->embed;
  }
  for (int l = 0; l < n->L; l++)
    if ((rc = load_layer(n, m, l, msg, len)) != LORENS_OK)
      return rc;
  freq = malloc((size_t)(n->hd / 2) * sizeof *freq);
  n->inv_freq = n->k->alloc(n->ctx, (size_t)(n->hd / 2) * sizeof *freq);
  if (freq == NULL || n->inv_freq == NULL) {
    free(freq);
    return fail(msg, len, LORENS_ENOMEM, "out of memory");
  }
  rope_frequencies(m, n->hd, freq);
  rc = n->k->upload(n->ctx, n->inv_freq, freq, (size_t)(n->hd / 2) * sizeof *freq) ? LORENS_EDEVICE
                                                                                     : LORENS_OK;
  free(freq);
  return rc == LORENS_OK ? rc : fail(msg, len, rc, "cannot upload rope frequencies");
}

lorens_status lr_net_open(const lr_kernels *k, const lorens_session_desc *d, lr_net **out,
                          char *msg, size_t len) {
  lr_net *n;
  const char *stack;
  lorens_status rc = check_desc(d, msg, len);
  *out = NULL;
  if (rc != LORENS_OK)
    return rc;
  n = calloc(1, sizeof *n);
  if (n == NULL)
    return fail(msg, len, LORENS_ENOMEM, "out of memory");
  n->k = k;
  n->ctx = k->ctx;
  set_dims(n, d);
  n->lw = calloc((size_t)n->L, sizeof *n->lw);
  n->owned = calloc((size_t)n->L * LORENS_SLOT_COUNT_V1_0 + 3, sizeof *n->owned);
  n->sites = calloc((size_t)n->L * N_TGT, sizeof *n->sites);
  n->members = calloc(n->n_members, sizeof *n->members);
  n->mspans = calloc(n->n_members, sizeof *n->mspans);
  n->xs = calloc((size_t)n->L + 1, sizeof *n->xs);
  n->acts = calloc((size_t)n->L, sizeof *n->acts);
  /* Spans: two per adapter, or every base tensor plus the final norm and head. */
  n->spans = calloc((size_t)n->L * (2 * N_TGT + LORENS_SLOT_COUNT_V1_0) + 3, sizeof *n->spans);
  n->off_layer = calloc((size_t)n->L * LORENS_SLOT_COUNT_V1_0, sizeof *n->off_layer);
  if (!n->lw || !n->owned || !n->sites || !n->members || !n->mspans || !n->xs || !n->acts ||
      !n->spans || !n->off_layer) {
    lr_net_close(n);
    return fail(msg, len, LORENS_ENOMEM, "out of memory");
  }
  layout_params(n, d->lora_targets);
  stack = getenv("LORENS_STACK_MEMBERS");
  n->stack = stack != NULL && strcmp(stack, "1") == 0;
  for (uint32_t i = 0; rc == LORENS_OK && i < n->n_members; i++) {
    n->members[i].buf = k->alloc(n->ctx, 4 * (n->n_params ? n->n_params : 1) * sizeof(real));
    if (n->members[i].buf == NULL)
      rc = fail(msg, len, LORENS_ENOMEM, "out of memory for member %u", i);
  }
  if (rc == LORENS_OK)
    rc = load_model(n, d->model, msg, len);
  if (rc != LORENS_OK) {
    lr_net_close(n);
    return rc;
  }
  *out = n;
  return LORENS_OK;
}

static void free_activations(lr_net *n) {
  const lr_kernels *k = n->k;
  if (k == NULL)
    return;
  k->free(n->ctx, n->act_mem);
  k->free(n->ctx, n->idx32);
  k->free(n->ctx, n->idx64);
  k->free(n->ctx, n->idx_u32);
  free(n->h_idx32);
  free(n->h_idx64);
  free(n->h_logits);
  free(n->h_dlogits);
  n->act_mem = NULL;
  n->idx32 = NULL;
  n->idx64 = NULL;
  n->idx_u32 = NULL;
  n->h_idx32 = NULL;
  n->h_idx64 = NULL;
  n->h_logits = NULL;
  n->h_dlogits = NULL;
  n->act_bytes = 0;
  memset(&n->cap, 0, sizeof n->cap);
}

void lr_net_close(lr_net *n) {
  if (n == NULL)
    return;
  free_activations(n);
  for (uint32_t i = 0; n->members && i < n->n_members; i++)
    n->k->free(n->ctx, n->members[i].buf);
  for (size_t i = 0; i < n->n_owned; i++)
    n->k->free(n->ctx, n->owned[i]);
  if (n->inv_freq)
    n->k->free(n->ctx, n->inv_freq);
  free(n->lw);
  free(n->owned);
  free(n->sites);
  free(n->spans);
  free(n->off_layer);
  free(n->members);
  free(n->mspans);
  free(n->xs);
  free(n->acts);
  free(n);
}

uint64_t lr_net_n_params(const lr_net *n) {
  return n->n_params;
}

uint64_t lr_net_bytes(const lr_net *n) {
  return (uint64_t)(4 * n->n_params * n->n_members * sizeof(real) + n->act_bytes +
                    n->n_owned_bytes);
}

/* ---- activation memory ---------------------------------------------------------------------- */

typedef struct bump {
  real *base;
  size_t used;
} bump;

static real *take(bump *b, size_t count) {
  real *p = b->base ? b->base + b->used : NULL;
  b->used += count;
  return p;
}

static uint16_t *take16(bump *b, size_t count) {
  return (uint16_t *)take(b, (count * sizeof(uint16_t) + sizeof(real) - 1) / sizeof(real));
}

/* Lays out (or, with b->base NULL, measures) every activation and scratch array. */
static void layout_activations(lr_net *n, bump *b, const capacity *c) {
  size_t T = c->tokens, D = (size_t)n->D, F = (size_t)n->F, r = (size_t)n->rank;
  size_t wide = (size_t)(n->F > n->q_dim ? n->F : n->q_dim);
  if ((size_t)n->D > wide)
    wide = (size_t)n->D;
  for (int l = 0; l <= n->L; l++)
    n->xs[l] = (size_t)l <= c->layers ? take(b, T * D) : n->xs[l % 2];
  for (int l = 0; l < n->L; l++) {
    layer_acts *a = &n->acts[l];
    if ((size_t)l >= c->layers) {
      *a = n->acts[0];
      continue;
    }
    a->rstd1 = take(b, T);
    a->q = take(b, T * (size_t)n->q_dim);
    a->k = take(b, T * (size_t)n->kv_dim);
    a->v = take(b, T * (size_t)n->kv_dim);
    a->lse = take(b, T * (size_t)n->H);
    a->xmid = take(b, T * D);
    a->rstd2 = take(b, T);
    if (n->k->swiglu_keep) {
      a->g16 = take16(b, T * F);
      a->u16 = take16(b, T * F);
    } else {
      a->g = take(b, T * F);
      a->u = take(b, T * F);
    }
    for (int t = 0; t < N_TGT; t++)
      a->lora_u[t] = n->sites[l * N_TGT + t].active ? take(b, T * r) : NULL;
  }
  n->h = take(b, T * D);
  n->scratch[0] = take(b, T * wide);
  n->xf_in = take(b, c->examples * D);
  n->rstdf = take(b, c->examples);
  n->xf = take(b, c->examples * D);
  n->logits = take(b, c->examples * c->width);
  /* The forward's gate and up products go to the scratch arrays when only bf16 copies stay. */
  n->scratch[1] = c->backward || n->k->swiglu_keep ? take(b, T * wide) : NULL;
  if (!c->backward) { /* scoring: forwards only, no dropout */
    n->dx = n->dh = n->dk = n->dv = n->ldu = NULL;
    n->drop_in = n->drop_grad = n->dxf = n->dxf_in = n->dlogits = NULL;
    return;
  }
  n->dx = take(b, T * D);
  n->dh = take(b, T * D);
  n->dk = take(b, T * (size_t)n->kv_dim);
  n->dv = take(b, T * (size_t)n->kv_dim);
  n->ldu = take(b, T * r);
  n->drop_in = n->dropout > 0 ? take(b, T * wide) : NULL;
  n->drop_grad = n->dropout > 0 ? take(b, T * wide) : NULL;
  n->dxf = take(b, c->examples * D);
  n->dxf_in = take(b, c->examples * D);
  n->dlogits = take(b, c->examples * c->width);
}

/* Index arrays: int32 tokens, pos (T each), seq_start (n+1), answer_rows (rows), choice_ids
 * (n*K), block_start (T) and prefix (n) with choices of several tokens (capacity.idx in all);
 * int64 token_index (T); uint32 n_choices (n). */
/* Grows the activation buffers to fit `need`; need->width covers the choice-id stride too. */
static lorens_status ensure_capacity(lr_net *n, const capacity *need, char *msg, size_t len) {
  capacity c = n->cap;
  bump b = {NULL, 0};
  const lr_kernels *k = n->k;
  if (need->tokens <= c.tokens && need->examples <= c.examples &&
      need->width <= c.width && need->layers <= c.layers && need->idx <= c.idx &&
      need->backward <= c.backward)
    return LORENS_OK;
  c.layers = need->layers > c.layers ? need->layers : c.layers;
  c.tokens = need->tokens > c.tokens ? need->tokens : c.tokens;
  c.examples = need->examples > c.examples ? need->examples : c.examples;
  c.width = need->width > c.width ? need->width : c.width;
  c.idx = need->idx > c.idx ? need->idx : c.idx;
  c.backward = need->backward > c.backward ? need->backward : c.backward;
  free_activations(n);
  layout_activations(n, &b, &c);
  n->act_mem = k->alloc(n->ctx, b.used * sizeof(real));
  n->idx32 = k->alloc(n->ctx, c.idx * sizeof(int32_t));
  n->idx64 = k->alloc(n->ctx, c.tokens * sizeof(int64_t));
  n->idx_u32 = k->alloc(n->ctx, c.examples * sizeof(uint32_t));
  n->h_idx32 = malloc(c.idx * sizeof(int32_t));
  n->h_idx64 = malloc(c.tokens * sizeof(int64_t));
  n->h_logits = malloc(c.examples * c.width * sizeof(real));
  n->h_dlogits = c.backward ? malloc(c.examples * c.width * sizeof(real)) : NULL;
  if (!n->act_mem || !n->idx32 || !n->idx64 || !n->idx_u32 || !n->h_idx32 || !n->h_idx64 ||
      !n->h_logits || (c.backward && !n->h_dlogits)) {
    free_activations(n);
    return fail(msg, len, LORENS_ENOMEM, "out of memory for activations of %zu tokens",
                need->tokens);
  }
  n->act_bytes = b.used * sizeof(real) + c.idx * sizeof(int32_t) +
                 c.tokens * sizeof(int64_t) + c.examples * sizeof(uint32_t);
  b.base = n->act_mem;
  b.used = 0;
  layout_activations(n, &b, &c);
  n->cap = c;
  return LORENS_OK;
}

/* ---- batches ---------------------------------------------------------------------------- */

static lorens_status check_batch(const lr_net *n, const lorens_batch *b,
                                 const uint32_t *choice_len, int training, char *msg, size_t len) {
  if (b->max_choices < 1 || !b->tokens || !b->offsets || !b->answer_pos || !b->n_choices ||
      !b->choice_ids || (training && !b->labels) || b->offsets[0] != 0)
    return fail(msg, len, LORENS_EINVAL, "batch is missing arrays or max_choices is 0");
  for (uint32_t i = 0; i < b->n; i++) {
    uint32_t length = b->offsets[i + 1] - b->offsets[i];
    if (b->offsets[i + 1] <= b->offsets[i] || b->answer_pos[i] >= length)
      return fail(msg, len, LORENS_EINVAL, "example %u: answer position %u outside its %u tokens",
                  i, b->answer_pos[i], b->offsets[i + 1] > b->offsets[i] ? length : 0);
    if (b->n_choices[i] < 1 || b->n_choices[i] > b->max_choices)
      return fail(msg, len, LORENS_EINVAL, "example %u: %u choices (max %u)", i, b->n_choices[i],
                  b->max_choices);
    for (uint32_t c = 0; c < b->n_choices[i]; c++) {
      int32_t id = b->choice_ids[(size_t)i * b->max_choices + c];
      if (id < 0 || id >= n->V)
        return fail(msg, len, LORENS_EINVAL, "example %u: choice token %d outside the vocabulary", i, id);
    }
    if (training && (b->labels[i] < 0 || (uint32_t)b->labels[i] >= b->n_choices[i]))
      return fail(msg, len, LORENS_EINVAL, "example %u: label %d outside its %u choices", i,
                  b->labels[i], b->n_choices[i]);
    if (choice_len) { /* the prompt, then every choice's tokens, fill the example */
      uint64_t used = (uint64_t)b->answer_pos[i] + 1;
      for (uint32_t c = 0; c < b->n_choices[i]; c++) {
        uint32_t cl = choice_len[(size_t)i * b->max_choices + c];
        if (cl < 1)
          return fail(msg, len, LORENS_EINVAL, "example %u: choice %u has no tokens", i, c);
        used += cl;
      }
      if (used != length)
        return fail(msg, len, LORENS_EINVAL, "example %u: its prompt and choices take %llu tokens "
                    "but it has %u", i, (unsigned long long)used, length);
    }
    for (uint32_t t = 0; t < (choice_len ? length : b->answer_pos[i] + 1); t++) {
      int32_t id = b->tokens[b->offsets[i] + t];
      if (id < 0 || id >= n->V)
        return fail(msg, len, LORENS_EINVAL, "example %u: token %d outside the vocabulary", i, id);
    }
  }
  return LORENS_OK;
}

/* Points the batch's index arrays into the device buffers, in the order the host staging fills
 * them: T tokens and positions, n_seq + 1 sequence starts, `rows` head rows, then choice ids. */
static void point_indices(lr_net *n, size_t T, uint32_t n_seq, size_t rows) {
  n->tokens = n->idx32;
  n->pos = n->tokens + T;
  n->seq_start = n->pos + T;
  n->answer_rows = n->seq_start + n_seq + 1;
  n->choice_ids = n->answer_rows + rows;
  n->token_index = n->idx64;
  n->n_choices = n->idx_u32;
  n->shape = (lr_attn_shape){(int)n_seq, n->seq_start, n->H, n->Hkv, n->hd, NULL, NULL,
                             (int)T, n->h_idx32 + 2 * T};
  n->choice_len = NULL;
}

/* Packs each example up to its answer position, builds the index arrays and uploads them. */
static lorens_status stage_batch(lr_net *n, const lorens_batch *b, int vocab_mode, int training,
                                 char *msg, size_t len) {
  size_t T = 0, K = b->max_choices;
  capacity need = {0, b->n, vocab_mode && (size_t)n->V > K ? (size_t)n->V : K,
                   training ? (size_t)n->L : 1, 0, training != 0};
  lorens_status rc;
  for (uint32_t i = 0; i < b->n; i++)
    T += b->answer_pos[i] + 1;
  need.tokens = T;
  need.idx = 2 * T + 2 * (size_t)b->n + 1 + (size_t)b->n * K;
  if ((rc = ensure_capacity(n, &need, msg, len)) != LORENS_OK)
    return rc;
  int32_t *tok = n->h_idx32, *pos = tok + T, *ss = pos + T, *ans = ss + b->n + 1, *cid = ans + b->n;
  int64_t *ti = n->h_idx64;
  size_t row = 0;
  ss[0] = 0;
  for (uint32_t i = 0; i < b->n; i++) {
    uint32_t L = b->answer_pos[i] + 1;
    for (uint32_t t = 0; t < L; t++, row++) {
      tok[row] = b->tokens[b->offsets[i] + t];
      pos[row] = (int32_t)t;
      ti[row] = (int64_t)(b->offsets[i] + t);
    }
    ss[i + 1] = (int32_t)row;
    ans[i] = (int32_t)row - 1;
  }
  memcpy(cid, b->choice_ids, (size_t)b->n * K * sizeof *cid);
  n->T = (int)T;
  n->n_ex = (int)b->n;
  n->vocab_mode = vocab_mode;
  n->next_token = 0;
  n->targets = NULL;
  n->width = vocab_mode ? n->V : (int)K;
  point_indices(n, T, b->n, b->n);
  if (n->k->upload(n->ctx, n->idx32, n->h_idx32, (2 * T + 2 * b->n + 1 + b->n * K) * sizeof(int32_t)) ||
      n->k->upload(n->ctx, n->idx64, n->h_idx64, T * sizeof(int64_t)) ||
      n->k->upload(n->ctx, n->idx_u32, b->n_choices, b->n * sizeof(uint32_t)))
    return fail(msg, len, LORENS_EDEVICE, "cannot upload the batch");
  return LORENS_OK;
}

/*
 * Packs examples whose choices take several tokens (lorens_support in backend.h): each example
 * is one sequence, its prompt and then every choice's tokens but the last (the last predicts
 * nothing), each choice a block at positions after the prompt that sees the prompt and itself.
 * The head rows are lr_loss_multi's: the prompt's last row, then every choice row.
 */
static lorens_status stage_choice_batch(lr_net *n, const lorens_batch *b,
                                        const uint32_t *choice_len, int training, char *msg,
                                        size_t len) {
  size_t T = 0, rows = 0, K = b->max_choices;
  capacity need = {0, 0, (size_t)n->V > K ? (size_t)n->V : K, training ? (size_t)n->L : 1, 0,
                   training != 0};
  lorens_status rc;
  for (uint32_t i = 0; i < b->n; i++) {
    size_t head = lr_choice_rows(b, choice_len, i), L = b->answer_pos[i] + head;
    T += L;
    rows += head;
  }
  need.tokens = T;
  need.examples = rows > b->n ? rows : b->n;
  need.idx = 3 * T + 2 * (size_t)b->n + 1 + rows + (size_t)b->n * K;
  if ((rc = ensure_capacity(n, &need, msg, len)) != LORENS_OK)
    return rc;
  int32_t *tok = n->h_idx32, *pos = tok + T, *ss = pos + T, *ans = ss + b->n + 1,
          *cid = ans + rows, *bs = cid + (size_t)b->n * K, *pre = bs + T;
  int64_t *ti = n->h_idx64;
  size_t row = 0, head = 0;
  ss[0] = 0;
  for (uint32_t i = 0; i < b->n; i++) {
    uint32_t plen = b->answer_pos[i] + 1, c0 = b->offsets[i] + plen;
    for (uint32_t t = 0; t < plen; t++, row++) {
      tok[row] = b->tokens[b->offsets[i] + t];
      pos[row] = (int32_t)t;
      ti[row] = (int64_t)(b->offsets[i] + t);
      bs[row] = 0;
    }
    ans[head++] = (int32_t)row - 1;
    for (uint32_t k = 0; k < b->n_choices[i]; k++) {
      uint32_t cl = choice_len[(size_t)i * K + k];
      int32_t first = (int32_t)row - ss[i]; /* within the sequence */
      for (uint32_t j = 0; j + 1 < cl; j++, row++) {
        tok[row] = b->tokens[c0 + j];
        pos[row] = (int32_t)(plen + j);
        ti[row] = (int64_t)(c0 + j);
        bs[row] = first;
        ans[head++] = (int32_t)row;
      }
      c0 += cl;
    }
    ss[i + 1] = (int32_t)row;
    pre[i] = (int32_t)plen;
  }
  memcpy(cid, b->choice_ids, (size_t)b->n * K * sizeof *cid);
  n->T = (int)T;
  n->n_ex = (int)rows;
  n->vocab_mode = 1;
  n->next_token = 0;
  n->targets = NULL;
  n->width = n->V;
  point_indices(n, T, b->n, rows);
  n->shape.block_start = n->choice_ids + (size_t)b->n * K;
  n->shape.prefix = n->shape.block_start + T;
  n->choice_len = choice_len;
  if (n->k->upload(n->ctx, n->idx32, n->h_idx32, need.idx * sizeof(int32_t)) ||
      n->k->upload(n->ctx, n->idx64, n->h_idx64, T * sizeof(int64_t)) ||
      n->k->upload(n->ctx, n->idx_u32, b->n_choices, b->n * sizeof(uint32_t)))
    return fail(msg, len, LORENS_EDEVICE, "cannot upload the batch");
  return LORENS_OK;
}

static lorens_status check_lm_batch(const lr_net *n, const lorens_batch *b, char *msg, size_t len) {
  if (!b->tokens || !b->offsets || b->offsets[0] != 0)
    return fail(msg, len, LORENS_EINVAL, "batch is missing tokens or offsets");
  for (uint32_t i = 0; i < b->n; i++) {
    if (b->offsets[i + 1] < b->offsets[i] + 2)
      return fail(msg, len, LORENS_EINVAL,
                  "example %u: next-token training needs at least 2 tokens", i);
    for (uint32_t t = b->offsets[i]; t < b->offsets[i + 1]; t++)
      if (b->tokens[t] < 0 || b->tokens[t] >= n->V)
        return fail(msg, len, LORENS_EINVAL, "example %u: token %d outside the vocabulary", i,
                    b->tokens[t]);
  }
  return LORENS_OK;
}

/* Packs whole examples for next-token training: every position but each example's last is a
 * row of the head, predicting the token after it (the targets stay on the host). */
static lorens_status stage_lm_batch(lr_net *n, const lorens_batch *b, char *msg, size_t len) {
  size_t T = b->offsets[b->n], rows = T - b->n;
  capacity need = {T, rows, (size_t)n->V, (size_t)n->L, 2 * T + b->n + 1 + 2 * rows, 1};
  lorens_status rc;
  if ((rc = ensure_capacity(n, &need, msg, len)) != LORENS_OK)
    return rc;
  int32_t *tok = n->h_idx32, *pos = tok + T, *ss = pos + T, *ans = ss + b->n + 1, *tgt = ans + rows;
  int64_t *ti = n->h_idx64;
  size_t r = 0;
  ss[0] = 0;
  for (uint32_t i = 0; i < b->n; i++) {
    uint32_t L = b->offsets[i + 1] - b->offsets[i];
    for (uint32_t t = 0; t < L; t++) {
      size_t row = b->offsets[i] + t;
      tok[row] = b->tokens[row];
      pos[row] = (int32_t)t;
      ti[row] = (int64_t)row;
      if (t + 1 < L) {
        ans[r] = (int32_t)row;
        tgt[r++] = b->tokens[row + 1];
      }
    }
    ss[i + 1] = (int32_t)b->offsets[i + 1];
  }
  n->T = (int)T;
  n->n_ex = (int)rows;
  n->vocab_mode = 1;
  n->next_token = 1;
  n->width = n->V;
  n->targets = tgt;
  point_indices(n, T, b->n, rows);
  if (n->k->upload(n->ctx, n->idx32, n->h_idx32, (2 * T + b->n + 1 + rows) * sizeof(int32_t)) ||
      n->k->upload(n->ctx, n->idx64, n->h_idx64, T * sizeof(int64_t)))
    return fail(msg, len, LORENS_EDEVICE, "cannot upload the batch");
  return LORENS_OK;
}

/* ---- linear layers with LoRA ------------------------------------------------------------- */

static int lora_on(const lr_net *n, int l, int t) {
  return n->n_mspans > 0 && n->sites[l * N_TGT + t].active;
}

/* Member m's adapters (none for m < 0) on every staged row. */
static void one_span(lr_net *n, int m, uint64_t seed) {
  n->n_mspans = m >= 0;
  n->mspans[0] = (member_span){m, 0, n->T, seed};
}

static real *member_weights(const lr_net *n, int m) {
  return n->members[m].buf;
}

static real *member_grads(const lr_net *n, int m) {
  return n->members[m].buf + n->n_params;
}

/* Where the gradient of a base tensor goes in full training. */
static real *base_grad(const lr_net *n, size_t off) {
  return member_grads(n, 0) + off;
}

static real *layer_grad(const lr_net *n, int l, int slot) {
  return base_grad(n, n->off_layer[l * LORENS_SLOT_COUNT_V1_0 + slot]);
}

/* Whether the backward needs the input of (l, t) rebuilt: for its adapter or its weight grad. */
static int needs_input(const lr_net *n, int l, int t) {
  return n->full || lora_on(n, l, t);
}

static uint32_t dropout_site(int l, int t) {
  return (uint32_t)(l * N_TGT + t);
}

/* y += s * B A dropout(x) over a span's rows (x, y at its first row), keeping dropout(x) A^T
 * for the backward. */
static void lora_forward(lr_net *n, const member_span *sp, int l, int t, const real *x, real *y) {
  const lr_kernels *k = n->k;
  const lora_site *s = &n->sites[l * N_TGT + t];
  int T = sp->rows;
  const real *A = member_weights(n, sp->member) + s->off, *B = A + (size_t)n->rank * s->in;
  const real *xd = x;
  if (n->training && n->dropout > 0) {
    k->dropout(n->ctx, n->drop_in, x, n->token_index + sp->row0, T, s->in, sp->seed,
               n->drop_step, dropout_site(l, t), n->dropout);
    xd = n->drop_in;
  }
  real *u = n->acts[l].lora_u[t] + (size_t)sp->row0 * n->rank;
  k->gemm(n->ctx, 0, 1, T, n->rank, s->in, 1, xd, s->in, A, s->in, 0, u, n->rank);
  k->gemm(n->ctx, 0, 1, T, s->out, n->rank, n->lora_scale, u, n->rank, B, n->rank, 1, y, s->out);
}

/* y = beta * y + x W^T + s * B A dropout(x): the frozen product over every row at once. */
static void linear(lr_net *n, int l, int t, const real *x, real *y, real beta) {
  const lora_site *s = &n->sites[l * N_TGT + t];
  n->k->gemm_frozen(n->ctx, 1, n->T, 1, x, s->in, &n->lw[l].w[t], beta, y, s->out);
  for (int i = 0; lora_on(n, l, t) && i < n->n_mspans; i++) {
    const member_span *sp = &n->mspans[i];
    lora_forward(n, sp, l, t, x + (size_t)sp->row0 * s->in, y + (size_t)sp->row0 * s->out);
  }
}

/* The LoRA path's share of dx and the adapter gradients of (l, t) over a span's rows (dy, x, dx
 * at its first row). */
static void lora_backward(lr_net *n, const member_span *sp, int l, int t, const real *dy,
                          const real *x, real *dx) {
  const lr_kernels *k = n->k;
  const lora_site *s = &n->sites[l * N_TGT + t];
  int T = sp->rows, r = n->rank;
  const real *A = member_weights(n, sp->member) + s->off, *B = A + (size_t)r * s->in;
  real *gA = member_grads(n, sp->member) + s->off, *gB = gA + (size_t)r * s->in;
  const real *u = n->acts[l].lora_u[t] + (size_t)sp->row0 * r, *xd = x;
  const int64_t *index = n->token_index + sp->row0;
  int drop = n->training && n->dropout > 0;
  k->gemm(n->ctx, 1, 0, s->out, r, T, n->lora_scale, dy, s->out, u, r, n->accumulate, gB, r);
  k->gemm(n->ctx, 0, 0, T, r, s->out, n->lora_scale, dy, s->out, B, r, 0, n->ldu, r);
  if (drop) {
    k->dropout(n->ctx, n->drop_in, x, index, T, s->in, sp->seed, n->drop_step,
               dropout_site(l, t), n->dropout);
    xd = n->drop_in;
  }
  k->gemm(n->ctx, 1, 0, r, s->in, T, 1, n->ldu, r, xd, s->in, n->accumulate, gA, s->in);
  if (dx == NULL)
    return;
  if (!drop) {
    k->gemm(n->ctx, 0, 0, T, s->in, r, 1, n->ldu, r, A, s->in, 1, dx, s->in);
    return;
  }
  /* Dropout is linear with the same mask forwards and backwards. */
  k->gemm(n->ctx, 0, 0, T, s->in, r, 1, n->ldu, r, A, s->in, 0, n->drop_grad, s->in);
  k->dropout(n->ctx, n->drop_grad, n->drop_grad, index, T, s->in, sp->seed, n->drop_step,
             dropout_site(l, t), n->dropout);
  k->axpy(n->ctx, (size_t)T * s->in, 1, n->drop_grad, dx);
}

/* dx = beta * dx + dy W (+ the LoRA paths), and the adapter gradients of (l, t); dx NULL: the
 * adapter gradients only. */
static void linear_backward(lr_net *n, int l, int t, const real *dy, const real *x, real *dx,
                            real beta) {
  const lr_kernels *k = n->k;
  const lora_site *s = &n->sites[l * N_TGT + t];
  int T = n->T;
  if (dx)
    k->gemm_frozen(n->ctx, 0, T, 1, dy, s->out, &n->lw[l].w[t], beta, dx, s->in);
  if (n->full) /* dW[out, in] += dy^T x */
    k->gemm(n->ctx, 1, 0, s->out, s->in, T, 1, dy, s->out, x, s->in, 1,
            layer_grad(n, l, target_slot[t]), s->in);
  for (int i = 0; lora_on(n, l, t) && i < n->n_mspans; i++) {
    const member_span *sp = &n->mspans[i];
    lora_backward(n, sp, l, t, dy + (size_t)sp->row0 * s->out, x + (size_t)sp->row0 * s->in,
                  dx ? dx + (size_t)sp->row0 * s->in : NULL);
  }
}

/* ---- forward and backward ------------------------------------------------------------------ */

static void layer_forward(lr_net *n, int l) {
  const lr_kernels *k = n->k;
  const layer_weights *w = &n->lw[l];
  layer_acts *a = &n->acts[l];
  real *att = n->scratch[0], *act = n->scratch[0];
  int T = n->T, D = n->D;
  k->rmsnorm(n->ctx, n->h, a->rstd1, n->xs[l], w->attn_norm, T, D, n->eps);
  linear(n, l, T_Q, n->h, a->q, 0);
  linear(n, l, T_K, n->h, a->k, 0);
  linear(n, l, T_V, n->h, a->v, 0);
  if (w->bias[0])
    k->add_bias(n->ctx, a->q, w->bias[0], T, n->q_dim);
  if (w->bias[1])
    k->add_bias(n->ctx, a->k, w->bias[1], T, n->kv_dim);
  if (w->bias[2])
    k->add_bias(n->ctx, a->v, w->bias[2], T, n->kv_dim);
  k->rope(n->ctx, a->q, n->pos, n->inv_freq, T, n->H, n->hd, 0);
  k->rope(n->ctx, a->k, n->pos, n->inv_freq, T, n->Hkv, n->hd, 0);
  k->attention(n->ctx, att, a->lse, a->q, a->k, a->v, &n->shape);
  k->copy(n->ctx, a->xmid, n->xs[l], (size_t)T * D * sizeof(real));
  linear(n, l, T_O, att, a->xmid, 1);
  if (w->bias[3])
    k->add_bias(n->ctx, a->xmid, w->bias[3], T, D);
  k->rmsnorm(n->ctx, n->h, a->rstd2, a->xmid, w->mlp_norm, T, D, n->eps);
  if (a->g16) { /* only bf16 copies stay: the products go to the two scratch arrays */
    linear(n, l, T_GATE, n->h, act, 0);
    linear(n, l, T_UP, n->h, n->scratch[1], 0);
    k->swiglu_keep(n->ctx, act, a->g16, a->u16, act, n->scratch[1], (size_t)T * n->F);
  } else {
    linear(n, l, T_GATE, n->h, a->g, 0);
    linear(n, l, T_UP, n->h, a->u, 0);
    k->swiglu(n->ctx, act, a->g, a->u, (size_t)T * n->F);
  }
  k->copy(n->ctx, n->xs[l + 1], a->xmid, (size_t)T * D * sizeof(real));
  linear(n, l, T_DOWN, act, n->xs[l + 1], 1);
}

/* Runs the decoder and the head; the logits are left on the device in n->logits. */
static void forward(lr_net *n) {
  const lr_kernels *k = n->k;
  k->embed(n->ctx, n->xs[0], &n->embed, n->tokens, n->T, n->D);
  for (int l = 0; l < n->L; l++)
    layer_forward(n, l);
  k->gather_rows(n->ctx, n->xf_in, n->xs[n->L], n->answer_rows, n->n_ex, n->D);
  k->rmsnorm(n->ctx, n->xf, n->rstdf, n->xf_in, n->final_norm, n->n_ex, n->D, n->eps);
  if (n->vocab_mode)
    k->gemm_frozen(n->ctx, 1, n->n_ex, 1, n->xf, n->D, &n->head, 0, n->logits, n->V);
  else
    k->gather_logits(n->ctx, n->logits, n->xf, &n->head, n->choice_ids, n->n_choices, n->n_ex,
                     n->width, n->D);
}

static void layer_backward(lr_net *n, int l) {
  const lr_kernels *k = n->k;
  const layer_weights *w = &n->lw[l];
  layer_acts *a = &n->acts[l];
  /* Two scratch arrays in turns: each gradient takes the place of an array that is spent. */
  real *act = n->scratch[0], *da = n->scratch[1], *dg = da, *du = act;
  real *att = n->scratch[0], *datt = n->scratch[1], *dq = att, *dh;
  int T = n->T, D = n->D;
  /* x_{l+1} = xmid + down(swiglu(gate(h2), up(h2))), h2 = norm(xmid); n->dx holds dL/dx_{l+1}.
   * Inputs of linear layers are rebuilt only where a LoRA path needs them. */
  if (needs_input(n, l, T_DOWN)) {
    if (a->g16)
      k->swiglu16(n->ctx, act, a->g16, a->u16, (size_t)T * n->F);
    else
      k->swiglu(n->ctx, act, a->g, a->u, (size_t)T * n->F);
  }
  linear_backward(n, l, T_DOWN, n->dx, act, da, 0);
  /* act is spent: du takes its place, and dg overwrites da in place. */
  if (a->g16)
    k->swiglu16_backward(n->ctx, dg, du, da, a->g16, a->u16, (size_t)T * n->F);
  else
    k->swiglu_backward(n->ctx, dg, du, da, a->g, a->u, (size_t)T * n->F);
  if (needs_input(n, l, T_GATE) || needs_input(n, l, T_UP))
    k->rmsnorm(n->ctx, n->h, a->rstd2, a->xmid, w->mlp_norm, T, D, n->eps);
  linear_backward(n, l, T_GATE, dg, n->h, n->dh, 0);
  linear_backward(n, l, T_UP, du, n->h, n->dh, 1);
  k->rmsnorm_backward(n->ctx, n->dx, n->dh, a->xmid, w->mlp_norm, a->rstd2, T, D);
  if (n->full)
    k->rmsnorm_weight_grad(n->ctx, layer_grad(n, l, LORENS_SLOT_MLP_NORM), n->dh, a->xmid,
                           a->rstd2, T, D);
  /* xmid = x_l + o(attention(rope(q(h1)), rope(k(h1)), v(h1))), h1 = norm(x_l). */
  if (needs_input(n, l, T_O)) /* rebuilt only for o's own gradient: attention's needs lse */
    k->attention(n->ctx, att, a->lse, a->q, a->k, a->v, &n->shape);
  linear_backward(n, l, T_O, n->dx, att, datt, 0);
  /* att is spent: dq takes its place. */
  k->attention_backward(n->ctx, dq, n->dk, n->dv, datt, a->lse, a->q, a->k, a->v, &n->shape);
  k->rope(n->ctx, dq, n->pos, n->inv_freq, T, n->H, n->hd, 1);
  k->rope(n->ctx, n->dk, n->pos, n->inv_freq, T, n->Hkv, n->hd, 1);
  if (needs_input(n, l, T_Q) || needs_input(n, l, T_K) || needs_input(n, l, T_V))
    k->rmsnorm(n->ctx, n->h, a->rstd1, n->xs[l], w->attn_norm, T, D, n->eps);
  /* Layer 0's input gradient would reach only the embedding: unless the base trains, it is
   * not made (nor its products' gradient layouts, on the CPU). */
  dh = l > 0 || n->full ? n->dh : NULL;
  linear_backward(n, l, T_Q, dq, n->h, dh, 0);
  linear_backward(n, l, T_K, n->dk, n->h, dh, 1);
  linear_backward(n, l, T_V, n->dv, n->h, dh, 1);
  if (dh == NULL)
    return;
  k->rmsnorm_backward(n->ctx, n->dx, n->dh, n->xs[l], w->attn_norm, a->rstd1, T, D);
  if (n->full)
    k->rmsnorm_weight_grad(n->ctx, layer_grad(n, l, LORENS_SLOT_ATTN_NORM), n->dh, n->xs[l],
                           a->rstd1, T, D);
}

/* Backward from n->dlogits (on the device) to the gradients of the current member: its adapters,
 * or in full training every base tensor (accumulated, so zeroed first; the head's gradient and
 * the embedding's add up when they are tied).  Full training always has vocabulary logits. */
static void backward(lr_net *n) {
  const lr_kernels *k = n->k;
  int D = n->D;
  if (n->full)
    k->zero(n->ctx, member_grads(n, 0), n->n_params * sizeof(real));
  k->zero(n->ctx, n->dxf, (size_t)n->n_ex * D * sizeof(real));
  if (n->vocab_mode)
    k->gemm_frozen(n->ctx, 0, n->n_ex, 1, n->dlogits, n->V, &n->head, 0, n->dxf, D);
  else
    k->gather_logits_backward(n->ctx, n->dxf, n->dlogits, &n->head, n->choice_ids, n->n_choices,
                              n->n_ex, n->width, D);
  if (n->full) /* dHead[V, D] += dlogits^T xf */
    k->gemm(n->ctx, 1, 0, n->V, D, n->n_ex, 1, n->dlogits, n->V, n->xf, D, 1,
            base_grad(n, n->off_head), D);
  k->zero(n->ctx, n->dxf_in, (size_t)n->n_ex * D * sizeof(real));
  k->rmsnorm_backward(n->ctx, n->dxf_in, n->dxf, n->xf_in, n->final_norm, n->rstdf, n->n_ex, D);
  if (n->full)
    k->rmsnorm_weight_grad(n->ctx, base_grad(n, n->off_final_norm), n->dxf, n->xf_in, n->rstdf,
                           n->n_ex, D);
  k->zero(n->ctx, n->dx, (size_t)n->T * D * sizeof(real));
  k->scatter_add_rows(n->ctx, n->dx, n->dxf_in, n->answer_rows, n->n_ex, D);
  for (int l = n->L - 1; l >= 0; l--)
    layer_backward(n, l);
  if (n->full)
    k->scatter_add_rows(n->ctx, base_grad(n, n->off_embed), n->dx, n->tokens, n->T, D);
}

/* Runs the forward over the staged batch and brings its logits to the host (n->h_logits). */
static lorens_status forward_to_host(lr_net *n, char *msg, size_t len) {
  forward(n);
  /* A kernel's failure (a device error, the CPU's bf16 products) in the device's own words. */
  if (n->k->sync(n->ctx, msg, len))
    return LORENS_EDEVICE;
  if (n->k->download(n->ctx, n->h_logits, n->logits, (size_t)n->n_ex * n->width * sizeof(real)))
    return fail(msg, len, LORENS_EDEVICE, "cannot read logits back");
  return LORENS_OK;
}

/* Sends the logit gradients (n->h_dlogits, scaled by the micro-batch's share) and runs the
 * backward. */
static lorens_status backward_from_host(lr_net *n, char *msg, size_t len) {
  size_t count = (size_t)n->n_ex * n->width;
  if (n->loss_scale != 1)
    for (size_t i = 0; i < count; i++)
      n->h_dlogits[i] *= (real)n->loss_scale;
  if (n->k->upload(n->ctx, n->dlogits, n->h_dlogits, count * sizeof(real)))
    return fail(msg, len, LORENS_EDEVICE, "cannot upload logit gradients");
  backward(n);
  return n->k->sync(n->ctx, msg, len) ? LORENS_EDEVICE : LORENS_OK;
}

/* The loss over b's choices under o from its head rows' logits (host), and their gradients. */
static lorens_status choice_loss(lr_net *n, const lorens_batch *b, const uint32_t *choice_len,
                                 const lr_loss_opts *o, const real *logits, real *dlogits,
                                 lr_loss *out, char *msg, size_t len) {
  if (choice_len == NULL) {
    lr_loss_compute(b, o, n->V, logits, dlogits, out);
    return LORENS_OK;
  }
  real *scores = malloc((size_t)b->n * b->max_choices * sizeof *scores);
  int bad = scores == NULL ||
            lr_loss_multi(b, choice_len, o, n->V, logits, scores, dlogits, out);
  free(scores);
  return bad ? fail(msg, len, LORENS_ENOMEM, "out of memory for the choice scores") : LORENS_OK;
}

/* Forward, the loss on the host (next-token when the staged batch is, else b's choices under o),
 * and backward, for member m on the batch just staged. */
static lorens_status pass(lr_net *n, uint32_t m, const lorens_batch *b, const lr_loss_opts *o,
                          uint64_t seed, uint64_t step, lr_loss *out, char *msg, size_t len) {
  lorens_status rc;
  one_span(n, (int)m, seed);
  n->training = 1;
  n->drop_step = step;
  if ((rc = forward_to_host(n, msg, len)) != LORENS_OK)
    return rc;
  if (n->next_token)
    lr_loss_next_token(n->h_logits, (size_t)n->n_ex, n->V, n->targets, n->h_dlogits, out);
  else if ((rc = choice_loss(n, b, n->choice_len, o, n->h_logits, n->h_dlogits, out, msg, len)) !=
           LORENS_OK)
    return rc;
  return backward_from_host(n, msg, len);
}

/*
 * pass() over micro-batches of whole examples of at most micro_tokens tokens (an example longer
 * than that alone): each is staged and run with its logit gradients scaled by its share of the
 * batch's examples, and every one after the first adds to the gradients, so they sum to the
 * batch's.  The sub-batches keep the batch's token arrays and offsets (offsets[0] need not be 0
 * for stage_batch), so tokens keep their indices in the batch and dropout its masks.
 */
static size_t staged_tokens(const lorens_batch *b, const uint32_t *choice_len, uint32_t i) {
  return b->answer_pos[i] + (choice_len ? lr_choice_rows(b, choice_len, i) : 1);
}

static lorens_status pass_micro(lr_net *n, uint32_t m, const lorens_batch *b,
                                const uint32_t *choice_len, const lr_loss_opts *o, uint64_t seed,
                                uint64_t step, lr_loss *out, char *msg, size_t len) {
  size_t K = b->max_choices, kl_width = o->kl_support == LORENS_SUPPORT_VOCAB ? (size_t)n->V : K;
  lorens_status rc = LORENS_OK;
  for (uint32_t i0 = 0, i1; i0 < b->n && rc == LORENS_OK; i0 = i1) {
    size_t tokens = staged_tokens(b, choice_len, i0);
    lorens_batch sub = *b;
    lr_loss part;
    for (i1 = i0 + 1; i1 < b->n && tokens + staged_tokens(b, choice_len, i1) <= n->micro_tokens;
         i1++)
      tokens += staged_tokens(b, choice_len, i1);
    sub.n = i1 - i0;
    sub.offsets = b->offsets + i0;
    sub.answer_pos = b->answer_pos + i0;
    sub.n_choices = b->n_choices + i0;
    sub.choice_ids = b->choice_ids + i0 * K;
    sub.labels = b->labels + i0;
    sub.kl_target = b->kl_target ? b->kl_target + i0 * kl_width : NULL;
    n->accumulate = i0 > 0;
    n->loss_scale = (double)sub.n / b->n;
    rc = choice_len ? stage_choice_batch(n, &sub, choice_len + (size_t)i0 * K, 1, msg, len)
                    : stage_batch(n, &sub, lr_loss_needs_vocab(o), 1, msg, len);
    if (rc == LORENS_OK && (rc = pass(n, m, &sub, o, seed, step, &part, msg, len)) == LORENS_OK) {
      out->loss += part.loss * n->loss_scale;
      out->ce += part.ce * n->loss_scale;
      out->kl += part.kl * n->loss_scale;
    }
  }
  n->accumulate = 0;
  n->loss_scale = 1;
  return rc;
}

/* Whether b (with choice_len) can be trained under o, the choices objective. */
static lorens_status check_choice_step(const lr_net *n, const lorens_batch *b,
                                       const uint32_t *choice_len, const lr_loss_opts *o,
                                       char *msg, size_t len) {
  lorens_status rc;
  if (o->objective != LORENS_OBJECTIVE_CHOICES)
    return fail(msg, len, LORENS_EINVAL, "unknown objective %d", o->objective);
  if (n->full)
    return fail(msg, len, LORENS_EUNSUPPORTED,
                "full-parameter training supports only the next-token objective");
  if ((rc = check_batch(n, b, choice_len, 1, msg, len)) != LORENS_OK)
    return rc;
  if (choice_len && lr_loss_needs_vocab(o))
    return fail(msg, len, LORENS_EINVAL, "choices of several tokens take the loss and the KL term "
                "over the choices, not the vocabulary");
  if (o->kl_weight != 0 && b->kl_target == NULL)
    return fail(msg, len, LORENS_EINVAL, "kl_weight is %g but the batch has no kl_target",
                (double)o->kl_weight);
  return LORENS_OK;
}

lorens_status lr_net_forward_backward(lr_net *n, uint32_t m, const lorens_batch *b,
                                      const uint32_t *choice_len, const lr_loss_opts *o,
                                      uint64_t seed, uint64_t step, lr_loss *out, char *msg,
                                      size_t len) {
  lorens_status rc;
  if (m >= n->n_members)
    return fail(msg, len, LORENS_EINVAL, "member %u of %u", m, n->n_members);
  if (o->objective == LORENS_OBJECTIVE_NEXT_TOKEN) {
    memset(out, 0, sizeof *out);
    if ((rc = check_lm_batch(n, b, msg, len)) != LORENS_OK || b->n == 0 ||
        (rc = stage_lm_batch(n, b, msg, len)) != LORENS_OK)
      return rc;
    return pass(n, m, b, o, seed, step, out, msg, len);
  }
  if ((rc = check_choice_step(n, b, choice_len, o, msg, len)) != LORENS_OK)
    return rc;
  memset(out, 0, sizeof *out);
  if (b->n == 0)
    return LORENS_OK;
  if (n->micro_tokens > 0)
    return pass_micro(n, m, b, choice_len, o, seed, step, out, msg, len);
  rc = choice_len ? stage_choice_batch(n, b, choice_len, 1, msg, len)
                  : stage_batch(n, b, lr_loss_needs_vocab(o), 1, msg, len);
  if (rc != LORENS_OK)
    return rc;
  return pass(n, m, b, o, seed, step, out, msg, len);
}

lorens_status lr_net_member_grads(lr_net *n, uint32_t m, real *out, char *msg, size_t len) {
  if (m >= n->n_members)
    return fail(msg, len, LORENS_EINVAL, "member %u of %u", m, n->n_members);
  if (n->k->download(n->ctx, out, member_grads(n, (int)m), n->n_params * sizeof(real)))
    return fail(msg, len, LORENS_EDEVICE, "cannot read gradients back");
  return LORENS_OK;
}

real *lr_net_member_weights_host(lr_net *n, uint32_t m) {
  return m < n->n_members ? member_weights(n, (int)m) : NULL;
}

/* ---- session calls ------------------------------------------------------------------------ */

/* Copies one of a member's arrays (0 weights, 2 adam m, 3 adam v) to or from a float array. */
static lorens_status transfer_state(lr_net *n, uint32_t m, int which, float *host, int to_host,
                                    char *msg, size_t len) {
  real *dev = n->members[m].buf + (size_t)which * n->n_params, *tmp;
  size_t count = n->n_params;
  int bad;
  if (host == NULL || count == 0)
    return LORENS_OK;
  tmp = malloc(count * sizeof *tmp);
  if (tmp == NULL)
    return fail(msg, len, LORENS_ENOMEM, "out of memory");
  if (to_host) {
    bad = n->k->download(n->ctx, tmp, dev, count * sizeof *tmp);
    for (size_t i = 0; !bad && i < count; i++)
      host[i] = (float)tmp[i];
  } else {
    for (size_t i = 0; i < count; i++)
      tmp[i] = (real)host[i];
    bad = n->k->upload(n->ctx, dev, tmp, count * sizeof *tmp);
  }
  free(tmp);
  return bad ? fail(msg, len, LORENS_EDEVICE, "cannot copy member %u state", m) : LORENS_OK;
}

lorens_status lr_net_member_get(lr_net *n, uint32_t m, lorens_member_state *out, char *msg,
                                size_t len) {
  lorens_status rc;
  if (m >= n->n_members)
    return fail(msg, len, LORENS_EINVAL, "member %u of %u", m, n->n_members);
  if ((rc = transfer_state(n, m, 0, out->weights, 1, msg, len)) != LORENS_OK ||
      (rc = transfer_state(n, m, 2, out->adam_m, 1, msg, len)) != LORENS_OK ||
      (rc = transfer_state(n, m, 3, out->adam_v, 1, msg, len)) != LORENS_OK)
    return rc;
  out->step = n->members[m].step;
  return LORENS_OK;
}

lorens_status lr_net_member_set(lr_net *n, uint32_t m, const lorens_member_state *in, char *msg,
                                size_t len) {
  lorens_status rc;
  if (m >= n->n_members)
    return fail(msg, len, LORENS_EINVAL, "member %u of %u", m, n->n_members);
  if (in->step < 0)
    return fail(msg, len, LORENS_EINVAL, "negative optimizer step %lld", (long long)in->step);
  if ((rc = transfer_state(n, m, 0, in->weights, 0, msg, len)) != LORENS_OK ||
      (rc = transfer_state(n, m, 2, in->adam_m, 0, msg, len)) != LORENS_OK ||
      (rc = transfer_state(n, m, 3, in->adam_v, 0, msg, len)) != LORENS_OK)
    return rc;
  n->members[m].step = in->step;
  return LORENS_OK;
}

/* Clips the member's gradients to grad_clip (PyTorch's clip_grad_norm_) and applies AdamW. */
static void optimizer_step(lr_net *n, uint32_t m, const lorens_train_args *a, double norm,
                           real decay_a, real decay_b) {
  const lr_kernels *k = n->k;
  real *w = member_weights(n, (int)m), *g = member_grads(n, (int)m);
  real *mom = w + 2 * n->n_params, *var = w + 3 * n->n_params;
  int64_t step = ++n->members[m].step;
  if (a->grad_clip > 0) {
    double coef = a->grad_clip / (norm + 1e-6);
    if (coef < 1)
      k->scale(n->ctx, g, n->n_params, (real)coef);
  }
  for (size_t i = 0; i < n->n_spans; i++) {
    const param_span *p = &n->spans[i];
    k->adamw(n->ctx, w + p->off, g + p->off, mom + p->off, var + p->off, p->count,
             (real)a->lr[m], (real)a->adam_beta1, (real)a->adam_beta2, (real)a->adam_eps,
             p->decay ? decay_b : decay_a, step);
  }
}

/* The L2 penalty's gradient decay * w added to the member's gradients; returns the penalty. */
static double add_l2(lr_net *n, uint32_t m, real decay_a, real decay_b) {
  const lr_kernels *k = n->k;
  real *w = member_weights(n, (int)m), *g = member_grads(n, (int)m);
  double penalty = 0;
  for (size_t i = 0; i < n->n_spans; i++) {
    const param_span *p = &n->spans[i];
    real decay = p->decay ? decay_b : decay_a;
    penalty += 0.5 * decay * k->sumsq(n->ctx, w + p->off, p->count);
    k->axpy(n->ctx, p->count, decay, w + p->off, g + p->off);
  }
  return penalty;
}

/* Member m's choice lengths in a training step (NULL: choices of one token). */
static const uint32_t *step_choice_len(const lorens_train_args *a, uint32_t m) {
  return LORENS_HAS_FIELD(a, lorens_train_args, choice_len) && a->choice_len ? a->choice_len[m]
                                                                             : NULL;
}

/* Whether a step stacks its members: asked for at open, the choices objective, two members or
 * more with examples, all with choices of one token or all of several, and no micro-batches
 * (which bound activation memory; stacking multiplies it). */
static int stacks(const lr_net *n, const lorens_train_args *a, const lr_loss_opts *o) {
  uint32_t with = 0, multi = 0;
  if (!n->stack || n->full || n->micro_tokens > 0 || o->objective != LORENS_OBJECTIVE_CHOICES)
    return 0;
  for (uint32_t m = 0; m < n->n_members; m++)
    if (a->batches[m].n) {
      with++;
      multi += step_choice_len(a, m) != NULL;
    }
  return with >= 2 && (multi == 0 || multi == with);
}

/* Gives each member of the stacked batch its rows (one span each), and its tokens their indices
 * within its own batch (which key its dropout masks, as when it runs alone); head[m] is where
 * its head rows start. */
static void stacked_spans(lr_net *n, const lr_stacked_batch *sb, const lorens_train_args *a,
                          size_t *head) {
  const int32_t *ss = n->h_idx32 + 2 * (size_t)n->T; /* as point_indices staged them */
  size_t h = 0;
  n->n_mspans = 0;
  for (uint32_t m = 0; m < n->n_members; m++) {
    uint32_t f0 = sb->first[m], f1 = sb->first[m + 1];
    head[m] = h;
    if (f0 == f1)
      continue;
    for (int32_t r = ss[f0]; r < ss[f1]; r++)
      n->h_idx64[r] -= sb->token_base[m];
    n->mspans[n->n_mspans++] =
        (member_span){(int)m, ss[f0], ss[f1] - ss[f0], a->dropout_seeds ? a->dropout_seeds[m] : 0};
    for (uint32_t i = f0; i < f1; i++)
      h += sb->choice_len ? lr_choice_rows(&sb->all, sb->choice_len, i) : 1;
  }
}

/* One forward and backward over every member's batch at once (members stacked): out[m] gets
 * member m's loss, and its gradient buffer its gradients, as lr_net_forward_backward would. */
static lorens_status pass_stacked(lr_net *n, const lorens_train_args *a, const lr_loss_opts *o,
                                  lr_loss *out, char *msg, size_t len) {
  lr_stacked_batch sb;
  const uint32_t **lens = calloc(n->n_members, sizeof *lens);
  size_t *head = calloc(n->n_members, sizeof *head);
  lorens_status rc = lens && head ? LORENS_OK : fail(msg, len, LORENS_ENOMEM, "out of memory");
  for (uint32_t m = 0; rc == LORENS_OK && m < n->n_members; m++) {
    lens[m] = step_choice_len(a, m);
    if (a->batches[m].n)
      rc = check_choice_step(n, &a->batches[m], lens[m], o, msg, len);
  }
  if (rc != LORENS_OK ||
      lr_stacked_batch_make(&sb, a->batches, lens, n->n_members,
                            o->kl_support == LORENS_SUPPORT_VOCAB ? (size_t)n->V : 0) != 0) {
    free(lens);
    free(head);
    return rc != LORENS_OK ? rc : fail(msg, len, LORENS_ENOMEM, "out of memory");
  }
  rc = sb.choice_len ? stage_choice_batch(n, &sb.all, sb.choice_len, 1, msg, len)
                     : stage_batch(n, &sb.all, lr_loss_needs_vocab(o), 1, msg, len);
  if (rc == LORENS_OK) {
    stacked_spans(n, &sb, a, head);
    if (n->k->upload(n->ctx, n->idx64, n->h_idx64, (size_t)n->T * sizeof(int64_t)))
      rc = fail(msg, len, LORENS_EDEVICE, "cannot upload the batch");
  }
  n->training = 1;
  n->drop_step = a->dropout_step;
  if (rc == LORENS_OK)
    rc = forward_to_host(n, msg, len);
  for (uint32_t m = 0; rc == LORENS_OK && m < n->n_members; m++) {
    size_t at = head[m] * (size_t)n->width;
    memset(&out[m], 0, sizeof out[m]);
    if (sb.views[m].n)
      rc = choice_loss(n, &sb.views[m], sb.choice_len ? sb.choice_len + (size_t)sb.first[m] *
                                                            sb.all.max_choices : NULL,
                       o, n->h_logits + at, n->h_dlogits + at, &out[m], msg, len);
  }
  if (rc == LORENS_OK)
    rc = backward_from_host(n, msg, len);
  n->choice_len = NULL; /* the stacked batch's, freed here */
  lr_stacked_batch_free(&sb);
  free(lens);
  free(head);
  return rc;
}

/* After member m's forward and backward: the L2 penalty, the gradient norm, AdamW, and what the
 * step reports for it. */
static void finish_member(lr_net *n, uint32_t m, const lorens_train_args *a, int l2,
                          const lr_loss *loss) {
  double penalty = l2 ? add_l2(n, m, (real)a->weight_decay_a, (real)a->weight_decay_b) : 0;
  double norm = sqrt(n->k->sumsq(n->ctx, member_grads(n, (int)m), n->n_params));
  optimizer_step(n, m, a, norm, l2 ? 0 : (real)a->weight_decay_a,
                 l2 ? 0 : (real)a->weight_decay_b);
  if (a->loss)
    a->loss[m] = (float)(loss->loss + penalty);
  if (a->ce)
    a->ce[m] = (float)loss->ce;
  if (a->kl)
    a->kl[m] = (float)loss->kl;
  if (a->grad_norm)
    a->grad_norm[m] = (float)norm;
}

lorens_status lr_net_train_step(lr_net *n, const lorens_train_args *a, char *msg, size_t len) {
  lr_loss_opts o;
  lr_loss *losses;
  lorens_status rc = LORENS_OK;
  int l2, stacked;
  if (a->struct_size < LORENS_TRAIN_ARGS_SIZE_1_0 || a->batches == NULL || a->lr == NULL)
    return fail(msg, len, LORENS_EINVAL, "train arguments incomplete");
  l2 = a->struct_size >= offsetof(lorens_train_args, weight_decay_mode) + sizeof(int32_t) &&
       a->weight_decay_mode == LORENS_WD_L2;
  if (a->struct_size >= offsetof(lorens_train_args, weight_decay_mode) + sizeof(int32_t) &&
      a->weight_decay_mode != LORENS_WD_L2 && a->weight_decay_mode != LORENS_WD_DECOUPLED)
    return fail(msg, len, LORENS_EINVAL, "unknown weight_decay_mode %d", a->weight_decay_mode);
  o.loss_support = a->loss_support;
  o.kl_weight = a->kl_weight;
  o.kl_support = a->kl_support;
  o.kl_direction = a->kl_direction;
  o.objective = a->struct_size >= offsetof(lorens_train_args, objective) + sizeof(int32_t)
                    ? a->objective
                    : LORENS_OBJECTIVE_CHOICES;
  if (o.objective == LORENS_OBJECTIVE_NEXT_TOKEN && a->kl_weight != 0)
    return fail(msg, len, LORENS_EINVAL, "the next-token objective has no KL term (kl_weight %g)",
                (double)a->kl_weight);
  if ((losses = calloc(n->n_members, sizeof *losses)) == NULL)
    return fail(msg, len, LORENS_ENOMEM, "out of memory");
  stacked = stacks(n, a, &o);
  if (stacked)
    rc = pass_stacked(n, a, &o, losses, msg, len);
  for (uint32_t m = 0; rc == LORENS_OK && m < n->n_members; m++) {
    if (a->batches[m].n == 0)
      continue;
    if (!stacked)
      rc = lr_net_forward_backward(n, m, &a->batches[m], step_choice_len(a, m), &o,
                                   a->dropout_seeds ? a->dropout_seeds[m] : 0, a->dropout_step,
                                   &losses[m], msg, len);
    if (rc == LORENS_OK)
      finish_member(n, m, a, l2, &losses[m]);
  }
  free(losses);
  if (rc != LORENS_OK)
    return rc;
  return n->k->sync(n->ctx, msg, len) ? LORENS_EDEVICE : LORENS_OK;
}

/* Log-softmax of a vocabulary row, into float output. */
static void vocab_logprobs(const real *row, int V, float *out) {
  double mx = -INFINITY, sum = 0;
  for (int j = 0; j < V; j++)
    mx = row[j] > mx ? row[j] : mx;
  for (int j = 0; j < V; j++)
    sum += exp(row[j] - mx);
  for (int j = 0; j < V; j++)
    out[j] = (float)(row[j] - mx - log(sum));
}

static lorens_status score_one(lr_net *n, int which, const lorens_score_args *a,
                               const uint32_t *choice_len, size_t slot, char *msg, size_t len) {
  const lorens_batch *b = a->batch;
  int vocab = a->vocab_logprobs != NULL;
  lorens_status rc = choice_len ? stage_choice_batch(n, b, choice_len, 0, msg, len)
                                : stage_batch(n, b, vocab, 0, msg, len);
  if (rc != LORENS_OK)
    return rc;
  one_span(n, which, 0);
  n->training = 0;
  if ((rc = forward_to_host(n, msg, len)) != LORENS_OK)
    return rc;
  if (choice_len) {
    size_t count = (size_t)b->n * b->max_choices;
    real *scores = malloc(count * sizeof *scores);
    int bad = scores == NULL ||
              lr_loss_multi(b, choice_len, NULL, n->V, n->h_logits, scores, NULL, NULL);
    for (uint32_t i = 0; !bad && a->choice_logits && i < b->n; i++)
      for (uint32_t c = 0; c < b->n_choices[i]; c++)
        a->choice_logits[(slot * b->n + i) * b->max_choices + c] =
            (float)scores[(size_t)i * b->max_choices + c];
    free(scores);
    return bad ? fail(msg, len, LORENS_ENOMEM, "out of memory for the choice scores") : LORENS_OK;
  }
  for (uint32_t i = 0; i < b->n; i++) {
    const real *row = n->h_logits + (size_t)i * n->width;
    float *cl = a->choice_logits ? a->choice_logits + (slot * b->n + i) * b->max_choices : NULL;
    for (uint32_t c = 0; cl && c < b->n_choices[i]; c++)
      cl[c] = (float)(vocab ? row[b->choice_ids[(size_t)i * b->max_choices + c]] : row[c]);
    if (vocab)
      vocab_logprobs(row, n->V, a->vocab_logprobs + (slot * b->n + i) * (size_t)n->V);
  }
  return LORENS_OK;
}

lorens_status lr_net_score(lr_net *n, const lorens_score_args *a, char *msg, size_t len) {
  const uint32_t *choice_len;
  lorens_status rc;
  if (a->struct_size < LORENS_SCORE_ARGS_SIZE_1_0 || a->batch == NULL)
    return fail(msg, len, LORENS_EINVAL, "score arguments incomplete");
  choice_len = LORENS_HAS_FIELD(a, lorens_score_args, choice_len) ? a->choice_len : NULL;
  if (a->member < LORENS_SCORE_ALL || a->member >= (int32_t)n->n_members)
    return fail(msg, len, LORENS_EINVAL, "no member %d (session has %u)", a->member, n->n_members);
  if (choice_len && a->vocab_logprobs)
    return fail(msg, len, LORENS_EINVAL, "vocabulary log-probabilities are for choices of one "
                "token; these take several");
  if ((rc = check_batch(n, a->batch, choice_len, 0, msg, len)) != LORENS_OK || a->batch->n == 0)
    return rc;
  if (a->member != LORENS_SCORE_ALL)
    return score_one(n, a->member, a, choice_len, 0, msg, len);
  for (uint32_t m = 0; m < n->n_members; m++)
    if ((rc = score_one(n, (int)m, a, choice_len, m, msg, len)) != LORENS_OK)
      return rc;
  return LORENS_OK;
}
