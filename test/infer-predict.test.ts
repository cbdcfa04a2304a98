/** predictFiles / `hpa-detect predict`: outputs, raw-channel means, batching/concurrency invariance, failures, resume, CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';
import { writeRandomModel } from './predict-fixtures.js';
import { Detector } from '../src/infer/detector.js';
import { CSV_HEADER_CHANNELS, listPredictInputs, predictFiles, type PredictFilesOptions } from '../src/infer/predict-files.js';
import { type ImagePrediction, roundCoordinate, roundScore } from '../src/infer/predict-outputs.js';
import { readPredictions } from '../src/eval/read-predictions.js';
import { channelMeans, channelPlane } from '../src/infer/predict-means.js';
import { cudaLibraryPresent } from '../src/infer/providers.js';
import { decodeChannel } from '../src/hpa/decode.js';
import { CHANNEL_NAMES } from '../src/hpa/channels.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { readVocFile } from '../src/annotations/voc-read.js';
import { synthesizeDataset } from '../src/synth/write.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
const SMALL = { arch: { numClasses: 3 }, transform: { minSize: 64, maxSize: 96 } };

test('channelMeans averages each channel over the pixels inside the box', () => {
  const data = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) data.set([i, 2 * i, 100], i * 3);
  const m = channelMeans({ data, width: 4, height: 4, channels: 3 }, [1, 1, 3, 3]);
  assert.deepEqual(m, [(5 + 6 + 9 + 10) / 4, (10 + 12 + 18 + 20) / 4, 100]);
});

/** Two plain images, three synthetic channel sets (192²) and a set with a truncated green file. */
async function makeInputs(dir: string): Promise<string> {
  const inDir = path.join(dir, 'in');
  await synthesizeDataset({ outDir: inDir, count: 3, seed: 5, size: 192 });
  for (const [name, seed] of [['a.png', 1], ['b.jpg', 2]] as const) {
    const raw = Buffer.alloc(48 * 64 * 3).map((_, i) => (i * 31 * seed) % 253);
    await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).toFile(path.join(inDir, name));
  }
  for (const c of CHANNEL_NAMES) copyFileSync(path.join(inDir, `synth_0000_${c}.png`), path.join(inDir, `broken_${c}.png`));
  writeFileSync(path.join(inDir, 'broken_green.png'), readFileSync(path.join(inDir, 'broken_green.png')).subarray(0, 200));
  return inDir;
}

test('predictFiles: sets merged on the fly with raw-channel means, same detections at any batch/concurrency, failures named, resume', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-predict-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inDir = await makeInputs(dir);
  const { inputs, problems } = await listPredictInputs([inDir]);
  assert.equal(problems.length, 0);
  assert.deepEqual(inputs.map((i) => i.name), ['a', 'b', 'broken', 'synth_0000', 'synth_0001', 'synth_0002']);
  const det = await Detector.fromWeights(fasterRcnnConfig('light', SMALL), new RandomWeights(3), { threads: 2 });
  t.after(() => det.release());
  const base: PredictFilesOptions = { outDir: path.join(dir, 'serial'), classNames: ['cell', 'nucleus'], scoreThreshold: 0.2, runInfo: { model: 'random-3' } };

  const serial = await predictFiles(det, inputs, { ...base, batch: 1, concurrency: 1 });
  const batched = await predictFiles(det, inputs, { ...base, outDir: path.join(dir, 'batched'), batch: 3, concurrency: 5 });
  assert.deepEqual(batched.predictions, serial.predictions, 'batch 3 / concurrency 5 gives the serial results');
  assert.deepEqual(serial.predictions.map((p) => p.name), ['a', 'b', 'synth_0000', 'synth_0001', 'synth_0002']);
  assert.equal(serial.failures.length, 1);
  assert.match(serial.failures[0]!.reason, /broken_green\.png: corrupt PNG/);
  const total = serial.predictions.reduce((s, p) => s + p.detections.length, 0);
  assert.ok(total > 0, 'random weights with 3 classes give scores above 0.2');

  const out = base.outDir;
  const csv = readFileSync(path.join(out, 'detections.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], CSV_HEADER_CHANNELS);
  assert.equal(csv.length - 1, total);
  const doc = JSON.parse(readFileSync(path.join(out, 'predictions.json'), 'utf8'));
  assert.equal(doc.format, 'hpa-detect/predictions');
  assert.equal(doc.images.length, 5);
  assert.equal(doc.failures.length, 1);
  const setPred = serial.predictions.find((p) => p.source === 'channels' && p.detections.length > 0);
  assert.ok(setPred, 'a channel set with detections');
  assert.equal(setPred.image, path.join(inDir, setPred.name));
  // The green mean is of the raw green file, not of the merged image's G (which has yellow added).
  const green = channelPlane('green', await decodeChannel(path.join(inDir, `${setPred.name}_green.png`), { keep16: true }));
  const d = setPred.detections[0]!;
  const [x0, y0, x1, y1] = [Math.floor(d.box[0]), Math.floor(d.box[1]), Math.ceil(d.box[2]), Math.ceil(d.box[3])];
  let sum = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += green.data[y * green.width + x]!;
  assert.equal(d.means.green, sum / ((x1 - x0) * (y1 - y0)));
  const row = csv.find((l) => l.startsWith(`${setPred.image},`))!.split(',');
  assert.equal(row[8], d.means.green!.toFixed(2));
  const plainRow = csv.find((l) => l.startsWith(path.join(inDir, 'a.png')));
  if (plainRow) assert.match(plainRow, /,,8$/, 'plain images: no yellow, 8-bit');
  const voc = await readVocFile(path.join(out, 'voc', `${setPred.name}.xml`));
  assert.equal(voc.annotation!.filename, `${setPred.name}.png`);
  assert.equal(voc.annotation!.objects.length, setPred.detections.length);
  assert.ok(existsSync(path.join(out, 'overlays', 'synth_0002.png')));

  // Resume: everything done is taken from the records; the broken set is retried (and fails again).
  const again = await predictFiles(det, inputs, base);
  assert.equal(again.skipped, 5);
  assert.deepEqual(again.predictions, serial.predictions);
  assert.equal(again.failures.length, 1);
  assert.equal((await predictFiles(det, inputs.slice(0, 2), { ...base, overwrite: true })).skipped, 0);
  assert.equal((await predictFiles(det, inputs.slice(0, 2), { ...base, scoreThreshold: 0.25 })).skipped, 0, 'other settings: redone');

  // A higher threshold moves detections to belowThreshold; evaluate reads back the same full set.
  const cut = await predictFiles(det, inputs, { ...base, outDir: path.join(dir, 'cut'), scoreThreshold: 0.4, voc: false, overlays: false });
  for (const p of cut.predictions) {
    assert.ok(p.detections.every((d) => d.score >= 0.4) && p.belowThreshold.score.every((v) => v < 0.4 && v > 0.05), p.name);
    assert.equal(p.belowThreshold.box.length, 4 * p.belowThreshold.label.length);
  }
  assert.ok(cut.predictions.some((p) => p.belowThreshold.label.length > 0), 'some detections fall under 0.4');
  // The serial run's every detection (threshold 0.2), rounded as belowThreshold stores values.
  const rounded = (d: { className?: string; score: number; box: number[] }) => `${d.className} ${roundScore(d.score)} ${d.box.map(roundCoordinate).join(' ')}`;
  const expand = (p: ImagePrediction) => [...p.detections, ...p.belowThreshold.label.map((label, k) => ({ className: base.classNames[label - 1], score: p.belowThreshold.score[k]!, box: p.belowThreshold.box.slice(4 * k, 4 * k + 4) }))];
  const readCut = await readPredictions(path.join(dir, 'cut'));
  assert.deepEqual(readCut.images.map((im) => im.detections.map(rounded).sort()), serial.predictions.map((p) => expand(p).map(rounded).sort()));
  assert.equal(readCut.scoreThreshold, 0.05, 'the model\'s own cut: nothing above it is missing');

  // Same output names from other files: another folder, or an image rewritten in place, is redone.
  const otherDir = path.join(dir, 'other');
  await sharp(path.join(inDir, 'a.png')).flop().toFile(path.join(path.dirname(otherDir), 'a-flopped.png'));
  await synthesizeDataset({ outDir: otherDir, count: 1, seed: 6, size: 192 });
  copyFileSync(path.join(path.dirname(otherDir), 'a-flopped.png'), path.join(otherDir, 'a.png'));
  const moved = await listPredictInputs([otherDir]);
  const fresh = { ...base, outDir: path.join(dir, 'fingerprint') };
  await predictFiles(det, inputs, fresh);
  const fromOther = await predictFiles(det, moved.inputs, fresh);
  assert.equal(fromOther.skipped, 0, 'same names in another folder are not taken from the records');
  assert.deepEqual(fromOther.predictions.map((p) => p.image), [path.join(otherDir, 'a.png'), path.join(otherDir, 'synth_0000')]);
  const plainA = inputs.slice(0, 1);
  assert.equal((await predictFiles(det, plainA, fresh)).skipped, 0, 'the record of a now holds other/a.png');
  assert.equal((await predictFiles(det, plainA, fresh)).skipped, 1);
  writeFileSync(path.join(inDir, 'a.png'), readFileSync(path.join(path.dirname(otherDir), 'a-flopped.png')));
  const rewritten = await predictFiles(det, plainA, fresh);
  assert.equal(rewritten.skipped, 0, 'an image rewritten in place is redone');
});

test('hpa-detect predict: checkpoint config used without --preset, a bad set fails alone (exit 1), rerun resumes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-predict-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inDir = await makeInputs(dir);
  const model = path.join(dir, 'checkpoint.safetensors');
  await writeRandomModel(model, 'light', SMALL, 3, { stored: true });
  const out = path.join(dir, 'out');
  const run = () => spawnSync(process.execPath, [bin, 'predict', model, inDir, '--out', out, '--provider', 'cpu', '--threads', '2', '--score-threshold', '0.2'], { encoding: 'utf8' });
  const first = run();
  assert.equal(first.status, 1, first.stderr);
  assert.match(first.stderr, /model config stored in .*checkpoint\.safetensors: preset light/);
  assert.match(first.stderr, /failed: .*broken: .*broken_green\.png: corrupt PNG/);
  assert.match(first.stderr, /5 image\(s\) predicted \(0 from an earlier run\).*1 failed/);
  const doc = JSON.parse(readFileSync(path.join(out, 'predictions.json'), 'utf8'));
  assert.equal(doc.images.length, 5);
  assert.equal(doc.preset, 'light');
  const second = run();
  assert.equal(second.status, 1);
  assert.match(second.stderr, /5 image\(s\) predicted \(5 from an earlier run\)/);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'predictions.json'), 'utf8')).images, doc.images);

  // --set reaches the stored config: one detection per image at most, the rest below it gone too.
  const capped = spawnSync(process.execPath, [bin, 'predict', model, inDir, '--out', path.join(dir, 'capped'), '--provider', 'cpu', '--threads', '2', '--score-threshold', '0.2', '--set', 'box.detectionsPerImg=1'], { encoding: 'utf8' });
  assert.equal(capped.status, 1, capped.stderr);
  const cappedDoc = JSON.parse(readFileSync(path.join(dir, 'capped', 'predictions.json'), 'utf8'));
  assert.equal(cappedDoc.config.box.detectionsPerImg, 1);
  assert.ok(cappedDoc.images.every((im: ImagePrediction) => im.detections.length + im.belowThreshold.label.length <= 1));
  assert.ok(doc.images.some((im: ImagePrediction) => im.detections.length > 1), 'without it, more than one');
  const badSet = spawnSync(process.execPath, [bin, 'predict', model, inDir, '--out', path.join(dir, 'bad'), '--set', 'box.maxDetections=1'], { encoding: 'utf8' });
  assert.equal(badSet.status, 2, badSet.stderr);
  assert.match(badSet.stderr, /--set box\.maxDetections=1: unknown setting 'box\.maxDetections'/);
  const badRange = spawnSync(process.execPath, [bin, 'predict', model, inDir, '--out', path.join(dir, 'bad'), '--set', 'box.scoreThresh=2'], { encoding: 'utf8' });
  assert.equal(badRange.status, 2, badRange.stderr);
  assert.match(badRange.stderr, /--set: box\.scoreThresh must be in \[0, 1\], got 2/);
});

test('hpa-detect predict: usage errors exit 2, a missing model or CUDA exits 1 with the reason', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const bad = run('predict', 'm.safetensors', 'x.png', '--out', os.tmpdir(), '--score-threshold', '2');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--score-threshold must be in \[0, 1\]/);
  const batch = run('predict', 'm.safetensors', 'x.png', '--out', os.tmpdir(), '--batch', '0');
  assert.equal(batch.status, 2, batch.stderr);
  assert.match(batch.stderr, /--batch must be an integer >= 1, got 0/);
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
