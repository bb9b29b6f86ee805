/*
 * early-stop.h: early stopping of one member on a validation metric.
 *
 * After each evaluated epoch the member's validation NLL (lower is better) or accuracy (higher is
 * better) is observed; an epoch that improves on the best so far (strictly) becomes the best
 * epoch and resets the count of epochs without improvement.  A NaN never improves.  Once that
 * count reaches the patience, mode `stop` ends the member's training; mode `select` trains on and
 * only remembers the best epoch, whose adapters make the "best" ensemble.
 */
#ifndef LORENS_EARLY_STOP_H
#define LORENS_EARLY_STOP_H

#include <stdbool.h>

typedef struct lr_es_state {
  bool have;        /* an epoch has been observed */
  double best;
  long best_epoch;
  long bad;         /* evaluated epochs since the best one */
} lr_es_state;

/* Observes the metric (enum lr_es_metric) at an epoch; true when it is the new best. */
bool lr_es_observe(lr_es_state *s, int metric, double value, long epoch);

/* True when `patience` evaluated epochs have passed without improvement. */
bool lr_es_exhausted(const lr_es_state *s, long patience);

#endif /* LORENS_EARLY_STOP_H */
