/*
 * test-run-clock.c: a run's time left, from its pace so far, over its plan of epochs, steps and
 * evaluations (the "left" of a worker's progress, which a sweep's ETA adds up).
 */
#include "compat.h"

#include "run/run-clock.h"
#include "../tap.h"

int main(void) {
  /* 3 epochs of 10 steps, 100 examples x 4 members evaluated after each, and at epoch 0. */
  lr_run_plan plan = {.epochs = 3, .eval_every = 1, .steps_per_epoch = 10, .eval_units = 400};
  lr_run_clock c;
  lr_clock_init(&c, &plan);

  /* Epoch 0: the members are the base model, scored once: 100 units. */
  lr_clock_begin(&c, LR_CLOCK_EVAL, 0);
  tap_ok(lr_clock_left(&c, 0, false, 0, 100, 0) < 0, "nothing timed yet: unknown");
  tap_ok(lr_clock_left(&c, 0, false, 50, 100, 10) < 0,
         "evaluation timed but training not: still unknown (training is left)");
  lr_clock_end(&c, 100, 20);

  lr_clock_begin(&c, LR_CLOCK_TRAIN, 20);
  /* 1 s a step, 0.2 s a unit: 5 steps, this epoch's evaluation, then 2 epochs of both. */
  tap_is_near(lr_clock_left(&c, 1, false, 5, 10, 25), 5 + 80 + 2 * (10 + 80), 1e-9, 0,
              "mid-epoch: the rest of its steps, its evaluation, and the epochs after it");
  lr_clock_end(&c, 10, 30);

  lr_clock_begin(&c, LR_CLOCK_EVAL, 30);
  tap_is_near(lr_clock_left(&c, 1, false, 100, 400, 50), 300 * 0.2 + 2 * (10 + 80), 1e-9, 0,
              "mid-evaluation: the rest of the pass at the pace of every pass so far");
  tap_is_near(lr_clock_left(&c, 1, false, 100, 400, 70), 300 * 0.3 + 2 * (10 + 120), 1e-9, 0,
              "a slower pass slows the estimate of every evaluation left");
  lr_clock_end(&c, 400, 70);

  c.plan.eval_best = true;
  lr_clock_begin(&c, LR_CLOCK_TRAIN, 100);
  /* Evaluation so far: 60 s for 500 units. */
  tap_is_near(lr_clock_left(&c, 3, false, 0, 10, 100), 10 * 1.0 + 2 * 400 * 0.12, 1e-9, 0,
              "the last epoch: its steps, its evaluation and the best-epoch evaluation");
  lr_clock_end(&c, 0, 100);
  c.plan.eval_best = false;

  /* Evaluated every 2 epochs (and at the last): after epochs 2 and 3 of 3. */
  {
    lr_run_plan p2 = plan;
    lr_run_clock c2;
    p2.eval_every = 2;
    lr_clock_init(&c2, &p2);
    lr_clock_begin(&c2, LR_CLOCK_EVAL, 0);
    lr_clock_end(&c2, 100, 20); /* 0.2 s a unit */
    lr_clock_begin(&c2, LR_CLOCK_TRAIN, 20);
    tap_is_near(lr_clock_left(&c2, 1, false, 5, 10, 25), 5 + (10 + 80) + (10 + 80), 1e-9, 0,
                "epoch 1 is not evaluated, epochs 2 and 3 are");
  }

  /* An evaluation-only run (0 epochs): the rest of its one pass. */
  {
    lr_run_plan p0 = {.epochs = 0, .eval_every = 1, .eval_units = 40};
    lr_run_clock c0;
    lr_clock_init(&c0, &p0);
    lr_clock_begin(&c0, LR_CLOCK_EVAL, 0);
    tap_is_near(lr_clock_left(&c0, 0, false, 10, 40, 5), 15, 1e-9, 0,
                "no epochs: only the pass in progress is left");
    lr_clock_begin(&c0, LR_CLOCK_EVAL, 0);
    tap_is_near(lr_clock_left(&c0, 0, true, 40, 40, 5), 0, 1e-9, 0, "a finished final pass: nothing");
  }
  return tap_done();
}
