/**
 * RoIAlign benchmark: ours vs torchvision on the same inputs, in one run.
 *
 *   npm run bench:roi-align            (REPS=n to change repetitions, default 7)
 *
 * Inputs (issue 3): 256×128×128 features (one image), RoIs x, y ~ U(0, 400), w, h ~ U(8, 108)
 * at image scale, spatial scale 0.25, 7×7, sampling ratio 2, 512 and 1000 RoIs; forward and
 * forward + backward. Multi-scale: 4 FPN levels (256 channels, 128², 64², 32², 16² for a 512²
 * image), 1000 RoIs over 2 images, torchvision's MultiScaleRoIAlign level mapping.
 * torchvision runs through scripts/bench_roi_align.py on /usr/bin/python3 with 2 threads; it is
 * skipped (ours only) when torchvision is missing. Each repetition runs ours then torchvision (a
 * helper process answering one timed call per request), so both see the same machine load.
 * Prints medians, ratios and max |ours - torch|.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { roiAlignBackwardSync, roiAlignSync, type FeatureShape } from '../src/detection/roi-align.js';
import {
  multiScaleRoiAlignBackwardSync,
  multiScaleRoiAlignSync,
  type FeatureLevel,
} from '../src/detection/multiscale-roi-align.js';
import { packageRoot } from '../src/native.js';
import { Rng } from '../src/util/rng.js';
import { median, timeMs as timeMsReps } from './bench-util.js';

const reps = Number(process.env.REPS ?? 7);
const python = '/usr/bin/python3';
const timeMs = (fn: () => void): number => timeMsReps(fn, reps);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const write = (dir: string, name: string, a: Float32Array) => writeFileSync(path.join(dir, name), a);

const rng = new Rng(3);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
function makeRois(k: number, images: number): Float32Array {
  const r = new Float32Array(k * 5);
  for (let i = 0; i < k; i++) {
    const x = rng.uniform(0, 400);
    const y = rng.uniform(0, 400);
    r.set([i % images, x, y, x + rng.uniform(8, 108), y + rng.uniform(8, 108)], i * 5);
  }
  return r;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-roi-'));
try {
  const shape: FeatureShape = [1, 256, 128, 128];
  const feats = randn(256 * 128 * 128);
  write(dir, 'features.bin', feats);
  const single = [512, 1000].map((k) => {
    const rois = makeRois(k, 1);
    const grad = randn(k * 256 * 49);
    const name = `roi${k}`;
    write(dir, `${name}.rois.bin`, rois);
    write(dir, `${name}.grad.bin`, grad);
    return { name, k, rois, grad };
  });
  const levelShapes: FeatureShape[] = [128, 64, 32, 16].map((s) => [2, 256, s, s] as FeatureShape);
  const levels: FeatureLevel[] = levelShapes.map((s) => ({ data: randn(s[0] * s[1] * s[2] * s[3]), shape: s }));
  levels.forEach((l, i) => write(dir, `ms.level${i}.bin`, l.data));
  // Multi-scale boxes: spread over all levels (sqrt(area) from 16 to 512 at a 512² image).
  const msK = 1000;
  const msRois = new Float32Array(msK * 5);
  for (let i = 0; i < msK; i++) {
    const side = Math.exp(rng.uniform(Math.log(16), Math.log(512)));
    const x = rng.uniform(0, 512 - side / 2);
    const y = rng.uniform(0, 512 - side / 2);
    msRois.set([i % 2, x, y, x + side * rng.uniform(0.7, 1.3), y + side * rng.uniform(0.7, 1.3)], i * 5);
  }
  const msGrad = randn(msK * 256 * 49);
  write(dir, 'ms.rois.bin', msRois);
  write(dir, 'ms.grad.bin', msGrad);
  const imageSizes: [number, number][] = [[512, 512], [512, 512]];
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      single: single.map((s) => ({
        name: s.name, features: 'features.bin', featureShape: shape, rois: `${s.name}.rois.bin`,
        gradOutput: `${s.name}.grad.bin`, outputSize: [7, 7], scale: 0.25, samplingRatio: 2, aligned: false, reps,
      })),
      multi: [{
        name: 'ms', features: levels.map((_, i) => `ms.level${i}.bin`), levelShapes, rois: 'ms.rois.bin',
        gradOutput: 'ms.grad.bin', outputSize: [7, 7], samplingRatio: 2, imageShapes: imageSizes, reps,
      }],
    }),
  );

  // torchvision helper: prepares its results, then answers one timed call per request.
  let torch: { torch: string; threads: number } | undefined;
  let ask: ((cmd: string) => Promise<number>) | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  if (spawnSync(python, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0) {
    child = spawn(python, [path.join(packageRoot, 'scripts', 'bench_roi_align.py'), dir]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const r = await lines.next();
      if (r.done) throw new Error(`bench_roi_align.py exited: ${stderr.slice(-2000)}`);
      return r.value as string;
    };
    torch = JSON.parse(await next());
    ask = async (cmd) => {
      child!.stdin.write(cmd + '\n');
      return Number(await next());
    };
  } else {
    console.log(`(${python} has no torchvision: ours only)`);
  }

  // Each repetition times ours, then torchvision, alternately, so both see the same load.
  const msOpts = { outputSize: 7, samplingRatio: 2 };
  const ours: Record<string, Record<'fwd' | 'fwd_bwd', () => void>> = {};
  for (const s of single) {
    ours[s.name] = {
      fwd: () => roiAlignSync(feats, shape, s.rois, 7, 0.25, 2, false),
      fwd_bwd: () => {
        roiAlignSync(feats, shape, s.rois, 7, 0.25, 2, false);
        roiAlignBackwardSync(s.grad, s.rois, shape, 7, 0.25, 2, false);
      },
    };
  }
  ours.ms = {
    fwd: () => multiScaleRoiAlignSync(levels, msRois, imageSizes, msOpts),
    fwd_bwd: () => {
      const r = multiScaleRoiAlignSync(levels, msRois, imageSizes, msOpts);
      multiScaleRoiAlignBackwardSync(msGrad, msRois, levelShapes, r.levels, r.scales, msOpts);
    },
  };
  const rowsOurs: Record<string, { fwd: number; fwdBwd: number; tFwd?: number; tFwdBwd?: number; fwdDiff?: number; gradDiff?: number }> = {};
  for (const [name, fns] of Object.entries(ours)) {
    const row: (typeof rowsOurs)[string] = { fwd: 0, fwdBwd: 0 };
    for (const mode of ['fwd', 'fwd_bwd'] as const) {
      const o: number[] = [];
      const t: number[] = [];
      fns[mode]();
      if (ask) await ask(`${name} ${mode}`);
      for (let i = 0; i < reps; i++) {
        o.push(timeMs(fns[mode]));
        if (ask) t.push(await ask(`${name} ${mode}`));
      }
      if (mode === 'fwd') [row.fwd, row.tFwd] = [median(o), ask ? median(t) : undefined];
      else [row.fwdBwd, row.tFwdBwd] = [median(o), ask ? median(t) : undefined];
    }
    rowsOurs[name] = row;
  }
  // CPU time per call on one thread (ours with threads: 1, torchvision's single-threaded kernel):
  // the per-thread efficiency, much less sensitive to other jobs than wall time. Minimum of reps.
  const cpuRows: Record<string, { fwd: number; fwdBwd: number; tFwd?: number; tFwdBwd?: number }> = {};
  for (const s of single) {
    const one = (mode: 'fwd' | 'fwd_bwd') => () => {
      const c0 = process.cpuUsage();
      roiAlignSync(feats, shape, s.rois, 7, 0.25, 2, false, { threads: 1 });
      if (mode === 'fwd_bwd') roiAlignBackwardSync(s.grad, s.rois, shape, 7, 0.25, 2, false, { threads: 1 });
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1e3;
    };
    const row: (typeof cpuRows)[string] = { fwd: Infinity, fwdBwd: Infinity };
    for (let i = 0; i < reps; i++) {
      row.fwd = Math.min(row.fwd, one('fwd')());
      row.fwdBwd = Math.min(row.fwdBwd, one('fwd_bwd')());
      if (ask) {
        row.tFwd = Math.min(row.tFwd ?? Infinity, await ask(`${s.name} fwd cpu`));
        row.tFwdBwd = Math.min(row.tFwdBwd ?? Infinity, await ask(`${s.name} fwd_bwd cpu`));
      }
    }
    cpuRows[s.name] = row;
  }
  if (child) {
    child.stdin.write('quit\n');
    child.stdin.end();
    for (const s of single) {
      rowsOurs[s.name].fwdDiff = maxAbsDiff(roiAlignSync(feats, shape, s.rois, 7, 0.25, 2, false), readF32(path.join(dir, `${s.name}.torch_fwd.bin`)));
      rowsOurs[s.name].gradDiff = maxAbsDiff(roiAlignBackwardSync(s.grad, s.rois, shape, 7, 0.25, 2, false), readF32(path.join(dir, `${s.name}.torch_grad.bin`)));
    }
    const r2 = multiScaleRoiAlignSync(levels, msRois, imageSizes, msOpts);
    rowsOurs.ms.fwdDiff = maxAbsDiff(r2.output, readF32(path.join(dir, 'ms.torch_fwd.bin')));
    const g2 = multiScaleRoiAlignBackwardSync(msGrad, msRois, levelShapes, r2.levels, r2.scales, msOpts);
    rowsOurs.ms.gradDiff = Math.max(...g2.map((g, i) => maxAbsDiff(g, readF32(path.join(dir, `ms.torch_grad${i}.bin`)))));
  }

  console.log(`RoIAlign benchmark, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), median of ${reps}` +
    (torch ? `; torch ${torch.torch} with ${torch.threads} threads` : ''));
  console.log('| case | ours fwd ms | torchvision fwd ms | ratio | ours fwd+bwd ms | torchvision fwd+bwd ms | ratio | max abs diff fwd / grad |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const label: Record<string, string> = {
    roi512: '512 RoIs, 256×128×128, 7×7, sr 2, scale 1/4',
    roi1000: '1000 RoIs, 256×128×128, 7×7, sr 2, scale 1/4',
    ms: 'multi-scale, 4 levels (2×256×128² … 16²), 1000 RoIs, 7×7, sr 2',
  };
  for (const [name, o] of Object.entries(rowsOurs)) {
    const f = (x: number) => x.toFixed(1);
    const tf = o.tFwd;
    const tb = o.tFwdBwd;
    console.log(`| ${label[name]} | ${f(o.fwd)} | ${tf !== undefined ? f(tf) : '-'} | ${tf !== undefined ? (tf / o.fwd).toFixed(1) + '×' : '-'} | ` +
      `${f(o.fwdBwd)} | ${tb !== undefined ? f(tb) : '-'} | ${tb !== undefined ? (tb / o.fwdBwd).toFixed(1) + '×' : '-'} | ` +
      `${o.fwdDiff === undefined ? '-' : `${o.fwdDiff.toExponential(1)} / ${o.gradDiff!.toExponential(1)}`} |`);
  }
  console.log('');
  console.log('CPU time per call on one thread (ours threads: 1; minimum of the repetitions):');
  console.log('| case | ours fwd CPU ms | torchvision fwd CPU ms | ratio | ours fwd+bwd CPU ms | torchvision fwd+bwd CPU ms | ratio |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, o] of Object.entries(cpuRows)) {
    const f = (x: number) => x.toFixed(1);
    const r = (t: number | undefined, x: number) => (t !== undefined ? `${f(t)} | ${(t / x).toFixed(1)}×` : '- | -');
    console.log(`| ${label[name]} | ${f(o.fwd)} | ${r(o.tFwd, o.fwd)} | ${f(o.fwdBwd)} | ${r(o.tFwdBwd, o.fwdBwd)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
