/*
 * cpu-bf16.c: bf16 products through oneDNN's matmul primitive (cpu-bf16.h).
 *
 * Why oneDNN and not our own AVX512_BF16 kernels: its brgemm matmul reached 1.2-2.4x OpenBLAS's
 * sgemm on the frozen products of a 135M model on this project's machine, and its 1024^3 rate is
 * the hardware's 2x of sgemm (docs/precision.md); it picks AMX where a CPU has it.  A primitive is created per call: oneDNN keeps created
 * primitives in its own cache keyed by shape (about 4 us a hit, 0.5 ms a miss), and the token
 * count of a batch changes from step to step.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu-bf16.h"
#include "quant.h"

#ifdef HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <immintrin.h>

struct lr_bf16 {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
};

int lr_bf16_available(char *why, size_t len) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  /* oneDNN's ISAs are nested bit sets: AMX includes every bit of avx512_core_bf16. */
  if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
      (unsigned)dnnl_cpu_isa_avx512_core_bf16)
    return 1;
  snprintf(why, len, "the CPU lacks AVX512_BF16 (or ONEDNN_MAX_CPU_ISA excludes it)");
  return 0;
}

lr_bf16 *lr_bf16_open(char *msg, size_t len) {
  lr_bf16 *b = calloc(1, sizeof *b);
  if (b == NULL) {
    snprintf(msg, len, "out of memory");
    return NULL;
  }
  if (dnnl_engine_create(&b->engine, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&b->stream, b->engine, dnnl_stream_default_flags) != dnnl_success) {
    snprintf(msg, len, "oneDNN: cannot create a CPU engine and stream");
    lr_bf16_close(b);
    return NULL;
  }
  return b;
}

void lr_bf16_close(lr_bf16 *b) {
  if (b == NULL)
    return;
  if (b->stream)
    dnnl_stream_destroy(b->stream);
  if (b->engine)
    dnnl_engine_destroy(b->engine);
  free(b);
}

static int dnnl_failed(dnnl_status_t s, const char *what, char *msg, size_t len) {
  static const char *const names[] = {"success", "out of memory", "invalid arguments",
                                      "unimplemented", "iterator ends", "runtime error",
                                      "not required"};
  int i = (int)s;
  snprintf(msg, len, "oneDNN %s: %s", what,
           i >= 0 && i < (int)(sizeof names / sizeof *names) ? names[i] : "unknown status");
  return -1;
}

int lr_bf16_gemm(lr_bf16 *bf, int n_threads, int tb, int m, int n, int k, float alpha,
                 const uint16_t *a, int lda, const uint16_t *b, int ldb, float beta, float *c,
                 int ldc, char *msg, size_t len) {
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, c_dims = {m, n};
  dnnl_dims_t a_str = {lda, 1}, c_str = {ldc, 1}, b_str;
  dnnl_matmul_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t mem[3] = {NULL, NULL, NULL};
  dnnl_status_t s;
  const char *what = "matmul setup";
  int rc = 0;
#ifdef _OPENMP
  int saved_threads = omp_get_max_threads();
#endif
  if (m == 0 || n == 0)
    return 0;
  /* b as oneDNN's weights [k, n]: a transposed [n, k] matrix is the same memory read with the
   * strides swapped. */
  b_str[0] = tb ? 1 : ldb;
  b_str[1] = tb ? ldb : 1;
  if ((s = dnnl_memory_desc_init_by_strides(&a_md, 2, a_dims, dnnl_bf16, a_str)) ||
      (s = dnnl_memory_desc_init_by_strides(&b_md, 2, b_dims, dnnl_bf16, b_str)) ||
      (s = dnnl_memory_desc_init_by_strides(&c_md, 2, c_dims, dnnl_f32, c_str)) ||
      (s = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md)) ||
      (s = dnnl_primitive_attr_create(&attr)))
    goto fail;
  if (alpha != 1.0f && (s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha)))
    goto fail;
  if (beta != 0.0f) {
    if ((s = dnnl_post_ops_create(&post)) || (s = dnnl_post_ops_append_sum(post, beta)) ||
        (s = dnnl_primitive_attr_set_post_ops(attr, post)))
      goto fail;
  }
  /* oneDNN's OpenMP regions take the calling thread's thread count, at creation and at run. */
#ifdef _OPENMP
  omp_set_num_threads(n_threads > 0 ? n_threads : saved_threads);
#else
  (void)n_threads;
#endif
  what = "matmul creation";
  if ((s = dnnl_primitive_desc_create(&pd, &desc, attr, bf->engine, NULL)) ||
      (s = dnnl_primitive_create(&prim, pd)))
    goto fail;
  what = "matmul";
  if ((s = dnnl_memory_create(&mem[0], &a_md, bf->engine, (void *)a)) ||
      (s = dnnl_memory_create(&mem[1], &b_md, bf->engine, (void *)b)) ||
      (s = dnnl_memory_create(&mem[2], &c_md, bf->engine, c)))
    goto fail;
  {
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]}};
    if ((s = dnnl_primitive_execute(prim, bf->stream, 3, args)) ||
        (s = dnnl_stream_wait(bf->stream)))
      goto fail;
  }
  goto done;
fail:
  rc = dnnl_failed(s, what, msg, len);
done:
#ifdef _OPENMP
  omp_set_num_threads(saved_threads);
#endif
  for (int i = 0; i < 3; i++)
    if (mem[i])
      dnnl_memory_destroy(mem[i]);
  if (prim)
    dnnl_primitive_destroy(prim);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  if (post)
    dnnl_post_ops_destroy(post);
  if (attr)
    dnnl_primitive_attr_destroy(attr);
  return rc;
}

/* 32 floats at a time with VCVTNE2PS2BF16, which rounds to nearest even like the scalar tail
 * (quant.h's lr_quant_f32_to_bf16). */
__attribute__((target("avx512f,avx512bf16"))) static size_t round_avx512(const float *src,
                                                                           uint16_t *dst,
                                                                           size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 lo = _mm512_loadu_ps(src + i), hi = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_si512((void *)(dst + i), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  return i;
}
#else /* !HAVE_ONEDNN */

struct lr_bf16 {
  int unused;
};

int lr_bf16_available(char *why, size_t len) {
  snprintf(why, len, "built without oneDNN (install libdnnl-dev and reconfigure)");
  return 0;
}

lr_bf16 *lr_bf16_open(char *msg, size_t len) {
  lr_bf16_available(msg, len);
  return NULL;
}

void lr_bf16_close(lr_bf16 *b) {
  (void)b;
}

int lr_bf16_gemm(lr_bf16 *bf, int n_threads, int tb, int m, int n, int k, float alpha,
                 const uint16_t *a, int lda, const uint16_t *b, int ldb, float beta, float *c,
                 int ldc, char *msg, size_t len) {
  (void)bf, (void)n_threads, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a;
  (void)lda, (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
  return lr_bf16_available(msg, len) - 1;
}
#endif

void lr_bf16_round(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
#ifdef HAVE_ONEDNN
  if (__builtin_cpu_supports("avx512bf16"))
    i = round_avx512(src, dst, n);
#endif
  for (; i < n; i++)
    dst[i] = lr_quant_f32_to_bf16(src[i]);
}
