/**
 * The demo's training step before and after the batch-folded conv weight gradient
 * (`gradTuning.foldBatchIntoGemm`) and the loader's image cache (`cacheBytes`): two trainers on the
 * demo's data (`light` at SIZE px, batch 2, the demo's augmentation, 2 threads, seeded random
 * weights), alternating step by step in one process so both see the same load; medians, the
 * per-stage medians of the step after the change (trainStep's timings), and the first steps'
 * losses of both (the same up to float summation order).
 * Env: STEPS (16, after one untimed step), SIZE (256).
 *
 *   node dist/scripts/bench-demo-step.js
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader } from '../src/data/loader.js';
import { DEMO_AUGMENT } from '../src/demo/detect-stage.js';
import { runDemo } from '../src/demo/pipeline.js';
import { gradTuning } from '../src/graph/grad/tuning.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { DetectorTrainer } from '../src/train/detector-trainer.js';
import { median } from './bench-util.js';

const STEPS = Number(process.env.STEPS ?? 16);
const SIZE = Number(process.env.SIZE ?? 256);
const MODES = [
  { name: 'before (no fold, no cache)', fold: false, cacheBytes: 0 },
  { name: 'after (fold, default cache)', fold: true, cacheBytes: undefined },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hpa-bench-demo-step-'));
  try {
    await runDemo({ outDir: dir, overlays: 0, progress: false, train: false });
    const voc = path.join(dir, 'annotations', 'voc', 'Annotations');
    // The demo trains on 36 of its 48 images; which 36 does not matter for the timing.
    const ids = (await readdir(voc)).map((f) => f.replace(/\.xml$/, '')).sort().slice(0, 36);
    const trainers: DetectorTrainer[] = [];
    for (const m of MODES) {
      const data = await DetectionDataset.load({ annotations: voc, format: 'voc', imageDir: path.join(dir, 'merged'), ids });
      const config = fasterRcnnConfig('light', { arch: { numClasses: data.classes.names.length + 1 }, transform: { minSize: SIZE, maxSize: SIZE } });
      const loader = new DetectionLoader(data, { batchSize: 2, augment: DEMO_AUGMENT, ...(m.cacheBytes === undefined ? {} : { cacheBytes: m.cacheBytes }) });
      trainers.push(await DetectorTrainer.create({ config, weights: new RandomWeights(0), optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9, weightDecay: 1e-4 }, loader, threads: { intraOp: 2 }, seeds: { shuffle: 1, augment: 2, sample: 3 } }));
    }
    const wall: number[][] = MODES.map(() => []), cpu: number[][] = MODES.map(() => []);
    const stages = new Map<string, number[]>();
    for (let i = 0; i <= STEPS; i++) {
      const losses: number[] = [];
      for (const k of i % 2 ? [1, 0] : [0, 1]) {
        // The formulation is read when a graph is built: segment 1's at the first step.
        gradTuning.foldBatchIntoGemm = MODES[k]!.fold;
        const t = performance.now(), c0 = process.cpuUsage();
        const r = await trainers[k]!.trainStep();
        const c = process.cpuUsage(c0);
        if (i > 0) {
          wall[k]!.push((performance.now() - t) / 1000);
          cpu[k]!.push((c.user + c.system) / 1e6);
          if (k === 1) for (const [stage, ms] of Object.entries(r.timings)) stages.set(stage, [...(stages.get(stage) ?? []), ms]);
        }
        losses[k] = r.losses.total;
      }
      if (i < 2) console.log(`step ${i} loss: ${MODES.map((m, k) => `${m.name} ${losses[k]}`).join(', ')}`);
    }
    gradTuning.foldBatchIntoGemm = true;
    MODES.forEach((m, k) => console.log(`${m.name}: median of ${STEPS}: ${median(wall[k]!).toFixed(3)} s wall, ${median(cpu[k]!).toFixed(3)} s CPU per step`));
    console.log(`after, per stage (median ms): ${[...stages].map(([stage, ms]) => `${stage} ${median(ms).toFixed(0)}`).join(', ')}`);
    console.log(`after / before: ${(median(wall[1]!) / median(wall[0]!)).toFixed(3)} wall; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    for (const t of trainers) await t.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
