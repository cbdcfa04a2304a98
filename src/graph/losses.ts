/**
 * Losses as compositions of basic ops (so autodiff needs no loss-specific rule), with torch's
 * semantics and default reductions.
 */
import type { GraphBuilder, ValueRef } from './builder.js';
import { type Tensor, type Value, filled, formatShape, int64s, scalar, tensor } from './values.js';

/** How per-element losses are combined: torch's `reduction`. */
export type Reduction = 'mean' | 'sum' | 'none';

function reduce(g: GraphBuilder, v: Value, reduction: Reduction): Value {
  if (reduction === 'none') return v;
  return g.op(reduction === 'mean' ? 'ReduceMean' : 'ReduceSum', [v], { keepdims: 0 });
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits: max(x, 0) − x·t + log(1 + exp(−|x|)),
 * numerically stable for large |x|. `targets` has the logits' shape (probabilities in [0, 1]).
 */
export function bceWithLogits(g: GraphBuilder, logits: ValueRef, targets: ValueRef, reduction: Reduction = 'mean'): Value {
  const x = g.value(logits);
  const perElem = g.op('Add', [
    g.op('Sub', [g.op('Relu', [x]), g.op('Mul', [x, targets])]),
    // log(1 + exp(−|x|)) from Exp/Log: onnxruntime has no float64 Softplus kernel.
    g.op('Log', [g.op('Add', [g.op('Exp', [g.op('Neg', [g.op('Abs', [x])])]), g.constant(scalar(x.dtype, 1), 'one')])]),
  ]);
  return reduce(g, perElem, reduction);
}

/** Options of softmaxCrossEntropy (torch.nn.functional.cross_entropy). */
export interface CrossEntropyOptions {
  /** Targets equal to this index contribute nothing (default -100, torch's default). */
  ignoreIndex?: number;
  /** Per-class weights [C]: a constant tensor or a graph value. */
  classWeights?: Tensor | ValueRef;
  reduction?: 'mean' | 'sum';
}

/**
 * torch.nn.functional.cross_entropy over logits [N, C] and int64 class targets [N]: with
 * per-sample weight w_n = weight[t_n]·[t_n ≠ ignore], the loss is −Σ w_n·log softmax(x_n)[t_n],
 * divided by Σ w_n for 'mean' (NaN when every target is ignored, as torch). Unlike torch, a
 * target outside [0, C) other than the ignore index is not an error (a graph cannot raise): it
 * picks no class and adds 0 to the loss while still counting in Σ w_n. Validate labels upstream.
 */
export function softmaxCrossEntropy(g: GraphBuilder, logits: ValueRef, targets: ValueRef, o: CrossEntropyOptions = {}): Value {
  const x = g.value(logits);
  const t = g.value(targets);
  const numClasses = x.shape?.[1];
  if (x.shape?.length !== 2 || typeof numClasses !== 'number') throw new RangeError(`softmaxCrossEntropy: logits ${x.name} must be [N, C] with static C, got ${formatShape(x.shape)}`);
  if (t.dtype !== 'int64') throw new TypeError(`softmaxCrossEntropy: targets ${t.name} must be int64, got ${t.dtype}`);
  const logp = g.op('LogSoftmax', [x], { axis: 1 });
  const ignore = g.constant(scalar('int64', o.ignoreIndex ?? -100), 'ignore_index');
  const valid = g.op('Not', [g.op('Equal', [t, ignore])]);
  const safeT = g.op('Where', [valid, t, g.constant(scalar('int64', 0), 'zero_index')]);
  // One-hot as (t == [0..C-1]): onnxruntime's OneHot lacks the int64-index/float-value kernels.
  const classIds = g.constant(tensor(BigInt64Array.from({ length: numClasses }, (_, i) => BigInt(i)), [numClasses]), 'class_ids');
  const oneHot = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [safeT, g.constant(int64s([1]), 'class_axis')]), classIds])], { to: x.dtype === 'float64' ? 11 : 1 });
  const picked = g.op('ReduceSum', [g.op('Mul', [oneHot, logp]), g.constant(int64s([1]), 'sum_axis')], { keepdims: 0 });
  let w = g.op('Cast', [valid], { to: x.dtype === 'float64' ? 11 : 1 });
  if (o.classWeights !== undefined) {
    const cw = typeof o.classWeights === 'object' && 'data' in o.classWeights ? g.constant(o.classWeights, 'class_weights') : g.value(o.classWeights);
    w = g.op('Mul', [w, g.op('Gather', [cw, safeT], { axis: 0 })]);
  }
  const total = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [w, picked])], { keepdims: 0 })]);
  if ((o.reduction ?? 'mean') === 'sum') return total;
  return g.op('Div', [total, g.op('ReduceSum', [w], { keepdims: 0 })]);
}

/**
 * torch.nn.functional.smooth_l1_loss: 0.5·d²/β where |d| < β, else |d| − 0.5·β (d = pred − target);
 * β = 0 is the L1 loss.
 */
export function smoothL1(g: GraphBuilder, pred: ValueRef, target: ValueRef, beta = 1, reduction: Reduction = 'mean'): Value {
  if (beta < 0) throw new RangeError(`smoothL1: beta must be ≥ 0, got ${beta}`);
  if (beta === 0) return l1Loss(g, pred, target, reduction);
  const dtype = g.value(pred).dtype;
  const d = g.op('Sub', [pred, target]);
  const ad = g.op('Abs', [d]);
  const quad = g.op('Mul', [g.op('Mul', [d, d]), g.constant(filled(dtype, [], 0.5 / beta), 'half_over_beta')]);
  const lin = g.op('Sub', [ad, g.constant(filled(dtype, [], 0.5 * beta), 'half_beta')]);
  const perElem = g.op('Where', [g.op('Less', [ad, g.constant(filled(dtype, [], beta), 'beta')]), quad, lin]);
  return reduce(g, perElem, reduction);
}

/** torch.nn.functional.l1_loss: |pred − target|. */
export function l1Loss(g: GraphBuilder, pred: ValueRef, target: ValueRef, reduction: Reduction = 'mean'): Value {
  return reduce(g, g.op('Abs', [g.op('Sub', [pred, target])]), reduction);
}
