/**
 * LR drops that follow a time budget (src/train/budget-lr-steps.ts): the pace estimate, where the
 * drops go, that a reached drop never moves, and that the step-milestone schedule gives exactly
 * the per-epoch schedule's rates when nothing moves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetLrPlan, budgetMilestones, expectedSteps } from '../src/train/budget-lr-steps.js';
import { detectionScheduleInSteps, learningRate, torchvisionDetectionSchedule } from '../src/train/schedule.js';

test('expectedSteps: steps done plus what the seconds left buy at this run\'s pace', () => {
  assert.equal(expectedSteps(10, 10, 20, 100), 60); // 2 s per step, 100 s left
  assert.equal(expectedSteps(110, 10, 20, 100), 160); // a resumed run: its own pace, the checkpoint's steps
  assert.equal(expectedSteps(10, 10, 20, 5), 12); // floor
  assert.equal(expectedSteps(10, 10, 20, -3), 10); // the budget is spent
  assert.equal(expectedSteps(0, 0, 0, 100), Infinity); // no pace yet
});

test('budgetMilestones: the sooner of the planned step and the fraction of the expected steps; reached ones stay', () => {
  const plan = budgetLrPlan([70, 90], 100, 10); // 100 epochs of 10 steps: drops at steps 700 and 900
  assert.deepEqual(plan, { lrSteps: [70, 90], epochs: 100, planned: [700, 900] });
  assert.deepEqual(budgetMilestones(plan, plan.planned, 5, Infinity), [700, 900], 'no budget: as planned');
  assert.deepEqual(budgetMilestones(plan, plan.planned, 5, 5000), [700, 900], 'the budget allows more than the epochs');
  assert.deepEqual(budgetMilestones(plan, plan.planned, 5, 300), [210, 270], 'the budget binds');
  // The pace improves before the first drop: both move later again (never past the plan).
  assert.deepEqual(budgetMilestones(plan, [210, 270], 100, 400), [280, 360]);
  // Reached (milestone <= done) stays even when the estimate grows; the second still follows it.
  assert.deepEqual(budgetMilestones(plan, [210, 270], 215, 400), [210, 360]);
  // A drop whose place has already passed comes now, never in the past.
  assert.deepEqual(budgetMilestones(plan, [700, 900], 250, 300), [250, 270]);
  assert.deepEqual(budgetMilestones(plan, [250, 270], 280, 290), [250, 270]);
  // Exactly the plan when the budget allows exactly the planned steps (0.29 × 100 is 28.999… in floats).
  const odd = budgetLrPlan([29], 100, 1);
  assert.deepEqual(budgetMilestones(odd, odd.planned, 5, 100), [29]);
  // Milestones stay non-decreasing (what the multistep schedule requires).
  for (const [done, expected] of [[0, 10], [3, 4], [50, 51], [600, 601]] as const) {
    const m = budgetMilestones(plan, plan.planned, done, expected);
    assert.ok(m[0]! <= m[1]! && m[0]! >= done, `${m} at done ${done}`);
  }
});

test('detectionScheduleInSteps at lrSteps × itersPerEpoch gives torchvisionDetectionSchedule\'s rates exactly', () => {
  const perEpoch = torchvisionDetectionSchedule({ itersPerEpoch: 18, lrSteps: [28, 36], warmupIters: 17 });
  const inSteps = detectionScheduleInSteps({ milestoneSteps: [28 * 18, 36 * 18], warmupIters: 17 });
  for (let s = 0; s < 40 * 18; s++) assert.equal(learningRate(inSteps, 0.02, s), learningRate(perEpoch, 0.02, s), `step ${s}`);
  const moved = detectionScheduleInSteps({ milestoneSteps: [210, 270], warmupIters: 100 });
  assert.equal(learningRate(moved, 0.02, 209), 0.02);
  assert.ok(Math.abs(learningRate(moved, 0.02, 210) - 0.002) < 1e-12);
  assert.ok(Math.abs(learningRate(moved, 0.02, 270) - 0.0002) < 1e-12);
});
