/**
 * DetectionLoader: batches of several images with their targets, the same batches for the same
 * seeds with or without prefetch (and whatever the decode timing), resume from saved Rng states
 * reproducing the rest of the run across an epoch boundary, and the model-input transform.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader, type DetectionBatch } from '../src/data/loader.js';
import { toModelInput } from '../src/data/model-input.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { Rng } from '../src/util/rng.js';
import { tinyAnnotations, writeTinySet } from './fixtures/data/tiny-set.js';

const AUGMENT = { hflip: 0.5, vflip: 0.5, rotate90: 0.3, scaleJitter: { p: 0.5, min: 0.75, max: 1.5 }, color: { p: 0.8, brightness: 0.3, contrast: 0.3 } };
const rngs = () => ({ shuffle: new Rng(11), augment: new Rng(22) });

async function tinyDataset(): Promise<DetectionDataset> {
  const set = await writeTinySet(tinyAnnotations(7));
  return DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
}

/** Run `steps` steps from `from`, returning the batches. */
async function run(loader: DetectionLoader, r: ReturnType<typeof rngs>, from: number, steps: number): Promise<DetectionBatch[]> {
  const out: DetectionBatch[] = [];
  for await (const b of loader.batches(from, steps, r)) out.push(b);
  return out;
}

test('batches: several images with their targets, every example once per epoch, last partial batch dropped', async () => {
  const d = await tinyDataset();
  const loader = new DetectionLoader(d, { batchSize: 3 });
  assert.equal(loader.stepsPerEpoch, 2);
  const batches = await run(loader, rngs(), 0, 4);
  for (const b of batches) {
    assert.equal(b.images.length, 3);
    assert.equal(b.targets.length, 3);
    b.targets.forEach((t, i) => {
      assert.ok(t.boxes instanceof Float32Array && t.labels instanceof Int32Array);
      assert.equal(t.boxes.length, 4 * t.labels.length);
      assert.deepEqual(t, d.records[b.indices[i]!]!.target, 'no augmentation: targets as annotated');
    });
  }
  for (const epoch of [batches.slice(0, 2), batches.slice(2, 4)]) {
    const seen = epoch.flatMap((b) => b.indices);
    assert.equal(new Set(seen).size, 6, 'no example twice in an epoch');
  }
  assert.notDeepEqual(batches[0]!.indices, batches[2]!.indices, 'each epoch reshuffled');
});

test('same seeds give identical batches with or without prefetch, whatever the decode timing', async () => {
  const d = await tinyDataset();
  const plain = await run(new DetectionLoader(d, { batchSize: 2, augment: AUGMENT, prefetch: false }), rngs(), 0, 7);
  // A dataset whose decodes finish in a random order and with random delays.
  const jitter = new Rng(5);
  const slow = Object.create(d) as DetectionDataset;
  slow.get = async (i: number) => {
    await new Promise((r) => setTimeout(r, jitter.int(0, 8)));
    return d.get(i);
  };
  const prefetched = await run(new DetectionLoader(slow, { batchSize: 2, augment: AUGMENT, prefetch: true, concurrency: 3 }), rngs(), 0, 7);
  assert.deepEqual(prefetched, plain);
  const other = await run(new DetectionLoader(d, { batchSize: 2, augment: AUGMENT }), { shuffle: new Rng(11), augment: new Rng(23) }, 0, 7);
  assert.notDeepEqual(other, plain, 'another augment seed gives other batches');
  assert.ok(plain.some((b) => b.images.some((im, i) => im.width !== d.records[b.indices[i]!]!.width || im.height !== d.records[b.indices[i]!]!.height)), 'some rotation or jitter changed a size');
});

test('decoded images are cached within the budget: the same batches, each cached image decoded once, none changed by augmentation', async () => {
  const d = await tinyDataset();
  const counting = (calls: number[]) => {
    const c = Object.create(d) as DetectionDataset;
    c.get = async (i: number) => {
      calls.push(i);
      return d.get(i);
    };
    return c;
  };
  const uncachedCalls: number[] = [];
  const uncached = await run(new DetectionLoader(counting(uncachedCalls), { batchSize: 2, augment: AUGMENT, cacheBytes: 0 }), rngs(), 0, 9);
  const cachedCalls: number[] = [];
  const cached = await run(new DetectionLoader(counting(cachedCalls), { batchSize: 2, augment: AUGMENT }), rngs(), 0, 9);
  assert.deepEqual(cached, uncached);
  assert.ok(uncachedCalls.length > d.size, 'without a cache every epoch decodes again');
  assert.deepEqual([...cachedCalls].sort(), [...new Set(cachedCalls)].sort(), 'with the default budget no example is decoded twice');
  // A budget for two images: only two are kept (which two depends on which decodes finish first),
  // so at most two examples are decoded less often than without a cache (once; a kept one that
  // appears only once is not), and the others exactly as often.
  const oneImage = (await d.get(0)).image.data.byteLength;
  const budgetCalls: number[] = [];
  const budget = await run(new DetectionLoader(counting(budgetCalls), { batchSize: 2, augment: AUGMENT, cacheBytes: 2 * oneImage }), rngs(), 0, 9);
  assert.deepEqual(budget, uncached);
  assert.equal(new Set(budgetCalls).size, d.size);
  const count = (calls: number[], i: number) => calls.filter((c) => c === i).length;
  const saved = [...new Set(uncachedCalls)].filter((i) => count(budgetCalls, i) < count(uncachedCalls, i));
  assert.ok(saved.length >= 1 && saved.length <= 2, `examples decoded less often with a two-image budget: ${saved}`);
  for (const i of saved) assert.equal(count(budgetCalls, i), 1, `example ${i} is kept, so decoded once`);
  for (const i of new Set(uncachedCalls)) if (!saved.includes(i)) assert.equal(count(budgetCalls, i), count(uncachedCalls, i));
  assert.throws(() => new DetectionLoader(d, { batchSize: 2, cacheBytes: -1 }), /cacheBytes/);
});

test('resume from saved Rng states (mid-epoch and at an epoch start) reproduces the rest of the run', async () => {
  const d = await tinyDataset();
  const full = await run(new DetectionLoader(d, { batchSize: 2, augment: AUGMENT }), rngs(), 0, 8); // 3 steps per epoch
  for (const stop of [2, 3, 4]) {
    const r = rngs();
    const first = new DetectionLoader(d, { batchSize: 2, augment: AUGMENT });
    const head = await run(first, r, 0, stop);
    // What a checkpoint after `stop` steps holds (the shuffle state of the epoch start when mid-epoch).
    const saved = { shuffle: first.checkpointState(stop, r.shuffle), augment: r.augment.state };
    const resumed = new DetectionLoader(d, { batchSize: 2, augment: AUGMENT });
    resumed.reset();
    const tail = await run(resumed, { shuffle: new Rng(saved.shuffle), augment: new Rng(saved.augment) }, stop, 8 - stop);
    assert.deepEqual([...head, ...tail], full, `resumed after step ${stop}`);
  }
});

test('a failed decode rejects the batch that needs it, naming the image', async () => {
  const d = await tinyDataset();
  const broken = Object.create(d) as DetectionDataset;
  broken.get = async (i: number) => {
    if (i === 4) throw new Error(`cannot decode image ${d.records[4]!.file}`);
    return d.get(i);
  };
  const loader = new DetectionLoader(broken, { batchSize: 7, shuffle: false });
  await assert.rejects(loader.next(0, rngs()), /img_04/);
  assert.throws(() => new DetectionLoader(d, { batchSize: 2, concurrency: 0 }), /concurrency/);
  assert.throws(() => new DetectionLoader(d, { batchSize: 2, augment: { hflip: 2 } }), /augment\.hflip/);
});

test('quarter turns come grouped by batch: a batch of landscape images is all landscape or all portrait', async () => {
  const d = await tinyDataset(); // 40–48 wide, 32–34 high: all landscape
  const batches = await run(new DetectionLoader(d, { batchSize: 3, augment: { rotate90: 0.5 } }), rngs(), 0, 24);
  const orientations = batches.map((b) => new Set(b.images.map((im) => (im.width > im.height ? 'landscape' : 'portrait'))));
  assert.ok(orientations.every((o) => o.size === 1), 'one orientation per batch');
  assert.ok(orientations.some((o) => o.has('portrait')) && orientations.some((o) => o.has('landscape')), 'both orientations occur');
});

test('images of both orientations: batches of one orientation where the epoch allows (groupByOrientation)', async () => {
  // Every third image transposed to portrait (boxes transposed with it).
  const annotations = tinyAnnotations(12).map((a, i) => (i % 3 !== 0 ? a : {
    ...a, width: a.height, height: a.width, objects: a.objects.map((o) => ({ ...o, x1: o.y1, y1: o.x1, x2: o.y2, y2: o.x2 })),
  }));
  const set = await writeTinySet(annotations);
  const d = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
  const orientation = (b: DetectionBatch) => new Set(b.images.map((im) => (im.width > im.height ? 'landscape' : 'portrait')));
  // 8 landscape and 4 portrait at batch 2: all 6 batches of an epoch can be of one orientation.
  const grouped = await run(new DetectionLoader(d, { batchSize: 2 }), rngs(), 0, 12);
  assert.ok(grouped.every((b) => orientation(b).size === 1), 'one orientation per batch');
  for (const epoch of [grouped.slice(0, 6), grouped.slice(6)]) assert.equal(new Set(epoch.flatMap((b) => b.indices)).size, 12, 'every image once per epoch');
  const plain = await run(new DetectionLoader(d, { batchSize: 2, groupByOrientation: false }), rngs(), 0, 12);
  assert.ok(plain.some((b) => orientation(b).size === 2), 'without grouping some batch mixes them (the check can fail)');
});

test('toModelInput: GeneralizedRCNNTransform batch, boxes scaled to the resized images', async () => {
  const d = await tinyDataset();
  const batch = await new DetectionLoader(d, { batchSize: 2, shuffle: false }).next(0, rngs());
  const cfg = { ...fasterRcnnConfig('resnet18-fpn').transform, minSize: 64, maxSize: 128 };
  const input = toModelInput(batch, cfg);
  assert.equal(input.shape[0], 2);
  assert.equal(input.shape[2] % 32, 0);
  input.targets.forEach((t, i) => {
    const [h, w] = input.imageSizes[i]!, [oh, ow] = input.originalSizes[i]!;
    const b0 = batch.targets[i]!.boxes;
    assert.ok(Math.abs(t.boxes[2]! - b0[2]! * (w / ow)) < 1e-4 && Math.abs(t.boxes[3]! - b0[3]! * (h / oh)) < 1e-4);
    assert.deepEqual(t.labels, batch.targets[i]!.labels);
  });
  assert.notEqual(input.targets[0]!.boxes, batch.targets[0]!.boxes, 'the batch itself is not changed');
});
