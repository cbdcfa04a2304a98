/**
 * EpochOrder's grouped batches (torchvision's GroupedBatchSampler): one group per batch where the
 * order allows, every example once, the same order as before with a single group, and resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpochOrder, groupedOrder } from '../src/train/trainer-data.js';
import { Rng } from '../src/util/rng.js';

const batchesOf = (order: EpochOrder, steps: number, rng: Rng) => Array.from({ length: steps }, (_, s) => order.indices(s, rng));

test('one group (or none) gives the plain shuffled order', () => {
  const plain = batchesOf(new EpochOrder(23, 3, true), 14, new Rng(4));
  assert.deepEqual(batchesOf(new EpochOrder(23, 3, true, Array(23).fill(1)), 14, new Rng(4)), plain);
  assert.deepEqual(groupedOrder([4, 2, 0, 1, 3], [7, 7, 7, 7, 7], 2), [4, 2, 0, 1, 3]);
});

test('batches hold one group where the order allows; the leftovers close the epoch; every example once', () => {
  const rng = new Rng(9);
  const groups = Array.from({ length: 41 }, () => (rng.next() < 0.3 ? 1 : rng.next() < 0.5 ? 0 : 2));
  const bs = 4;
  const order = new EpochOrder(41, bs, true, groups);
  const stream = new Rng(17);
  for (let epoch = 0; epoch < 3; epoch++) {
    const batches = Array.from({ length: order.stepsPerEpoch }, (_, s) => order.indices(epoch * order.stepsPerEpoch + s, stream));
    // Of the examples this epoch trains (the one past the last full batch was set aside first).
    const counts = [0, 1, 2].map((g) => batches.flat().filter((i) => groups[i] === g).length);
    const homogeneous = counts.reduce((n, c) => n + Math.floor(c / bs), 0);
    batches.forEach((b, k) => {
      if (k < homogeneous) assert.equal(new Set(b.map((i) => groups[i])).size, 1, `epoch ${epoch} batch ${k} one group`);
    });
    const seen = batches.flat();
    assert.equal(new Set(seen).size, seen.length, 'no example twice');
    assert.equal(seen.length, order.stepsPerEpoch * bs);
  }
  // A hand-made case: groups a a b a b b, batch 2 → (a a) (b b) then the leftovers a, b.
  assert.deepEqual(groupedOrder([0, 1, 2, 3, 4, 5], [0, 0, 1, 0, 1, 1], 2), [0, 1, 2, 4, 3, 5]);
  assert.throws(() => new EpochOrder(5, 2, true, [0, 1]), /groups has 2 entries for 5 examples/);
});

test('a small group is left out of an epoch no more often than without groups', () => {
  // 4 landscape + 1 portrait at batch 2: 2 steps per epoch, one example left out each time. Grouping
  // the leftovers last would leave the portrait out of every epoch.
  const groups = [0, 0, 0, 0, 1];
  const counts = (grouped: boolean) => {
    const order = new EpochOrder(5, 2, true, grouped ? groups : undefined);
    const rng = new Rng(8), trained = [0, 0, 0, 0, 0];
    for (let step = 0; step < 2 * 500; step++) for (const i of order.indices(step, rng)) trained[i]!++;
    return trained;
  };
  const [plain, grouped] = [counts(false), counts(true)];
  assert.deepEqual(grouped, plain, 'the same examples each epoch, only their batches differ');
  assert.ok(grouped[4]! > 350, `the portrait image trained in ${grouped[4]} of 500 epochs`);
});

test('grouped: a resume from the checkpoint state redraws the same epoch', () => {
  const groups = Array.from({ length: 19 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const straight = new EpochOrder(19, 2, true, groups);
  const rng = new Rng(3);
  const all = batchesOf(straight, 12, rng); // 9 steps per epoch: into the second epoch
  const first = new EpochOrder(19, 2, true, groups);
  const r1 = new Rng(3);
  batchesOf(first, 5, r1);
  const resumed = new EpochOrder(19, 2, true, groups);
  const r2 = new Rng(first.checkpointState(5, r1));
  assert.deepEqual(Array.from({ length: 7 }, (_, k) => resumed.indices(5 + k, r2)), all.slice(5));
});
