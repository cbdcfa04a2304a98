/**
 * Reverse-mode automatic differentiation over a GraphBuilder graph, producing the gradient
 * subgraph from standard ONNX ops (opset 17), so any onnxruntime build can run training graphs.
 *
 * Given a scalar loss (and/or seed gradients for outputs that feed later work, for segmented
 * training) and the set of trainable parameters, it appends to the same graph the nodes that
 * compute d(loss)/d(param). Only nodes on a path from a trainable parameter (or requested input)
 * to the loss/seeds get gradient nodes; everything else is pruned. Values used by several nodes
 * (shared parameters, residual branches) sum their incoming gradients.
 */
import type { GraphBuilder, ValueRef } from './builder.js';
import { refName } from './builder.js';
import { isFloat } from './dtype.js';
import { GradContext, type GradRule } from './grad/context.js';
import { GRAD_RULES } from './grad/index.js';
import { matchNormalizations, normalizationGrad } from './grad/fused.js';
import { gradTuning } from './grad/tuning.js';
import { type Value, filled, formatShape } from './values.js';

/** What to differentiate. */
export interface GradientOptions {
  /** Scalar loss value (shape [] or all-ones); its gradient is seeded with 1. */
  loss?: ValueRef;
  /** Trainable parameters (initializers or inputs); every other value is treated as constant. */
  params: readonly string[];
  /** Data inputs that also need a gradient (e.g. features fed from an earlier segment). */
  inputs?: readonly string[];
  /** Extra seeds: gradient values for forward values (`grad.<output>` in chained segments). */
  seeds?: Readonly<Record<string, ValueRef>>;
  /** Scope prefix of the emitted gradient nodes (default 'grad'). */
  scope?: string;
}

/** Result: the gradient value of every requested parameter and input, by forward name. */
export type Gradients = Map<string, Value>;

/** Ops whose outputs carry no gradient (comparisons, shape queries, index outputs, random). */
const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or',
  'ArgMax', 'ArgMin', 'Sign', 'Floor', 'Ceil', 'Round', 'ConstantOfShape', 'OneHot', 'NonZero',
]);

/** Append the gradient subgraph of `opts.loss` (and seeds) w.r.t. params/inputs to `g`. */
export function buildGradient(g: GraphBuilder, opts: GradientOptions): Gradients {
  const targets = [...opts.params, ...(opts.inputs ?? [])];
  for (const t of targets) g.value(t); // throws naming a missing parameter
  const seeds = new Map<string, Value>();
  if (opts.loss !== undefined) {
    const loss = g.value(opts.loss);
    if (!isFloat(loss.dtype)) throw new TypeError(`autodiff: loss ${loss.name} must be float, got ${loss.dtype}`);
    if (!loss.shape || loss.shape.some((d) => d !== 1)) throw new RangeError(`autodiff: loss ${loss.name} must be a scalar, got shape ${formatShape(loss.shape)}`);
    seeds.set(loss.name, g.constant(filled(loss.dtype, loss.shape as number[], 1), 'grad.loss_seed'));
  }
  for (const [name, grad] of Object.entries(opts.seeds ?? {})) {
    const v = g.value(name);
    const gv = g.value(grad);
    if (gv.dtype !== v.dtype) throw new TypeError(`autodiff: seed for ${name} is ${gv.dtype}, the value is ${v.dtype}`);
    seeds.set(name, gv);
  }
  if (seeds.size === 0) throw new Error('autodiff: give a loss or at least one seed gradient');

  const nodes = [...g.nodes];
  // Forward: which values depend on a target through differentiable ops.
  const dependsOnTarget = new Set<string>(targets);
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.opType)) continue;
    if (!n.inputs.some((i) => dependsOnTarget.has(i))) continue;
    for (const o of n.outputs) if (isFloat(g.value(o).dtype)) dependsOnTarget.add(o);
  }
  // Backward: which of those reach a seed. A node is active when an output is needed.
  const needed = new Set<string>([...seeds.keys()].filter((s) => dependsOnTarget.has(s)));
  const active: typeof nodes = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!n.outputs.some((o) => needed.has(o))) continue; // needed ⊆ dependsOnTarget
    active.push(n);
    for (const i of n.inputs) if (i !== '' && dependsOnTarget.has(i)) needed.add(i);
  }

  const gs = g.scope(opts.scope ?? 'grad');
  const contributions = new Map<string, Value[]>();
  const totals = new Map<string, Value>();
  const push = (name: string, v: Value): void => {
    if (totals.has(name)) throw new Error(`autodiff: internal: gradient of ${name} used before all contributions arrived`);
    const list = contributions.get(name) ?? [];
    list.push(v);
    contributions.set(name, list);
  };
  const total = (name: string): Value | undefined => {
    const done = totals.get(name);
    if (done) return done;
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    // Two contributions (residual branches, the common case) as Add: onnxruntime runs Add on its
    // thread pool, variadic Sum on one thread.
    const sum = list.length === 1 ? list[0]! : gs.op(list.length === 2 ? 'Add' : 'Sum', list, {}, { name: 'Accumulate_grad' });
    totals.set(name, sum);
    return sum;
  };
  for (const [name, v] of seeds) if (needed.has(name)) push(name, v);

  // Multi-node patterns with a cheaper closed-form gradient (normalizations): the Div node's
  // rule sends the gradient straight to the normalized input, so the pattern's inner nodes get none.
  const fused = gradTuning.fuseNormalizations ? matchNormalizations(g, nodes, (name) => dependsOnTarget.has(name), new Set(seeds.keys())) : new Map();
  const cache = new Map<string, Value>();
  for (const n of active) {
    const dys = n.outputs.map((o) => (needed.has(o) ? total(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    const norm = fused.get(n.name);
    if (norm && needed.has(norm.x) && dys[0]) {
      const ctx = new GradContext(gs, n, (name) => needed.has(name), cache);
      const dx = normalizationGrad(ctx, norm, dys[0]);
      checkGradShape(n.name, 'normalization', g.value(norm.x), dx);
      push(norm.x, dx);
      continue;
    }
    const rule: GradRule | undefined = GRAD_RULES[n.opType];
    if (!rule) throw new Error(`autodiff: node ${n.name} (${n.opType}): no gradient rule for op ${n.opType}`);
    const ctx = new GradContext(gs, n, (name) => needed.has(name), cache);
    const dxs = rule(ctx, dys);
    n.inputs.forEach((inName, i) => {
      if (!ctx.needs(i)) return;
      const dx = dxs[i];
      if (!dx) return;
      checkGradShape(n.name, n.opType, g.value(inName), dx);
      push(inName, dx);
    });
  }

  const out: Gradients = new Map();
  for (const t of targets) {
    const v = g.value(t);
    const tot = total(t);
    out.set(t, tot ?? gs.op('ConstantOfShape', [gs.op('Shape', [v])], { value: filled(v.dtype, [1], 0) }, { name: 'Unused_grad' }));
  }
  return out;
}

function checkGradShape(node: string, op: string, x: Value, dx: Value): void {
  if (!x.shape || !dx.shape) return;
  const bad = x.shape.length !== dx.shape.length || x.shape.some((d, i) => typeof d === 'number' && typeof dx.shape![i] === 'number' && d !== dx.shape![i]);
  if (bad) throw new Error(`autodiff: node ${node} (${op}): gradient of input ${x.name} has shape ${formatShape(dx.shape)}, expected ${formatShape(x.shape)}`);
}

/** Convenience: the name a gradient output gets in training artifacts. */
export function gradName(name: ValueRef): string {
  return `grad.${refName(name)}`;
}
