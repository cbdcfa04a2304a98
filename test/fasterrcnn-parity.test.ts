/**
 * Parity with torchvision 0.14. scripts/export_torchvision.py builds a seeded, randomly
 * initialised Faster R-CNN (weights=None, weights_backbone=None) and writes its weights and its
 * eval-mode detections on a synthetic image (score threshold 0.05, class scores calibrated so
 * that detections pass it). Our Detector with the same weights must give the same detections:
 * labels exactly, boxes within 0.01 px, scores within 1e-4; the transformed batch within 1e-6.
 *  - resnet50-fpn: fasterrcnn_resnet50_fpn's fine-tuning model (FrozenBatchNorm2d with random
 *    statistics), 3 classes, a 256×320 image resized to 320×400 (bilinear upscaling, padding);
 *  - resnet18-fpn-gn: GroupNorm(32) in backbone and FPN, 4 classes, a 192×256 image;
 *  - resnet34-fpn: BasicBlocks with FrozenBatchNorm2d, 2 classes, a portrait 224×192 image.
 * The weights (160 MB for R50) are generated in a temp dir, never committed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hasPythonModules, need, repoRoot, systemPython } from './helpers.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { Detector } from '../src/infer/detector.js';
import { rgbToTensor, transformBatch } from '../src/infer/transform.js';

const run = promisify(execFile);

interface Case {
  preset: string;
  arch: string;
  norm: string;
  numClasses: number;
  image: [number, number];
  minSize: number;
  maxSize: number;
}

async function checkParity(t: TestContext, c: Case): Promise<void> {
  if (!need(t, hasPythonModules(['torchvision']), `${systemPython} with torchvision (apt-get install python3-torchvision)`)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-frcnn-parity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await run(systemPython, [
    path.join(repoRoot, 'scripts', 'export_torchvision.py'), '--out-dir', dir, '--arch', c.arch, '--norm', c.norm,
    '--num-classes', String(c.numClasses), '--seed', '0', '--synthetic', `${c.image[0]}x${c.image[1]}`,
    '--min-size', String(c.minSize), '--max-size', String(c.maxSize), '--intermediates',
  ], { maxBuffer: 1 << 24 });
  const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
  const image = ref.get('image')!;
  const rgb = { data: image.data as Uint8Array, height: image.shape[0]!, width: image.shape[1]!, channels: 3 as const };

  const det = await Detector.load(path.join(dir, 'weights.safetensors'), c.preset, {
    config: { transform: { minSize: c.minSize, maxSize: c.maxSize } }, threads: 2,
  });
  t.after(() => det.release());
  assert.equal(det.config.arch.numClasses, c.numClasses, 'numClasses read from the predictor weights');

  // The transform (normalise, bilinear resize, pad) against torchvision's batch tensor.
  const batch = transformBatch([rgbToTensor(rgb)], det.config.transform);
  const transformed = ref.get('transformed')!;
  assert.deepEqual(batch.shape, transformed.shape);
  let maxDiff = 0;
  for (let i = 0; i < batch.tensor.length; i++) maxDiff = Math.max(maxDiff, Math.abs(batch.tensor[i]! - (transformed.data as Float32Array)[i]!));
  assert.ok(maxDiff <= 1e-6, `transformed batch differs by ${maxDiff}`);

  const r = await det.detect(rgb, { debug: true });
  const boxes = ref.get('boxes')!.data as Float32Array;
  const scores = ref.get('scores')!.data as Float32Array;
  const labels = Array.from(ref.get('labels')!.data as BigInt64Array, Number);
  assert.ok(scores.length >= 20, `torchvision found ${scores.length} detections: the fixture should be non-degenerate`);
  assert.equal(r.proposals!.boxes.length / 4, ref.get('proposals')!.shape[0], 'proposal count');
  assert.equal(r.scores.length, scores.length, 'detection count');
  assert.deepEqual([...r.labels], labels);
  let boxErr = 0, scoreErr = 0;
  for (let i = 0; i < scores.length; i++) {
    scoreErr = Math.max(scoreErr, Math.abs(r.scores[i]! - scores[i]!));
    for (let k = 0; k < 4; k++) boxErr = Math.max(boxErr, Math.abs(r.boxes[4 * i + k]! - boxes[4 * i + k]!));
  }
  t.diagnostic(`${c.preset}: ${scores.length} detections; max |Δbox| ${boxErr.toExponential(2)} px, max |Δscore| ${scoreErr.toExponential(2)}, transform max |Δ| ${maxDiff.toExponential(2)}`);
  assert.ok(boxErr <= 0.01, `boxes differ by up to ${boxErr} px`);
  assert.ok(scoreErr <= 1e-4, `scores differ by up to ${scoreErr}`);
}

test('resnet50-fpn (frozen BN) reproduces torchvision fasterrcnn_resnet50_fpn: boxes 0.01 px, scores 1e-4, labels exact', { timeout: 300_000 }, (t) =>
  checkParity(t, { preset: 'resnet50-fpn', arch: 'resnet50', norm: 'frozen-bn', numClasses: 3, image: [256, 320], minSize: 320, maxSize: 480 }));

test('resnet18-fpn-gn (GroupNorm backbone and FPN) reproduces torchvision with norm_layer=GroupNorm(32)', { timeout: 300_000 }, (t) =>
  checkParity(t, { preset: 'resnet18-fpn-gn', arch: 'resnet18', norm: 'group-norm', numClasses: 4, image: [192, 256], minSize: 192, maxSize: 256 }));

// BasicBlock with FrozenBatchNorm2d: the one combination the two cases above leave out (resnet18-fpn is the same blocks, fewer).
test('resnet34-fpn (frozen BN, BasicBlock) reproduces torchvision with resnet34 weights_backbone=None', { timeout: 300_000 }, (t) =>
  checkParity(t, { preset: 'resnet34-fpn', arch: 'resnet34', norm: 'frozen-bn', numClasses: 2, image: [224, 192], minSize: 224, maxSize: 320 }));
