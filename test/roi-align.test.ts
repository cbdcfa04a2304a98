import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import {
  roiAlign,
  roiAlignBackward,
  roiAlignBackwardSync,
  roiAlignSync,
  type FeatureShape,
} from '../src/detection/roi-align.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, f32FromBase64 as f32 } from './close.js';

interface Group {
  scale: number;
  featureShape: FeatureShape;
  outputSize: [number, number];
  features: string;
  rois: string;
  gradOutput: string;
  cases: { aligned: boolean; samplingRatio: number; output: string; gradFeatures: string }[];
}
const fixture = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'roi_align.json'), 'utf8')) as {
  groups: Group[];
};

test('roi_align fixture covers the required configurations', () => {
  const scales = new Set(fixture.groups.map((g) => g.scale));
  for (const s of [1, 0.5, 0.25, 1 / 32]) assert.ok(scales.has(s), `scale ${s}`);
  const srs = new Set(fixture.groups.flatMap((g) => g.cases.map((c) => c.samplingRatio)));
  for (const s of [-1, 0, 1, 2, 3]) assert.ok(srs.has(s), `samplingRatio ${s}`);
  assert.ok(fixture.groups.some((g) => f32(g.rois).length === 0), 'empty RoI list');
});

test('roiAlignSync and roiAlignBackwardSync match torchvision 0.14 (forward and autograd backward)', () => {
  let n = 0;
  for (const g of fixture.groups) {
    const feats = f32(g.features);
    const rois = f32(g.rois);
    const gradOut = f32(g.gradOutput);
    for (const c of g.cases) {
      const what = `scale ${g.scale} aligned ${c.aligned} sr ${c.samplingRatio}`;
      const out = roiAlignSync(feats, g.featureShape, rois, g.outputSize, g.scale, c.samplingRatio, c.aligned);
      assertClose(out, f32(c.output), `forward ${what}`);
      const grad = roiAlignBackwardSync(gradOut, rois, g.featureShape, g.outputSize, g.scale, c.samplingRatio, c.aligned);
      assertClose(grad, f32(c.gradFeatures), `backward ${what}`);
      n++;
    }
  }
  assert.ok(n >= 42);
});

test('async variants give the same arrays as the sync ones', async () => {
  const g = fixture.groups[2];
  const c = g.cases[3];
  const feats = f32(g.features);
  const rois = f32(g.rois);
  const sync = roiAlignSync(feats, g.featureShape, rois, g.outputSize, g.scale, c.samplingRatio, c.aligned);
  const [a, b] = await Promise.all([
    roiAlign(feats, g.featureShape, rois, g.outputSize, g.scale, c.samplingRatio, c.aligned),
    roiAlign(feats, g.featureShape, rois, g.outputSize, g.scale, c.samplingRatio, c.aligned, { threads: 1 }),
  ]);
  assert.deepEqual(a, sync);
  assert.deepEqual(b, sync);
  const gradOut = f32(g.gradOutput);
  const gs = roiAlignBackwardSync(gradOut, rois, g.featureShape, g.outputSize, g.scale, c.samplingRatio, c.aligned);
  assert.deepEqual(await roiAlignBackward(gradOut, rois, g.featureShape, g.outputSize, g.scale, c.samplingRatio, c.aligned), gs);
  await assert.rejects(roiAlign(feats, g.featureShape, rois, [0, 2], 1), RangeError);
  await assert.rejects(roiAlignBackward(gradOut, rois, g.featureShape, g.outputSize, g.scale, 2.5, false), /samplingRatio/);
});

function randomCase(seed: number, shape: FeatureShape, k: number, extent: number) {
  const rng = new Rng(seed);
  const [n, c, h, w] = shape;
  const feats = new Float32Array(n * c * h * w).map(() => rng.next() * 2 - 1);
  const rois = new Float32Array(k * 5);
  for (let i = 0; i < k; i++) {
    const x = rng.next() * extent - 0.1 * extent;
    const y = rng.next() * extent - 0.1 * extent;
    rois.set([Math.floor(rng.next() * n), x, y, x + 1 + rng.next() * extent * 0.6, y + 1 + rng.next() * extent * 0.6], i * 5);
  }
  const gradOut = new Float32Array(k * c * 5 * 4).map(() => rng.next() * 2 - 1);
  void h;
  void w;
  return { feats, rois, gradOut };
}

test('backward is the adjoint of forward: central finite differences, both aligned modes', () => {
  // RoIAlign is linear in the features, so the central difference (f(x+h) - f(x-h)) / 2h of
  // f = <roiAlign(x), gradOutput> is exact up to rounding for any h.
  const shape: FeatureShape = [2, 2, 7, 9];
  const { feats, rois, gradOut } = randomCase(5, shape, 6, 10);
  for (const [aligned, sr, scale] of [[false, 2, 0.8], [true, -1, 0.8], [true, 3, 1], [false, 0, 0.5]] as const) {
    const grad = roiAlignBackwardSync(gradOut, rois, shape, [5, 4], scale, sr, aligned);
    const f = (x: Float32Array) => {
      const out = roiAlignSync(x, shape, rois, [5, 4], scale, sr, aligned);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i] * gradOut[i];
      return s;
    };
    const hstep = 0.5;
    let nonzero = 0;
    for (let i = 0; i < feats.length; i++) {
      const x = feats.slice();
      x[i] = feats[i] + hstep;
      const fp = f(x);
      x[i] = feats[i] - hstep;
      const fm = f(x);
      const fd = (fp - fm) / (2 * hstep);
      assert.ok(Math.abs(fd - grad[i]) <= 1e-4 + 1e-4 * Math.abs(fd), `aligned ${aligned} sr ${sr} [${i}]: fd ${fd} vs ${grad[i]}`);
      if (grad[i] !== 0) nonzero++;
    }
    assert.ok(nonzero > 20, 'the check touched real gradients');
  }
});

test('deterministic: repeated runs and thread counts 1, 2, 3, 7 give bitwise equal results', () => {
  const shape: FeatureShape = [2, 13, 40, 36];
  const { feats, rois, gradOut } = randomCase(11, shape, 300, 60);
  const ref = roiAlignBackwardSync(gradOut, rois, shape, [5, 4], 0.5, 2, false, { threads: 1 });
  const fwd = roiAlignSync(feats, shape, rois, [5, 4], 0.5, 2, false, { threads: 1 });
  for (const threads of [1, 2, 3, 7, undefined]) {
    assert.deepEqual(roiAlignBackwardSync(gradOut, rois, shape, [5, 4], 0.5, 2, false, { threads }), ref, `threads ${threads}`);
    assert.deepEqual(roiAlignSync(feats, shape, rois, [5, 4], 0.5, 2, false, { threads }), fwd, `fwd threads ${threads}`);
  }
});

test('validation: TypeError / RangeError naming the argument', () => {
  const shape: FeatureShape = [1, 2, 4, 4];
  const feats = new Float32Array(32);
  const rois = new Float32Array([0, 0, 0, 2, 2]);
  const ok = () => roiAlignSync(feats, shape, rois, 2, 1, 2, false);
  assert.equal(ok().length, 8);
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => roiAlignSync(new Float64Array(32) as unknown as Float32Array, shape, rois, 2), TypeError, /features/],
    [() => roiAlignSync(feats, [1, 2, 4] as unknown as FeatureShape, rois, 2), TypeError, /featureShape/],
    [() => roiAlignSync(feats, [1, -2, 4, 4], rois, 2), RangeError, /featureShape\[1\]/],
    [() => roiAlignSync(feats, [1, 2, 4, 5], rois, 2), RangeError, /features length/],
    [() => roiAlignSync(feats, [1, 2, 4, 0], rois, 2), RangeError, /featureShape\[3\]/],
    [() => roiAlignSync(feats, shape, [0, 0, 0, 2, 2] as unknown as Float32Array, 2), TypeError, /rois/],
    [() => roiAlignSync(feats, shape, new Float32Array(6), 2), RangeError, /rois length/],
    [() => roiAlignSync(feats, shape, new Float32Array([0, NaN, 0, 2, 2]), 2), RangeError, /rois.*NaN/],
    [() => roiAlignSync(feats, shape, new Float32Array([0, 0, 0, Infinity, 2]), 2), RangeError, /rois.*infinite/],
    [() => roiAlignSync(feats, shape, new Float32Array([1, 0, 0, 2, 2]), 2), RangeError, /batch index/],
    [() => roiAlignSync(feats, shape, new Float32Array([-1, 0, 0, 2, 2]), 2), RangeError, /batch index/],
    [() => roiAlignSync(feats, shape, new Float32Array([0.5, 0, 0, 2, 2]), 2), RangeError, /batch index/],
    [() => roiAlignSync(feats, shape, rois, -2), RangeError, /outputSize/],
    [() => roiAlignSync(feats, shape, rois, [2, 0]), RangeError, /outputSize\[1\]/],
    [() => roiAlignSync(feats, shape, rois, '2' as unknown as number), TypeError, /outputSize/],
    [() => roiAlignSync(feats, shape, rois, 2, NaN), RangeError, /spatialScale/],
    [() => roiAlignSync(feats, shape, rois, 2, -0.25), RangeError, /spatialScale/],
    [() => roiAlignSync(feats, shape, rois, 2, 1, 1.5), TypeError, /samplingRatio/],
    [() => roiAlignSync(feats, shape, rois, 2, 1, 2, 1 as unknown as boolean), TypeError, /aligned/],
    [() => roiAlignSync(feats, shape, rois, 2, 1, 2, false, { threads: -1 }), RangeError, /threads/],
    [() => roiAlignSync(feats, shape, new Float32Array([0, -1e30, 0, 1e30, 1]), 2, 1, 0), RangeError, /samplingRatio/],
    [() => roiAlignBackwardSync(new Float32Array(7), rois, shape, 2), RangeError, /gradOutput length/],
    [() => roiAlignBackwardSync(new Float32Array(8), rois, shape, 2, 1, 2, false, { threads: 1.5 }), TypeError, /threads/],
  ];
  for (const [fn, type, re] of cases) {
    assert.throws(fn, (e: Error) => e instanceof type && re.test(e.message), String(fn));
  }
});

test('fuzz: 5000 random malformed calls throw TypeError/RangeError and the process stays alive', () => {
  const rng = new Rng(2024);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const nums = [0, 1, 2, 3, -1, 0.5, NaN, Infinity, -Infinity, 1e9, -1e9, 2 ** 31, 7, 1e-30];
  const anyValue = () =>
    pick<unknown>([
      undefined, null, {}, [], 'x', true, pick(nums),
      new Float32Array(Math.floor(rng.next() * 40)).map(() => pick(nums)),
      new Float64Array(5), new Int32Array(5), [pick(nums), pick(nums), pick(nums), pick(nums)],
    ]);
  let threw = 0;
  let returned = 0;
  for (let i = 0; i < 5000; i++) {
    const shape = rng.next() < 0.5 ? [1, 2, 3, 4] : anyValue();
    const feats = rng.next() < 0.5 ? new Float32Array(24).map(() => pick(nums)) : anyValue();
    const rois = rng.next() < 0.5 ? new Float32Array(5 * Math.floor(rng.next() * 3)).map(() => pick(nums)) : anyValue();
    const args = [feats, shape, rois, rng.next() < 0.5 ? 2 : anyValue(), rng.next() < 0.5 ? 1 : anyValue(),
      rng.next() < 0.5 ? 2 : anyValue(), rng.next() < 0.5 ? false : anyValue()] as const;
    try {
      const fn = rng.next() < 0.5 ? roiAlignSync : roiAlignBackwardSync;
      (fn as (...a: unknown[]) => unknown)(...args);
      returned++;
    } catch (e) {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `unexpected ${e}`);
      threw++;
    }
  }
  assert.ok(threw > 4000, `threw ${threw}, returned ${returned}`);
});
