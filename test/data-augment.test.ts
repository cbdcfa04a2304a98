/**
 * Augmentation: every box transform checked exactly against the pixels (a box drawn as a bright
 * rectangle, transformed, its bounding box found again in the output), involutions, the random
 * policy's fixed stream consumption and option checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brightnessContrast, hflip, rotate90, scaleJitter, vflip, type BoxedImage } from '../src/data/augment-ops.js';
import { AUGMENT_DRAWS, augmentBatch, augmentSample, validateAugmentOptions } from '../src/data/augment.js';
import { Rng } from '../src/util/rng.js';

/** A W×H image, dark, with each box painted 1.0 in channel 0 (channels 1, 2 hold a ramp to catch plane mix-ups). */
function boxedImage(W: number, H: number, boxes: number[][]): BoxedImage {
  const data = new Float32Array(3 * W * H);
  for (let i = 0; i < W * H; i++) {
    data[W * H + i] = (i % W) / W;
    data[2 * W * H + i] = Math.floor(i / W) / H;
  }
  for (const [x1, y1, x2, y2] of boxes) for (let y = y1!; y < y2!; y++) for (let x = x1!; x < x2!; x++) data[y * W + x] = 1;
  return { image: { data, width: W, height: H }, boxes: Float32Array.from(boxes.flat()) };
}

/** Bounding box (continuous x1,y1,x2,y2) of channel-0 pixels > 0.5 inside `within` (default whole image). */
function foundBox({ image }: BoxedImage, within?: number[]): number[] {
  const { width: W, height: H, data } = image;
  const [wx1, wy1, wx2, wy2] = within ?? [0, 0, W, H];
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (let y = Math.max(0, Math.floor(wy1!)); y < Math.min(H, Math.ceil(wy2!)); y++) {
    for (let x = Math.max(0, Math.floor(wx1!)); x < Math.min(W, Math.ceil(wx2!)); x++) {
      if (data[y * W + x]! > 0.5) {
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
      }
    }
  }
  return [x1, y1, x2, y2];
}

const boxAt = (b: Float32Array, i: number) => [...b.subarray(4 * i, 4 * i + 4)];

/** Each box of `out` is exactly the bounding box of the bright pixels near it. */
function assertBoxesMatchPixels(out: BoxedImage, label: string): void {
  for (let i = 0; i < out.boxes.length / 4; i++) {
    const b = boxAt(out.boxes, i);
    assert.deepEqual(foundBox(out, [b[0]! - 1, b[1]! - 1, b[2]! + 1, b[3]! + 1]), b, `${label}: box ${i}`);
  }
}

const W = 37, H = 23;
const BOXES = [[3, 2, 11, 9], [20, 12, 35, 21]];

test('flips and rotations move each box exactly where its pixels go', () => {
  const input = boxedImage(W, H, BOXES);
  assertBoxesMatchPixels(input, 'input');
  const h = hflip(input);
  assert.deepEqual(boxAt(h.boxes, 0), [W - 11, 2, W - 3, 9]); // torchvision: x1' = W - x2
  assertBoxesMatchPixels(h, 'hflip');
  const v = vflip(input);
  assert.deepEqual(boxAt(v.boxes, 0), [3, H - 9, 11, H - 2]);
  assertBoxesMatchPixels(v, 'vflip');
  for (const k of [1, 2, 3, -1, 5]) {
    const r = rotate90(input, k);
    const odd = ((k % 4) + 4) % 2 === 1;
    assert.deepEqual([r.image.width, r.image.height], odd ? [H, W] : [W, H], `rotate90(${k}) size`);
    assertBoxesMatchPixels(r, `rotate90(${k})`);
  }
  assert.deepEqual(boxAt(rotate90(input, 1).boxes, 0), [H - 9, 3, H - 2, 11]);
});

test('flips are involutions, four quarter turns are the identity, a half turn is both flips', () => {
  const input = boxedImage(W, H, BOXES);
  const same = (a: BoxedImage, b: BoxedImage, what: string) => {
    assert.deepEqual([a.image.width, a.image.height], [b.image.width, b.image.height], what);
    assert.deepEqual(a.image.data, b.image.data, `${what}: pixels`);
    assert.deepEqual(a.boxes, b.boxes, `${what}: boxes`);
  };
  same(hflip(hflip(input)), input, 'hflip∘hflip');
  same(vflip(vflip(input)), input, 'vflip∘vflip');
  same(rotate90(rotate90(input, 1), 3), input, 'rot1 then rot3');
  same(rotate90(rotate90(rotate90(rotate90(input, 1), 1), 1), 1), input, 'four quarter turns');
  same(rotate90(input, 2), hflip(vflip(input)), 'half turn');
  assert.notDeepEqual(hflip(input).image.data, input.image.data, 'hflip changes the image');
  assert.throws(() => rotate90(input, 1.5), /k must be an integer/);
});

test('scale jitter scales boxes with the image (exact for 2x and 0.5x on even coordinates)', () => {
  const input = boxedImage(40, 24, [[4, 2, 12, 10], [20, 12, 36, 22]]);
  for (const factor of [2, 0.5]) {
    const out = scaleJitter(input, factor);
    assert.deepEqual([out.image.width, out.image.height], [40 * factor, 24 * factor]);
    assert.deepEqual(boxAt(out.boxes, 0), [4, 2, 12, 10].map((v) => v * factor));
    assertBoxesMatchPixels(out, `factor ${factor}`);
  }
  // Other factors: the raster edge sits within half a pixel of the scaled box.
  const out = scaleJitter(input, 1.3);
  assert.deepEqual([out.image.width, out.image.height], [52, 31]);
  for (let i = 0; i < 2; i++) {
    const b = boxAt(out.boxes, i);
    foundBox(out, [b[0]! - 2, b[1]! - 2, b[2]! + 2, b[3]! + 2]).forEach((v, k) => assert.ok(Math.abs(v - b[k]!) <= 0.5 + 1e-6, `1.3x box ${i}[${k}]: ${v} vs ${b[k]}`));
  }
});

test('scale jitter on a fixed canvas: crop shifts and clips boxes, drops boxes cropped away; pad shifts', () => {
  const input = boxedImage(40, 24, [[4, 2, 12, 10], [20, 12, 36, 22]]);
  const crop = scaleJitter(input, 2, { offsetX: -30, offsetY: -10 });
  assert.deepEqual([crop.image.width, crop.image.height], [40, 24]);
  assert.deepEqual([...crop.keep], [0, 1]);
  assert.deepEqual(boxAt(crop.boxes, 0), [10, 14, 40, 24]); // (40,24,72,44) shifted by (-30,-10), clipped
  assertBoxesMatchPixels(crop, 'crop');
  const pad = scaleJitter(input, 0.5, { offsetX: 6, offsetY: 4 });
  assert.deepEqual([...pad.keep], [1, 1]);
  assert.deepEqual(boxAt(pad.boxes, 1), [16, 10, 24, 15]);
  assertBoxesMatchPixels(pad, 'pad');
  assert.equal(pad.image.data[0], 0, 'padding is zero');
});

test('brightness/contrast: torchvision ColorJitter arithmetic, clamped to [0, 1], boxes unchanged', () => {
  const input = boxedImage(W, H, BOXES);
  const same = brightnessContrast(input, 1, 1);
  same.image.data.forEach((v, i) => assert.ok(Math.abs(v - input.image.data[i]!) < 1e-6));
  const out = brightnessContrast(input, 1.5, 2);
  assert.deepEqual(out.boxes, input.boxes);
  assert.ok(out.image.data.every((v) => v >= 0 && v <= 1));
  // Reference for one pixel: the grey mean after brightness, then the contrast blend.
  const plane = W * H, b = input.image.data.map((v) => Math.min(1, v * 1.5));
  let mean = 0;
  for (let i = 0; i < plane; i++) mean += 0.299 * b[i]! + 0.587 * b[plane + i]! + 0.114 * b[2 * plane + i]!;
  mean /= plane;
  const i = plane + 5 * W + 7; // a green-ramp pixel
  assert.ok(Math.abs(out.image.data[i]! - Math.min(1, Math.max(0, (b[i]! - mean) * 2 + mean))) < 1e-6);
  assert.ok(out.image.data.some((v) => v === 1) && out.image.data.some((v) => v === 0), 'clamped at both ends');
});

test('augmentSample: labels follow boxes, fixed draws per sample, same seed same result', () => {
  const bi = boxedImage(W, H, BOXES);
  const sample = { id: 'a', image: bi.image, target: { boxes: bi.boxes, labels: Int32Array.from([1, 2]) } };
  const options = { hflip: 0.5, vflip: 0.5, rotate90: 0.5, scaleJitter: { p: 0.5, min: 0.8, max: 1.25 }, color: { p: 0.5, brightness: 0.2, contrast: 0.2 } };
  for (let seed = 0; seed < 12; seed++) {
    const rng = new Rng(seed), ref = new Rng(seed);
    const a = augmentSample(sample, options, rng);
    const b = augmentSample(sample, options, new Rng(seed));
    assert.deepEqual(a, b, `seed ${seed}: deterministic`);
    for (let k = 0; k < AUGMENT_DRAWS; k++) ref.next();
    assert.deepEqual(rng.state, ref.state, `seed ${seed}: exactly ${AUGMENT_DRAWS} draws`);
    assert.equal(a.target.labels.length, a.target.boxes.length / 4);
    assert.deepEqual(bi.boxes, Float32Array.from(BOXES.flat()), 'input untouched');
  }
  // With no options nothing changes, but the stream still advances by the same count.
  const rng = new Rng(3), ref = new Rng(3);
  const none = augmentSample(sample, {}, rng);
  for (let k = 0; k < AUGMENT_DRAWS; k++) ref.next();
  assert.deepEqual(rng.state, ref.state);
  assert.deepEqual(none.target.boxes, sample.target.boxes);
  // Certain flips: labels stay paired with their boxes.
  const flipped = augmentSample(sample, { hflip: 1 }, new Rng(1));
  assert.deepEqual(boxAt(flipped.target.boxes, 1), [W - 35, 12, W - 20, 21]);
  assert.deepEqual([...flipped.target.labels], [1, 2]);
});

/** A sample whose every pixel is distinct, so the quarter turns applied to it can be read back. */
function numberedSample(id: string, width: number, height: number) {
  const data = Float32Array.from({ length: 3 * width * height }, (_, i) => i);
  return { id, image: { data, width, height }, target: { boxes: Float32Array.from([0, 0, 1, 1]), labels: Int32Array.from([1]) } };
}

/** Clockwise quarter turns (0–3) that map `from` to `to`. */
function turnsBetween(from: BoxedImage['image'], to: BoxedImage['image']): number {
  for (let k = 0; k < 4; k++) {
    const r = rotate90({ image: from, boxes: new Float32Array(4) }, k).image;
    if (r.width === to.width && r.height === to.height && r.data.every((v, i) => v === to.data[i])) return k;
  }
  throw new Error('not a rotation of the input');
}

/** A stand-in random stream returning `values` in turn (augmentation only calls next()). */
function scripted(values: number[]): Rng {
  let i = 0;
  return { next: () => values[i++]! } as unknown as Rng;
}

/** One sample's draws: u[2] decides whether to turn, u[3] how many times; the rest turn nothing else on. */
const drawsWith = (u2: number, u3: number) => [0.5, 0.5, u2, u3, ...Array.from({ length: AUGMENT_DRAWS - 4 }, () => 0.5)];

test('augmentBatch: each image keeps its exact rotation probabilities, and a batch of one orientation stays one shape', () => {
  // Every (u2, u3) on a 60×60 grid of cell midpoints: the grid makes every threshold of the policy
  // (p, p/3, 1/2, p/(3 − 2p)) fall on cell edges for these p, so the frequencies are exact.
  const G = 60;
  const grid = Array.from({ length: G }, (_, i) => (i + 0.5) / G);
  for (const p of [0.25, 0.5, 0.75]) {
    const options = { rotate90: p };
    const turnsOf = (first: number[], second?: number[]) => {
      const batch = second ? [numberedSample('a', 3, 2), numberedSample('b', 3, 2)] : [numberedSample('a', 3, 2)];
      const out = augmentBatch(batch, options, scripted([...first, ...(second ?? [])]));
      if (second) assert.equal(out[0]!.image.width, out[1]!.image.width, 'one shape');
      return out.map((o, j) => turnsBetween(batch[j]!.image, o.image));
    };
    const leader = [0, 0, 0, 0], odd = [0, 0, 0, 0], even = [0, 0, 0, 0];
    for (const u2 of grid) {
      for (const u3 of grid) {
        leader[turnsOf(drawsWith(u2, u3))[0]!]! += 1 / (G * G);
        odd[turnsOf(drawsWith(0, 0), drawsWith(u2, u3))[1]!]! += 1 / (G * G); // leader turned once
        even[turnsOf(drawsWith(0.999, 0), drawsWith(u2, u3))[1]!]! += 1 / (G * G); // leader not turned
      }
    }
    const expected = [1 - p, p / 3, p / 3, p / 3];
    const pOdd = leader[1]! + leader[3]!;
    const follower = [0, 1, 2, 3].map((k) => pOdd * odd[k]! + (1 - pOdd) * even[k]!);
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(leader[k]! - expected[k]!) < 1e-9, `p ${p}: leader ${k} turns ${leader[k]} vs ${expected[k]}`);
      assert.ok(Math.abs(follower[k]! - expected[k]!) < 1e-9, `p ${p}: follower ${k} turns ${follower[k]} vs ${expected[k]}`);
    }
    assert.equal(odd[0]! + odd[2]!, 0, 'an odd leader makes every follower odd');
    assert.equal(even[1]! + even[3]!, 0, 'an even leader makes every follower even');
  }
  // The stream: exactly AUGMENT_DRAWS per sample, as augmentSample.
  const rng = new Rng(5), ref = new Rng(5);
  augmentBatch([numberedSample('a', 3, 2), numberedSample('b', 2, 2), numberedSample('c', 2, 3)], { rotate90: 0.5, hflip: 0.5 }, rng);
  for (let k = 0; k < 3 * AUGMENT_DRAWS; k++) ref.next();
  assert.deepEqual(rng.state, ref.state);
});

test('augmentBatch: the first image of each orientation and square images draw as augmentSample does', () => {
  const options = { hflip: 0.5, vflip: 0.5, rotate90: 0.7, color: { p: 0.5, brightness: 0.2 } };
  for (let seed = 0; seed < 20; seed++) {
    // A landscape and a portrait image lead their orientation; square images are never grouped.
    const batch = [numberedSample('l', 4, 2), numberedSample('s', 3, 3), numberedSample('p', 2, 4), numberedSample('s2', 2, 2)];
    const grouped = augmentBatch(batch, options, new Rng(seed));
    const rng = new Rng(seed);
    assert.deepEqual(grouped, batch.map((s) => augmentSample(s, options, rng)), `seed ${seed}`);
  }
  // Certain rotation: a follower of an odd leader is turned 1 or 3 times, of an even one 2 times (p = 1 leaves no 0).
  for (let seed = 0; seed < 20; seed++) {
    const batch = [numberedSample('a', 3, 2), numberedSample('b', 3, 2)];
    const [a, b] = augmentBatch(batch, { rotate90: 1 }, new Rng(seed));
    const ka = turnsBetween(batch[0]!.image, a!.image), kb = turnsBetween(batch[1]!.image, b!.image);
    assert.ok(ka > 0 && kb > 0 && ka % 2 === kb % 2, `seed ${seed}: ${ka} and ${kb} turns`);
  }
});

test('augment options are checked, naming the field', () => {
  assert.throws(() => validateAugmentOptions({ hflip: 1.5 }), /augment\.hflip/);
  assert.throws(() => validateAugmentOptions({ scaleJitter: { p: 1, min: 2, max: 1 } }), /augment\.scaleJitter/);
  assert.throws(() => validateAugmentOptions({ color: { p: 1, brightness: -1 } }), /augment\.color\.brightness/);
});
