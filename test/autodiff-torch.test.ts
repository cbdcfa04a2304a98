/**
 * Parity with torch autograd: the network of scripts/make_autodiff_fixtures.py (conv, frozen BN,
 * GroupNorm, relu, maxpool, residual add, nearest upsampling, linear, softmax cross-entropy with
 * ignore index and class weights, smooth L1), built with our graph builder from the same weights,
 * gives the same loss and gradients: relative error ‖ours − torch‖₂ / ‖torch‖₂ ≤ 1e-4 per tensor.
 * The reference is torch float64; our graph runs in float32 (onnxruntime has no float64 Conv).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { buildGradient } from '../src/graph/autodiff.js';
import { conv2d, frozenBatchNorm2d, groupNorm, linear } from '../src/graph/blocks.js';
import { smoothL1, softmaxCrossEntropy } from '../src/graph/losses.js';
import { runGraph } from '../src/graph/ort.js';
import { type Tensor, type Value, tensor } from '../src/graph/values.js';

interface JsonTensor {
  dims: number[];
  data: number[];
}
interface Fixture {
  input: JsonTensor;
  labels: number[];
  box_targets: JsonTensor;
  class_weights: number[];
  params: Record<string, JsonTensor>;
  trainable: string[];
  loss: number;
  grads: Record<string, JsonTensor>;
}

const f32 = (t: JsonTensor): Tensor => tensor(Float32Array.from(t.data), t.dims);

/** The fixture's architecture (mirror of forward() in the Python script). */
function buildNetwork(fx: Fixture): { g: GraphBuilder; loss: Value } {
  const P = (name: string): Tensor => f32(fx.params[name]!);
  const g = new GraphBuilder('resnet_fpn_tiny');
  const x = g.input('images', 'float32', fx.input.dims);
  const labels = g.input('labels', 'int64', [fx.labels.length]);
  const boxTargets = g.input('box_targets', 'float32', fx.box_targets.dims);
  const relu = (v: Value): Value => g.op('Relu', [v]);

  const stem = g.scope('stem');
  let y = conv2d(stem.scope('conv1'), x, { weight: P('stem.conv1.weight'), padding: 1 });
  y = relu(
    frozenBatchNorm2d(stem.scope('bn1'), y, {
      weight: P('stem.bn1.weight'),
      bias: P('stem.bn1.bias'),
      runningMean: P('stem.bn1.running_mean'),
      runningVar: P('stem.bn1.running_var'),
    }),
  );
  const c1 = g.op('MaxPool', [y], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  const block = g.scope('layer1').scope(0);
  y = conv2d(block.scope('conv1'), c1, { weight: P('layer1.0.conv1.weight'), padding: 1 });
  y = relu(groupNorm(block.scope('gn1'), y, 4, P('layer1.0.gn1.weight'), P('layer1.0.gn1.bias')));
  y = conv2d(block.scope('conv2'), y, { weight: P('layer1.0.conv2.weight'), padding: 1 });
  y = groupNorm(block.scope('gn2'), y, 4, P('layer1.0.gn2.weight'), P('layer1.0.gn2.bias'));
  const c2 = relu(g.op('Add', [y, c1]));
  const c3 = relu(conv2d(g.scope('layer2.0.conv1'), c2, { weight: P('layer2.0.conv1.weight'), bias: P('layer2.0.conv1.bias'), stride: 2, padding: 1 }));
  const fpn = g.scope('fpn');
  const inner3 = conv2d(fpn.scope('inner_blocks.1'), c3, { weight: P('fpn.inner_blocks.1.weight'), bias: P('fpn.inner_blocks.1.bias') });
  const inner2 = conv2d(fpn.scope('inner_blocks.0'), c2, { weight: P('fpn.inner_blocks.0.weight'), bias: P('fpn.inner_blocks.0.bias') });
  const up = g.op('Resize', [inner3, '', g.constant(tensor(Float32Array.from([1, 1, 2, 2]), [4]), 'scales')], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
  const topDown = g.op('Add', [inner2, up]);
  const p2 = conv2d(fpn.scope('layer_blocks.0'), topDown, { weight: P('fpn.layer_blocks.0.weight'), bias: P('fpn.layer_blocks.0.bias'), padding: 1 });
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [p2])], { axis: 1 });
  const head = g.scope('head');
  const logits = linear(head.scope('cls_score'), pooled, P('head.cls_score.weight'), P('head.cls_score.bias'));
  const boxes = linear(head.scope('bbox_pred'), pooled, P('head.bbox_pred.weight'), P('head.bbox_pred.bias'));
  const ce = softmaxCrossEntropy(g, logits, labels, { ignoreIndex: -100, classWeights: tensor(Float32Array.from(fx.class_weights), [fx.class_weights.length]) });
  const loss = g.op('Add', [ce, smoothL1(g, boxes, boxTargets, 1 / 9)]);
  return { g, loss };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

test('loss and every parameter gradient match torch autograd (rel. error ≤ 1e-4 per tensor)', async (t) => {
  const fx = JSON.parse(readFileSync(path.join(fixturesDir, 'graph', 'resnet_fpn_tiny.json'), 'utf8')) as Fixture;
  const { g, loss } = buildNetwork(fx);
  assert.deepEqual(g.paramNames.sort(), Object.keys(fx.params).sort(), 'parameter names mirror the torch module names');
  const grads = buildGradient(g, { loss, params: fx.trainable });
  g.output(loss, 'loss');
  for (const p of fx.trainable) g.output(grads.get(p)!, `grad.${p}`);
  const out = await runGraph(g, {
    images: f32(fx.input),
    labels: tensor(BigInt64Array.from(fx.labels.map(BigInt)), [fx.labels.length]),
    box_targets: f32(fx.box_targets),
  });
  const lossErr = Math.abs((out['loss']!.data[0] as number) - fx.loss) / Math.abs(fx.loss);
  assert.ok(lossErr <= 1e-5, `loss ${out['loss']!.data[0]} vs torch ${fx.loss}`);
  const errors: Record<string, number> = {};
  for (const p of fx.trainable) {
    const ours = out[`grad.${p}`]!;
    assert.deepEqual(ours.dims, fx.grads[p]!.dims, `grad.${p} dims`);
    errors[p] = relErr(ours.data as Float32Array, fx.grads[p]!.data);
  }
  const worst = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  t.diagnostic(`loss rel. error ${lossErr.toExponential(2)}; worst gradient ${worst[0]![0]} ${worst[0]![1].toExponential(2)}`);
  assert.ok(worst[0]![1] <= 1e-4, `gradient relative errors: ${JSON.stringify(worst)}`);
});
