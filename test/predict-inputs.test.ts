/** predict's inputs: discovery of images and channel sets, on-the-fly merge, per-box means, stored model config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir, sharedData } from './helpers.js';
import { CHANNEL_NAMES } from '../src/hpa/channels.js';
import { decodeChannel } from '../src/hpa/decode.js';
import { mergeSet } from '../src/hpa/merge-set.js';
import { listPredictInputs } from '../src/infer/predict-inputs.js';
import { loadPredictInput } from '../src/infer/predict-load.js';
import { type Plane, boxMeans, channelPlane } from '../src/infer/predict-means.js';
import { resolveModelConfig, storedModelConfig } from '../src/infer/predict-model.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { CHECKPOINT_FORMAT } from '../src/train/checkpoint.js';

const setsDir = path.join(fixturesDir, 'merge', 'sets');
const goldenDir = path.join(fixturesDir, 'merge', 'golden');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-predict-in-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Brute-force mean of a plane over the box's pixels (⌊x1⌋ ≤ x < ⌈x2⌉ in the image, at least one). */
function bruteMean(p: Plane, box: number[]): number {
  let s = 0;
  let n = 0;
  const lo = (v: number, size: number) => Math.max(0, Math.min(size - 1, Math.floor(v)));
  const [x0, y0] = [lo(box[0]!, p.width), lo(box[1]!, p.height)];
  const [x1, y1] = [Math.max(x0 + 1, Math.min(p.width, Math.ceil(box[2]!))), Math.max(y0 + 1, Math.min(p.height, Math.ceil(box[3]!)))];
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      if (x >= x0 && x < x1 && y >= y0 && y < y1) {
        s += p.data[(y * p.width + x) * p.stride + p.offset]!;
        n++;
      }
    }
  }
  return s / n;
}

test('listPredictInputs: sets and images of a folder in sorted order, a lone channel file brings its set, incomplete sets reported', async (t) => {
  const dir = tempDir(t);
  for (const id of ['kaggle', 'deep']) for (const c of CHANNEL_NAMES) {
    const f = `${id}_${c}.${id === 'deep' && c === 'red' ? 'tif' : 'png'}`;
    copyFileSync(path.join(setsDir, f), path.join(dir, f));
  }
  copyFileSync(path.join(setsDir, 'field_red.png'), path.join(dir, 'lonely_red.png'));
  copyFileSync(path.join(goldenDir, 'kaggle_sum.png'), path.join(dir, 'b-merged.png'));
  writeFileSync(path.join(dir, 'notes.txt'), 'not an image');
  const { inputs, problems } = await listPredictInputs([dir, path.join(dir, 'kaggle_green.png')]);
  assert.deepEqual(inputs.map((i) => `${i.kind}:${i.name}`), ['image:b-merged', 'channels:deep', 'channels:kaggle']);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.reason, /set lonely: missing green, blue, yellow/);
  assert.equal(problems[0]!.image, path.join(dir, 'lonely'));

  const alone = await listPredictInputs([path.join(dir, 'kaggle_yellow.png')]);
  assert.equal(alone.inputs.length, 1);
  assert.equal(alone.inputs[0]!.kind, 'channels');
  const lonely = await listPredictInputs([path.join(dir, 'lonely_red.png')]);
  assert.equal(lonely.inputs.length, 0);
  assert.match(lonely.problems[0]!.reason, /missing green/);
  await assert.rejects(listPredictInputs([path.join(dir, 'nope')]), /input not found: .*nope/);
});

test('loadPredictInput merges a set as `hpa-detect merge` does and keeps raw channels at their bit depth', async () => {
  for (const id of ['deep', 'field', 'kaggle']) {
    const { inputs } = await listPredictInputs([path.join(setsDir, `${id}_red.${id === 'deep' ? 'tif' : 'png'}`)]);
    const loaded = await loadPredictInput(inputs[0]!);
    const golden = await sharp(path.join(goldenDir, `${id}_sum.png`)).raw().toBuffer();
    assert.ok(Buffer.from(loaded.rgb.data).equals(golden), `${id}: merged RGB equals the merge golden`);
    assert.deepEqual(loaded.channels, ['red', 'green', 'blue', 'yellow']);
    const red = await decodeChannel(inputs[0]!.kind === 'channels' ? inputs[0]!.set.files.red : '', { keep16: true });
    assert.equal(loaded.planes[0]!.bits, red.depth);
    if (id === 'deep') {
      assert.equal(loaded.bits, 16);
      assert.equal(loaded.planes[0]!.data[123], red.data.readUInt16LE(2 * 123), '16-bit raw values, not reduced');
    }
  }
});

test('boxMeans: direct sums and the summed-area table agree with brute force (16-bit, strided, computed yellow)', async () => {
  const { inputs } = await listPredictInputs([path.join(setsDir, 'deep_red.tif'), path.join(setsDir, 'field_red.png')]);
  const boxes = [[0, 0, 64, 64], [3.2, 5.7, 20.1, 9.9], [60.5, 60.5, 70, 70], [-5, 10, 2, 11], [10, 10, 10, 10]];
  for (const input of inputs) {
    const loaded = await loadPredictInput(input);
    const direct = boxMeans(loaded.planes, boxes, 'direct');
    const table = boxMeans(loaded.planes, boxes, 'table');
    assert.deepEqual(table, direct, 'both methods give the same means bit for bit');
    boxes.forEach((b, k) => loaded.planes.forEach((p, c) => assert.equal(direct[k]![c], bruteMean(p, b), `${input.name} box ${k} channel ${c}`)));
  }
  // Yellow of a tinted RGB file is floor((R + G) / 2) of that file, as the merge reads it.
  const yellow = await decodeChannel(path.join(setsDir, 'field_yellow.png'));
  const plane = channelPlane('yellow', yellow);
  const i = 77;
  assert.equal(plane.data[i], (yellow.data[i * yellow.channels]! + yellow.data[i * yellow.channels + 1]!) >> 1);
});

test('resolveModelConfig: a checkpoint brings its preset and overrides; --preset only for files without one', async (t) => {
  const dir = tempDir(t);
  const tensors = { 'param/x': { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) } };
  const ckpt = path.join(dir, 'ckpt.safetensors');
  const model = { preset: 'light', config: { arch: { numClasses: 3 }, transform: { minSize: 256 } } };
  await writeSafetensors(ckpt, tensors, { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ model }) });
  assert.deepEqual(await storedModelConfig(ckpt), model);
  const r = await resolveModelConfig(ckpt, undefined, { transform: { maxSize: 300 } });
  assert.equal(r.preset, 'light');
  assert.equal(r.fromCheckpoint, true);
  assert.deepEqual(r.config, { arch: { numClasses: 3 }, transform: { minSize: 256, maxSize: 300 } });
  await assert.rejects(resolveModelConfig(ckpt, 'resnet50-fpn'), /stores a model of preset 'light'; --preset resnet50-fpn contradicts/);

  // A whole FasterRcnnConfig stored as the model is read as overrides too.
  const whole = path.join(dir, 'whole.safetensors');
  await writeSafetensors(whole, tensors, { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ model: { preset: 'resnet18-fpn', arch: { numClasses: 5 } } }) });
  assert.deepEqual(await storedModelConfig(whole), { preset: 'resnet18-fpn', config: { arch: { numClasses: 5 } } });

  // DetectorTrainer's documents: the whole config under `config`, class names; in checkpoints and exported weights.
  const full = fasterRcnnConfig('light', { arch: { numClasses: 3 } });
  const trainerDoc = { arch: 'faster-rcnn', preset: 'light', config: full, classes: ['Nucleoli', 'Not Nucleoli'] };
  const exported = path.join(dir, 'exported.safetensors');
  await writeSafetensors(exported, { x: tensors['param/x'] }, { format: 'hpa-detect/weights', model: JSON.stringify(trainerDoc) });
  const fromExport = await storedModelConfig(exported);
  assert.equal(fromExport?.preset, 'light');
  assert.deepEqual(fromExport?.classes, ['Nucleoli', 'Not Nucleoli']);
  assert.deepEqual(fasterRcnnConfig('light', fromExport!.config), full);
  const trainerCkpt = path.join(dir, 'trainer.safetensors');
  await writeSafetensors(trainerCkpt, tensors, { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ step: 3, model: trainerDoc }) });
  assert.deepEqual(await storedModelConfig(trainerCkpt), fromExport);

  const bad = path.join(dir, 'bad.safetensors');
  await writeSafetensors(bad, tensors, { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ model: { preset: 'nope' } }) });
  await assert.rejects(storedModelConfig(bad), /bad\.safetensors: stored model config: preset must be one of/);

  const export_ = path.join(dir, 'tv.safetensors');
  await writeSafetensors(export_, { x: tensors['param/x'] });
  assert.equal(await storedModelConfig(export_), undefined);
  assert.equal((await resolveModelConfig(export_, undefined)).preset, 'resnet50-fpn');
  assert.equal((await resolveModelConfig(export_, 'light')).preset, 'light');
});

test('real data: a 2048² HPA field merges as mergeSet does, raw green means by brute force; lone Kaggle channels are reported', async (t) => {
  const fields = sharedData(t, 'hpa', 'fields');
  if (!fields) return;
  const { inputs } = await listPredictInputs([path.join(fields, '800_A6_1_green.jpg')]);
  assert.equal(inputs.length, 1);
  const input = inputs[0]!;
  assert.ok(input.kind === 'channels');
  const loaded = await loadPredictInput(input);
  assert.ok(Buffer.from(loaded.rgb.data).equals((await mergeSet(input.set)).rgb), 'same pixels as hpa-detect merge');
  const box = [700.4, 900.2, 851.7, 1010.9];
  const [m] = boxMeans(loaded.planes, [box]);
  loaded.planes.forEach((p, c) => assert.equal(m![c], bruteMean(p, box), `${loaded.channels[c]} mean`));
  const kaggle = sharedData(t, 'hpa', 'kaggle-channels');
  if (!kaggle) return;
  const lone = await listPredictInputs([kaggle]);
  assert.equal(lone.inputs.length, 0);
  assert.equal(lone.problems.length, 200, 'each file is one channel of a different id');
});
