/*
 * test-gguf-model.c: GGUF models loaded by lorens against transformers' own GGUF loading.
 *
 * tests/fixtures/make_gguf_reference.py wrote a tiny random llama (q/k rows permuted as
 * llama.cpp's converter permutes them, tied head) and qwen2 (untied, q/k/v biases, not permuted),
 * their tensors in a mix of F32, F16, BF16, Q4_0..Q8_0 and K-quants, and the next-token logits
 * transformers computes in float64 after from_pretrained(dir, gguf_file=...) (which dequantizes
 * and un-permutes).  This test loads each file with lr_model_load, runs the fp32 driver (the code
 * the CPU plugin is built from) at every position of three prompts and compares the
 * log-probabilities.  Then it puts the llama's q/k rows back into the file's order, as a loader
 * that forgot the un-permutation would leave them, and checks that the comparison fails: a wrong
 * permutation still writes plausible text, so only this catches it.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cpu-kernels.h"
#include "llama-lora.h"
#include "model/base-convert.h"
#include "model/model.h"
#include "quant.h"
#include "model/safetensors.h"

#define LOGIT_TOL 1e-4 /* on the scale of the log-probabilities, as test-reference.c */

/* max |got - want| over the largest |want|. */
static double scaled_err(const float *got, const float *want, size_t n) {
  double worst = 0, scale = 1e-12;
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs((double)got[i] - want[i]));
    scale = fmax(scale, fabs((double)want[i]));
  }
  return worst / scale;
}

/* The worst scaled error over the three prompts of arch, log-probabilities at every position. */
static double compare(const lorens_model *model, const lr_st_file *ref, const char *arch) {
  lorens_session_desc d = {.struct_size = sizeof d, .n_members = 1, .model = model,
                           .lora_targets = LORENS_LORA_Q, .lora_rank = 1, .lora_alpha = 1,
                           .n_threads = 1};
  lr_cpu_ctx ctx = {.n_threads = 1};
  lr_kernels k;
  lr_net *net = NULL;
  char msg[LORENS_MSG_MAX] = "";
  double worst = INFINITY;
  lr_cpu_kernels_init(&k, &ctx);
  if (lr_net_open(&k, &d, &net, msg, sizeof msg) != LORENS_OK) {
    tap_diag("driver: %s", msg);
    lr_cpu_ctx_release(&ctx);
    return worst;
  }
  worst = 0;
  for (int p = 0; p < 3; p++) {
    char name[64];
    snprintf(name, sizeof name, "%s.prompt%d.tokens", arch, p);
    const lr_st_tensor *tok = lr_st_find(ref, name);
    snprintf(name, sizeof name, "%s.prompt%d.logits", arch, p);
    const lr_st_tensor *logits = lr_st_find(ref, name);
    if (tok == NULL || logits == NULL) {
      tap_diag("the fixture lacks %s", name);
      worst = INFINITY;
      break;
    }
    uint32_t len = (uint32_t)tok->numel, V = (uint32_t)model->vocab_size;
    float *lp = malloc((size_t)len * V * sizeof *lp), *want = malloc((size_t)len * V * sizeof *want);
    /* One example per prefix: the log-probabilities at position t are those after tokens 0..t. */
    for (uint32_t t = 0; t < len; t++) {
      uint32_t off[2] = {0, t + 1}, pos = t, nc = 1;
      int32_t cid = 0;
      lorens_batch b = {1, 1, tok->data, off, &pos, &nc, &cid, NULL, NULL};
      lorens_score_args sa = {sizeof sa, &b, LORENS_SCORE_BASE, NULL, lp + (size_t)t * V, NULL};
      lr_net_score(net, &sa, msg, sizeof msg);
      const float *row = (const float *)logits->data + (size_t)t * V;
      double mx = -INFINITY, sum = 0;
      for (uint32_t j = 0; j < V; j++)
        mx = fmax(mx, row[j]);
      for (uint32_t j = 0; j < V; j++)
        sum += exp(row[j] - mx);
      for (uint32_t j = 0; j < V; j++)
        want[(size_t)t * V + j] = (float)(row[j] - mx - log(sum));
    }
    worst = fmax(worst, scaled_err(lp, want, (size_t)len * V));
    free(lp);
    free(want);
  }
  lr_net_close(net);
  lr_cpu_ctx_release(&ctx);
  return worst;
}

/* llama.cpp's permutation (convert_hf_to_gguf.py LlamaModel.permute) applied in place to the
 * rows of a matrix in its stored type (quant blocks move with their row): HF row
 * h*hd + j*half + i goes to row h*hd + 2i + j. */
static void permute_rows(const lorens_tensor *t, int heads) {
  int64_t rows = t->shape[0], hd = rows / heads, half = hd / 2;
  int type = lr_quant_type_of_dtype(t->dtype);
  size_t rb = 0;
  unsigned char *w = (unsigned char *)t->data, *tmp;
  if (lr_quant_row_bytes(type, (size_t)t->shape[1], &rb) != LORENS_OK ||
      (tmp = malloc((size_t)rows * rb)) == NULL)
    return;
  for (int64_t h = 0; h < heads; h++)
    for (int64_t i = 0; i < half; i++)
      for (int64_t j = 0; j < 2; j++)
        memcpy(tmp + (size_t)(h * hd + 2 * i + j) * rb, w + (size_t)(h * hd + j * half + i) * rb, rb);
  memcpy(w, tmp, (size_t)rows * rb);
  free(tmp);
}

static void check_model(const char *fixtures, const lr_st_file *ref, const char *arch) {
  char path[1100];
  lr_model model;
  lr_err err;
  double e;
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/gguf-tiny/%s.gguf", fixtures, arch);
  if (!tap_ok(lr_model_load(path, &model, &err) == LR_OK, "%s.gguf loads", arch)) {
    tap_diag("%s", err.msg);
    return;
  }
  const lorens_model *a = &model.abi;
  bool llama = strcmp(arch, "llama") == 0;
  tap_ok(a->vocab_size == 96 && a->dim == 64 && a->hidden_dim == 256 && a->n_layers == 2 &&
             a->n_heads == 4 && a->n_kv_heads == 2 && a->head_dim == 16 &&
             a->max_position_embeddings == 128 && fabsf(a->rms_norm_eps - 1e-5f) < 1e-12f &&
             a->rope_theta == 10000.0f && a->rope_scaling == LORENS_ROPE_NONE,
         "%s: the config comes from the %s.* keys and token_embd", arch, arch);
  tap_ok(a->tie_word_embeddings == llama && (a->lm_head.data == NULL) == llama,
         "%s: the head is %s", arch, llama ? "tied (no output.weight)" : "output.weight");
  tap_ok((a->layers[LORENS_SLOT_Q_BIAS].data != NULL) == !llama,
         "%s: q/k/v biases %s", arch, llama ? "absent" : "bound");
  e = compare(&model.abi, ref, arch);
  tap_ok(e < LOGIT_TOL, "%s: log-probabilities at every position of 3 prompts match transformers "
         "(err %.2e)", arch, e);
  tap_ok((model.dtypes >> 3) != 0 && model.abi.layers[LORENS_SLOT_GATE].dtype >=
             LORENS_DTYPE_GGML_BASE, "%s: quantized tensors stay quantized (dtypes 0x%llx)", arch,
         (unsigned long long)model.dtypes);
  {
    /* What a backend that takes only F32/F16/BF16 gets: the host's dequantized copies. */
    lr_base_view v;
    lr_status vrc = lr_base_view_init(&v, &model.abi, NULL, &err);
    if (tap_ok(vrc == LR_OK && v.n_bufs > 0 && lr_base_taken_as_stored(&v.model, NULL),
               "%s: the host converts the quantized tensors for an F32 backend (%zu)", arch,
               v.n_bufs)) {
      e = compare(&v.model, ref, arch);
      tap_ok(e < LOGIT_TOL, "%s: and those match transformers too (err %.2e)", arch, e);
      lr_base_view_release(&v);
    }
  }
  if (llama) {
    /* What a loader that kept the file's q/k order would run. */
    for (int32_t l = 0; l < a->n_layers; l++) {
      lorens_tensor *s = &model.layers[(size_t)l * a->layer_stride];
      permute_rows(&s[LORENS_SLOT_Q], a->n_heads);
      permute_rows(&s[LORENS_SLOT_K], a->n_kv_heads);
    }
    e = compare(&model.abi, ref, arch);
    tap_ok(e > 100 * LOGIT_TOL && isfinite(e), "llama: with q/k in the file's (permuted) order "
           "the comparison fails (err %.2e)", e);
  }
  lr_model_release(&model);
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR");
  char fixtures[1024], path[1100];
  lr_st_file *ref = NULL;
  lr_err err;
  if (top == NULL)
    tap_skip_all("TOP_SRCDIR not set (run through `make check`)");
  lr_err_init(&err);
  snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures", top);
  snprintf(path, sizeof path, "%s/gguf-tiny/expected.safetensors", fixtures);
  if (!tap_ok(lr_st_open(path, &ref, &err) == LR_OK, "the reference logits open")) {
    tap_diag("%s", err.msg);
    return tap_done();
  }
  check_model(fixtures, ref, "llama");
  check_model(fixtures, ref, "qwen2");
  lr_st_close(ref);
  return tap_done();
}
