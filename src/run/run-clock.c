/*
 * run-clock.c: the remaining time of a run from its pace so far (see run-clock.h).
 */
#include "run/run-clock.h"

void lr_clock_init(lr_run_clock *c, const lr_run_plan *plan) {
  *c = (lr_run_clock){.plan = *plan, .phase = LR_CLOCK_IDLE};
}

void lr_clock_begin(lr_run_clock *c, lr_clock_phase phase, double now) {
  c->phase = phase;
  c->start = now;
}

void lr_clock_end(lr_run_clock *c, double units, double now) {
  if (c->phase == LR_CLOCK_IDLE)
    return;
  c->spent[c->phase] += now - c->start;
  c->units[c->phase] += units;
  c->phase = LR_CLOCK_IDLE;
}

/* Seconds per unit of a phase, counting the one in progress; negative when nothing is timed. */
static double rate(const lr_run_clock *c, lr_clock_phase p, double done, double now) {
  double s = c->spent[p], u = c->units[p];
  if (c->phase == p) {
    s += now - c->start;
    u += done;
  }
  return u > 0 ? s / u : -1;
}

static bool evaluated(const lr_run_plan *p, long epoch) {
  return epoch % p->eval_every == 0 || epoch == p->epochs;
}

double lr_clock_left(const lr_run_clock *c, long epoch, bool final, double done, double total,
                     double now) {
  const lr_run_plan *p = &c->plan;
  double steps = 0, units = 0; /* left, of each kind */
  double rt = rate(c, LR_CLOCK_TRAIN, done, now), re = rate(c, LR_CLOCK_EVAL, done, now);
  if (c->phase == LR_CLOCK_TRAIN) {
    steps += total - done;
    units += evaluated(p, epoch) ? p->eval_units : 0;
  } else if (c->phase == LR_CLOCK_EVAL) {
    units += total - done;
  }
  if (!final) {
    for (long e = epoch + 1; e <= p->epochs; e++) {
      steps += (double)p->steps_per_epoch;
      units += evaluated(p, e) ? p->eval_units : 0;
    }
    units += p->eval_best ? p->eval_units : 0;
  }
  if ((steps > 0 && rt < 0) || (units > 0 && re < 0))
    return -1;
  return (steps > 0 ? steps * rt : 0) + (units > 0 ? units * re : 0);
}
