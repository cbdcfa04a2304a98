/**
 * Reading predictions for evaluation (scored VOC XML, predictions.json or its folder, COCO results
 * with and without COCO ground truth) and pairing them with ground truth by file name; the errors
 * name the file and the entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatVocXml } from '../src/annotations/voc-write.js';
import type { ImageAnnotation } from '../src/annotations/model.js';
import { pairDetections, UnmatchedPredictionsError } from '../src/eval/pair.js';
import { guessAnnotationFormat, readGroundTruth } from '../src/eval/read-ground-truth.js';
import { PredictionInputError, readPredictions } from '../src/eval/read-predictions.js';
import { fixturesDir } from './helpers.js';

const gtDir = path.join(fixturesDir, 'eval', 'cli', 'Annotations');
const image = (filename: string, objects: ImageAnnotation['objects']): ImageAnnotation => ({ filename, width: 100, height: 100, depth: 3, objects });

function withTmp(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-read-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('a folder of scored VOC XML pairs with the ground truth by name without extension', withTmp(async (dir) => {
  writeFileSync(path.join(dir, 'a.xml'), formatVocXml(image('a.jpg', [{ name: 'cell', x1: 0, y1: 0, x2: 10, y2: 10, score: 0.9 }, { name: 'nucleus', x1: 40, y1: 40, x2: 60, y2: 60, score: 0.25 }])));
  const preds = await readPredictions(dir);
  assert.equal(preds.kind, 'voc');
  assert.deepEqual(preds.images[0]!.detections.map((d) => [d.className, d.score]), [['cell', 0.9], ['nucleus', 0.25]]);
  assert.deepEqual(preds.warnings, []);
  const gt = await readGroundTruth(gtDir, await guessAnnotationFormat(gtDir));
  const paired = pairDetections(gt, preds);
  assert.deepEqual(paired.classNames, ['cell', 'nucleus']);
  assert.deepEqual(paired.imageIds, ['a', 'b', 'c']);
  assert.deepEqual(Array.from(paired.preds[0]!.labels), [1, 2]);
  assert.deepEqual(paired.withoutPrediction, ['b.png', 'c.png']);
  assert.deepEqual(Array.from(paired.gt[0]!.difficult!), [0, 1, 0]);
}));

test('predictions.json is found in its folder; COCO results without COCO ground truth use label ids and file names', withTmp(async (dir) => {
  writeFileSync(path.join(dir, 'predictions.json'), JSON.stringify({ scoreThreshold: 0.05, classNames: ['cell'], images: [{ image: 'x/b.png', detections: [{ className: 'cell', score: 0.5, box: [0, 0, 10, 10] }] }], failures: [{ image: 'x/c.png' }] }));
  const p = await readPredictions(dir);
  assert.deepEqual([p.kind, p.scoreThreshold, p.failed], ['predictions.json', 0.05, ['x/c.png']]);
  const gt = await readGroundTruth(gtDir, 'voc');
  assert.deepEqual(pairDetections(gt, p).failed, ['c.png']);

  writeFileSync(path.join(dir, 'results.json'), JSON.stringify([{ image_id: 'b.png', category_id: 2, bbox: [50, 50, 20, 20], score: 0.7 }]));
  const coco = await readPredictions(path.join(dir, 'results.json'));
  assert.deepEqual(coco.images, [{ image: 'b.png', detections: [{ label: 2, score: 0.7, box: [50, 50, 70, 70] }] }]);
  assert.deepEqual(Array.from(pairDetections(gt, coco).preds[1]!.labels), [2]);
}));

test('unreadable or malformed predictions are errors naming the file and the entry', withTmp(async (dir) => {
  const file = path.join(dir, 'p.json');
  await assert.rejects(readPredictions(path.join(dir, 'none.json')), (e: Error) => e instanceof PredictionInputError && e.message.includes('none.json'));
  writeFileSync(file, '{ not json');
  await assert.rejects(readPredictions(file), /p\.json/);
  writeFileSync(file, JSON.stringify({ images: [{ image: 'a.png', detections: [{ className: 'cell', score: 0.5, box: [0, 0, 1] }] }] }));
  await assert.rejects(readPredictions(file), /images\[0\]\.detections\[0\]\.box must be 4 finite numbers/);
  writeFileSync(file, JSON.stringify([{ image_id: 3, category_id: 1, bbox: [0, 0, 1, 1], score: 0.5 }]));
  await assert.rejects(readPredictions(file), /\[0\]: a numeric image_id needs COCO ground truth/);
  mkdirSync(path.join(dir, 'empty'));
  await assert.rejects(readPredictions(path.join(dir, 'empty')), /no \.xml files/);
}));

test('pairing: unmatched names listed, an image predicted twice, classes outside --classes, --ids', async () => {
  const gt = await readGroundTruth(gtDir, 'voc');
  const set = (images: string[]) => ({ kind: 'predictions.json' as const, file: 'p.json', images: images.map((image) => ({ image, detections: [{ className: 'cell', score: 1, box: [0, 0, 1, 1] as [number, number, number, number] }] })), failed: [], warnings: [] });
  assert.throws(() => pairDetections(gt, set(['a.png', 'q.png', 'r.png'])), (e: Error) => e instanceof UnmatchedPredictionsError && /2 predicted image\(s\) have no ground truth: q\.png, r\.png/.test(e.message));
  assert.throws(() => pairDetections(gt, set(['a.png', 'other/a.jpg'])), /both predictions for a\.png/);
  assert.throws(() => pairDetections(gt, set(['a.png']), { classes: ['cell'] }), /class\(es\) nucleus are not in the class list \(cell\)/);
  const onlyB = pairDetections(gt, set(['a.png', 'b.png']), { ids: ['b'] });
  assert.deepEqual([onlyB.imageIds, onlyB.gt.length, onlyB.preds.length, onlyB.outsideIds, onlyB.withoutPrediction], [['b'], 1, 1, 1, []]);
  assert.throws(() => pairDetections(gt, set([]), { ids: ['b', 'zz'] }), /1 id\(s\) have no ground truth: zz/);
  const extra = pairDetections(gt, { ...set([]), images: [{ image: 'a.png', detections: [{ className: 'class1', score: 1, box: [0, 0, 1, 1] }] }] });
  assert.deepEqual([extra.classNames, extra.predictionOnlyClasses], [['cell', 'nucleus', 'class1'], ['class1']]);
});
