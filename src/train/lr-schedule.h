/*
 * lr-schedule.h: the learning rate of every optimizer step, computed by the core.
 *
 * Step s counts optimizer steps from 0 (the first step) to total - 1.  As in transformers'
 * get_{constant,linear,cosine}_schedule_with_warmup, the multiplier of the base rate is
 *     s / warmup                                  while s < warmup,
 * and afterwards, with progress p = (s - warmup) / max(1, total - warmup):
 *     constant: 1;  linear: max(0, 1 - p);  cosine: max(0, (1 + cos(pi p)) / 2).
 * So with warmup the first step has learning rate 0, exactly as there.
 */
#ifndef LORENS_LR_SCHEDULE_H
#define LORENS_LR_SCHEDULE_H

#include <stdint.h>

double lr_schedule_rate(int schedule, double base, int64_t step, int64_t total, int64_t warmup);

#endif /* LORENS_LR_SCHEDULE_H */
