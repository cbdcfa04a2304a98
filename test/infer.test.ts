/** Inference building blocks: transform, top-k, softmax, RoI postprocessing, providers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizedSize, resizeBilinear, transformBatch, rgbToTensor, resizeBoxesInPlace } from '../src/infer/transform.js';
import { topKIndices } from '../src/infer/rpn-proposals.js';
import { postprocessDetections, softmaxRows } from '../src/infer/roi-postprocess.js';
import { createSessions, cudaLibraryPresent, ProviderUnavailableError, CUDA_INSTALL_HINT } from '../src/infer/providers.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { serializeModel } from '../src/graph/serialize.js';
import { fasterRcnnConfig } from '../src/models/presets.js';

test('resizedSize: torchvision rule (short side to minSize unless the long side passes maxSize)', () => {
  assert.deepEqual(resizedSize(480, 640, 800, 1333), [800, 1066]);
  assert.deepEqual(resizedSize(256, 320, 320, 480), [320, 400]);
  assert.deepEqual(resizedSize(100, 1000, 800, 1333), [133, 1333]);
  assert.deepEqual(resizedSize(512, 512, 512, 512), [512, 512]);
});

test('resizeBilinear equals torch F.interpolate(bilinear, align_corners=False) on a 2x2 → 4x4 and 4→3 case', () => {
  const up = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 1, 2, 2, 4, 4);
  assert.deepEqual([...up], [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  // torch.nn.functional.interpolate(torch.arange(4.).view(1,1,1,4), size=(1,3), mode='bilinear') → 0.1667, 1.5, 2.8333
  const down = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 1, 1, 4, 1, 3);
  assert.deepEqual([...down].map((v) => Math.round(v * 1e4) / 1e4), [0.1667, 1.5, 2.8333]);
});

test('transformBatch normalises, resizes and pads to a multiple of 32; boxes map back', () => {
  const cfg = fasterRcnnConfig('light', { transform: { minSize: 50, maxSize: 100 } }).transform;
  const img = rgbToTensor({ data: new Uint8Array(40 * 30 * 3).fill(255), height: 40, width: 30, channels: 3 });
  const b = transformBatch([img], cfg);
  assert.deepEqual(b.imageSizes, [[66, 50]]);
  assert.deepEqual(b.shape, [1, 3, 96, 64]);
  assert.ok(Math.abs(b.tensor[0]! - (1 - 0.485) / 0.229) < 1e-6);
  assert.equal(b.tensor[70 * 64], 0, 'padding rows are zero');
  const boxes = Float32Array.from([0, 0, 50, 66]);
  resizeBoxesInPlace(boxes, [66, 50], [40, 30]);
  assert.ok(Math.abs(boxes[2]! - 30) < 1e-4 && Math.abs(boxes[3]! - 40) < 1e-4);
});

test('topKIndices: decreasing values, ties by lower index', () => {
  assert.deepEqual([...topKIndices(Float32Array.from([1, 3, 2, 3, 0]), 3)], [1, 3, 2]);
  assert.deepEqual([...topKIndices(Float32Array.from([1, 2]), 5)], [1, 0]);
  // Many ties (100 distinct values over 5000 entries), against a brute-force stable sort.
  const v = Float32Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 100) / 10);
  const brute = Array.from(v.keys()).sort((a, b) => v[b]! - v[a]! || a - b);
  for (const k of [0, 1, 49, 50, 51, 1000, 4999, 5000, 6000]) assert.deepEqual([...topKIndices(v, k)], brute.slice(0, k), `k=${k}`);
});

test('softmaxRows sums to one per row', () => {
  const s = softmaxRows(Float32Array.from([0, 0, 0, 1000, 0, -1000]), 3);
  assert.ok(Math.abs(s[0]! - 1 / 3) < 1e-7);
  assert.equal(s[3], 1);
  assert.equal(s[5], 0);
});

test('postprocessDetections: background dropped, strict score threshold, per-class NMS, decreasing score', () => {
  // Two overlapping proposals and one apart; 3 classes; zero regression → boxes are the proposals.
  const proposals = Float32Array.from([0, 0, 10, 10, 1, 0, 11, 10, 50, 50, 60, 60]);
  const logits = Float32Array.from([0, 2, 0, 0, 1.5, 0, 0, 0, Math.log(2)]);
  const d = postprocessDetections(logits, new Float32Array(3 * 12), proposals, 3, [100, 100], { scoreThresh: 0.25, nmsThresh: 0.5, detectionsPerImg: 100 });
  // proposal 0 class 1 (0.787) suppresses proposal 1 class 1 (0.69); proposal 2 class 2 = 0.5, class 1 = 0.25 (not > 0.25).
  assert.deepEqual([...d.labels], [1, 2]);
  assert.deepEqual([...d.boxes], [0, 0, 10, 10, 50, 50, 60, 60]);
  assert.ok(Math.abs(d.scores[0]! - Math.exp(2) / (Math.exp(2) + 2)) < 1e-6);
  assert.ok(Math.abs(d.scores[1]! - 0.5) < 1e-6);
  const capped = postprocessDetections(logits, new Float32Array(36), proposals, 3, [100, 100], { scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 1 });
  assert.equal(capped.scores.length, 1);
});

test('providers: cuda without its libraries is a clear error with the install hint; auto falls back to cpu', async (t) => {
  const g = new GraphBuilder('tiny');
  g.output(g.op('Relu', [g.input('x', 'float32', [2])]), 'y');
  const model = serializeModel(g);
  await assert.rejects(createSessions([model], { provider: 'gpu' as never }), /provider must be 'cpu', 'cuda' or 'auto'/);
  const auto = await createSessions([model], { provider: 'auto' });
  assert.ok(auto.provider === 'cpu' || auto.provider === 'cuda');
  if (cudaLibraryPresent()) return t.skip('CUDA provider libraries are installed here');
  assert.equal(auto.provider, 'cpu');
  await assert.rejects(createSessions([model], { provider: 'cuda' }), (e: Error) => e instanceof ProviderUnavailableError && e.message.includes(CUDA_INSTALL_HINT));
});
