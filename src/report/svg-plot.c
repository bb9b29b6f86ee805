/*
 * svg-plot.c: line plots in SVG (svg-plot.h).
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/svg-plot.h"

void lr_html_escape(FILE *fp, const char *s) {
  for (; s && *s; s++)
    switch (*s) {
    case '&': fputs("&amp;", fp); break;
    case '<': fputs("&lt;", fp); break;
    case '>': fputs("&gt;", fp); break;
    case '"': fputs("&quot;", fp); break;
    default: fputc(*s, fp);
    }
}

/* A round step giving about `want` ticks over range: 1, 2 or 5 times a power of ten. */
static double tick_step(double range, int want) {
  double raw = range / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

double lr_plot_px(const lr_plot *p, double x) {
  return p->left + (x - p->x0) / (p->x1 - p->x0) * (p->w - p->left - p->right);
}

double lr_plot_py(const lr_plot *p, double y) {
  return p->h - p->bottom - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->top - p->bottom);
}

/* Widens [*lo, *hi] to multiples of a round step; returns the step. */
static double round_range(double *lo, double *hi, int want) {
  double step;
  if (!(*hi > *lo)) {
    double pad = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
    *lo -= pad;
    *hi += pad;
  }
  step = tick_step(*hi - *lo, want);
  *lo = floor(*lo / step + 1e-9) * step;
  *hi = ceil(*hi / step - 1e-9) * step;
  return step;
}

void lr_plot_begin(lr_plot *p, FILE *fp, const char *title, const char *xlabel,
                   const char *ylabel, double x0, double x1, double y0, double y1, int w, int h,
                   unsigned flags) {
  double xs, ys;
  memset(p, 0, sizeof *p);
  p->fp = fp;
  p->w = w;
  p->h = h;
  p->left = 64;
  p->right = 12;
  p->top = 26;
  p->bottom = 58;
  /* x labels sit side by side: about four, three for tiny values, which print long (4e-08). */
  xs = round_range(&x0, &x1, fmax(fabs(x0), fabs(x1)) < 1e-3 ? 3 : 4);
  ys = round_range(&y0, &y1, 5);
  if ((flags & LR_PLOT_WHOLE_X) && xs < 1)
    xs = 1;
  p->x0 = x0;
  p->x1 = x1;
  p->y0 = y0;
  p->y1 = y1;
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" role=\"img\">\n<title>", w, h, w, h);
  lr_html_escape(fp, title);
  fprintf(fp, "</title>\n<text class=\"ttl\" x=\"%d\" y=\"16\">", p->left);
  lr_html_escape(fp, title);
  fputs("</text>\n", fp);
  /* Grid lines and tick labels. */
  /* As many decimals as the step has, so that neighbouring ticks never print alike. */
  int decimals = ys < 1 ? (int)ceil(-log10(ys) - 1e-9) : 0;
  /* Tiny values (all below 1e-3 in size) read better in exponent form: 6e-07, not 0.0000006. */
  int tiny = decimals > 4 && fmax(fabs(y0), fabs(y1)) < 1e-3;
  for (double y = y0; y <= y1 + ys * 1e-6; y += ys) {
    double py = lr_plot_py(p, y);
    fprintf(fp, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
            p->left, w - p->right, py, py, p->left - 4, py + 4);
    double shown = fabs(y) < ys * 1e-6 ? 0.0 : y;
    if (tiny)
      fprintf(fp, "%.2g</text>\n", shown);
    else
      fprintf(fp, "%.*f</text>\n", decimals, shown);
  }
  for (double x = x0; x <= x1 + xs * 1e-6; x += xs) {
    double px = lr_plot_px(p, x);
    fprintf(fp, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n",
            px, px, h - p->bottom, h - p->bottom + 4, px, h - p->bottom + 16, x);
  }
  fprintf(fp, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", p->left,
          w - p->right, h - p->bottom, h - p->bottom);
  fprintf(fp, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", p->left, p->left,
          p->top, h - p->bottom);
  fprintf(fp, "<text class=\"lbl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
          (p->left + w - p->right) / 2.0, h - p->bottom + 32);
  lr_html_escape(fp, xlabel);
  fprintf(fp, "</text>\n<text class=\"lbl\" transform=\"translate(12 %.1f) rotate(-90)\" "
              "text-anchor=\"middle\">", (p->top + h - p->bottom) / 2.0);
  lr_html_escape(fp, ylabel);
  fputs("</text>\n", fp);
}

void lr_plot_line(const lr_plot *p, const char *cls, const double *x, const double *y, size_t n) {
  int open = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) {
      if (open)
        fputs("\"/>\n", p->fp);
      open = 0;
      continue;
    }
    if (!open)
      fprintf(p->fp, "<polyline class=\"%s\" points=\"", cls);
    fprintf(p->fp, open ? " %.1f,%.1f" : "%.1f,%.1f", lr_plot_px(p, x[i]), lr_plot_py(p, y[i]));
    open = 1;
  }
  if (open)
    fputs("\"/>\n", p->fp);
}

void lr_plot_band(const lr_plot *p, const char *cls, const double *x, const double *lo,
                  const double *hi, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += isfinite(lo[i]) && isfinite(hi[i]);
  if (k < 2)
    return;
  fprintf(p->fp, "<polygon class=\"%s\" points=\"", cls);
  for (size_t i = 0; i < n; i++)
    if (isfinite(lo[i]) && isfinite(hi[i]))
      fprintf(p->fp, "%.1f,%.1f ", lr_plot_px(p, x[i]), lr_plot_py(p, hi[i]));
  for (size_t i = n; i-- > 0;)
    if (isfinite(lo[i]) && isfinite(hi[i]))
      fprintf(p->fp, "%.1f,%.1f ", lr_plot_px(p, x[i]), lr_plot_py(p, lo[i]));
  fputs("\"/>\n", p->fp);
}

void lr_plot_end(const lr_plot *p) {
  fputs("</svg>\n", p->fp);
}

void lr_plot_legend(FILE *fp, const char *const *classes, const char *const *labels, size_t n) {
  fputs("<div class=\"legend\">", fp);
  for (size_t i = 0; i < n; i++) {
    fprintf(fp, "<svg width=\"24\" height=\"10\"><line class=\"%s\" x1=\"2\" x2=\"22\" "
                "y1=\"5\" y2=\"5\"/></svg> ", classes[i]);
    lr_html_escape(fp, labels[i]);
    fputs(i + 1 < n ? " &nbsp; " : "", fp);
  }
  fputs("</div>\n", fp);
}
