/*
 * run-summary-print.c: the summary table as text (see run-summary.h).  The layout, for a sweep
 * over the KL weight:
 *
 *   sweep 'demo': test set 'test', OOD set 'ood', epoch 2
 *                               accuracy          NLL            ECE         OOD AUROC
 *   regularizer  strength  runs  M  member   ens.  member   ens.  member   ens.  member   ens.
 *   none                      2  2   0.412  0.455   1.234  1.102   0.151  0.062   0.611  0.654
 *   kl           0.1        1/2  2   0.398  0.430   1.301  1.187   0.122  0.071   0.604  0.640
 *
 * followed by notes.  What is the same on every row (the test set, the epoch) goes in the title,
 * so the columns hold only what tells the rows apart.
 */
#include "compat.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "store/run-summary.h"

typedef enum col_kind {
  COL_AXIS, COL_OTHER, COL_RUNS, COL_M, COL_EPOCH, COL_MEMBER, COL_ENSEMBLE
} col_kind;

typedef struct column {
  col_kind kind;
  int index;    /* the axis, or the metric */
  size_t width;
} column;

enum { MAX_COLUMNS = LR_SUMMARY_N_AXES + 4 + 2 * LR_SUMMARY_N_METRICS, CELL_MAX = 64 };

/* Three decimals: differences between regularizers show in the second or the third. */
#define METRIC_FORMAT "%.3f"

static const char *const axis_names[LR_SUMMARY_N_AXES] = {
    "model", "train set", "regularizer", "strength", "rank", "lr", "randomness", "backend",
    "test set", "OOD set"};
static const char *const metric_names[LR_SUMMARY_N_METRICS] = {"accuracy", "NLL", "ECE",
                                                               "OOD AUROC"};

static const char *header(const column *c) {
  switch (c->kind) {
  case COL_AXIS: return axis_names[c->index];
  case COL_OTHER: return "configuration";
  case COL_RUNS: return "runs";
  case COL_M: return "M";
  case COL_EPOCH: return "epoch";
  case COL_MEMBER: return "member";
  default: return "ens.";
  }
}

static const char *cell(const lr_summary_row *r, const column *c, char *buf) {
  double v;
  switch (c->kind) {
  case COL_AXIS: return r->axis[c->index];
  case COL_OTHER: return r->other ? r->other : "";
  case COL_RUNS:
    if (r->n_evaluated == r->n_runs)
      snprintf(buf, CELL_MAX, "%ld", r->n_runs);
    else
      snprintf(buf, CELL_MAX, "%ld/%ld", r->n_evaluated, r->n_runs);
    return buf;
  case COL_M: snprintf(buf, CELL_MAX, "%ld", r->ensemble_size); return buf;
  case COL_EPOCH:
    if (r->epoch < 0)
      return "-";
    snprintf(buf, CELL_MAX, "%ld", r->epoch);
    return buf;
  default:
    v = c->kind == COL_MEMBER ? r->member[c->index] : r->ensemble[c->index];
    if (isnan(v))
      return "-";
    snprintf(buf, CELL_MAX, METRIC_FORMAT, v);
    return buf;
  }
}

static bool left_aligned(const column *c) { return c->kind == COL_AXIS || c->kind == COL_OTHER; }

/* The gap before column i: one space inside a metric's pair, two elsewhere. */
static size_t gap_before(const column *cols, size_t i) {
  return i == 0 ? 0 : cols[i].kind == COL_ENSEMBLE ? 1 : 2;
}

/* The epoch every evaluated row is at, or -1 when none is evaluated; *differ when they are not
 * all at one.  Rows without evaluations (runs that failed at once) say "-" in their metrics and
 * do not count, so that they do not bring in an epoch column. */
static long common_epoch(const lr_summary *sum, bool *differ) {
  long epoch = -1;
  *differ = false;
  for (size_t i = 0; i < sum->n_rows; i++) {
    if (sum->rows[i].epoch < 0)
      continue;
    *differ = *differ || (epoch >= 0 && sum->rows[i].epoch != epoch);
    epoch = sum->rows[i].epoch;
  }
  return epoch;
}

static size_t layout(const lr_summary *sum, column *cols) {
  bool used[LR_SUMMARY_N_AXES], other = false, epochs_differ;
  size_t n = 0;
  char buf[CELL_MAX];
  lr_summary_label_axes(sum, used);
  for (int a = 0; a < LR_SUMMARY_N_AXES; a++)
    if (used[a])
      cols[n++] = (column){COL_AXIS, a, 0};
  for (size_t i = 0; i < sum->n_rows; i++)
    other = other || sum->rows[i].other != NULL;
  if (other)
    cols[n++] = (column){COL_OTHER, 0, 0};
  cols[n++] = (column){COL_RUNS, 0, 0};
  cols[n++] = (column){COL_M, 0, 0};
  common_epoch(sum, &epochs_differ);
  if (epochs_differ)
    cols[n++] = (column){COL_EPOCH, 0, 0};
  for (int m = 0; m < LR_SUMMARY_N_METRICS; m++) {
    cols[n++] = (column){COL_MEMBER, m, 0};
    cols[n++] = (column){COL_ENSEMBLE, m, 0};
  }
  for (size_t c = 0; c < n; c++) {
    cols[c].width = strlen(header(&cols[c]));
    for (size_t i = 0; i < sum->n_rows; i++) {
      size_t w = strlen(cell(&sum->rows[i], &cols[c], buf));
      cols[c].width = w > cols[c].width ? w : cols[c].width;
    }
  }
  /* A metric's two columns are equally wide, so that member and ensemble read as a pair. */
  for (size_t c = 0; c + 1 < n; c++)
    if (cols[c].kind == COL_MEMBER) {
      size_t w = cols[c].width > cols[c + 1].width ? cols[c].width : cols[c + 1].width;
      cols[c].width = cols[c + 1].width = w;
    }
  return n;
}

/* Prints one line of cells (text[c] for column c), without trailing blanks. */
static void print_line(const column *cols, size_t n, const char *const *text, FILE *fp) {
  size_t pending = 0; /* blanks owed before the next visible text */
  for (size_t c = 0; c < n; c++) {
    size_t len = strlen(text[c]), pad = cols[c].width > len ? cols[c].width - len : 0;
    pending += gap_before(cols, c);
    if (!left_aligned(&cols[c]))
      pending += pad;
    if (len > 0) {
      fprintf(fp, "%*s%s", (int)pending, "", text[c]);
      pending = 0;
    }
    if (left_aligned(&cols[c]))
      pending += pad;
  }
  fputc('\n', fp);
}

/* The metrics' names, each centred over its pair of columns. */
static void print_groups(const column *cols, size_t n, FILE *fp) {
  size_t at = 0, printed = 0;
  for (size_t c = 0; c < n; c++) {
    at += gap_before(cols, c);
    if (cols[c].kind == COL_MEMBER) {
      const char *name = metric_names[cols[c].index];
      size_t span = cols[c].width + gap_before(cols, c + 1) + cols[c + 1].width;
      size_t start = at + (span - strlen(name) + 1) / 2;
      fprintf(fp, "%*s%s", (int)(start - printed), "", name);
      printed = start + strlen(name);
    }
    at += cols[c].width;
  }
  fputc('\n', fp);
}

/* The value of an axis when every row has the same one, else NULL. */
static const char *common_axis(const lr_summary *sum, int axis) {
  for (size_t i = 1; i < sum->n_rows; i++)
    if (strcmp(sum->rows[i].axis[axis], sum->rows[0].axis[axis]) != 0)
      return NULL;
  return sum->n_rows ? sum->rows[0].axis[axis] : NULL;
}

static void print_title(const lr_summary *sum, FILE *fp) {
  const char *test = common_axis(sum, LR_SUMMARY_TEST_SET);
  const char *ood = common_axis(sum, LR_SUMMARY_OOD_SET);
  const char *sep = ": ";
  bool epochs_differ;
  long epoch = common_epoch(sum, &epochs_differ);
  fprintf(fp, "sweep '%s'", sum->name ? sum->name : "");
  if (sum->n_rows == 0) {
    fputs(": no runs\n", fp);
    return;
  }
  /* Only the validation split was evaluated: nothing for this table, and not for lack of time. */
  if (test && !test[0] && ood && !ood[0]) {
    fputs(": no test or OOD set (data.eval is empty)\n", fp);
    return;
  }
  if (test && test[0])
    fprintf(fp, "%stest set '%s'", sep, test);
  else if (test)
    fprintf(fp, "%sno test set", sep);
  sep = test ? ", " : sep;
  if (ood && ood[0])
    fprintf(fp, "%sOOD set '%s'", sep, ood);
  else if (ood)
    fprintf(fp, "%sno OOD set", sep);
  sep = ood ? ", " : sep;
  if (!epochs_differ && epoch >= 0)
    fprintf(fp, "%sepoch %ld", sep, epoch);
  else if (!epochs_differ)
    fprintf(fp, "%snothing evaluated yet", sep);
  fputc('\n', fp);
}

static void print_notes(const lr_summary *sum, FILE *fp) {
  const lr_run_counts *c = &sum->counts;
  long nonfinite = 0;
  bool partial = false;
  for (size_t i = 0; i < sum->n_rows; i++) {
    nonfinite += sum->rows[i].n_nonfinite;
    partial = partial || sum->rows[i].n_evaluated != sum->rows[i].n_runs;
  }
  fputs("member: mean single member; ens.: ensemble of all M members; means over the runs (seeds);"
        "\nOOD AUROC by max probability\n",
        fp);
  if (c->done != c->total) {
    static const char *const names[] = {"failed", "diverged", "interrupted", "pending", "running"};
    const long n[] = {c->failed, c->diverged, c->interrupted, c->pending, c->running};
    fprintf(fp, "%ld runs: %ld done", c->total, c->done);
    for (size_t k = 0; k < LR_ARRAY_LEN(n); k++)
      if (n[k])
        fprintf(fp, ", %ld %s", n[k], names[k]);
    fprintf(fp, " (`lorens status --db %s` says why)\n", sum->db_path ? sum->db_path : "FILE");
  }
  if (partial)
    fputs("runs a/b: a of the configuration's b runs have evaluations at that epoch\n", fp);
  if (nonfinite)
    fprintf(fp,
            "%ld evaluation rows with NaN or infinite metrics (diverged members) are left out\n",
            nonfinite);
}

void lr_summary_print(const lr_summary *sum, FILE *fp) {
  column cols[MAX_COLUMNS];
  const char *text[MAX_COLUMNS];
  char bufs[MAX_COLUMNS][CELL_MAX];
  size_t n = layout(sum, cols);
  print_title(sum, fp);
  if (sum->n_rows == 0)
    return;
  print_groups(cols, n, fp);
  for (size_t c = 0; c < n; c++)
    text[c] = header(&cols[c]);
  print_line(cols, n, text, fp);
  for (size_t i = 0; i < sum->n_rows; i++) {
    for (size_t c = 0; c < n; c++)
      text[c] = cell(&sum->rows[i], &cols[c], bufs[c]);
    print_line(cols, n, text, fp);
  }
  print_notes(sum, fp);
}
