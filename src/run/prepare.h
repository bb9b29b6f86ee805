/*
 * prepare.h: making what a grid's `prepare` section names (grid.h, lr_prepare) before the runs:
 * the synthetic task, then the pretrained model.  Each step reuses what is already there and
 * matches (pretrain keeps a record of its configuration and corpus; synth rewrites the same
 * bytes), so running a sweep again prepares nothing new.
 */
#ifndef LORENS_PREPARE_H
#define LORENS_PREPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "grid/grid.h"

typedef struct lr_prepare_opts {
  const char *const *backend_dirs;
  size_t n_backend_dirs;
  int threads;   /* 0: the backend's default */
  bool quiet;
} lr_prepare_opts;

/* Returns LR_EINTERRUPTED, with the signal in *signal, when pretraining was stopped by one (its
 * checkpoint saved); *signal is 0 otherwise. */
lr_status lr_prepare_run(const lr_prepare *p, const lr_prepare_opts *o, int *signal, lr_err *err);

#endif /* LORENS_PREPARE_H */
