/*
 * lr-schedule.c: constant, linear and cosine learning-rate schedules with warmup (lr-schedule.h).
 */
#include "compat.h"

#include <math.h>

#include "grid/run-config.h"
#include "train/lr-schedule.h"

double lr_schedule_rate(int schedule, double base, int64_t step, int64_t total, int64_t warmup) {
  double p;
  if (step < warmup)
    return base * (double)step / (double)warmup;
  p = (double)(step - warmup) / (double)(total - warmup > 1 ? total - warmup : 1);
  switch (schedule) {
  case LR_SCHEDULE_LINEAR: return base * fmax(0.0, 1.0 - p);
  case LR_SCHEDULE_COSINE: return base * fmax(0.0, 0.5 * (1.0 + cos(M_PI * p)));
  default: return base;
  }
}
