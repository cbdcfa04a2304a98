/**
 * buildSplitTrainingGraphs on a small segment with a loss, a chained output and a gradient input
 * (conv → GroupNorm → ReLU → MaxPool → linear → cross-entropy, and the same with the conv's
 * FrozenBatchNorm2d folded into its weight): the forward model gives the training model's loss
 * and outputs, the backward model its gradients, bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../src/graph/builder.js';
import { conv2d, conv2dFrozenBatchNorm2d, groupNorm, linear } from '../src/graph/blocks.js';
import { softmaxCrossEntropy } from '../src/graph/losses.js';
import { createSession, runSession } from '../src/graph/ort.js';
import { buildTrainingArtifacts, type TrainingSegment } from '../src/graph/artifacts.js';
import { buildSplitTrainingGraphs } from '../src/graph/split-training.js';
import { type Tensor, tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

function rand(dims: number[], seed: number, scale = 0.5): Tensor {
  const rng = new Rng(seed);
  return tensor(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()), dims);
}

type Norm = 'group-norm' | 'folded-frozen-bn';

function segment(norm: Norm): TrainingSegment {
  const g = new GraphBuilder('net');
  const x = g.input('x', 'float32', [2, 2, 8, 8]);
  const labels = g.input('labels', 'int64', [2]);
  const weight = rand([4, 2, 3, 3], 1);
  const n =
    norm === 'group-norm'
      ? groupNorm(g.scope('gn'), conv2d(g.scope('conv'), x, { weight, padding: 1 }), 2, rand([4], 2, 1), rand([4], 3))
      : conv2dFrozenBatchNorm2d(g.scope('conv'), g.scope('gn'), x, { weight, padding: 1 }, {
          weight: rand([4], 2, 1), bias: rand([4], 3), runningMean: rand([4], 8), runningVar: tensor(Float32Array.of(0.5, 1, 2, 4), [4]),
        });
  const r = g.op('Relu', [n], {}, { outputs: ['features'] });
  const p = g.op('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] });
  const logits = linear(g.scope('fc'), g.op('Flatten', [p], { axis: 1 }), rand([3, 64], 4), rand([3], 5));
  g.output(logits, 'logits');
  const loss = softmaxCrossEntropy(g, logits, labels).name;
  // The frozen batch norm's parameters are constants, as in a fine-tuned backbone.
  const trainable = norm === 'group-norm' ? ['conv.weight', 'gn.weight', 'gn.bias', 'fc.weight', 'fc.bias'] : ['conv.weight', 'fc.weight', 'fc.bias'];
  return { graph: g, trainable, loss, outputs: ['logits'], chained: ['features'], gradInputs: ['x'] };
}

for (const norm of ['group-norm', 'folded-frozen-bn'] as const) test(`split forward/backward models compute the training model's loss, outputs and gradients (${norm})`, async () => {
  const seg = segment(norm);
  const training = buildTrainingArtifacts(seg).training;
  const split = buildSplitTrainingGraphs(seg);
  const params = Object.fromEntries(seg.trainable.map((p) => [p, seg.graph.initializers.get(p)!.tensor]));
  const feeds: Record<string, Tensor> = {
    x: rand([2, 2, 8, 8], 6, 1),
    labels: tensor(BigInt64Array.from([0n, 2n]), [2]),
    'grad.features': rand([2, 4, 8, 8], 7, 0.1),
    ...params,
  };

  assert.deepEqual([...split.forward.inputs].sort(), [...seg.trainable, 'labels', 'x'].sort());
  // The folded weight (conv.weight · scale) is recomputed by the backward model from conv.weight, not saved.
  if (norm === 'folded-frozen-bn') {
    assert.ok(split.backward.inputs.includes('conv.weight'), 'the backward model reads conv.weight');
    const folded = seg.graph.nodes.find((n) => n.opType === 'Conv')!.inputs[1]!;
    const scale = seg.graph.nodes.find((n) => n.outputs.includes(folded))!.inputs[1]!;
    for (const v of [folded, scale]) assert.ok(!split.saved.includes(v) && split.backward.has(v), `${v} is recomputed, not saved`);
  }
  assert.deepEqual(split.forward.outputs.slice(0, 3), ['loss', 'logits', 'features']);
  for (const s of split.saved) {
    assert.ok(!split.forward.inputs.includes(s) && !seg.trainable.includes(s), `${s} is saved, not an input or parameter`);
    assert.ok(split.forward.outputs.includes(s) && split.backward.inputs.includes(s), `${s} passes from forward to backward`);
  }
  assert.deepEqual([...split.backward.outputs], [...seg.trainable.map((p) => `grad.${p}`), 'grad.x']);

  const [st, sf, sb] = await Promise.all([createSession(training), createSession(split.forward), createSession(split.backward)]);
  try {
    const whole = await runSession(st, feeds);
    const fw = await runSession(sf, Object.fromEntries(sf.inputNames.map((n) => [n, feeds[n]!])));
    const bwFeeds: Record<string, Tensor> = { ...feeds };
    for (const s of split.saved) bwFeeds[s] = fw[s]!;
    const bw = await runSession(sb, Object.fromEntries(sb.inputNames.map((n) => [n, bwFeeds[n]!])));
    for (const name of ['loss', 'logits', 'features']) assert.deepEqual(fw[name]!.data, whole[name]!.data, name);
    for (const name of split.backward.outputs) assert.deepEqual(bw[name]!.data, whole[name]!.data, name);
  } finally {
    await Promise.all([st.release(), sf.release(), sb.release()]);
  }
});
