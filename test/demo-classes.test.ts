/**
 * The issue's class bar and its negative control, on a shortened demo run: the default data (48
 * synthetic standard images, seed 0, 36 trained, 12 held out) and the default training (`light`
 * at 256 px, SGD at lr 0.0025) for 40 of its 50 epochs (720 steps of 900, LR ×0.1 after 648),
 * once with the real labels and once with the class labels permuted. The real run must reach
 * CLASS_BAR on the held-out images, the shuffled one must not: the gap is what the detector
 * learned about Nucleoli vs Not Nucleoli, not about finding cells (both runs must find the cells).
 *
 * The bar is lower than the issue's 0.9 (measured: 0.996 real, 0.540 shuffled; the full demo
 * gives 0.997) for margin. The run is not shortened further: a few hundred steps do not learn the
 * classes (docs/detection-training.md, "Learning the synthetic classes"). Four data seeds of five
 * separate in these 720 steps (six of seven in the demo's 900); the test uses the default data
 * (seed 0). The minutes are raised so that the step count, never the machine's load, ends training:
 * with fixed thread counts the result is the same on every run of the same machine type.
 *
 * About 5–7 minutes on a 2-core AVX-512 machine, 11 on an AVX2 one, so it runs under CI=true
 * (CI's .ci/run) or with HPA_SLOW_TESTS=1, and is skipped with that reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from '../src/demo/pipeline.js';
import { inCi } from './helpers.js';

/** Held-out mAP@0.5 the real run must reach and the shuffled-label run must stay below. */
const CLASS_BAR = 0.75;
/** Cells found whatever the class (class-agnostic AP@0.5), by both runs. */
const CELL_BAR = 0.9;
/** 40 epochs of 18 steps (36 images, batch 2), 4/5 of the demo's default 50. */
const EPOCHS = 40;
const STEPS = 720;

test(`demo's run on its default data: held-out mAP@0.5 ≥ ${CLASS_BAR}, the same run with shuffled labels below it`, async (t) => {
  if (!inCi && process.env.HPA_SLOW_TESTS !== '1') {
    t.skip('5–11 minutes on 2 cores: runs under CI=true or with HPA_SLOW_TESTS=1');
    return;
  }
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hpa-demo-classes-'));
  try {
    const train = { epochs: EPOCHS, minutes: 30 };
    const real = (await runDemo({ outDir: path.join(outDir, 'real'), overlays: 0, progress: false, train })).detection!;
    const shuffled = (await runDemo({ outDir: path.join(outDir, 'shuffled'), overlays: 0, progress: false, train: { ...train, shuffleLabels: true } })).detection!;
    const line = (name: string, d: typeof real) =>
      `${name}: ${d.train.steps} steps in ${d.trainSeconds.toFixed(0)} s, mAP@0.5 ${d.evaluation.map50.toFixed(3)} (${d.evaluation.perClass.map((c) => `${c.name} ${c.ap50.toFixed(3)}`).join(', ')}), cell finding ${d.cellFinding.map50.toFixed(3)}`;
    t.diagnostic(line('real labels', real));
    t.diagnostic(line('shuffled labels', shuffled));

    for (const [name, d] of [['real', real], ['shuffled', shuffled]] as const) {
      assert.equal(d.train.steps, STEPS, `${name}: every step ran`);
      assert.ok(d.cellFinding.map50 >= CELL_BAR, `${name}: cell-finding AP@0.5 ${d.cellFinding.map50.toFixed(3)} below ${CELL_BAR}`);
    }
    assert.ok(real.evaluation.map50 >= CLASS_BAR, `real labels: held-out mAP@0.5 ${real.evaluation.map50.toFixed(3)} below ${CLASS_BAR}`);
    assert.ok(shuffled.evaluation.map50 < CLASS_BAR, `shuffled labels: held-out mAP@0.5 ${shuffled.evaluation.map50.toFixed(3)} is not below ${CLASS_BAR}`);
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
});
