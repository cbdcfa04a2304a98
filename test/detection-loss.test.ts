/**
 * Faster R-CNN losses and their gradients w.r.t. the head outputs against torchvision 0.14
 * (rpn compute_loss and fastrcnn_loss with torch autograd, test/fixtures/detection), with the
 * same sampled anchors and RoIs on both sides; plus central finite differences on all four
 * losses and the argument checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateAnchors } from '../src/detection/anchors.js';
import { rpnTargets, type RpnTargets } from '../src/detection/targets-rpn.js';
import { roiTargets, type RoiTargets } from '../src/detection/targets-roi.js';
import { roiLoss, rpnLoss, type RpnHeadLevel } from '../src/train/detection-loss.js';
import { detectionLossComponents, roiGradFeeds, rpnGradFeeds } from '../src/train/detection-loss-feeds.js';
import { SEGMENT1_OUTPUTS } from '../src/models/faster-rcnn.js';
import { f32, loadDetectionFixture, maxAbsDiff } from './fixtures/detection/load.js';

const fx = loadDetectionFixture();
const A = fx.aspectRatios.length;
const anchors = generateAnchors(fx.anchorSizes.map((sizes) => ({ sizes, aspectRatios: fx.aspectRatios })), fx.imageSize, fx.gridSizes);
const gtBoxes = fx.gt.map((g) => f32(g.boxes));

const rpnT: RpnTargets[] = fx.rpn.images.map((ref, i) =>
  rpnTargets(anchors, gtBoxes[i]!, { sampled: { positiveIndices: ref.positiveIndices, negativeIndices: ref.negativeIndices } }));
const heads: RpnHeadLevel[] = fx.rpn.levels.map((l) => ({ objectness: f32(l.objectness), deltas: f32(l.deltas), height: l.height, width: l.width }));
const roiT: RoiTargets[] = fx.roi.images.map((ref, i) =>
  roiTargets(f32(ref.proposals), gtBoxes[i]!, fx.gt[i]!.labels, { sampled: { positiveIndices: ref.positiveIndices, negativeIndices: ref.negativeIndices } }));
const classLogits = f32(fx.roi.classLogits);
const boxRegression = f32(fx.roi.boxRegression);

test('RPN losses and gradients equal torchvision within 1e-5 (through concat_box_prediction_layers)', () => {
  const r = rpnLoss(heads, A, rpnT);
  assert.equal(r.numSampled, fx.rpn.images.reduce((s, im) => s + im.positiveIndices.length + im.negativeIndices.length, 0));
  assert.ok(Math.abs(r.lossObjectness - fx.rpn.lossObjectness) <= 1e-5, `objectness ${r.lossObjectness} vs ${fx.rpn.lossObjectness}`);
  assert.ok(Math.abs(r.lossRpnBoxReg - fx.rpn.lossRpnBoxReg) <= 1e-5, `rpn box ${r.lossRpnBoxReg} vs ${fx.rpn.lossRpnBoxReg}`);
  assert.ok(fx.rpn.lossRpnBoxReg > 0, 'fixture has positive anchors');
  fx.rpn.levels.forEach((l, li) => {
    const dObj = maxAbsDiff(r.gradObjectness[li]!, f32(l.gradObjectness));
    const dDel = maxAbsDiff(r.gradDeltas[li]!, f32(l.gradDeltas));
    assert.ok(dObj <= 1e-5, `level ${li} grad objectness: max |diff| ${dObj}`);
    assert.ok(dDel <= 1e-5, `level ${li} grad deltas: max |diff| ${dDel}`);
  });
  // Relative agreement too: the gradients are O(1/numSampled), so 1e-5 alone would be loose.
  const all = (xs: Float32Array[]) => xs.flatMap((x) => Array.from(x));
  const ours = all([...r.gradObjectness, ...r.gradDeltas]);
  const ref = all([...fx.rpn.levels.map((l) => f32(l.gradObjectness)), ...fx.rpn.levels.map((l) => f32(l.gradDeltas))]);
  ours.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) <= 1e-6 * Math.abs(ref[i]!) + 1e-9, `grad [${i}] ${v} vs ${ref[i]}`));
  // Only sampled anchors get a gradient: 64 logits per image, 4 deltas per sampled positive.
  const nz = (xs: Float32Array[]) => xs.reduce((s, x) => s + x.filter((v) => v !== 0).length, 0);
  assert.equal(nz(r.gradObjectness), r.numSampled);
  assert.ok(nz(r.gradDeltas) <= 4 * rpnT.reduce((s, t) => s + t.positiveIndices.length, 0));
  // Both smooth-L1 branches occur: |gradient · numSampled| < 1 (quadratic) and = 1 (linear).
  const scaled = all(r.gradDeltas).filter((v) => v !== 0).map((v) => Math.abs(v * r.numSampled));
  assert.ok(scaled.some((v) => v < 0.999) && scaled.some((v) => Math.abs(v - 1) < 1e-6), 'both smooth-L1 branches');
});

test('RoI losses and gradients equal torchvision within 1e-5 (class-specific deltas of the positives)', () => {
  const r = roiLoss(classLogits, boxRegression, roiT);
  assert.ok(Math.abs(r.lossClassifier - fx.roi.lossClassifier) <= 1e-5, `classifier ${r.lossClassifier} vs ${fx.roi.lossClassifier}`);
  assert.ok(Math.abs(r.lossBoxReg - fx.roi.lossBoxReg) <= 1e-5, `box ${r.lossBoxReg} vs ${fx.roi.lossBoxReg}`);
  const gc = f32(fx.roi.gradClassLogits), gb = f32(fx.roi.gradBoxRegression);
  assert.ok(maxAbsDiff(r.gradClassLogits, gc) <= 1e-5, `grad class logits ${maxAbsDiff(r.gradClassLogits, gc)}`);
  assert.ok(maxAbsDiff(r.gradBoxRegression, gb) <= 1e-5, `grad box regression ${maxAbsDiff(r.gradBoxRegression, gb)}`);
  r.gradClassLogits.forEach((v, i) => assert.ok(Math.abs(v - gc[i]!) <= 1e-6 * Math.abs(gc[i]!) + 1e-9, `grad class [${i}]`));
  r.gradBoxRegression.forEach((v, i) => assert.ok(Math.abs(v - gb[i]!) <= 1e-6 * Math.abs(gb[i]!) + 1e-9, `grad box [${i}]`));
});

/** Central difference of f at x[i] (the float32 step actually taken as the denominator). */
function centralDiff(x: Float32Array, i: number, h: number, f: () => number): number {
  const x0 = x[i]!;
  x[i] = x0 + h;
  const up = x[i]!;
  const fu = f();
  x[i] = x0 - h;
  const down = x[i]!;
  const fd = f();
  x[i] = x0;
  return (fu - fd) / (up - down);
}

test('finite differences agree with the analytic gradients of all four losses', () => {
  const h = 1e-3;
  const check = (analytic: number, numeric: number, what: string) =>
    assert.ok(Math.abs(analytic - numeric) <= 1e-4 * Math.abs(analytic) + 1e-8, `${what}: analytic ${analytic} vs numeric ${numeric}`);
  const base = rpnLoss(heads, A, rpnT);
  let checked = 0;
  heads.forEach((l, li) => {
    l.objectness.forEach((_, i) => {
      if (base.gradObjectness[li]![i] === 0 || i % 3 !== 0) return;
      check(base.gradObjectness[li]![i]!, centralDiff(l.objectness, i, h, () => rpnLoss(heads, A, rpnT).lossObjectness), `objectness level ${li} [${i}]`);
      checked++;
    });
    l.deltas.forEach((_, i) => {
      const g = base.gradDeltas[li]![i]!;
      if (g === 0) return;
      check(g, centralDiff(l.deltas, i, h / 10, () => rpnLoss(heads, A, rpnT).lossRpnBoxReg), `deltas level ${li} [${i}]`);
      checked++;
    });
  });
  const roi = roiLoss(classLogits, boxRegression, roiT);
  for (let i = 0; i < classLogits.length; i += 5) {
    check(roi.gradClassLogits[i]!, centralDiff(classLogits, i, h, () => roiLoss(classLogits, boxRegression, roiT).lossClassifier), `class logits [${i}]`);
    checked++;
  }
  roi.gradBoxRegression.forEach((g, i) => {
    if (g === 0) return;
    check(g, centralDiff(boxRegression, i, h / 10, () => roiLoss(classLogits, boxRegression, roiT).lossBoxReg), `box regression [${i}]`);
    checked++;
  });
  assert.ok(checked > 150, `${checked} entries checked`);
});

test('gradients under the segments\' grad.<output> names; the loss-log components', () => {
  const r = rpnLoss(heads, A, rpnT);
  const q = roiLoss(classLogits, boxRegression, roiT);
  const f1 = rpnGradFeeds(r);
  assert.deepEqual(Object.keys(f1).sort(), ['grad.deltas.0', 'grad.deltas.1', 'grad.objectness.0', 'grad.objectness.1']);
  assert.equal(f1[`grad.${SEGMENT1_OUTPUTS.objectness[1]}`], r.gradObjectness[1]);
  const f2 = roiGradFeeds(q);
  assert.equal(f2['grad.class_logits'], q.gradClassLogits);
  assert.equal(f2['grad.box_regression'], q.gradBoxRegression);
  const c = detectionLossComponents(r, q);
  assert.deepEqual([c.rpn_cls, c.rpn_reg, c.cls, c.reg], [r.lossObjectness, r.lossRpnBoxReg, q.lossClassifier, q.lossBoxReg]);
  const ref = fx.rpn.lossObjectness + fx.rpn.lossRpnBoxReg + fx.roi.lossClassifier + fx.roi.lossBoxReg;
  assert.ok(Math.abs(c.loss - ref) <= 1e-5, `total ${c.loss} vs torchvision ${ref}`);
});

test('argument checks name the tensor', () => {
  assert.throws(() => rpnLoss([], A, rpnT), /levels must be a non-empty array/);
  assert.throws(() => rpnLoss(heads, 2, rpnT), /levels\[0\].objectness has 720 values, expected 3x2x8x10/);
  assert.throws(() => rpnLoss([{ ...heads[0]!, deltas: new Float32Array(3) }, heads[1]!], A, rpnT), /levels\[0\].deltas has 3 values/);
  assert.throws(() => rpnLoss(heads, A, rpnT.slice(0, 2)), /objectness has 720 values, expected 2x3x8x10/);
  assert.throws(() => rpnLoss(heads.slice(0, 1), A, rpnT), /targets\[0\].labels has 300 entries, the levels have 240/);
  const none = rpnT.map((t) => ({ ...t, positiveIndices: new Int32Array(0), negativeIndices: new Int32Array(0) }));
  assert.throws(() => rpnLoss(heads, A, none), /no anchor sampled/);
  assert.throws(() => roiLoss(classLogits, boxRegression.subarray(4), roiT), /boxRegression has \d+ values, expected \d+x12/);
  assert.throws(() => roiLoss(classLogits.subarray(1), boxRegression, roiT), /classLogits has \d+ values, not a multiple/);
  const bad = [{ labels: Int32Array.from([3]), regressionTargets: new Float32Array(4) }];
  assert.throws(() => roiLoss(new Float32Array(3), new Float32Array(12), bad), /targets\[0\].labels\[0\] must be a class in \[0, 3\), got 3/);
  assert.throws(() => roiLoss([1, 2, 3] as unknown as Float32Array, new Float32Array(12), bad), /classLogits must be a Float32Array/);
});
