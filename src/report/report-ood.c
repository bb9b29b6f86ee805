/*
 * report-ood.c: OOD histograms from the stored predictions (report-ood.h).
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-ood.h"
#include "text/dataset.h"
#include "train/ood.h"

/* The scores of a panel before binning, since entropy's and MI's ranges are the data's. */
enum { SLOT_MEMBER_MAXPROB, SLOT_MEMBER_ENTROPY, SLOT_ENS_MAXPROB, SLOT_ENS_ENTROPY, SLOT_ENS_MI,
       SLOTS };

typedef struct values {
  double *v;
  size_t n, cap;
} values;

/* The panels so far; the open panel's scores; the example whose members are being gathered. */
typedef struct builder {
  const char *db;           /* for messages */
  lr_ood_panel *panels;
  size_t n;
  values vals[SLOTS][2];
  int64_t run, example;
  int is_ood, k;
  double *probs;            /* [members][LR_DATASET_MAX_CHOICES] of the example */
  uint32_t members, cap;
} builder;

static int push(values *x, double v) {
  if (isnan(v))
    return 0;
  if (x->n == x->cap) {
    size_t want = x->cap ? 2 * x->cap : 256;
    double *grown = realloc(x->v, want * sizeof *grown);
    if (grown == NULL)
      return -1;
    x->v = grown;
    x->cap = want;
  }
  x->v[x->n++] = v;
  return 0;
}

/* The ensemble's scores of the example gathered so far; then starts afresh. */
static int flush_example(builder *b) {
  double mean[LR_DATASET_MAX_CHOICES] = {0};
  int bad = 0;
  if (b->members > 0) {
    int r = b->is_ood;
    for (uint32_t m = 0; m < b->members; m++)
      for (int j = 0; j < b->k; j++)
        mean[j] += b->probs[m * LR_DATASET_MAX_CHOICES + j];
    for (int j = 0; j < b->k; j++)
      mean[j] /= b->members;
    bad |= push(&b->vals[SLOT_ENS_MAXPROB][r], lr_max_prob(mean, b->k));
    bad |= push(&b->vals[SLOT_ENS_ENTROPY][r], lr_entropy(mean, b->k));
    if (b->members >= 2)
      bad |= push(&b->vals[SLOT_ENS_MI][r], lr_mutual_info(b->probs, LR_DATASET_MAX_CHOICES,
                                                      b->members, mean, b->k));
  }
  b->members = 0;
  return bad;
}

/* Bins slot's values of both sets into h. */
static void bin_slot(const values *v, int fixed_range, lr_ood_hist *h) {
  double hi = 0;
  memset(h, 0, sizeof *h);
  for (int role = 0; role < 2; role++)
    for (size_t i = 0; i < v[role].n; i++)
      hi = v[role].v[i] > hi ? v[role].v[i] : hi;
  h->hi = fixed_range || !(hi > 0) || !isfinite(hi) ? 1 : hi;
  for (int role = 0; role < 2; role++)
    for (size_t i = 0; i < v[role].n; i++) {
      double x = v[role].v[i] / h->hi * LR_OOD_BINS;
      int j = x >= LR_OOD_BINS ? LR_OOD_BINS - 1 : x < 0 ? 0 : (int)x;
      h->count[role][j]++;
      h->n[role]++;
    }
}

/* Bins the open panel's scores, and empties them. */
static void finish_panel(builder *b) {
  if (b->n > 0) {
    lr_ood_panel *p = &b->panels[b->n - 1];
    bin_slot(b->vals[SLOT_MEMBER_MAXPROB], 1, &p->members[LR_OOD_MAXPROB]);
    bin_slot(b->vals[SLOT_MEMBER_ENTROPY], 0, &p->members[LR_OOD_ENTROPY]);
    bin_slot(b->vals[SLOT_ENS_MAXPROB], 1, &p->ensemble[LR_OOD_MAXPROB]);
    bin_slot(b->vals[SLOT_ENS_ENTROPY], 0, &p->ensemble[LR_OOD_ENTROPY]);
    bin_slot(b->vals[SLOT_ENS_MI], 0, &p->ensemble[LR_OOD_MI]);
    p->has_mi = b->vals[SLOT_ENS_MI][0].n + b->vals[SLOT_ENS_MI][1].n > 0;
  }
  for (int s = 0; s < SLOTS; s++)
    for (int role = 0; role < 2; role++)
      b->vals[s][role].n = 0;
}

static lr_status add_prediction(void *ctx, const lr_value *row, int ncols, lr_err *err) {
  builder *b = ctx;
  lr_panel_key key;
  double probs[LR_DATASET_MAX_CHOICES];
  int k, is_ood = (int)row[LR_OODP_IS_OOD].i != 0;
  (void)ncols;
  if (lr_report_probs_of(b->db, row[LR_OODP_IS_OOD].i ? row[LR_OODP_SET].s : row[LR_OODP_ID_SET].s,
                         row[LR_OODP_RUN].i, row[LR_OODP_MEMBER].i, row[LR_OODP_EPOCH].i,
                         row[LR_OODP_EXAMPLE].i, row[LR_OODP_PROBS].s, probs, &k, err) != LR_OK)
    return err->code;
  if (k == 0)
    return LR_OK;
  lr_panel_key_of(row, &key);
  if (b->n == 0 || !lr_panel_same(&b->panels[b->n - 1].panel, &key)) {
    lr_ood_panel *grown;
    if (flush_example(b))
      return lr_fail(err, LR_ENOMEM, "out of memory");
    finish_panel(b);
    if ((grown = realloc(b->panels, (b->n + 1) * sizeof *grown)) == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    b->panels = grown;
    memset(&grown[b->n], 0, sizeof *grown);
    grown[b->n].panel = key;
    snprintf(grown[b->n].id_set, sizeof grown[b->n].id_set, "%s", row[LR_OODP_ID_SET].s);
    b->n++;
    b->run = b->example = -1;
  }
  if (row[LR_OODP_RUN].i != b->run || row[LR_OODP_EXAMPLE].i != b->example ||
      is_ood != b->is_ood) {
    if (flush_example(b))
      return lr_fail(err, LR_ENOMEM, "out of memory");
    b->run = row[LR_OODP_RUN].i;
    b->example = row[LR_OODP_EXAMPLE].i;
    b->is_ood = is_ood;
    b->k = k;
  }
  if (k != b->k)
    return lr_fail(err, LR_EPARSE, "%s: predictions of run %lld, example %lld: its members give "
                   "%d and %d choices", b->db, (long long)b->run, (long long)b->example, b->k, k);
  if (b->members == b->cap) {
    uint32_t want = b->cap ? 2 * b->cap : 8;
    double *grown = realloc(b->probs, (size_t)want * LR_DATASET_MAX_CHOICES * sizeof *grown);
    if (grown == NULL)
      return lr_fail(err, LR_ENOMEM, "out of memory");
    b->probs = grown;
    b->cap = want;
  }
  memcpy(b->probs + (size_t)b->members * LR_DATASET_MAX_CHOICES, probs, (size_t)k * sizeof *probs);
  b->members++;
  if (push(&b->vals[SLOT_MEMBER_MAXPROB][is_ood], lr_max_prob(probs, k)) ||
      push(&b->vals[SLOT_MEMBER_ENTROPY][is_ood], lr_entropy(probs, k)))
    return lr_fail(err, LR_ENOMEM, "out of memory");
  b->panels[b->n - 1].epoch = (long)row[LR_OODP_EPOCH].i;
  return LR_OK;
}

lr_status lr_ood_read(lr_store *s, int64_t sweep_id, long epoch, lr_ood_panel **panels,
                      size_t *n, lr_err *err) {
  builder b;
  lr_status rc;
  memset(&b, 0, sizeof b);
  b.run = b.example = -1;
  b.db = lr_store_path(s);
  rc = lr_report_ood_predictions(s, sweep_id, epoch, add_prediction, &b, err);
  if (rc == LR_OK && flush_example(&b))
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    finish_panel(&b);
  for (int i = 0; i < SLOTS; i++)
    for (int role = 0; role < 2; role++)
      free(b.vals[i][role].v);
  free(b.probs);
  if (rc != LR_OK) {
    free(b.panels);
    b.panels = NULL;
    b.n = 0;
  }
  *panels = b.panels;
  *n = b.n;
  return rc;
}
