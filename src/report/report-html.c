/*
 * report-html.c: the report page (report-html.h).
 */
#include "compat.h"

#include <math.h>
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
    "svg.plot{background:#fff}svg text{font:11px sans-serif;fill:#333}"
    "svg text.ttl{font-weight:bold;font-size:12px}svg .grid{stroke:#e6e6e6}"
    "svg .axis{stroke:#555}"
    "svg .mem{fill:none;stroke:#999;stroke-width:1;opacity:.45}"
    "svg .mean{fill:none;stroke:#0072B2;stroke-width:2}"
    "svg .band{fill:#0072B2;opacity:.15;stroke:none}"
    "svg .ens{fill:none;stroke:#D55E00;stroke-width:2.5;stroke-dasharray:6 3}"
    "svg circle.m{fill:#999;opacity:.6}svg circle.e{fill:#D55E00}"
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
  static const char *const status[6] = {"pending", "running", "done", "failed", "diverged",
                                        "interrupted"};
  char buf[512];
  int len = 0;
  fputs("<table class=\"prov\">\n", fp);
  prov_row(fp, "grid", sw->path);
  prov_row(fp, "grid SHA-256", sw->yaml_sha256);
  prov_row(fp, "registered", sw->created_at);
  prov_row(fp, "lorens", sw->lorens_version);
  prov_row(fp, "backend", sw->backends);
  prov_row(fp, "model", sw->models);
  prov_row(fp, "training sets", sw->datasets);
  for (int i = 0; i < 6; i++)
    if (sw->by_status[i] && len < (int)sizeof buf)
      len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%ld %s", len ? ", " : "",
                      sw->by_status[i], status[i]);
  snprintf(buf + (len < (int)sizeof buf ? len : 0), sizeof buf - (size_t)(len < (int)sizeof buf ? len : 0),
           "%s(%ld in all)", len ? " " : "", sw->runs);
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

/* The epochs' members' mean and standard deviation, and ensembles' mean, of metric m over rows
 * [a, b) of one panel, at each of the n epochs e0 .. e0 + n - 1. */
typedef struct epoch_stats {
  double *x, *mean, *lo, *hi, *ens;
  size_t n;
} epoch_stats;

static void stats_of(const lr_curve_row *rows, size_t a, size_t b, int m, long e0, size_t n,
                     epoch_stats *st) {
  double *sum = calloc(n, sizeof *sum), *sq = calloc(n, sizeof *sq), *es = calloc(n, sizeof *es);
  long *cnt = calloc(n, sizeof *cnt), *ecnt = calloc(n, sizeof *ecnt);
  st->n = n;
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
      size_t k = (size_t)(rows[i].epoch - e0);
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
      st->x[k] = (double)(e0 + (long)k);
      st->mean[k] = cnt[k] ? sum[k] / (double)cnt[k] : NAN;
      st->ens[k] = ecnt[k] ? es[k] / (double)ecnt[k] : NAN;
    }
    /* The deviations from the mean, in a second pass. */
    for (size_t i = a; i < b; i++) {
      size_t k = (size_t)(rows[i].epoch - e0);
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
  free(cnt);
  free(ecnt);
}

static void stats_free(epoch_stats *st) {
  free(st->x);
  free(st->mean);
  free(st->lo);
  free(st->hi);
  free(st->ens);
}

/* One figure: metric m over epochs for rows [a, b), which share a panel. */
static void write_figure(FILE *fp, const lr_curve_row *rows, size_t a, size_t b, int m) {
  long e0 = rows[a].epoch, e1 = rows[a].epoch, finite = 0;
  double y0 = INFINITY, y1 = -INFINITY;
  lr_plot p;
  epoch_stats st;
  for (size_t i = a; i < b; i++) {
    double v = rows[i].metric[m];
    e0 = rows[i].epoch < e0 ? rows[i].epoch : e0;
    e1 = rows[i].epoch > e1 ? rows[i].epoch : e1;
    if (rows[i].finite && isfinite(v)) {
      y0 = v < y0 ? v : y0;
      y1 = v > y1 ? v : y1;
      finite++;
    }
  }
  if (finite == 0)
    y0 = y1 = 0;
  if (y1 - y0 < 1e-12 && (m == LR_CURVE_ACCURACY || m == LR_CURVE_ECE)) {
    /* A constant rate: a tenth of its [0, 1] scale around it, not [-1, 1]. */
    y0 = y0 - 0.05 < 0 ? 0 : y0 - 0.05;
    y1 = y1 + 0.05 > 1 ? 1 : y1 + 0.05;
  }
  stats_of(rows, a, b, m, e0, (size_t)(e1 - e0 + 1), &st);
  for (size_t k = 0; k < st.n; k++) { /* the band stays inside the figure */
    if (isfinite(st.lo[k]) && st.lo[k] < y0)
      y0 = st.lo[k];
    if (isfinite(st.hi[k]) && st.hi[k] > y1)
      y1 = st.hi[k];
  }
  /* data-rows: the marks this figure must show. */
  fprintf(fp, "<div class=\"fig\" data-metric=\"%s\" data-rows=\"%ld\">\n", metric_name[m], finite);
  lr_plot_begin(&p, fp, metric_label[m], "epoch", metric_label[m], (double)e0, (double)e1, y0, y1,
                300, 250);
  lr_plot_band(&p, "band", st.x, st.lo, st.hi, st.n);
  /* Each member's own line, rows of one (run, member) being consecutive. */
  for (size_t i = a; i < b;) {
    size_t j = i;
    double *x, *y;
    while (j < b && rows[j].run_id == rows[i].run_id && rows[j].idx == rows[i].idx &&
           rows[j].ensemble == rows[i].ensemble)
      j++;
    if (!rows[i].ensemble && (x = malloc((j - i) * sizeof *x)) != NULL) {
      if ((y = malloc((j - i) * sizeof *y)) != NULL) {
        for (size_t k = i; k < j; k++) {
          x[k - i] = (double)rows[k].epoch;
          y[k - i] = rows[k].finite ? rows[k].metric[m] : NAN;
        }
        lr_plot_line(&p, "mem", x, y, j - i);
        free(y);
      }
      free(x);
    }
    i = j;
  }
  lr_plot_line(&p, "mean", st.x, st.mean, st.n);
  lr_plot_line(&p, "ens", st.x, st.ens, st.n);
  for (size_t i = a; i < b; i++) {
    double v = rows[i].metric[m];
    if (!rows[i].finite || !isfinite(v))
      continue;
    fprintf(fp, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" data-run=\"%lld\" "
                "data-idx=\"%ld\" data-epoch=\"%ld\" data-metric=\"%s\" data-v=\"%.17g\">"
                "<title>run %lld (seed %ld), %s %ld, epoch %ld: %s %.4g</title></circle>\n",
            rows[i].ensemble ? "e" : "m", lr_plot_px(&p, (double)rows[i].epoch), lr_plot_py(&p, v),
            rows[i].ensemble ? "2.5" : "1.5", (long long)rows[i].run_id, rows[i].idx,
            rows[i].epoch, metric_name[m], v, (long long)rows[i].run_id, rows[i].seed,
            rows[i].ensemble ? "ensemble of" : "member", rows[i].idx, rows[i].epoch,
            metric_label[m], v);
  }
  lr_plot_end(&p);
  fputs("</div>\n", fp);
  stats_free(&st);
}

void lr_report_write(FILE *fp, const lr_report_sweep *sw, const lr_curve_row *rows, size_t n) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lorens "
        "report: ", fp);
  lr_html_escape(fp, sw->name);
  fprintf(fp, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Sweep ", css);
  lr_html_escape(fp, sw->name);
  fputs("</h1>\n", fp);
  write_provenance(fp, sw);
  fputs("<h2>Metrics over epochs</h2>\n<p>On each test set, for each group of runs (training "
        "set and regularizer): every member of every run (grey), the members' mean with one "
        "standard deviation (blue), and the ensemble of all of a run's members, averaged over "
        "the runs (orange, dashed). Hover a point for its value.</p>\n", fp);
  if (n == 0)
    fputs("<p>No evaluations yet.</p>\n", fp);
  for (size_t a = 0; a < n;) {
    size_t b = a;
    while (b < n && strcmp(rows[b].group, rows[a].group) == 0 &&
           strcmp(rows[b].eval_dataset, rows[a].eval_dataset) == 0)
      b++;
    fputs("<section class=\"panel\">\n<h3>", fp);
    lr_html_escape(fp, rows[a].group);
    fputs(", evaluated on ", fp);
    lr_html_escape(fp, rows[a].eval_dataset);
    fputs("</h3>\n<div class=\"row\">\n", fp);
    for (int m = 0; m < LR_CURVE_METRICS; m++)
      write_figure(fp, rows, a, b, m);
    fputs("</div>\n", fp);
    lr_plot_legend(fp, legend_classes, legend_labels, 4);
    fputs("</section>\n", fp);
    a = b;
  }
  fputs("</body>\n</html>\n", fp);
}
