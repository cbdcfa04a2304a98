/**
 * Gradient rule of BatchNormalization in inference mode (torchvision's FrozenBatchNorm2d):
 * y = (x − mean)/sqrt(var + eps)·scale + B with fixed statistics.
 */
import { attrFloat, attrInt } from '../attributes.js';
import type { Value } from '../values.js';
import type { GradContext, GradRule } from './context.js';

function batchNorm(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  if (attrInt(c.node.attrs, 'training_mode', 0) !== 0) c.fail('training_mode 1 is not supported (use GroupNorm or frozen statistics)');
  if (c.needs(3) || c.needs(4)) c.fail('running mean/var are statistics, not trainable parameters; leave them out of the trainable set');
  const dy = c.dy0(dys);
  const x = c.x(0);
  const rank = c.rank(x);
  const bshape = c.ints([-1, ...new Array(rank - 2).fill(1)]);
  const eps = c.scalar(attrFloat(c.node.attrs, 'epsilon', 1e-5), x.dtype);
  const invStd = c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [c.x(4), eps])])]);
  const axes = c.ints([0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)]);
  const dx = c.needs(0) ? c.op('Mul', [dy, c.op('Reshape', [c.op('Mul', [c.x(1), invStd]), bshape])]) : undefined;
  let dscale: Value | undefined;
  if (c.needs(1)) {
    const xhat = c.op('Mul', [c.op('Sub', [x, c.op('Reshape', [c.x(3), bshape])]), c.op('Reshape', [invStd, bshape])]);
    dscale = c.op('ReduceSum', [c.op('Mul', [dy, xhat]), axes], { keepdims: 0 });
  }
  const dbias = c.needs(2) ? c.op('ReduceSum', [dy, axes], { keepdims: 0 }) : undefined;
  return [dx, dscale, dbias];
}

/** Normalization rules by op type. */
export const NORM_RULES: Record<string, GradRule> = { BatchNormalization: batchNorm };
