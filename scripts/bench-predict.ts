/**
 * Throughput of `hpa-detect predict` (predictFiles: load → detect → write pipeline) over merged
 * 512×512 synthetic HPA images, default batch/concurrency vs one-at-a-time, and the cost of the
 * per-box channel means on a full HPA field.
 *
 *   npm run bench:predict    COUNT=200 images, REPS=3 runs per configuration, PRESETS=light,resnet50-fpn,
 *                            CONFIGS=serial,default (or b<batch>c<concurrency>, e.g. b2c6), THREADS
 *                            (ORT intra-op; default: ORT's, one per core), THRESHOLD=0.3, KEEP=dir
 *
 * 1. `synthesizeDataset` (seed 1, 512², standard) + `mergeFolder` write COUNT merged PNGs (kept in
 *    KEEP when given, reused when already there).
 * 2. Every run is a child process (so its peak RSS, process.resourceUsage().maxRSS, is its own):
 *    Detector.fromWeights(preset with numClasses 3 and min = max size 512, RandomWeights(7)), then
 *    predictFiles over the folder into a fresh output folder with all outputs (CSV, JSON, VOC,
 *    overlays). Only predictFiles is timed (sessions are created before): wall time, and the child's
 *    CPU time (all threads: shows the work is the same when wall times differ). Runs of the configurations
 *    alternate (serial, default, serial, …) so they see the same machine load; medians are reported.
 * 3. Every configuration's predictions.json `images` must equal the serial one's (same detections,
 *    scores, boxes and means, bit for bit).
 * 4. With ../shared/data present: boxMeans over the four raw channels of the 2048² field 800_A6_1
 *    for 100 cell-sized boxes and 100 boxes covering most of the image, direct sums vs the
 *    summed-area table (median of 5 after a warm-up; direct sums over the large boxes: one run).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Detector } from '../src/infer/detector.js';
import { DEFAULT_BATCH, defaultConcurrency, listPredictInputs, predictFiles } from '../src/infer/predict-files.js';
import { loadPredictInput } from '../src/infer/predict-load.js';
import { boxMeans } from '../src/infer/predict-means.js';
import { mergeFolder } from '../src/hpa/merge-folder.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { packageRoot } from '../src/native.js';
import { synthesizeDataset } from '../src/synth/write.js';
import { median } from './bench-util.js';

const env = process.env;
const count = Number(env.COUNT ?? 200);
const reps = Number(env.REPS ?? 3);
const presets = (env.PRESETS ?? 'light,resnet50-fpn').split(',');
const configNames = (env.CONFIGS ?? 'serial,default').split(',');
const threads = env.THREADS ? Number(env.THREADS) : undefined;
const threshold = Number(env.THRESHOLD ?? 0.3);

interface Child { preset: string; batch: number; concurrency: number; images: string; out: string }
interface Reply { seconds: number; cpuSeconds: number; maxRssMB: number; images: number; detections: number; failures: number }

function parseConfig(name: string): { batch: number; concurrency: number } {
  if (name === 'serial') return { batch: 1, concurrency: 1 };
  if (name === 'default') return { batch: DEFAULT_BATCH, concurrency: defaultConcurrency(DEFAULT_BATCH) };
  const m = /^b(\d+)c(\d+)$/.exec(name);
  if (!m) throw new RangeError(`CONFIGS: unknown configuration '${name}' (serial, default or b<batch>c<concurrency>)`);
  return { batch: Number(m[1]), concurrency: Number(m[2]) };
}

async function child(c: Child): Promise<void> {
  const config = fasterRcnnConfig(c.preset, { arch: { numClasses: 3 }, transform: { minSize: 512, maxSize: 512 } });
  const det = await Detector.fromWeights(config, new RandomWeights(7), { threads });
  const { inputs } = await listPredictInputs([c.images]);
  const cpu0 = process.cpuUsage();
  const s = await predictFiles(det, inputs, { outDir: c.out, classNames: ['cell', 'nucleus'], scoreThreshold: threshold, batch: c.batch, concurrency: c.concurrency, overwrite: true });
  const cpu = process.cpuUsage(cpu0);
  await det.release();
  const reply: Reply = {
    seconds: s.seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024, images: s.predictions.length,
    detections: s.predictions.reduce((n, p) => n + p.detections.length, 0), failures: s.failures.length,
  };
  process.stdout.write(JSON.stringify(reply) + '\n');
}

async function makeImages(dir: string): Promise<string> {
  const merged = path.join(dir, 'merged');
  if (existsSync(merged) && readdirSync(merged).filter((f) => f.endsWith('.png')).length >= count) return merged;
  const t0 = performance.now();
  await synthesizeDataset({ outDir: path.join(dir, 'sets'), count, seed: 1, size: 512 });
  const m = await mergeFolder(path.join(dir, 'sets'), merged, { summaryFile: null });
  if (m.failed > 0) throw new Error(`merge failed for ${m.failed} sets`);
  console.log(`generated ${count} merged 512×512 images in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${merged}`);
  return merged;
}

function runChild(c: Child): Reply {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [script, '--child', JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child ${JSON.stringify(c)} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Reply;
}

function imagesOf(out: string): string {
  return JSON.stringify(JSON.parse(readFileSync(path.join(out, 'predictions.json'), 'utf8')).images);
}

async function meansBench(): Promise<void> {
  const fields = path.resolve(packageRoot, '..', 'shared', 'data', 'hpa', 'fields');
  if (!existsSync(fields)) return console.log(`box means: skipped (${fields} not found)`);
  const { inputs } = await listPredictInputs([path.join(fields, '800_A6_1_red.jpg')]);
  const loaded = await loadPredictInput(inputs[0]!);
  const { width, height } = loaded.rgb;
  const cells: number[][] = [];
  const large: number[][] = [];
  for (let k = 0; k < 100; k++) {
    const x = (k * 193) % (width - 200);
    const y = (k * 389) % (height - 200);
    cells.push([x + 0.3, y + 0.6, x + 150.2, y + 170.9]);
    large.push([k, k, width - k, height - 2 * k]);
  }
  const time = (boxes: number[][], method: 'direct' | 'table', reps = 5) => {
    if (reps > 1) boxMeans(loaded.planes, boxes, method);
    const ts: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      boxMeans(loaded.planes, boxes, method);
      ts.push(performance.now() - t0);
    }
    return median(ts).toFixed(1);
  };
  console.log(`box means, 4 raw channels of ${width}×${height} (tinted RGB JPEGs; yellow computed):`);
  console.log(`  100 boxes of ~150×170 px: direct ${time(cells, 'direct')} ms, table ${time(cells, 'table')} ms`);
  // Direct sums over 100 near-full boxes take seconds: one run is enough to show it.
  console.log(`  100 boxes covering most of the image: direct ${time(large, 'direct', 1)} ms (one run), table ${time(large, 'table')} ms`);
}

async function main(): Promise<void> {
  const dir = env.KEEP ?? mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-predict-'));
  mkdirSync(dir, { recursive: true });
  try {
    console.log(`bench:predict ${new Date().toISOString()} on ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`COUNT=${count} REPS=${reps} PRESETS=${presets.join(',')} CONFIGS=${configNames.join(',')} THRESHOLD=${threshold} THREADS=${threads ?? 'ORT default'}`);
    const images = await makeImages(dir);
    await meansBench();
    for (const preset of presets) {
      const results = new Map<string, Reply[]>(configNames.map((n) => [n, []]));
      const outs = new Map<string, string>();
      for (let r = 0; r < reps; r++) {
        for (const name of configNames) {
          const out = path.join(dir, `out-${preset}-${name}`);
          rmSync(out, { recursive: true, force: true });
          const reply = runChild({ preset, ...parseConfig(name), images, out });
          results.get(name)!.push(reply);
          outs.set(name, out);
          console.log(`  ${preset} ${name} run ${r + 1}: ${(reply.images / reply.seconds).toFixed(2)} images/s (${reply.seconds.toFixed(1)} s wall, ${reply.cpuSeconds.toFixed(1)} s CPU), peak RSS ${reply.maxRssMB.toFixed(0)} MB, ${reply.detections} detections, load ${os.loadavg()[0]!.toFixed(1)}`);
        }
      }
      const serial = imagesOf(outs.get(configNames[0]!)!);
      for (const name of configNames) {
        const rs = results.get(name)!;
        const same = imagesOf(outs.get(name)!) === serial;
        const { batch, concurrency } = parseConfig(name);
        console.log(
          `${preset} ${name} (batch ${batch}, concurrency ${concurrency}): median ${median(rs.map((x) => x.images / x.seconds)).toFixed(2)} images/s, CPU ${median(rs.map((x) => x.cpuSeconds / x.images)).toFixed(2)} s/image, ` +
            `peak RSS median ${median(rs.map((x) => x.maxRssMB)).toFixed(0)} MB, detections ${same ? 'identical to' : 'DIFFERENT from'} ${configNames[0]}`,
        );
        if (!same) process.exitCode = 1;
      }
    }
  } finally {
    if (!env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]!) as Child);
else await main();
