/**
 * Faster R-CNN R50-FPN inference benchmark: ours (Detector: ORT segments + native kernels) vs
 * torch eager on the same weights and image, in one run.
 *
 *   npm run bench:detector            (REPS=n repetitions, default 5; SIZE=512)
 *
 * scripts/export_torchvision.py (/usr/bin/python3, 2 threads) builds a seeded random
 * fasterrcnn_resnet50_fpn (91 classes, frozen BN, predictor calibrated so detections pass 0.05),
 * writes its weights and its detections on a synthetic SIZE×SIZE image with min_size = max_size =
 * SIZE (no upscaling to 800), then stays up answering timed eager runs. Ours loads the same
 * weights with 2 intra-op threads. After one warm-up each, every repetition runs torch then ours,
 * so both see the same machine load. Prints medians (wall time and CPU time of all threads), the
 * ratios, our per-stage split, whether the detections agree (count, labels, max |Δbox|,
 * max |Δscore|) and peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Detector } from '../src/infer/detector.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { packageRoot } from '../src/native.js';

const reps = Number(process.env.REPS ?? 5);
const size = Number(process.env.SIZE ?? 512);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-detector-'));
const py = spawn('/usr/bin/python3', [
  path.join(packageRoot, 'scripts', 'export_torchvision.py'), '--out-dir', dir, '--arch', 'resnet50', '--num-classes', '91',
  '--synthetic', `${size}x${size}`, '--min-size', String(size), '--max-size', String(size), '--serve', '--threads', '2',
], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
async function nextJson(): Promise<Record<string, number | string | boolean>> {
  const { value, done } = await lines.next();
  if (done) throw new Error('export_torchvision.py ended early');
  return JSON.parse(value as string);
}
async function torchRun(): Promise<{ wall_s: number; cpu_s: number }> {
  py.stdin.write('run\n');
  return (await nextJson()) as unknown as { wall_s: number; cpu_s: number };
}

try {
  const hello = await nextJson();
  const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
  const img = ref.get('image')!;
  const rgb = { data: img.data as Uint8Array, height: size, width: size, channels: 3 as const };
  const tLoad = performance.now();
  const det = await Detector.load(path.join(dir, 'weights.safetensors'), 'resnet50-fpn', { threads: 2, provider: 'cpu', config: { transform: { minSize: size, maxSize: size } } });
  const loadMs = performance.now() - tLoad;
  await torchRun();
  let r = await det.detect(rgb, { debug: true });
  const ours = { wall: [] as number[], cpu: [] as number[] };
  const torch = { wall: [] as number[], cpu: [] as number[] };
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < reps; i++) {
    const t = await torchRun();
    torch.wall.push(t.wall_s);
    torch.cpu.push(t.cpu_s);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    r = await det.detect(rgb, { debug: true });
    ours.wall.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    ours.cpu.push((c.user + c.system) / 1e6);
    for (const [k, v] of Object.entries(r.timings!)) (stages[k] ??= []).push(v);
  }
  await det.release();
  py.stdin.end();
  const rss = (await nextJson()) as unknown as { peak_rss_mb: number };

  const boxes = ref.get('boxes')!.data as Float32Array;
  const scores = ref.get('scores')!.data as Float32Array;
  const labels = Array.from(ref.get('labels')!.data as BigInt64Array, Number);
  const same = r.scores.length === scores.length && labels.every((l, i) => l === r.labels[i]);
  let dBox = 0, dScore = 0;
  for (let i = 0; i < Math.min(scores.length, r.scores.length); i++) {
    dScore = Math.max(dScore, Math.abs(scores[i]! - r.scores[i]!));
    for (let c = 0; c < 4; c++) dBox = Math.max(dBox, Math.abs(boxes[4 * i + c]! - r.boxes[4 * i + c]!));
  }
  const [ow, oc, tw, tc] = [median(ours.wall), median(ours.cpu), median(torch.wall), median(torch.cpu)];
  console.log(`Faster R-CNN R50-FPN inference, ${size}x${size}, 2 threads, interleaved, median of ${reps} (load average ${os.loadavg()[0]!.toFixed(1)})`);
  console.log(`  torch ${hello.torch} eager : ${tw.toFixed(3)} s wall, ${tc.toFixed(3)} s CPU   peak RSS ${rss.peak_rss_mb.toFixed(0)} MB`);
  console.log(`  ours (ORT + native) : ${ow.toFixed(3)} s wall, ${oc.toFixed(3)} s CPU   peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB   (load + session creation ${(loadMs / 1000).toFixed(1)} s)`);
  console.log(`  ratio ours / torch  : ${(ow / tw).toFixed(2)} wall, ${(oc / tc).toFixed(2)} CPU`);
  console.log(`  our stages (median ms): ${Object.entries(stages).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')}`);
  console.log(`  detections: torch ${scores.length}, ours ${r.scores.length}, labels ${same ? 'identical' : 'DIFFER'}, max |Δbox| ${dBox.toExponential(2)} px, max |Δscore| ${dScore.toExponential(2)}`);
} finally {
  if (py.exitCode === null) py.kill();
  rmSync(dir, { recursive: true, force: true });
}
