/**
 * DetectorTrainer / detectorPass on the `light` preset at tiny sizes: the chained gradient
 * against finite differences of the total loss (sample held fixed), overfitting a few images,
 * and bit-for-bit resume through a checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader } from '../src/data/loader.js';
import { toModelInput } from '../src/data/model-input.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { DetectorTrainer } from '../src/train/detector-trainer.js';
import { detectorPass } from '../src/train/detector-step.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { readLossLog } from '../src/train/loss-log.js';
import type { OptimizerConfig } from '../src/train/checkpoint.js';
import { Rng } from '../src/util/rng.js';
import { writeSquareSet } from './fixtures/train/squares-set.js';
import { tinyAnnotations, writeTinySet, type TinySet } from './fixtures/data/tiny-set.js';
import { scratchDir } from './helpers.js';

const tmp = scratchDir('hpa-dtrainer-');

interface Make {
  set: TinySet;
  size: number;
  batch: number;
  optimizer?: OptimizerConfig;
  seed?: number;
  lossLog?: string;
  augment?: boolean;
  lowMemory?: boolean;
  groupByOrientation?: boolean;
}

async function makeTrainer(o: Make): Promise<DetectorTrainer> {
  const dataset = await DetectionDataset.load({ annotations: o.set.vocDir, format: 'voc', imageDir: o.set.imageDir });
  const loader = new DetectionLoader(dataset, { batchSize: o.batch, ...(o.augment ? { augment: { hflip: 0.5, vflip: 0.5 } } : {}), ...(o.groupByOrientation === false ? { groupByOrientation: false } : {}) });
  const config = fasterRcnnConfig('light', { arch: { numClasses: dataset.classes.size + 1 }, transform: { minSize: o.size, maxSize: o.size } });
  return DetectorTrainer.create({
    config, weights: new RandomWeights(o.seed ?? 0), loader, classes: dataset.classes.names,
    optimizer: o.optimizer ?? { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
    ...(o.lossLog ? { lossLog: o.lossLog } : {}),
    ...(o.lowMemory ? { lowMemory: true } : {}),
  });
}

test('the chained gradient of the total loss matches central differences (segment 1, RoIAlign backward, segment 2)', async () => {
  const set = await writeSquareSet(2, 64, 1);
  const trainer = await makeTrainer({ set, size: 64, batch: 2 });
  try {
    const model = trainer.segmented;
    const batch = await (trainer as unknown as { options: { loader: DetectionLoader } }).options.loader.batch([0, 1], new Rng(1));
    const input = toModelInput(batch, model.config.transform);
    const base = await detectorPass(model, input, { rng: new Rng(7) }, { backward: true });
    const { sample, grads } = base;
    assert.ok(sample.roi.every((r) => r.labels.some((l) => l > 0)), 'positive RoIs in the sample');
    const buffers = new Map([...model.seg1Params, ...model.seg2Params]);
    const checked = [
      'backbone.body.conv1.weight',             // deepest: every path goes through it
      'backbone.fpn.layer_blocks.0.0.weight',    // P2: the RPN and (most RoIs) RoIAlign read it
      'rpn.head.conv.0.0.weight',
      'rpn.head.bbox_pred.weight',
      'roi_heads.box_head.fc6.weight',
      'roi_heads.box_predictor.bbox_pred.weight',
    ];
    const lossAt = async () => (await detectorPass(model, input, { sample }, { backward: false })).losses;
    let roiPathSeen = 0;
    for (const name of checked) {
      const b = buffers.get(name);
      assert.ok(b, `trainable parameter ${name}`);
      const g = grads!.get(name)!;
      // The entry with the largest gradient (central differences in float32 resolve it best).
      let idx = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[idx]!)) idx = i;
      const x = b.data[idx]!;
      const h = 1e-4; // measured: 1e-3 is too coarse for conv1 (ReLU/max-pool kinks), 3e-5 nears float32 noise
      b.data[idx] = x + h;
      const xp = b.data[idx]!;
      const lp = await lossAt();
      b.data[idx] = x - h;
      const xm = b.data[idx]!;
      const lm = await lossAt();
      b.data[idx] = x;
      const fd = (lp.loss - lm.loss) / (xp - xm);
      const fdRoi = (lp.cls + lp.reg - lm.cls - lm.reg) / (xp - xm);
      if (!name.startsWith('roi_heads.') && !name.startsWith('rpn.') && Math.abs(fdRoi) > 0.1 * Math.abs(fd)) roiPathSeen++;
      const err = Math.abs(fd - g[idx]!);
      console.log(`${name}[${idx}] grad ${g[idx]!.toExponential(4)} fd ${fd.toExponential(4)} (roi part ${fdRoi.toExponential(2)}) rel ${(err / Math.abs(g[idx]!)).toExponential(2)}`);
      assert.ok(err <= 3e-2 * Math.abs(g[idx]!) + 2e-5, `${name}[${idx}]: gradient ${g[idx]} vs central difference ${fd}`);
    }
    // The backbone gradients checked above get a material share from the RoI losses, so they
    // would fail without RoIAlign backward chained into segment 1.
    assert.ok(roiPathSeen >= 2, `RoI losses move the backbone/FPN entries (${roiPathSeen})`);
  } finally {
    await trainer.release();
  }
});

test('training overfits a few images: the total loss drops by more than half in 24 steps', async () => {
  const set = await writeSquareSet(2, 64, 2);
  const trainer = await makeTrainer({ set, size: 64, batch: 1, optimizer: { kind: 'adamw', lr: 2e-3, weightDecay: 0 } });
  try {
    const totals: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 24; i++) totals.push((await trainer.trainStep()).losses.total);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const first = mean(totals.slice(0, 2)), last = mean(totals.slice(-4));
    console.log(`total loss: first 2 steps ${first.toFixed(3)}, last 4 ${last.toFixed(3)}; ${((performance.now() - t0) / 24).toFixed(0)} ms/step`);
    assert.ok(totals.every(Number.isFinite));
    assert.ok(last < 0.5 * first, `loss ${first} -> ${last}`);
  } finally {
    await trainer.release();
  }
});

test('lowMemory (backward models without an arena) gives the same losses and parameters, bit for bit', async () => {
  const set = await writeSquareSet(2, 64, 2);
  const trainers = [await makeTrainer({ set, size: 64, batch: 2 }), await makeTrainer({ set, size: 64, batch: 2, lowMemory: true })];
  try {
    assert.deepEqual(trainers.map((t) => t.lowMemory), [false, true]);
    for (let i = 0; i < 3; i++) {
      const [a, b] = [await trainers[0]!.trainStep(), await trainers[1]!.trainStep()];
      assert.deepEqual(b.losses, a.losses, `step ${i}`);
    }
    const [pa, pb] = trainers.map((t) => t.parameters());
    assert.equal(pb.size, pa.size);
    for (const [name, t] of pa) assert.deepEqual(pb.get(name)!.data, t.data, name);
  } finally {
    await Promise.all(trainers.map((t) => t.release()));
  }
});

test('segment 1 models: one padded size at a time has the memory arena, none in lowMemory mode', async () => {
  const set = await writeSquareSet(2, 64, 2);
  const trainers = [await makeTrainer({ set, size: 64, batch: 1 }), await makeTrainer({ set, size: 64, batch: 1, lowMemory: true })];
  try {
    const arenas = async (t: DetectorTrainer, sizes: number[][]) => {
      const out: boolean[] = [];
      for (const [h, w] of sizes) {
        const s = await t.segmented.segment1(1, h!, w!);
        // Observable beside the flag: only sessions with the arena keep an output scratch.
        assert.equal(s.split?.forwardScratch !== undefined, s.arena);
        out.push(s.arena!);
      }
      return out;
    };
    // 64×96 first: it keeps the arena while cached (the cache holds the 3 most recently used
    // sizes); 128×64 evicts it and takes the arena over, then 64×128 evicts 64×64 and gets none.
    const sizes = [[64, 96], [96, 64], [64, 96], [64, 64], [96, 96], [128, 64], [64, 128]];
    assert.deepEqual(await arenas(trainers[0]!, sizes), [true, false, true, false, false, true, false]);
    assert.deepEqual(await arenas(trainers[1]!, sizes), sizes.map(() => false));
  } finally {
    await Promise.all(trainers.map((t) => t.release()));
  }
});

test('forward-only losses (validation) use the eval model alone: no training models are built for them; a step reports the builds it made', async () => {
  const set = await writeSquareSet(2, 64, 2);
  const trainer = await makeTrainer({ set, size: 64, batch: 2 });
  try {
    const model = trainer.segmented;
    const segment1 = model.segment1.bind(model);
    let calls = 0;
    model.segment1 = async (...dims) => {
      calls++;
      return segment1(...dims);
    };
    const dataset = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
    const l = await trainer.datasetLoss(dataset, { batchSize: 1 });
    assert.ok(Number.isFinite(l.total));
    assert.equal(calls, 0);
    // The first step builds its size's models and says so; the next reuses them.
    const [first, second] = [await trainer.trainStep(), await trainer.trainStep()];
    assert.equal(calls, 2);
    assert.equal(first.modelsBuilt?.length, 1);
    const built = first.modelsBuilt![0]!;
    assert.deepEqual([built.batch, built.height, built.width, built.arena], [2, 64, 64, true]);
    assert.ok(built.seconds > 0 && built.seconds * 1000 <= first.timings.segment1, 'the build is part of the step');
    assert.equal(second.modelsBuilt, undefined);
  } finally {
    await trainer.release();
  }
});

test('a checkpoint records a grouped epoch order; a resume with a different order is refused', async () => {
  // Landscape and portrait images: the loader groups them unless told not to.
  const set = await writeTinySet(tinyAnnotations(6).map((a, i) => (i % 2 === 0 ? a : {
    ...a, width: a.height, height: a.width, objects: a.objects.map((o) => ({ ...o, x1: o.y1, y1: o.x1, x2: o.y2, y2: o.x2 })),
  })));
  const ckpt = path.join(tmp, 'ungrouped.safetensors');
  const plain = await makeTrainer({ set, size: 64, batch: 2, groupByOrientation: false });
  await plain.save(ckpt);
  await plain.release();
  const grouped = await makeTrainer({ set, size: 64, batch: 2 });
  const again = await makeTrainer({ set, size: 64, batch: 2, groupByOrientation: false });
  try {
    await assert.rejects(grouped.load(ckpt), /data\.groupedOrder is false in the checkpoint, true in this trainer/);
    await again.load(ckpt);
  } finally {
    await Promise.all([grouped.release(), again.release()]);
  }
});

test('resume: N steps straight equal N/2 + save (mid-epoch) + load into a fresh trainer + N/2, bit for bit; mismatches are refused', async () => {
  const set = await writeSquareSet(3, 64, 3);
  // Batch 1 of 3 images: the checkpoint after 2 steps falls mid-epoch (the order is redrawn from
  // the epoch-start stream); augmentation, clipping and warm-up exercise the streams and the step.
  const optimizer: OptimizerConfig = {
    kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4, clipGradNorm: { maxNorm: 5 },
    schedule: { kind: 'linear', startFactor: 0.1, totalIters: 3 },
  };
  const straightLog = path.join(tmp, 'straight.csv'), resumedLog = path.join(tmp, 'resumed.csv');
  const a = await makeTrainer({ set, size: 64, batch: 1, optimizer, augment: true, lossLog: straightLog });
  for (let i = 0; i < 4; i++) await a.trainStep();
  const straight = new Map([...a.parameters()].map(([n, t]) => [n, Float32Array.from(t.data as Float32Array)]));
  await a.save(path.join(tmp, 'straight.safetensors'));
  await a.release();

  const b = await makeTrainer({ set, size: 64, batch: 1, optimizer, augment: true, lossLog: resumedLog });
  for (let i = 0; i < 2; i++) await b.trainStep();
  const ckpt = path.join(tmp, 'half.safetensors');
  await b.save(ckpt, { note: 'half' });
  await b.trainStep(); // a step that the resume redoes (and whose log line it drops)
  await b.release();

  const c = await makeTrainer({ set, size: 64, batch: 1, optimizer, augment: true, lossLog: resumedLog });
  try {
    // Checkpoints that differ from this trainer in the model config or the data layout.
    const saved = await loadCheckpoint(ckpt);
    const doc = saved.model as { config: { transform: { minSize: number } } };
    const otherModel = path.join(tmp, 'other-model.safetensors'), otherData = path.join(tmp, 'other-data.safetensors');
    await saveCheckpoint(otherModel, { ...saved, model: { ...doc, config: { ...doc.config, transform: { ...doc.config.transform, minSize: 96 } } } });
    await saveCheckpoint(otherData, { ...saved, extra: { ...saved.extra, data: { ...(saved.extra!['data'] as object), batchSize: 2 } } });
    await assert.rejects(c.load(otherModel), /model\.config\.transform differs/);
    await assert.rejects(c.load(otherData), /data\.batchSize is 2 in the checkpoint, 1 in this trainer/);

    const extra = await c.load(ckpt);
    assert.deepEqual(extra, { note: 'half' });
    assert.equal(c.step, 2);
    for (let i = 0; i < 2; i++) await c.trainStep();
    for (const [name, t] of c.parameters()) {
      assert.ok(Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from(straight.get(name)!.buffer)), `parameter ${name} differs after resume`);
    }
    await c.save(path.join(tmp, 'resumed.safetensors'));
    const [s, r] = await Promise.all([loadCheckpoint(path.join(tmp, 'straight.safetensors')), loadCheckpoint(path.join(tmp, 'resumed.safetensors'))]);
    assert.deepEqual(r.rng, s.rng);
    for (const [name, slots] of s.optimState) {
      assert.ok(Buffer.from(slots['momentum_buffer']!.data.buffer).equals(Buffer.from(r.optimState.get(name)!['momentum_buffer']!.data.buffer)), `momentum of ${name}`);
    }
    assert.equal((r.model as { preset: string }).preset, 'light');
  } finally {
    await c.release();
  }
  const [ls, lr] = await Promise.all([readLossLog(straightLog), readLossLog(resumedLog)]);
  assert.deepEqual(lr.records, ls.records);
  assert.deepEqual(ls.records.map((x) => x.step), [1, 2, 3, 4]);
});
