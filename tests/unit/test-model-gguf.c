/*
 * test-model-gguf.c: lr_model_load on GGUF files written by tests/gguf-writer.c: a tiny F32 llama
 * whose values name their GGUF row, so that the q/k un-permutation can be read off exactly, and
 * one broken variant per refusal of src/model/model-gguf.c, each checked for its message.
 */
#include "compat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gguf-writer.h"
#include "../tap.h"
#include "../tmpdir.h"
#include "model/model.h"

enum { DIM = 8, HEADS = 2, KV = 1, HD = 4, FF = 32, VOCAB = 10 };

/* What to break in the tiny model. */
typedef struct knobs {
  const char *arch;      /* default "llama" */
  bool heads_array;      /* head_count as a per-layer array ... */
  uint32_t heads_second; /* ... whose second element is this */
  int64_t k_rows;        /* attn_k's rows (default KV * HD) */
  const char *rope_type; /* rope.scaling.type */
  bool llama_bias;       /* blk.0.attn_q.bias in a llama */
  uint32_t v_type;       /* attn_v's ggml type (default F32) */
  bool no_ffn_up;
  uint32_t vocab_key;    /* llama.vocab_size, when not 0 */
  uint32_t rope_dim;     /* rope.dimension_count, when not 0 */
  bool output;           /* an output.weight: untied */
} knobs;

/* rows x cols F32 values; element (r, c) = r * 100 + c + base. */
static void add_matrix(gguf_writer *w, const char *name, int64_t rows, int64_t cols, float base) {
  float *v = malloc((size_t)(rows * cols) * sizeof *v);
  uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++)
      v[r * cols + c] = (float)(r * 100 + c) + base;
  gw_tensor(w, name, 2, ne, GW_F32, v,
            (size_t)(rows * cols) * sizeof *v);
  free(v);
}

static void add_vector(gguf_writer *w, const char *name, int64_t n) {
  float *v = malloc((size_t)n * sizeof *v);
  uint64_t ne[1] = {(uint64_t)n};
  for (int64_t i = 0; i < n; i++)
    v[i] = 1.0f;
  gw_tensor(w, name, 1, ne, GW_F32, v, (size_t)n * sizeof *v);
  free(v);
}

static int write_model(const char *path, const knobs *k) {
  const char *arch = k->arch ? k->arch : "llama";
  char key[128];
  gguf_writer w;
  gguf_buf out = {0};
  int rc;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", arch);
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
  gw_kv_int(&w, KEY("context_length"), GW_UINT32, 16);
  gw_kv_int(&w, KEY("embedding_length"), GW_UINT32, DIM);
  gw_kv_int(&w, KEY("block_count"), GW_UINT32, 1);
  gw_kv_int(&w, KEY("feed_forward_length"), GW_UINT32, FF);
  if (k->heads_array) {
    uint32_t h[2] = {HEADS, k->heads_second};
    gw_kv_array(&w, KEY("attention.head_count"), GW_UINT32, 2, h, sizeof h);
  } else {
    gw_kv_int(&w, KEY("attention.head_count"), GW_UINT32, HEADS);
  }
  gw_kv_int(&w, KEY("attention.head_count_kv"), GW_UINT32, KV);
  gw_kv_f32(&w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
  gw_kv_f32(&w, KEY("rope.freq_base"), 500000.0f);
  if (k->rope_type)
    gw_kv_str(&w, KEY("rope.scaling.type"), k->rope_type);
  if (k->vocab_key)
    gw_kv_int(&w, KEY("vocab_size"), GW_UINT32, k->vocab_key);
  if (k->rope_dim)
    gw_kv_int(&w, KEY("rope.dimension_count"), GW_UINT32, k->rope_dim);
#undef KEY
  add_matrix(&w, "token_embd.weight", VOCAB, DIM, 0);
  add_vector(&w, "output_norm.weight", DIM);
  if (k->output)
    add_matrix(&w, "output.weight", VOCAB, DIM, 0.25f);
  add_vector(&w, "blk.0.attn_norm.weight", DIM);
  add_matrix(&w, "blk.0.attn_q.weight", HEADS * HD, DIM, 0);
  add_matrix(&w, "blk.0.attn_k.weight", k->k_rows ? k->k_rows : KV * HD, DIM, 0);
  if (k->v_type) {
    uint64_t ne[2] = {DIM, KV * HD};
    gw_tensor(&w, "blk.0.attn_v.weight", 2, ne, k->v_type, NULL, (size_t)DIM * KV * HD);
  } else {
    add_matrix(&w, "blk.0.attn_v.weight", KV * HD, DIM, 0);
  }
  add_matrix(&w, "blk.0.attn_output.weight", DIM, HEADS * HD, 0);
  add_vector(&w, "blk.0.ffn_norm.weight", DIM);
  add_matrix(&w, "blk.0.ffn_gate.weight", FF, DIM, 0);
  if (!k->no_ffn_up)
    add_matrix(&w, "blk.0.ffn_up.weight", FF, DIM, 0);
  add_matrix(&w, "blk.0.ffn_down.weight", DIM, FF, 0);
  if (k->llama_bias)
    add_vector(&w, "blk.0.attn_q.bias", HEADS * HD);
  gw_build(&w, &out);
  rc = gw_write_file(path, out.p, out.len);
  gb_release(&out);
  gw_release(&w);
  return rc;
}

static char dir[512];

/* Loads the variant; returns its status, with the message in msg. */
static lr_status load(const char *name, const knobs *k, lr_model *m, char *msg, size_t n) {
  char path[700];
  lr_err err;
  lr_status rc;
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
  if (write_model(path, k) != 0) {
    snprintf(msg, n, "cannot write %s", path);
    return LR_EIO;
  }
  rc = lr_model_load(path, m, &err);
  snprintf(msg, n, "%s", err.msg);
  return rc;
}

static void refused(const char *name, knobs k, lr_status want, const char *needle) {
  lr_model m;
  char msg[LR_ERR_MSG_MAX + 64];
  lr_status rc = load(name, &k, &m, msg, sizeof msg);
  tap_is_int(rc, want, "%s: refused", name);
  tap_like(msg, needle, "%s: the message says why", name);
  lr_model_release(&m);
}

/* HF row R of a permuted matrix with `heads` heads came from GGUF row g(R). */
static int64_t gguf_row(int64_t R, int64_t heads, int64_t rows) {
  int64_t hd = rows / heads, half = hd / 2, h = R / hd, r = R % hd;
  int64_t j = r / half, i = r % half;
  return h * hd + 2 * i + j;
}

static void check_good(void) {
  lr_model m;
  char msg[LR_ERR_MSG_MAX + 64];
  knobs k = {0};
  if (!tap_is_int(load("good", &k, &m, msg, sizeof msg), LR_OK, "the tiny llama loads")) {
    tap_diag("%s", msg);
    return;
  }
  const lorens_model *a = &m.abi;
  tap_ok(a->dim == DIM && a->n_heads == HEADS && a->n_kv_heads == KV && a->head_dim == HD &&
             a->hidden_dim == FF && a->vocab_size == VOCAB && a->n_layers == 1 &&
             a->max_position_embeddings == 16 && a->rope_theta == 500000.0f &&
             a->rms_norm_eps == 1e-6f && a->tie_word_embeddings && a->lm_head.data == NULL,
         "config from the keys, vocab from token_embd, tied without output.weight");
  tap_is_str(lr_model_arch_name(m.config.arch), "llama", "architecture llama");
  tap_ok(m.n_files == 0 && m.n_copies == 2 && m.gguf != NULL &&
             m.n_params == (uint64_t)(VOCAB * DIM + DIM) + DIM * 2 + HEADS * HD * DIM * 2 +
                               KV * HD * DIM * 2 + FF * DIM * 3,
         "only q and k copied (their rows reordered), the rest read in place (%zu copies), "
         "parameters counted (%llu)",
         m.n_copies, (unsigned long long)m.n_params);
  const lorens_tensor *q = &a->layers[LORENS_SLOT_Q], *kk = &a->layers[LORENS_SLOT_K],
                      *v = &a->layers[LORENS_SLOT_V], *o = &a->layers[LORENS_SLOT_O];
  tap_ok(q->dtype == LORENS_DTYPE_F32 && q->ndim == 2 && q->shape[0] == HEADS * HD &&
             q->shape[1] == DIM && o->shape[0] == DIM && o->shape[1] == HEADS * HD,
         "shapes in HF order ([out, in])");
  bool q_ok = true, k_ok = true, v_ok = true;
  for (int64_t R = 0; R < HEADS * HD; R++)
    q_ok &= ((const float *)q->data)[R * DIM + 3] == (float)(gguf_row(R, HEADS, HEADS * HD) * 100 + 3);
  for (int64_t R = 0; R < KV * HD; R++)
    k_ok &= ((const float *)kk->data)[R * DIM + 5] == (float)(gguf_row(R, KV, KV * HD) * 100 + 5);
  for (int64_t R = 0; R < KV * HD; R++)
    v_ok &= ((const float *)v->data)[R * DIM + 1] == (float)(R * 100 + 1);
  tap_ok(q_ok, "q: HF row h*hd + j*hd/2 + i holds GGUF row h*hd + 2i + j (over the heads)");
  tap_ok(k_ok, "k: the same over the KV heads");
  tap_ok(v_ok, "v: rows as stored");
  /* HF q row 1 is GGUF row 2; row 2 is GGUF row 1 (hd 4: half 2). */
  tap_ok(((const float *)q->data)[1 * DIM] == 200.0f && ((const float *)q->data)[2 * DIM] == 100.0f,
         "q row 1 is GGUF row 2, row 2 is GGUF row 1");
  lr_model_release(&m);

  k.output = true;
  k.arch = "qwen2";
  refused("qwen2-nobias", k, LR_ENOTFOUND, "missing tensor 'blk.0.attn_q.bias'");
}

int main(void) {
  knobs k;
  if (tmpdir_make(dir, sizeof dir, "model-gguf") != 0)
    tap_skip_all("cannot make a temporary directory");
  check_good();
  {
    lr_model m;
    char msg[LR_ERR_MSG_MAX + 64];
    k = (knobs){.output = true, .heads_array = true, .heads_second = HEADS};
    tap_is_int(load("untied", &k, &m, msg, sizeof msg), LR_OK, "an output.weight and a uniform "
               "head_count array load");
    tap_ok(!m.abi.tie_word_embeddings && m.abi.lm_head.data != NULL &&
               ((const float *)m.abi.lm_head.data)[0] == 0.25f && m.abi.n_heads == HEADS,
           "the head is output.weight, the heads the array's");
    lr_model_release(&m);
  }
  refused("qwen3", (knobs){.arch = "qwen3"}, LR_EUNSUPPORTED,
          "GGUF architecture 'qwen3' is not supported (supported: llama, qwen2)");
  refused("heads-vary", (knobs){.heads_array = true, .heads_second = 4}, LR_EUNSUPPORTED,
          "key 'llama.attention.head_count' differs between layers (2 in layer 0, 4 in layer 1)");
  refused("k-shape", (knobs){.k_rows = 8}, LR_EPARSE,
          "tensor 'blk.0.attn_k.weight' has shape [8, 8] (HF order), expected [4, 8] = "
          "[head_count_kv*head_dim, embedding_length]");
  refused("yarn", (knobs){.rope_type = "yarn"}, LR_EUNSUPPORTED,
          "llama.rope.scaling.type = 'yarn': RoPE scaling is not supported");
  refused("llama-bias", (knobs){.llama_bias = true}, LR_EUNSUPPORTED,
          "tensor 'blk.0.attn_q.bias': attention biases are not supported in a GGUF 'llama' model");
  refused("i8", (knobs){.v_type = 24}, LR_EUNSUPPORTED,
          "tensor 'blk.0.attn_v.weight' has ggml type I8; lorens reads");
  refused("no-up", (knobs){.no_ffn_up = true}, LR_ENOTFOUND, "missing tensor 'blk.0.ffn_up.weight'");
  refused("vocab-key", (knobs){.vocab_key = 12}, LR_EPARSE,
          "llama.vocab_size is 12 but tensor 'token_embd.weight' has 10 rows");
  refused("rope-dim", (knobs){.rope_dim = 2}, LR_EUNSUPPORTED,
          "llama.rope.dimension_count (2) is not the head dimension (4)");
  tmpdir_remove(dir);
  return tap_done();
}
