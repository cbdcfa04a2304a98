/**
 * NMS against torchvision 0.14 (fixtures from scripts/make_kernel_fixtures_nms_boxes.py) and
 * against a brute-force float32 reference written here (ties, degenerate boxes, odd layouts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import { Rng } from '../src/util/rng.js';
import { batchedNms, batchedNmsSync, nms, nmsSync } from '../src/detection/nms.js';

interface NmsCase { name: string; iou: number; boxes: number[]; scores: number[]; keep: number[] }
interface BatchedCase extends NmsCase { idxs: number[] }
const fixture = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'nms_torchvision.json'), 'utf8')) as {
  nms: NmsCase[];
  batched: BatchedCase[];
};

const f = Math.fround;

/** torchvision's CPU algorithm, literally, with float32 arithmetic and a stable tie order. */
export function bruteNms(
  b: Float32Array, s: Float32Array, thr: number, cls?: Int32Array, topK = -1, maxOutput = -1,
): number[] {
  const n = s.length;
  let order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (s[j]! - s[i]!) || i - j);
  if (cls && topK >= 0) {
    const taken = new Map<number, number>();
    order = order.filter((i) => {
      const t = taken.get(cls[i]!) ?? 0;
      taken.set(cls[i]!, t + 1);
      return t < topK;
    });
  }
  const area = (i: number) => f(f(b[4 * i + 2]! - b[4 * i]!) * f(b[4 * i + 3]! - b[4 * i + 1]!));
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let a = 0; a < order.length; a++) {
    const i = order[a]!;
    if (suppressed[i]) continue;
    if (maxOutput >= 0 && keep.length >= maxOutput) break;
    keep.push(i);
    for (let c = a + 1; c < order.length; c++) {
      const j = order[c]!;
      if (suppressed[j] || (cls && cls[i] !== cls[j])) continue;
      const w = Math.max(0, f(Math.min(b[4 * i + 2]!, b[4 * j + 2]!) - Math.max(b[4 * i]!, b[4 * j]!)));
      const h = Math.max(0, f(Math.min(b[4 * i + 3]!, b[4 * j + 3]!) - Math.max(b[4 * i + 1]!, b[4 * j + 1]!)));
      const inter = f(w * h);
      const ovr = f(inter / f(f(area(i) + area(j)) - inter));
      if (ovr > thr) suppressed[j] = 1;
    }
  }
  return keep;
}

type Layout = 'uniform' | 'clustered' | 'mixed' | 'strips' | 'degenerate' | 'nested' | 'huge';

function makeCase(rng: Rng, n: number, layout: Layout, tiedScores: boolean) {
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    let x = rng.uniform(0, 300), y = rng.uniform(0, 300), w = rng.uniform(4, 40), h = rng.uniform(4, 40);
    if (layout === 'clustered') {
      const c = i % 7;
      x = 40 * c + rng.normal(0, 3); y = 30 * (c % 3) + rng.normal(0, 3); w = rng.uniform(15, 30); h = rng.uniform(15, 30);
    } else if (layout === 'mixed') {
      w = Math.exp(rng.uniform(0, 6)); h = w * rng.uniform(0.5, 2);
    } else if (layout === 'strips') {
      if (i % 2) { w = 300; h = rng.uniform(1, 4); x = rng.uniform(0, 5); } else { h = 300; w = rng.uniform(1, 4); y = rng.uniform(0, 5); }
    } else if (layout === 'degenerate') {
      const k = rng.int(0, 4);
      if (k === 0) w = 0; else if (k === 1) h = 0; else if (k === 2) w = -w; else if (k === 3) { w = -w; h = -h; }
    } else if (layout === 'nested') {
      x = 100 - i * 0.37; y = 100 - i * 0.41; w = 2 + i * 0.8; h = 2 + i * 0.75;
    } else if (layout === 'huge') {
      if (i % 10 === 0) { x = rng.uniform(-1e4, 0); y = rng.uniform(-1e4, 0); w = rng.uniform(1e4, 3e4); h = rng.uniform(1e4, 3e4); }
    }
    boxes.set([x, y, x + w, y + h], 4 * i);
  }
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = tiedScores ? rng.int(0, 9) / 8 - (rng.int(0, 3) === 0 ? 0 : 0) : rng.next();
  return { boxes, scores };
}

test('nmsSync matches torchvision.ops.nms on every fixture case (random, clustered, degenerate, IoU exactly at the threshold)', () => {
  assert.ok(fixture.nms.length > 50);
  for (const c of fixture.nms) {
    const got = nmsSync(Float32Array.from(c.boxes), Float32Array.from(c.scores), c.iou);
    assert.deepEqual(Array.from(got), c.keep, c.name);
  }
});

test('at-threshold pairs: IoU equal to the threshold keeps both boxes, just above suppresses', () => {
  const pairs = fixture.nms.filter((c) => c.name.startsWith('pair '));
  assert.ok(pairs.length >= 16);
  // the fixture must really exercise both outcomes
  assert.ok(pairs.some((c) => c.keep.length === c.scores.length) && pairs.some((c) => c.keep.length === c.scores.length / 2));
});

test('nms (async) resolves to the same indices as nmsSync', async () => {
  for (const c of fixture.nms.slice(0, 12)) {
    const b = Float32Array.from(c.boxes), s = Float32Array.from(c.scores);
    const [a1, a2] = await Promise.all([nms(b, s, c.iou), nms(b, s, c.iou)]);
    assert.deepEqual(Array.from(a1), c.keep, c.name);
    assert.deepEqual(Array.from(a2), c.keep, c.name);
  }
});

test('batchedNmsSync matches torchvision batched_nms (vanilla and coordinate trick agree on these)', async () => {
  for (const c of fixture.batched) {
    const b = Float32Array.from(c.boxes), s = Float32Array.from(c.scores), k = Int32Array.from(c.idxs);
    assert.deepEqual(Array.from(batchedNmsSync(b, s, k, c.iou)), c.keep, c.name);
    assert.deepEqual(Array.from(await batchedNms(b, s, k, c.iou)), c.keep, c.name);
  }
});

test('ties, degenerate boxes, mixed sizes, strips, nesting, huge boxes: equal to the brute-force reference', () => {
  const rng = new Rng(11);
  const layouts: Layout[] = ['uniform', 'clustered', 'mixed', 'strips', 'degenerate', 'nested', 'huge'];
  let checked = 0;
  for (const layout of layouts) {
    for (const n of [0, 1, 2, 17, 255, 256, 700]) {
      for (const tied of [true, false]) {
        const { boxes, scores } = makeCase(rng, n, layout, tied);
        for (const thr of [0, 0.25, 0.5, 0.7, 1]) {
          assert.deepEqual(Array.from(nmsSync(boxes, scores, thr)), bruteNms(boxes, scores, thr), `${layout} n=${n} tied=${tied} thr=${thr}`);
          checked++;
        }
      }
    }
  }
  assert.equal(checked, 7 * 7 * 2 * 5);
});

test('equal scores keep the lower index first; -0 and +0 are equal scores', () => {
  const boxes = new Float32Array([0, 0, 10, 10, 0, 0, 10, 10, 50, 50, 60, 60, 50, 50, 60, 60]);
  assert.deepEqual(Array.from(nmsSync(boxes, new Float32Array([0.5, 0.5, 0.5, 0.5]), 0.5)), [0, 2]);
  assert.deepEqual(Array.from(nmsSync(boxes, new Float32Array([0, -0, -0, 0]), 0.5)), [0, 2]);
  assert.deepEqual(Array.from(nmsSync(boxes, new Float32Array([-0, 0, 0, -0]), 0.5)), [0, 2]);
  assert.deepEqual(Array.from(nmsSync(boxes, new Float32Array([0.1, 0.9, 0.2, 0.3]), 0.5)), [1, 3]);
});

test('batchedNmsSync: classes never suppress each other; topK per class and maxOutput as the reference', () => {
  const rng = new Rng(5);
  for (const n of [0, 40, 300, 900]) {
    const { boxes, scores } = makeCase(rng, n, 'clustered', true);
    const cls = Int32Array.from({ length: n }, () => rng.int(-2, 3) * 1000);
    for (const thr of [0.3, 0.7]) {
      assert.deepEqual(Array.from(batchedNmsSync(boxes, scores, cls, thr)), bruteNms(boxes, scores, thr, cls), `n=${n}`);
      for (const topK of [0, 1, 5, 1000]) {
        for (const maxOutput of [undefined, 0, 3, 50]) {
          assert.deepEqual(
            Array.from(batchedNmsSync(boxes, scores, cls, thr, { topK, maxOutput })),
            bruteNms(boxes, scores, thr, cls, topK, maxOutput ?? -1),
            `n=${n} thr=${thr} topK=${topK} maxOutput=${maxOutput}`,
          );
        }
      }
    }
  }
  // identical boxes in two classes are both kept
  const b = new Float32Array([0, 0, 10, 10, 0, 0, 10, 10]);
  assert.deepEqual(Array.from(batchedNmsSync(b, new Float32Array([0.9, 0.8]), new Int32Array([1, 2]), 0.5)), [0, 1]);
  assert.deepEqual(Array.from(batchedNmsSync(b, new Float32Array([0.9, 0.8]), new Int32Array([1, 1]), 0.5)), [0]);
});

test('validation: TypeError/RangeError naming the argument; async variants reject', async () => {
  const b = new Float32Array([0, 0, 1, 1]), s = new Float32Array([1]);
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => nmsSync([0, 0, 1, 1] as unknown as Float32Array, s, 0.5), TypeError, /boxes/],
    [() => nmsSync(new Float64Array(4) as unknown as Float32Array, s, 0.5), TypeError, /boxes must be a Float32Array/],
    [() => nmsSync(b, new Int32Array(1) as unknown as Float32Array, 0.5), TypeError, /scores/],
    [() => nmsSync(new Float32Array(5), s, 0.5), RangeError, /boxes length must be a multiple of 4/],
    [() => nmsSync(b, new Float32Array(2), 0.5), RangeError, /scores length/],
    [() => nmsSync(new Float32Array([0, 0, NaN, 1]), s, 0.5), RangeError, /boxes must be finite.*NaN.*index 2/],
    [() => nmsSync(b, new Float32Array([Infinity]), 0.5), RangeError, /scores must be finite/],
    [() => nmsSync(b, s, NaN), RangeError, /iouThreshold/],
    [() => nmsSync(b, s, '0.5' as unknown as number), TypeError, /iouThreshold must be a number/],
    [() => nmsSync(b, s, -0.1), RangeError, /iouThreshold must be in \[0, 1\]/],
    [() => nmsSync(b, s, 1.5), RangeError, /iouThreshold/],
    [() => batchedNmsSync(b, s, new Float32Array(1) as unknown as Int32Array, 0.5), TypeError, /classIds/],
    [() => batchedNmsSync(b, s, new Int32Array(2), 0.5), RangeError, /classIds length/],
    [() => batchedNmsSync(b, s, new Int32Array(1), 0.5, { topK: -1 }), RangeError, /options.topK/],
    [() => batchedNmsSync(b, s, new Int32Array(1), 0.5, { topK: 1.5 }), TypeError, /options.topK must be an integer/],
    [() => batchedNmsSync(b, s, new Int32Array(1), 0.5, { maxOutput: -3 }), RangeError, /options.maxOutput/],
    [() => batchedNmsSync(b, s, new Int32Array(1), 0.5, 7 as unknown as object), TypeError, /options must be an object/],
  ];
  for (const [fn, type, re] of cases) assert.throws(fn, (e: unknown) => e instanceof type && re.test((e as Error).message), String(re));
  await assert.rejects(nms(new Float32Array(3), s, 0.5), RangeError);
  await assert.rejects(batchedNms(b, s, new Int32Array(1), 2), /iouThreshold/);
});

test('subarray views are read at their offset', () => {
  const big = new Float32Array([99, 99, 99, 99, 0, 0, 10, 10, 1, 1, 10, 10]);
  const view = big.subarray(4);
  const sc = new Float32Array([7, 0.2, 0.9]).subarray(1);
  assert.deepEqual(Array.from(nmsSync(view, sc, 0.5)), [1]);
});

test('concurrent async calls on different inputs each resolve to their own sync result', async () => {
  const rng = new Rng(77);
  const inputs = Array.from({ length: 40 }, (_, i) => makeCase(rng, 200 + 37 * i, i % 2 ? 'clustered' : 'mixed', i % 3 === 0));
  const cls = inputs.map(({ scores }) => Int32Array.from(scores, (_, j) => j % 3));
  const want = inputs.map(({ boxes, scores }) => Array.from(nmsSync(boxes, scores, 0.5)));
  const wantB = inputs.map(({ boxes, scores }, i) => Array.from(batchedNmsSync(boxes, scores, cls[i]!, 0.5, { topK: 50 })));
  const got = await Promise.all(inputs.map(({ boxes, scores }) => nms(boxes, scores, 0.5)));
  const gotB = await Promise.all(inputs.map(({ boxes, scores }, i) => batchedNms(boxes, scores, cls[i]!, 0.5, { topK: 50 })));
  got.forEach((g, i) => assert.deepEqual(Array.from(g), want[i], `input ${i}`));
  gotB.forEach((g, i) => assert.deepEqual(Array.from(g), wantB[i], `batched input ${i}`));
  // the async variants copied their inputs: overwriting right after the call changes nothing
  const { boxes, scores } = inputs[5]!;
  const b2 = boxes.slice(), s2 = scores.slice();
  const p = nms(b2, s2, 0.5);
  b2.fill(0);
  s2.fill(0);
  assert.deepEqual(Array.from(await p), want[5]);
});
