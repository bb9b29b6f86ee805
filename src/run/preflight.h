/*
 * preflight.h: what a sweep's runs need, checked once before any run is claimed.
 *
 * Every run of a grid loads a backend, a model with its tokenizer, and data sets.  A backend
 * that is not there, a model or data file that is missing or broken, or a results directory that
 * cannot be made would otherwise fail every run the same way, one worker after another, each
 * leaving a failed run behind.  Checked here, with the worker's own loaders (run-inputs.h), the
 * sweep stops before it starts, with every distinct problem named once.
 */
#ifndef LORENS_PREFLIGHT_H
#define LORENS_PREFLIGHT_H

#include <stddef.h>
#include <stdio.h>

#include "grid/grid.h"

typedef struct lr_preflight_opts {
  const char *const *backend_dirs;
  size_t n_backend_dirs;
  const char *db_path; /* the results database, whose DB.runs/ must be a directory; NULL: none */
} lr_preflight_opts;

/* Checks every distinct backend (found and able to train, probed in a child process: nothing is
 * loaded into this one), model with its tokenizer, and data set of the grid's cells, and the
 * runs directory beside db_path (created when missing).  Prints each problem as one "lorens:
 * error: ..." line on report and returns how many there were: 0 means the runs may start. */
size_t lr_preflight(const lr_grid *g, const lr_preflight_opts *o, FILE *report);

#endif /* LORENS_PREFLIGHT_H */
