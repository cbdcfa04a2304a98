/**
 * End to end on a synthetic task: a small CNN trained from scratch through our training_model
 * (forward + gradients from standard ops in onnxruntime) with plain SGD + momentum in TypeScript
 * reaches ≥ 95% held-out accuracy on 4 classes (which quadrant holds a bright square), and the
 * same run with shuffled training labels stays near chance (the check can fail).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { conv2d, linear } from '../src/graph/blocks.js';
import { softmaxCrossEntropy } from '../src/graph/losses.js';
import { buildTrainingArtifacts } from '../src/graph/artifacts.js';
import { serializeModel } from '../src/graph/serialize.js';
import { runSession } from '../src/graph/ort.js';
import { type Tensor, tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

const S = 12;
const BATCH = 32;

function makeData(n: number, rng: Rng): { images: Float32Array; labels: number[] } {
  const images = new Float32Array(n * S * S);
  const labels: number[] = [];
  for (let k = 0; k < n; k++) {
    const cls = rng.int(0, 3); // inclusive bounds
    labels.push(cls);
    const img = images.subarray(k * S * S, (k + 1) * S * S);
    for (let i = 0; i < img.length; i++) img[i] = rng.normal(0, 0.5);
    const oy = (cls >> 1) * 6 + rng.int(0, 3);
    const ox = (cls & 1) * 6 + rng.int(0, 3);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) img[(oy + y) * S + ox + x]! += 1.5;
  }
  return { images, labels };
}

function kaiming(rng: Rng, dims: number[]): Tensor {
  const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
  const n = dims.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, () => rng.normal(0, Math.sqrt(2 / fanIn))), dims);
}

function network(rng: Rng): { g: GraphBuilder; loss: string } {
  const g = new GraphBuilder('quadrants');
  const x = g.input('images', 'float32', ['N', 1, S, S]);
  const labels = g.input('labels', 'int64', ['N']);
  let y = g.op('Relu', [conv2d(g.scope('conv1'), x, { weight: kaiming(rng, [8, 1, 3, 3]), bias: tensor(new Float32Array(8), [8]), padding: 1 })]);
  y = g.op('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
  y = g.op('Relu', [conv2d(g.scope('conv2'), y, { weight: kaiming(rng, [16, 8, 3, 3]), bias: tensor(new Float32Array(16), [16]), padding: 1, stride: 2 })]);
  const logits = linear(g.scope('fc'), g.op('Flatten', [y], { axis: 1 }), kaiming(rng, [4, 144]), tensor(new Float32Array(4), [4]));
  g.output(logits, 'logits');
  return { g, loss: softmaxCrossEntropy(g, logits, labels).name };
}

async function trainAndEvaluate(shuffleLabels: boolean): Promise<{ accuracy: number; finalLoss: number }> {
  const rng = new Rng(2024);
  const train = makeData(640, rng);
  const held = makeData(200, rng);
  const trainLabels = shuffleLabels ? rng.shuffle([...train.labels]) : train.labels;
  const { g, loss } = network(new Rng(7));
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
