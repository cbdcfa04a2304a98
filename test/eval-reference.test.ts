/**
 * evaluateDetections against scripts/eval_reference.py, an independent numpy transcription of
 * py-faster-rcnn's voc_eval/voc_ap and pycocotools' COCOeval (bbox), on seeded data with crowded
 * overlaps, IoU and score ties, difficult boxes, duplicates and more than 100 detections in an
 * image (test/fixtures/eval/reference.json). When /usr/bin/python3 has numpy (required under
 * CI=true), the script must reproduce the fixture byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateDetections } from '../src/eval/map.js';
import { fixturesDir, hasPythonModules, need, repoRoot, systemPython } from './helpers.js';

interface RefImage {
  gt: { boxes: number[][]; labels: number[]; difficult: number[] };
  pred: { boxes: number[][]; scores: number[]; labels: number[] };
}
interface RefClass {
  label: number; numGt: number; numDetections: number;
  ap50: number | null; ap50_11pt: number | null; apCoco: number | null;
  precision: number[] | null; recall: number[] | null;
}
interface Reference {
  numClasses: number; minScore: number; images: RefImage[];
  expected: { map50: number; map50_11pt: number; mapCoco: number; perClass: RefClass[] };
}

const fixture = path.join(fixturesDir, 'eval', 'reference.json');
const TOL = 1e-9;

function closeTo(actual: number, expected: number | null, what: string): void {
  if (expected === null) return assert.ok(Number.isNaN(actual), `${what}: expected NaN (no ground truth), got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= TOL, `${what}: ${actual} vs reference ${expected} (diff ${Math.abs(actual - expected)})`);
}

test('VOC all-point, 11-point, COCO AP and PR curves match the reference transcription within 1e-9', () => {
  const ref = JSON.parse(readFileSync(fixture, 'utf8')) as Reference;
  const r = evaluateDetections(
    ref.images.map((im) => ({ boxes: Float32Array.from(im.gt.boxes.flat()), labels: Int32Array.from(im.gt.labels), difficult: Uint8Array.from(im.gt.difficult) })),
    ref.images.map((im) => ({ boxes: Float32Array.from(im.pred.boxes.flat()), scores: Float32Array.from(im.pred.scores), labels: Int32Array.from(im.pred.labels) })),
    { numClasses: ref.numClasses, minScore: ref.minScore },
  );
  assert.equal(r.perClass.length, ref.expected.perClass.length);
  ref.expected.perClass.forEach((e, k) => {
    const c = r.perClass[k]!;
    assert.equal(c.label, e.label);
    assert.equal(c.numGt, e.numGt, `class ${e.label} numGt`);
    assert.equal(c.numDetections, e.numDetections, `class ${e.label} numDetections`);
    closeTo(c.ap50, e.ap50, `class ${e.label} ap50`);
    closeTo(c.ap50_11pt, e.ap50_11pt, `class ${e.label} ap50_11pt`);
    closeTo(c.apCoco, e.apCoco, `class ${e.label} apCoco`);
    if (e.precision && e.recall) {
      assert.equal(c.precision.length, e.precision.length);
      e.precision.forEach((v, i) => closeTo(c.precision[i]!, v, `class ${e.label} precision[${i}]`));
      e.recall.forEach((v, i) => closeTo(c.recall[i]!, v, `class ${e.label} recall[${i}]`));
    }
  });
  closeTo(r.map50, ref.expected.map50, 'map50');
  closeTo(r.map50_11pt, ref.expected.map50_11pt, 'map50_11pt');
  closeTo(r.mapCoco, ref.expected.mapCoco, 'mapCoco');
  // The data exercise what they are meant to: COCO's maxDets cut and a spread of AP.
  assert.ok(ref.images.some((im) => im.pred.labels.filter((l) => l === 1).length > 100));
  assert.ok(r.mapCoco > 0.1 && r.mapCoco < r.map50 && r.map50 < 0.9);
});

test('the reference fixture is what scripts/eval_reference.py writes (byte for byte)', (t) => {
  if (!need(t, hasPythonModules(['numpy']), `${systemPython} with numpy (python3-numpy) to rerun scripts/eval_reference.py`)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-reference-'));
  try {
    const r = spawnSync(systemPython, [path.join(repoRoot, 'scripts', 'eval_reference.py'), '--out', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(path.join(dir, 'reference.json')).equals(readFileSync(fixture)), 'regenerated fixture differs from the committed one');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
