/*
 * test-peft.c: PEFT adapters in and out.  A LoRA adapter that PEFT itself saved
 * (tests/fixtures/make_peft_adapter.py) is read into a member whose choice logits must equal
 * PEFT's; a member written by lorens reads back bit for bit under PEFT's tensor names; adapters
 * lorens cannot represent are refused by name.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "../tmpdir.h"
#include "cpu-kernels.h"
#include "llama-lora.h"
#include "model/model.h"
#include "model/peft.h"
#include "model/safetensors.h"

static void check_logits(const lr_model *model, const char *case_dir, const lr_peft_config *cfg,
                         const float *w) {
  char path[2048], msg[LORENS_MSG_MAX] = "";
  lr_st_file *exp = NULL, *want_file = NULL;
  lr_err err;
  lr_cpu_ctx ctx = {.n_threads = 1};
  lr_kernels k;
  lr_net *net = NULL;
  lorens_session_desc d = {.struct_size = sizeof d, .n_members = 1, .model = &model->abi,
                           .lora_targets = cfg->targets, .lora_rank = cfg->rank,
                           .lora_alpha = cfg->alpha, .lora_rslora = cfg->rslora, .n_threads = 1};
  lorens_member_state st = {(float *)w, NULL, NULL, 0};
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/expected.safetensors", case_dir);
  lr_st_open(path, &exp, &err);
  snprintf(path, sizeof path, "%s/peft-adapter-expected.safetensors", case_dir);
  lr_st_open(path, &want_file, &err);
  lr_cpu_kernels_init(&k, &ctx);
  if (!exp || !want_file || lr_net_open(&k, &d, &net, msg, sizeof msg) != LORENS_OK) {
    tap_ok(0, "fixtures and session open (%s%s)", err.msg, msg);
    goto out;
  }
  lr_net_member_set(net, 0, &st, msg, sizeof msg);
  const lr_st_tensor *want = lr_st_find(want_file, "choice_logits");
  lorens_batch b = {3, 4, lr_st_find(exp, "tokens")->data, lr_st_find(exp, "offsets")->data,
                    lr_st_find(exp, "answer_pos")->data, lr_st_find(exp, "n_choices")->data,
                    lr_st_find(exp, "choice_ids")->data, NULL, NULL};
  float got[12] = {0};
  lorens_score_args sa = {sizeof sa, &b, 0, got, NULL, NULL};
  double worst = 0, scale = 0;
  lr_net_score(net, &sa, msg, sizeof msg);
  for (int i = 0; i < 12; i++) {
    worst = fmax(worst, fabs(got[i] - ((const float *)want->data)[i]));
    scale = fmax(scale, fabs(((const float *)want->data)[i]));
  }
  tap_ok(worst / scale < 1e-4, "an adapter PEFT saved gives PEFT's choice logits (err %.2e)",
         worst / scale);
out:
  lr_net_close(net);
  lr_cpu_ctx_release(&ctx);
  lr_st_close(exp);
  lr_st_close(want_file);
}

static void check_round_trip(const lr_model *model, const char *adapter, const lr_peft_config *cfg,
                             const float *w, uint64_t n, const char *tmp) {
  char dir[2048], path[2200];
  lr_peft_config cfg2;
  float *w2 = NULL;
  uint64_t n2 = 0;
  lr_st_file *orig = NULL, *mine = NULL;
  lr_err err;
  lr_err_init(&err);
  tmpdir_path(dir, sizeof dir, tmp, "saved");
  tap_is_int(lr_peft_save(dir, &model->abi, cfg, w, "llama-gqa-tied", &err), LR_OK,
             "a member saves as a PEFT adapter");
  tap_is_int(lr_peft_load(dir, &model->abi, &cfg2, &w2, &n2, &err), LR_OK, "and loads back");
  tap_ok(n2 == n && w2 && memcmp(w, w2, n * sizeof *w) == 0, "weights round-trip bit for bit");
  tap_ok(cfg2.rank == cfg->rank && cfg2.alpha == cfg->alpha && cfg2.targets == cfg->targets &&
         cfg2.rslora == cfg->rslora, "the configuration round-trips");
  snprintf(path, sizeof path, "%s/adapter_model.safetensors", adapter);
  lr_st_open(path, &orig, &err);
  snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
  lr_st_open(path, &mine, &err);
  size_t same = 0;
  for (size_t i = 0; orig && mine && i < lr_st_count(orig); i++)
    same += lr_st_find(mine, lr_st_get(orig, i)->name) != NULL;
  tap_ok(orig && mine && same == lr_st_count(orig) && lr_st_count(mine) == same,
         "the saved file has exactly PEFT's tensor names (%zu)", same);
  lr_st_close(orig);
  lr_st_close(mine);
  free(w2);
}

/* Copies the fixture adapter into tmp/name with its config text replaced; returns the dir. */
static char *variant(const char *tmp, const char *name, const char *adapter, const char *config,
                     char *buf, size_t n) {
  char src[2200], dst[2200], cmd[8192];
  tmpdir_path(buf, n, tmp, name);
  snprintf(src, sizeof src, "%s/adapter_model.safetensors", adapter);
  snprintf(dst, sizeof dst, "%s/adapter_model.safetensors", buf);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s'", buf, src, dst);
  if (system(cmd) != 0)
    tap_diag("cannot prepare %s", buf);
  tmpdir_write(buf, "adapter_config.json", config);
  return buf;
}

static void check_refusals(const lr_model *model, const char *adapter, const char *tmp) {
  static const struct {
    const char *name, *config, *needle;
  } cases[] = {
      {"dora", "{\"r\": 4, \"target_modules\": [\"q_proj\"], \"use_dora\": true}", "use_dora is not supported"},
      {"pattern", "{\"r\": 4, \"target_modules\": [\"q_proj\"], \"rank_pattern\": {\"q_proj\": 8}}", "rank_pattern is not supported"},
      {"module", "{\"r\": 4, \"target_modules\": [\"q_proj\", \"lm_head\"]}", "target_modules[1] 'lm_head' is not one of"},
      {"regex", "{\"r\": 4, \"target_modules\": \".*proj\"}", "target_modules must be a list of module names, got string"},
      {"rank", "{\"r\": 8, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\", \"v_proj\", \"down_proj\"]}",
       "has shape [4, 32], want [8, 32]"},
      {"fewer", "{\"r\": 4, \"target_modules\": [\"q_proj\", \"v_proj\"]}", "holds 12 tensors but the config and model call for 8"},
      {"more", "{\"r\": 4, \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\", \"down_proj\"]}",
       "self_attn.k_proj.lora_A.weight' is missing"},
      {"no-r", "{\"target_modules\": [\"q_proj\"]}", "field 'r' is missing"},
  };
  char dir[2048];
  lr_peft_config cfg;
  float *w;
  uint64_t n;
  for (size_t i = 0; i < LR_ARRAY_LEN(cases); i++) {
    lr_err err;
    lr_err_init(&err);
    variant(tmp, cases[i].name, adapter, cases[i].config, dir, sizeof dir);
    tap_ok(lr_peft_load(dir, &model->abi, &cfg, &w, &n, &err) != LR_OK && w == NULL,
           "%s: refused", cases[i].name);
    tap_like(err.msg, cases[i].needle, "%s: says why", cases[i].name);
  }
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR");
  char case_dir[1024], adapter[1100], tmp[1024];
  lr_model model;
  lr_peft_config cfg;
  float *w = NULL;
  uint64_t n = 0;
  lr_err err;
  if (top == NULL)
    tap_skip_all("TOP_SRCDIR is not set (run through `make check`)");
  snprintf(case_dir, sizeof case_dir, "%s/tests/fixtures/llama-gqa-tied", top);
  snprintf(adapter, sizeof adapter, "%s/peft-adapter", case_dir);
  lr_err_init(&err);
  if (lr_model_load(case_dir, &model, &err) != LR_OK || tmpdir_make(tmp, sizeof tmp, "peft") != 0)
    tap_skip_all("cannot load the fixture model");
  tap_is_int(lr_peft_load(adapter, &model.abi, &cfg, &w, &n, &err), LR_OK, "PEFT's adapter loads");
  tap_ok(cfg.rank == 4 && cfg.alpha == 8 && !cfg.rslora &&
         cfg.targets == (LORENS_LORA_Q | LORENS_LORA_V | LORENS_LORA_DOWN),
         "its configuration: r 4, alpha 8, q_proj, v_proj, down_proj");
  if (w) {
    check_logits(&model, case_dir, &cfg, w);
    check_round_trip(&model, adapter, &cfg, w, n, tmp);
  }
  check_refusals(&model, adapter, tmp);
  free(w);
  tmpdir_remove(tmp);
  lr_model_release(&model);
  return tap_done();
}
