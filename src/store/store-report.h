/*
 * store-report.h: what `lorens report` draws, read from the store: a sweep's provenance and the
 * evaluation rows behind its learning curves.
 */
#ifndef LORENS_STORE_REPORT_H
#define LORENS_STORE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

typedef struct lr_report_sweep {
  int64_t id;
  char *name, *path, *yaml_sha256, *lorens_version, *created_at;
  char *backends, *models, *datasets; /* distinct values over the runs, comma-separated */
  long by_status[6];  /* pending, running, done, failed, diverged, interrupted */
  long runs;
  long randomness_kinds; /* distinct ensemble.randomness values among the runs */
  double run_seconds; /* sum of finished_at - started_at over finished runs */
  double train_tokens, train_seconds; /* sums over train_log */
} lr_report_sweep;

/* The sweep whose name or id is `which` (the last one registered under that name), or, with
 * which NULL, the database's only sweep (an error names the sweeps when there are several). */
lr_status lr_report_sweep_read(lr_store *s, const char *which, lr_report_sweep *out, lr_err *err);
void lr_report_sweep_release(lr_report_sweep *sw);

enum { LR_CURVE_ACCURACY, LR_CURVE_NLL, LR_CURVE_ECE, LR_CURVE_BRIER, LR_CURVE_METRICS };

/* One evaluation of a member, or of a run's full ensemble (all M members), on a test set. */
typedef struct lr_curve_row {
  int64_t run_id;
  long seed, idx, epoch;   /* idx: the member, or M for the ensemble */
  int ensemble;            /* 0 member, 1 full ensemble */
  int finite;
  char group[192];         /* "TRAIN-SET / REGULARIZER STRENGTH": the panel it belongs to */
  char eval_dataset[64];
  double metric[LR_CURVE_METRICS];
} lr_curve_row;

/* The sweep's evaluation rows at every epoch (selection 'epoch', split 'eval', not OOD), members
 * and full ensembles, ordered by group, evaluation set, kind, run, member and epoch. */
lr_status lr_report_curves(lr_store *s, int64_t sweep_id, lr_curve_row **rows, size_t *n,
                           lr_err *err);

/* The sweep's ensembles of k = 1..M members (idx = k) at one epoch: `epoch`, or with epoch < 0
 * each run's last evaluated epoch, ordered by group, evaluation set, run and k. */
lr_status lr_report_ensemble_sizes(lr_store *s, int64_t sweep_id, long epoch, lr_curve_row **rows,
                                   size_t *n, lr_err *err);

/* A run's full ensemble against its members at one epoch on one test set. */
typedef struct lr_gain_row {
  int64_t run_id;
  long seed, epoch;
  char group[192], eval_dataset[64];
  double disagreement;      /* of the full ensemble's members */
  double accuracy_gain;     /* ensemble accuracy - the members' mean accuracy */
  double nll_gain;          /* the members' mean NLL - the ensemble's NLL */
} lr_gain_row;

/* Every run's gain at `epoch` (< 0: its last) where the ensemble has at least two members and
 * finite metrics, ordered by group, evaluation set and run. */
lr_status lr_report_gains(lr_store *s, int64_t sweep_id, long epoch, lr_gain_row **rows,
                          size_t *n, lr_err *err);

/* Hands fn each per-example prediction of the sweep's members on the test sets (not OOD) at
 * `epoch` (< 0: each run's last), as (group, evaluation set, run id, member, example, label,
 * probs JSON, epoch), ordered by group, evaluation set, run, example and member. */
enum { LR_PRED_GROUP, LR_PRED_EVAL, LR_PRED_RUN, LR_PRED_MEMBER, LR_PRED_EXAMPLE, LR_PRED_LABEL,
       LR_PRED_PROBS, LR_PRED_EPOCH, LR_PRED_NCOLS };
lr_status lr_report_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                void *ctx, lr_err *err);

#endif /* LORENS_STORE_REPORT_H */
