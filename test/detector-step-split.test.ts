/**
 * Split forward/backward models (src/graph/split-training.ts) against the training models that
 * recompute the forward pass: the same step (one sample, replayed) gives the same losses and
 * every gradient, on the `light` preset at a tiny size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader } from '../src/data/loader.js';
import { toModelInput } from '../src/data/model-input.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights } from '../src/models/weights.js';
import { DetectorTrainer } from '../src/train/detector-trainer.js';
import { detectorPass } from '../src/train/detector-step.js';
import { Rng } from '../src/util/rng.js';
import { writeSquareSet } from './fixtures/train/squares-set.js';

async function makeTrainer(splitBackward: boolean, set: Awaited<ReturnType<typeof writeSquareSet>>): Promise<DetectorTrainer> {
  const dataset = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
  const loader = new DetectionLoader(dataset, { batchSize: 2 });
  const config = fasterRcnnConfig('light', { arch: { numClasses: dataset.classes.size + 1 }, transform: { minSize: 64, maxSize: 64 } });
  return DetectorTrainer.create({ config, weights: new RandomWeights(0), loader, optimizer: { kind: 'sgd', lr: 0.01 }, splitBackward });
}

test('split forward/backward models give the training models\' losses and gradients', async () => {
  const set = await writeSquareSet(2, 64, 1);
  const [recompute, split] = await Promise.all([makeTrainer(false, set), makeTrainer(true, set)]);
  try {
    const loader = (recompute as unknown as { options: { loader: DetectionLoader } }).options.loader;
    const input = toModelInput(await loader.batch([0, 1], new Rng(1)), recompute.config.transform);
    const a = await detectorPass(recompute.segmented, input, { rng: new Rng(7) }, { backward: true });
    const b = await detectorPass(split.segmented, input, { sample: a.sample }, { backward: true });
    assert.deepEqual(b.losses, a.losses, 'the forward model computes what the eval model does');
    assert.equal(b.grads!.size, a.grads!.size);
    let worst = 0;
    for (const [name, ga] of a.grads!) {
      const gb = b.grads!.get(name);
      assert.ok(gb, `gradient of ${name}`);
      assert.equal(gb.length, ga.length, name);
      let diff = 0, norm = 0;
      for (let i = 0; i < ga.length; i++) {
        diff = Math.max(diff, Math.abs(ga[i]! - gb[i]!));
        norm = Math.max(norm, Math.abs(ga[i]!));
      }
      const rel = norm > 0 ? diff / norm : diff;
      worst = Math.max(worst, rel);
      assert.ok(rel <= 1e-6, `${name}: max |Δ| ${diff} against max |g| ${norm}`);
    }
    console.log(`# ${a.grads!.size} gradients, worst relative difference ${worst}`);
  } finally {
    await Promise.all([recompute.release(), split.release()]);
  }
});
