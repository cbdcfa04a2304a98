/**
 * Gradients of multi-node patterns that a per-node rule differentiates wastefully.
 *
 * Normalization (GroupNorm / LayerNorm / InstanceNorm built from basic ops, as `groupNorm()` in
 * blocks.ts emits it):
 *
 *   mean = ReduceMean(x, axes, keepdims 1);  c = Sub(x, mean);  var = ReduceMean(Mul(c, c), axes)
 *   std = Sqrt(Add(var, eps));  n = Div(c, std)
 *
 * Node by node, the chain rule through Div, Sqrt, ReduceMean, Mul, Sub and ReduceMean emits about
 * twelve full-size element-wise nodes (Neg, Expand, Mul, Sum, …) per normalization. The closed
 * form needs five: dx = (dn − mean(dn) − n·mean(dn·n)) / std, with n the forward output of Div.
 * The pattern only matches when its intermediate values (mean, c, var, std, …) feed nothing else,
 * so no gradient is lost; eps must not depend on a trainable value.
 */
import { attrInt, attrInts } from '../attributes.js';
import type { GraphBuilder, Node } from '../builder.js';
import type { Value } from '../values.js';
import type { GradContext } from './context.js';

/** A matched normalization: gradient of `n` (Div's output) → gradient of `x`. */
export interface NormalizationMatch {
  /** The normalized input. */
  x: string;
  /** Reduced axes (ReduceMean's `axes`). */
  axes: number[];
  /** The Sqrt output (standard deviation, keepdims shape). */
  std: string;
}

/**
 * Find normalization patterns, keyed by the name of their Div node. `differentiable(name)` tells
 * whether a value depends on a trainable value (eps must not).
 */
export function matchNormalizations(g: GraphBuilder, nodes: readonly Node[], differentiable: (name: string) => boolean, seeds: ReadonlySet<string>): Map<string, NormalizationMatch> {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of new Set(n.inputs)) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const outputs = new Set(g.outputs);
  /** The only consumer of `v` is `node` (v is no output and no seed). */
  const onlyFor = (v: string, ...node: Node[]): boolean => {
    const cs = consumers.get(v) ?? [];
    return !outputs.has(v) && !seeds.has(v) && cs.length === node.length && cs.every((c) => node.includes(c));
  };
  const reduceMean = (n: Node | undefined, input: string): number[] | undefined => {
    if (!n || n.opType !== 'ReduceMean' || n.inputs.length !== 1 || n.inputs[0] !== input) return undefined;
    if (attrInt(n.attrs, 'keepdims', 1) !== 1) return undefined;
    return attrInts(n.attrs, 'axes');
  };
  const out = new Map<string, NormalizationMatch>();
  for (const div of nodes) {
    if (div.opType !== 'Div' || div.inputs.length !== 2) continue;
    const [c, std] = div.inputs as [string, string];
    const sub = producer.get(c);
    const sqrt = producer.get(std);
    if (!sub || sub.opType !== 'Sub' || !sqrt || sqrt.opType !== 'Sqrt') continue;
    const [x, mean] = sub.inputs as [string, string];
    const meanNode = producer.get(mean);
    const axes = reduceMean(meanNode, x);
    if (!axes || !meanNode) continue;
    const add = producer.get(sqrt.inputs[0]!);
    if (!add || add.opType !== 'Add') continue;
    const varIdx = add.inputs.findIndex((i) => producer.get(i)?.opType === 'ReduceMean');
    if (varIdx < 0) continue;
    const variance = add.inputs[varIdx]!;
    const eps = add.inputs[1 - varIdx]!;
    if (differentiable(eps)) continue;
    const varNode = producer.get(variance)!;
    const sq = varNode.inputs[0]!;
    const varAxes = reduceMean(varNode, sq);
    if (!varAxes || varAxes.join() !== axes.join()) continue;
    const mul = producer.get(sq);
    if (!mul || mul.opType !== 'Mul' || mul.inputs[0] !== c || mul.inputs[1] !== c) continue;
    const xv = g.value(x);
    const cv = g.value(c);
    // No broadcasting beyond the keepdims means (x and c have the same shape).
    if (!xv.shape || !cv.shape || xv.shape.length !== cv.shape.length) continue;
    if (!(onlyFor(c, mul, div) && onlyFor(mean, sub) && onlyFor(sq, varNode) && onlyFor(variance, add) && onlyFor(add.outputs[0]!, sqrt) && onlyFor(std, div))) continue;
    out.set(div.name, { x, axes, std });
  }
  return out;
}

/** dx = (dn − mean(dn) − n·mean(dn·n)) / std, n = the Div node's output. */
export function normalizationGrad(c: GradContext, m: NormalizationMatch, dn: Value): Value {
  const n = c.y(0);
  const std = c.g.value(m.std);
  const meanDn = c.op('ReduceMean', [dn], { axes: m.axes, keepdims: 1 });
  const meanDnN = c.op('ReduceMean', [c.op('Mul', [dn, n])], { axes: m.axes, keepdims: 1 });
  const centered = c.op('Sub', [c.op('Sub', [dn, meanDn]), c.op('Mul', [n, meanDnN])]);
  return c.op('Div', [centered, std]);
}
