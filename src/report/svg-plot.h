/*
 * svg-plot.h: line plots drawn as hand-written SVG for `lorens report`: axes with round ticks,
 * polylines, bands and point marks, each mark carrying its value in data attributes and a
 * <title> tooltip (no script).  Output is byte-stable: fixed number formats, nothing from the
 * clock or the environment.
 */
#ifndef LORENS_SVG_PLOT_H
#define LORENS_SVG_PLOT_H

#include <stdio.h>

typedef struct lr_plot {
  FILE *fp;
  double x0, x1, y0, y1;   /* the data range shown */
  int w, h;                /* pixels */
  int left, right, top, bottom; /* margins */
} lr_plot;

/* Flags of lr_plot_begin: x takes whole values only (epochs, ensemble sizes): no ticks between. */
#define LR_PLOT_WHOLE_X 1u

/* Opens an <svg> of w x h with its title, axes, ticks and labels, for data in [x0, x1] x
 * [y0, y1] (widened to round ticks; a zero range is widened around its value). */
void lr_plot_begin(lr_plot *p, FILE *fp, const char *title, const char *xlabel,
                   const char *ylabel, double x0, double x1, double y0, double y1, int w, int h,
                   unsigned flags);
/* Pixel coordinates of a data point. */
double lr_plot_px(const lr_plot *p, double x);
double lr_plot_py(const lr_plot *p, double y);
/* A polyline through n points (NaN y values break it), of class cls. */
void lr_plot_line(const lr_plot *p, const char *cls, const double *x, const double *y, size_t n);
/* A band between lo and hi over the n x values (where both are finite), of class cls. */
void lr_plot_band(const lr_plot *p, const char *cls, const double *x, const double *lo,
                  const double *hi, size_t n);
/* Closes the <svg>. */
void lr_plot_end(const lr_plot *p);
/* A legend for the figures above it, in HTML: n line samples of the given classes, labelled. */
void lr_plot_legend(FILE *fp, const char *const *classes, const char *const *labels, size_t n);

/* Writes s with &, <, > and " escaped, for HTML text and attributes. */
void lr_html_escape(FILE *fp, const char *s);

#endif /* LORENS_SVG_PLOT_H */
