/**
 * `npm run bench:merge [-- --runs N --sets N --concurrency N --no-python --json]`
 *
 * Times, in one run over the same sets (built from ../shared/data/hpa/kaggle-channels: 4
 * consecutive files, sorted by name, form a set red, green, blue, yellow), three pipelines that
 * each write one RGB PNG per set at zlib level 6:
 *   (a) the seed-style Python baseline via /usr/bin/python3: PIL decodes the 4 PNGs, numpy merges,
 *       PIL encodes (compress_level=6), one set after another (skipped when numpy/PIL are absent);
 *   (b) a plain sharp pipeline: sharp decodes the 4 files (concurrently), a JS loop merges, sharp
 *       encodes (compressionLevel 6), one set after another;
 *   (c) ours: mergeFolder() (sharp decode, native fused merge, native-filtered PNG + zlib 6, a
 *       small pool of sets in flight).
 * Prints the median of `runs` timings as sets/s, ratios, output bytes, and checks that all three
 * wrote the same pixels. Then times the merge kernel alone (GB/s of input, one core) and sharp's
 * two PNG filter choices at zlib level 6. Timings on a shared machine are noisy: read medians.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, copyFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { native, packageRoot } from '../src/native.js';
import { mergeFolder, defaultMergeConcurrency } from '../src/hpa/merge-folder.js';
import { mergeChannelsSync, type MergedImage } from '../src/hpa/merge.js';
import { decodeChannel } from '../src/hpa/decode.js';

const CH = ['red', 'green', 'blue', 'yellow'] as const;
const PYTHON = '/usr/bin/python3';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const runs = flag('runs', 5);
const setCount = flag('sets', 50);
const concurrency = flag('concurrency', defaultMergeConcurrency());
const usePython = !process.argv.includes('--no-python');
const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(`${s}\n`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function buildInput(): string {
  const src = process.env.HPA_SHARED_DATA
    ? path.join(process.env.HPA_SHARED_DATA, 'hpa', 'kaggle-channels')
    : path.resolve(packageRoot, '..', 'shared', 'data', 'hpa', 'kaggle-channels');
  if (!existsSync(src)) throw new Error(`${src} not found: the benchmark needs ../shared/data`);
  const files = readdirSync(src).filter((f) => f.endsWith('.png')).sort();
  if (files.length < 4 * setCount) throw new Error(`need ${4 * setCount} channel files in ${src}, found ${files.length}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-merge-in-'));
  for (let s = 0; s < setCount; s++) {
    CH.forEach((c, k) => copyFileSync(path.join(src, files[4 * s + k]!), path.join(dir, `set${String(s).padStart(3, '0')}_${c}.png`)));
  }
  return dir;
}

const PY_BASELINE = String.raw`
import sys, os, time, json
import numpy as np
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
ids = sorted({f.rsplit('_', 1)[0] for f in os.listdir(src)})
t, c = time.perf_counter(), time.process_time()
for i in ids:
    r, g, b, y = (np.asarray(Image.open(os.path.join(src, f'{i}_{c}.png'))).astype(np.uint16)
                  for c in ('red', 'green', 'blue', 'yellow'))
    half = y // 2
    rgb = np.stack([np.minimum(255, r + half), np.minimum(255, g + half), b], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, 'RGB').save(os.path.join(out, f'{i}.png'), compress_level=6)
print(json.dumps({'seconds': time.perf_counter() - t, 'cpu': time.process_time() - c}))
`;

function pythonAvailable(): boolean {
  if (!usePython || !existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import numpy, PIL'], { stdio: 'ignore' }).status === 0;
}

/** Wall and CPU seconds (CPU: all threads of the process, user + system) of one pipeline run. */
interface Timing {
  seconds: number;
  cpu: number;
}

async function runPython(input: string, out: string): Promise<Timing> {
  const r = spawnSync(PYTHON, ['-c', PY_BASELINE, input, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python baseline failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Timing;
}

async function timed(fn: () => Promise<unknown>): Promise<Timing> {
  const c = process.cpuUsage();
  const t = performance.now();
  await fn();
  const used = process.cpuUsage(c);
  return { seconds: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6 };
}

/** (b): what a user of sharp writes first: default raw decode, JS loop, sharp PNG encode. */
async function mergePlain(input: string, out: string, id: string): Promise<void> {
  const [r, g, b, y] = await Promise.all(
    CH.map((c) => sharp(path.join(input, `${id}_${c}.png`)).raw().toBuffer({ resolveWithObject: true })),
  );
  const { width, height, channels } = r!.info;
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    const half = y!.data[j]! >> 1;
    rgb[3 * i] = Math.min(255, r!.data[j]! + half);
    rgb[3 * i + 1] = Math.min(255, g!.data[j]! + half);
    rgb[3 * i + 2] = b!.data[j]!;
  }
  await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toFile(path.join(out, `${id}.png`));
}

/**
 * The plain pipeline over all sets with `inFlight` sets at once: 1 is the naive loop; the same
 * number as ours is the fair comparison (the plain pipeline then also keeps both cores busy).
 */
function plainSharp(inFlight: number): (input: string, out: string) => Promise<Timing> {
  return (input, out) => {
    const ids = [...new Set(readdirSync(input).map((f) => f.slice(0, f.lastIndexOf('_'))))].sort();
    return timed(async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length) await mergePlain(input, out, ids[next++]!);
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
    });
  };
}

async function runOurs(input: string, out: string): Promise<Timing> {
  return timed(async () => {
    const s = await mergeFolder(input, out, { progress: false, summaryFile: null, concurrency });
    if (s.failed > 0) throw new Error(`ours: ${s.failed} sets failed: ${s.failures[0]?.reason}`);
  });
}

function folderBytes(dir: string): number {
  return readdirSync(dir).filter((f) => f.endsWith('.png')).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

async function samePixels(a: string, b: string): Promise<number> {
  let differing = 0;
  for (const f of readdirSync(a).filter((x) => x.endsWith('.png'))) {
    const [x, y] = await Promise.all([sharp(path.join(a, f)).raw().toBuffer(), sharp(path.join(b, f)).raw().toBuffer()]);
    if (!x.equals(y)) differing++;
  }
  return differing;
}

/** The native kernel alone on preallocated buffers (no allocation, no page faults in the timing). */
async function kernelAlone(width: number, threads: number): Promise<{ ms: number; best: number; gbPerS: number; bestGbPerS: number }> {
  const n = width * width;
  const planes = [0, 1, 2, 3].map((k) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + k * 31) & 255)));
  const layout = new Int32Array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
  const out = Buffer.alloc(3 * n);
  const kernel = native.mergeChannelsSync as (...a: unknown[]) => void;
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    kernel(planes, layout, width, width, 0, null, out, null, null, threads);
    times.push(performance.now() - t);
  }
  const ms = median(times);
  const best = Math.min(...times);
  return { ms, best, gbPerS: (4 * n) / (ms / 1000) / 1e9, bestGbPerS: (4 * n) / (best / 1000) / 1e9 };
}

async function filterChoices(input: string): Promise<Record<string, { msPerSet: number; bytes: number }>> {
  const ids = [...new Set(readdirSync(input).map((f) => f.slice(0, f.lastIndexOf('_'))))].sort().slice(0, 20);
  const merged: MergedImage[] = [];
  for (const id of ids) {
    const chans = await Promise.all(CH.map((c) => decodeChannel(path.join(input, `${id}_${c}.png`))));
    merged.push(mergeChannelsSync({ red: chans[0]!, green: chans[1]!, blue: chans[2]!, yellow: chans[3]! }));
  }
  const result: Record<string, { msPerSet: number; bytes: number }> = {};
  for (const adaptiveFiltering of [false, true]) {
    let bytes = 0;
    const t = await timed(async () => {
      for (const m of merged) {
        bytes += (await sharp(m.rgb, { raw: { width: m.width, height: m.height, channels: 3 } }).png({ compressionLevel: 6, adaptiveFiltering }).toBuffer()).length;
      }
    });
    result[`sharp ${adaptiveFiltering ? 'adaptive' : 'none'}`] = { msPerSet: (1000 * t.cpu) / merged.length, bytes };
  }
  return result;
}

async function main(): Promise<void> {
  sharp.cache(false);
  const input = buildInput();
  const python = pythonAvailable();
  const pipelines: [string, (i: string, o: string) => Promise<Timing>][] = [
    ...(python ? [['python (PIL+numpy)', runPython] as [string, typeof runPython]] : []),
    ['plain sharp + JS loop, 1 set at a time', plainSharp(1)],
    [`plain sharp + JS loop, ${concurrency} sets in flight`, plainSharp(concurrency)],
    ['ours (hpa-detect merge)', runOurs],
  ];
  if (!python) log('python baseline skipped: /usr/bin/python3 with numpy and PIL not found (or --no-python)');
  log(`merge benchmark: ${setCount} sets of 4 x 512x512 8-bit PNG, ${runs} runs each (interleaved), ` +
    `concurrency ${concurrency}, ${os.availableParallelism()} cores, sharp.concurrency ${sharp.concurrency()}`);
  const times: Record<string, Timing[]> = {};
  const outs: Record<string, string> = {};
  for (let run = 0; run < runs; run++) {
    for (const [name, fn] of pipelines) {
      const out = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-merge-out-'));
      (times[name] ??= []).push(await fn(input, out));
      if (outs[name]) rmSync(outs[name]!, { recursive: true, force: true });
      outs[name] = out;
    }
    log(`  run ${run + 1}/${runs} done`);
  }
  const rows = pipelines.map(([name]) => {
    const seconds = median(times[name]!.map((t) => t.seconds));
    const cpuMsPerSet = (1000 * median(times[name]!.map((t) => t.cpu))) / setCount;
    return { name, seconds, setsPerS: setCount / seconds, cpuMsPerSet, bytes: folderBytes(outs[name]!) };
  });
  const ours = rows[rows.length - 1]!;
  const names = pipelines.map(([n]) => n);
  const disagreements: Record<string, number> = {};
  for (const name of names.slice(0, -1)) disagreements[name] = await samePixels(outs[name]!, outs[ours.name]!);

  const kernel = { '512² 1 thread': await kernelAlone(512, 1), '2048² 1 thread': await kernelAlone(2048, 1), '2048² all threads': await kernelAlone(2048, 0) };
  const filters = await filterChoices(input);
  for (const dir of [input, ...Object.values(outs)]) rmSync(dir, { recursive: true, force: true });

  const report = { sets: setCount, runs, concurrency, rows, ratios: Object.fromEntries(rows.slice(0, -1).map((r) => [r.name, ours.setsPerS / r.setsPerS])), disagreements, kernel, filters };
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  out.push('| pipeline | median s | sets/s | ours ÷ this (sets/s) | CPU ms/set | this ÷ ours (CPU) | output bytes | sets with other pixels than ours |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const ratio = r === ours ? '1.00' : (ours.setsPerS / r.setsPerS).toFixed(2);
    const cpuRatio = (r.cpuMsPerSet / ours.cpuMsPerSet).toFixed(2);
    out.push(`| ${r.name} | ${r.seconds.toFixed(2)} | ${r.setsPerS.toFixed(1)} | ${ratio} | ${r.cpuMsPerSet.toFixed(1)} | ${cpuRatio} | ${r.bytes} | ${r === ours ? '-' : disagreements[r.name]} |`);
  }
  out.push('', '| merge kernel alone (sum, 4 gray planes, 30 calls) | median ms | GB/s of input (median) | best ms | GB/s (best) |', '| --- | --- | --- | --- | --- |');
  for (const [k, v] of Object.entries(kernel)) out.push(`| ${k} | ${v.ms.toFixed(3)} | ${v.gbPerS.toFixed(2)} | ${v.best.toFixed(3)} | ${v.bestGbPerS.toFixed(2)} |`);
  out.push('', '| PNG encode of merged 512² RGB, zlib 6 (20 sets) | CPU ms/set | bytes |', '| --- | --- | --- |');
  for (const [k, v] of Object.entries(filters)) out.push(`| ${k} | ${v.msPerSet.toFixed(1)} | ${v.bytes} |`);
  process.stdout.write(`${out.join('\n')}\n`);
  const bad = Object.entries(disagreements).filter(([, n]) => n > 0);
  if (bad.length > 0) {
    process.stderr.write(`pixel disagreement: ${bad.map(([n, c]) => `${n}: ${c} sets`).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`bench-merge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
