/**
 * RPN and RoI-head training targets against torchvision 0.14 (test/fixtures/detection, written by
 * scripts/make_detection_target_fixtures.py): matches and labels exactly, regression targets
 * within 1e-5, with torchvision's sampled indices injected; and the default sample sizes
 * (256 anchors half positive, 512 RoIs a quarter positive) with our seeded sampler. Where
 * torchvision is installed (required under CI=true), the script must reproduce the fixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturesDir, hasPythonModules, need, repoRoot, systemPython } from './helpers.js';
import { generateAnchors } from '../src/detection/anchors.js';
import { assignRpnTargets, rpnTargets } from '../src/detection/targets-rpn.js';
import { assignRoiTargets, roiTargets } from '../src/detection/targets-roi.js';
import { boxIouSync } from '../src/detection/boxes.js';
import { Rng } from '../src/util/rng.js';
import { f32, loadDetectionFixture, maxAbsDiff } from './fixtures/detection/load.js';

const fx = loadDetectionFixture();
const levels = fx.anchorSizes.map((sizes) => ({ sizes, aspectRatios: fx.aspectRatios }));
const anchors = generateAnchors(levels, fx.imageSize, fx.gridSizes);
const gtBoxes = fx.gt.map((g) => f32(g.boxes));

test('the fixture is what the script writes with torchvision (byte for byte)', (t) => {
  if (!need(t, hasPythonModules(['torchvision']), 'Debian python3-torchvision at /usr/bin/python3')) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'det-fixture-'));
  try {
    const r = spawnSync(systemPython, [path.join(repoRoot, 'scripts', 'make_detection_target_fixtures.py'), '--out', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fresh = readFileSync(path.join(dir, 'targets_losses.json'));
    assert.ok(fresh.equals(readFileSync(path.join(fixturesDir, 'detection', 'targets_losses.json'))), 'regenerated fixture differs from the committed one');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fixture anchors are generateAnchors (same anchor order as torchvision)', () => {
  assert.deepEqual(Array.from(anchors), Array.from(f32(fx.rpn.anchors)));
});

test('RPN: matches and labels equal torchvision, regression targets within 1e-5, samples injected', () => {
  const opts = { batchSizePerImage: fx.rpn.batchSizePerImage, positiveFraction: fx.rpn.positiveFraction };
  let positives = 0, between = 0;
  fx.rpn.images.forEach((ref, i) => {
    const a = assignRpnTargets(anchors, gtBoxes[i]!, opts);
    assert.deepEqual(Array.from(a.matchedIdxs), ref.matchedIdxs, `image ${i} matchedIdxs`);
    assert.deepEqual(Array.from(a.labels), ref.labels, `image ${i} labels`);
    positives += ref.labels.filter((l) => l === 1).length;
    between += ref.labels.filter((l) => l === -1).length;
    if (ref.regressionTargets !== null) {
      const d = maxAbsDiff(a.regressionTargets, f32(ref.regressionTargets));
      assert.ok(d <= 1e-5, `image ${i} regression targets: max |diff| ${d}`);
    }
    const t = rpnTargets(anchors, gtBoxes[i]!, { sampled: { positiveIndices: ref.positiveIndices, negativeIndices: ref.negativeIndices } }, opts);
    assert.deepEqual(Array.from(t.positiveIndices), [...ref.positiveIndices].sort((x, y) => x - y));
    assert.deepEqual(Array.from(t.negativeIndices), [...ref.negativeIndices].sort((x, y) => x - y));
  });
  assert.ok(positives > 0 && between > 0, 'the fixture has positive and ignored anchors');
  // The small gt box of image 0 is reached only through a low-quality match (IoU < 0.7).
  const small = gtBoxes[0]!.slice(8, 12);
  const iou = boxIouSync(small, anchors);
  const best = Math.max(...iou);
  assert.ok(best < 0.7, `small box best IoU ${best}`);
  const idx = iou.indexOf(best);
  assert.equal(fx.rpn.images[0]!.labels[idx], 1, 'low-quality match kept as positive');
});

test('RoI heads: gt added to proposals, matches and labels equal torchvision, sampled RoIs and targets', () => {
  const opts = { batchSizePerImage: fx.roi.batchSizePerImage, positiveFraction: fx.roi.positiveFraction };
  fx.roi.images.forEach((ref, i) => {
    const proposals = f32(ref.proposals);
    const a = assignRoiTargets(proposals, gtBoxes[i]!, fx.gt[i]!.labels, opts);
    assert.equal(a.candidates.length, proposals.length + gtBoxes[i]!.length);
    assert.deepEqual(Array.from(a.matchedIdxs), ref.allMatchedIdxs, `image ${i} matchedIdxs (before sampling)`);
    assert.deepEqual(Array.from(a.labels), ref.allLabels, `image ${i} labels (before sampling)`);
    const t = roiTargets(proposals, gtBoxes[i]!, fx.gt[i]!.labels, { sampled: { positiveIndices: ref.positiveIndices, negativeIndices: ref.negativeIndices } }, opts);
    assert.deepEqual(Array.from(t.sampledIndices), [...ref.positiveIndices, ...ref.negativeIndices].sort((x, y) => x - y));
    assert.deepEqual(Array.from(t.proposals), Array.from(f32(ref.sampledProposals)), `image ${i} sampled proposals`);
    assert.deepEqual(Array.from(t.labels), ref.labels, `image ${i} sampled labels`);
    assert.deepEqual(Array.from(t.matchedIdxs), ref.matchedIdxs, `image ${i} sampled matched idxs`);
    if (ref.regressionTargets !== null) {
      const d = maxAbsDiff(t.regressionTargets, f32(ref.regressionTargets));
      assert.ok(d <= 1e-5, `image ${i} regression targets: max |diff| ${d}`);
    } else {
      assert.ok(t.labels.every((l) => l === 0), 'background image: all sampled RoIs background');
    }
  });
});

/** A 512x512 image with `n` gt boxes of about 32-48 px and stride-4 anchors of size 32. */
function denseScene(n: number, seed: number): { anchors: Float32Array; gt: Float32Array } {
  const rng = new Rng(seed);
  const gt = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const w = rng.uniform(32, 48), h = rng.uniform(32, 48);
    const x = rng.uniform(0, 512 - w), y = rng.uniform(0, 512 - h);
    gt.set([x, y, x + w, y + h], 4 * i);
  }
  const a = generateAnchors([{ sizes: [32], aspectRatios: [0.5, 1, 2] }], [512, 512], [[128, 128]]);
  return { anchors: a, gt };
}

test('RPN default sample: 256 anchors, 128 positive when enough exist; otherwise all positives', () => {
  const many = denseScene(40, 1);
  const t = rpnTargets(many.anchors, many.gt, { rng: new Rng(5) });
  assert.ok(t.labels.filter((l) => l === 1).length > 128, 'enough positives');
  assert.equal(t.positiveIndices.length, 128);
  assert.equal(t.negativeIndices.length, 128);
  for (const i of t.positiveIndices) assert.equal(t.labels[i], 1);
  for (const i of t.negativeIndices) assert.equal(t.labels[i], 0);
  const again = rpnTargets(many.anchors, many.gt, { rng: new Rng(5) });
  assert.deepEqual(again.positiveIndices, t.positiveIndices, 'seeded: same sample');
  const few = denseScene(2, 2);
  const f = rpnTargets(few.anchors, few.gt, { rng: new Rng(5) });
  const numPos = f.labels.filter((l) => l === 1).length;
  assert.ok(numPos > 0 && numPos < 128);
  assert.equal(f.positiveIndices.length, numPos);
  assert.equal(f.negativeIndices.length, 256 - numPos);
  const bg = rpnTargets(few.anchors, new Float32Array(0), { rng: new Rng(5) });
  assert.equal(bg.positiveIndices.length, 0);
  assert.equal(bg.negativeIndices.length, 256);
});

test('RoI default sample: 512 RoIs, 128 positive when enough exist', () => {
  const { gt } = denseScene(20, 3);
  const rng = new Rng(9);
  const props = new Float32Array(4 * 2000);
  for (let j = 0; j < 2000; j++) {
    const g = j % 20;
    const s = j < 1000 ? 2 : 40; // half close to a gt box, half far off
    for (let c = 0; c < 4; c++) props[4 * j + c] = gt[4 * g + c]! + rng.uniform(-s, s);
    if (props[4 * j + 2]! <= props[4 * j]!) props[4 * j + 2] = props[4 * j]! + 1;
    if (props[4 * j + 3]! <= props[4 * j + 1]!) props[4 * j + 3] = props[4 * j + 1]! + 1;
  }
  const labels = Array.from({ length: 20 }, (_, i) => 1 + (i % 3));
  const t = roiTargets(props, gt, labels, { rng: new Rng(4) });
  assert.equal(t.labels.length, 512);
  assert.equal(t.labels.filter((l) => l > 0).length, 128);
  assert.equal(t.regressionTargets.length, 512 * 4);
  assert.ok(t.sampledIndices.every((v, i, a) => i === 0 || a[i - 1]! < v), 'increasing');
  for (let j = 0; j < 512; j++) if (t.labels[j]! > 0) assert.equal(t.labels[j], labels[t.matchedIdxs[j]!]);
});

test('errors name the argument', () => {
  const gt = new Float32Array([0, 0, 10, 10]);
  const a = new Float32Array([0, 0, 10, 10, 20, 20, 30, 30]);
  assert.throws(() => assignRpnTargets(new Float32Array(3), gt), /anchors length/);
  assert.throws(() => assignRpnTargets(a, [0, 0, 1, 1] as unknown as Float32Array), /gtBoxes must be a Float32Array/);
  assert.throws(() => assignRpnTargets(a, new Float32Array([0, 0, 10, 10, 5, 5, 5, 9])), /gtBoxes\[1\] is degenerate/);
  assert.throws(() => assignRoiTargets(a, new Float32Array([0, 0, 10, 10, 5, 5, 4, 9]), [1, 1]), /gtBoxes\[1\] is degenerate/);
  assert.throws(() => assignRpnTargets(a, new Float32Array([0, 0, NaN, 10])), /gtBoxes\[0\] must be finite/);
  assert.throws(() => rpnTargets(a, gt, { sampled: { positiveIndices: [1], negativeIndices: [] } }), /positiveIndices\[0\] = 1 has label 0/);
  assert.throws(() => rpnTargets(a, gt, { sampled: { positiveIndices: [0], negativeIndices: [0] } }), /negativeIndices\[0\] = 0 has label 1/);
  assert.throws(() => rpnTargets(a, gt, { sampled: { positiveIndices: [], negativeIndices: [7] } }), /negativeIndices\[0\] must be an index in \[0, 2\)/);
  assert.throws(() => rpnTargets(a, gt, {} as never), /source.rng must be an Rng/);
  assert.throws(() => roiTargets(a, gt, [0], { rng: new Rng(1) }), /gtLabels\[0\] must be a class id >= 1/);
  assert.throws(() => roiTargets(a, gt, [1, 2], { rng: new Rng(1) }), /gtLabels has 2 entries for 1 gt boxes/);
});
