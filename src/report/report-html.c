/*
 * report-html.c: the report page (report-html.h).
 */
#include "compat.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-html.h"
#include "report/svg-plot.h"

static const char *const metric_name[LR_CURVE_METRICS] = {"accuracy", "nll", "ece", "brier"};
static const char *const metric_label[LR_CURVE_METRICS] = {"accuracy", "NLL (nats)", "ECE",
                                                           "Brier score"};

/* Colours of the Okabe-Ito palette, which colour-blind readers tell apart; dashes as well. */
static const char css[] =
    "body{font:14px/1.4 sans-serif;color:#222;max-width:1240px;margin:16px auto;padding:0 12px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    "h3{font-size:15px;margin:18px 0 4px}"
    "table.prov{border-collapse:collapse}table.prov td{padding:2px 10px 2px 0;vertical-align:top}"
    "table.prov td:first-child{color:#555}"
    ".row{display:flex;flex-wrap:wrap;gap:6px}"
    ".fig svg{display:block}svg.plot{background:#fff}svg text{font:11px sans-serif;fill:#333}"
    "svg text.ttl{font-weight:bold;font-size:12px}svg .grid{stroke:#e6e6e6}"
    "svg .axis{stroke:#555}"
    "svg .mem{fill:none;stroke:#999;stroke-width:1;opacity:.45}"
    "svg .mean{fill:none;stroke:#0072B2;stroke-width:2}"
    "svg .band{fill:#0072B2;opacity:.15;stroke:none}"
    "svg .ens{fill:none;stroke:#D55E00;stroke-width:2.5;stroke-dasharray:6 3}"
    "svg circle.m{fill:#999;opacity:.6}svg circle.e,svg circle.re{fill:#D55E00}"
    "svg circle.k{fill:#555}svg circle.rm{fill:#0072B2}svg circle.g{fill:#009E73}"
    "svg .ideal{stroke:#777;stroke-dasharray:2 3;fill:none}"
    "svg .hm{fill:#0072B2;opacity:.6}svg .he{fill:#D55E00;opacity:.6}"
    "svg .oi,.legend .oi{fill:#0072B2;stroke:#0072B2;stroke-width:6}"
    "svg .oo,.legend .oo{fill:#E69F00;stroke:#E69F00;stroke-width:6}"
    "svg rect.oi,svg rect.oo{stroke:none}"
    "svg circle.am{fill:#0072B2}svg circle.ae{fill:#D55E00}svg circle.ak{fill:#555}"
    "nav ul{columns:3;font-size:13px}"
    "h4{font-size:13px;margin:10px 0 2px 0;color:#333}"
    ".tbl{overflow-x:auto}table.q{border-collapse:collapse;font-size:12px}"
    "table.q th,table.q td{border:1px solid #ddd;padding:2px 6px;white-space:nowrap}"
    "table.q th{background:#f3f3f3}.src{font-weight:normal;color:#666;font-size:12px}"
    ".legend{font-size:12px;color:#333;margin:2px 0 8px 64px}.legend svg{vertical-align:middle}"
    ".legend .band{stroke:#0072B2;stroke-width:8;opacity:.15}"
    "@media print{body{max-width:none}.row{break-inside:avoid}}";

static const char *const legend_classes[] = {"mem", "mean", "band", "ens"};
static const char *const legend_labels[] = {"each member", "members' mean",
                                            "one standard deviation around it",
                                            "ensemble of all members (mean over runs)"};

static void prov_row(FILE *fp, const char *key, const char *value) {
  fprintf(fp, "<tr><td>%s</td><td>", key);
  lr_html_escape(fp, value);
  fputs("</td></tr>\n", fp);
}

static void write_provenance(FILE *fp, const lr_report_sweep *sw) {
  const lr_run_counts *c = &sw->counts;
  const long count[6] = {c->pending, c->running, c->done, c->failed, c->diverged, c->interrupted};
  static const char *const status[6] = {"pending", "running", "done", "failed", "diverged",
                                        "interrupted"};
  char buf[512]; /* six statuses and their counts fit */
  int len = 0;
  fputs("<table class=\"prov\">\n", fp);
  prov_row(fp, "grid", sw->path);
  prov_row(fp, "grid SHA-256", sw->yaml_sha256);
  prov_row(fp, "registered", sw->created_at);
  prov_row(fp, "lorens", sw->lorens_version);
  prov_row(fp, "backend", sw->backends);
  prov_row(fp, "model", sw->models);
  prov_row(fp, "training sets", sw->datasets);
  prov_row(fp, "groups differ by", sw->axes);
  for (int i = 0; i < 6; i++)
    if (count[i])
      len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%ld %s", len ? ", " : "", count[i],
                      status[i]);
  snprintf(buf + len, sizeof buf - (size_t)len, "%s(%ld in all)", len ? " " : "", c->total);
  prov_row(fp, "runs", buf);
  snprintf(buf, sizeof buf, "%.1f s of runs", sw->run_seconds);
  prov_row(fp, "wall time", buf);
  if (sw->train_seconds > 0) {
    snprintf(buf, sizeof buf, "%.0f tokens/s (%.0f tokens in %.1f s of training steps)",
             sw->train_tokens / sw->train_seconds, sw->train_tokens, sw->train_seconds);
    prov_row(fp, "throughput", buf);
  }
  fputs("</table>\n", fp);
}

/* The x of a row in a figure over epochs, or (by_k) against the ensemble size. */
static double row_x(const lr_curve_row *r, int by_k) {
  return (double)(by_k ? r->idx : r->epoch);
}

/* The members' mean and standard deviation, and the ensembles' mean, of metric m over rows
 * [a, b) of one panel at each of the n x values x0 .. x0 + n - 1 (epochs, or ensemble sizes
 * when by_k). */
typedef struct epoch_stats {
  double *x, *mean, *lo, *hi, *ens;
  long *cnt, *ecnt;         /* the finite member and ensemble rows behind mean and ens */
  size_t n;
} epoch_stats;

static void stats_of(const lr_curve_row *rows, size_t a, size_t b, int m, int by_k, long x0,
                     size_t n, epoch_stats *st) {
  double *sum = calloc(n, sizeof *sum), *sq = calloc(n, sizeof *sq), *es = calloc(n, sizeof *es);
  long *cnt = calloc(n, sizeof *cnt), *ecnt = calloc(n, sizeof *ecnt);
  st->n = n;
  st->cnt = cnt;
  st->ecnt = ecnt;
  st->x = calloc(n, sizeof *st->x);
  st->mean = calloc(n, sizeof *st->mean);
  st->lo = calloc(n, sizeof *st->lo);
  st->hi = calloc(n, sizeof *st->hi);
  st->ens = calloc(n, sizeof *st->ens);
  if (!sum || !sq || !es || !cnt || !ecnt || !st->x || !st->mean || !st->lo || !st->hi ||
      !st->ens) {
    st->n = 0;
  } else {
    for (size_t i = a; i < b; i++) {
      size_t k = (size_t)((long)row_x(&rows[i], by_k) - x0);
      double v = rows[i].metric[m];
      if (!rows[i].finite || !isfinite(v))
        continue;
      if (rows[i].ensemble) {
        es[k] += v;
        ecnt[k]++;
      } else {
        sum[k] += v;
        cnt[k]++;
      }
    }
    for (size_t k = 0; k < n; k++) {
      st->x[k] = (double)(x0 + (long)k);
      st->mean[k] = cnt[k] ? sum[k] / (double)cnt[k] : NAN;
      st->ens[k] = ecnt[k] ? es[k] / (double)ecnt[k] : NAN;
    }
    /* The deviations from the mean, in a second pass. */
    for (size_t i = a; i < b; i++) {
      size_t k = (size_t)((long)row_x(&rows[i], by_k) - x0);
      double v = rows[i].metric[m];
      if (!rows[i].ensemble && rows[i].finite && isfinite(v))
        sq[k] += (v - st->mean[k]) * (v - st->mean[k]);
    }
    for (size_t k = 0; k < n; k++) {
      double sd = cnt[k] > 1 ? sqrt(sq[k] / (double)(cnt[k] - 1)) : NAN;
      st->lo[k] = st->mean[k] - sd;
      st->hi[k] = st->mean[k] + sd;
    }
  }
  free(sum);
  free(sq);
  free(es);
}

static void stats_free(epoch_stats *st) {
  free(st->x);
  free(st->mean);
  free(st->lo);
  free(st->hi);
  free(st->ens);
  free(st->cnt);
  free(st->ecnt);
}

/* The range of metric m's finite values over rows [a, b) in *y0, *y1; returns how many there are.
 * A constant rate gets a tenth of its [0, 1] scale around it, not [-1, 1]. */
static long value_range(const lr_curve_row *rows, size_t a, size_t b, int m, double *y0,
                        double *y1) {
  long finite = 0;
  *y0 = INFINITY;
  *y1 = -INFINITY;
  for (size_t i = a; i < b; i++) {
    double v = rows[i].metric[m];
    if (rows[i].finite && isfinite(v)) {
      *y0 = v < *y0 ? v : *y0;
      *y1 = v > *y1 ? v : *y1;
      finite++;
    }
  }
  if (finite == 0)
    *y0 = *y1 = 0;
  if (*y1 - *y0 < 1e-12 && (m == LR_CURVE_ACCURACY || m == LR_CURVE_ECE)) {
    *y0 = *y0 - 0.05 < 0 ? 0 : *y0 - 0.05;
    *y1 = *y1 + 0.05 > 1 ? 1 : *y1 + 0.05;
  }
  return finite;
}

/* A faint line of metric m through each stretch of rows [a, b) that belongs to one line: one
 * member of one run (over epochs), or one run (by_k).  Those rows are consecutive. */
static void row_lines(const lr_plot *p, const lr_curve_row *rows, size_t a, size_t b, int m,
                      int by_k) {
  for (size_t i = a; i < b;) {
    size_t j = i;
    double *x, *y;
    while (j < b && rows[j].run_id == rows[i].run_id &&
           (by_k || (rows[j].idx == rows[i].idx && rows[j].ensemble == rows[i].ensemble)))
      j++;
    x = malloc((j - i) * sizeof *x);
    y = malloc((j - i) * sizeof *y);
    if (x && y && (by_k || !rows[i].ensemble)) {
      for (size_t k = i; k < j; k++) {
        x[k - i] = row_x(&rows[k], by_k);
        y[k - i] = rows[k].finite ? rows[k].metric[m] : NAN;
      }
      lr_plot_line(p, "mem", x, y, j - i);
    }
    free(x);
    free(y);
    i = j;
  }
}

/* A mark for each finite value of metric m in rows [a, b): class m (member), e (ensemble, over
 * epochs) or k (against the ensemble size), with its row's identity, value and tooltip. */
static void row_marks(FILE *fp, const lr_plot *p, const lr_curve_row *rows, size_t a, size_t b,
                      int m, int by_k) {
  for (size_t i = a; i < b; i++) {
    const lr_curve_row *r = &rows[i];
    double v = r->metric[m];
    if (!r->finite || !isfinite(v))
      continue;
    fprintf(fp, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" data-run=\"%lld\" "
                "data-idx=\"%ld\" data-epoch=\"%ld\" data-metric=\"%s\" data-v=\"%.17g\">"
                "<title>run %lld (seed %ld), %s %ld, epoch %ld: %s %.4g</title></circle>\n",
            by_k ? "k" : r->ensemble ? "e" : "m", lr_plot_px(p, row_x(r, by_k)), lr_plot_py(p, v),
            by_k ? "2" : r->ensemble ? "2.5" : "1.5", (long long)r->run_id, r->idx, r->epoch,
            metric_name[m], v, (long long)r->run_id, r->seed,
            r->ensemble ? "ensemble of" : "member", r->idx, r->epoch, metric_label[m], v);
  }
}

/* A summary mark for n rows whose mean is v: class cls, the rows' epoch (or k) and count. */
static void summary_mark(FILE *fp, const lr_plot *p, const char *cls, const char *what, double x,
                         long n, int m, double v, int by_k) {
  fprintf(fp, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" data-%s=\"%.0f\" "
              "data-metric=\"%s\" data-n=\"%ld\" data-v=\"%.17g\"><title>%s, %s %.0f: "
              "%s %.4g (mean of %ld)</title></circle>\n",
          cls, lr_plot_px(p, x), lr_plot_py(p, v), by_k ? "k" : "epoch", x, metric_name[m], n, v,
          what, by_k ? "k" : "epoch", x, metric_label[m], v, n);
}

/* One figure of metric m for rows [a, b), which share a panel: over the epochs (every member's
 * line faint, the members' mean with one standard deviation, the ensembles' mean) or, by_k,
 * against the ensemble size (every run's line faint, their mean).  Up to LR_REPORT_DETAIL_ROWS
 * rows get a mark each; more get a mark per x and kind of row, their mean, which keeps a large
 * sweep's page small (every line is still drawn). */
static void write_figure(FILE *fp, const lr_curve_row *rows, size_t a, size_t b, int m, int by_k) {
  long x0 = (long)row_x(&rows[a], by_k), x1 = x0, finite;
  double y0, y1;
  lr_plot p;
  epoch_stats st;
  for (size_t i = a; i < b; i++) {
    long x = (long)row_x(&rows[i], by_k);
    x0 = x < x0 ? x : x0;
    x1 = x > x1 ? x : x1;
  }
  finite = value_range(rows, a, b, m, &y0, &y1);
  stats_of(rows, a, b, m, by_k, x0, (size_t)(x1 - x0 + 1), &st);
  for (size_t k = 0; k < st.n; k++) { /* the band stays inside the figure */
    if (isfinite(st.lo[k]) && st.lo[k] < y0)
      y0 = st.lo[k];
    if (isfinite(st.hi[k]) && st.hi[k] > y1)
      y1 = st.hi[k];
  }
  /* data-rows: the rows this figure's marks stand for (a summary mark for data-n of them). */
  fprintf(fp, "<div class=\"fig\" data-metric=\"%s\" data-rows=\"%ld\">\n", metric_name[m],
          finite);
  lr_plot_begin(&p, fp, metric_label[m], by_k ? "ensemble size k" : "epoch", metric_label[m],
                (double)x0, (double)x1, y0, y1, 300, 250, LR_PLOT_WHOLE_X);
  lr_plot_band(&p, "band", st.x, st.lo, st.hi, st.n);
  row_lines(&p, rows, a, b, m, by_k);
  lr_plot_line(&p, "mean", st.x, st.mean, st.n);
  lr_plot_line(&p, "ens", st.x, st.ens, st.n);
  if (finite <= LR_REPORT_DETAIL_ROWS) {
    row_marks(fp, &p, rows, a, b, m, by_k);
  } else {
    for (size_t k = 0; k < st.n; k++) {
      if (st.cnt[k] > 0)
        summary_mark(fp, &p, "am", "members' mean", st.x[k], st.cnt[k], m, st.mean[k], by_k);
      if (st.ecnt[k] > 0)
        summary_mark(fp, &p, by_k ? "ak" : "ae", by_k ? "runs' mean" : "ensembles' mean",
                     st.x[k], st.ecnt[k], m, st.ens[k], by_k);
    }
  }
  lr_plot_end(&p);
  fputs("</div>\n", fp);
  stats_free(&st);
}

/* One series of a reliability diagram: a mark per non-empty bin, joined. */
static void reliability_series(FILE *fp, const lr_plot *p, const lr_metrics_acc *acc,
                               const char *series, const char *line_cls, const char *mark_cls) {
  double x[LR_ECE_BINS_MAX], y[LR_ECE_BINS_MAX];
  size_t n = 0;
  for (int j = 0; j < acc->bins; j++)
    if (acc->bin_n[j] > 0) {
      x[n] = acc->bin_conf[j] / acc->bin_n[j];
      y[n++] = acc->bin_correct[j] / acc->bin_n[j];
    }
  lr_plot_line(p, line_cls, x, y, n);
  for (int j = 0; j < acc->bins; j++) {
    double conf, hit;
    if (acc->bin_n[j] <= 0)
      continue;
    conf = acc->bin_conf[j] / acc->bin_n[j];
    hit = acc->bin_correct[j] / acc->bin_n[j];
    fprintf(fp, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" data-series=\"%s\" "
                "data-bin=\"%d\" data-n=\"%.0f\" data-conf=\"%.17g\" data-acc=\"%.17g\">"
                "<title>%s, confidence %.2f-%.2f: %.0f predictions, mean confidence %.3f, "
                "accuracy %.3f</title></circle>\n",
            mark_cls, lr_plot_px(p, conf), lr_plot_py(p, hit), series, j, acc->bin_n[j], conf, hit,
            series, (double)j / acc->bins, (double)(j + 1) / acc->bins, acc->bin_n[j], conf, hit);
  }
}

/* The reliability diagram of a panel, and under it the share of predictions in each bin. */
static void write_reliability(FILE *fp, const lr_reliability *r) {
  static const double diag[2] = {0, 1};
  lr_plot p;
  lr_metrics mm, me;
  long marks = 0;
  int bins = r->members.bins;
  char title[96];
  lr_metrics_finish(&r->members, &mm);
  lr_metrics_finish(&r->ensemble, &me);
  for (int j = 0; j < bins; j++)
    marks += (r->members.bin_n[j] > 0) + (r->ensemble.bin_n[j] > 0);
  snprintf(title, sizeof title, "reliability at epoch %ld (ECE %.3f / %.3f)", r->epoch, mm.ece,
           me.ece);
  fprintf(fp, "<div class=\"fig\" data-metric=\"reliability\" data-rows=\"%ld\">\n", marks);
  lr_plot_begin(&p, fp, title, "confidence (top choice's probability)", "accuracy", 0, 1, 0, 1,
                420, 320, 0);
  fprintf(fp, "<line class=\"ideal\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
          lr_plot_px(&p, diag[0]), lr_plot_py(&p, diag[0]), lr_plot_px(&p, diag[1]),
          lr_plot_py(&p, diag[1]));
  reliability_series(fp, &p, &r->members, "members", "mean", "rm");
  reliability_series(fp, &p, &r->ensemble, "ensemble", "ens", "re");
  lr_plot_end(&p);
  /* The share of each series' predictions in each bin, bars side by side. */
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hist\" width=\"420\" "
              "height=\"90\" viewBox=\"0 0 420 90\">\n");
  for (int j = 0; j < bins; j++) {
    double fm = r->members.n ? r->members.bin_n[j] / (double)r->members.n : 0,
           fe = r->ensemble.n ? r->ensemble.bin_n[j] / (double)r->ensemble.n : 0;
    double x0 = lr_plot_px(&p, (double)j / bins), w = (lr_plot_px(&p, 1) - lr_plot_px(&p, 0)) / bins;
    fprintf(fp, "<rect class=\"hm\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                "<title>members: %.0f of %zu predictions in bin %d</title></rect>"
                "<rect class=\"he\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                "<title>ensemble: %.0f of %zu predictions in bin %d</title></rect>\n",
            x0 + 1, 70 - 60 * fm, w / 2 - 1, 60 * fm, r->members.bin_n[j], r->members.n, j,
            x0 + w / 2, 70 - 60 * fe, w / 2 - 1, 60 * fe, r->ensemble.bin_n[j], r->ensemble.n, j);
  }
  fprintf(fp, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"70\" y2=\"70\"/>"
              "<text class=\"tick\" x=\"%d\" y=\"84\">share of predictions in each bin "
              "(members %zu, ensembles %zu)</text>\n</svg>\n",
          p.left, p.w - p.right, p.left, r->members.n, r->ensemble.n);
  fputs("</div>\n", fp);
}

/* Each run's gain from ensembling against its members' disagreement: a mark per run. */
static void write_gains(FILE *fp, const lr_gain_row *g, size_t n) {
  static const char *const what[2] = {"accuracy gain", "NLL reduction"};
  static const char *const key[2] = {"accuracy_gain", "nll_gain"};
  for (int which = 0; which < 2; which++) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = 0; /* 0 stays in view: no gain */
    lr_plot p;
    for (size_t i = 0; i < n; i++) {
      double y = which ? g[i].nll_gain : g[i].accuracy_gain;
      x0 = g[i].disagreement < x0 ? g[i].disagreement : x0;
      x1 = g[i].disagreement > x1 ? g[i].disagreement : x1;
      y0 = y < y0 ? y : y0;
      y1 = y > y1 ? y : y1;
    }
    fprintf(fp, "<div class=\"fig\" data-metric=\"%s\" data-rows=\"%zu\">\n", key[which], n);
    lr_plot_begin(&p, fp, what[which], "members' disagreement", what[which], x0, x1, y0, y1, 300,
                  250, 0);
    fprintf(fp, "<line class=\"ideal\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
            lr_plot_px(&p, p.x0), lr_plot_px(&p, p.x1), lr_plot_py(&p, 0), lr_plot_py(&p, 0));
    for (size_t i = 0; i < n; i++) {
      double y = which ? g[i].nll_gain : g[i].accuracy_gain;
      fprintf(fp, "<circle class=\"g\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" data-run=\"%lld\" "
                  "data-metric=\"%s\" data-x=\"%.17g\" data-v=\"%.17g\"><title>run %lld (seed "
                  "%ld), epoch %ld: disagreement %.4g, %s %.4g</title></circle>\n",
              lr_plot_px(&p, g[i].disagreement), lr_plot_py(&p, y), (long long)g[i].run_id,
              key[which], g[i].disagreement, y, (long long)g[i].run_id, g[i].seed, g[i].epoch,
              g[i].disagreement, what[which], y);
    }
    lr_plot_end(&p);
    fputs("</div>\n", fp);
  }
}

/* The rows [*a, *b) of items (n of them, each `size` bytes, a panel key at offset `off`) that
 * belong to panel k; they are consecutive. */
static void panel_span(const void *items, size_t n, size_t size, size_t off, const lr_panel_key *k,
                       size_t *a, size_t *b) {
#define KEY_AT(i) ((const lr_panel_key *)((const char *)items + (i) * size + off))
  for (*a = 0; *a < n && !lr_panel_same(KEY_AT(*a), k); (*a)++)
    ;
  for (*b = *a; *b < n && lr_panel_same(KEY_AT(*b), k); (*b)++)
    ;
#undef KEY_AT
}

/* A panel's figures after its curves: the metrics against the ensemble size, and reliability. */
static void write_panel_more(FILE *fp, const lr_report_data *d, const lr_panel_key *key) {
  static const char *const size_classes[] = {"mem", "ens"};
  static const char *const size_labels[] = {"each run", "mean over runs"};
  static const char *const rel_classes[] = {"mean", "ens", "ideal"};
  static const char *const rel_labels[] = {"members (pooled)", "ensembles of all members",
                                           "perfect calibration"};
  size_t a, b;
  panel_span(d->sizes, d->n_sizes, sizeof *d->sizes, offsetof(lr_curve_row, panel), key, &a, &b);
  if (b > a) {
    fprintf(fp, "<h4>Against the ensemble size, at epoch %ld</h4>\n<div class=\"row\">\n",
            d->sizes[a].epoch);
    for (int m = 0; m < LR_CURVE_METRICS; m++)
      write_figure(fp, d->sizes, a, b, m, 1);
    fputs("</div>\n", fp);
    lr_plot_legend(fp, size_classes, size_labels, 2);
  }
  panel_span(d->gains, d->n_gains, sizeof *d->gains, offsetof(lr_gain_row, panel), key, &a, &b);
  if (b > a) {
    fputs("<h4>What ensembling gains, against how much the members disagree (a point per "
          "run)</h4>\n<div class=\"row\">\n", fp);
    write_gains(fp, d->gains + a, b - a);
    fputs("</div>\n", fp);
  }
  for (size_t i = 0; i < d->n_reliability; i++)
    if (lr_panel_same(&d->reliability[i].panel, key)) {
      fputs("<h4>Reliability</h4>\n<div class=\"row\">\n", fp);
      write_reliability(fp, &d->reliability[i]);
      fputs("</div>\n", fp);
      lr_plot_legend(fp, rel_classes, rel_labels, 3);
    }
}

/* One OOD histogram: the share of the reference set's and of the OOD set's scores in each bin,
 * bars side by side, each carrying its count (data-n); data-rows is the scores behind it. */
static void write_ood_hist(FILE *fp, const lr_ood_hist *h, const char *series, int score,
                           double auroc, long auroc_n) {
  static const char *const name[LR_OOD_SCORES] = {"maxprob", "entropy", "mi"};
  static const char *const title_of[LR_OOD_SCORES] = {"max probability", "entropy",
                                                      "mutual information"};
  static const char *const label[LR_OOD_SCORES] = {"max probability", "entropy (nats)",
                                                   "mutual information (nats)"};
  static const char *const role_cls[2] = {"oi", "oo"};
  static const char *const role_name[2] = {"in-distribution", "OOD"};
  double top = 0;
  char title[128];
  lr_plot p;
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < LR_OOD_BINS; j++)
      if (h->n[r] > 0 && (double)h->count[r][j] / (double)h->n[r] > top)
        top = (double)h->count[r][j] / (double)h->n[r];
  if (isfinite(auroc))
    snprintf(title, sizeof title, "%s (AUROC %.3f)", title_of[score], auroc);
  else
    snprintf(title, sizeof title, "%s", title_of[score]);
  fprintf(fp, "<div class=\"fig\" data-metric=\"ood-%s-%s\" data-rows=\"%ld\" data-hi=\"%.17g\"",
          series, name[score], h->n[0] + h->n[1], h->hi);
  if (isfinite(auroc))
    fprintf(fp, " data-auroc=\"%.17g\" data-auroc-n=\"%ld\"", auroc, auroc_n);
  fputs(">\n", fp);
  lr_plot_begin(&p, fp, title, label[score], "share of the set", 0, h->hi, 0, top > 0 ? top : 1,
                300, 250, 0);
  for (int j = 0; j < LR_OOD_BINS; j++) {
    double w = (lr_plot_px(&p, h->hi) - lr_plot_px(&p, 0)) / LR_OOD_BINS,
           x0 = lr_plot_px(&p, h->hi * j / LR_OOD_BINS);
    for (int r = 0; r < 2; r++) {
      double share = h->n[r] ? (double)h->count[r][j] / (double)h->n[r] : 0;
      if (h->count[r][j] == 0)
        continue;
      fprintf(fp, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "data-role=\"%s\" data-bin=\"%d\" data-n=\"%ld\"><title>%s, %s %.3g-%.3g: %ld "
                  "of %ld</title></rect>\n",
              role_cls[r], x0 + (r ? w / 2 : 0.5), lr_plot_py(&p, share), w / 2 - 0.5,
              lr_plot_py(&p, 0) - lr_plot_py(&p, share), r ? "ood" : "id", j, h->count[r][j],
              role_name[r], label[score], h->hi * j / LR_OOD_BINS, h->hi * (j + 1) / LR_OOD_BINS,
              h->count[r][j], h->n[r]);
    }
  }
  lr_plot_end(&p);
  fputs("</div>\n", fp);
}

/* The stored AUROC of a panel's members (ensemble 0) or ensembles, or NaN. */
static double stored_auroc(const lr_report_data *d, const lr_panel_key *key, int ensemble,
                           int score, long *n) {
  for (size_t i = 0; i < d->n_aurocs; i++)
    if (lr_panel_same(&d->aurocs[i].panel, key) && d->aurocs[i].ensemble == ensemble) {
      *n = d->aurocs[i].n;
      return d->aurocs[i].auroc[score];
    }
  *n = 0;
  return NAN;
}

/* An OOD panel: for its OOD set, the histograms of each score. */
static void write_ood_panel(FILE *fp, const lr_report_data *d, const lr_ood_panel *o) {
  static const char *const classes[] = {"oi", "oo"};
  static const char *const labels[] = {"in-distribution", "out of distribution"};
  long n;
  fputs("<section class=\"panel ood\">\n<h3>", fp);
  lr_html_escape(fp, o->panel.group);
  fputs(": out-of-distribution detection, ", fp);
  lr_html_escape(fp, o->id_set);
  fputs(" against ", fp);
  lr_html_escape(fp, o->panel.eval_dataset);
  fprintf(fp, " (epoch %ld)</h3>\n<p>How each score is spread over the in-distribution set and "
              "the OOD set; the AUROC (in the title) is the stored one, averaged over the runs: "
              "1 when the score separates the sets perfectly, 0.5 by chance.</p>\n", o->epoch);
  fputs("<h4>Ensembles of all of a run's members (the mean of their probabilities)</h4>\n"
        "<div class=\"row\">\n", fp);
  for (int s = 0; s < LR_OOD_SCORES; s++) {
    double auroc;
    if (s == LR_OOD_MI && !o->has_mi)
      continue;
    auroc = stored_auroc(d, &o->panel, 1, s, &n);
    write_ood_hist(fp, &o->ensemble[s], "ensemble", s, auroc, n);
  }
  fputs("</div>\n<h4>Every member, pooled</h4>\n<div class=\"row\">\n", fp);
  for (int s = 0; s < 2; s++) {
    double auroc = stored_auroc(d, &o->panel, 0, s, &n);
    write_ood_hist(fp, &o->members[s], "members", s, auroc, n);
  }
  fputs("</div>\n", fp);
  lr_plot_legend(fp, classes, labels, 2);
  fputs("</section>\n", fp);
}

/* A test-set panel: rows [a, b) of the learning curves, then the figures at one epoch. */
static void write_test_panel(FILE *fp, const lr_report_data *d, size_t a, size_t b) {
  const lr_curve_row *rows = d->curves;
  fputs("<section class=\"panel\" data-runs=\"", fp);
  for (size_t i = a; i < b; i++) { /* the panel's runs, for a reader of its summary marks */
    size_t j = a;
    while (j < i && rows[j].run_id != rows[i].run_id)
      j++;
    if (j == i)
      fprintf(fp, "%s%lld", i == a ? "" : ",", (long long)rows[i].run_id);
  }
  fputs("\" data-eval=\"", fp);
  lr_html_escape(fp, rows[a].panel.eval_dataset);
  fputs("\">\n<h3>", fp);
  lr_html_escape(fp, rows[a].panel.group);
  fputs(", evaluated on ", fp);
  lr_html_escape(fp, rows[a].panel.eval_dataset);
  fputs("</h3>\n<div class=\"row\">\n", fp);
  for (int m = 0; m < LR_CURVE_METRICS; m++)
    write_figure(fp, rows, a, b, m, 0);
  fputs("</div>\n", fp);
  lr_plot_legend(fp, legend_classes, legend_labels, 4);
  write_panel_more(fp, d, &rows[a].panel);
  fputs("</section>\n", fp);
}

/* The page's groups in order, from the learning curves and the OOD panels (a group may have
 * either alone): each group's order and section.  *groups from malloc. */
typedef struct group_head {
  long ord;
  const char *section;
} group_head;

static size_t group_heads(const lr_report_data *d, group_head **groups) {
  size_t a = 0, o = 0, n = 0;
  *groups = malloc((d->n_curves + d->n_ood + 1) * sizeof **groups);
  while (*groups && (a < d->n_curves || o < d->n_ood)) {
    const lr_panel_key *k =
        o == d->n_ood || (a < d->n_curves && d->curves[a].panel.ord <= d->ood[o].panel.ord)
            ? &d->curves[a].panel
            : &d->ood[o].panel;
    if (n == 0 || (*groups)[n - 1].ord != k->ord)
      (*groups)[n++] = (group_head){k->ord, k->section};
    while (a < d->n_curves && d->curves[a].panel.ord == k->ord)
      a++;
    while (o < d->n_ood && d->ood[o].panel.ord == k->ord)
      o++;
  }
  return *groups ? n : 0;
}

/* A contents list of the sections, each with its number of groups. */
static void write_contents(FILE *fp, const group_head *g, size_t n) {
  long section = 0;
  fputs("<nav><p>Sections, one per value of the first key the sweep varies:</p>\n<ul>\n", fp);
  for (size_t a = 0, b; a < n; a = b) {
    for (b = a; b < n && strcmp(g[b].section, g[a].section) == 0; b++)
      ;
    fprintf(fp, "<li><a href=\"#s%ld\">", section++);
    lr_html_escape(fp, g[a].section);
    fprintf(fp, "</a> (%zu group%s)</li>\n", b - a, b - a == 1 ? "" : "s");
  }
  fputs("</ul>\n</nav>\n", fp);
}

void lr_report_write(FILE *fp, const lr_report_data *d) {
  const lr_report_sweep *sw = d->sweep;
  const lr_curve_row *rows = d->curves;
  size_t n = d->n_curves, a = 0, o = 0;
  group_head *groups;
  size_t n_groups = group_heads(d, &groups);
  /* Sections when the sweep varies more than one key: their names are not empty. */
  int sections = n_groups > 0 && groups[0].section[0] != '\0';
  long section = 0;
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lorens "
        "report: ", fp);
  lr_html_escape(fp, sw->name);
  fprintf(fp, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Sweep ", css);
  lr_html_escape(fp, sw->name);
  fputs("</h1>\n", fp);
  write_provenance(fp, sw);
  if (sections)
    write_contents(fp, groups, n_groups);
  fputs("<h2>Results by group of runs</h2>\n<p>A group is the runs whose configurations differ "
        "by the seed only, named by the keys the sweep varies.  On each test set: every member of "
        "every run (grey), the members' mean with one standard deviation (blue), and the "
        "ensemble of all of a run's members, averaged over the runs (orange, dashed).  Hover a "
        "point for its value; where a figure stands for many rows, each point is a mean over "
        "the rows of its epoch.</p>\n", fp);
  if (n_groups == 0)
    fputs("<p>No evaluations yet.</p>\n", fp);
  for (size_t g = 0; g < n_groups; g++) {
    if (sections && (g == 0 || strcmp(groups[g].section, groups[g - 1].section) != 0)) {
      fprintf(fp, "<h2 id=\"s%ld\">", section++);
      lr_html_escape(fp, groups[g].section);
      fputs("</h2>\n", fp);
    }
    while (a < n && rows[a].panel.ord == groups[g].ord) { /* its test sets */
      size_t b = a;
      while (b < n && lr_panel_same(&rows[b].panel, &rows[a].panel))
        b++;
      write_test_panel(fp, d, a, b);
      a = b;
    }
    for (; o < d->n_ood && d->ood[o].panel.ord == groups[g].ord; o++) /* then its OOD sets */
      write_ood_panel(fp, d, &d->ood[o]);
  }
  free(groups);
  if (d->n_tables) {
    fputs("<h2>Tables</h2>\n<p>The ready queries of db/queries/, over every sweep in the "
          "database: means with their standard deviation over seeds, and the runs that need "
          "attention, with why.</p>\n", fp);
    for (size_t i = 0; i < d->n_tables; i++)
      lr_report_table_write(fp, &d->tables[i]);
  }
  fputs("</body>\n</html>\n", fp);
}
