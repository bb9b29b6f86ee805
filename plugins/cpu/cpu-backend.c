/*
 * cpu-backend.c: the CPU backend plugin: the shared LLaMA-LoRA driver over CBLAS + OpenMP kernels,
 * in fp32, with the frozen products in bf16 through oneDNN where a session asks for it.
 */
#include "compat.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* How many bytes a bf16 session may spend packing its layer matrices for oneDNN
 * (LORENS_CPU_BF16_HOLD_MB, default an eighth of physical memory): packed, they cost 4 bytes per
 * weight (a layout per product) instead of the blocks' 0.5-1 or a bf16 file's 2, and save
 * expanding and repacking them in every product. */
static int bf16_hold_budget(size_t *bytes, char *msg, size_t len) {
  const char *env = getenv("LORENS_CPU_BF16_HOLD_MB");
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  char *end;
  unsigned long long mb;
  if (env == NULL || *env == '\0') {
    *bytes = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 8 : 0;
    return 0;
  }
  errno = 0;
  mb = strtoull(env, &end, 10);
  if (*env == '-' || end == env || *end != '\0' || errno != 0 || mb > (SIZE_MAX >> 20)) {
    snprintf(msg, len, "LORENS_CPU_BF16_HOLD_MB: '%s' is not a number of MB", env);
    return -1;
  }
  *bytes = (size_t)mb << 20;
  return 0;
}

/* What `lorens backends` shows: threads, BLAS, and whether precision bf16 runs natively. */
static int probe(char *msg, size_t len) {
  char why[160];
  if (lr_bf16_available(why, sizeof why))
    snprintf(msg, len, "%d thread(s), BLAS %s, fp32; bf16 through oneDNN", default_threads(),
             LORENS_BLAS_NAME);
  else
    snprintf(msg, len, "%d thread(s), BLAS %s, fp32; bf16 runs as fp32: %s", default_threads(),
             LORENS_BLAS_NAME, why);
  return 1;
}

/* A bf16 session whose budget could not pack every layer matrix runs slower than it could:
 * the host is told how much more would do. */
static void warn_unpacked(const lorens_host *host, const lr_cpu_ctx *c) {
  char line[320];
  if (host == NULL || host->log == NULL)
    return;
  snprintf(line, sizeof line,
           "precision bf16: %d of %d layer matrices packed within LORENS_CPU_BF16_HOLD_MB; the "
           "other %d are repacked, and expanded if quantized, at every product, which is slower "
           "(%zu MB more would pack them all)",
           c->bf16_packed, c->bf16_packed + c->bf16_unpacked, c->bf16_unpacked,
           (c->bf16_unpacked_bytes + ((size_t)1 << 20) - 1) >> 20);
  host->log(host->log_ctx, LORENS_LOG_WARN, line);
}

static lorens_status session_open(const lorens_session_desc *d, const lorens_host *host,
                                  lorens_session **out, char *msg, size_t len) {
  lorens_session *s;
  lorens_status rc;
  const char *attention;
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
  attention = getenv("LORENS_CPU_ATTENTION");
  s->ctx.attention_blas = attention != NULL && strcmp(attention, "blas") == 0;
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  /* The kernels split products across OpenMP threads and call BLAS in each; OpenBLAS's own pool
   * would only compete with them for the same cores. */
  openblas_set_num_threads(1);
#endif
  /* Precision bf16 where this build and CPU multiply it natively; fp32 otherwise, which
   * session_info reports so the host can say so. */
  if (LORENS_HAS_FIELD(d, lorens_session_desc, precision) &&
      d->precision == LORENS_PRECISION_BF16 && lr_bf16_available(msg, len) &&
      (s->ctx.bf16 = lr_bf16_open(msg, len)) == NULL) {
    free(s);
    return LORENS_EBACKEND;
  }
  if (s->ctx.bf16 && bf16_hold_budget(&s->ctx.bf16_hold_left, msg, len) != 0) {
    lr_bf16_close(s->ctx.bf16);
    free(s);
    return LORENS_EINVAL;
  }
  lr_cpu_kernels_init(&s->kernels, &s->ctx);
  rc = lr_net_open(&s->kernels, d, &s->net, msg, len);
  if (rc != LORENS_OK) {
    lr_cpu_ctx_release(&s->ctx);
    lr_bf16_close(s->ctx.bf16);
    free(s);
    return rc;
  }
  if (s->ctx.bf16_unpacked > 0)
    warn_unpacked(host, &s->ctx);
  *out = s;
  return LORENS_OK;
}

lr_net *lr_session_net(lorens_session *s) {
  return s->net;
}

uint32_t lr_session_precision(lorens_session *s) {
  return s->ctx.bf16 ? LORENS_PRECISION_BF16 : LORENS_PRECISION_FP32;
}

static void session_close(lorens_session *s) {
  if (s == NULL)
    return;
  lr_net_close(s->net);
  lr_cpu_ctx_release(&s->ctx);
  lr_bf16_close(s->ctx.bf16);
  free(s);
}

/* The best of several timed 1024^3 products, of a size where BLAS and oneDNN reach their steady
 * rate: sgemm through the kernels for fp32, oneDNN's matmul for bf16. */
static double peak_gflops_at(int n_threads, uint32_t precision, char *msg, size_t len) {
  enum { N = 1024, REPS = 8 };
  lr_cpu_ctx ctx = {.n_threads = n_threads > 0 ? n_threads : default_threads()};
  lr_kernels k;
  lr_bf16 *bf = NULL;
  float *a = NULL, *b = NULL, *c = NULL;
  uint16_t *a16 = NULL, *b16 = NULL;
  double best = 0;
  if (precision != LORENS_PRECISION_FP32 && precision != LORENS_PRECISION_BF16) {
    snprintf(msg, len, "unknown precision %u", precision);
    return 0;
  }
  if (precision == LORENS_PRECISION_BF16 &&
      (!lr_bf16_available(msg, len) || (bf = lr_bf16_open(msg, len)) == NULL))
    return 0;
  a = calloc((size_t)N * N, sizeof *a);
  b = calloc((size_t)N * N, sizeof *b);
  c = calloc((size_t)N * N, sizeof *c);
  if (bf) {
    a16 = calloc((size_t)N * N, sizeof *a16);
    b16 = calloc((size_t)N * N, sizeof *b16);
  }
  if (!a || !b || !c || (bf && (!a16 || !b16))) {
    snprintf(msg, len, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < (size_t)N * N; i++) {
    a[i] = (float)(i % 13) * 0.01f;
    b[i] = (float)(i % 7) * 0.01f;
  }
  if (bf) {
    lr_bf16_round(a, a16, (size_t)N * N);
    lr_bf16_round(b, b16, (size_t)N * N);
  }
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  openblas_set_num_threads(1);
#endif
  lr_cpu_kernels_init(&k, &ctx);
  for (int r = 0; r < REPS; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!bf)
      k.gemm(k.ctx, 0, 1, N, N, N, 1, a, N, b, N, 0, c, N);
    else if (lr_bf16_gemm(bf, ctx.n_threads, 1, N, N, N, 1, a16, N, b16, N, 0, c, N, msg, len)) {
      best = 0;
      break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double g = 2.0 * N * N * N / s / 1e9;
    if (r > 0 && g > best) /* the first call warms caches, BLAS buffers, oneDNN's primitive */
      best = g;
  }
out:
  free(a); free(b); free(c); free(a16); free(b16);
  lr_bf16_close(bf);
  return best;
}

static double peak_gflops(int n_threads, char *msg, size_t len) {
  return peak_gflops_at(n_threads, LORENS_PRECISION_FP32, msg, len);
}

static const lorens_backend descriptor = {
    .abi_major = LORENS_BACKEND_ABI_MAJOR,
    .abi_minor = LORENS_BACKEND_ABI_MINOR,
    .struct_size = sizeof(lorens_backend),
    .name = "cpu",
    .version = PACKAGE_VERSION,
    .description = "CPU: CBLAS (" LORENS_BLAS_NAME ") and OpenMP, fp32 (bf16 frozen products with oneDNN)",
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
    .peak_gflops_at = peak_gflops_at,
};

LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host) {
  (void)host;
  return &descriptor;
}
