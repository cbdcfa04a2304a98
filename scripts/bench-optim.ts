/**
 * Optimizer benchmark: a fused AdamW step over 40M parameters against a memcpy of the same
 * 28 bytes of traffic per parameter (14 bytes read + 14 written), measured in the same run, and
 * torch's AdamW (foreach and single-tensor, 2 threads) on the same inputs for reference.
 *
 *   npm run bench:optim           (N=40000000 REPS=7 by default)
 *
 * AdamW reads param, grad, exp_avg, exp_avg_sq (16 B/param) and writes param, exp_avg,
 * exp_avg_sq (12 B/param). The memcpy reference copies 14 B/param with TypedArray.set (one
 * thread, what Node offers). Also times SGD with momentum and clip_grad_norm_ over the same size.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { adamwStepSync, clipGradNormSync, createAdamWState, createSgdState, sgdStepSync } from '../src/train/optim.js';
import { packageRoot } from '../src/native.js';
import { Rng } from '../src/util/rng.js';
import { median, timeMs as timeMsReps } from './bench-util.js';

const n = Number(process.env.N ?? 40_000_000);
const reps = Number(process.env.REPS ?? 7);
const python = '/usr/bin/python3';
const timeMs = (fn: () => void): number => timeMsReps(fn, reps);


const rng = new Rng(9);
const param = new Float32Array(n);
const grad = new Float32Array(n);
for (let i = 0; i < n; i++) {
  param[i] = rng.uniform(-1, 1);
  grad[i] = rng.uniform(-1e-2, 1e-2);
}
const opts = { lr: 1e-3, weightDecay: 1e-2 };

// Equality check first (one step from the same start as torch), then timing.
const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-optim-'));
let torch: { torch: string; threads: number; foreach_ms: number; single_tensor_ms: number } | undefined;
let maxDiff: number | undefined;
try {
  const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status === 0) {
    writeFileSync(path.join(dir, 'param.bin'), param);
    writeFileSync(path.join(dir, 'grad.bin'), grad);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(opts));
    const r = spawnSync(python, [path.join(packageRoot, 'scripts', 'bench_optim.py'), dir, String(reps)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench_optim.py failed: ${r.stderr}`);
    torch = JSON.parse(r.stdout);
    const p = param.slice();
    adamwStepSync(p, grad, createAdamWState(n), opts);
    const b = readFileSync(path.join(dir, 'torch_param.bin'));
    const t = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    maxDiff = 0;
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i] - t[i]));
  } else {
    console.log(`(${python} has no torch: ours only)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const state = createAdamWState(n);
const bytes = 14 * n;
const src = new Uint8Array(bytes).fill(1);
const dst = new Uint8Array(bytes);
// AdamW (default threads, 1 thread) and the memcpy alternate within each repetition, so the
// three see the same machine load.
const fns = [
  () => adamwStepSync(param, grad, state, opts),
  () => adamwStepSync(param, grad, state, { ...opts, threads: 1 }),
  () => dst.set(src),
];
const samples: number[][] = fns.map(() => []);
fns.forEach((f) => f());
for (let r = 0; r < reps; r++) {
  fns.forEach((f, i) => {
    const t0 = process.hrtime.bigint();
    f();
    samples[i].push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
}
const [adamw, adamw1, memcpy] = samples.map(median);
const sgdState = createSgdState();
const sgd = timeMs(() => sgdStepSync(param, grad, sgdState, { lr: 0.01, momentum: 0.9 }));
const clip = timeMs(() => clipGradNormSync([grad], 1e9));

const gbs = (b: number, ms: number) => (b / ms / 1e6).toFixed(1);
console.log(`Optimizer benchmark, ${n.toLocaleString('en-US')} parameters, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), median of ${reps}` +
  (torch ? `; torch ${torch.torch} with ${torch.threads} threads` : ''));
console.log('| what | ms | traffic GB/s | vs memcpy |');
console.log('| --- | --- | --- | --- |');
console.log(`| memcpy of 14 B/param (TypedArray.set, 1 thread) | ${memcpy.toFixed(1)} | ${gbs(2 * bytes, memcpy)} | 1.00× |`);
console.log(`| ours: AdamW step (default threads) | ${adamw.toFixed(1)} | ${gbs(28 * n, adamw)} | ${(adamw / memcpy).toFixed(2)}× |`);
console.log(`| ours: AdamW step (1 thread) | ${adamw1.toFixed(1)} | ${gbs(28 * n, adamw1)} | ${(adamw1 / memcpy).toFixed(2)}× |`);
if (torch) {
  console.log(`| torch AdamW foreach=True | ${torch.foreach_ms.toFixed(1)} | ${gbs(28 * n, torch.foreach_ms)} | ${(torch.foreach_ms / memcpy).toFixed(2)}× |`);
  console.log(`| torch AdamW single-tensor (default) | ${torch.single_tensor_ms.toFixed(1)} | ${gbs(28 * n, torch.single_tensor_ms)} | ${(torch.single_tensor_ms / memcpy).toFixed(2)}× |`);
}
console.log(`| ours: SGD momentum step | ${sgd.toFixed(1)} | ${gbs(20 * n, sgd)} | ${(sgd / memcpy).toFixed(2)}× |`);
console.log(`| ours: clip_grad_norm_ (norm only, no scaling) | ${clip.toFixed(1)} | ${gbs(4 * n, clip)} | - |`);
if (maxDiff !== undefined) console.log(`max |ours − torch| after one AdamW step: ${maxDiff.toExponential(2)}`);
if (torch) console.log(`ours vs torch foreach: ${(torch.foreach_ms / adamw).toFixed(2)}× faster`);
