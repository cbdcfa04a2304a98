/** Box ops against torchvision 0.14 fixtures (scripts/make_kernel_fixtures_nms_boxes.py). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import {
  BBOX_XFORM_CLIP, BoxCoder, boxArea, boxIou, boxIouSync, clipBoxesToImage, removeSmallBoxes,
} from '../src/detection/boxes.js';

const fx = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'boxes_torchvision.json'), 'utf8'));
const F = (a: (number | null)[]) => Float32Array.from(a, (v) => (v === null ? NaN : v));

/** |a-b| <= tol * max(1, |b|) elementwise (NaN must match NaN). */
function close(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!, b = want[i]!;
    if (Number.isNaN(b)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: want NaN, got ${a}`);
      continue;
    }
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}[${i}]: got ${a}, want ${b}`);
  }
}

test('boxIouSync equals torchvision.ops.box_iou bit for bit (degenerate, inverted, empty pairs -> NaN)', async () => {
  const b1 = F(fx.box_iou.boxes1), b2 = F(fx.box_iou.boxes2), want = F(fx.box_iou.iou);
  const got = boxIouSync(b1, b2);
  close(got, want, 0, 'iou');
  assert.ok(want.some((v) => Number.isNaN(v)), 'fixture has a 0/0 pair');
  close(await boxIou(b1, b2), want, 0, 'iou async');
  assert.equal(boxIouSync(new Float32Array(0), b2).length, 0);
  assert.equal(boxIouSync(b1, new Float32Array(0)).length, 0);
});

test('BoxCoder encode/decode equal torchvision BoxCoder within 1e-5 (dw/dh clamp, K deltas per box)', async () => {
  assert.equal(Math.fround(BBOX_XFORM_CLIP), Math.fround(Math.log(1000 / 16)));
  for (const c of fx.box_coder) {
    const coder = new BoxCoder(c.weights);
    assert.equal(coder.bboxXformClip, c.bbox_xform_clip);
    const ref = F(c.reference), props = F(c.proposals);
    close(coder.encodeSync(ref, props), F(c.encoded), 1e-5, `encode ${c.weights}`);
    close(await coder.encode(ref, props), F(c.encoded), 1e-5, `encode async ${c.weights}`);
    close(coder.decodeSync(F(c.rel_codes), props), F(c.decoded), 1e-5, `decode K=${c.k} ${c.weights}`);
    close(await coder.decode(F(c.rel_codes), props), F(c.decoded), 1e-5, `decode async ${c.weights}`);
    close(coder.decodeSync(F(c.encoded), props), F(c.decoded_roundtrip), 1e-5, `decode(encode) ${c.weights}`);
    close(coder.decodeSync(F(c.encoded), props), ref, 1e-4, `roundtrip to the reference ${c.weights}`);
  }
  // the clamp bites: a huge dw gives exactly exp(clip) * width
  const coder = new BoxCoder([1, 1, 1, 1]);
  const out = coder.decodeSync(new Float32Array([0, 0, 50, 50]), new Float32Array([0, 0, 16, 16]));
  close(out, new Float32Array([8 - 500, 8 - 500, 8 + 500, 8 + 500]), 1e-5, 'clamped');
});

test('clipBoxesToImage and removeSmallBoxes equal torchvision', () => {
  close(clipBoxesToImage(F(fx.clip.boxes), fx.clip.size), F(fx.clip.clipped), 0, 'clip');
  for (const c of fx.remove_small) {
    assert.deepEqual(Array.from(removeSmallBoxes(F(c.boxes), c.min_size)), c.keep, `min_size ${c.min_size}`);
  }
  assert.deepEqual(Array.from(boxArea(new Float32Array([0, 0, 2, 3, 1, 1, 0, 0]))), [6, 1]);
});

test('validation: TypeError/RangeError naming the argument; async variants reject', async () => {
  const b = new Float32Array([0, 0, 1, 1]);
  const coder = new BoxCoder([1, 1, 1, 1]);
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => boxIouSync([0, 0, 1, 1] as unknown as Float32Array, b), TypeError, /boxes1 must be a Float32Array/],
    [() => boxIouSync(b, new Float32Array(3)), RangeError, /boxes2 length must be a multiple of 4/],
    [() => boxIouSync(b, new Float32Array([0, 0, 1, -Infinity])), RangeError, /boxes2 must be finite/],
    [() => coder.encodeSync(b, new Float32Array(8)), RangeError, /proposals must have as many boxes/],
    [() => coder.encodeSync(new Float32Array([NaN, 0, 1, 1]), b), RangeError, /referenceBoxes must be finite/],
    [() => coder.decodeSync(new Float32Array(12), new Float32Array(8)), RangeError, /relCodes must hold 4\*K/],
    [() => coder.decodeSync(new Float32Array(4), new Float64Array(4) as unknown as Float32Array), TypeError, /boxes must be a Float32Array/],
    [() => new BoxCoder([1, 1, 1] as unknown as [number, number, number, number]), TypeError, /weights/],
    [() => new BoxCoder([1, 1, 0, 1]), RangeError, /weights\[2\] must be finite and > 0/],
    [() => new BoxCoder([1, 1, 1, 1], NaN), RangeError, /bboxXformClip/],
    [() => clipBoxesToImage(b, [-1, 5]), RangeError, /size/],
    [() => clipBoxesToImage(new Float32Array([NaN, 0, 0, 0]), [5, 5]), RangeError, /boxes must be finite/],
    [() => removeSmallBoxes(b, Infinity), RangeError, /minSize/],
    [() => removeSmallBoxes(new Float32Array(2), 1), RangeError, /boxes length/],
  ];
  for (const [fn, type, re] of cases) assert.throws(fn, (e: unknown) => e instanceof type && re.test((e as Error).message), String(re));
  await assert.rejects(boxIou(b, new Float32Array(2)), RangeError);
  await assert.rejects(coder.decode(new Float32Array(4), new Float32Array(2)), /boxes length/);
});

test('large results (external ArrayBuffer path) equal a float32 reference, sync and async', async () => {
  const f = Math.fround;
  const n = 300, m = 100;
  const a = new Float32Array(4 * n), b = new Float32Array(4 * m);
  let seed = 12345;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const arr of [a, b]) {
    for (let i = 0; i < arr.length; i += 4) {
      const x = rnd() * 100, y = rnd() * 100;
      arr.set([x, y, x + 1 + rnd() * 40, y + 1 + rnd() * 40], i);
    }
  }
  const area = (v: Float32Array, i: number) => f(f(v[4 * i + 2]! - v[4 * i]!) * f(v[4 * i + 3]! - v[4 * i + 1]!));
  const want = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const w = Math.max(f(Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!)), 0);
      const h = Math.max(f(Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!)), 0);
      const inter = f(w * h);
      want[i * m + j] = f(inter / f(f(area(a, i) + area(b, j)) - inter));
    }
  }
  const results = [boxIouSync(a, b), ...(await Promise.all([boxIou(a, b), boxIou(a, b)]))];
  for (const got of results) {
    assert.ok(got instanceof Float32Array && got.byteLength >= 1 << 16);
    close(got, want, 0, 'large iou');
  }
  const coder = new BoxCoder([10, 10, 5, 5]);
  const big = new Float32Array(4 * 5000).map((_, i) => (i % 4 < 2 ? (i % 7) * 3 : 40 + (i % 11)));
  const dec = await coder.decode(new Float32Array(big.length), big);
  close(dec, big, 1e-5, 'zero deltas decode to the boxes');
});
