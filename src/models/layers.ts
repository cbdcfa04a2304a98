/**
 * The few layer shapes the detection models repeat, drawing parameters from a WeightSource:
 * a bias-free or biased conv, the configured normalisation (FrozenBatchNorm2d or GroupNorm) and
 * Linear, all under torchvision's parameter names.
 */
import type { GraphBuilder, ValueRef } from '../graph/builder.js';
import { conv2d, frozenBatchNorm2d, groupNorm, linear } from '../graph/blocks.js';
import type { Value } from '../graph/values.js';
import type { NormKind } from './presets.js';
import type { InitKind, WeightSource } from './weights.js';

/** What every model builder carries: the parameter source and the normalisation choice. */
export interface BuildContext {
  weights: WeightSource;
  norm: NormKind;
  groupNormGroups: number;
}

/** Conv2d `<scope>.weight` [out, in, k, k] (+ `<scope>.bias` when `bias`). */
export function conv(
  ctx: BuildContext, s: GraphBuilder, x: ValueRef,
  o: { inChannels: number; outChannels: number; kernel: number; stride?: number; padding?: number; bias?: boolean; init: InitKind },
): Value {
  const weight = ctx.weights.get({ name: s.prefix + 'weight', dims: [o.outChannels, o.inChannels, o.kernel, o.kernel], init: o.init });
  const bias = o.bias ? ctx.weights.get({ name: s.prefix + 'bias', dims: [o.outChannels], init: 'zeros' }) : undefined;
  return conv2d(s, x, { weight, bias, stride: o.stride, padding: o.padding });
}

/**
 * The configured normalisation over `channels`: FrozenBatchNorm2d (eps 1e-5, weight, bias,
 * running_mean, running_var) or GroupNorm(groups, channels) (eps 1e-5, weight, bias).
 */
export function norm(ctx: BuildContext, s: GraphBuilder, x: ValueRef, channels: number, zeroInit = false): Value {
  const w = ctx.weights.get({ name: s.prefix + 'weight', dims: [channels], init: zeroInit ? 'zeros' : 'ones' });
  const b = ctx.weights.get({ name: s.prefix + 'bias', dims: [channels], init: 'zeros' });
  if (ctx.norm === 'group-norm') return groupNorm(s, x, ctx.groupNormGroups, w, b);
  const runningMean = ctx.weights.get({ name: s.prefix + 'running_mean', dims: [channels], init: 'zeros' });
  const runningVar = ctx.weights.get({ name: s.prefix + 'running_var', dims: [channels], init: 'ones' });
  return frozenBatchNorm2d(s, x, { weight: w, bias: b, runningMean, runningVar });
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
