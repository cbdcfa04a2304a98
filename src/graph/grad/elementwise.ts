/**
 * Gradient rules of element-wise ops. Binary ops broadcast, so each input's gradient is summed
 * back to that input's shape (GradContext.reduceTo).
 */
import { attrFloat } from '../attributes.js';
import { onnxTypeCode } from '../dtype.js';
import type { Value } from '../values.js';
import type { GradContext, GradRule } from './context.js';

function add(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  return [c.needs(0) ? c.reduceTo(dy, c.x(0)) : undefined, c.needs(1) ? c.reduceTo(dy, c.x(1)) : undefined];
}

function sub(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  return [c.needs(0) ? c.reduceTo(dy, c.x(0)) : undefined, c.needs(1) ? c.reduceTo(c.op('Neg', [dy]), c.x(1)) : undefined];
}

function mul(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  return [
    c.needs(0) ? c.reduceTo(c.op('Mul', [dy, c.x(1)]), c.x(0)) : undefined,
    c.needs(1) ? c.reduceTo(c.op('Mul', [dy, c.x(0)]), c.x(1)) : undefined,
  ];
}

/** d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b = -y/b. */
function div(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const dyOverB = c.op('Div', [dy, c.x(1)]);
  return [
    c.needs(0) ? c.reduceTo(dyOverB, c.x(0)) : undefined,
    c.needs(1) ? c.reduceTo(c.op('Neg', [c.op('Mul', [dyOverB, c.y(0)])]), c.x(1)) : undefined,
  ];
}

/** Sum (variadic, broadcasting): every input gets the output gradient, reduced to its shape. */
function sum(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  return c.node.inputs.map((_, i) => (c.needs(i) ? c.reduceTo(dy, c.x(i)) : undefined));
}

const unary =
  (f: (c: GradContext, dy: Value) => Value): GradRule =>
  (c, dys) => [f(c, c.dy0(dys))];

const zero = (c: GradContext): Value => c.scalar(0, c.x(0).dtype);
const one = (c: GradContext): Value => c.scalar(1, c.x(0).dtype);

/**
 * Gradient passes where x > 0 (0 at x = 0, as torch), tested on the output (y > 0 ⇔ x > 0): the
 * next layer keeps y alive anyway, so x can be freed after the forward. dy · float(y > 0) rather
 * than Where(y > 0, dy, 0): onnxruntime runs Where on one thread, Greater and Mul on its pool
 * (the only difference: an infinite or NaN dy where y ≤ 0 gives NaN instead of 0).
 */
const relu = unary((c, dy) => c.op('Mul', [dy, c.op('Cast', [c.op('Greater', [c.y(0), zero(c)])], { to: onnxTypeCode(dy.dtype) })]));
/** LeakyRelu: dy where x > 0, alpha·dy elsewhere. */
const leakyRelu = unary((c, dy) => {
  const alpha = c.scalar(attrFloat(c.node.attrs, 'alpha', 0.01), c.x(0).dtype);
  return c.op('Where', [c.op('Greater', [c.x(0), zero(c)]), dy, c.op('Mul', [dy, alpha])]);
});
/** σ' = y(1 − y). */
const sigmoid = unary((c, dy) => c.op('Mul', [dy, c.op('Mul', [c.y(0), c.op('Sub', [one(c), c.y(0)])])]));
/** tanh' = 1 − y². */
const tanh = unary((c, dy) => c.op('Mul', [dy, c.op('Sub', [one(c), c.op('Mul', [c.y(0), c.y(0)])])]));
const exp = unary((c, dy) => c.op('Mul', [dy, c.y(0)]));
const log = unary((c, dy) => c.op('Div', [dy, c.x(0)]));
/** sqrt' = 1 / (2y). */
const sqrt = unary((c, dy) => c.op('Div', [c.op('Mul', [dy, c.scalar(0.5, c.x(0).dtype)]), c.y(0)]));
const neg = unary((c, dy) => c.op('Neg', [dy]));
/** |x|' = sign(x) (0 at 0, as torch). */
const abs = unary((c, dy) => c.op('Mul', [dy, c.op('Sign', [c.x(0)])]));
/** (1/x)' = −y². */
const reciprocal = unary((c, dy) => c.op('Neg', [c.op('Mul', [dy, c.op('Mul', [c.y(0), c.y(0)])])]));
/** softplus' = σ(x). */
const softplus = unary((c, dy) => c.op('Mul', [dy, c.op('Sigmoid', [c.x(0)])]));
const identity = unary((_c, dy) => dy);
/** Cast between float types: cast the gradient back. */
const cast = unary((c, dy) => (dy.dtype === c.x(0).dtype ? dy : c.op('Cast', [dy], { to: c.x(0).dtype === 'float64' ? 11 : 1 })));

/** Clip(x, min, max): gradient passes where min ≤ x ≤ max (torch.clamp's convention); min/max get none. */
function clip(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  if (c.needs(1) || c.needs(2)) c.fail('gradients of Clip bounds are not supported (make min/max constants)');
  let mask: Value | undefined;
  if (c.hasInput(1)) mask = c.op('GreaterOrEqual', [c.x(0), c.x(1)]);
  if (c.hasInput(2)) {
    const upper = c.op('LessOrEqual', [c.x(0), c.x(2)]);
    mask = mask ? c.op('And', [mask, upper]) : upper;
  }
  const dy = c.dy0(dys);
  return [mask ? c.op('Where', [mask, dy, zero(c)]) : dy];
}

/** Where(cond, a, b): a gets dy where cond, b elsewhere; each reduced to its own shape. */
function where(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const z = c.scalar(0, dy.dtype);
  return [
    undefined,
    c.needs(1) ? c.reduceTo(c.op('Where', [c.x(0), dy, z]), c.x(1)) : undefined,
    c.needs(2) ? c.reduceTo(c.op('Where', [c.x(0), z, dy]), c.x(2)) : undefined,
  ];
}

/** Pow(x, p): only the base gets a gradient, p·x^(p−1)·dy. */
function pow(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  if (c.needs(1)) c.fail('gradient of the exponent of Pow is not supported');
  const p = c.x(1).dtype === c.x(0).dtype ? c.x(1) : c.op('Cast', [c.x(1)], { to: c.x(0).dtype === 'float64' ? 11 : 1 });
  const pm1 = c.op('Sub', [p, one(c)]);
  const d = c.op('Mul', [c.op('Mul', [c.dy0(dys), p]), c.op('Pow', [c.x(0), pm1])]);
  return [c.reduceTo(d, c.x(0))];
}

/** Element-wise rules by op type. */
export const ELEMENTWISE_RULES: Record<string, GradRule> = {
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Sum: sum,
  Relu: relu,
  LeakyRelu: leakyRelu,
  Sigmoid: sigmoid,
  Tanh: tanh,
  Exp: exp,
  Log: log,
  Sqrt: sqrt,
  Neg: neg,
  Abs: abs,
  Reciprocal: reciprocal,
  Softplus: softplus,
  Identity: identity,
  Cast: cast,
  Clip: clip,
  Where: where,
  Pow: pow,
};
