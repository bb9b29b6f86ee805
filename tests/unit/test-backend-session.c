/*
 * test-backend-session.c: the host-side session layer (src/model/backend-session.c) against real
 * plugins: a backend of ABI 1.0 (tests/plugins/fault-plugin.c built as fault-v1-0) is refused
 * every feature a later minor added, with a message that says which version it needs, and is
 * never handed a field it cannot see; a plugin's own failure status survives into lr_err; the CPU
 * backend has every feature.  Plugins come from $TOP_BUILDDIR, which Makefile.am sets.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/backend-session.h"
#include "../tap.h"

static char fault_dir[1024], cpu_dir[1024];

/* Enough of a model for the fault backends, which read only the vocabulary size. */
static lorens_model tiny_model(void) {
  lorens_model m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.vocab_size = 8;
  return m;
}

/* A LoRA session of n members, rank 1 on q. */
static lr_session_params lora_params(const lorens_model *model, uint32_t n) {
  lr_session_params p = {.n_members = n, .model = model, .lora_targets = LORENS_LORA_Q,
                         .lora_rank = 1, .lora_alpha = 1};
  return p;
}

static lr_status open_backend(lr_backend *b, const char *name, const char *dir, lr_err *err) {
  const char *dirs[] = {dir};
  lr_err_init(err);
  return lr_backend_open(b, name, dirs, 1, err);
}

static void test_v1_0(void) {
  lr_backend b;
  lr_session s = {0};
  lr_err err;
  lorens_model model = tiny_model();
  lr_session_params p = lora_params(&model, 2);
  int32_t tokens[3] = {1, 2, 3};
  uint32_t offsets[2] = {0, 3}, answer[1] = {2}, n_choices[1] = {2};
  int32_t choice_ids[2] = {4, 5}, labels[1] = {0};
  lorens_batch batch[2] = {{1, 2, tokens, offsets, answer, n_choices, choice_ids, labels, NULL},
                           {1, 2, tokens, offsets, answer, n_choices, choice_ids, labels, NULL}};
  float lr[2] = {1e-3f, 1e-3f}, loss[2] = {0, 0};
  lorens_train_args a;
  double peak = -1;

  if (!tap_is_int(open_backend(&b, "fault-v1-0", fault_dir, &err), LR_OK,
                  "the 1.0 plugin opens (%s)", err.msg)) {
    lr_backend_close(&b);
    return;
  }
  tap_is_int(b.desc->abi_minor, 0, "it speaks ABI 1.0");
  tap_ok(!lr_backend_has(&b, LR_FEATURE_L2_DECAY), "it has no L2 decay");
  tap_ok(!lr_backend_has(&b, LR_FEATURE_TRAIN_BASE), "nor full-parameter training");
  tap_ok(!lr_backend_has(&b, LR_FEATURE_NEXT_TOKEN), "nor the next-token objective");
  tap_ok(!lr_backend_has(&b, LR_FEATURE_PEAK_GFLOPS),
         "nor peak_gflops: its descriptor ends before that field");

  /* peak_gflops lies past the end of a 1.0 descriptor: it is refused, never read. */
  lr_err_init(&err);
  tap_is_int(lr_backend_peak_gflops(&b, 1, LORENS_PRECISION_FP32, &peak, &err), LR_EUNSUPPORTED,
             "peak_gflops is refused");
  tap_is_near(peak, 0, 0, 0, "and reports no peak");
  tap_like(err.msg, "does not offer measuring its peak GFLOP/s", "saying what is missing");
  lr_err_init(&err);
  tap_is_int(lr_backend_peak_gflops(&b, 1, LORENS_PRECISION_BF16, &peak, &err), LR_EUNSUPPORTED,
             "so is its bf16 peak");

  /* A 1.0-1.4 plugin would ignore the precision and compute fp32 under a bf16 run's name. */
  lr_err_init(&err);
  p.precision = LORENS_PRECISION_BF16;
  tap_is_int(lr_session_open(&s, &b, &p, &err), LR_EUNSUPPORTED,
             "a bf16 session is refused before the plugin sees it");
  tap_like(err.msg, "precision bf16 needs 1.5 or later", "naming the version it needs");
  p.precision = LORENS_PRECISION_FP32;

  lr_err_init(&err);
  p.train_base = true;
  tap_is_int(lr_session_open(&s, &b, &p, &err), LR_EUNSUPPORTED,
             "a full-parameter session is refused before the plugin sees it");
  tap_like(err.msg, "speaks ABI 1.0", "the message names the plugin's ABI");
  tap_like(err.msg, "full-parameter training needs 1.2 or later", "and the version it needs");
  tap_ok(s.handle == NULL, "no session is open");

  lr_err_init(&err);
  p.train_base = false;
  if (!tap_is_int(lr_session_open(&s, &b, &p, &err), LR_OK, "a LoRA session opens (%s)",
                  err.msg)) {
    lr_backend_close(&b);
    return;
  }
  memset(&a, 0, sizeof a);
  a.batches = batch;
  a.lr = lr;
  a.loss = loss;
  a.weight_decay_b = 0.1f;
  a.weight_decay_mode = LORENS_WD_L2;
  lr_err_init(&err);
  tap_is_int(lr_session_train_step(&s, &a, &err), LR_EUNSUPPORTED,
             "L2 weight decay is refused: a 1.0 plugin would apply decoupled decay instead");
  tap_like(err.msg, "L2 weight decay (weight_decay.mode: l2) needs 1.1 or later", "saying why");
  tap_ok(loss[0] == 0 && loss[1] == 0, "the plugin never ran the step");

  a.weight_decay_mode = LORENS_WD_DECOUPLED;
  a.objective = LORENS_OBJECTIVE_NEXT_TOKEN;
  lr_err_init(&err);
  tap_is_int(lr_session_train_step(&s, &a, &err), LR_EUNSUPPORTED,
             "the next-token objective is refused");
  tap_like(err.msg, "the next-token objective needs 1.2 or later", "saying why");

  a.objective = LORENS_OBJECTIVE_CHOICES;
  lr_err_init(&err);
  tap_is_int(lr_session_train_step(&s, &a, &err), LR_OK, "decoupled decay trains (%s)", err.msg);
  tap_ok(loss[0] == 1 && loss[1] == 1, "and the plugin answered for both members");

  lr_err_init(&err);
  tap_is_int(lr_session_member_set(&s, 2, &(lorens_member_state){0}, &err), LR_EINVAL,
             "a member past the session's is refused by the host");
  tap_like(err.msg, "member 2 of a session with 2", "naming both");
  lr_session_close(&s);
  lr_session_close(&s);
  tap_ok(s.handle == NULL, "closing twice is harmless");
  lr_backend_close(&b);
}

/* A failing session_open keeps the plugin's status and message. */
static void expect_open_status(const char *inject, lr_status want, const char *why) {
  lr_backend b;
  lr_session s = {0};
  lr_err err;
  lorens_model model = tiny_model();
  lr_session_params p = lora_params(&model, 1);
  setenv("LORENS_FAULT_OPEN_STATUS", inject, 1);
  if (open_backend(&b, "fault-slow", fault_dir, &err) != LR_OK) {
    tap_ok(false, "fault-slow opens (%s)", err.msg);
    unsetenv("LORENS_FAULT_OPEN_STATUS");
    return;
  }
  lr_err_init(&err);
  tap_is_str(lr_status_name(lr_session_open(&s, &b, &p, &err)), lr_status_name(want),
             "session_open failing with status %s: %s", inject, why);
  tap_is_str(lr_status_name(err.code), lr_status_name(want), "  and lr_err keeps it");
  tap_like(err.msg, "backend 'fault-slow': cannot open a session", "  the message names the backend");
  if (strcmp(inject, "0") != 0)
    tap_like(err.msg, "injected failure", "  and carries the plugin's own words");
  tap_ok(s.handle == NULL, "  no session is left open");
  lr_backend_close(&b);
  unsetenv("LORENS_FAULT_OPEN_STATUS");
}

static void test_plugin_status(void) {
  expect_open_status("1", LR_ENOMEM, "out of memory stays out of memory");
  expect_open_status("8", LR_EDEVICE, "no device stays no device");
  expect_open_status("7", LR_EUNSUPPORTED, "unsupported stays unsupported");
  expect_open_status("9999", LR_EBACKEND, "a status this lorens does not know is a backend failure");
  expect_open_status("0", LR_EBACKEND, "success without a session is a backend failure");
}

static void test_cpu(void) {
  lr_backend b;
  lr_err err;
  double peak = 0;
  if (!tap_is_int(open_backend(&b, "cpu", cpu_dir, &err), LR_OK, "the CPU backend opens (%s)",
                  err.msg)) {
    lr_backend_close(&b);
    return;
  }
  tap_ok(lr_backend_has(&b, LR_FEATURE_L2_DECAY) && lr_backend_has(&b, LR_FEATURE_TRAIN_BASE) &&
             lr_backend_has(&b, LR_FEATURE_NEXT_TOKEN) && lr_backend_has(&b, LR_FEATURE_PEAK_GFLOPS),
         "it has every feature");
  lr_err_init(&err);
  tap_is_int(lr_backend_require(&b, LR_FEATURE_L2_DECAY, &err), LR_OK, "requiring one passes");
  tap_is_int(lr_backend_peak_gflops(&b, 1, LORENS_PRECISION_FP32, &peak, &err), LR_OK,
             "it measures its peak (%s)", err.msg);
  tap_ok(peak > 0, "a positive rate (%.1f GFLOP/s)", peak);
  tap_ok(lr_backend_has(&b, LR_FEATURE_PRECISION), "it takes a precision (ABI 1.5)");
  {
    /* bf16 where this build and CPU have it (oneDNN, AVX512_BF16); otherwise the reason. */
    lr_status rc;
    lr_err_init(&err);
    peak = 0;
    rc = lr_backend_peak_gflops(&b, 1, LORENS_PRECISION_BF16, &peak, &err);
    if (rc == LR_OK)
      tap_ok(peak > 0, "its bf16 peak: %.1f GFLOP/s", peak);
    else
      tap_ok(strstr(err.msg, "AVX512_BF16") || strstr(err.msg, "oneDNN"),
             "no bf16 peak here, saying why (%s)", err.msg);
  }
  lr_backend_close(&b);
}

static void test_not_found(void) {
  lr_backend b;
  lr_err err;
  tap_is_int(open_backend(&b, "no-such-backend", fault_dir, &err), LR_ENOTFOUND,
             "an unknown backend is not found");
  tap_like(err.msg, "no backend named 'no-such-backend'", "and named");
  lr_backend_close(&b);
}

int main(void) {
  const char *top = getenv("TOP_BUILDDIR");
  if (top == NULL)
    tap_skip_all("TOP_BUILDDIR is not set (run through make check)");
  snprintf(fault_dir, sizeof fault_dir, "%s/tests/plugins/fault/.libs", top);
  snprintf(cpu_dir, sizeof cpu_dir, "%s/plugins/cpu/.libs", top);
  unsetenv("LORENS_BACKEND_PATH");
  test_v1_0();
  test_plugin_status();
  test_cpu();
  test_not_found();
  return tap_done();
}
