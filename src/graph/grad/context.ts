/**
 * What a gradient rule sees: the forward node, its input/output values, which inputs need a
 * gradient, and helpers that emit the common patterns (broadcast reduction, zeros, shapes).
 */
import type { AttrInput } from '../attributes.js';
import type { GraphBuilder, Node, ValueRef } from '../builder.js';
import type { DType } from '../dtype.js';
import { type Value, filled, formatShape, int64s, scalar } from '../values.js';

/**
 * A vector-Jacobian rule: given the gradients of the node's outputs (undefined where an output
 * does not influence the loss), return the gradients of its inputs (undefined where not needed).
 */
export type GradRule = (ctx: GradContext, dys: (Value | undefined)[]) => (Value | undefined)[];

/** Per-node view used by rules; emits nodes into the gradient scope of the graph. */
export class GradContext {
  constructor(
    /** Builder scope the gradient nodes go into. */
    readonly g: GraphBuilder,
    readonly node: Node,
    private readonly needed: (name: string) => boolean,
    private readonly cache: Map<string, Value>,
  ) {}

  /** Throw an error that names the node, its op and the problem. */
  fail(msg: string): never {
    throw new Error(`autodiff: node ${this.node.name} (${this.node.opType}): ${msg}`);
  }
  /** Forward input i. */
  x(i: number): Value {
    const n = this.node.inputs[i];
    if (!n) this.fail(`input ${i} is missing`);
    return this.g.value(n);
  }
  /** True when forward input i is present. */
  hasInput(i: number): boolean {
    return (this.node.inputs[i] ?? '') !== '';
  }
  /** Forward output i. */
  y(i: number): Value {
    return this.g.value(this.node.outputs[i]!);
  }
  /** Whether input i needs a gradient (reaches a trainable parameter or requested input). */
  needs(i: number): boolean {
    const n = this.node.inputs[i];
    return n !== undefined && n !== '' && this.needed(n);
  }
  /** The gradient of output 0, which most rules require. */
  dy0(dys: (Value | undefined)[]): Value {
    return dys[0] ?? this.fail('output 0 has no gradient');
  }
  /** Emit one node. */
  op(opType: string, inputs: (ValueRef | '')[], attrs: Record<string, AttrInput> = {}): Value {
    return this.g.op(opType, inputs, attrs, { name: `${opType}_grad` });
  }
  /** Emit one node with several outputs. */
  ops(opType: string, inputs: (ValueRef | '')[], attrs: Record<string, AttrInput>, outputs: number): Value[] {
    return this.g.ops(opType, inputs, attrs, { name: `${opType}_grad`, outputs });
  }
  /** A cached scalar constant. */
  scalar(v: number, dtype: DType): Value {
    const key = `scalar:${dtype}:${v}`;
    let c = this.cache.get(key);
    if (!c) this.cache.set(key, (c = this.g.constant(scalar(dtype, v), 'grad_scalar')));
    return c;
  }
  /** A value cached under `key` for the whole gradient build (shared constants), made once by `make`. */
  cached(key: string, make: () => Value): Value {
    let c = this.cache.get(key);
    if (!c) this.cache.set(key, (c = make()));
    return c;
  }
  /** A cached int64 vector constant (axes, shapes, pads). */
  ints(values: number[]): Value {
    const key = `ints:${values.join(',')}`;
    let c = this.cache.get(key);
    if (!c) this.cache.set(key, (c = this.g.constant(int64s(values), 'grad_ints')));
    return c;
  }
  /** Shape(v), cached per value. */
  shapeOf(v: Value): Value {
    const key = `shape:${v.name}`;
    let c = this.cache.get(key);
    if (!c) this.cache.set(key, (c = this.op('Shape', [v])));
    return c;
  }
  /** Zeros with the shape and dtype of v. */
  zerosLike(v: Value): Value {
    return this.g.op('ConstantOfShape', [this.shapeOf(v)], { value: filled(v.dtype, [1], 0) }, { name: 'ZerosLike_grad' });
  }
  /** Static rank of v or an error naming it. */
  rank(v: Value): number {
    return v.shape?.length ?? this.fail(`rank of ${v.name} is unknown`);
  }
  /** Static dims of v or an error naming it (rules that compute pads/slices need them). */
  staticDims(v: Value, why: string): number[] {
    if (v.shape && v.shape.every((d) => typeof d === 'number')) return v.shape as number[];
    return this.fail(`${why} needs the static shape of ${v.name}, got ${formatShape(v.shape)}`);
  }

  /**
   * Sum a broadcast gradient back to the shape of `target` (the input that was broadcast):
   * reduce the leading axes it lacks and the axes where it has size 1.
   */
  reduceTo(grad: Value, target: Value): Value {
    const gs = grad.shape ?? this.fail(`rank of gradient ${grad.name} is unknown`);
    const ts = target.shape ?? this.fail(`rank of ${target.name} is unknown`);
    const lead = gs.length - ts.length;
    if (lead < 0) this.fail(`gradient ${grad.name} ${formatShape(gs)} has lower rank than ${target.name} ${formatShape(ts)}`);
    const axes: number[] = [];
    for (let i = 0; i < gs.length; i++) {
      if (i < lead) {
        axes.push(i);
        continue;
      }
      const t = ts[i - lead]!;
      const d = gs[i]!;
      if (t === d && t !== null) continue;
      if (t === 1) axes.push(i);
      else if (d === 1 && t === null) this.fail(`cannot tell whether ${target.name} ${formatShape(ts)} was broadcast to ${formatShape(gs)}`);
      else if (t === null || d === null) {
        if (t === null && d === null) this.fail(`cannot tell whether ${target.name} ${formatShape(ts)} was broadcast to ${formatShape(gs)}`);
      } else if (t !== d) this.fail(`gradient ${formatShape(gs)} does not broadcast from ${target.name} ${formatShape(ts)}`);
    }
    if (axes.length === 0) return grad;
    const summed = this.op('ReduceSum', [grad, this.ints(axes)], { keepdims: 1 });
    return lead > 0 ? this.op('Reshape', [summed, this.shapeOf(target)]) : summed;
  }
}
