/**
 * Seconds per Faster R-CNN training step (DetectorTrainer.trainStep: data, both segments,
 * targets, proposals, RoIAlign forward/backward, optimizer) on synthetic SIZE×SIZE images with 4
 * boxes, seeded random weights. Env: PRESET (light), SIZE (512: the image height, and the width
 * unless WIDTH is given; the model's min/max size are the image's short/long side, so it is not
 * resized), BATCH (2), STEPS (4, after one
 * untimed first step that builds segment 1's training model), THREADS (2), LR (0.01), SPLIT (both: the
 * training models that recompute the forward pass and the split forward/backward models,
 * interleaved step by step in one process; 0 or 1: one of them, e.g. for peak RSS), FOLD (both:
 * instead of SPLIT, two split trainers whose segment 1 has the FrozenBatchNorm2d folded into the
 * convs or not, modelTuning.foldFrozenBatchNorm; frozen-bn presets), SCRATCH (both: instead of SPLIT,
 * two split trainers whose forward runs write into reused output buffers or not,
 * trainerTuning.outputScratch; two trainers share glibc's heap, which overstates the difference:
 * compare one trainer per process for figures, SCRATCH=0 against unset with SPLIT=1,
 * docs/benchmarks.md), LOW_MEMORY (1: the trainers'
 * lowMemory option, backward models without onnxruntime's memory arena; with SPLIT=1 and
 * /usr/bin/time -v for the peak RSS of that setting alone). Every step line and the medians give
 * page faults and system CPU time.
 *
 *   node dist/scripts/bench-train-detector.js
 *   PRESET=resnet18-fpn-gn node dist/scripts/bench-train-detector.js
 *   FOLD=both PRESET=resnet50-fpn node dist/scripts/bench-train-detector.js
 *   SCRATCH=both PRESET=resnet18-fpn-gn node dist/scripts/bench-train-detector.js
 */
import os from 'node:os';
import { DetectionLoader } from '../src/data/loader.js';
import type { DetectionDataset } from '../src/data/dataset.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { modelTuning } from '../src/models/tuning.js';
import { RandomWeights } from '../src/models/weights.js';
import { DetectorTrainer } from '../src/train/detector-trainer.js';
import { trainerTuning } from '../src/train/tuning.js';
import { Rng } from '../src/util/rng.js';
import { median } from './bench-util.js';

const preset = process.env.PRESET ?? 'light';
const size = Number(process.env.SIZE ?? 512);
const width = Number(process.env.WIDTH ?? size);
const batch = Number(process.env.BATCH ?? 2);
const steps = Number(process.env.STEPS ?? 4);
const threads = Number(process.env.THREADS ?? 2);

/** An in-memory dataset of bright squares on a dark background (no decoding in the timing). */
function syntheticDataset(count: number): DetectionDataset {
  const samples = Array.from({ length: count }, (_, i) => {
    const rng = new Rng(i + 1);
    const data = new Float32Array(3 * size * width).fill(0.1);
    const boxes: number[] = [];
    for (let k = 0; k < 4; k++) {
      const w = Math.round(Math.min(size, width) * (0.05 + 0.1 * rng.next()));
      const x = rng.int(0, width - w - 1), y = rng.int(0, size - w - 1);
      const plane = size * width;
      for (let c = 0; c < 3; c++) for (let yy = y; yy < y + w; yy++) data.fill(0.9, c * plane + yy * width + x, c * plane + yy * width + x + w);
      boxes.push(x, y, x + w, y + w);
    }
    return { id: String(i), image: { data, height: size, width }, target: { boxes: Float32Array.from(boxes), labels: Int32Array.from([1, 2, 1, 2]) } };
  });
  return {
    size: count,
    get: async (i: number) => ({ ...samples[i]!, target: { boxes: samples[i]!.target.boxes.slice(), labels: samples[i]!.target.labels.slice() } }),
  } as unknown as DetectionDataset;
}

interface Mode {
  name: string;
  splitBackward: boolean;
  fold: boolean;
  scratch: boolean;
}
const split = process.env.SPLIT ?? 'both';
const defaults = { splitBackward: true, fold: modelTuning.foldFrozenBatchNorm, scratch: process.env.SCRATCH === '0' ? false : trainerTuning.outputScratch };
const modes: Mode[] =
  process.env.FOLD === 'both'
    ? [{ ...defaults, name: 'unfolded BN', fold: false }, { ...defaults, name: 'folded BN', fold: true }]
    : process.env.SCRATCH === 'both'
      ? [{ ...defaults, name: 'fresh outputs', scratch: false }, { ...defaults, name: 'output scratch', scratch: true }]
      : (split === 'both' ? [false, true] : [split === '1']).map((s) => ({ ...defaults, name: s ? 'split' : 'recompute', splitBackward: s }));
const config = fasterRcnnConfig(preset, { arch: { numClasses: 3 }, transform: { minSize: Math.min(size, width), maxSize: Math.max(size, width) } });
const trainers: DetectorTrainer[] = [];
for (const mode of modes) {
  const t = performance.now();
  modelTuning.foldFrozenBatchNorm = mode.fold;
  const loader = new DetectionLoader(syntheticDataset(Math.max(4, 2 * batch)), { batchSize: batch });
  trainers.push(await DetectorTrainer.create({ config, weights: new RandomWeights(0), optimizer: { kind: 'sgd', lr: Number(process.env.LR ?? 0.01), momentum: 0.9, weightDecay: 1e-4 }, loader, threads: { intraOp: threads, optimizer: threads }, splitBackward: mode.splitBackward, lowMemory: process.env.LOW_MEMORY === '1' }));
  console.log(`${preset} ${size}x${width} batch ${batch}, ${threads} threads, ${mode.name}; create ${((performance.now() - t) / 1000).toFixed(1)} s; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}
const wall: number[][] = modes.map(() => []), cpu: number[][] = modes.map(() => []), sys: number[][] = modes.map(() => []), pageFaults: number[][] = modes.map(() => []), seg1: number[][] = modes.map(() => []);
for (let i = 0; i <= steps; i++) {
  // Interleaved, the order alternating per step, so that both modes see the same load.
  const order = modes.map((_, m) => m);
  if (i % 2 === 1) order.reverse();
  const totals: number[] = [];
  for (const m of order) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    // The training graphs of segment 1 are built at a trainer's first step, under its mode's switch.
    modelTuning.foldFrozenBatchNorm = modes[m]!.fold;
    trainerTuning.outputScratch = modes[m]!.scratch;
    const faults0 = process.resourceUsage().minorPageFault;
    const r = await trainers[m]!.trainStep();
    const c = process.cpuUsage(c0);
    const faults = process.resourceUsage().minorPageFault - faults0;
    const w = (performance.now() - t) / 1000, u = (c.user + c.system) / 1e6;
    const stages = Object.entries(r.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ');
    console.log(`step ${i}${i === 0 ? ' (builds segment 1)' : ''} ${modes[m]!.name}: ${w.toFixed(2)} s wall, ${u.toFixed(2)} s CPU (system ${(c.system / 1e6).toFixed(2)} s, ${faults} page faults); loss ${r.losses.total.toFixed(6)}; ${stages}`);
    if (i > 0) { wall[m]!.push(w); cpu[m]!.push(u); sys[m]!.push(c.system / 1e6); pageFaults[m]!.push(faults); seg1[m]!.push(r.timings.segment1 / 1000); }
    totals[m] = r.losses.total;
  }
  if (modes.length === 2 && totals[0] !== totals[1]) console.log(`  losses differ: ${totals[0]} vs ${totals[1]}`);
}
modes.forEach((s, m) => console.log(`${s.name}: median of ${steps}: ${median(wall[m]!).toFixed(2)} s wall, ${median(cpu[m]!).toFixed(2)} s CPU (system ${median(sys[m]!).toFixed(2)} s, ${median(pageFaults[m]!)} page faults) per step, segment 1 forward ${median(seg1[m]!).toFixed(2)} s; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`));
for (const t of trainers) await t.release();
