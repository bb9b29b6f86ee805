/*
 * selftest.h: the CUDA backend's device self-test, compiled by nvcc (selftest.cu).
 */
#ifndef LORENS_CUDA_SELFTEST_H
#define LORENS_CUDA_SELFTEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs a small kernel on the current device and checks its result on the host.  Returns 0 on
 * success; otherwise writes what failed into msg. */
int lr_cuda_kernel_selftest(char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif
#endif /* LORENS_CUDA_SELFTEST_H */
