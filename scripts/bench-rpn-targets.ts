/**
 * `npm run bench:rpn-targets`: RPN training targets of one 800×1344 image (torchvision's default
 * FPN anchors: sizes 32..512, ratios 0.5/1/2 on 200×336 ... 13×21 grids, 268 569 anchors) with
 * 20 random gt boxes (sides 16..400 px).
 *
 * Compares, interleaved repetition by repetition (so machine load hits both alike):
 *   before: the previous path, boxIouSync (the full 20 × 268 569 matrix, 21 MB) + the TypeScript
 *           matcher (matchQualityReference) + labels, encoding and sampling as rpnTargets does;
 *   after:  rpnTargets (native fused IoU + matcher, no matrix).
 * and times the pieces: the IoU matrix, the TypeScript matcher, the native matcher over the
 * matrix (Matcher.match), the fused native matcher (threads 1 and the default), the encoding of
 * every anchor and the sampler. Checks that both paths give the same matches, labels, targets
 * and sample (exit code 1 if not). Prints the median wall time and the minimum process CPU time.
 *
 * Options: --reps R (default 15), --seed S (default 1), --gt G (default 20).
 */
import { generateAnchors } from '../src/detection/anchors.js';
import { BoxCoder, boxIouSync } from '../src/detection/boxes.js';
import { BETWEEN_THRESHOLDS, Matcher, matchQualityReference } from '../src/detection/matcher.js';
import { gatherRows, rpnTargets, sampleFrom } from '../src/detection/targets-rpn.js';
import { Rng } from '../src/util/rng.js';
import { median } from './bench-util.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const reps = arg('reps', 15), seed = arg('seed', 1), numGt = arg('gt', 20);

const imageSize: [number, number] = [800, 1344];
const levels = [32, 64, 128, 256, 512].map((s) => ({ sizes: [s], aspectRatios: [0.5, 1, 2] }));
const grids: [number, number][] = [[200, 336], [100, 168], [50, 84], [25, 42], [13, 21]];
const anchors = generateAnchors(levels, imageSize, grids);
const rng = new Rng(seed);
const gt = new Float32Array(4 * numGt);
for (let i = 0; i < numGt; i++) {
  const w = rng.uniform(16, 400), h = rng.uniform(16, 400);
  const x = rng.uniform(0, imageSize[1] - w), y = rng.uniform(0, imageSize[0] - h);
  gt.set([x, y, x + w, y + h], 4 * i);
}
const coder = new BoxCoder([1, 1, 1, 1]);
const numAnchors = anchors.length / 4;

/** The path before the native matcher (targets-rpn.ts as of ffd7559), for the comparison. */
function before(sampleSeed: number) {
  const matchedIdxs = matchQualityReference(boxIouSync(gt, anchors), numGt, numAnchors, 0.7, 0.3, true);
  const labels = new Float32Array(numAnchors);
  const clamped = new Int32Array(numAnchors);
  for (let j = 0; j < numAnchors; j++) {
    const m = matchedIdxs[j]!;
    clamped[j] = Math.max(m, 0);
    labels[j] = m >= 0 ? 1 : m === BETWEEN_THRESHOLDS ? -1 : 0;
  }
  const regressionTargets = coder.encodeSync(gatherRows(gt, clamped), anchors);
  return { matchedIdxs, labels, regressionTargets, ...sampleFrom({ rng: new Rng(sampleSeed) }, labels, 256, 0.5, 'x') };
}
const after = (sampleSeed: number) => rpnTargets(anchors, gt, { rng: new Rng(sampleSeed) });

// Same results?
const a = before(5), b = after(5);
const same =
  a.matchedIdxs.every((v, i) => v === b.matchedIdxs[i]) &&
  a.labels.every((v, i) => v === b.labels[i]) &&
  a.regressionTargets.every((v, i) => Object.is(v, b.regressionTargets[i])) &&
  a.positiveIndices.join() === b.positiveIndices.join() &&
  a.negativeIndices.join() === b.negativeIndices.join();
const pos = b.labels.filter((l) => l === 1).length, ign = b.labels.filter((l) => l === -1).length;

/**
 * Interleaved timing of several functions: one call of each per repetition. Returns the median
 * wall ms and the minimum process CPU ms (user + system, all threads: less sensitive to other
 * jobs on the machine than wall time).
 */
function timeInterleaved(fns: Record<string, () => unknown>, n: number): Record<string, { wall: number; cpu: number }> {
  const ts: Record<string, number[]> = {};
  const cs: Record<string, number> = {};
  for (const k of Object.keys(fns)) {
    fns[k]!();
    ts[k] = [];
    cs[k] = Infinity;
  }
  for (let r = 0; r < n; r++) {
    for (const [k, f] of Object.entries(fns)) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      f();
      ts[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cs[k] = Math.min(cs[k]!, (c.user + c.system) / 1e3);
    }
  }
  return Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, { wall: median(v), cpu: cs[k]! }]));
}

const matcher = new Matcher(0.7, 0.3, true);
const iou = boxIouSync(gt, anchors);
const clamped = new Int32Array(numAnchors).map((_, j) => Math.max(b.matchedIdxs[j]!, 0));
const whole = timeInterleaved({ before: () => before(5), after: () => after(5) }, reps);
const parts = timeInterleaved(
  {
    'boxIouSync (20 x A matrix)': () => boxIouSync(gt, anchors),
    'TS matcher over the matrix': () => matchQualityReference(iou, numGt, numAnchors, 0.7, 0.3, true),
    'native Matcher.match over the matrix': () => matcher.match(iou, numGt, numAnchors),
    'native fused matchBoxesSync, 1 thread': () => matcher.matchBoxesSync(gt, anchors, { threads: 1 }),
    'native fused matchBoxesSync, default threads': () => matcher.matchBoxesSync(gt, anchors),
    'encode every anchor (gather + encodeSync)': () => coder.encodeSync(gatherRows(gt, clamped), anchors),
    'sampler (256, 0.5)': () => sampleFrom({ rng: new Rng(5) }, b.labels, 256, 0.5, 'x'),
  },
  reps,
);

console.log(`rpnTargets at ${imageSize.join('x')}: ${numAnchors} anchors, ${numGt} gt boxes (seed ${seed}), ${pos} positive / ${ign} ignored anchors; ${reps} interleaved reps, medians`);
const { before: wb, after: wa } = whole as { before: { wall: number; cpu: number }; after: { wall: number; cpu: number } };
console.log(`  (wall ms median / process CPU ms min)`);
console.log(`  before (boxIouSync + TS matcher)  ${wb.wall.toFixed(1)} / ${wb.cpu.toFixed(1)} ms`);
console.log(`  after  (native fused matcher)     ${wa.wall.toFixed(1)} / ${wa.cpu.toFixed(1)} ms   (${(wb.wall / wa.wall).toFixed(2)}x wall, ${(wb.cpu / wa.cpu).toFixed(2)}x CPU)`);
for (const [k, v] of Object.entries(parts)) console.log(`    ${k.padEnd(46)} ${v.wall.toFixed(2)} / ${v.cpu.toFixed(2)} ms`);
console.log(`  same matches, labels, targets and sample: ${same ? 'yes' : 'NO'}`);
if (!same) process.exitCode = 1;
