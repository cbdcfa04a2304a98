/**
 * Output dtype and shape of a node from its inputs' types, its attributes and the content of
 * constant inputs (axes, shapes, scales). Dims may be symbolic or unknown; rules keep what they
 * can and fall back to unknown (null) rather than guess. Errors name the node, op and shapes.
 */
import { attrInt, attrInts, attrString, type Attr } from './attributes.js';
import type { DType } from './dtype.js';
import type { Node } from './builder.js';
import { type Dim, type Shape, type Tensor, type Value, formatShape, toNumbers } from './values.js';

/** Type of one output as inferred. */
export interface InferredType {
  dtype: DType;
  shape: Shape | undefined;
}

type ConstOf = (name: string) => Tensor | undefined;
/** Symbolic content of a shape vector: for Shape(x) outputs, x's (partial) shape. */
type ShapeContentOf = (name: string) => Shape | undefined;

const UNARY_SAME = new Set([
  'Identity', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Sign', 'Reciprocal',
  'Floor', 'Ceil', 'Round', 'Softplus', 'Clip', 'LeakyRelu', 'Erf', 'Softmax', 'LogSoftmax',
  'BatchNormalization', 'Dropout', 'Not', 'ScatterElements', 'ScatterND', 'LpNormalization',
]);
const BINARY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'And', 'Or', 'Xor', 'Mod']);
const COMPARISON = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);

/** Infer output types of `node`; `inputs` are undefined for omitted optional inputs. */
export function inferNode(node: Node, inputs: (Value | undefined)[], constOf: ConstOf, shapeContentOf: ShapeContentOf = () => undefined): InferredType[] {
  const ctx = new Ctx(node, inputs, constOf, shapeContentOf);
  const op = node.opType;
  if (node.domain !== '') return [{ dtype: ctx.in(0).dtype, shape: undefined }];
  if (UNARY_SAME.has(op)) return [{ dtype: ctx.in(0).dtype, shape: ctx.in(0).shape }];
  if (BINARY_BROADCAST.has(op)) return [{ dtype: ctx.in(0).dtype, shape: ctx.broadcastAll(ctx.present()) }];
  if (COMPARISON.has(op)) return [{ dtype: 'bool', shape: ctx.broadcastAll(ctx.present()) }];
  const rule = RULES[op];
  if (rule) return rule(ctx);
  // Unknown op: keep the first input's dtype, unknown shape; OpOptions.outputTypes can say more.
  return [{ dtype: inputs[0]?.dtype ?? 'float32', shape: undefined }];
}

/** Helpers bound to one node for the rules below. */
class Ctx {
  constructor(
    readonly node: Node,
    readonly inputs: (Value | undefined)[],
    readonly constOf: ConstOf,
    readonly shapeContentOf: ShapeContentOf,
  ) {}
  /** Dims held by shape-vector input i: constant content, or the shape a Shape op read. */
  dimsOf(i: number): Dim[] | undefined {
    const v = this.inputs[i];
    if (!v) return undefined;
    return this.ints(i) ?? this.shapeContentOf(v.name);
  }
  get attrs(): Record<string, Attr> {
    return this.node.attrs;
  }
  fail(msg: string): never {
    throw new Error(`node ${this.node.name} (${this.node.opType}): ${msg}`);
  }
  in(i: number): Value {
    const v = this.inputs[i];
    if (!v) this.fail(`input ${i} is required`);
    return v;
  }
  opt(i: number): Value | undefined {
    return this.inputs[i];
  }
  present(): Value[] {
    return this.inputs.filter((v): v is Value => v !== undefined);
  }
  /** Constant integer content of input i (axes, shapes, pads), or undefined when not constant. */
  ints(i: number): number[] | undefined {
    const v = this.inputs[i];
    if (!v) return undefined;
    const t = this.constOf(v.name);
    return t ? toNumbers(t) : undefined;
  }
  rank(i: number): number | undefined {
    return this.inputs[i]?.shape?.length;
  }
  broadcastAll(vals: Value[]): Shape | undefined {
    let out: Shape | undefined = [];
    for (const v of vals) out = out && v.shape ? broadcast(out, v.shape, this) : undefined;
    return out;
  }
}

/** Numpy-style broadcast of two shapes. */
function broadcast(a: Shape, b: Shape, ctx: Ctx): Shape {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') ctx.fail(`cannot broadcast ${formatShape(a)} with ${formatShape(b)}`);
    else out.push(typeof da === 'number' ? da : typeof db === 'number' ? db : null);
  }
  return out;
}

function normAxis(axis: number, rank: number, ctx: Ctx): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function spatialOut(inDim: Dim, k: number, s: number, d: number, pb: number, pe: number, ceil: boolean): Dim {
  if (typeof inDim !== 'number') return null;
  const span = inDim + pb + pe - d * (k - 1) - 1;
  return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
}

/** Spatial output dims of Conv/MaxPool/AveragePool; auto_pad SAME_* and VALID handled. */
function windowed(ctx: Ctx, x: Shape, kernel: number[], ceil: boolean): Dim[] {
  const nsp = kernel.length;
  const strides = attrInts(ctx.attrs, 'strides') ?? kernel.map(() => 1);
  const dil = attrInts(ctx.attrs, 'dilations') ?? kernel.map(() => 1);
  const pads = attrInts(ctx.attrs, 'pads') ?? new Array(2 * nsp).fill(0);
  const autoPad = attrString(ctx.attrs, 'auto_pad', 'NOTSET');
  return kernel.map((k, i) => {
    const dim = x[2 + i]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return typeof dim === 'number' ? Math.ceil(dim / strides[i]!) : null;
    if (autoPad === 'VALID') return spatialOut(dim, k, strides[i]!, dil[i]!, 0, 0, ceil);
    return spatialOut(dim, k, strides[i]!, dil[i]!, pads[i]!, pads[i + nsp]!, ceil);
  });
}

type Rule = (ctx: Ctx) => InferredType[];

function reduceShape(ctx: Ctx, axes: number[] | undefined): Shape | undefined {
  const x = ctx.in(0);
  if (!x.shape) return undefined;
  const keep = attrInt(ctx.attrs, 'keepdims', 1) === 1;
  const rank = x.shape.length;
  if (axes === undefined && ctx.opt(1)) return keep ? x.shape.map(() => null) : undefined;
  if (!axes || axes.length === 0) {
    if (attrInt(ctx.attrs, 'noop_with_empty_axes', 0) === 1) return x.shape;
    axes = x.shape.map((_, i) => i);
  }
  const set = new Set(axes.map((a) => normAxis(a, rank, ctx)));
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

const RULES: Record<string, Rule> = {
  Cast: (c) => [{ dtype: castTarget(c), shape: c.in(0).shape }],
  Where: (c) => [{ dtype: c.in(1).dtype, shape: c.broadcastAll([c.in(0), c.in(1), c.in(2)]) }],
  Shape: (c) => [{ dtype: 'int64', shape: [c.rank(0) ?? null] }],
  Size: () => [{ dtype: 'int64', shape: [] }],
  Constant: (c) => {
    const a = c.attrs['value'];
    if (a?.type !== 'tensor') return c.fail('only the tensor `value` attribute is supported');
    return [{ dtype: a.value.dtype, shape: a.value.dims }];
  },
  ConstantOfShape: (c) => {
    const a = c.attrs['value'];
    const dtype = a?.type === 'tensor' ? a.value.dtype : 'float32';
    const rank = c.in(0).shape?.[0];
    return [{ dtype, shape: c.dimsOf(0) ?? (typeof rank === 'number' ? new Array<Dim>(rank).fill(null) : undefined) }];
  },
  Expand: (c) => {
    const dims = c.dimsOf(1);
    const x = c.in(0);
    return [{ dtype: x.dtype, shape: dims && x.shape ? broadcast(x.shape, dims, c) : undefined }];
  },
  MatMul: (c) => {
    const a = c.in(0).shape;
    const b = c.in(1).shape;
    if (!a || !b) return [{ dtype: c.in(0).dtype, shape: undefined }];
    if (a.length < 2 || b.length < 2) c.fail(`1-D MatMul operands are not supported: ${formatShape(a)} x ${formatShape(b)}`);
    const k1 = a[a.length - 1]!;
    const k2 = b[b.length - 2]!;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) c.fail(`inner dims differ: ${formatShape(a)} x ${formatShape(b)}`);
    const batch = broadcast(a.slice(0, -2), b.slice(0, -2), c);
    return [{ dtype: c.in(0).dtype, shape: [...batch, a[a.length - 2]!, b[b.length - 1]!] }];
  },
  Gemm: (c) => {
    const a = c.in(0).shape;
    const b = c.in(1).shape;
    if (!a || !b) return [{ dtype: c.in(0).dtype, shape: undefined }];
    if (a.length !== 2 || b.length !== 2) c.fail(`Gemm needs 2-D A and B, got ${formatShape(a)} and ${formatShape(b)}`);
    const ta = attrInt(c.attrs, 'transA', 0);
    const tb = attrInt(c.attrs, 'transB', 0);
    const [m, ka] = ta ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
    const [kb, n] = tb ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) c.fail(`inner dims differ: A${formatShape(a)} B${formatShape(b)} transA=${ta} transB=${tb}`);
    return [{ dtype: c.in(0).dtype, shape: [m, n] }];
  },
  Conv: (c) => {
    const x = c.in(0).shape;
    const w = c.in(1).shape;
    if (!x || !w) return [{ dtype: c.in(0).dtype, shape: undefined }];
    if (w.length !== x.length) c.fail(`weight ${formatShape(w)} and input ${formatShape(x)} ranks differ`);
    const group = attrInt(c.attrs, 'group', 1);
    const cin = x[1]!;
    const wc = w[1]!;
    if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * group) {
      c.fail(`input ${formatShape(x)} has ${cin} channels but weight ${formatShape(w)} with group=${group} expects ${wc * group}`);
    }
    const kernel = attrInts(c.attrs, 'kernel_shape') ?? w.slice(2).map((d) => (typeof d === 'number' ? d : c.fail('kernel size unknown')));
    return [{ dtype: c.in(0).dtype, shape: [x[0]!, w[0]!, ...windowed(c, x, kernel, false)] }];
  },
  ConvTranspose: (c) => {
    const x = c.in(0).shape;
    const w = c.in(1).shape;
    if (!x || !w) return [{ dtype: c.in(0).dtype, shape: undefined }];
    const group = attrInt(c.attrs, 'group', 1);
    const kernel = attrInts(c.attrs, 'kernel_shape') ?? (w.slice(2) as number[]);
    const nsp = kernel.length;
    const s = attrInts(c.attrs, 'strides') ?? kernel.map(() => 1);
    const d = attrInts(c.attrs, 'dilations') ?? kernel.map(() => 1);
    const p = attrInts(c.attrs, 'pads') ?? new Array(2 * nsp).fill(0);
    const op = attrInts(c.attrs, 'output_padding') ?? kernel.map(() => 0);
    const explicit = attrInts(c.attrs, 'output_shape');
    const sp = kernel.map((k, i) => {
      if (explicit) return explicit[i]!;
      const h = x[2 + i]!;
      return typeof h === 'number' ? s[i]! * (h - 1) + op[i]! + ((k - 1) * d[i]! + 1) - p[i]! - p[i + nsp]! : null;
    });
    const oc = w[1]!;
    return [{ dtype: c.in(0).dtype, shape: [x[0]!, typeof oc === 'number' ? oc * group : null, ...sp] }];
  },
  MaxPool: (c) => {
    const x = c.in(0).shape;
    const kernel = attrInts(c.attrs, 'kernel_shape') ?? c.fail('kernel_shape is required');
    const shape = x ? [x[0]!, x[1]!, ...windowed(c, x, kernel, attrInt(c.attrs, 'ceil_mode', 0) === 1)] : undefined;
    return [{ dtype: c.in(0).dtype, shape }, { dtype: 'int64', shape }];
  },
  AveragePool: (c) => {
    const x = c.in(0).shape;
    const kernel = attrInts(c.attrs, 'kernel_shape') ?? c.fail('kernel_shape is required');
    return [{ dtype: c.in(0).dtype, shape: x ? [x[0]!, x[1]!, ...windowed(c, x, kernel, attrInt(c.attrs, 'ceil_mode', 0) === 1)] : undefined }];
  },
  GlobalAveragePool: (c) => globalPool(c),
  GlobalMaxPool: (c) => globalPool(c),
  Resize: (c) => {
    const x = c.in(0).shape;
    const sizes = c.ints(3);
    const scalesT = c.opt(2) ? c.constOf(c.opt(2)!.name) : undefined;
    if (!x) return [{ dtype: c.in(0).dtype, shape: undefined }];
    if (sizes) return [{ dtype: c.in(0).dtype, shape: sizes }];
    if (scalesT && scalesT.data.length > 0) {
      const sc = toNumbers(scalesT);
      if (sc.length !== x.length) c.fail(`scales has ${sc.length} entries for input ${formatShape(x)}`);
      return [{ dtype: c.in(0).dtype, shape: x.map((d, i) => (typeof d === 'number' ? Math.floor(d * sc[i]! + 1e-9) : sc[i] === 1 ? d : null)) }];
    }
    return [{ dtype: c.in(0).dtype, shape: x.map(() => null) }];
  },
  Reshape: (c) => {
    const x = c.in(0);
    const symbolic = c.ints(1) ? undefined : c.shapeContentOf(c.in(1).name);
    if (symbolic) return [{ dtype: x.dtype, shape: symbolic }];
    const dims = c.ints(1);
    if (!dims) {
      const r = c.in(1).shape?.[0];
      return [{ dtype: x.dtype, shape: typeof r === 'number' ? new Array(r).fill(null) : undefined }];
    }
    const out: Dim[] = dims.map((d, i) => (d === 0 && attrInt(c.attrs, 'allowzero', 0) === 0 ? (x.shape?.[i] ?? null) : d === -1 ? null : d));
    const minus = dims.indexOf(-1);
    if (minus >= 0 && x.shape && x.shape.every((d) => typeof d === 'number')) {
      const total = (x.shape as number[]).reduce((a, b) => a * b, 1);
      const known = out.reduce<number | null>((a, d, i) => (i === minus || a === null ? a : typeof d === 'number' ? a * d : null), 1);
      if (known !== null) {
        if (total % known !== 0) c.fail(`cannot reshape ${formatShape(x.shape)} to [${dims}]`);
        out[minus] = total / known;
      }
    }
    if (x.shape && out.every((d) => typeof d === 'number') && x.shape.every((d) => typeof d === 'number')) {
      const a = (x.shape as number[]).reduce((p, q) => p * q, 1);
      const b = (out as number[]).reduce((p, q) => p * q, 1);
      if (a !== b) c.fail(`cannot reshape ${formatShape(x.shape)} (${a} elements) to ${formatShape(out)} (${b})`);
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  Flatten: (c) => {
    const x = c.in(0);
    if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
    const axis = normAxisIncl(attrInt(c.attrs, 'axis', 1), x.shape.length, c);
    return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }];
  },
  Transpose: (c) => {
    const x = c.in(0);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    const perm = attrInts(c.attrs, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
    if (perm.length !== x.shape.length) c.fail(`perm [${perm}] does not match input ${formatShape(x.shape)}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]!) }];
  },
  Concat: (c) => {
    const vals = c.present();
    const first = vals.find((v) => v.shape);
    if (!first?.shape) return [{ dtype: vals[0]!.dtype, shape: undefined }];
    const rank = first.shape.length;
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), rank, c);
    const out = [...first.shape];
    let sum: number | null = 0;
    for (const v of vals) {
      if (!v.shape) return [{ dtype: first.dtype, shape: out.map((d, i) => (i === axis ? null : d)) }];
      if (v.shape.length !== rank) c.fail(`input ${v.name} has shape ${formatShape(v.shape)}, expected rank ${rank}`);
      const d = v.shape[axis]!;
      sum = sum !== null && typeof d === 'number' ? sum + d : null;
    }
    out[axis] = sum;
    return [{ dtype: first.dtype, shape: out }];
  },
  Split: (c) => {
    const x = c.in(0);
    const n = c.node.outputs.length;
    if (!x.shape) return new Array(n).fill({ dtype: x.dtype, shape: undefined });
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), x.shape.length, c);
    let sizes = c.ints(1);
    const dim = x.shape[axis]!;
    if (!sizes && typeof dim === 'number') {
      if (dim % n !== 0) c.fail(`axis ${axis} of ${formatShape(x.shape)} does not split into ${n} equal parts`);
      sizes = new Array(n).fill(dim / n);
    }
    if (sizes && sizes.length !== n) c.fail(`split has ${sizes.length} sizes for ${n} outputs`);
    return Array.from({ length: n }, (_, i) => ({ dtype: x.dtype, shape: x.shape!.map((d, j) => (j === axis ? (sizes ? sizes[i]! : null) : d)) }));
  },
  Slice: (c) => {
    const x = c.in(0);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    const starts = c.ints(1);
    const ends = c.ints(2);
    const axes = c.ints(3) ?? starts?.map((_, i) => i);
    const steps = c.ints(4) ?? starts?.map(() => 1);
    if (!starts || !ends || !axes || !steps) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const out = [...x.shape];
    axes.forEach((a0, i) => {
      const a = normAxis(a0, x.shape!.length, c);
      const d = x.shape![a]!;
      out[a] = typeof d === 'number' ? sliceRange(d, starts[i]!, ends[i]!, steps[i]!).count : null;
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  Squeeze: (c) => {
    const x = c.in(0);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    const axes = c.ints(1);
    if (!axes) {
      if (c.opt(1)) return [{ dtype: x.dtype, shape: undefined }];
      return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
    }
    const set = new Set(axes.map((a) => normAxis(a, x.shape!.length, c)));
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !set.has(i)) }];
  },
  Unsqueeze: (c) => {
    const x = c.in(0);
    const axes = c.ints(1);
    if (!x.shape || !axes) return [{ dtype: x.dtype, shape: undefined }];
    const rank = x.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(a, rank, c)));
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : x.shape[j++]!);
    return [{ dtype: x.dtype, shape: out }];
  },
  Gather: (c) => {
    const x = c.in(0);
    const idx = c.in(1);
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: undefined }];
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), x.shape.length, c);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  GatherElements: (c) => [{ dtype: c.in(0).dtype, shape: c.in(1).shape }],
  ReduceSum: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, c.ints(1)) }],
  ReduceMean: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, attrInts(c.attrs, 'axes')) }],
  ReduceMax: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, attrInts(c.attrs, 'axes')) }],
  ReduceMin: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, attrInts(c.attrs, 'axes')) }],
  ReduceProd: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, attrInts(c.attrs, 'axes')) }],
  ReduceSumSquare: (c) => [{ dtype: c.in(0).dtype, shape: reduceShape(c, attrInts(c.attrs, 'axes')) }],
  ArgMax: (c) => [{ dtype: 'int64', shape: reduceShape(c, [attrInt(c.attrs, 'axis', 0)]) }],
  OneHot: (c) => {
    const idx = c.in(0);
    const depth = c.ints(1)?.[0] ?? null;
    const values = c.in(2);
    if (!idx.shape) return [{ dtype: values.dtype, shape: undefined }];
    const rank = idx.shape.length + 1;
    const axis = normAxis(attrInt(c.attrs, 'axis', -1), rank, c);
    const out = [...idx.shape];
    out.splice(axis, 0, depth);
    return [{ dtype: values.dtype, shape: out }];
  },
  Pad: (c) => {
    const x = c.in(0);
    const pads = c.ints(1);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    if (!pads) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const r = x.shape.length;
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + r]! : null)) }];
  },
  Tile: (c) => {
    const x = c.in(0);
    const reps = c.ints(1);
    if (!x.shape || !reps) return [{ dtype: x.dtype, shape: x.shape?.map(() => null) }];
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i]! : null)) }];
  },
};

/** Element count range of Slice along one axis of size `dim` (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  if (step === 0) throw new RangeError('Slice step must not be 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = Math.min(Math.max(s, -1), dim - 1);
  e = Math.min(Math.max(e, -1), dim - 1);
  return { start: s, count: Math.max(0, Math.ceil((s - e) / -step)) };
}

function globalPool(c: Ctx): InferredType[] {
  const x = c.in(0).shape;
  return [{ dtype: c.in(0).dtype, shape: x ? [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] : undefined }];
}

function normAxisIncl(axis: number, rank: number, ctx: Ctx): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank) ctx.fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function prod(dims: Dim[]): Dim {
  if (dims.length === 1) return dims[0]!; // keeps a symbolic batch dim through Flatten
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

const CAST_CODES: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

function castTarget(c: Ctx): DType {
  const to = attrInt(c.attrs, 'to', 0);
  return CAST_CODES[to] ?? c.fail(`unsupported Cast target type code ${to}`);
}
