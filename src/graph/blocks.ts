/**
 * Reusable layers built from basic ONNX ops, named like torchvision's modules so that weights
 * exported from PyTorch load unchanged (`<scope>.weight`, `<scope>.bias`, `running_mean`, ...).
 */
import type { GraphBuilder, ValueRef } from './builder.js';
import { type Tensor, type Value, int64s } from './values.js';

/** Conv2d options (torch.nn.Conv2d semantics; symmetric padding). */
export interface Conv2dOptions {
  weight: Tensor;
  bias?: Tensor;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/** torch.nn.Conv2d: parameters `<scope>.weight` [O, C/groups, kh, kw] and optional `<scope>.bias`. */
export function conv2d(s: GraphBuilder, x: ValueRef, o: Conv2dOptions): Value {
  const w = s.param('weight', o.weight);
  const inputs: ValueRef[] = [x, w];
  if (o.bias) inputs.push(s.param('bias', o.bias));
  return s.op('Conv', inputs, convAttributes(o), { name: 'Conv' });
}

/** ONNX Conv attributes of torch.nn.Conv2d's stride, padding, dilation and groups. */
function convAttributes(o: Omit<Conv2dOptions, 'weight' | 'bias'>): Record<string, number | number[]> {
  const p = o.padding ?? 0;
  const st = o.stride ?? 1;
  const d = o.dilation ?? 1;
  return { strides: [st, st], pads: [p, p, p, p], dilations: [d, d], group: o.groups ?? 1 };
}

/** torch.nn.Linear: `<scope>.weight` [out, in], `<scope>.bias` [out]; y = x Wᵀ + b (Gemm transB). */
export function linear(s: GraphBuilder, x: ValueRef, weight: Tensor, bias?: Tensor): Value {
  const w = s.param('weight', weight);
  const inputs: ValueRef[] = [x, w];
  if (bias) inputs.push(s.param('bias', bias));
  return s.op('Gemm', inputs, { transB: 1 }, { name: 'Gemm' });
}

/**
 * torchvision FrozenBatchNorm2d (eps 1e-5 by default): batch norm with fixed statistics,
 * `<scope>.weight`, `.bias`, `.running_mean`, `.running_var`, as one BatchNormalization node in
 * inference mode.
 */
export function frozenBatchNorm2d(s: GraphBuilder, x: ValueRef, p: FrozenBatchNormParams, eps = 1e-5): Value {
  return s.op('BatchNormalization', [x, ...frozenBatchNormValues(s, p)], { epsilon: eps }, { name: 'BatchNormalization' });
}

/** FrozenBatchNorm2d's tensors: `weight`, `bias`, `running_mean`, `running_var` [C]. */
export interface FrozenBatchNormParams {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/** The four parameters under torchvision's names in `s`, in BatchNormalization's input order. */
function frozenBatchNormValues(s: GraphBuilder, p: FrozenBatchNormParams): [Value, Value, Value, Value] {
  return [s.param('weight', p.weight), s.param('bias', p.bias), s.param('running_mean', p.runningMean), s.param('running_var', p.runningVar)];
}

/**
 * Conv2d (no bias) followed by FrozenBatchNorm2d, folded into one Conv: weight·scale and bias
 * − running_mean·scale, scale = bn.weight / √(running_var + eps), FrozenBatchNorm2d's arithmetic
 * moved from the activation onto the weight. The parameters keep their names under `convScope`
 * (`weight`) and `bnScope` (`weight`, `bias`, `running_mean`, `running_var`). Why: when the conv
 * weight is trained it is a graph input, so onnxruntime cannot fold the BatchNormalization
 * itself; folded, the per-channel pass over the activation (and its gradient) disappears, and a
 * following Relu fuses into the Conv. With constant weights onnxruntime folds the small
 * products at session creation, as it fused Conv + BatchNormalization before.
 */
export function conv2dFrozenBatchNorm2d(
  convScope: GraphBuilder,
  bnScope: GraphBuilder,
  x: ValueRef,
  conv: Omit<Conv2dOptions, 'bias'>,
  bn: FrozenBatchNormParams,
  eps = 1e-5,
): Value {
  const w = convScope.param('weight', conv.weight);
  const [gamma, beta, mean, variance] = frozenBatchNormValues(bnScope, bn);
  const scale = bnScope.op('Div', [gamma, bnScope.op('Sqrt', [bnScope.op('Add', [variance, bnScope.scalar(eps)])])]);
  const folded = convScope.op('Mul', [w, convScope.op('Reshape', [scale, convScope.constant(int64s([-1, 1, 1, 1]), 'per_out_channel')])]);
  const bias = bnScope.op('Sub', [beta, bnScope.op('Mul', [mean, scale])]);
  return convScope.op('Conv', [x, folded, bias], convAttributes(conv), { name: 'Conv' });
}

/**
 * torch.nn.GroupNorm over [N, C, ...] from basic ops (so its meaning does not depend on the
 * opset and autodiff needs no special rule): per sample and group, subtract the mean and divide
 * by sqrt(biased variance + eps), then scale by `<scope>.weight` [C] and shift by `<scope>.bias` [C].
 */
export function groupNorm(s: GraphBuilder, x: ValueRef, groups: number, weight: Tensor, bias: Tensor, eps = 1e-5): Value {
  const xv = s.value(x);
  const c = weight.dims[0]!;
  if (xv.shape && typeof xv.shape[1] === 'number' && xv.shape[1] !== c) {
    throw new RangeError(`groupNorm ${s.prefix}: input ${xv.name} ${JSON.stringify(xv.shape)} has ${xv.shape[1]} channels, weight has ${c}`);
  }
  if (c % groups !== 0) throw new RangeError(`groupNorm ${s.prefix}: ${c} channels do not split into ${groups} groups`);
  const rank = xv.shape?.length ?? 4;
  const grouped = s.op('Reshape', [x, s.constant(int64s([0, groups, -1]), 'group_shape')]);
  const mean = s.op('ReduceMean', [grouped], { axes: [2], keepdims: 1 });
  const centered = s.op('Sub', [grouped, mean]);
  const variance = s.op('ReduceMean', [s.op('Mul', [centered, centered])], { axes: [2], keepdims: 1 });
  const std = s.op('Sqrt', [s.op('Add', [variance, s.scalar(eps, xv.dtype)])]);
  const normalized = s.op('Reshape', [s.op('Div', [centered, std]), s.op('Shape', [x])]);
  const affineShape = s.constant(int64s([c, ...new Array(rank - 2).fill(1)]), 'affine_shape');
  const w = s.op('Reshape', [s.param('weight', weight), affineShape]);
  const b = s.op('Reshape', [s.param('bias', bias), affineShape]);
  return s.op('Add', [s.op('Mul', [normalized, w]), b]);
}
