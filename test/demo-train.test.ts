/**
 * The demo's detection half, shortened: 24 synthetic 256 px images (18 to train, 6 held out), the
 * `light` Faster R-CNN (half-width ResNet-18) trained from scratch at 256 px for 72 steps,
 * predicted on the held-out images and scored. What it must show today:
 *  - the whole chain runs and the report links what it wrote;
 *  - the model finds the cells: class-agnostic AP@0.5 on the held-out images ≥ CELL_BAR
 *    (an untrained model, the control, scores far below it: the metric is not trivially high).
 * Telling Nucleoli from Not Nucleoli is not learned in a budget this short (both classes score
 * their share of the cells, as a shuffled-label run would; see docs/detection-training.md,
 * "Learning the synthetic classes"), so the issue's mAP@0.5 bar and its shuffled-label control
 * are not asserted here: with no class signal learned yet no bar separates them (measured at these
 * 72 steps: mAP@0.5 0.474, and 0.619 with shuffled labels). The demo's 900 steps separate the
 * classes on six data seeds of seven, its first 720 on four of five (seed 0: 0.996, shuffled 0.540),
 * so the bar and its control are asserted on a 720-step run, in test/demo-classes.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from '../src/demo/pipeline.js';

/** Held-out class-agnostic AP@0.5 the shortened run must reach (measured 0.842 with the half-width `light`, 0.889 with the full-width one; an untrained model 0.000–0.005). */
const CELL_BAR = 0.75;
/**
 * 8 epochs of 9 steps: the step count is the budget (the minutes are only a safety net). At
 * trainDetector's lr 0.02, not the demo's 0.0025: the lower rate finds the cells more slowly
 * (held-out cell-finding AP@0.5 0.489 at these 72 steps) and pays off only in the classes, later.
 */
const SHORT = { imageSize: 256, epochs: 8, minutes: 20, optimizer: { lr: 0.02 } } as const;

test(`demo, shortened: trains, predicts and scores held-out images; finds the cells (AP@0.5 ≥ ${CELL_BAR})`, async (t) => {
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hpa-demo-train-'));
  try {
    const result = await runDemo({ outDir, count: 24, seed: 3, size: 256, overlays: 2, progress: false, train: SHORT });
    const d = result.detection!;
    assert.ok(d, 'the demo trained');
    assert.equal(d.train.steps, 72);
    assert.equal(d.evaluation.numImages, 6);
    assert.ok(d.cellFinding.map50 >= CELL_BAR, `held-out cell-finding AP@0.5 ${d.cellFinding.map50.toFixed(3)} below ${CELL_BAR}`);
    for (const c of d.evaluation.perClass) assert.ok(c.ap50 >= 0 && c.ap50 <= 1, `${c.name}: AP ${c.ap50}`);

    // The report and what it links.
    for (const f of ['model/learning-curve.png', 'model/loss.csv', 'model/checkpoint-last.safetensors', 'evaluation/metrics.json', 'evaluation/pr-curve.png', 'predictions/predictions.json']) {
      assert.ok(existsSync(path.join(outDir, f)), `${f} written`);
    }
    const html = await fs.readFile(result.report, 'utf8');
    assert.match(html, /Held-out evaluation/);
    assert.ok(html.includes('model/learning-curve.png') && html.includes('evaluation/pr-curve.png'));
    assert.ok(html.includes(d.evaluation.map50.toFixed(3)), 'the report states the mAP');
    assert.equal((await fs.readdir(path.join(outDir, 'detections'))).length, 6);
    const metrics = JSON.parse(await fs.readFile(path.join(outDir, 'evaluation', 'metrics.json'), 'utf8'));
    assert.equal(metrics.map50, d.evaluation.map50);
    assert.equal(metrics.cellFinding.map50, d.cellFinding.map50);

    // Control: the same pipeline with a model that has not learned (one epoch at lr 1e-12: the
    // random initial weights, scored by the same code).
    const control = await runDemo({
      outDir: path.join(outDir, 'control'), count: 24, seed: 3, size: 256, overlays: 0, progress: false,
      train: { imageSize: 256, epochs: 1, minutes: 20, optimizer: { lr: 1e-12, warmupIters: 0 } },
    });
    const c = control.detection!.cellFinding.map50;
    t.diagnostic(`held-out: cell finding AP@0.5 ${d.cellFinding.map50.toFixed(3)}, mAP@0.5 ${d.evaluation.map50.toFixed(3)} (${d.evaluation.perClass.map((k) => `${k.name} ${k.ap50.toFixed(3)}`).join(', ')}); untrained control: cell finding ${c.toFixed(3)}`);
    assert.ok(c < CELL_BAR / 2, `untrained control cell-finding AP@0.5 ${c.toFixed(3)} is not far below ${CELL_BAR}`);
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
});
