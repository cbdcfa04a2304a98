import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { learningCurveSvg, renderLearningCurve } from '../src/render/learning-curve.js';

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
