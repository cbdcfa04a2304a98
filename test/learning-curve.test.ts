import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { learningCurveSvg, lrDrops, renderLearningCurve } from '../src/render/learning-curve.js';

const steps = Array.from({ length: 30 }, (_, i) => {
  const v = 2 * Math.exp(-i / 10);
  return { step: i + 1, losses: { rpn_cls: v / 4, rpn_reg: v / 40, cls: v / 2, reg: v / 5, total: v } };
});
const epochs = [10, 20, 30].map((s, e) => ({ step: s, epoch: e, losses: steps[s - 1]!.losses, val: steps[s - 1]!.losses.total * 1.2 }));

test('learning curve: one panel per component, step lines, epoch means and validation marks', async () => {
  const { svg, width, height } = learningCurveSvg(steps, epochs);
  for (const c of ['rpn_cls', 'rpn_reg', 'cls', 'reg', 'total']) assert.match(svg, new RegExp(`>${c}</text>`));
  assert.equal((svg.match(/<polyline /g) ?? []).length, 10, 'per-step and epoch-mean line in each of 5 panels');
  assert.equal((svg.match(/<circle /g) ?? []).length, 15, 'a dot per epoch and panel');
  assert.equal((svg.match(/fill="#e07b1f"/g) ?? []).length, 3, 'a validation mark per epoch');
  assert.doesNotMatch(svg, /stroke-dasharray|LR drop/, 'no learning rates logged: no LR marks');
  const { png } = await renderLearningCurve(steps, epochs);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', width, height]);
});

test('learning curve: empty logs render; NaN losses leave gaps; bad sizes name the option', () => {
  assert.match(learningCurveSvg([], []).svg, /0 steps, 0 epochs/);
  const withNaN = steps.map((s, i) => (i === 5 ? { ...s, losses: { ...s.losses, total: NaN } } : s));
  assert.doesNotMatch(learningCurveSvg(withNaN, []).svg, /NaN/);
  assert.throws(() => learningCurveSvg(steps, epochs, { width: 100 }), /width must be an integer ≥ 300/);
  assert.throws(() => learningCurveSvg(steps, epochs, { panelHeight: 10 }), /panelHeight must be an integer ≥ 60/);
});

test('learning curve: a dashed line in every panel where the logged LR drops (not during warm-up or a slow decay)', () => {
  // Warm-up over 5 steps, constant, ×0.1 at step 21 and 27, and a slow 1%-per-step decay at the end.
  const lr = (step: number) => (step <= 5 ? 0.02 * step / 5 : step < 21 ? 0.02 : step < 27 ? 0.002 : 0.0002 * 0.99 ** (step - 27));
  const logged = steps.map((s) => ({ ...s, lr: lr(s.step) }));
  assert.deepEqual(lrDrops(logged).map((d) => [d.step, Number(d.factor.toFixed(6))]), [[21, 0.1], [27, 0.1]]);
  const { svg } = learningCurveSvg(logged, epochs);
  assert.equal((svg.match(/stroke-dasharray="4 3"/g) ?? []).length, 10, 'two drops in each of 5 panels');
  assert.equal((svg.match(/>LR ×0\.1<\/text>/g) ?? []).length, 2, 'labelled once each, in the top panel');
  assert.match(svg, /dashed: LR drop/);
});
