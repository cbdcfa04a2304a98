/**
 * `hpa-detect evaluate` on a tiny hand-checked fixture (test/fixtures/eval/cli: 3 VOC images, 2
 * classes, a difficult box, a detection below 0.05, an image the predictor failed on):
 *   cell: 0.9 TP, 0.85 FP, 0.8 on the difficult box (ignored), 0.6 TP over 3 boxes
 *         → all-point 1/3 + 1/3·2/3 = 5/9, 11-point 6/11, COCO (34 + 33·2/3)/101 = 56/101
 *   nucleus: 2 of 2 found first → 1.
 * Also the same data as COCO ground truth + COCO results, and the exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir, repoRoot } from './helpers.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
const dir = path.join(fixturesDir, 'eval', 'cli');
const gt = path.join(dir, 'Annotations');
const pred = path.join(dir, 'predictions.json');
const run = (args: string[]) => spawnSync(process.execPath, [bin, 'evaluate', ...args], { encoding: 'utf8' });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);

test('evaluate prints the table, writes metrics.json and pr-curve.png, reports images without predictions', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'eval-cli-'));
  try {
    const r = run(['--gt', gt, '--pred', pred, '--out', out, '--iou', '0.75']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^class\s+nGT\s+nDet\s+AP50\s+AP50 11pt\s+AP@\[\.5:\.95\]\s+AP@0\.75$/m);
    assert.match(r.stdout, /^cell\s+3\s+4\s+0\.5556\s+0\.5455\s+0\.5545\s+0\.5556$/m);
    assert.match(r.stdout, /^mean \(2 classes\)\s+5\s+6\s+0\.7778\s+0\.7727\s+0\.7772/m);
    assert.match(r.stderr, /1 of 3 ground-truth image\(s\) have no prediction entry.*c\.png/);
    assert.match(r.stderr, /predict failed on: c\.png/);

    const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    close(m.map50, 7 / 9, 'map50');
    close(m.map50_11pt, (6 / 11 + 1) / 2, 'map50_11pt');
    close(m.mapCoco, (56 / 101 + 1) / 2, 'mapCoco');
    assert.deepEqual(m.classNames, ['cell', 'nucleus']);
    assert.deepEqual(m.imagesWithoutPrediction, ['c.png']);
    const cell = m.perClass[0];
    assert.equal(cell.numGt, 3);
    assert.equal(cell.numDetections, 4, 'the 0.03 detection is dropped');
    assert.deepEqual(cell.recall, [1 / 3, 1 / 3, 1 / 3, 2 / 3]);
    const png = await sharp(path.join(out, 'pr-curve.png')).metadata();
    assert.equal(png.format, 'png');
    assert.ok(png.width! >= 600 && png.height! > png.width!);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('COCO ground truth with COCO results gives the same numbers (ids resolved through the ground truth)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'eval-coco-'));
  try {
    const images = [{ id: 7, file_name: 'a.png', width: 100, height: 100 }, { id: 8, file_name: 'b.png', width: 100, height: 100 }, { id: 9, file_name: 'c.png', width: 100, height: 100 }];
    const box = (x1: number, y1: number, x2: number, y2: number) => [x1, y1, x2 - x1, y2 - y1];
    const ann = (id: number, image_id: number, category_id: number, b: number[], iscrowd = 0) => ({ id, image_id, category_id, bbox: b, area: b[2]! * b[3]!, iscrowd, segmentation: [] });
    const cocoGt = {
      images,
      categories: [{ id: 3, name: 'nucleus' }, { id: 5, name: 'cell' }],
      annotations: [ann(1, 7, 5, box(0, 0, 10, 10)), ann(2, 7, 5, box(20, 0, 30, 10), 1), ann(3, 7, 3, box(40, 40, 60, 60)), ann(4, 8, 5, box(0, 0, 10, 10)), ann(5, 8, 3, box(50, 50, 70, 70)), ann(6, 9, 5, box(10, 10, 30, 30))],
    };
    const res = (image_id: number, category_id: number, b: number[], score: number) => ({ image_id, category_id, bbox: b, score });
    const results = [res(7, 5, box(0, 0, 10, 10), 0.9), res(7, 5, box(20, 0, 30, 10), 0.8), res(7, 3, box(40, 40, 60, 60), 0.7), res(8, 5, box(50, 0, 60, 10), 0.85), res(8, 5, box(0, 0, 10, 10), 0.6), res(8, 3, box(50, 50, 70, 70), 0.5)];
    writeFileSync(path.join(tmp, 'gt.json'), JSON.stringify(cocoGt));
    writeFileSync(path.join(tmp, 'results.json'), JSON.stringify(results));
    const r = run(['--gt', path.join(tmp, 'gt.json'), '--pred', path.join(tmp, 'results.json'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.deepEqual(m.classNames, ['cell', 'nucleus']);
    close(m.map50, 7 / 9, 'map50');
    close(m.mapCoco, (56 / 101 + 1) / 2, 'mapCoco');
    assert.equal(m.perClass[0].precision, undefined, '--json leaves the curves out');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('predict at --score-threshold 0.7: its belowThreshold lists give the standard mAP; without them a warning', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'eval-below-'));
  try {
    const doc = JSON.parse(readFileSync(pred, 'utf8'));
    type Det = { label: number; score: number; box: number[] };
    const columns = (ds: Det[]) => ({ label: ds.map((d) => d.label), score: ds.map((d) => d.score), box: ds.flatMap((d) => d.box) });
    const at07 = {
      ...doc,
      scoreThreshold: 0.7,
      modelScoreThreshold: 0.05,
      images: doc.images.map((im: { detections: Det[] }) => ({
        ...im,
        detections: im.detections.filter((d) => d.score >= 0.7),
        belowThreshold: columns(im.detections.filter((d) => d.score < 0.7 && d.score > 0.05)),
      })),
    };
    const file = path.join(tmp, 'predictions.json');
    writeFileSync(file, JSON.stringify(at07));
    const full = run(['--gt', gt, '--pred', file, '--json']);
    assert.equal(full.status, 0, full.stderr);
    close(JSON.parse(full.stdout).map50, 7 / 9, 'map50 from detections + belowThreshold');
    assert.doesNotMatch(full.stderr, /kept only detections/);

    writeFileSync(file, JSON.stringify({ ...at07, images: at07.images.map((im: object) => ({ ...im, belowThreshold: undefined })) }));
    const cut = run(['--gt', gt, '--pred', file, '--json']);
    assert.equal(cut.status, 0, cut.stderr);
    assert.match(cut.stderr, /kept only detections scoring ≥ 0\.7 \(predict --score-threshold\); AP is computed from those/);
    assert.ok(JSON.parse(cut.stdout).map50 < 7 / 9 - 0.01, 'only the 0.7 cut is scored');

    const broken = { ...at07, images: [{ ...at07.images[0], belowThreshold: { label: [1, 2], score: [0.3], box: [0, 0, 1, 1] } }] };
    writeFileSync(file, JSON.stringify(broken));
    const bad = run(['--gt', gt, '--pred', file]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /images\[0\]\.belowThreshold: 2 labels need as many scores \(got 1\) and 4 box numbers each \(got 4\)/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a predicted image without ground truth is an error naming it (exit 1)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'eval-unmatched-'));
  try {
    const doc = JSON.parse(readFileSync(pred, 'utf8'));
    doc.images.push({ ...doc.images[0], image: 'merged/zz_unknown.png' });
    writeFileSync(path.join(tmp, 'predictions.json'), JSON.stringify(doc));
    const r = run(['--gt', gt, '--pred', tmp]); // the folder holding predictions.json
    assert.equal(r.status, 1);
    assert.match(r.stderr, /1 predicted image\(s\) have no ground truth: merged\/zz_unknown\.png/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('unreadable input is exit 1 naming the file; bad usage is exit 2', () => {
  const missing = path.join(dir, 'no-such.json');
  let r = run(['--gt', gt, '--pred', missing]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no-such\.json/);
  r = run(['--gt', path.join(dir, 'no-such-folder'), '--pred', pred]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no-such-folder/);
  r = run(['--gt', gt, '--pred', path.join(gt, 'a.xml')]);
  assert.equal(r.status, 0, 'a VOC file without scores still evaluates (warning)');
  assert.match(r.stderr, /without <score> read as score 1/);
  r = run(['--gt', gt, '--pred', pred, '--iou', '1.5']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--iou must be IoU thresholds in \(0, 1\]/);
  assert.ok(!existsSync(path.join(dir, 'metrics.json')));
});
