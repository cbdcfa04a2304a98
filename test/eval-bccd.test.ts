/**
 * The evaluation at real scale: BCCD's 292 LabelImg files (../shared/data/bccd, 3,941 boxes) read
 * by `readGroundTruth`, with seeded synthetic predictions (jittered boxes, misses, duplicates,
 * wrong classes, background detections, score ties), against scripts/eval_reference.py (the numpy
 * transcription of voc_eval.py and pycocotools) on the very same numbers. Needs the data and
 * /usr/bin/python3 with numpy (both required under CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateDetections } from '../src/eval/map.js';
import { pairDetections } from '../src/eval/pair.js';
import { readGroundTruth } from '../src/eval/read-ground-truth.js';
import type { PredictionSet } from '../src/eval/read-predictions.js';
import { Rng } from '../src/util/rng.js';
import { hasPythonModules, need, repoRoot, sharedData, systemPython } from './helpers.js';

// Values on a 1/8 px grid and scores on a 1/256 grid are exact in float32, so both sides see the same inputs.
const grid = (v: number, step: number) => Math.round(v / step) * step;

test('BCCD ground truth with synthetic predictions: VOC and COCO AP match the reference within 1e-9', async (t) => {
  const annotations = sharedData(t, 'bccd', 'Annotations');
  if (!annotations) return;
  if (!need(t, hasPythonModules(['numpy']), `${systemPython} with numpy (python3-numpy) for scripts/eval_reference.py`)) return;
  const gt = await readGroundTruth(annotations, 'voc');
  assert.equal(gt.images.length, 292);
  assert.equal(gt.fatal.length, 0);

  const rng = new Rng(5);
  const classes = ['Platelets', 'RBC', 'WBC'];
  const preds: PredictionSet = { kind: 'predictions.json', file: 'synthetic', images: [], failed: [], warnings: [] };
  for (const { annotation: a } of gt.images) {
    const detections: PredictionSet['images'][number]['detections'] = [];
    const add = (name: string, x1: number, y1: number, x2: number, y2: number) => {
      const b = [grid(x1, 0.125), grid(y1, 0.125), grid(x2, 0.125), grid(y2, 0.125)] as [number, number, number, number];
      if (b[2] > b[0] && b[3] > b[1]) detections.push({ className: name, score: grid(rng.next(), 1 / 256), box: b });
    };
    for (const o of a.objects) {
      const copies = (rng.next() < 0.85 ? 1 : 0) + (rng.next() < 0.1 ? 1 : 0);
      for (let c = 0; c < copies; c++) {
        const w = o.x2 - o.x1, h = o.y2 - o.y1;
        const name = rng.next() < 0.05 ? classes[rng.int(0, 2)]! : o.name;
        add(name, o.x1 + rng.normal(0, 0.08 * w), o.y1 + rng.normal(0, 0.08 * h), o.x2 + rng.normal(0, 0.08 * w), o.y2 + rng.normal(0, 0.08 * h));
      }
    }
    for (let k = rng.int(0, 3); k > 0; k--) {
      const x = rng.uniform(0, 560), y = rng.uniform(0, 400);
      add(classes[rng.int(0, 2)]!, x, y, x + rng.uniform(20, 80), y + rng.uniform(20, 80));
    }
    preds.images.push({ image: `pred/${a.filename}`, detections });
  }
  const paired = pairDetections(gt, preds, { classes });
  const ours = evaluateDetections(paired.gt, paired.preds, { numClasses: 3, classNames: classes });

  const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-bccd-'));
  try {
    const input = path.join(dir, 'data.json');
    writeFileSync(input, JSON.stringify({
      numClasses: 3, minScore: 0.05,
      images: paired.gt.map((g, i) => ({
        gt: { boxes: chunk(g.boxes), labels: Array.from(g.labels), difficult: Array.from(g.difficult!) },
        pred: { boxes: chunk(paired.preds[i]!.boxes), scores: Array.from(paired.preds[i]!.scores), labels: Array.from(paired.preds[i]!.labels) },
      })),
    }));
    const r = spawnSync(systemPython, [path.join(repoRoot, 'scripts', 'eval_reference.py'), '--input', input], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as { map50: number; map50_11pt: number; mapCoco: number; perClass: { numGt: number; numDetections: number; ap50: number; ap50_11pt: number; apCoco: number }[] };
    for (const key of ['map50', 'map50_11pt', 'mapCoco'] as const) assert.ok(Math.abs(ours[key] - ref[key]) <= 1e-9, `${key}: ${ours[key]} vs ${ref[key]}`);
    ref.perClass.forEach((e, k) => {
      const c = ours.perClass[k]!;
      assert.deepEqual([c.numGt, c.numDetections], [e.numGt, e.numDetections], classes[k]);
      for (const key of ['ap50', 'ap50_11pt', 'apCoco'] as const) assert.ok(Math.abs(c[key] - e[key]) <= 1e-9, `${classes[k]} ${key}: ${c[key]} vs ${e[key]}`);
    });
    assert.equal(ours.perClass[1]!.numGt, 3348, 'RBC: 3350 boxes less the two zero-area ones');
    assert.ok(ours.mapCoco > 0.2 && ours.mapCoco < ours.map50, `a spread of AP (${ours.mapCoco}, ${ours.map50})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function chunk(boxes: Float32Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < boxes.length; i += 4) out.push(Array.from(boxes.subarray(i, i + 4)));
  return out;
}
