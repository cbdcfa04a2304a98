import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../src/graph/builder.js';
import { conv2d, groupNorm, linear } from '../src/graph/blocks.js';
import { runGraph } from '../src/graph/ort.js';
import { serializeModel, toModelObject } from '../src/graph/serialize.js';
import { modelProtoType } from '../src/graph/proto/onnx.js';
import { loadModel, readInitializers } from '../src/graph/load.js';
import { int64s, tensor, type Tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

function randn(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Naive NCHW conv (symmetric padding, stride, dilation, groups) as the hand reference. */
function convRef(x: Tensor, w: Tensor, stride: number, pad: number, dil: number, groups: number): { data: Float32Array; dims: number[] } {
  const [n, c, h, wd] = x.dims as [number, number, number, number];
  const [o, cg, kh, kw] = w.dims as [number, number, number, number];
  const oh = Math.floor((h + 2 * pad - dil * (kh - 1) - 1) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - dil * (kw - 1) - 1) / stride) + 1;
  const out = new Float32Array(n * o * oh * ow);
  const og = o / groups;
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let s = 0;
          const g = Math.floor(oc / og);
          for (let ic = 0; ic < cg; ic++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = y * stride - pad + i * dil;
                const ix = xx * stride - pad + j * dil;
                if (iy < 0 || ix < 0 || iy >= h || ix >= wd) continue;
                const cin = g * cg + ic;
                s += (x.data[((b * c + cin) * h + iy) * wd + ix] as number) * (w.data[((oc * cg + ic) * kh + i) * kw + j] as number);
              }
          out[((b * o + oc) * oh + y) * ow + xx] = s;
        }
  return { data: out, dims: [n, o, oh, ow] };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    assert.ok(d <= tol * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('scoped parameter names follow torchvision dotted naming', () => {
  const g = new GraphBuilder('net');
  const x = g.input('x', 'float32', [1, 3, 8, 8]);
  const conv1 = g.scope('backbone').scope('body').scope('layer1').scope(0).scope('conv1');
  conv2d(conv1, x, { weight: tensor(new Float32Array(4 * 3 * 9), [4, 3, 3, 3]), padding: 1 });
  assert.deepEqual(g.paramNames, ['backbone.body.layer1.0.conv1.weight']);
  assert.throws(() => conv1.param('weight', tensor(new Float32Array(1), [1])), /already used/);
});

test('shape inference: conv stride/pad/dilation/groups, matmul broadcast, reshape -1, errors name the node', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['N', 8, 17, 16]);
  const w = g.param('w', tensor(new Float32Array(8 * 2 * 9), [8, 2, 3, 3]));
  const y = g.op('Conv', [x, w], { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [2, 1], group: 4 });
  assert.deepEqual(y.shape, ['N', 8, 8, 8]);
  const p = g.op('MaxPool', [y], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  assert.deepEqual(p.shape, ['N', 8, 4, 4]);
  const a = g.input('a', 'float32', [2, 1, 3, 5]);
  const b = g.input('b', 'float32', [4, 5, 6]);
  assert.deepEqual(g.op('MatMul', [a, b]).shape, [2, 4, 3, 6]);
  const r = g.op('Reshape', [a, g.constant(int64s([0, -1]))]);
  assert.deepEqual(r.shape, [2, 15]);
  assert.throws(() => g.op('Add', [a, g.input('c', 'float32', [4])]), /node Add.*\(Add\): cannot broadcast \[2,1,3,5\] with \[4\]/);
  const bad = g.param('bad', tensor(new Float32Array(8 * 3 * 9), [8, 3, 3, 3]));
  assert.throws(() => g.op('Conv', [x, bad]), /\(Conv\): input \[N,8,17,16\] has 8 channels but weight \[8,3,3,3\] with group=1 expects 3/);
});

test('conv (stride 2, dilation, groups) + relu + GroupNorm run in onnxruntime and match a hand reference', async () => {
  const rng = new Rng(7);
  const xT = tensor(randn(rng, 2 * 4 * 9 * 9), [2, 4, 9, 9]);
  const wT = tensor(randn(rng, 6 * 2 * 9), [6, 2, 3, 3]);
  const gw = tensor(randn(rng, 6), [6]);
  const gb = tensor(randn(rng, 6), [6]);
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', [2, 4, 9, 9]);
  const y = conv2d(g.scope('conv'), x, { weight: wT, stride: 2, padding: 2, dilation: 2, groups: 2 });
  const z = groupNorm(g.scope('gn'), g.op('Relu', [y]), 3, gw, gb);
  g.output(z, 'z');
  const out = await runGraph(g, { x: xT });
  const conv = convRef(xT, wT, 2, 2, 2, 2);
  assert.deepEqual(out['z']!.dims, conv.dims);
  // GroupNorm reference: 3 groups of 2 channels each.
  const [n, c, h, w] = conv.dims as [number, number, number, number];
  const ref = new Float32Array(conv.data.length);
  const hw = h * w;
  for (let b = 0; b < n; b++)
    for (let gi = 0; gi < 3; gi++) {
      const start = (b * c + gi * 2) * hw;
      const vals = Array.from(conv.data.subarray(start, start + 2 * hw), (v) => Math.max(v, 0));
      const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
      const variance = vals.reduce((s, v) => s + (v - mean) ** 2, 0) / vals.length;
      vals.forEach((v, i) => {
        const ch = gi * 2 + Math.floor(i / hw);
        ref[start + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * (gw.data[ch] as number) + (gb.data[ch] as number);
      });
    }
  assertClose(out['z']!.data as Float32Array, ref, 1e-4, 'groupnorm(relu(conv))');
});

test('serialize → loadModel round trip keeps initializers by name and the computation', async () => {
  const rng = new Rng(3);
  const g = new GraphBuilder('roundtrip');
  const x = g.input('x', 'float32', ['N', 5]);
  const head = g.scope('roi_heads').scope('box_predictor').scope('cls_score');
  const y = linear(head, x, tensor(randn(rng, 3 * 5), [3, 5]), tensor(randn(rng, 3), [3]));
  g.output(g.op('Softmax', [y], { axis: 1 }), 'probs');
  const bytes = serializeModel(g);
  const inits = readInitializers(bytes);
  assert.deepEqual([...inits.keys()].sort(), ['roi_heads.box_predictor.cls_score.bias', 'roi_heads.box_predictor.cls_score.weight']);
  assert.deepEqual(inits.get('roi_heads.box_predictor.cls_score.weight')!.data, g.initializers.get('roi_heads.box_predictor.cls_score.weight')!.tensor.data);
  const loaded = loadModel(bytes);
  assert.deepEqual(loaded.inputs, ['x']);
  assert.deepEqual(loaded.outputs, ['probs']);
  assert.deepEqual(loaded.value('probs').shape, ['N', 3]);
  const feeds = { x: tensor(randn(rng, 2 * 5), [2, 5]) };
  const a = await runGraph(g, feeds);
  const b = await runGraph(loaded, feeds);
  assert.deepEqual(b['probs']!.data, a['probs']!.data);
});

test('loadModel rejects opsets whose ops mean something else at opset 17; readInitializers reads any', () => {
  const g = new GraphBuilder('o');
  const x = g.input('x', 'float32', [2]);
  g.output(g.op('Add', [x, g.param('b', tensor(Float32Array.from([1, 2]), [2]))]), 'y');
  const T = modelProtoType();
  for (const version of [11, 18]) {
    const obj = toModelObject(g);
    obj['opset_import'] = [{ domain: '', version }];
    const bytes = T.encode(T.fromObject(obj)).finish();
    assert.throws(() => loadModel(bytes), new RegExp(`opset ${version}; only 13–17 load as graphs`));
    assert.deepEqual(Array.from(readInitializers(bytes).get('b')!.data as Float32Array), [1, 2]);
  }
});

test('renameValue renames an intermediate in its producer and consumers; the old name stops resolving', async () => {
  const g = new GraphBuilder('rename');
  const x = g.input('x', 'float32', [2]);
  const y = g.op('Relu', [x]);
  const z = g.op('Neg', [g.op('Mul', [y, y])]);
  g.output(g.renameValue(y, 'features'));
  g.output(z, 'negated');
  assert.equal(g.nodes.filter((n) => n.opType === 'Identity').length, 1, 'only the output under another name copies');
  assert.deepEqual(g.nodes.find((n) => n.opType === 'Mul')!.inputs, ['features', 'features']);
  assert.throws(() => g.value(y), /no value named 'Relu'/);
  assert.throws(() => g.renameValue(x, 'images'), /only rename an intermediate value, not 'x'/);
  assert.throws(() => g.renameValue('features', 'f2'), /only rename an intermediate value, not 'features'/);
  assert.throws(() => g.renameValue(z, 'negated'), /already used/);
  const out = await runGraph(g, { x: tensor(Float32Array.of(-1, 2), [2]) });
  assert.deepEqual([...(out['features']!.data as Float32Array)], [0, 2]);
  assert.deepEqual([...(out['negated']!.data as Float32Array)], [-0, -4]);
});
