/**
 * evaluateDetections on cases small enough to work out by hand: a known TP/FP sequence (all-point,
 * 11-point and COCO AP), duplicates, the VOC "best box already taken" rule vs COCO's, difficult
 * boxes, empty classes, the score cut-off, IoU exactly at 0.5 and stable ties across images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateDetections, type EvalGroundTruth, type EvalPrediction } from '../src/eval/map.js';
import { vocAp11Point, vocApAllPoint } from '../src/eval/voc-ap.js';

const close = (actual: number, expected: number, what: string, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} ≠ ${expected}`);

function gt(boxes: number[][], labels: number[], difficult?: number[]): EvalGroundTruth {
  return { boxes: Float32Array.from(boxes.flat()), labels: Int32Array.from(labels), ...(difficult ? { difficult: Uint8Array.from(difficult) } : {}) };
}
function pred(dets: [number[], number, number][]): EvalPrediction {
  return { boxes: Float32Array.from(dets.flatMap((d) => d[0])), scores: Float32Array.from(dets.map((d) => d[1])), labels: Int32Array.from(dets.map((d) => d[2])) };
}
const FAR = [100, 100, 110, 110];

test('TP FP TP FP TP over 3 boxes: all-point 34/45, 11-point 8.4/11, COCO 76.4/101', () => {
  const g = gt([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], [1, 1, 1]);
  const p = pred([[[0, 0, 10, 10], 0.9, 1], [FAR, 0.8, 1], [[20, 0, 30, 10], 0.7, 1], [FAR, 0.6, 1], [[40, 0, 50, 10], 0.5, 1]]);
  const r = evaluateDetections([g], [p]);
  const c = r.perClass[0]!;
  close(c.ap50, 34 / 45, 'all-point');
  close(c.ap50_11pt, 8.4 / 11, '11-point');
  close(c.apCoco, 76.4 / 101, 'COCO');
  assert.deepEqual(Array.from(c.recall), [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1]);
  assert.deepEqual(Array.from(c.precision), [1, 1 / 2, 2 / 3, 2 / 4, 3 / 5]);
  assert.equal(c.numGt, 3);
  assert.equal(c.numDetections, 5);
  close(r.map50, 34 / 45, 'mean');
  assert.equal(c.name, 'class1');
});

test('11-point and all-point differ as VOC2007 and VOC2010 define them', () => {
  // Recall 0.5 at precision 1, then recall 1 at precision 0.5.
  close(vocApAllPoint([0.5, 1], [1, 0.5]), 0.75, 'all-point');
  close(vocAp11Point([0.5, 1], [1, 0.5]), (6 * 1 + 5 * 0.5) / 11, '11-point');
  // numpy's arange thresholds: 3·0.1 > 0.3, so recall exactly 0.3 does not reach the 4th point.
  close(vocAp11Point([0.3], [1]), 3 / 11, '11-point at recall 0.3');
  close(vocApAllPoint([], []), 0, 'no detections');
  assert.ok(Number.isNaN(vocApAllPoint([NaN], [0])));
});

test('a duplicate detection is a false positive', () => {
  const g = gt([[0, 0, 10, 10], [20, 0, 30, 10]], [1, 1]);
  const p = pred([[[0, 0, 10, 10], 0.9, 1], [[0, 0, 10, 10], 0.8, 1], [[20, 0, 30, 10], 0.7, 1]]);
  const c = evaluateDetections([g], [p]).perClass[0]!;
  close(c.ap50, 0.5 + 0.5 * (2 / 3), 'all-point');
  assert.deepEqual(Array.from(c.precision), [1, 0.5, 2 / 3]);
});

test('VOC: best box already taken is a false positive; COCO takes the next box when it overlaps enough', () => {
  // B overlaps G1 by 0.96 (taken by A) and G2 by 0.852.
  const g = gt([[0, 0, 10, 10], [1, 0, 11, 10]], [1, 1]);
  const p = pred([[[0, 0, 10, 10], 0.9, 1], [[0.25, 0, 10.25, 10], 0.8, 1]]);
  const c = evaluateDetections([g], [p]).perClass[0]!;
  close(c.ap50, 0.5, 'VOC all-point');
  // COCO: B matches G2 at IoU 0.50…0.85 (8 thresholds, AP 1 each); at 0.90 and 0.95 it is a
  // false positive: precision 1 up to recall 0.5 (51 of 101 recall points), 0 after.
  close(c.apCoco, (8 + 2 * (51 / 101)) / 10, 'COCO');
});

test('difficult boxes: detections on them count neither way, even several; they are not missed', () => {
  const g = gt([[0, 0, 10, 10], [20, 0, 30, 10]], [1, 1], [0, 1]);
  const p = pred([[[20, 0, 30, 10], 0.9, 1], [[0, 0, 10, 10], 0.8, 1], [[20, 0, 30, 10], 0.7, 1], [FAR, 0.6, 1]]);
  const c = evaluateDetections([g], [p]).perClass[0]!;
  assert.equal(c.numGt, 1);
  assert.equal(c.numDetections, 4);
  assert.deepEqual(Array.from(c.recall), [0, 1, 1, 1]);
  assert.deepEqual(Array.from(c.precision), [0, 1, 1, 0.5]);
  close(c.ap50, 1, 'all-point');
  close(c.ap50_11pt, 1, '11-point');
  close(c.apCoco, 1, 'COCO');
});

test('classes without ground truth are NaN and left out of the means; classes without detections are 0', () => {
  const images = [gt([[0, 0, 10, 10], [20, 0, 30, 10]], [1, 2]), gt([], [])];
  const preds = [pred([[[0, 0, 10, 10], 0.9, 1]]), pred([[FAR, 0.9, 3]])];
  const r = evaluateDetections(images, preds, { numClasses: 3, classNames: ['RBC', 'WBC', 'Platelets'] });
  assert.deepEqual(r.perClass.map((c) => c.name), ['RBC', 'WBC', 'Platelets']);
  assert.deepEqual(r.perClass.map((c) => c.ap50), [1, 0, NaN]);
  close(r.perClass[0]!.apCoco, 1, 'COCO RBC'); // 1 up to pycocotools' ε in the precision's denominator
  assert.equal(r.perClass[1]!.apCoco, 0);
  assert.ok(Number.isNaN(r.perClass[2]!.apCoco));
  assert.equal(r.perClass[2]!.numDetections, 1);
  close(r.map50, 0.5, 'mean over RBC and WBC');
  close(r.mapCoco, 0.5, 'COCO mean');
  assert.equal(r.imagesWithoutDetections, 0);
  const none = evaluateDetections(images, [pred([]), pred([])], { numClasses: 3 });
  assert.equal(none.imagesWithoutDetections, 2);
  assert.equal(none.map50, 0);
});

test('detections below minScore (default 0.05) are dropped first', () => {
  const g = gt([[0, 0, 10, 10]], [1]);
  const p = pred([[FAR, 0.04, 1], [[0, 0, 10, 10], 0.03, 1]]);
  assert.equal(evaluateDetections([g], [p]).perClass[0]!.numDetections, 0);
  const low = evaluateDetections([g], [p], { minScore: 0 }).perClass[0]!;
  assert.equal(low.numDetections, 2);
  close(low.ap50, 0.5, 'FP then TP');
});

test('IoU exactly 0.5 matches (inclusive threshold, no +1 in areas)', () => {
  const g = gt([[0, 0, 10, 10]], [1]);
  const p = pred([[[0, 0, 20, 10], 0.9, 1]]);
  const c = evaluateDetections([g], [p], { extraIouThresholds: [0.75] }).perClass[0]!;
  assert.equal(c.ap50, 1);
  assert.deepEqual(c.apAtIou, [0]);
  close(c.apCoco, 0.1, 'COCO: only the 0.5 threshold');
});

test('equal scores keep image order, then the order within the image', () => {
  const images = [gt([], []), gt([[0, 0, 10, 10]], [1])];
  const fpFirst = evaluateDetections(images, [pred([[FAR, 0.5, 1]]), pred([[[0, 0, 10, 10], 0.5, 1]])]).perClass[0]!;
  close(fpFirst.ap50, 0.5, 'FP ranked first');
  const swapped = evaluateDetections([images[1]!, images[0]!], [pred([[[0, 0, 10, 10], 0.5, 1]]), pred([[FAR, 0.5, 1]])]).perClass[0]!;
  close(swapped.ap50, 1, 'TP ranked first');
});

test('COCO keeps the 100 highest-scoring detections per image and class', () => {
  const g = gt([[0, 0, 10, 10]], [1]);
  const dets: [number[], number, number][] = Array.from({ length: 100 }, (_, i) => [[200 + i, 0, 210 + i, 10], 0.9, 1]);
  dets.push([[0, 0, 10, 10], 0.5, 1]);
  const c = evaluateDetections([g], [pred(dets)]).perClass[0]!;
  assert.equal(c.apCoco, 0);
  close(c.ap50, 1 / 101, 'VOC keeps all');
});

test('bad input is a TypeError/RangeError naming the argument', () => {
  const g = gt([[0, 0, 10, 10]], [1]);
  assert.throws(() => evaluateDetections([g], []), /gt has 1 images but preds has 0/);
  assert.throws(() => evaluateDetections([g], [{ boxes: new Float32Array(4), scores: new Float32Array(2), labels: new Int32Array(1) }]), /preds\[0\]\.scores has 2 values/);
  assert.throws(() => evaluateDetections([{ ...g, labels: Int32Array.from([0]) }], [pred([])]), /gt\[0\]\.labels\[0\] = 0 is outside/);
  assert.throws(() => evaluateDetections([g], [pred([])], { numClasses: 1, minScore: NaN }), /options\.minScore/);
  assert.throws(() => evaluateDetections([{ boxes: [0, 0, 1, 1] as unknown as Float32Array, labels: Int32Array.from([1]) }], [pred([])]), TypeError);
});
