/*
 * store-report.h: what `lorens report` draws, read from the store: a sweep's provenance and the
 * evaluation rows behind its learning curves.
 */
#ifndef LORENS_STORE_REPORT_H
#define LORENS_STORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store-runs.h"
#include "store/store.h"

typedef struct lr_report_sweep {
  int64_t id;
  char *name, *path, *yaml_sha256, *lorens_version, *created_at;
  char *backends, *models, *datasets; /* distinct values over the runs, comma-separated */
  lr_run_counts counts; /* its runs by status */
  long randomness_kinds; /* distinct ensemble.randomness values among the runs */
  double run_seconds; /* sum of finished_at - started_at over finished runs */
  double train_tokens, train_seconds; /* sums over train_log */
  char *yaml, *base_dir; /* the grid as registered */
  char *axes;         /* the axes the groups differ by, comma-separated (lr_report_group_runs) */
} lr_report_sweep;

/* The sweep whose name or id is `which` (the last one registered under that name), or, with
 * which NULL, the database's only sweep (an error names the sweeps when there are several). */
lr_status lr_report_sweep_read(lr_store *s, const char *which, lr_report_sweep *out, lr_err *err);
void lr_report_sweep_release(lr_report_sweep *sw);

/* Sorts the sweep's runs into the report's groups, which the functions below read: the runs whose
 * configurations are equal but for the seed, labelled "axis=value, ..." by the axes: the dotted
 * paths the grid varies (paths, in its order; the seed left out), or with paths NULL the
 * configuration keys that differ between the runs.  Paths under data.train are one axis,
 * "dataset"; under data.eval "evaluation sets"; under ensemble.randomness one, valued as
 * runs.randomness.  With several axes the first names the page's sections.  Sets sw->axes. */
lr_status lr_report_group_runs(lr_store *s, lr_report_sweep *sw, const char *const *paths,
                               size_t n_paths, lr_err *err);

/* The panel a row belongs to: a group of runs (its order in the sweep, the section it is in,
 * its label) on one evaluation set. */
typedef struct lr_panel_key {
  long ord;
  char section[128], group[256], eval_dataset[64];
} lr_panel_key;

/* The panel of a row handed to an lr_row_fn whose first four values are its group's order,
 * section and label and its evaluation set (lr_report_predictions, lr_report_ood_predictions). */
void lr_panel_key_of(const lr_value *row, lr_panel_key *k);

/* Whether two rows are drawn in the same panel. */
bool lr_panel_same(const lr_panel_key *a, const lr_panel_key *b);

enum { LR_CURVE_ACCURACY, LR_CURVE_NLL, LR_CURVE_ECE, LR_CURVE_BRIER, LR_CURVE_METRICS };

/* One evaluation of a member, or of a run's full ensemble (all M members), on a test set. */
typedef struct lr_curve_row {
  int64_t run_id;
  long seed, idx, epoch;   /* idx: the member, or M for the ensemble */
  int ensemble;            /* 0 member, 1 full ensemble */
  int finite;
  lr_panel_key panel;
  double metric[LR_CURVE_METRICS];
} lr_curve_row;

/* The sweep's evaluation rows at every epoch (selection 'epoch', split 'eval', not OOD), members
 * and full ensembles, ordered by panel, kind, run, member and epoch. */
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
  lr_panel_key panel;
  double disagreement;      /* of the full ensemble's members */
  double accuracy_gain;     /* ensemble accuracy - the members' mean accuracy */
  double nll_gain;          /* the members' mean NLL - the ensemble's NLL */
} lr_gain_row;

/* Every run's gain at `epoch` (< 0: its last) where the ensemble has at least two members and
 * finite metrics, ordered by group, evaluation set and run. */
lr_status lr_report_gains(lr_store *s, int64_t sweep_id, long epoch, lr_gain_row **rows,
                          size_t *n, lr_err *err);

/* Hands fn each per-example prediction of the sweep's members on the test sets (not OOD) at
 * `epoch` (< 0: each run's last), as (group order, section, group, evaluation set, run id, member,
 * example, label, probs JSON, epoch), ordered by panel, run, example and member. */
enum { LR_PRED_ORD, LR_PRED_SECTION, LR_PRED_GROUP, LR_PRED_EVAL, LR_PRED_RUN, LR_PRED_MEMBER,
       LR_PRED_EXAMPLE, LR_PRED_LABEL, LR_PRED_PROBS, LR_PRED_EPOCH, LR_PRED_NCOLS };
lr_status lr_report_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                void *ctx, lr_err *err);

/* Hands fn, for each run's OOD evaluation sets at `epoch` (< 0: its last), the members'
 * predictions on that set and on the run's in-distribution reference (the first evaluation set
 * not marked OOD, else the validation set, as the worker chose: run-eval.h), labelled or not, as
 * (group order, section, group, OOD set, run id, is-OOD, member, example, probs JSON, epoch,
 * reference set's name), ordered by panel, run, ID before OOD, example and member. */
enum { LR_OODP_ORD, LR_OODP_SECTION, LR_OODP_GROUP, LR_OODP_SET, LR_OODP_RUN, LR_OODP_IS_OOD,
       LR_OODP_MEMBER, LR_OODP_EXAMPLE, LR_OODP_PROBS, LR_OODP_EPOCH, LR_OODP_ID_SET,
       LR_OODP_NCOLS };
lr_status lr_report_ood_predictions(lr_store *s, int64_t sweep_id, long epoch, lr_row_fn fn,
                                    void *ctx, lr_err *err);

/* The stored AUROCs of a panel's members (pooled) or full ensembles at `epoch` (< 0: each run's
 * last) on an OOD set: their means over the n finite rows (max probability, entropy, MI; NaN
 * where there is none, as MI for members). */
typedef struct lr_ood_auroc {
  lr_panel_key panel;      /* eval_dataset: the OOD set */
  int ensemble;
  long n;
  double auroc[3];
} lr_ood_auroc;
lr_status lr_report_ood_aurocs(lr_store *s, int64_t sweep_id, long epoch, lr_ood_auroc **rows,
                               size_t *n, lr_err *err);

/* The probabilities of a stored prediction, a JSON array ("[0.25,0.75]") of at most
 * LR_DATASET_MAX_CHOICES numbers, into probs and their count into *k; any other text is an error
 * naming the database and the prediction (run, member, set, epoch, example). */
lr_status lr_report_probs_of(const char *db, const char *set, int64_t run, int64_t member,
                             int64_t epoch, int64_t example, const char *json, double *probs,
                             int *k, lr_err *err);

#endif /* LORENS_STORE_REPORT_H */
