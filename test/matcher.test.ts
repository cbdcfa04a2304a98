/** The proposal Matcher against torchvision 0.14 (fixtures from scripts/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from '../src/detection/matcher.js';
import { boxIouSync } from '../src/detection/boxes.js';

interface Case { name: string; m: number; n: number; quality: (number | null)[]; high: number; low: number; allow_low_quality: boolean; matches: number[] }
const fx = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'matcher_torchvision.json'), 'utf8')) as { cases: Case[] };

test('matches equal torchvision Matcher (with/without low-quality matches, ties, exact thresholds, NaN)', () => {
  assert.ok(fx.cases.length >= 10);
  for (const c of fx.cases) {
    const q = Float32Array.from(c.quality, (v) => (v === null ? NaN : v));
    const got = new Matcher(c.high, c.low, c.allow_low_quality).match(q, c.m, c.n);
    assert.deepEqual(Array.from(got), c.matches, c.name);
  }
  assert.equal(BELOW_LOW_THRESHOLD, -1);
  assert.equal(BETWEEN_THRESHOLDS, -2);
});

test('thresholds compare in float32: an IoU of exactly 0.7f is a match at 0.7', () => {
  const gt = new Float32Array([0, 0, 10, 10]);
  const anchors = new Float32Array([0, 0, 10, 7, 0, 0, 10, 3]);
  const q = boxIouSync(gt, anchors);
  assert.deepEqual(Array.from(new Matcher(0.7, 0.3).match(q, 1, 2)), [0, -2]);
  // low-quality: the best anchor of a gt below the low threshold is still matched
  const q2 = new Float32Array([0.1, 0.2]);
  assert.deepEqual(Array.from(new Matcher(0.7, 0.3, false).match(q2, 1, 2)), [-1, -1]);
  assert.deepEqual(Array.from(new Matcher(0.7, 0.3, true).match(q2, 1, 2)), [-1, 0]);
});

test('validation', () => {
  assert.throws(() => new Matcher(0.3, 0.7), /lowThreshold \(0.7\) must be <= highThreshold/);
  assert.throws(() => new Matcher(NaN, 0.3), RangeError);
  assert.throws(() => new Matcher(0.7, 0.3, 1 as unknown as boolean), TypeError);
  const m = new Matcher(0.7, 0.3);
  assert.throws(() => m.match(new Float32Array(0), 0, 5), /No ground-truth boxes/);
  assert.throws(() => m.match(new Float32Array(0), 2, 0), /No proposal boxes/);
  assert.throws(() => m.match(new Float32Array(5), 2, 3), /quality length/);
  assert.throws(() => m.match([0.5] as unknown as Float32Array, 1, 1), TypeError);
  assert.throws(() => m.match(new Float32Array(2), 1.5, 2), /numGt must be an integer/);
});
