/**
 * End to end on a synthetic task: a small CNN trained from scratch through our training_model
 * (forward + gradients from standard ops in onnxruntime) with plain SGD + momentum in TypeScript
 * reaches ≥ 95% held-out accuracy on 4 classes (which quadrant holds a bright square), and the
 * same run with shuffled training labels stays near chance (the check can fail). The task and the
 * network are test/fixtures/train/quadrants.ts, shared with the Trainer test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { makeQuadrants, quadrantNet, S } from './fixtures/train/quadrants.js';
import { buildTrainingArtifacts } from '../src/graph/artifacts.js';
import { serializeModel } from '../src/graph/serialize.js';
import { runSession } from '../src/graph/ort.js';
import { type Tensor, tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

const BATCH = 32;

async function trainAndEvaluate(shuffleLabels: boolean): Promise<{ accuracy: number; finalLoss: number }> {
  const rng = new Rng(2024);
  const train = makeQuadrants(640, rng);
  const held = makeQuadrants(200, rng);
  const trainLabels = shuffleLabels ? rng.shuffle([...train.labels]) : train.labels;
  const { graph: g, loss } = quadrantNet(7);
  const params = g.paramNames;
  const art = buildTrainingArtifacts({ graph: g, trainable: params, loss, outputs: ['logits'] });
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const trainS = await ort.InferenceSession.create(serializeModel(art.training), opts);
  const values = new Map(params.map((p) => [p, g.initializers.get(p)!.tensor]));
  const momentum = new Map(params.map((p) => [p, new Float32Array(values.get(p)!.data.length)]));
  const order = Array.from({ length: 640 }, (_, i) => i);
  let finalLoss = NaN;
  for (let epoch = 0; epoch < 8; epoch++) {
    rng.shuffle(order);
    for (let b = 0; b + BATCH <= order.length; b += BATCH) {
      const idx = order.slice(b, b + BATCH);
      const images = new Float32Array(BATCH * S * S);
      idx.forEach((k, j) => images.set(train.images.subarray(k * S * S, (k + 1) * S * S), j * S * S));
      const feeds: Record<string, Tensor> = {
        images: tensor(images, [BATCH, 1, S, S]),
        labels: tensor(BigInt64Array.from(idx.map((k) => BigInt(trainLabels[k]!))), [BATCH]),
        ...Object.fromEntries(values),
      };
      const out = await runSession(trainS, feeds);
      finalLoss = out['loss']!.data[0] as number;
      for (const p of params) {
        const grad = out[`grad.${p}`]!.data as Float32Array;
        const m = momentum.get(p)!;
        const w = Float32Array.from(values.get(p)!.data as Float32Array);
        for (let i = 0; i < w.length; i++) {
          m[i] = 0.9 * m[i]! + grad[i]!;
          w[i]! -= 0.02 * m[i]!;
        }
        values.set(p, tensor(w, values.get(p)!.dims));
      }
    }
  }
  await trainS.release();
  // Held-out accuracy with the inference model and the trained weights.
  const inf = art.inference!;
  for (const p of params) inf.setInitializer(p, values.get(p)!);
  const infS = await ort.InferenceSession.create(serializeModel(inf), opts);
  const logits = (await runSession(infS, { images: tensor(held.images, [200, 1, S, S]) }))['logits']!.data as Float32Array;
  await infS.release();
  let correct = 0;
  for (let k = 0; k < 200; k++) {
    const row = Array.from(logits.subarray(k * 4, k * 4 + 4));
    if (row.indexOf(Math.max(...row)) === held.labels[k]) correct++;
  }
  return { accuracy: correct / 200, finalLoss };
}

test('a small CNN trained from scratch with our training graph reaches ≥ 95% held-out accuracy; shuffled labels stay near chance', async (t) => {
  const real = await trainAndEvaluate(false);
  const shuffled = await trainAndEvaluate(true);
  t.diagnostic(`held-out accuracy ${real.accuracy} (final loss ${real.finalLoss.toFixed(3)}); shuffled labels ${shuffled.accuracy}`);
  assert.ok(real.accuracy >= 0.95, `held-out accuracy ${real.accuracy}`);
  assert.ok(shuffled.accuracy <= 0.45, `shuffled-label accuracy ${shuffled.accuracy} should be near chance (0.25)`);
});
