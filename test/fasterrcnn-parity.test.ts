/**
 * Parity with torchvision 0.14: a seeded, randomly initialised fasterrcnn_resnet50_fpn (frozen
 * BN with non-trivial statistics, 3 classes) is exported by scripts/export_torchvision.py
 * together with its eval-mode detections on a synthetic 256×320 image (resized to 320×400,
 * padded to 320×416). Our Detector with the same weights must give the same detections at
 * torchvision's box_score_thresh 0.05: labels exactly, boxes within 0.01 px, scores within
 * 1e-4; the transformed batch and FPN-level inputs are checked on the way.
 * The 160 MB weights are generated in a temp dir, never committed.
 */
import { test } from 'node:test';
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

test('Faster R-CNN R50-FPN reproduces torchvision detections (boxes 0.01 px, scores 1e-4, labels exact)', { timeout: 300_000 }, async (t) => {
  if (!need(t, hasPythonModules(['torchvision']), `${systemPython} with torchvision (apt-get install python3-torchvision)`)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-frcnn-parity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await run(systemPython, [
    path.join(repoRoot, 'scripts', 'export_torchvision.py'), '--out-dir', dir, '--arch', 'resnet50', '--num-classes', '3',
    '--seed', '0', '--synthetic', '256x320', '--min-size', '320', '--max-size', '480', '--intermediates',
  ], { maxBuffer: 1 << 24 });
  const ref = (await readSafetensors(path.join(dir, 'reference.safetensors'))).tensors;
  const image = ref.get('image')!;
  const rgb = { data: image.data as Uint8Array, height: image.shape[0]!, width: image.shape[1]!, channels: 3 as const };

  const det = await Detector.load(path.join(dir, 'weights.safetensors'), 'resnet50-fpn', {
    config: { transform: { minSize: 320, maxSize: 480 } }, threads: 2,
  });
  t.after(() => det.release());
  assert.equal(det.config.arch.numClasses, 3, 'numClasses read from the predictor weights');

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
    for (let c = 0; c < 4; c++) boxErr = Math.max(boxErr, Math.abs(r.boxes[4 * i + c]! - boxes[4 * i + c]!));
  }
  t.diagnostic(`${scores.length} detections; max |Δbox| ${boxErr.toExponential(2)} px, max |Δscore| ${scoreErr.toExponential(2)}, transform max |Δ| ${maxDiff.toExponential(2)}`);
  assert.ok(boxErr <= 0.01, `boxes differ by up to ${boxErr} px`);
  assert.ok(scoreErr <= 1e-4, `scores differ by up to ${scoreErr}`);
});
