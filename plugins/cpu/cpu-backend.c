/*
 * cpu-backend.c: the CPU backend plugin: the shared LLaMA-LoRA driver over CBLAS + OpenMP kernels,
 * in fp32.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <lorens/backend.h>

#include "cpu-kernels.h"
#include "llama-lora.h"
#include "net-session.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

struct lorens_session {
  lr_cpu_ctx ctx;
  lr_kernels kernels;
  lr_net *net;
};

static int default_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int probe(char *msg, size_t len) {
  snprintf(msg, len, "%d thread(s), BLAS %s, fp32", default_threads(), LORENS_BLAS_NAME);
  return 1;
}

static lorens_status session_open(const lorens_session_desc *d, const lorens_host *host,
                                  lorens_session **out, char *msg, size_t len) {
  lorens_session *s;
  lorens_status rc;
  (void)host;
  *out = NULL;
  if (d == NULL || d->struct_size < LORENS_SESSION_DESC_SIZE_1_0) {
    snprintf(msg, len, "session description missing or older than ABI 1.0");
    return LORENS_EABI;
  }
  s = calloc(1, sizeof *s);
  if (s == NULL) {
    snprintf(msg, len, "out of memory");
    return LORENS_ENOMEM;
  }
  s->ctx.n_threads = d->n_threads > 0 ? d->n_threads : default_threads();
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  /* The kernels split products across OpenMP threads and call BLAS in each; OpenBLAS's own pool
   * would only compete with them for the same cores. */
  openblas_set_num_threads(1);
#endif
  lr_cpu_kernels_init(&s->kernels, &s->ctx);
  rc = lr_net_open(&s->kernels, d, &s->net, msg, len);
  if (rc != LORENS_OK) {
    lr_cpu_ctx_release(&s->ctx);
    free(s);
    return rc;
  }
  *out = s;
  return LORENS_OK;
}

lr_net *lr_session_net(lorens_session *s) {
  return s->net;
}

static void session_close(lorens_session *s) {
  if (s == NULL)
    return;
  lr_net_close(s->net);
  lr_cpu_ctx_release(&s->ctx);
  free(s);
}

/* The best of several timed SGEMMs of a size where BLAS reaches its steady rate. */
static double peak_gflops(int n_threads, char *msg, size_t len) {
  enum { N = 1024, REPS = 8 };
  lr_cpu_ctx ctx = {.n_threads = n_threads > 0 ? n_threads : default_threads()};
  lr_kernels k;
  float *a = calloc((size_t)N * N, sizeof *a), *b = calloc((size_t)N * N, sizeof *b);
  float *c = calloc((size_t)N * N, sizeof *c);
  double best = 0;
  if (!a || !b || !c) {
    snprintf(msg, len, "out of memory");
    free(a); free(b); free(c);
    return 0;
  }
  for (size_t i = 0; i < (size_t)N * N; i++) {
    a[i] = (float)(i % 13) * 0.01f;
    b[i] = (float)(i % 7) * 0.01f;
  }
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  openblas_set_num_threads(1);
#endif
  lr_cpu_kernels_init(&k, &ctx);
  for (int r = 0; r < REPS; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    k.gemm(k.ctx, 0, 1, N, N, N, 1, a, N, b, N, 0, c, N);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double g = 2.0 * N * N * N / s / 1e9;
    if (r > 0 && g > best) /* the first call warms caches and BLAS buffers */
      best = g;
  }
  free(a); free(b); free(c);
  return best;
}

static const lorens_backend descriptor = {
    .abi_major = LORENS_BACKEND_ABI_MAJOR,
    .abi_minor = LORENS_BACKEND_ABI_MINOR,
    .struct_size = sizeof(lorens_backend),
    .name = "cpu",
    .version = PACKAGE_VERSION,
    .description = "CPU: CBLAS (" LORENS_BLAS_NAME ") and OpenMP, fp32",
    .probe = probe,
    .session_open = session_open,
    .session_info = lr_session_info,
    .member_get = lr_session_member_get,
    .member_set = lr_session_member_set,
    .train_step = lr_session_train_step,
    .score = lr_session_score,
    .session_close = session_close,
    .peak_gflops = peak_gflops,
    .takes_dtype = lr_cpu_takes_dtype,
};

LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return &descriptor;
}
