/**
 * BalancedPositiveNegativeSampler: torchvision's counts and invariants (its randperm picks cannot
 * be reproduced across frameworks), seeded reproducibility, and rough uniformity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/util/rng.js';
import { BalancedPositiveNegativeSampler } from '../src/detection/sampler.js';

function labels(nPos: number, nNeg: number, nIgnore: number, rng: Rng): Int32Array {
  const l = [...Array(nPos).fill(1), ...Array(nNeg).fill(0), ...Array(nIgnore).fill(-1)];
  rng.shuffle(l);
  return Int32Array.from(l);
}

test('counts follow torchvision: numPos = min(#pos, floor(B*f)), numNeg = min(#neg, B - numPos)', () => {
  const rng = new Rng(3);
  for (const [B, frac] of [[256, 0.5], [512, 0.25], [10, 1], [7, 0.3], [0, 0.5]] as const) {
    const s = new BalancedPositiveNegativeSampler(B, frac);
    for (const [p, n, ig] of [[0, 0, 5], [3, 1000, 10], [400, 2000, 50], [1000, 2, 0], [5, 5, 5]] as const) {
      const lab = labels(p, n, ig, rng);
      const r = s.sampleImage(lab, rng);
      const numPos = Math.min(p, Math.floor(B * frac));
      const numNeg = Math.min(n, B - numPos);
      assert.equal(r.positiveIndices.length, numPos, `B=${B} f=${frac} p=${p} n=${n}`);
      assert.equal(r.negativeIndices.length, numNeg);
      assert.equal(r.positive.reduce((a, v) => a + v, 0), numPos);
      assert.equal(r.negative.reduce((a, v) => a + v, 0), numNeg);
      for (const i of r.positiveIndices) assert.ok(lab[i]! >= 1 && r.positive[i] === 1 && r.negative[i] === 0);
      for (const i of r.negativeIndices) assert.ok(lab[i] === 0 && r.negative[i] === 1);
      assert.equal(new Set(r.positiveIndices).size, numPos, 'no repeats');
      assert.ok(r.positiveIndices.every((v, i, a) => i === 0 || a[i - 1]! < v), 'indices increasing');
    }
  }
});

test('labels >= 1 are positives (class ids), 0 negatives, -1/-2 never sampled; Float32Array labels work', () => {
  const s = new BalancedPositiveNegativeSampler(100, 0.5);
  const r = s.sampleImage(new Float32Array([3, 0, -1, -2, 1, 0.5, 0]), new Rng(1));
  assert.deepEqual(Array.from(r.positiveIndices), [0, 4]);
  assert.deepEqual(Array.from(r.negativeIndices), [1, 6]);
});

test('same seed, same picks; different seeds differ; picks are roughly uniform', () => {
  const lab = labels(300, 3000, 0, new Rng(9));
  const s = new BalancedPositiveNegativeSampler(256, 0.5);
  const a = s.sample([lab, lab], new Rng(42));
  const b = s.sample([lab, lab], new Rng(42));
  assert.deepEqual(a, b);
  assert.notDeepEqual(s.sampleImage(lab, new Rng(43)).positiveIndices, a[0]!.positiveIndices);
  // each positive is picked with probability 128/300: count over 300 draws
  const counts = new Float64Array(lab.length);
  const rng = new Rng(7);
  const draws = 300;
  for (let d = 0; d < draws; d++) for (const i of s.sampleImage(lab, rng).positiveIndices) counts[i]++;
  const pos = Array.from(lab.keys()).filter((i) => lab[i]! >= 1);
  const mean = pos.reduce((acc, i) => acc + counts[i]!, 0) / pos.length;
  assert.ok(Math.abs(mean - (draws * 128) / 300) < 1e-9);
  const sd = Math.sqrt(draws * (128 / 300) * (1 - 128 / 300));
  assert.ok(pos.every((i) => Math.abs(counts[i]! - mean) < 6 * sd), 'no index far from the expected count');
});

test('validation', () => {
  assert.throws(() => new BalancedPositiveNegativeSampler(-1, 0.5), RangeError);
  assert.throws(() => new BalancedPositiveNegativeSampler(1.5, 0.5), /batchSizePerImage must be an integer/);
  assert.throws(() => new BalancedPositiveNegativeSampler(10, 1.5), /positiveFraction must be in \[0, 1\]/);
  assert.throws(() => new BalancedPositiveNegativeSampler(10, '0.5' as unknown as number), TypeError);
  const s = new BalancedPositiveNegativeSampler(10, 0.5);
  assert.throws(() => s.sampleImage([1, NaN], new Rng(1)), /labels\[1\]/);
  assert.throws(() => s.sampleImage(5 as unknown as number[], new Rng(1)), TypeError);
  assert.throws(() => s.sampleImage([1], {} as Rng), /rng must be an Rng/);
});
