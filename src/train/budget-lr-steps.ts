/**
 * LR drops that follow a time budget.
 *
 * A run's LR drops are planned in epochs (×0.1 at 70% and 90% of them by default). When a time
 * budget ends the run first, those drops are never reached and the model stops at the full rate,
 * which on small data costs most of what the drop would give (docs/detection-training.md). So
 * under a budget each drop also moves to the same fraction of the steps the budget is expected to
 * allow, whichever comes first. The estimate is remade before every step from this run's pace,
 * measured from the end of its first step (which also builds models):
 *
 *   expected = done + floor(left / (seconds since the first step ended / steps since))
 *   milestone_i = max(done, min(planned_i, floor(lrStep_i × expected / epochs)))
 *
 * and a milestone that has been reached (milestone ≤ done) never moves again, so the LR only
 * ever goes down. ultralytics' `time` argument rescales its schedule the same way.
 * scripts/bccd_torchvision_baseline.py applies the same rule on the torchvision side.
 */

/** The planned drops: in epochs out of the run's epochs, and in steps. */
export interface BudgetLrPlan {
  /** Milestones in epochs (non-decreasing) and the run's epochs: drop i sits at lrSteps_i / epochs of the run. */
  lrSteps: number[];
  epochs: number;
  /** The same milestones in steps (lrSteps × steps per epoch). */
  planned: number[];
}

/** The plan for milestones given in epochs out of `epochs`. */
export function budgetLrPlan(lrStepsInEpochs: readonly number[], epochs: number, stepsPerEpoch: number): BudgetLrPlan {
  return { lrSteps: [...lrStepsInEpochs], epochs, planned: lrStepsInEpochs.map((e) => e * stepsPerEpoch) };
}

/**
 * Steps the budget is expected to allow: `done` so far plus what the remaining seconds buy at this
 * run's pace (`runSteps` steps in `runSeconds`). With no step timed yet there is no pace: Infinity.
 */
export function expectedSteps(done: number, runSteps: number, runSeconds: number, secondsLeft: number): number {
  if (runSteps <= 0 || !(runSeconds > 0)) return Infinity;
  return done + Math.floor(Math.max(0, secondsLeft) / (runSeconds / runSteps));
}

/** The milestones for the step after `done` steps, given the current ones (reached ones stay). */
export function budgetMilestones(plan: BudgetLrPlan, current: readonly number[], done: number, expected: number): number[] {
  return plan.planned.map((planned, i) => {
    const now = current[i] ?? planned;
    if (now <= done) return now;
    // Integer arithmetic: lrStep × expected / epochs is exact at the planned total (a float fraction could land one below).
    const byBudget = Number.isFinite(expected) ? Math.floor((plan.lrSteps[i]! * expected) / plan.epochs) : Infinity;
    return Math.max(done, Math.min(planned, byBudget));
  });
}
