/**
 * Gradient rules of reductions and the softmax family.
 */
import { attrInt, attrInts } from '../attributes.js';
import { type Value, toNumbers } from '../values.js';
import type { GradContext, GradRule } from './context.js';

/** Broadcast dY of a reduction back over the reduced axes of x. */
function unreduce(c: GradContext, dy: Value, axes: number[] | undefined): Value {
  const x = c.x(0);
  const keep = attrInt(c.node.attrs, 'keepdims', 1) === 1;
  if (!keep && axes && axes.length > 0) {
    const r = c.rank(x);
    const norm = axes.map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q);
    dy = c.op('Unsqueeze', [dy, c.ints(norm)]);
  }
  return c.op('Expand', [dy, c.shapeOf(x)]);
}

function isNoop(c: GradContext, axes: number[] | undefined): boolean {
  return (axes === undefined || axes.length === 0) && attrInt(c.node.attrs, 'noop_with_empty_axes', 0) === 1;
}

/** ReduceSum (axes as input, opset 13+): broadcast dY back. */
function reduceSum(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  let axes: number[] | undefined;
  if (c.hasInput(1)) {
    const t = c.g.constantValue(c.x(1));
    axes = t ? toNumbers(t) : c.fail(`axes input ${c.x(1).name} must be constant`);
  }
  if (isNoop(c, axes)) return [c.dy0(dys)];
  return [unreduce(c, c.dy0(dys), axes)];
}

/** ReduceMean (axes attribute at opset 17): broadcast dY back and divide by the reduced count. */
function reduceMean(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const axes = attrInts(c.node.attrs, 'axes');
  if (isNoop(c, axes)) return [c.dy0(dys)];
  const x = c.x(0);
  const y = c.y(0);
  let count: Value;
  if (x.shape?.every((d) => typeof d === 'number')) {
    const dims = x.shape as number[];
    const all = axes === undefined || axes.length === 0;
    const set = new Set((axes ?? []).map((a) => (a < 0 ? a + dims.length : a)));
    const n = dims.reduce((p, d, i) => (all || set.has(i) ? p * d : p), 1);
    count = c.scalar(n, x.dtype);
  } else {
    const ratio = c.op('Div', [c.op('Size', [x]), c.op('Size', [y])]);
    count = c.op('Cast', [ratio], { to: x.dtype === 'float64' ? 11 : 1 });
  }
  return [unreduce(c, c.op('Div', [c.dy0(dys), count]), axes)];
}

/** Softmax: dx = y ⊙ (dy − Σ_axis dy ⊙ y). */
function softmax(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const y = c.y(0);
  const axis = attrInt(c.node.attrs, 'axis', -1);
  const s = c.op('ReduceSum', [c.op('Mul', [dy, y]), c.ints([axis])], { keepdims: 1 });
  return [c.op('Mul', [y, c.op('Sub', [dy, s])])];
}

/** LogSoftmax: dx = dy − exp(y) ⊙ Σ_axis dy. */
function logSoftmax(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const axis = attrInt(c.node.attrs, 'axis', -1);
  const s = c.op('ReduceSum', [dy, c.ints([axis])], { keepdims: 1 });
  return [c.op('Sub', [dy, c.op('Mul', [c.op('Exp', [c.y(0)]), s])])];
}

/** Reduction rules by op type. */
export const REDUCE_RULES: Record<string, GradRule> = {
  ReduceSum: reduceSum,
  ReduceMean: reduceMean,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
