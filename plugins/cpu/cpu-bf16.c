/*
 * cpu-bf16.c: bf16 products through oneDNN's matmul primitive (cpu-bf16.h).
 *
 * Why oneDNN and not our own AVX512_BF16 kernels: its brgemm matmul reached 1.2-2.4x OpenBLAS's
 * sgemm on the frozen products of a 135M model on this project's machine, and its 1024^3 rate is
 * the hardware's 2x of sgemm (docs/precision.md); it picks AMX where a CPU has it.  A primitive
 * is created per call: oneDNN keeps created primitives in its own cache keyed by shape (about
 * 4 us a hit, 0.5 ms a miss), and the token count of a batch changes from step to step.
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

/* Gives the calling thread's OpenMP regions n threads (n <= 0: as they are): oneDNN's take that
 * count, at a primitive's creation and at its run.  Returns the count restore_threads puts back. */
static int use_threads(int n) {
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  omp_set_num_threads(n > 0 ? n : saved);
  return saved;
#else
  (void)n;
  return 0;
#endif
}

static void restore_threads(int saved) {
#ifdef _OPENMP
  omp_set_num_threads(saved);
#else
  (void)saved;
#endif
}

/* The matmul c [m, n] = alpha a [m, k] . b + beta c, with b [k, n] in the layout b_md: plain
 * strides, or the blocked layout oneDNN picked for packing (lr_bf16_pack). */
static int matmul(lr_bf16 *bf, int n_threads, int m, int n, int k, float alpha, const uint16_t *a,
                  int lda, const dnnl_memory_desc_t *b_md, const void *b, float beta, float *c,
                  int ldc, char *msg, size_t len) {
  dnnl_memory_desc_t a_md, c_md;
  dnnl_dims_t a_dims = {m, k}, c_dims = {m, n};
  dnnl_dims_t a_str = {lda, 1}, c_str = {ldc, 1};
  dnnl_matmul_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t mem[3] = {NULL, NULL, NULL};
  dnnl_status_t s;
  const char *what = "matmul setup";
  int rc = 0, saved_threads;
  if (m == 0 || n == 0)
    return 0;
  saved_threads = use_threads(n_threads);
  if ((s = dnnl_memory_desc_init_by_strides(&a_md, 2, a_dims, dnnl_bf16, a_str)) ||
      (s = dnnl_memory_desc_init_by_strides(&c_md, 2, c_dims, dnnl_f32, c_str)) ||
      (s = dnnl_matmul_desc_init(&desc, &a_md, b_md, NULL, &c_md)) ||
      (s = dnnl_primitive_attr_create(&attr)))
    goto fail;
  if (alpha != 1.0f && (s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha)))
    goto fail;
  if (beta != 0.0f) {
    if ((s = dnnl_post_ops_create(&post)) || (s = dnnl_post_ops_append_sum(post, beta)) ||
        (s = dnnl_primitive_attr_set_post_ops(attr, post)))
      goto fail;
  }
  what = "matmul creation";
  if ((s = dnnl_primitive_desc_create(&pd, &desc, attr, bf->engine, NULL)) ||
      (s = dnnl_primitive_create(&prim, pd)))
    goto fail;
  what = "matmul";
  if ((s = dnnl_memory_create(&mem[0], &a_md, bf->engine, (void *)a)) ||
      (s = dnnl_memory_create(&mem[1], b_md, bf->engine, (void *)b)) ||
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
  restore_threads(saved_threads);
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

int lr_bf16_gemm(lr_bf16 *bf, int n_threads, int tb, int m, int n, int k, float alpha,
                 const uint16_t *a, int lda, const uint16_t *b, int ldb, float beta, float *c,
                 int ldc, char *msg, size_t len) {
  dnnl_memory_desc_t b_md;
  dnnl_dims_t b_dims = {k, n}, b_str;
  dnnl_status_t s;
  /* b as oneDNN's weights [k, n]: a transposed [n, k] matrix is the same memory read with the
   * strides swapped. */
  b_str[0] = tb ? 1 : ldb;
  b_str[1] = tb ? ldb : 1;
  if ((s = dnnl_memory_desc_init_by_strides(&b_md, 2, b_dims, dnnl_bf16, b_str)))
    return dnnl_failed(s, "matmul setup", msg, len);
  return matmul(bf, n_threads, m, n, k, alpha, a, lda, &b_md, b, beta, c, ldc, msg, len);
}

/* ---- packed frozen matrices ---------------------------------------------------------------- */

/* The two layouts of W [rows, cols]: [0] W^T as the weights [cols, rows] of y = x W^T, [1] W as
 * the weights [rows, cols] of dx = dy W, at data[i] once filled[i]. */
struct lr_bf16_packed {
  dnnl_memory_desc_t md[2];
  void *data[2];
  int filled[2];
};

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)
/* The rows a product is planned for when packing.  The layout oneDNN picks for the weights does
 * not depend on them (SmolLM2's shapes at 1 to 200000 rows); should it for some shape, a product
 * of other rows still runs, through another of oneDNN's implementations. */
#define PACK_PLAN_ROWS 1024

/* dst = src in another layout, on the calling thread's OpenMP threads (use_threads). */
static dnnl_status_t reorder(lr_bf16 *bf, const dnnl_memory_desc_t *src_md, const void *src,
                             const dnnl_memory_desc_t *dst_md, void *dst) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t from = NULL, to = NULL;
  dnnl_status_t s;
  if (!(s = dnnl_reorder_primitive_desc_create(&pd, src_md, bf->engine, dst_md, bf->engine,
                                               NULL)) &&
      !(s = dnnl_primitive_create(&prim, pd)) &&
      !(s = dnnl_memory_create(&from, src_md, bf->engine, (void *)src)) &&
      !(s = dnnl_memory_create(&to, dst_md, bf->engine, dst))) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    if (!(s = dnnl_primitive_execute(prim, bf->stream, 2, args)))
      s = dnnl_stream_wait(bf->stream);
  }
  if (to)
    dnnl_memory_destroy(to);
  if (from)
    dnnl_memory_destroy(from);
  if (prim)
    dnnl_primitive_destroy(prim);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  return s;
}

/* The weights [k, n] as oneDNN wants them for a product of PACK_PLAN_ROWS rows into *out. */
static dnnl_status_t preferred_layout(lr_bf16 *bf, int n, int k, dnnl_memory_desc_t *out) {
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_dims_t a_dims = {PACK_PLAN_ROWS, k}, b_dims = {k, n}, c_dims = {PACK_PLAN_ROWS, n};
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s;
  if (!(s = dnnl_memory_desc_init_by_tag(&a_md, 2, a_dims, dnnl_bf16, dnnl_ab)) &&
      !(s = dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_bf16, dnnl_format_tag_any)) &&
      !(s = dnnl_memory_desc_init_by_tag(&c_md, 2, c_dims, dnnl_f32, dnnl_ab)) &&
      !(s = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md)) &&
      !(s = dnnl_primitive_desc_create(&pd, &desc, NULL, bf->engine, NULL)))
    *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  return s;
}

/* The layouts of W [rows, cols]'s packing into md[0] and md[1]. */
static dnnl_status_t plan_layouts(lr_bf16 *bf, int rows, int cols, dnnl_memory_desc_t md[2]) {
  dnnl_status_t s = preferred_layout(bf, rows, cols, &md[0]);
  return s ? s : preferred_layout(bf, cols, rows, &md[1]);
}

int lr_bf16_pack_bytes(lr_bf16 *bf, int rows, int cols, size_t bytes[2]) {
  dnnl_memory_desc_t md[2];
  if (plan_layouts(bf, rows, cols, md) != dnnl_success)
    return -1;
  bytes[0] = ALIGN64(sizeof(lr_bf16_packed)) + ALIGN64(dnnl_memory_desc_get_size(&md[0]));
  bytes[1] = ALIGN64(dnnl_memory_desc_get_size(&md[1]));
  return 0;
}

lr_bf16_packed *lr_bf16_pack_plan(lr_bf16 *bf, int rows, int cols, void *head, void *grad,
                                  char *msg, size_t len) {
  lr_bf16_packed *p = head;
  dnnl_status_t s = plan_layouts(bf, rows, cols, p->md);
  if (s) {
    dnnl_failed(s, "packing", msg, len);
    return NULL;
  }
  p->data[0] = (char *)head + ALIGN64(sizeof *p);
  p->data[1] = grad;
  p->filled[0] = p->filled[1] = 0;
  return p;
}

int lr_bf16_packed_has(const lr_bf16_packed *p, int trans) {
  return p->filled[trans ? 0 : 1];
}

int lr_bf16_pack(lr_bf16 *bf, int n_threads, lr_bf16_packed *p, int trans, const uint16_t *w,
                 char *msg, size_t len) {
  int i = trans ? 0 : 1;
  int64_t rows = p->md[1].dims[0], cols = p->md[1].dims[1];
  /* The same rows read as W^T [cols, rows] or as W [rows, cols]. */
  dnnl_dims_t dims = {trans ? cols : rows, trans ? rows : cols};
  dnnl_dims_t str = {trans ? 1 : cols, trans ? cols : 1};
  dnnl_memory_desc_t plain;
  dnnl_status_t s;
  int saved_threads = use_threads(n_threads);
  if (!(s = dnnl_memory_desc_init_by_strides(&plain, 2, dims, dnnl_bf16, str)))
    s = reorder(bf, &plain, w, &p->md[i], p->data[i]);
  restore_threads(saved_threads);
  if (s)
    return dnnl_failed(s, "packing", msg, len);
  p->filled[i] = 1;
  return 0;
}

int lr_bf16_gemm_packed(lr_bf16 *bf, int n_threads, int trans, int m, float alpha,
                        const uint16_t *a, int lda, const lr_bf16_packed *w, float beta, float *c,
                        int ldc, char *msg, size_t len) {
  int i = trans ? 0 : 1;
  if (!w->filled[i]) {
    snprintf(msg, len, "a product with a packed matrix whose layout is not filled");
    return -1;
  }
  return matmul(bf, n_threads, m, (int)w->md[i].dims[1], (int)w->md[i].dims[0], alpha, a, lda,
                &w->md[i], w->data[i], beta, c, ldc, msg, len);
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

int lr_bf16_pack_bytes(lr_bf16 *bf, int rows, int cols, size_t bytes[2]) {
  (void)bf, (void)rows, (void)cols;
  bytes[0] = bytes[1] = 0;
  return -1;
}

lr_bf16_packed *lr_bf16_pack_plan(lr_bf16 *bf, int rows, int cols, void *head, void *grad,
                                  char *msg, size_t len) {
  (void)bf, (void)rows, (void)cols, (void)head, (void)grad;
  lr_bf16_available(msg, len);
  return NULL;
}

int lr_bf16_packed_has(const lr_bf16_packed *p, int trans) {
  (void)p, (void)trans;
  return 0;
}

int lr_bf16_pack(lr_bf16 *bf, int n_threads, lr_bf16_packed *p, int trans, const uint16_t *w,
                 char *msg, size_t len) {
  (void)bf, (void)n_threads, (void)p, (void)trans, (void)w;
  return lr_bf16_available(msg, len) - 1;
}

int lr_bf16_gemm_packed(lr_bf16 *bf, int n_threads, int trans, int m, float alpha,
                        const uint16_t *a, int lda, const lr_bf16_packed *w, float beta, float *c,
                        int ldc, char *msg, size_t len) {
  (void)bf, (void)n_threads, (void)trans, (void)m, (void)alpha, (void)a, (void)lda, (void)w;
  (void)beta, (void)c, (void)ldc;
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
