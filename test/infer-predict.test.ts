/** predictFiles / `hpa-detect predict`: outputs written per image, thresholds, CLI errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';
import { Detector } from '../src/infer/detector.js';
import { CSV_HEADER, channelMeans, listImages, predictFiles } from '../src/infer/predict-files.js';
import { cudaLibraryPresent } from '../src/infer/providers.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { readVocFile } from '../src/annotations/voc-read.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');

test('channelMeans averages each channel over the pixels inside the box', () => {
  const data = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) data.set([i, 2 * i, 100], i * 3);
  const m = channelMeans({ data, width: 4, height: 4, channels: 3 }, [1, 1, 3, 3]);
  assert.deepEqual(m, [(5 + 6 + 9 + 10) / 4, (10 + 12 + 18 + 20) / 4, 100]);
});

test('predictFiles writes JSON, a CSV row per detection, VOC XML and overlays', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-predict-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const imgDir = path.join(dir, 'images');
  mkdirSync(imgDir);
  for (const [name, seed] of [['a.png', 1], ['b.jpg', 2]] as const) {
    const raw = Buffer.alloc(48 * 64 * 3).map((_, i) => (i * 31 * seed) % 253);
    await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).toFile(path.join(imgDir, name));
  }
  writeFileSync(path.join(imgDir, 'notes.txt'), 'not an image');
  const files = listImages([imgDir]);
  assert.deepEqual(files.map((f) => path.basename(f)), ['a.png', 'b.jpg']);
  const config = fasterRcnnConfig('light', { arch: { numClasses: 3 }, transform: { minSize: 64, maxSize: 96 } });
  const det = await Detector.fromWeights(config, new RandomWeights(3), { threads: 2 });
  t.after(() => det.release());
  const out = path.join(dir, 'out');
  const preds = await predictFiles(det, files, { outDir: out, classNames: ['cell', 'nucleus'], scoreThreshold: 0.2 });
  const csv = readFileSync(path.join(out, 'detections.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], CSV_HEADER);
  const total = preds.reduce((s, p) => s + p.detections.length, 0);
  assert.ok(total > 0, 'random weights with 3 classes give scores above 0.2');
  assert.equal(csv.length - 1, total);
  for (const p of preds) for (const d of p.detections) {
    assert.ok(d.score >= 0.2);
    assert.ok(['cell', 'nucleus'].includes(d.className));
  }
  const json = JSON.parse(readFileSync(path.join(out, 'predictions.json'), 'utf8'));
  assert.equal(json.provider, 'cpu');
  assert.equal(json.images.length, 2);
  const voc = await readVocFile(path.join(out, 'voc', 'a.xml'));
  assert.equal(voc.annotation!.objects.length, preds[0]!.detections.length);
  assert.equal(voc.annotation!.width, 64);
  assert.ok(existsSync(path.join(out, 'overlays', 'b.png')));
});

test('hpa-detect predict: usage errors exit 2, a missing model or CUDA exits 1 with the reason', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const bad = run('predict', 'm.safetensors', 'x.png', '--out', os.tmpdir(), '--score-threshold', '2');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--score-threshold must be in \[0, 1\]/);
  const missing = run('predict', path.join(os.tmpdir(), 'no-such-model.safetensors'), repoRoot, '--out', os.tmpdir());
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /model not found/);
  if (cudaLibraryPresent()) return t.skip('CUDA provider libraries are installed here');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-predict-cuda-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'm.safetensors');
  writeFileSync(model, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]));
  writeFileSync(path.join(dir, 'x.png'), '');
  const cuda = run('predict', model, path.join(dir, 'x.png'), '--out', path.join(dir, 'out'), '--provider', 'cuda');
  assert.equal(cuda.status, 1, cuda.stderr);
  assert.match(cuda.stderr, /'cuda' is not available[\s\S]*ONNXRUNTIME_NODE_INSTALL=cuda12/);
});
