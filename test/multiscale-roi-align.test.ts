import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import type { FeatureShape } from '../src/detection/roi-align.js';
import {
  inferScales,
  multiScaleRoiAlign,
  multiScaleRoiAlignBackward,
  multiScaleRoiAlignBackwardSync,
  multiScaleRoiAlignSync,
  roiLevels,
  type FeatureLevel,
} from '../src/detection/multiscale-roi-align.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, f32FromBase64 as f32 } from './close.js';

const fx = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'roi_multiscale.json'), 'utf8')) as {
  imageShapes: [number, number][];
  scales: number[];
  outputSize: [number, number];
  samplingRatio: number;
  levelShapes: FeatureShape[];
  features: string[];
  rois: string;
  levels: number[];
  output: string;
  gradOutput: string;
  gradFeatures: string[];
};
const levels: FeatureLevel[] = fx.levelShapes.map((shape, i) => ({ data: f32(fx.features[i]), shape }));
const rois = f32(fx.rois);

test('inferScales reproduces torchvision _setup_scales', () => {
  assert.deepEqual(inferScales(fx.levelShapes, fx.imageShapes), fx.scales);
  assert.deepEqual(inferScales([[1, 1, 200, 200], [1, 1, 100, 100]], [[800, 800], [790, 600]]), [0.25, 0.125]);
  assert.throws(() => inferScales(fx.levelShapes, []), TypeError);
  assert.throws(() => inferScales(fx.levelShapes, [[0, 5]]), /imageSizes\[0\]/);
});

test('level mapper matches torchvision LevelMapper, boundaries included', () => {
  const lv = roiLevels(rois, fx.scales);
  assert.deepEqual([...lv], fx.levels);
  // sqrt(area) exactly 112, 224, 448 -> levels 3, 4, 5 (indices 1, 2, 3 with kMin 2); tiny -> kMin.
  const exact = new Float32Array([0, 0, 0, 112, 112, 0, 0, 0, 224, 224, 0, 0, 0, 448, 448, 0, 0, 0, 111.9, 112, 0, 0, 0, 1, 1, 0, 0, 0, 5000, 5000]);
  assert.deepEqual([...roiLevels(exact, fx.scales)], [1, 2, 3, 0, 0, 3]);
  assert.throws(() => roiLevels(exact, [0.25, 0.0625]), /halve/);
  assert.throws(() => roiLevels(exact, [0.3]), /power of two/);
});

test('multiScaleRoiAlignSync and its backward match torchvision MultiScaleRoIAlign (4 levels)', async () => {
  const opts = { outputSize: fx.outputSize, samplingRatio: fx.samplingRatio };
  const r = multiScaleRoiAlignSync(levels, rois, fx.imageShapes, opts);
  assert.deepEqual(r.scales, fx.scales);
  assert.deepEqual([...r.levels], fx.levels);
  assertClose(r.output, f32(fx.output), 'forward');
  const grads = multiScaleRoiAlignBackwardSync(f32(fx.gradOutput), rois, fx.levelShapes, r.levels, r.scales, opts);
  assert.equal(grads.length, 4);
  grads.forEach((g, i) => assertClose(g, f32(fx.gradFeatures[i]), `grad level ${i}`));
  // Async variants give the same arrays.
  const ra = await multiScaleRoiAlign(levels, rois, fx.imageShapes, opts);
  assert.deepEqual(ra.output, r.output);
  const ga = await multiScaleRoiAlignBackward(f32(fx.gradOutput), rois, fx.levelShapes, r.levels, r.scales, opts);
  assert.deepEqual(ga, grads);
});

test('backward is the adjoint of forward (central differences) and deterministic across threads', () => {
  const rng = new Rng(8);
  const shapes: FeatureShape[] = [[1, 2, 8, 8], [1, 2, 4, 4], [1, 2, 2, 2]];
  const lv: FeatureLevel[] = shapes.map((s) => ({ data: new Float32Array(s[1] * s[2] * s[3]).map(() => rng.normal()), shape: s }));
  const k = 12;
  const r = new Float32Array(k * 5);
  for (let i = 0; i < k; i++) {
    const side = Math.exp(rng.uniform(Math.log(2), Math.log(40)));
    const x = rng.uniform(0, 32);
    const y = rng.uniform(0, 32);
    r.set([0, x, y, x + side, y + side * rng.uniform(0.5, 2)], i * 5);
  }
  const opts = { outputSize: [3, 2] as [number, number], samplingRatio: -1, canonicalScale: 16, canonicalLevel: 3 };
  const fwd = multiScaleRoiAlignSync(lv, r, [[32, 32]], opts);
  assert.ok(new Set(fwd.levels).size >= 2, 'RoIs spread over levels');
  const go = new Float32Array(fwd.output.length).map(() => rng.normal());
  const grads = multiScaleRoiAlignBackwardSync(go, r, shapes, fwd.levels, fwd.scales, opts);
  for (let l = 0; l < shapes.length; l++) {
    for (let i = 0; i < lv[l].data.length; i++) {
      const f = (delta: number) => {
        const data = lv[l].data.slice();
        data[i] += delta;
        const pert = lv.map((x, j) => (j === l ? { data, shape: x.shape } : x));
        const out = multiScaleRoiAlignSync(pert, r, [[32, 32]], opts).output;
        let s = 0;
        for (let j = 0; j < out.length; j++) s += out[j] * go[j];
        return s;
      };
      const fd = (f(0.5) - f(-0.5)) / 1;
      assert.ok(Math.abs(fd - grads[l][i]) <= 1e-4 + 1e-4 * Math.abs(fd), `level ${l} [${i}] fd ${fd} vs ${grads[l][i]}`);
    }
  }
  for (const threads of [1, 2, 3]) {
    const g = multiScaleRoiAlignBackwardSync(go, r, shapes, fwd.levels, fwd.scales, { ...opts, threads });
    assert.deepEqual(g, grads, `threads ${threads}`);
  }
});

test('validation names the argument', () => {
  const opts = { outputSize: fx.outputSize, samplingRatio: 2 };
  const bad: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => multiScaleRoiAlignSync([], rois, fx.imageShapes, opts), TypeError, /levels/],
    [() => multiScaleRoiAlignSync([{ data: new Float32Array(3), shape: fx.levelShapes[0] }], rois, fx.imageShapes, opts), RangeError, /levelData\[0\] length/],
    [() => multiScaleRoiAlignSync(levels, rois, fx.imageShapes, { ...opts, scales: [0.25, 0.125] }), RangeError, /scales/],
    [() => multiScaleRoiAlignSync(levels, new Float32Array([5, 0, 0, 1, 1]), fx.imageShapes, opts), RangeError, /batch index/],
    [() => multiScaleRoiAlignSync(levels, new Float32Array([0, 0, NaN, 1, 1]), fx.imageShapes, opts), RangeError, /rois/],
    [() => multiScaleRoiAlignSync(levels, rois, fx.imageShapes, { ...opts, canonicalScale: -1 }), RangeError, /canonicalScale/],
    [() => multiScaleRoiAlignSync(levels.map((l, i) => (i === 1 ? { data: new Float32Array(3 * 64), shape: [2, 3, 8, 8] as FeatureShape } : l)), rois, fx.imageShapes, opts), RangeError, /same N and C/],
    [() => multiScaleRoiAlignBackwardSync(new Float32Array(5), rois, fx.levelShapes, new Int32Array(fx.levels), fx.scales, opts), RangeError, /gradOutput length/],
    [() => multiScaleRoiAlignBackwardSync(f32(fx.gradOutput), rois, fx.levelShapes, new Int32Array(3), fx.scales, opts), RangeError, /levels length/],
    [() => multiScaleRoiAlignBackwardSync(f32(fx.gradOutput), rois, fx.levelShapes, new Int32Array(fx.levels.length).fill(4), fx.scales, opts), RangeError, /levels\[0\]/],
    [() => multiScaleRoiAlignBackwardSync(f32(fx.gradOutput), rois, fx.levelShapes, fx.levels as unknown as Int32Array, fx.scales, opts), TypeError, /levels/],
  ];
  for (const [fn, type, re] of bad) assert.throws(fn, (e: Error) => e instanceof type && re.test(e.message), String(fn));
});

test('fuzz: 3000 malformed multi-scale calls throw TypeError/RangeError', () => {
  const rng = new Rng(77);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const junk = () => pick<unknown>([undefined, null, 1, -1, NaN, 'a', {}, [], [1, 2], new Float32Array(5), new Int32Array(2), [0.25, 0.125, 0.0625, 0.03125]]);
  let threw = 0;
  for (let i = 0; i < 3000; i++) {
    const args: unknown[] = [levels, rois, fx.imageShapes, { outputSize: 2 }];
    const j = Math.floor(rng.next() * 4);
    args[j] = rng.next() < 0.5 ? junk() : [junk(), junk()];
    if (j === 3) args[3] = { outputSize: junk(), samplingRatio: junk(), scales: junk(), canonicalLevel: junk() };
    try {
      (multiScaleRoiAlignSync as (...a: unknown[]) => unknown)(...args);
    } catch (e) {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `unexpected ${e}`);
      threw++;
    }
  }
  assert.ok(threw > 2000, `threw ${threw}`);
});
