/**
 * Faster R-CNN R50-FPN inference benchmark (issue 5): ours (Detector: ORT segments + native
 * kernels) vs onnxruntime-node running torchvision's own ONNX export of the same weights, and vs
 * torch eager, on the same image, in one run.
 *
 *   npm run bench:detector     REPS=n (default 7), SIZE=512, MIN_SIZE=800, MAX_SIZE=1333,
 *                              THREADS=2, PROFILE=1 (per-node ORT profiles), KEEP=dir (reuse/keep
 *                              the export in dir), SIDES=ours,ort,torch
 *
 * 1. scripts/export_torchvision_onnx.py (/usr/bin/python3) builds the seeded random
 *    fasterrcnn_resnet50_fpn of scripts/export_torchvision.py (91 classes, frozen BN, predictor
 *    calibrated so detections pass 0.05) with torchvision's default transform (min_size 800,
 *    max_size 1333: the 512×512 image is resized to 800×800), writes its weights, torch eager's
 *    detections and torchvision's ONNX export (torch.onnx.export, opset 11, whole model
 *    including transform and postprocess).
 * 2. Each side runs in its own child process, so that each peak RSS is its own: ours (a Node
 *    child: Detector.load of the weights, default resnet50-fpn config), ORT-export (a Node child:
 *    an onnxruntime-node session over model.onnx with ORT's standard CPU options) and torch
 *    eager (scripts/export_torchvision.py --serve, which rebuilds the same seeded model; its
 *    weights file is checked byte for byte against the export's). THREADS intra-op threads
 *    (1 inter-op) everywhere. Timed runs include the uint8 → float conversion on every side.
 * 3. One warm-up each, then REPS rounds; each round runs the three sides one after the other in
 *    a rotating order, so all see the same machine load. Medians of wall time and of the child's
 *    CPU time (all threads), ratios (of the medians, and the median of per-round ratios), our
 *    per-stage split, detection agreement of every pair
 *    (count, labels, max |Δbox|, max |Δscore|; the issue asks boxes ≤ 0.01 px, scores ≤ 1e-4).
 * 4. PROFILE=1: after the timed rounds, one more run of ours and of the ORT export with ORT's
 *    profiler on; prints ORT time per operator type for the export and for our segments.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Detector } from '../src/infer/detector.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { packageRoot } from '../src/native.js';
import { median, profileByOp } from './bench-util.js';

const env = process.env;
const reps = Number(env.REPS ?? 7);
const size = Number(env.SIZE ?? 512);
const minSize = Number(env.MIN_SIZE ?? 800);
const maxSize = Number(env.MAX_SIZE ?? 1333);
const threads = Number(env.THREADS ?? 2);
const profile = env.PROFILE === '1';

interface Dets { boxes: number[]; scores: number[]; labels: number[] }
interface RunReply { wall_s: number; cpu_s: number; timings?: Record<string, number>; inputShape?: number[]; imageSize?: number[] }

// ---------------------------------------------------------------- child: one side, line protocol
async function worker(side: 'ours' | 'ort', dir: string): Promise<void> {
  const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
  const img = ref.get('image')!;
  const [h, w] = img.shape as [number, number, number];
  const u8 = img.data as Uint8Array;
  const rgb = { data: u8, height: h, width: w, channels: 3 as const };
  const profDir = path.join(dir, `profile-${side}`);
  let run: (prof: boolean) => Promise<{ dets: Dets; extra?: Partial<RunReply> }>;
  let release: () => Promise<void>;
  if (side === 'ours') {
    const load = (prof: boolean) => Detector.load(path.join(dir, 'weights.safetensors'), 'resnet50-fpn', {
      threads, provider: 'cpu', config: { transform: { minSize, maxSize } }, ...(prof ? { profilePrefix: path.join(profDir, 'ours') } : {}),
    });
    let det = await load(false);
    run = async (prof) => {
      if (prof) {
        await det.release();
        rmSync(profDir, { recursive: true, force: true }); // only this run's files (KEEP reuses dir)
        mkdirSync(profDir, { recursive: true });
        det = await load(true);
        await det.detect(rgb); // the profile then holds a warm run and this one: halve below
      }
      const r = await det.detect(rgb, { debug: true });
      return { dets: { boxes: Array.from(r.boxes), scores: Array.from(r.scores), labels: Array.from(r.labels) }, extra: { timings: r.timings!, inputShape: r.inputShape!, imageSize: r.imageSize! } };
    };
    release = () => det.release();
  } else {
    const file = path.join(dir, 'model.onnx');
    // The reference keeps ORT's standard CPU options (all graph optimizations, THREADS intra-op
    // threads, one inter-op), fixed here so that tuning our sessions never changes it.
    const options = (profilePrefix?: string): ort.InferenceSession.SessionOptions => ({
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
      ...(profilePrefix ? { enableProfiling: true, profileFilePrefix: profilePrefix } : {}),
    });
    let session = await ort.InferenceSession.create(file, options());
    run = async (prof) => {
      if (prof) {
        await session.release();
        rmSync(profDir, { recursive: true, force: true }); // only this run's files (KEEP reuses dir)
        mkdirSync(profDir, { recursive: true });
        session = await ort.InferenceSession.create(file, options(path.join(profDir, 'ort')));
        await run(false);
      }
      // torchvision's to_tensor: uint8 HWC → float CHW / 255 (the export normalises, resizes, pads).
      const plane = h * w;
      const x = new Float32Array(3 * plane);
      for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = u8[i * 3 + c]! / 255;
      const o = await session.run({ images: new ort.Tensor('float32', x, [3, h, w]) });
      return { dets: { boxes: Array.from(o.boxes!.data as Float32Array), scores: Array.from(o.scores!.data as Float32Array), labels: Array.from(o.labels!.data as BigInt64Array, Number) } };
    };
    release = () => session.release();
  }
  const send = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
  send({ ready: true });
  let last: Dets | undefined;
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'run') {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await run(false);
      const c = process.cpuUsage(c0);
      last = r.dets;
      send({ wall_s: (performance.now() - t0) / 1000, cpu_s: (c.user + c.system) / 1e6, ...r.extra });
    } else if (cmd === 'dets') {
      send(last);
    } else if (cmd === 'profile') {
      await run(true);
      await release(); // ORT writes the profile when the session ends
      const files = readdirSync(profDir).map((f) => path.join(profDir, f));
      // ours: segment 1 and segment 2 each have a file; both profiles hold two runs (warm + timed).
      const byOp: Record<string, number> = {};
      for (const f of files) for (const [op, ms] of profileByOp(f)) byOp[op] = (byOp[op] ?? 0) + ms / 2;
      send({ byOp });
      process.exit(0);
    }
  }
  await release();
  send({ peak_rss_mb: process.resourceUsage().maxRSS / 1024 });
}

// ---------------------------------------------------------------- parent
class Side {
  private readonly lines: AsyncIterator<string>;
  wall: number[] = [];
  cpu: number[] = [];
  replies: RunReply[] = [];
  constructor(readonly name: string, readonly proc: ChildProcess) {
    this.lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  }
  async next<T>(): Promise<T> {
    for (;;) {
      const { value, done } = await this.lines.next();
      if (done) throw new Error(`${this.name} ended early`);
      if ((value as string).startsWith('{')) return JSON.parse(value as string) as T;
    }
  }
  async ask<T>(cmd: string): Promise<T> {
    this.proc.stdin!.write(cmd + '\n');
    return this.next<T>();
  }
  async timed(record: boolean): Promise<void> {
    const r = await this.ask<RunReply>('run');
    if (!record) return;
    this.wall.push(r.wall_s);
    this.cpu.push(r.cpu_s);
    this.replies.push(r);
  }
  async finish(): Promise<number> {
    this.proc.stdin!.end();
    return (await this.next<{ peak_rss_mb: number }>()).peak_rss_mb;
  }
}

function python(args: string[]): ChildProcess {
  return spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...env, OMP_NUM_THREADS: String(threads) } });
}

function compare(a: Dets, b: Dets): string {
  const n = Math.min(a.scores.length, b.scores.length);
  let dBox = 0, dScore = 0, labels = a.scores.length === b.scores.length;
  for (let i = 0; i < n; i++) {
    if (a.labels[i] !== b.labels[i]) labels = false;
    dScore = Math.max(dScore, Math.abs(a.scores[i]! - b.scores[i]!));
    for (let c = 0; c < 4; c++) dBox = Math.max(dBox, Math.abs(a.boxes[4 * i + c]! - b.boxes[4 * i + c]!));
  }
  const ok = labels && dBox <= 0.01 && dScore <= 1e-4;
  return `${a.scores.length} vs ${b.scores.length}, labels ${labels ? 'identical' : 'DIFFER'}, max |Δbox| ${dBox.toExponential(2)} px, max |Δscore| ${dScore.toExponential(2)} → ${ok ? 'agree' : 'DISAGREE'}`;
}

async function main(): Promise<void> {
  const sides = (env.SIDES ?? 'ours,ort,torch').split(',');
  const dir = env.KEEP ?? mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-detector-'));
  const exportArgs = ['--out-dir', dir, '--arch', 'resnet50', '--num-classes', '91', '--synthetic', `${size}x${size}`,
    '--min-size', String(minSize), '--max-size', String(maxSize), '--threads', String(threads)];
  try {
    const infoFile = path.join(dir, 'onnx.json');
    const kept = existsSync(infoFile) ? (JSON.parse(readFileSync(infoFile, 'utf8')) as Record<string, unknown>) : undefined;
    // A KEEP folder is reused only for the same image and sizes.
    if (!kept || kept.min_size !== minSize || kept.max_size !== maxSize || JSON.stringify(kept.input_shape) !== JSON.stringify([3, size, size])) {
      const p = python([path.join(packageRoot, 'scripts', 'export_torchvision_onnx.py'), ...exportArgs]);
      p.stdout!.pipe(process.stderr);
      const code = await new Promise<number | null>((res) => p.on('exit', res));
      if (code !== 0) throw new Error(`export_torchvision_onnx.py failed (${code})`);
    }
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as Record<string, unknown>;
    const self = fileURLToPath(import.meta.url);
    const all: Side[] = [];
    if (sides.includes('ours')) all.push(new Side('ours', spawn(process.execPath, [self, '--worker', 'ours', dir], { stdio: ['pipe', 'pipe', 'inherit'] })));
    if (sides.includes('ort')) all.push(new Side('ORT export', spawn(process.execPath, [self, '--worker', 'ort', dir], { stdio: ['pipe', 'pipe', 'inherit'] })));
    if (sides.includes('torch')) {
      const tdir = path.join(dir, 'torch');
      all.push(new Side('torch eager', python([path.join(packageRoot, 'scripts', 'export_torchvision.py'), ...exportArgs.map((a) => (a === dir ? tdir : a)), '--serve'])));
    }
    let torchVersion = '';
    for (const s of all) {
      const hello = await s.next<{ torch?: string }>();
      if (hello.torch) torchVersion = hello.torch;
    }
    if (sides.includes('torch')) {
      const same = readFileSync(path.join(dir, 'weights.safetensors')).equals(readFileSync(path.join(dir, 'torch', 'weights.safetensors')));
      if (!same) throw new Error('torch eager rebuilt different weights than the ONNX export');
    }
    for (const s of all) await s.timed(false); // warm-up
    for (let i = 0; i < reps; i++) for (let j = 0; j < all.length; j++) await all[(i + j) % all.length]!.timed(true);
    const load = os.loadavg()[0]!;

    const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
    const torchDets: Dets = {
      boxes: Array.from(ref.get('boxes')!.data as Float32Array), scores: Array.from(ref.get('scores')!.data as Float32Array),
      labels: Array.from(ref.get('labels')!.data as BigInt64Array, Number),
    };
    const dets = new Map<string, Dets>();
    for (const s of all) if (s.name !== 'torch eager') dets.set(s.name, await s.ask<Dets>('dets'));
    const byOp = new Map<string, Record<string, number>>();
    const rss = new Map<string, number>();
    for (const s of all) {
      if (profile && s.name !== 'torch eager') byOp.set(s.name, (await s.ask<{ byOp: Record<string, number> }>('profile')).byOp);
      else rss.set(s.name, await s.finish());
    }

    const ours = all.find((s) => s.name === 'ours');
    const shape = ours?.replies[0]?.inputShape;
    console.log(`Faster R-CNN R50-FPN inference, ${size}x${size} image, min_size ${minSize} / max_size ${maxSize}` +
      `${shape ? ` (ours: resized ${ours!.replies[0]!.imageSize!.join('x')}, batch ${shape.join('x')})` : ''}, ${threads} threads, ` +
      `rotating interleaved order, median of ${reps} (load average ${load.toFixed(1)} at the end)`);
    console.log(`  ORT export: torch ${String(info.torch)} / torchvision ${String(info.torchvision)}, opset ${String(info.opset)}, ${info.dynamic ? 'dynamic' : 'fixed'} input shape ${JSON.stringify(info.input_shape)}; torch eager ${torchVersion}`);
    for (const s of all) {
      console.log(`  ${s.name.padEnd(12)}: ${median(s.wall).toFixed(3)} s wall, ${median(s.cpu).toFixed(3)} s CPU` +
        `${rss.has(s.name) ? `   peak RSS ${rss.get(s.name)!.toFixed(0)} MB` : ''}   (runs ${s.wall.map((x) => x.toFixed(2)).join(' ')})`);
    }
    for (const s of all) {
      if (s === ours || !ours) continue;
      // Paired: each round's ratio (the two runs were adjacent in time), then the median; steadier
      // than the ratio of medians when the machine's load swings between rounds.
      const paired = median(ours.wall.map((w, i) => w / s.wall[i]!));
      console.log(`  ours / ${s.name.padEnd(12)}: ${(median(ours.wall) / median(s.wall)).toFixed(3)} wall, ${(median(ours.cpu) / median(s.cpu)).toFixed(3)} CPU` +
        ` (ratio of medians); median of per-round ratios ${paired.toFixed(3)} wall`);
    }
    if (ours) {
      const stages: Record<string, number[]> = {};
      for (const r of ours.replies) for (const [k, v] of Object.entries(r.timings ?? {})) (stages[k] ??= []).push(v);
      console.log(`  our stages (median ms): ${Object.entries(stages).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')}`);
    }
    const named = [...dets.entries(), ['torch eager', torchDets] as const];
    for (let i = 0; i < named.length; i++) {
      for (let j = i + 1; j < named.length; j++) console.log(`  detections ${named[i]![0]} vs ${named[j]![0]}: ${compare(named[i]![1], named[j]![1])}`);
    }
    for (const [name, ops] of byOp) {
      const total = Object.values(ops).reduce((a, b) => a + b, 0);
      const top = Object.entries(ops).sort((a, b) => b[1] - a[1]);
      console.log(`  ORT profile, ${name} (ms per run by operator, ${total.toFixed(0)} total): ${top.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    }
  } finally {
    if (!env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

const wi = process.argv.indexOf('--worker');
if (wi >= 0) await worker(process.argv[wi + 1] as 'ours' | 'ort', process.argv[wi + 2]!);
else await main();
