/**
 * Faster R-CNN R50-FPN inference benchmark: ours (Detector: ORT segments + native kernels) vs
 * torch eager on the same weights and image, in one run.
 *
 *   npm run bench:detector            (REPS=n repetitions, default 5; SIZE=512)
 *
 * scripts/export_torchvision.py (/usr/bin/python3, 2 threads) builds a seeded random
 * fasterrcnn_resnet50_fpn (91 classes, frozen BN, predictor calibrated so detections pass 0.05),
 * writes its weights, runs it on a synthetic SIZE×SIZE image with min_size = max_size = SIZE
 * (no upscaling to 800) and reports the median of REPS eager runs and its peak RSS. Then ours
 * loads the same weights with 2 intra-op threads and runs the same image REPS times.
 * Prints both medians (wall and CPU time of all threads), the ratios, our per-stage split, whether the detections agree
 * (count, labels, max |Δbox|, max |Δscore|) and peak RSS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Detector } from '../src/infer/detector.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { packageRoot } from '../src/native.js';

const reps = Number(process.env.REPS ?? 5);
const size = Number(process.env.SIZE ?? 512);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-detector-'));
try {
  const out = execFileSync('/usr/bin/python3', [
    path.join(packageRoot, 'scripts', 'export_torchvision.py'), '--out-dir', dir, '--arch', 'resnet50', '--num-classes', '91',
    '--synthetic', `${size}x${size}`, '--min-size', String(size), '--max-size', String(size), '--bench', String(reps), '--threads', '2',
  ], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  const torch = JSON.parse(out.trim().split('\n').pop()!) as { median_s: number; median_cpu_s: number; runs_s: number[]; peak_rss_mb: number; torch: string; detections: number };

  const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
  const img = ref.get('image')!;
  const rgb = { data: img.data as Uint8Array, height: size, width: size, channels: 3 as const };
  const tLoad = performance.now();
  const det = await Detector.load(path.join(dir, 'weights.safetensors'), 'resnet50-fpn', { threads: 2, provider: 'cpu', config: { transform: { minSize: size, maxSize: size } } });
  const loadMs = performance.now() - tLoad;
  let r = await det.detect(rgb, { debug: true });
  const times: number[] = [];
  const cpu: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    r = await det.detect(rgb, { debug: true });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    for (const [k, v] of Object.entries(r.timings!)) (stages[k] ??= []).push(v);
  }
  await det.release();

  const boxes = ref.get('boxes')!.data as Float32Array;
  const scores = ref.get('scores')!.data as Float32Array;
  const labels = Array.from(ref.get('labels')!.data as BigInt64Array, Number);
  const same = r.scores.length === scores.length && labels.every((l, i) => l === r.labels[i]);
  let dBox = 0, dScore = 0;
  for (let i = 0; i < Math.min(scores.length, r.scores.length); i++) {
    dScore = Math.max(dScore, Math.abs(scores[i]! - r.scores[i]!));
    for (let c = 0; c < 4; c++) dBox = Math.max(dBox, Math.abs(boxes[4 * i + c]! - r.boxes[4 * i + c]!));
  }
  const ours = median(times) / 1000;
  const oursCpu = median(cpu) / 1000;
  console.log(`Faster R-CNN R50-FPN inference, ${size}x${size}, 2 threads, median of ${reps} (load average ${os.loadavg()[0]!.toFixed(1)})`);
  console.log(`  torch ${torch.torch} eager : ${torch.median_s.toFixed(3)} s wall, ${torch.median_cpu_s.toFixed(3)} s CPU   peak RSS ${torch.peak_rss_mb.toFixed(0)} MB`);
  console.log(`  ours (ORT + native) : ${ours.toFixed(3)} s wall, ${oursCpu.toFixed(3)} s CPU   peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB   (load + session creation ${(loadMs / 1000).toFixed(1)} s)`);
  console.log(`  ratio ours / torch  : ${(ours / torch.median_s).toFixed(2)} wall, ${(oursCpu / torch.median_cpu_s).toFixed(2)} CPU (CPU time is the less load-dependent figure on a shared machine)`);
  console.log(`  our stages (median ms): ${Object.entries(stages).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')}`);
  console.log(`  detections: torch ${scores.length}, ours ${r.scores.length}, labels ${same ? 'identical' : 'DIFFER'}, max |Δbox| ${dBox.toExponential(2)} px, max |Δscore| ${dScore.toExponential(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
