/**
 * DetectorWorker: the same detections as Detector on the same weights and image; the caller's
 * event loop keeps running while the worker detects (a Detector on the calling thread holds it for
 * the whole model run, which is why the worker exists); errors cross the thread boundary with
 * their class and message, and the worker keeps serving after a bad request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRandomModel } from './predict-fixtures.js';
import { Detector } from '../src/infer/detector.js';
import { DetectorWorker } from '../src/infer/detector-worker.js';
import type { RgbImage } from '../src/infer/transform.js';

/** `light` at 512 px: a model run of a few hundred ms, long enough to see the event loop stall. */
const CONFIG = { arch: { numClasses: 3 }, transform: { minSize: 512, maxSize: 512 }, box: { scoreThresh: 0.05 } };

function image(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761 * seed) >>> 24;
  return { data, width, height, channels: 3 };
}

/** The longest gap between 1 ms timer ticks while `work` runs: how long the event loop was held. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now(), stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 1);
  try {
    const result = await work();
    stallMs = Math.max(stallMs, performance.now() - last);
    return { result, stallMs };
  } finally {
    clearInterval(timer);
  }
}

test('DetectorWorker: same detections as Detector, the event loop runs meanwhile, errors keep their class', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-detector-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const weights = path.join(dir, 'light.safetensors');
  await writeRandomModel(weights, 'light', CONFIG, 7);
  const img = image(480, 512, 3);

  const local = await Detector.load(weights, 'light', { config: CONFIG, threads: 1 });
  const worker = await DetectorWorker.load(weights, 'light', { config: CONFIG, threads: 1 });
  t.after(async () => {
    await local.release();
    await worker.release();
  });
  assert.deepEqual(worker.config, local.config);
  assert.equal(worker.provider, local.provider);

  const inThread = await longestStall(() => local.detect(img));
  const inWorker = await longestStall(() => worker.detect(img));
  assert.ok(inThread.result.scores.length > 0, 'random weights give some detections at 0.05');
  assert.deepEqual(inWorker.result.boxes, inThread.result.boxes);
  assert.deepEqual(inWorker.result.scores, inThread.result.scores);
  assert.deepEqual(inWorker.result.labels, inThread.result.labels);
  t.diagnostic(`event loop held: ${inThread.stallMs.toFixed(0)} ms by Detector.detect, ${inWorker.stallMs.toFixed(0)} ms during DetectorWorker.detect`);
  assert.ok(inThread.stallMs > 50, `Detector.detect held the event loop only ${inThread.stallMs.toFixed(1)} ms (the comparison needs a longer run)`);
  assert.ok(inWorker.stallMs < inThread.stallMs / 2, `the event loop stalled ${inWorker.stallMs.toFixed(1)} ms during the worker's run (${inThread.stallMs.toFixed(1)} ms on the calling thread)`);

  // A batch of two, in order; a bad image rejects with the detector's own error class and message.
  const [a, b] = await worker.detectBatch([img, img]);
  assert.deepEqual(a!.scores, inThread.result.scores);
  assert.deepEqual(b!.boxes, inThread.result.boxes);
  const bad: RgbImage = { data: new Uint8Array(10), width: 64, height: 64, channels: 3 };
  const localError = await local.detect(bad).then(() => undefined, (e: Error) => e);
  assert.ok(localError instanceof Error);
  await assert.rejects(worker.detect(bad), (e: Error) => e.constructor === localError.constructor && e.message === localError.message);
  assert.deepEqual((await worker.detect(img)).scores, inThread.result.scores, 'the worker serves after a bad request');
});

test('DetectorWorker.load: a missing weights file rejects naming it, and no worker is left running', async () => {
  const missing = path.join(os.tmpdir(), 'hpa-no-such-model.safetensors');
  await assert.rejects(DetectorWorker.load(missing, 'light'), (e: Error) => e.message.includes(missing));
});
