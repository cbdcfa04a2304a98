/**
 * Gradient rules of data-movement ops: reshapes, transposes, concatenation, splits, slices,
 * broadcasts and gathers. Their shape/axes inputs get no gradient.
 */
import { attrInt, attrInts } from '../attributes.js';
import { sliceRange } from '../shape-inference.js';
import { type Value, filled, toNumbers } from '../values.js';
import type { GradContext, GradRule } from './context.js';

/** Reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze): reshape dY back to the input's shape. */
function reshapeBack(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  return [c.op('Reshape', [c.dy0(dys), c.shapeOf(c.x(0))])];
}

/** Transpose by the inverse permutation. */
function transpose(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const r = c.rank(c.x(0));
  const perm = attrInts(c.node.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return [c.op('Transpose', [c.dy0(dys)], { perm: inv })];
}

function normAxis(c: GradContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) c.fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Concat: split dY along the axis into the inputs' sizes (which must be static). */
function concat(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const n = c.node.inputs.length;
  const axis = normAxis(c, attrInt(c.node.attrs, 'axis', 0), c.rank(c.x(0)));
  const sizes = c.node.inputs.map((_, i) => {
    const d = c.x(i).shape?.[axis];
    return typeof d === 'number' ? d : c.fail(`size of input ${c.x(i).name} along axis ${axis} must be static`);
  });
  if (n === 1) return [c.dy0(dys)];
  const parts = c.ops('Split', [c.dy0(dys), c.ints(sizes)], { axis }, n);
  return parts.map((p, i) => (c.needs(i) ? p : undefined));
}

/** Split: concatenate the outputs' gradients, zeros where an output has none. */
function split(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const axis = normAxis(c, attrInt(c.node.attrs, 'axis', 0), c.rank(c.x(0)));
  const parts = c.node.outputs.map((_, i) => dys[i] ?? c.zerosLike(c.y(i)));
  return [parts.length === 1 ? parts[0]! : c.op('Concat', parts, { axis })];
}

/**
 * Slice (constant starts/ends/axes/steps, static input): put dY back where it came from. Positive
 * steps s > 1 first interleave s − 1 zeros after each element (Unsqueeze, Pad, Reshape), then
 * one Pad restores the offsets before and after the sliced range.
 */
function slice(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const x = c.x(0);
  const dims = c.staticDims(x, 'the Slice gradient');
  const constInts = (i: number): number[] | undefined => {
    if (!c.hasInput(i)) return undefined;
    const t = c.g.constantValue(c.x(i));
    return t ? toNumbers(t) : c.fail(`input ${i} (${c.x(i).name}) must be constant`);
  };
  const starts = constInts(1)!;
  const ends = constInts(2)!;
  const axes = constInts(3) ?? starts.map((_, i) => i);
  const steps = constInts(4) ?? starts.map(() => 1);
  const r = dims.length;
  const pads = new Array<number>(2 * r).fill(0);
  let dy = c.dy0(dys);
  const cur = [...(dy.shape as number[])];
  axes.forEach((a0, i) => {
    const a = normAxis(c, a0, r);
    const step = steps[i]!;
    if (step < 1) c.fail(`only positive steps are supported for the gradient, got steps [${steps}]`);
    const { start, count } = sliceRange(dims[a]!, starts[i]!, ends[i]!, step);
    let span = count;
    if (step > 1 && count > 0) {
      const spread = new Array<number>(2 * (r + 1)).fill(0);
      spread[a + 1 + r + 1] = step - 1;
      const inter = c.op('Pad', [c.op('Unsqueeze', [dy, c.ints([a + 1])]), c.ints(spread)]);
      span = (count - 1) * step + 1;
      cur[a] = count * step;
      const merged = c.op('Reshape', [inter, c.ints(cur)]);
      cur[a] = span;
      dy = c.op('Slice', [merged, c.ints([0]), c.ints([span]), c.ints([a])]);
    }
    pads[a] = start;
    pads[a + r] = dims[a]! - start - span;
  });
  return [c.op('Pad', [dy, c.ints(pads)])];
}

/** Expand: sum dY over the broadcast axes. */
function expand(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  return [c.reduceTo(c.dy0(dys), c.x(0))];
}

/**
 * Gather: scatter-add dY into zeros of the data's shape (ScatterND, reduction add), so repeated
 * indices accumulate. For axis a > 0 the data and dY are transposed so that the gathered axis
 * (and the index dims) come first, then transposed back. Negative indices are wrapped with the
 * static size of the gathered axis.
 */
function gather(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const data = c.x(0);
  const r = c.rank(data);
  const axis = normAxis(c, attrInt(c.node.attrs, 'axis', 0), r);
  let idx = c.x(1);
  const ri = c.rank(idx);
  if (idx.dtype !== 'int64') idx = c.op('Cast', [idx], { to: 7 });
  const dimA = data.shape?.[axis];
  if (typeof dimA === 'number') {
    const neg = c.op('Less', [idx, c.g.constant(filled('int64', [], 0), 'grad_zero_i64')]);
    idx = c.op('Where', [neg, c.op('Add', [idx, c.g.constant(filled('int64', [], dimA), 'grad_dim')]), idx]);
  }
  const idxNd = c.op('Unsqueeze', [idx, c.ints([-1])]);
  let dy = c.dy0(dys);
  if (axis === 0) return [c.op('ScatterND', [c.zerosLike(data), idxNd, dy], { reduction: 'add' })];
  // dY dims: [pre (axis), index (ri), post]; move the index dims first.
  const pre = Array.from({ length: axis }, (_, i) => i);
  const index = Array.from({ length: ri }, (_, i) => axis + i);
  const post = Array.from({ length: r - axis - 1 }, (_, i) => axis + ri + i);
  dy = c.op('Transpose', [dy], { perm: [...index, ...pre, ...post] });
  const toFront = [axis, ...pre, ...Array.from({ length: r - axis - 1 }, (_, i) => axis + 1 + i)];
  const zeros = c.op('Transpose', [c.zerosLike(data)], { perm: toFront });
  const scattered = c.op('ScatterND', [zeros, idxNd, dy], { reduction: 'add' });
  const back = new Array<number>(r);
  toFront.forEach((p, i) => (back[p] = i));
  return [c.op('Transpose', [scattered], { perm: back })];
}

/** Data-movement rules by op type. */
export const SHAPE_RULES: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Expand: expand,
  Gather: gather,
};
