/**
 * The native matcher (native/matcher.cc) against the TypeScript reference (matchQualityReference
 * over boxIouSync's matrix): randomized boxes and matrices with exact ties (integer grids,
 * duplicated boxes, values from a small set), zero IoU everywhere, degenerate boxes (0/0 = NaN),
 * NaN/±0/±Infinity qualities, thresholds hit exactly; all thread counts bitwise equal; async = sync;
 * validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matcher, matchQualityReference } from '../src/detection/matcher.js';
import { boxIouSync } from '../src/detection/boxes.js';
import { Rng } from '../src/util/rng.js';
import { native } from '../src/native.js';

const THREADS = [1, 2, 3, 7, 0];

/** Column maxima / row maxima of a G x N matrix as torch's max (NaN propagates), zero as +0. */
function refMaxima(q: Float32Array, g: number, n: number): { best: Float32Array; gtMax: Float32Array } {
  const best = q.slice(0, n);
  for (let i = 1; i < g; i++) {
    for (let j = 0; j < n; j++) {
      const v = q[i * n + j]!, b = best[j]!;
      if (v > b || (v !== v && b === b)) best[j] = v;
    }
  }
  const gtMax = new Float32Array(g);
  for (let i = 0; i < g; i++) {
    let hi = -Infinity, nan = false;
    for (let j = 0; j < n; j++) {
      const v = q[i * n + j]!;
      if (v !== v) nan = true;
      else if (v > hi) hi = v;
    }
    gtMax[i] = nan ? NaN : hi + 0;
  }
  return { best, gtMax };
}

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what} length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(a[i] !== a[i] && b[i] !== b[i])) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** Random boxes on an integer grid (many exact ties), some degenerate when `degenerate`. */
function gridBoxes(rng: Rng, n: number, extent: number, maxSize: number, degenerate = false): Float32Array {
  const b = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = Math.floor(rng.next() * extent), y = Math.floor(rng.next() * extent);
    let w = 1 + Math.floor(rng.next() * maxSize), h = 1 + Math.floor(rng.next() * maxSize);
    if (degenerate && rng.next() < 0.1) (rng.next() < 0.5 ? (w = 0) : (h = 0));
    b.set([x, y, x + w, y + h], 4 * i);
  }
  return b;
}

/** Random float boxes (few ties). */
function floatBoxes(rng: Rng, n: number, extent: number, maxSize: number): Float32Array {
  const b = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = rng.next() * extent, y = rng.next() * extent;
    b.set([x, y, x + 0.5 + rng.next() * maxSize, y + 0.5 + rng.next() * maxSize], 4 * i);
  }
  return b;
}

function checkBoxes(gt: Float32Array, pred: Float32Array, high: number, low: number, allow: boolean, what: string): void {
  const g = gt.length / 4, n = pred.length / 4;
  const q = boxIouSync(gt, pred);
  const want = matchQualityReference(q, g, n, high, low, allow);
  const { best, gtMax } = refMaxima(q, g, n);
  const m = new Matcher(high, low, allow);
  for (const threads of THREADS) {
    const got = m.matchBoxesSync(gt, pred, { threads });
    assert.deepEqual(got.matches, want, `${what} matches (threads ${threads})`);
    bitsEqual(got.bestQuality, best, `${what} bestQuality (threads ${threads})`);
    bitsEqual(got.gtMaxQuality, gtMax, `${what} gtMaxQuality (threads ${threads})`);
    assert.deepEqual(m.match(q, g, n), want, `${what} match() over the matrix`);
  }
}

test('matchBoxesSync equals the reference over boxIouSync: random integer-grid and float boxes', () => {
  const rng = new Rng(7);
  for (let it = 0; it < 40; it++) {
    const g = 1 + Math.floor(rng.next() * 25);
    const n = it % 5 === 0 ? 20000 + Math.floor(rng.next() * 9000) : 1 + Math.floor(rng.next() * 3000);
    const grid = it % 2 === 0;
    const gt = grid ? gridBoxes(rng, g, 60, 20) : floatBoxes(rng, g, 300, 80);
    const pred = grid ? gridBoxes(rng, n, 60, 20, true) : floatBoxes(rng, n, 300, 80);
    const allow = rng.next() < 0.7;
    const [high, low] = rng.next() < 0.5 ? [0.7, 0.3] : [0.5, 0.5];
    checkBoxes(gt, pred, high, low, allow, `case ${it} (G ${g}, N ${n})`);
  }
});

test('exact ties: duplicated gt boxes pick the first, duplicated anchors all get the low-quality match', () => {
  const gt = new Float32Array([0, 0, 10, 10, 0, 0, 10, 10, 100, 100, 110, 120, 100, 100, 110, 120]);
  const rng = new Rng(3);
  const pred = gridBoxes(rng, 12000, 130, 25);
  pred.set([100, 100, 105, 105, 100, 100, 105, 105, 0, 0, 10, 10], 4 * 11000); // tied best anchors
  checkBoxes(gt, pred, 0.7, 0.3, true, 'duplicates');
  const r = new Matcher(0.7, 0.3, true).matchBoxesSync(gt, pred);
  assert.equal(r.matches[11002], 0, 'identical box: first of the two equal gts');
});

test('zero IoU everywhere: every anchor is a low-quality match of its first gt', () => {
  const gt = new Float32Array([1000, 1000, 1010, 1010, 2000, 2000, 2050, 2030]);
  const pred = gridBoxes(new Rng(5), 30000, 500, 40);
  checkBoxes(gt, pred, 0.7, 0.3, true, 'disjoint');
  const r = new Matcher(0.7, 0.3, true).matchBoxesSync(gt, pred);
  assert.ok(r.matches.every((v) => v === 0));
  assert.deepEqual(Array.from(r.gtMaxQuality), [0, 0]);
  assert.ok(new Matcher(0.7, 0.3, false).matchBoxesSync(gt, pred).matches.every((v) => v === -1));
});

test('degenerate gt and anchors (0/0 = NaN IoU) behave as the reference', () => {
  const gt = new Float32Array([5, 5, 5, 9, 0, 0, 10, 10, 3, 3, 3, 3]);
  const pred = gridBoxes(new Rng(11), 9000, 20, 6, true);
  pred.set([5, 5, 5, 5, 2, 2, 2, 8], 0);
  for (const allow of [true, false]) checkBoxes(gt, pred, 0.7, 0.3, allow, `degenerate allow=${allow}`);
});

test('matchQualitySync (Matcher.match) equals the reference on matrices with ties, NaN, ±0, ±Infinity', () => {
  const rng = new Rng(19);
  const values = [0, -0, 0.1, 0.3, Math.fround(0.3), 0.5, 0.7, Math.fround(0.7), 0.9, 1, NaN, Infinity, -Infinity, -1];
  for (let it = 0; it < 60; it++) {
    const g = 1 + Math.floor(rng.next() * 8);
    const n = it % 6 === 0 ? 17000 + Math.floor(rng.next() * 2000) : 1 + Math.floor(rng.next() * 400);
    const nanRate = it % 3 === 0 ? 0.0005 : 0;
    const q = new Float32Array(g * n);
    for (let i = 0; i < q.length; i++) {
      const r = rng.next();
      q[i] = r < nanRate ? NaN : it % 2 ? values[Math.floor(rng.next() * (values.length - 4))]! : rng.next();
      if (it % 4 === 1 && rng.next() < 0.01) q[i] = values[10 + Math.floor(rng.next() * 4)]!;
    }
    const allow = it % 2 === 0 || rng.next() < 0.5;
    const [high, low] = ([[0.7, 0.3], [0.5, 0.5], [0.3, 0.3], [1, 0]] as const)[it % 4]!;
    const want = matchQualityReference(q, g, n, high, low, allow);
    const { best, gtMax } = refMaxima(q, g, n);
    assert.deepEqual(new Matcher(high, low, allow).match(q, g, n), want, `case ${it}`);
    // the binding behind match() also returns the maxima: torch's max, bit for bit
    const raw = (native as unknown as { matchQualitySync: (...a: unknown[]) => { bestQuality: Float32Array; gtMaxQuality: Float32Array } }).matchQualitySync(q, g, n, high, low, allow, 3);
    bitsEqual(raw.bestQuality, best, `case ${it} bestQuality`);
    bitsEqual(raw.gtMaxQuality, gtMax, `case ${it} gtMaxQuality`);
  }
});

test('async = sync, and validation names the argument', async () => {
  const rng = new Rng(23);
  const gt = floatBoxes(rng, 9, 300, 80), pred = floatBoxes(rng, 20000, 300, 80);
  const m = new Matcher(0.7, 0.3, true);
  const a = await m.matchBoxes(gt, pred, { threads: 2 });
  const s = m.matchBoxesSync(gt, pred);
  assert.deepEqual(a.matches, s.matches);
  bitsEqual(a.bestQuality, s.bestQuality, 'bestQuality');
  bitsEqual(a.gtMaxQuality, s.gtMaxQuality, 'gtMaxQuality');

  assert.throws(() => m.matchBoxesSync(new Float32Array(0), pred), /No ground-truth boxes/);
  assert.throws(() => m.matchBoxesSync(gt, new Float32Array(0)), /No proposal boxes/);
  assert.throws(() => m.matchBoxesSync(gt.subarray(0, 5), pred), (e: Error) => e instanceof RangeError && /gtBoxes length/.test(e.message));
  assert.throws(() => m.matchBoxesSync(gt, new Float32Array([0, 0, NaN, 1])), (e: Error) => e instanceof RangeError && /predictions must be finite, got NaN at index 2/.test(e.message));
  assert.throws(() => m.matchBoxesSync([0, 0, 1, 1] as unknown as Float32Array, pred), (e: Error) => e instanceof TypeError && /gtBoxes/.test(e.message));
  assert.throws(() => m.matchBoxesSync(gt, pred, { threads: -1 }), (e: Error) => e instanceof RangeError && /threads/.test(e.message));
  assert.throws(() => m.matchBoxesSync(gt, pred, { threads: 1.5 }), (e: Error) => e instanceof TypeError && /threads/.test(e.message));
  await assert.rejects(m.matchBoxes(gt, new Float32Array(3)), (e: Error) => e instanceof RangeError && /predictions length/.test(e.message));
  await assert.rejects(m.matchBoxes(new Float32Array(0), pred), /No ground-truth boxes/);
});

test('fuzz: 3000 malformed calls of the native bindings throw TypeError/RangeError or return, never abort', async () => {
  const rng = new Rng(97);
  const raw = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
  const values = (): unknown =>
    pick<unknown>([
      undefined, null, 0, -1, 1.5, NaN, Infinity, 2 ** 40, 'x', true, {}, [],
      new Float32Array(0), new Float32Array(4), new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]), new Float32Array(7),
      new Float32Array([NaN, 0, 1, 1]), new Float64Array(4), new Int32Array(4), 0.3, 0.7, 2, 3, 300,
    ]);
  let ok = 0;
  for (let i = 0; i < 3000; i++) {
    const fn = pick(['matchBoxesSync', 'matchQualitySync', 'matchBoxes', 'matchQuality']);
    const args = Array.from({ length: Math.floor(rng.next() * 8) }, values);
    try {
      const r = raw[fn]!(...args);
      if (r instanceof Promise) await r.then(() => ok++, (e: unknown) => assert.ok(e instanceof TypeError || e instanceof RangeError, String(e)));
      else ok++;
    } catch (e) {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `${fn}: ${String(e)}`);
    }
  }
  assert.ok(ok >= 0);
});
