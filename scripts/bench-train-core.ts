/**
 * Training-core benchmark: one training step (forward, backward, SGD step) of a ResNet-18
 * classifier with GroupNorm(32) at SIZE×SIZE (default 512), batch 1: ours (training_model from
 * src/graph in onnxruntime-node, THREADS (2) intra-op threads, native SGD step) against torch eager
 * (scripts/bench_train_core.py, Debian torch 1.13, torch.set_num_threads(THREADS)) on the same weights
 * and input, in the same run.
 *
 *   npm run bench:train-core          (REPS=n timed steps each, default 5; SIZE=512; THREADS=2)
 *   PROFILE=1 npm run bench:train-core  afterwards runs the training graph 4 more times with
 *                                     onnxruntime's profiler and prints kernel ms per run by
 *                                     operator type, then by role (forward products, weight and
 *                                     input gradients, im2col, …) with the matrix products' sum
 *                                     against torch's step
 *   AB=1 npm run bench:train-core     also times the training graph built with the earlier
 *                                     gradient formulations (gradTuning: slices im2col, node-by-node
 *                                     normalization gradient, im2col for the stem) in the same run
 *
 * Prints: torch's BLAS (config line and the library mapped into the process), the gradient check
 * (relative error ‖ours − torch‖/‖torch‖ per parameter tensor), medians of wall time (forward,
 * backward, optimizer, step) and of CPU time, the ratio ours/torch, achieved GFLOP/s (analytic
 * FLOPs, scripts/resnet18-gn-classifier.ts) against the assumed peak, and both peak RSS figures.
 * Steps alternate ours/torch so that both see the same machine load.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as ort from 'onnxruntime-node';
import { buildTrainingArtifacts } from '../src/graph/artifacts.js';
import { toHostTensors } from '../src/graph/host-tensor.js';
import { serializeModel } from '../src/graph/serialize.js';
import { gradTuning } from '../src/graph/grad/tuning.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { packageRoot } from '../src/native.js';
import { TrainerOptimizer, type ParamBuffer } from '../src/train/trainer-optimizer.js';
import { Rng } from '../src/util/rng.js';
import { assumedPeak, median, profileBy, readProfile, type KernelEvent } from './bench-util.js';
import { resnet18GnClassifier, trainingFlops } from './resnet18-gn-classifier.js';

const REPS = Number(process.env.REPS ?? 5);
const AB = process.env.AB === '1';
const PROFILE = process.env.PROFILE === '1';
/** Threads of each side (ORT intra-op, native SGD, torch.set_num_threads); 2 by default. THREADS=1 compares per-core efficiency (less sensitive to other jobs on the machine). */
const THREADS = Number(process.env.THREADS ?? 2);
const SIZE = Number(process.env.SIZE ?? 512);
const CLASSES = 4;
const SGD = { kind: 'sgd' as const, lr: 1e-3, momentum: 0.9 };
/** The fp32 peak of THREADS cores of this machine (AVX2 or AVX-512, read from /proc/cpuinfo). */
const PEAK = assumedPeak(THREADS);

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

/** The torch helper as a request/response process. */
async function startTorch(dir: string): Promise<{ info: Record<string, unknown>; ask: (cmd: string) => Promise<Record<string, number>>; quit: () => void }> {
  const child = spawn('/usr/bin/python3', [path.join(packageRoot, 'scripts', 'bench_train_core.py'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('bench_train_core.py exited early (see its stderr above)');
    return r.value;
  };
  const info = JSON.parse(await next()) as Record<string, unknown>;
  if ((await next()) !== 'ready') throw new Error('bench_train_core.py did not say ready');
  return {
    info,
    ask: async (cmd) => {
      child.stdin.write(cmd + '\n');
      return JSON.parse(await next()) as Record<string, number>;
    },
    quit: () => child.stdin.end('quit\n'),
  };
}

function relativeError(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** The roles of the training graph's kernels that multiply matrices (the rest is element-wise work and data movement). */
const MATRIX_PRODUCTS = ['forward Conv/Gemm', 'weight gradients: Gemm', 'input gradients: Conv / ConvTranspose', 'stem weight gradient: Conv over transposed tensors'];

/**
 * What a kernel of the training graph does, from our gradient builder's conventions (src/graph/grad)
 * as they apply to this ResNet (no depthwise convolutions, whose input gradients would also have
 * one input channel): gradient nodes are named `grad.*`; a gradient Conv whose weight has one input
 * channel is the weight gradient's im2col (depthwise, one-hot kh×kw kernels) or, with a kernel as
 * large as a feature map, the stem's weight gradient computed as a Conv over transposed tensors; a
 * gradient MatMul by a small square matrix is the spatial flip of an input gradient's weight.
 */
function trainingRole(e: KernelEvent): string {
  const backward = e.node.startsWith('grad.');
  if (!backward) return e.op === 'Conv' || e.op === 'Gemm' ? 'forward Conv/Gemm' : `forward ${e.op}`;
  if (e.op === 'MatMul') {
    // flipTranspose's spatial flip: [rows, k] × the k×k anti-identity (k = kh·kw).
    const b = Object.values(e.inputShapes[1] ?? {})[0] ?? [];
    if (b.length === 2 && b[0] === b[1] && b[0]! <= 49) return 'input gradients: weight flip (MatMul)';
  }
  if (e.op === 'Gemm' || e.op === 'MatMul') return 'weight gradients: Gemm';
  if (e.op === 'ConvTranspose') return 'input gradients: Conv / ConvTranspose';
  if (e.op === 'Conv') {
    const w = Object.values(e.inputShapes[1] ?? {})[0] ?? [];
    if (w[1] !== 1) return 'input gradients: Conv / ConvTranspose';
    return (w[2] ?? 0) * (w[3] ?? 0) > 49 ? 'stem weight gradient: Conv over transposed tensors' : 'weight gradients: im2col (depthwise Conv, one-hot kernels)';
  }
  return e.op === 'ScatterElements' ? 'backward ScatterElements (MaxPool gradient)' : `backward ${e.op}`;
}

async function main(): Promise<void> {
  const net = resnet18GnClassifier(SIZE, CLASSES);
  const params = net.graph.paramNames;
  const rng = new Rng(3);
  const images = Float32Array.from({ length: 3 * SIZE * SIZE }, () => rng.normal());
  const labels = BigInt64Array.of(1n);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-train-'));
  try {
    const weights = new Map(params.map((p) => [p, net.graph.initializers.get(p)!.tensor]));
    await writeSafetensors(path.join(dir, 'weights.safetensors'), toHostTensors(weights), undefined, { fsync: false });
    await writeSafetensors(path.join(dir, 'input.safetensors'), { images: { dtype: 'F32', shape: [1, 3, SIZE, SIZE], data: images }, labels: { dtype: 'I64', shape: [1], data: labels } }, undefined, { fsync: false });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ numClasses: CLASSES, lr: SGD.lr, momentum: SGD.momentum, threads: THREADS }));
    const torch = await startTorch(dir);

    const tBuild = performance.now();
    const art = buildTrainingArtifacts({ graph: net.graph, trainable: params, loss: net.loss });
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' };
    const trainS = await ort.InferenceSession.create(serializeModel(art.training), opts);
    const evalS = await ort.InferenceSession.create(serializeModel(art.eval), opts);
    const buildS = (performance.now() - tBuild) / 1000;
    let oldS: ort.InferenceSession | undefined;
    if (AB) {
      const saved = { ...gradTuning };
      Object.assign(gradTuning, { im2col: 'slices', fuseNormalizations: false, transposedMinTaps: Infinity });
      const old = buildTrainingArtifacts({ graph: net.graph, trainable: params, loss: net.loss });
      Object.assign(gradTuning, saved);
      oldS = await ort.InferenceSession.create(serializeModel(old.training), opts);
    }
    const oldTrain: number[] = [];
    const buffers = new Map<string, ParamBuffer>(params.map((p) => [p, { data: Float32Array.from(weights.get(p)!.data as Float32Array), shape: [...weights.get(p)!.dims] }]));
    const optimizer = new TrainerOptimizer(SGD, buffers, THREADS);
    const feeds = (): Record<string, ort.Tensor> => {
      const f: Record<string, ort.Tensor> = { images: new ort.Tensor('float32', images, [1, 3, SIZE, SIZE]), labels: new ort.Tensor('int64', labels, [1]) };
      for (const [p, b] of buffers) f[p] = new ort.Tensor('float32', b.data, b.shape);
      return f;
    };

    // Gradient check on the shared initial weights.
    const first = await trainS.run(feeds());
    // Float32 rounding alone moves deep gradients (GroupNorm over 2·128² values per group at 512²):
    // both float32 results are compared with torch in float64, and ours must stay within 3× torch's own error.
    const ref = (await readSafetensors(path.join(dir, 'torch_grads.safetensors'))).tensors;
    const ref64 = (await readSafetensors(path.join(dir, 'torch_grads64.safetensors'))).tensors;
    const errors = params.map((p) => {
      const g = first[`grad.${p}`]!.data as Float32Array;
      const exact = ref64.get(p)!.data as Float64Array;
      return { p, e: relativeError(g, ref.get(p)!.data as Float32Array), ours64: relativeError(g, exact), torch64: relativeError(ref.get(p)!.data as Float32Array, exact) };
    });
    const worst = errors.reduce((a, b) => (b.e > a.e ? b : a));
    const worst64 = errors.reduce((a, b) => (b.ours64 > a.ours64 ? b : a));
    const offenders = errors.filter((x) => x.ours64 > 3 * x.torch64 + 1e-5);
    const lossOurs = Number(first['loss']!.data[0]);
    const lossTorch = Number(ref.get('loss')!.data[0]);

    const ours = { fwd: [] as number[], train: [] as number[], opt: [] as number[], step: [] as number[], cpu: [] as number[] };
    const theirs = { fwd: [] as number[], bwd: [] as number[], opt: [] as number[], step: [] as number[], cpu: [] as number[] };
    for (let i = -1; i < REPS; i++) { // i = -1: warm-up of both
      let t0 = performance.now();
      await evalS.run(feeds());
      const fwd = performance.now() - t0;
      const c0 = process.cpuUsage();
      t0 = performance.now();
      const out = await trainS.run(feeds());
      const train = performance.now() - t0;
      t0 = performance.now();
      await optimizer.step(new Map(params.map((p) => [p, out[`grad.${p}`]!.data as Float32Array])), i + 1);
      const opt = performance.now() - t0;
      const cpu = cpuMs(process.cpuUsage(c0));
      const r = await torch.ask('step');
      if (oldS) {
        t0 = performance.now();
        await oldS.run(feeds());
        if (i >= 0) oldTrain.push(performance.now() - t0);
      }
      if (i < 0) continue;
      ours.fwd.push(fwd), ours.train.push(train), ours.opt.push(opt), ours.step.push(train + opt), ours.cpu.push(cpu);
      theirs.fwd.push(r.fwd_ms!), theirs.bwd.push(r.bwd_ms!), theirs.opt.push(r.opt_ms!), theirs.step.push(r.fwd_ms! + r.bwd_ms! + r.opt_ms!), theirs.cpu.push(r.cpu_ms!);
    }
    const torchRss = (await torch.ask('rss')).peak_rss_mb!;
    torch.quit();
    await trainS.release();
    await evalS.release();
    await oldS?.release();

    const flops = trainingFlops(net);
    const gflop = (flops.forward + flops.backward) / 1e9;
    const s = (ms: number): string => (ms / 1000).toFixed(3);
    const oursStep = median(ours.step);
    const torchStep = median(theirs.step);
    const blas = (torch.info.blas ?? {}) as { config?: string[]; loaded?: string[]; openblas_pthread?: boolean };
    console.log(`ResNet-18 GroupNorm(32) classifier, ${SIZE}x${SIZE}, batch 1, ${CLASSES} classes, SGD(lr ${SGD.lr}, momentum ${SGD.momentum}); ${THREADS} thread(s) each; medians of ${REPS} steps after 1 warm-up; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`torch ${String(torch.info.torch)} BLAS: ${blas.config?.join(' | ')}; loaded: ${blas.loaded?.join(', ') || 'none'}; openblas-pthread: ${blas.openblas_pthread ? 'yes' : 'NO (figures not comparable)'}`);
    console.log(`gradients: loss ours ${lossOurs.toFixed(6)} torch ${lossTorch.toFixed(6)}; relative error ours vs torch (float32) per tensor max ${worst.e.toExponential(2)} (${worst.p}), median ${median(errors.map((x) => x.e)).toExponential(2)} over ${params.length} tensors`);
    console.log(`  against torch float64: ours max ${worst64.ours64.toExponential(2)} (${worst64.p}; torch float32 there ${worst64.torch64.toExponential(2)}), median ours ${median(errors.map((x) => x.ours64)).toExponential(2)} / torch float32 ${median(errors.map((x) => x.torch64)).toExponential(2)}; tensors where ours exceeds 3× torch's float32 error: ${offenders.length === 0 ? 'none' : offenders.map((x) => x.p).join(', ')}`);
    console.log(`analytic FLOPs per step: forward ${(flops.forward / 1e9).toFixed(1)} G, backward ${(flops.backward / 1e9).toFixed(1)} G, total ${gflop.toFixed(1)} G; assumed peak ${PEAK.gflops.toFixed(0)} GFLOP/s (${PEAK.description})`);
    console.log('| | forward s | backward s | optimizer s | step s | step CPU s | GFLOP/s | % of peak | peak RSS MB |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const row = (name: string, f: number, b: number, o: number, st: number, cpu: number, rss: number): void =>
      console.log(`| ${name} | ${s(f)} | ${s(b)} | ${s(o)} | ${s(st)} | ${s(cpu)} | ${(gflop / (st / 1000)).toFixed(1)} | ${((100 * gflop) / (st / 1000) / PEAK.gflops).toFixed(0)}% | ${rss.toFixed(0)} |`);
    row('torch eager', median(theirs.fwd), median(theirs.bwd), median(theirs.opt), torchStep, median(theirs.cpu), torchRss);
    // Our backward = training run (forward + backward) − forward-only eval run.
    row('ours (ORT + native SGD)', median(ours.fwd), median(ours.train) - median(ours.fwd), median(ours.opt), oursStep, median(ours.cpu), process.resourceUsage().maxRSS / 1024);
    if (PROFILE) {
      // A fresh session with the profiler on (the timed one stays unprofiled); 3 runs after the first.
      const runs = 3;
      const prof = await ort.InferenceSession.create(serializeModel(art.training), { ...opts, enableProfiling: true, profileFilePrefix: path.join(dir, 'profile') });
      const profiledWall: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const t0 = performance.now();
        await prof.run(feeds());
        profiledWall.push(performance.now() - t0);
      }
      await prof.release(); // onnxruntime writes the profile when the session ends
      const profile = readProfile(path.join(dir, readdirSync(dir).find((f) => f.startsWith('profile'))!));
      const byOp = profileBy(profile.kernels);
      const total = [...byOp.values()].reduce((a, b) => a + b, 0);
      console.log(`onnxruntime kernel time of the training graph, ms per run (${runs + 1} profiled runs, the first included): total ${(total / (runs + 1)).toFixed(1)}`);
      for (const [op, ms] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${op.padEnd(20)} ${(ms / (runs + 1)).toFixed(1).padStart(7)}  ${((100 * ms) / total).toFixed(1)}%`);
      // By role, the first (one-time work) run left out.
      const byRole = profileBy(profile.kernels, trainingRole, 1);
      const perRun = (role: string): number => (byRole.get(role) ?? 0) / runs;
      const kernels = [...byRole.values()].reduce((a, b) => a + b, 0) / runs;
      console.log(`by role in the step, ms per run (the ${runs} runs after the first): ${kernels.toFixed(1)} in all`);
      for (const [role, ms] of [...byRole].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.log(`  ${role.padEnd(58)} ${(ms / runs).toFixed(1).padStart(7)}`);
      const products = MATRIX_PRODUCTS.reduce((a, r) => a + perRun(r), 0);
      // session.run's wall time (as timed above, building the feeds' tensor wrappers included) beyond
      // onnxruntime's own model_run: the binding wraps the inputs and copies every output into a new JavaScript buffer.
      const outside = profile.runMs.slice(1).map((ms, i) => profiledWall[i + 1]! - ms);
      console.log(`session.run beyond onnxruntime's model_run (the binding's input wrapping and output copies): ${outside.map((ms) => ms.toFixed(1)).join(', ')} ms in those runs`);
      console.log(
        `matrix products (${MATRIX_PRODUCTS.length} roles above) ${products.toFixed(1)} ms + our SGD step ${median(ours.opt).toFixed(1)} ms = ${(products + median(ours.opt)).toFixed(0)} ms, ` +
          `against torch's whole step ${torchStep.toFixed(0)} ms; the other kernels (${(kernels - products).toFixed(1)} ms) and the binding's copies are what a ratio ≤ 1.0 must lose`,
      );
    }
    if (AB) console.log(`A/B: training graph (forward + backward) ${s(median(ours.train))} s now vs ${s(median(oldTrain))} s with the earlier formulations (same run, medians; peak RSS above includes both sessions)`);
    console.log(`ratio ours / torch: ${(oursStep / torchStep).toFixed(2)} wall, ${(median(ours.cpu) / median(theirs.cpu)).toFixed(2)} CPU; graph build + session creation ${buildS.toFixed(1)} s (once)`);
    if (offenders.length > 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
