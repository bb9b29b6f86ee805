/*
 * test-bf16-activations.c: the CPU kernels that keep SwiGLU's gate and up activations in bf16 in
 * precision bf16 (kernels.h: swiglu_keep, swiglu16, swiglu16_backward).  swiglu_keep must give
 * swiglu's output from the unrounded inputs, in place over g too, and round g and u to nearest
 * even (quant.h's scalar rounding); swiglu16 and its backward must give swiglu and its backward
 * of the rounded values, bit for bit.  n spans several of the kernels' chunks and a partial one.
 * An fp32 session's kernel table has none of them.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cpu-kernels.h"
#include "quant.h"

enum { N = 3 * 4096 + 1001 };

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float uniform(float lo, float hi) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return lo + (hi - lo) * (float)(rng >> 40) / (float)(1u << 24);
}

static int same(const void *a, const void *b, size_t bytes) {
  return memcmp(a, b, bytes) == 0;
}

int main(void) {
  char why[160];
  lr_bf16 *bf = lr_bf16_available(why, sizeof why) ? lr_bf16_open(why, sizeof why) : NULL;
  lr_cpu_ctx plain = {.n_threads = 2}, ctx = {.n_threads = 2, .bf16 = bf};
  lr_kernels kp, k;
  static float g[N], u[N], gr[N], ur[N], a[N], want[N], da[N], dg[N], du[N], wdg[N], wdu[N];
  static uint16_t g16[N], u16[N], wg16[N], wu16[N];
  lr_cpu_kernels_init(&kp, &plain);
  tap_ok(kp.swiglu_keep == NULL && kp.swiglu16 == NULL && kp.swiglu16_backward == NULL,
         "an fp32 context keeps gate and up in reals (no bf16 swiglu kernels)");
  if (bf == NULL) {
    tap_skip(why, "the bf16 swiglu kernels");
    return tap_done();
  }
  lr_cpu_kernels_init(&k, &ctx);
  for (size_t i = 0; i < N; i++) {
    g[i] = uniform(-6, 6);
    u[i] = uniform(-3, 3);
    da[i] = uniform(-1, 1);
    wg16[i] = lr_quant_f32_to_bf16(g[i]);
    wu16[i] = lr_quant_f32_to_bf16(u[i]);
    gr[i] = lorens_bf16_to_f32(wg16[i]);
    ur[i] = lorens_bf16_to_f32(wu16[i]);
  }

  k.swiglu(k.ctx, want, g, u, N);
  k.swiglu_keep(k.ctx, a, g16, u16, g, u, N);
  tap_ok(same(a, want, sizeof a), "swiglu_keep: swiglu of the unrounded g, u");
  tap_ok(same(g16, wg16, sizeof g16) && same(u16, wu16, sizeof u16),
         "swiglu_keep: g and u rounded to nearest even");
  {
    static float gi[N];
    memcpy(gi, g, sizeof gi);
    memset(g16, 0, sizeof g16);
    k.swiglu_keep(k.ctx, gi, g16, u16, gi, u, N);
    tap_ok(same(gi, want, sizeof gi) && same(g16, wg16, sizeof g16),
           "swiglu_keep in place over g: the same output and the same rounding");
  }

  k.swiglu(k.ctx, want, gr, ur, N);
  k.swiglu16(k.ctx, a, wg16, wu16, N);
  tap_ok(same(a, want, sizeof a), "swiglu16: swiglu of the rounded g, u, bit for bit");
  k.swiglu(k.ctx, a, g, u, N);
  tap_ok(!same(a, want, sizeof a), "and the rounding shows: not swiglu of the unrounded ones");

  k.swiglu_backward(k.ctx, wdg, wdu, da, gr, ur, N);
  k.swiglu16_backward(k.ctx, dg, du, da, wg16, wu16, N);
  tap_ok(same(dg, wdg, sizeof dg) && same(du, wdu, sizeof du),
         "swiglu16_backward: swiglu_backward of the rounded g, u, bit for bit");
  memcpy(dg, da, sizeof dg);
  k.swiglu16_backward(k.ctx, dg, du, dg, wg16, wu16, N);
  tap_ok(same(dg, wdg, sizeof dg) && same(du, wdu, sizeof du),
         "swiglu16_backward in place over da");

  lr_cpu_ctx_release(&ctx);
  lr_cpu_ctx_release(&plain);
  lr_bf16_close(bf);
  return tap_done();
}
