/**
 * Every gradient rule against central finite differences (src/graph/gradcheck.ts), run by
 * onnxruntime-node. float64 where ORT runs the op in float64 (tolerance 1e-5 relative on each
 * directional derivative); float32 where it does not (Conv, ConvTranspose, AveragePool, GlobalAveragePool, Resize, Softplus:
 * tolerance 2e-3, ε = 1e-2; all but Softplus are linear in their differentiable inputs so
 * the difference is exact up to float32 rounding of the loss).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../src/graph/builder.js';
import type { DType } from '../src/graph/dtype.js';
import { gradCheck } from '../src/graph/gradcheck.js';
import { groupNorm } from '../src/graph/blocks.js';
import { bceWithLogits, l1Loss, smoothL1, softmaxCrossEntropy } from '../src/graph/losses.js';
import { type Tensor, type Value, int64s, tensor } from '../src/graph/values.js';
import type { AttrInput } from '../src/graph/attributes.js';
import { Rng } from '../src/util/rng.js';

const F64_TOL = 1e-5;
const F32_TOL = 2e-3;

let seed = 100;
/** A random tensor; `map` moves values away from kinks or into a domain (log, sqrt). */
function rand(dtype: DType, dims: number[], map: (v: number) => number = (v) => v): Tensor {
  const rng = new Rng(seed++);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = map(rng.normal());
  return tensor(data, dims, dtype);
}
const awayFromZero = (v: number): number => (v >= 0 ? v + 0.2 : v - 0.2);
const positive = (v: number): number => Math.abs(v) + 0.5;

interface Case {
  name: string;
  dtype?: DType;
  tol?: number;
  eps?: number;
  build: (g: GraphBuilder, d: DType) => Value;
}

function unaryCase(op: string, map?: (v: number) => number, attrs: Record<string, AttrInput> = {}): Case {
  return { name: op, build: (g, d) => g.op(op, [g.param('x', rand(d, [2, 3, 4], map))], attrs) };
}

const cases: Case[] = [
  { name: 'Add broadcast [2,3,4]+[3,1]', build: (g, d) => g.op('Add', [g.param('a', rand(d, [2, 3, 4])), g.param('b', rand(d, [3, 1]))]) },
  { name: 'Sub broadcast [4]-[2,4]', build: (g, d) => g.op('Sub', [g.param('a', rand(d, [4])), g.param('b', rand(d, [2, 4]))]) },
  { name: 'Mul broadcast [2,1,4]*[3,1]', build: (g, d) => g.op('Mul', [g.param('a', rand(d, [2, 1, 4])), g.param('b', rand(d, [3, 1]))]) },
  { name: 'Div broadcast [2,3]/[3]', build: (g, d) => g.op('Div', [g.param('a', rand(d, [2, 3])), g.param('b', rand(d, [3], awayFromZero))]) },
  { name: 'Sum of three with broadcast', build: (g, d) => g.op('Sum', [g.param('a', rand(d, [2, 3])), g.param('b', rand(d, [3])), g.param('c', rand(d, [2, 1]))]) },
  { name: 'MatMul [2,3,4]x[4,5]', build: (g, d) => g.op('MatMul', [g.param('a', rand(d, [2, 3, 4])), g.param('b', rand(d, [4, 5]))]) },
  { name: 'MatMul batch broadcast [2,1,3,4]x[3,4,2]', build: (g, d) => g.op('MatMul', [g.param('a', rand(d, [2, 1, 3, 4])), g.param('b', rand(d, [3, 4, 2]))]) },
  ...[
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ].map(([ta, tb]): Case => ({
    name: `Gemm transA=${ta} transB=${tb} alpha/beta, C [4] broadcast`,
    build: (g, d) =>
      g.op('Gemm', [g.param('a', rand(d, ta ? [5, 3] : [3, 5])), g.param('b', rand(d, tb ? [4, 5] : [5, 4])), g.param('c', rand(d, [4]))], {
        transA: ta!,
        transB: tb!,
        alpha: 0.7,
        beta: 1.3,
      }),
  })),
  unaryCase('Relu', awayFromZero),
  unaryCase('LeakyRelu', awayFromZero, { alpha: 0.1 }),
  unaryCase('Sigmoid'),
  unaryCase('Tanh'),
  unaryCase('Exp'),
  unaryCase('Log', positive),
  unaryCase('Sqrt', positive),
  unaryCase('Neg'),
  unaryCase('Abs', awayFromZero),
  unaryCase('Reciprocal', awayFromZero),
  {
    name: 'Clip [-0.5, 0.7]',
    build: (g, d) => g.op('Clip', [g.param('x', rand(d, [3, 5], (v) => (Math.abs(Math.abs(v) - 0.6) < 0.05 ? v + 0.2 : v))), g.scalar(-0.5, d), g.scalar(0.7, d)]),
  },
  {
    name: 'Where with broadcast branches',
    build: (g, d) => {
      const cond = g.constant(tensor(Uint8Array.from([1, 0, 1, 1, 0, 0]), [2, 3], 'bool'));
      return g.op('Where', [cond, g.param('a', rand(d, [3])), g.param('b', rand(d, [2, 1]))]);
    },
  },
  { name: 'Pow x^3 (constant exponent)', build: (g, d) => g.op('Pow', [g.param('x', rand(d, [2, 3])), g.scalar(3, d)]) },
  { name: 'ReduceSum axes [1] keepdims 0', build: (g, d) => g.op('ReduceSum', [g.param('x', rand(d, [2, 3, 4])), g.constant(int64s([1]))], { keepdims: 0 }) },
  { name: 'ReduceSum axes [-1,0] keepdims 1', build: (g, d) => g.op('ReduceSum', [g.param('x', rand(d, [2, 3, 4])), g.constant(int64s([-1, 0]))], { keepdims: 1 }) },
  { name: 'ReduceMean axes [0,2] keepdims 0', build: (g, d) => g.op('ReduceMean', [g.param('x', rand(d, [2, 3, 4]))], { axes: [0, 2], keepdims: 0 }) },
  { name: 'ReduceMean all', build: (g, d) => g.op('ReduceMean', [g.param('x', rand(d, [2, 3, 4]))], { keepdims: 0 }) },
  { name: 'Reshape', build: (g, d) => g.op('Reshape', [g.param('x', rand(d, [2, 3, 4])), g.constant(int64s([4, -1]))]) },
  { name: 'Flatten axis 2', build: (g, d) => g.op('Flatten', [g.param('x', rand(d, [2, 3, 4, 5]))], { axis: 2 }) },
  { name: 'Squeeze/Unsqueeze', build: (g, d) => g.op('Unsqueeze', [g.op('Squeeze', [g.param('x', rand(d, [2, 1, 4])), g.constant(int64s([1]))]), g.constant(int64s([0, 3]))]) },
  { name: 'Transpose perm [2,0,1]', build: (g, d) => g.op('Transpose', [g.param('x', rand(d, [2, 3, 4]))], { perm: [2, 0, 1] }) },
  {
    name: 'Concat axis 1 with a shared input',
    build: (g, d) => {
      const a = g.param('a', rand(d, [2, 3]));
      return g.op('Concat', [a, g.param('b', rand(d, [2, 1])), a], { axis: 1 });
    },
  },
  {
    name: 'Split into 3, one output unused',
    build: (g, d) => {
      const [p, , r] = g.ops('Split', [g.param('x', rand(d, [2, 6])), g.constant(int64s([1, 2, 3]))], { axis: 1 }, { outputs: 3 });
      return g.op('Concat', [p!, r!], { axis: 1 });
    },
  },
  {
    name: 'Slice negative start, axes, clamped end',
    build: (g, d) => g.op('Slice', [g.param('x', rand(d, [4, 5, 6])), g.constant(int64s([1, -4])), g.constant(int64s([100, 5])), g.constant(int64s([0, 2]))]),
  },
  {
    name: 'Slice steps 2 and 3 with offsets',
    build: (g, d) => g.op('Slice', [g.param('x', rand(d, [3, 7, 8])), g.constant(int64s([1, 0])), g.constant(int64s([7, 100])), g.constant(int64s([1, 2])), g.constant(int64s([2, 3]))]),
  },
  {
    name: 'Gather axis 0 with repeated and negative indices',
    build: (g, d) => g.op('Gather', [g.param('x', rand(d, [5, 3])), g.constant(tensor(BigInt64Array.from([0n, 2n, 2n, -1n]), [2, 2]))], { axis: 0 }),
  },
  {
    name: 'Gather axis 1 of a rank-3 tensor with 2-D indices',
    build: (g, d) => g.op('Gather', [g.param('x', rand(d, [2, 5, 3])), g.constant(tensor(BigInt64Array.from([4n, 0n, -1n, 2n, 2n, 1n]), [2, 3]))], { axis: 1 }),
  },
  { name: 'Gather axis -1 with a scalar index', build: (g, d) => g.op('Gather', [g.param('x', rand(d, [3, 4])), g.constant(tensor(BigInt64Array.from([2n]), []))], { axis: -1 }) },
  { name: 'Expand', build: (g, d) => g.op('Expand', [g.param('x', rand(d, [3, 1])), g.constant(int64s([2, 3, 4]))]) },
  { name: 'Softmax axis 1', build: (g, d) => g.op('Softmax', [g.param('x', rand(d, [2, 5, 3]))], { axis: 1 }) },
  { name: 'LogSoftmax axis -1', build: (g, d) => g.op('LogSoftmax', [g.param('x', rand(d, [3, 6]))], { axis: -1 }) },
  {
    name: 'MaxPool k3 s2 p1',
    build: (g, d) => g.op('MaxPool', [g.param('x', rand(d, [2, 3, 7, 7]))], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  { name: 'MaxPool k2 s2 ceil_mode', build: (g, d) => g.op('MaxPool', [g.param('x', rand(d, [1, 2, 5, 5]))], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }) },
  {
    name: 'BatchNormalization inference (x, scale, B trainable)',
    build: (g, d) =>
      g.op('BatchNormalization', [g.param('x', rand(d, [2, 3, 4, 4])), g.param('scale', rand(d, [3])), g.param('bias', rand(d, [3])), g.constant(rand(d, [3])), g.constant(rand(d, [3], positive))], {
        epsilon: 1e-3,
      }),
  },
  {
    name: 'GroupNorm (basic ops) 2 groups',
    build: (g, d) => groupNorm(g.scope('gn'), g.param('x', rand(d, [2, 4, 3, 3])), 2, rand(d, [4]), rand(d, [4]), 1e-5),
  },
  { name: 'BCE with logits', build: (g, d) => bceWithLogits(g, g.param('x', rand(d, [3, 4])), g.constant(rand(d, [3, 4], (v) => 1 / (1 + Math.exp(-v))))) },
  {
    name: 'softmax cross-entropy, ignore index and class weights',
    build: (g, d) =>
      softmaxCrossEntropy(g, g.param('x', rand(d, [5, 4])), g.constant(tensor(BigInt64Array.from([0n, 3n, -100n, 1n, 3n]), [5])), {
        classWeights: rand(d, [4], positive),
      }),
  },
  { name: 'smooth L1 beta 0.5', build: (g, d) => smoothL1(g, g.param('p', rand(d, [4, 4], (v) => v * 2)), g.constant(rand(d, [4, 4])), 0.5) },
  { name: 'L1', build: (g, d) => l1Loss(g, g.param('p', rand(d, [4, 4])), g.constant(rand(d, [4, 4], (v) => v + 10))) },
];

const conv = (g: GraphBuilder, x: number[], w: number[], attrs: Record<string, AttrInput>, bias = false): Value => {
  const inputs: Value[] = [g.param('x', rand('float32', x)), g.param('w', rand('float32', w))];
  if (bias) inputs.push(g.param('b', rand('float32', [w[0]!])));
  return g.op('Conv', inputs, attrs);
};
const f32: Case[] = [
  { name: 'Conv 3x3 stride 2 pad 1 + bias, batch 2', build: (g) => conv(g, [2, 3, 7, 7], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }, true) },
  { name: 'Conv 3x3 pad 1, batch 2, small map (batch folded into the dW Gemm)', build: (g) => conv(g, [2, 8, 4, 4], [32, 8, 3, 3], { pads: [1, 1, 1, 1] }) },
  { name: 'Conv 3x3 dilation 2 pad 2', build: (g) => conv(g, [1, 2, 8, 8], [3, 2, 3, 3], { dilations: [2, 2], pads: [2, 2, 2, 2] }) },
  { name: 'Conv groups 2, stride 2, asymmetric pads, 3x2 kernel', build: (g) => conv(g, [2, 4, 6, 7], [6, 2, 3, 2], { group: 2, strides: [2, 1], pads: [1, 0, 0, 1] }) },
  { name: 'Conv depthwise 3x3 stride 2 pad 1', build: (g) => conv(g, [1, 4, 8, 8], [4, 1, 3, 3], { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] }, true) },
  { name: 'Conv groups 3 stride 1 pad 1 (flipped-weight dX path, ≥ 1024 px)', build: (g) => conv(g, [2, 6, 32, 33], [9, 2, 3, 3], { group: 3, pads: [1, 1, 1, 1] }, true) },
  { name: 'Conv depthwise stride 1 asymmetric pads, depth multiplier 2 (flipped path)', build: (g) => conv(g, [1, 3, 34, 34], [6, 1, 3, 3], { group: 3, pads: [0, 1, 2, 1] }) },
  { name: 'Conv 3x3 stride 1 dilation 2 (flipped path)', build: (g) => conv(g, [1, 2, 36, 36], [3, 2, 3, 3], { dilations: [2, 2], pads: [2, 2, 2, 2] }) },
  { name: 'Conv groups 3 stride 1 small map (ConvTranspose path)', build: (g) => conv(g, [2, 6, 5, 5], [9, 2, 3, 3], { group: 3, pads: [1, 1, 1, 1] }, true) },
  { name: 'Conv stride 1 pad larger than the kernel reach (ConvTranspose path)', build: (g) => conv(g, [1, 2, 4, 4], [3, 2, 3, 3], { pads: [3, 3, 3, 3] }) },
  { name: 'Conv 1x1 (batch 1: Gemm path)', build: (g) => conv(g, [1, 5, 4, 4], [3, 5, 1, 1], {}) },
  { name: 'Conv 7x7 stride 2 pad 3 (ResNet stem)', build: (g) => conv(g, [1, 3, 16, 16], [4, 3, 7, 7], { strides: [2, 2], pads: [3, 3, 3, 3] }) },
  { name: 'Conv 5x5 stride 2 no pad, a leftover row (transposed-Conv dW path + Slice)', build: (g) => conv(g, [1, 2, 12, 13], [3, 2, 5, 5], { strides: [2, 2] }) },
  { name: 'Conv 5x5 dilation 2 asymmetric pads (transposed-Conv dW path)', build: (g) => conv(g, [1, 2, 14, 12], [3, 2, 5, 5], { dilations: [2, 2], pads: [1, 2, 0, 1] }) },
  { name: 'Conv 7x7 stride 2 pad 3, batch 2 (im2col dW path)', build: (g) => conv(g, [2, 3, 16, 16], [4, 3, 7, 7], { strides: [2, 2], pads: [3, 3, 3, 3] }) },
  {
    name: 'ConvTranspose stride 2 pad 1 output_padding 1 groups 2 + bias',
    build: (g) =>
      g.op('ConvTranspose', [g.param('x', rand('float32', [2, 4, 3, 3])), g.param('w', rand('float32', [4, 3, 3, 3])), g.param('b', rand('float32', [6]))], {
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        output_padding: [1, 1],
        group: 2,
      }),
  },
  { name: 'AveragePool k3 s2 p1 count_include_pad 0', build: (g) => g.op('AveragePool', [g.param('x', rand('float32', [2, 3, 7, 7]))], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) },
  {
    name: 'AveragePool k3 s2 p1 count_include_pad 1',
    build: (g) => g.op('AveragePool', [g.param('x', rand('float32', [1, 2, 6, 6]))], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }),
  },
  { name: 'MaxPool k1 s2 (torchvision LastLevelMaxPool)', build: (g) => g.op('MaxPool', [g.param('x', rand('float32', [1, 2, 5, 6]))], { kernel_shape: [1, 1], strides: [2, 2] }) },
  {
    name: 'Resize nearest to sizes [.., 6, 8] (asymmetric, floor)',
    build: (g) =>
      g.op('Resize', [g.param('x', rand('float32', [1, 2, 3, 4])), '', '', g.constant(int64s([1, 2, 6, 8]))], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      }),
  },
  { name: 'GlobalAveragePool', build: (g) => g.op('GlobalAveragePool', [g.param('x', rand('float32', [2, 3, 4, 5]))]) },
  { name: 'Softplus', build: (g) => g.op('Softplus', [g.param('x', rand('float32', [2, 3, 4]))]) },
  { name: 'AveragePool k2 s2', build: (g) => g.op('AveragePool', [g.param('x', rand('float32', [1, 2, 6, 6]))], { kernel_shape: [2, 2], strides: [2, 2] }) },
  {
    name: 'Resize nearest x2 (asymmetric, floor)',
    build: (g) =>
      g.op('Resize', [g.param('x', rand('float32', [1, 2, 3, 4])), '', g.constant(tensor(Float32Array.from([1, 1, 2, 2]), [4]))], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      }),
  },
  {
    name: 'Resize nearest x2, x3 (half_pixel)',
    build: (g) => g.op('Resize', [g.param('x', rand('float32', [1, 2, 3, 2])), '', g.constant(tensor(Float32Array.from([1, 1, 2, 3]), [4]))], { mode: 'nearest' }),
  },
];

for (const c of cases) {
  test(`gradient (float64): ${c.name}`, async () => {
    const res = await gradCheck({ build: (g) => c.build(g, 'float64'), seed: seed++ });
    assert.ok(res.maxRelErr <= (c.tol ?? F64_TOL), `max relative error ${res.maxRelErr}: ${JSON.stringify(res.entries)}`);
  });
}
for (const c of f32) {
  test(`gradient (float32): ${c.name}`, async () => {
    const res = await gradCheck({ build: (g) => c.build(g, 'float32'), seed: seed++, eps: c.eps ?? 1e-2 });
    assert.ok(res.maxRelErr <= (c.tol ?? F32_TOL), `max relative error ${res.maxRelErr}: ${JSON.stringify(res.entries)}`);
  });
}
