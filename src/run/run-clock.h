/*
 * run-clock.h: how long the rest of a run will take, from its own pace so far.
 *
 * A run alternates two kinds of work: training steps (every member one step) and evaluation
 * (examples scored, times the members scored).  The clock times each kind as the run does it and
 * prices what is left of the run's plan (the epochs' steps, the evaluations every eval_every
 * epochs and at the last, the best-epoch evaluation at the end) at those rates.  The worker
 * reports the estimate with its progress, so that a sweep's ETA moves during its first run rather
 * than after it.  Members stopped early make the estimate an upper bound.
 */
#ifndef LORENS_RUN_CLOCK_H
#define LORENS_RUN_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef enum lr_clock_phase { LR_CLOCK_TRAIN = 0, LR_CLOCK_EVAL = 1, LR_CLOCK_IDLE = 2 } lr_clock_phase;

/* What the run will do. */
typedef struct lr_run_plan {
  long epochs;              /* E >= 0 */
  long eval_every;          /* >= 1: evaluations after epochs e % eval_every == 0, and after E */
  int64_t steps_per_epoch;
  double eval_units;        /* one evaluation: examples over every set times members */
  bool eval_best;           /* one more evaluation at the end (members at their best epoch) */
} lr_run_plan;

typedef struct lr_run_clock {
  lr_run_plan plan;
  double spent[2];          /* seconds in finished phases, per phase */
  double units[2];          /* their work: steps; examples x members */
  lr_clock_phase phase;     /* the phase in progress, or LR_CLOCK_IDLE */
  double start;             /* when it began */
} lr_run_clock;

void lr_clock_init(lr_run_clock *c, const lr_run_plan *plan);

/* A phase begins at now, or ends at now having done units of work. */
void lr_clock_begin(lr_run_clock *c, lr_clock_phase phase, double now);
void lr_clock_end(lr_run_clock *c, double units, double now);

/*
 * Seconds left in the run, at now, when the phase in progress belongs to epoch `epoch` (0: the
 * evaluation before training; for the final best-epoch evaluation, final = true) and has done
 * `done` of its `total` units.  Negative when a rate that the rest needs is not known yet (no work
 * of that kind timed so far).
 */
double lr_clock_left(const lr_run_clock *c, long epoch, bool final, double done, double total,
                     double now);

#endif /* LORENS_RUN_CLOCK_H */
