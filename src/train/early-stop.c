/*
 * early-stop.c: best-epoch tracking and patience (see early-stop.h).
 */
#include "compat.h"

#include <math.h>

#include "grid/run-config.h"
#include "train/early-stop.h"

bool lr_es_observe(lr_es_state *s, int metric, double value, long epoch) {
  bool better = !isnan(value) && (!s->have || (metric == LR_ES_ACCURACY ? value > s->best
                                                                        : value < s->best));
  if (better) {
    s->have = true;
    s->best = value;
    s->best_epoch = epoch;
    s->bad = 0;
  } else {
    s->bad++;
  }
  return better;
}

bool lr_es_exhausted(const lr_es_state *s, long patience) {
  return s->bad >= patience;
}
