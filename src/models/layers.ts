/**
 * The few layer shapes the detection models repeat, drawing parameters from a WeightSource:
 * a bias-free or biased conv, the configured normalisation (FrozenBatchNorm2d or GroupNorm) and
 * Linear, all under torchvision's parameter names.
 */
import type { GraphBuilder, ValueRef } from '../graph/builder.js';
import { type FrozenBatchNormParams, conv2d, conv2dFrozenBatchNorm2d, frozenBatchNorm2d, groupNorm, linear } from '../graph/blocks.js';
import type { Tensor, Value } from '../graph/values.js';
import type { NormKind } from './presets.js';
import { modelTuning } from './tuning.js';
import type { InitKind, WeightSource } from './weights.js';

/** What every model builder carries: the parameter source and the normalisation choice. */
export interface BuildContext {
  weights: WeightSource;
  norm: NormKind;
  groupNormGroups: number;
}

/** A square conv's shape, stride, padding, optional bias and weight initialisation. */
export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  bias?: boolean;
  init: InitKind;
}

function convWeight(ctx: BuildContext, s: GraphBuilder, o: ConvSpec): Tensor {
  return ctx.weights.get({ name: s.prefix + 'weight', dims: [o.outChannels, o.inChannels, o.kernel, o.kernel], init: o.init });
}

/** Conv2d `<scope>.weight` [out, in, k, k] (+ `<scope>.bias` when `bias`). */
export function conv(ctx: BuildContext, s: GraphBuilder, x: ValueRef, o: ConvSpec): Value {
  const weight = convWeight(ctx, s, o);
  const bias = o.bias ? ctx.weights.get({ name: s.prefix + 'bias', dims: [o.outChannels], init: 'zeros' }) : undefined;
  return conv2d(s, x, { weight, bias, stride: o.stride, padding: o.padding });
}

/**
 * A bias-free conv under `s.scope(convName)` and the configured normalisation under
 * `s.scope(normName)` (torchvision's conv1/bn1, downsample.0/downsample.1). A FrozenBatchNorm2d
 * is folded into the conv (modelTuning.foldFrozenBatchNorm); the parameters and their names are
 * the same either way.
 */
export function convThenNorm(ctx: BuildContext, s: GraphBuilder, convName: string | number, normName: string | number, x: ValueRef, o: Omit<ConvSpec, 'bias'>, zeroInit = false): Value {
  const cs = s.scope(convName);
  const ns = s.scope(normName);
  if (ctx.norm !== 'frozen-bn' || !modelTuning.foldFrozenBatchNorm) return norm(ctx, ns, conv(ctx, cs, x, o), o.outChannels, zeroInit);
  const weight = convWeight(ctx, cs, o);
  return conv2dFrozenBatchNorm2d(cs, ns, x, { weight, stride: o.stride, padding: o.padding }, frozenBatchNormParams(ctx, ns, o.outChannels, zeroInit));
}

function frozenBatchNormParams(ctx: BuildContext, s: GraphBuilder, channels: number, zeroInit: boolean): FrozenBatchNormParams {
  return {
    weight: ctx.weights.get({ name: s.prefix + 'weight', dims: [channels], init: zeroInit ? 'zeros' : 'ones' }),
    bias: ctx.weights.get({ name: s.prefix + 'bias', dims: [channels], init: 'zeros' }),
    runningMean: ctx.weights.get({ name: s.prefix + 'running_mean', dims: [channels], init: 'zeros' }),
    runningVar: ctx.weights.get({ name: s.prefix + 'running_var', dims: [channels], init: 'ones' }),
  };
}

/**
 * The configured normalisation over `channels`: FrozenBatchNorm2d (eps 1e-5, weight, bias,
 * running_mean, running_var) or GroupNorm(groups, channels) (eps 1e-5, weight, bias).
 */
export function norm(ctx: BuildContext, s: GraphBuilder, x: ValueRef, channels: number, zeroInit = false): Value {
  if (ctx.norm === 'frozen-bn') return frozenBatchNorm2d(s, x, frozenBatchNormParams(ctx, s, channels, zeroInit));
  const w = ctx.weights.get({ name: s.prefix + 'weight', dims: [channels], init: zeroInit ? 'zeros' : 'ones' });
  const b = ctx.weights.get({ name: s.prefix + 'bias', dims: [channels], init: 'zeros' });
  return groupNorm(s, x, ctx.groupNormGroups, w, b);
}

/** nn.Linear `<scope>.weight` [out, in], `<scope>.bias` [out] with nn.Linear's default init (or `init`). */
export function dense(ctx: BuildContext, s: GraphBuilder, x: ValueRef, inFeatures: number, outFeatures: number, init?: { weight: InitKind; std?: number }): Value {
  const weight = ctx.weights.get({ name: s.prefix + 'weight', dims: [outFeatures, inFeatures], init: init?.weight ?? 'linear-default' });
  const bias = ctx.weights.get({ name: s.prefix + 'bias', dims: [outFeatures], init: init ? 'zeros' : 'linear-bias', fanIn: inFeatures });
  return linear(s, x, weight, bias);
}

/** Relu. */
export function relu(s: GraphBuilder, x: ValueRef): Value {
  return s.op('Relu', [x]);
}
