import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { native } from '../src/native.js';
import { Rng } from '../src/util/rng.js';
import { finishChannel } from '../src/synth/finish.js';
import { gaussianBlur, quantize, scale } from '../src/synth/filters.js';
import { fastAtan2 } from '../src/synth/shape.js';
import { repoRoot } from './helpers.js';
import { synthesizeDataset } from '../src/synth/write.js';
import { parseVocXml } from '../src/annotations/voc-read.js';
import { mergeFolder } from '../src/hpa/merge-folder.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `hpa-synth-${name}-`));
const SIZE = 512;

/** Every file under dir (relative path → bytes). */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out.set(path.relative(dir, full), readFileSync(full));
  }
  return out;
}

test('same seed gives byte-identical files; another seed differs; image k does not depend on --count', async () => {
  const a = tmp('a'), b = tmp('b'), c = tmp('c'), d = tmp('d');
  try {
    await synthesizeDataset({ outDir: a, count: 3, seed: 5 });
    await synthesizeDataset({ outDir: b, count: 3, seed: 5 });
    await synthesizeDataset({ outDir: c, count: 3, seed: 6 });
    await synthesizeDataset({ outDir: d, count: 2, seed: 5 });
    const ta = readTree(a), tb = readTree(b), tc = readTree(c), td = readTree(d);
    assert.ok(ta.size >= 3 * 5 + 1 + 3 * 6, `expected channels, XML, masks and manifest, got ${ta.size} files`);
    assert.deepEqual([...ta.keys()].sort(), [...tb.keys()].sort());
    for (const [file, bytes] of ta) assert.ok(bytes.equals(tb.get(file)!), `${file} differs between two runs with seed 5`);
    for (const ch of ['red', 'green', 'blue', 'yellow']) {
      assert.ok(!ta.get(`synth_0000_${ch}.png`)!.equals(tc.get(`synth_0000_${ch}.png`)!), `seed 6 must change ${ch}`);
    }
    for (const file of ['synth_0001_red.png', 'synth_0001.xml']) assert.ok(ta.get(file)!.equals(td.get(file)!), file);
    const manifest = JSON.parse(ta.get('manifest.json')!.toString('utf8'));
    assert.equal(manifest.seed, 5);
    assert.equal(manifest.difficulty, 'standard');
    assert.equal(manifest.images.length, 3);
    assert.deepEqual(manifest.params.cellsPerImage, [6, 20]);
  } finally {
    for (const dir of [a, b, c, d]) rmSync(dir, { recursive: true, force: true });
  }
});

test('easy and hard levels follow their parameters (separated cells; more crowding)', async () => {
  const easy = tmp('easy'), hard = tmp('hard');
  try {
    const me = await synthesizeDataset({ outDir: easy, count: 4, seed: 2, difficulty: 'easy' });
    const mh = await synthesizeDataset({ outDir: hard, count: 4, seed: 2, difficulty: 'hard' });
    for (const im of me.images) {
      assert.ok(im.cells >= 4 && im.cells <= 10, `easy ${im.id}: ${im.cells} cells`);
      assert.equal(im.touching + im.overlapping + im.truncated + im.ambiguous, 0, `easy ${im.id} must be clean`);
    }
    const hardCells = mh.images.reduce((s, i) => s + i.cells, 0);
    const hardContacts = mh.images.reduce((s, i) => s + i.touching + i.overlapping, 0);
    assert.ok(hardCells / 4 > me.images.reduce((s, i) => s + i.cells, 0) / 4, 'hard has more cells than easy');
    assert.ok(hardContacts / hardCells > 0.4, `hard contact fraction ${(hardContacts / hardCells).toFixed(2)}`);
  } finally {
    rmSync(easy, { recursive: true, force: true });
    rmSync(hard, { recursive: true, force: true });
  }
});

test('written channel sets merge into the {id}.png the XML names', async () => {
  const dir = tmp('merge');
  const merged = tmp('merged');
  try {
    await synthesizeDataset({ outDir: dir, count: 2, seed: 3 });
    const summary = await mergeFolder(dir, merged);
    assert.equal(summary.failed, 0);
    for (const id of ['synth_0000', 'synth_0001']) {
      const { annotation } = parseVocXml(readFileSync(path.join(dir, `${id}.xml`), 'utf8'), id);
      const meta = await sharp(path.join(merged, annotation!.filename)).metadata();
      assert.equal(meta.width, SIZE);
      assert.equal(meta.channels, 3);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(merged, { recursive: true, force: true });
  }
});

test('a rerun with fewer cells removes the stale masks of that image', async () => {
  const dir = tmp('stale');
  try {
    const m = await synthesizeDataset({ outDir: dir, count: 1, seed: 4 });
    const n = m.images[0]!.cells;
    writeFileSync(path.join(dir, 'masks', `synth_0000_${n + 3}.png`), 'stale');
    await synthesizeDataset({ outDir: dir, count: 1, seed: 4 });
    assert.ok(!existsSync(path.join(dir, 'masks', `synth_0000_${n + 3}.png`)));
    assert.ok(existsSync(path.join(dir, 'masks', `synth_0000_${n - 1}.png`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Run `hpa-detect synth ...` in this process (main() returns the exit code), capturing output. */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { main } = await import('../src/cli/main.js');
  let stdout = '', stderr = '';
  const out = process.stdout.write, err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof out;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof err;
  try {
    const status = await main(['synth', ...args]);
    return { status, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test('CLI: bad arguments exit 2 with a message naming them; an unwritable folder exits 1', async () => {
  const dir = tmp('cli');
  try {
    for (const [args, pattern] of [
      [['--count', '0'], /count/],
      [['--count', '-3'], /count/],
      [['--count', '2.5'], /count/],
      [['--count', '1', '--difficulty', 'extreme'], /difficulty/],
      [['--count', '1', '--seed', '-1'], /seed/],
      [['--count', '1', '--size', '50'], /size/],
      [['--count'], /count/],
    ] as const) {
      const r = await cli(['--out', dir, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    const r = await cli(['--count', '1']);
    assert.equal(r.status, 2, 'missing --out');
    assert.match(r.stderr, /out/);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const bad = await cli(['--out', path.join(file, 'sub'), '--count', '1']);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /cannot write/);
    const ok = await cli(['--out', path.join(dir, 'ok'), '--count', '1', '--seed', '9', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).images, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the hpa-detect binary runs synth and exits 2 on a bad count', () => {
  const dir = tmp('bin');
  try {
    const run = (args: string[]) => spawnSync(process.execPath, [bin, 'synth', '--out', dir, ...args], { encoding: 'utf8' });
    const bad = run(['--count', '0']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /count must be an integer/);
    const ok = run(['--count', '1', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(existsSync(path.join(dir, 'synth_0000.xml')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native finishing pass: blur and gain match the JS reference; noise has the requested σ; state advances', () => {
  const w = 64, h = 48;
  const rng = new Rng(1);
  const src = new Float32Array(w * h);
  for (let i = 0; i < src.length; i++) src[i] = (i % 7 === 0 ? 200 : 20) * rng.next() - 5;
  const reference = Float32Array.from(src, (v) => Math.max(0, v));
  scale(reference, 0.8);
  gaussianBlur(reference, w, h, 1.3);
  const expected = quantize(reference);
  const { pixels } = finishChannel(Float32Array.from(src), w, h, { gain: 0.8, blurSigma: 1.3, background: 0, noiseSigma: 0 }, new Rng(2));
  let maxDiff = 0;
  for (let i = 0; i < pixels.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pixels[i]! - expected[i]!));
  assert.ok(maxDiff <= 1, `native and JS blur differ by ${maxDiff} gray levels`);

  const flat = new Float32Array(256 * 256).fill(100);
  const first = finishChannel(flat, 256, 256, { gain: 1, blurSigma: 0, background: 10, noiseSigma: 8 }, new Rng(3));
  let sum = 0, sq = 0;
  for (const v of first.pixels) { sum += v; sq += v * v; }
  const mean = sum / first.pixels.length, sd = Math.sqrt(sq / first.pixels.length - mean * mean);
  assert.ok(Math.abs(mean - 110) < 0.2, `noise mean ${mean}`);
  assert.ok(Math.abs(sd - 8) < 0.2, `noise σ ${sd}`);
  const second = finishChannel(new Float32Array(256 * 256).fill(100), 256, 256, { gain: 1, blurSigma: 0, background: 10, noiseSigma: 8 }, first.rng);
  assert.ok(!Buffer.from(first.pixels).equals(Buffer.from(second.pixels)), 'the returned Rng must continue the stream');
});

test('native finishing pass validates its arguments (TypeError/RangeError naming them, no crash)', () => {
  const f = native.synthFinishChannel as (...args: unknown[]) => Uint8Array;
  const ok = [new Float32Array(4), 2, 2, 1, 1, 0, 1, new Uint32Array([1, 2, 3, 4])];
  const withArg = (i: number, v: unknown) => ok.map((a, j) => (j === i ? v : a));
  assert.equal(f(...ok).length, 4);
  assert.throws(() => f(...withArg(0, new Float64Array(4))), { name: 'TypeError', message: /channel/ });
  assert.throws(() => f(...withArg(0, new Float32Array(5))), { name: 'RangeError', message: /channel/ });
  assert.throws(() => f(...withArg(1, 0)), { name: 'RangeError', message: /width/ });
  assert.throws(() => f(...withArg(2, 1.5)), { name: 'TypeError', message: /height/ });
  assert.throws(() => f(...withArg(3, -1)), { name: 'RangeError', message: /gain/ });
  assert.throws(() => f(...withArg(4, Number.NaN)), { name: 'RangeError', message: /blurSigma/ });
  assert.throws(() => f(...withArg(6, '1')), { name: 'TypeError', message: /noiseSigma/ });
  assert.throws(() => f(...withArg(7, new Uint32Array(3))), { name: 'RangeError', message: /rngState/ });
  assert.throws(() => f(...withArg(7, new Uint32Array(4))), { name: 'RangeError', message: /rngState/ });
  assert.throws(() => f(...withArg(7, [1, 2, 3, 4])), { name: 'TypeError', message: /rngState/ });
});

test('native cell painter validates its arguments (TypeError/RangeError naming them, no crash)', () => {
  const f = native.synthPaintCell as (...args: unknown[]) => void;
  const W = 16, H = 16;
  const ch = () => new Float32Array(W * H);
  const shape = Float64Array.of(8, 8, 3, 3, 3, 3);
  const lattice = () => new Float32Array(10 * 10);
  const ok = (): unknown[] => [
    ch(), ch(), ch(), ch(), W, H,
    new Uint8Array(4 * 4).fill(1), Int32Array.of(6, 6, 4, 4),
    shape, shape,
    [lattice(), lattice(), lattice(), lattice(), lattice(), lattice()],
    Float64Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 10 : 0.25)),
    Float64Array.of(200, 1, 1, 1, 1, 0.5, 1, 10, 1),
  ];
  const withArg = (i: number, v: unknown) => ok().map((a, j) => (j === i ? v : a));
  const args = ok();
  f(...args);
  assert.ok((args[2] as Float32Array)[8 * W + 8]! > 0, 'the nucleus must be painted blue');
  assert.throws(() => f(...withArg(0, new Float64Array(W * H))), { name: 'TypeError', message: /red/ });
  assert.throws(() => f(...withArg(3, new Float32Array(3))), { name: 'RangeError', message: /yellow/ });
  assert.throws(() => f(...withArg(6, new Uint8Array(3))), { name: 'RangeError', message: /mask/ });
  assert.throws(() => f(...withArg(7, Int32Array.of(14, 14, 4, 4))), { name: 'RangeError', message: /window/ });
  assert.throws(() => f(...withArg(8, Float64Array.of(1, 2))), { name: 'RangeError', message: /cell/ });
  assert.throws(() => f(...withArg(9, Float64Array.of(8, 8, -1, 3, 3))), { name: 'RangeError', message: /nucleus/ });
  assert.throws(() => f(...withArg(10, [lattice()])), { name: 'TypeError', message: /lattices/ });
  assert.throws(() => f(...withArg(10, [new Float32Array(4), lattice(), lattice(), lattice(), lattice(), lattice()])), { name: 'RangeError', message: /lattices\[0\]/ });
  assert.throws(() => f(...withArg(11, new Float64Array(12))), { name: 'RangeError', message: /latticeMeta/ });
  assert.throws(() => f(...withArg(12, Float64Array.of(200, 1, 1, 1, 1, 0.5, 1, 10, 7))), { name: 'RangeError', message: /pattern/ });
});

test('fastAtan2 stays within 1e-5 rad of Math.atan2, axes and origin included', () => {
  const rng = new Rng(5);
  const points: [number, number][] = [[0, 0], [0, 1], [1, 0], [0, -1], [-1, 0], [1, 1], [-1, -1], [-0, -1], [3, -4]];
  for (let i = 0; i < 20000; i++) points.push([rng.uniform(-100, 100), rng.uniform(-100, 100)]);
  for (const [y, x] of points) {
    const err = Math.abs(fastAtan2(y, x) - Math.atan2(y, x));
    assert.ok(err < 1e-5 || Math.abs(err - 2 * Math.PI) < 1e-5, `atan2(${y}, ${x}): error ${err}`);
  }
});
