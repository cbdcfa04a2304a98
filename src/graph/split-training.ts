/**
 * A segment's training model split in two at the forward/backward boundary, from the same
 * gradient graph as training_model.onnx (docs/training-artifacts.md, "Split forward and backward"):
 *
 * - forward: data inputs + trainable parameters → `loss` (if any), the forward outputs, and every
 *   forward value the gradient nodes read (the saved activations);
 * - backward: the saved values, the parameters and data inputs the gradient nodes read (or that
 *   it needs to recompute a parameter-only value), and the `grad.<chained>` seeds → `grad.<param>`,
 *   `grad.<input>`.
 *
 * A chained step then runs the expensive forward once: the forward model's outputs feed the
 * native work that makes the seeds, and its saved values feed the backward model, instead of the
 * training model recomputing the forward pass before its backward pass.
 *
 * Saved values keep their forward names in both models (an output under another name would need
 * an Identity, which onnxruntime cannot drop from a graph output), so a caller copies them over
 * by name: `for (const s of split.saved) feeds[s] = fw[s]`.
 */
import { GraphBuilder } from './builder.js';
import type { Tensor } from './values.js';
import { buildGradientGraph, keepInputs, type TrainingSegment } from './artifacts.js';

/** The two models of a split segment. */
export interface SplitTrainingGraphs {
  /** Data inputs + trainable parameters → `loss`, forward outputs, saved values. */
  forward: GraphBuilder;
  /** Saved values, parameters and data inputs it reads, `grad.<chained>` → `grad.<param>`, `grad.<input>`. */
  backward: GraphBuilder;
  /** Forward values that pass from the forward model's outputs to the backward model's inputs, same names. */
  saved: string[];
}

/** Build the forward and backward models of a segment (see the file comment). */
export function buildSplitTrainingGraphs(seg: TrainingSegment): SplitTrainingGraphs {
  const { graph: t, grads, outputs, forwardNodes } = buildGradientGraph(seg);
  const gradInputs = seg.gradInputs ?? [];
  const gradOutputs: [string, string][] = [
    ...seg.trainable.map((p): [string, string] => [grads.get(p)!.name, `grad.${p}`]),
    ...gradInputs.map((i): [string, string] => [grads.get(i)!.name, `grad.${i}`]),
  ];

  // The gradient nodes the gradient outputs need, walking back until a forward value. A value
  // whose content is known while building (a Shape of a static value, a constant) becomes a
  // constant of the backward model instead of a saved tensor.
  const nodes = t.nodes;
  const producedForward = new Set(nodes.slice(0, forwardNodes).flatMap((n) => n.outputs));
  const known = new Map<string, Tensor>();
  const gradValues = new Set(gradOutputs.map(([v]) => v));
  const need = new Set(gradValues);
  const kept: (typeof nodes)[number][] = [];
  for (let k = nodes.length - 1; k >= forwardNodes; k--) {
    const n = nodes[k]!;
    if (!n.outputs.some((o) => need.has(o))) continue;
    const folded = n.outputs.length === 1 ? t.constantValue(n.outputs[0]!) : undefined;
    if (folded && !gradValues.has(n.outputs[0]!)) {
      known.set(n.outputs[0]!, folded);
      continue;
    }
    kept.push(n);
    for (const i of n.inputs) if (i !== '') need.add(i);
  }
  kept.reverse();
  const saved: string[] = [...gradValues].filter((v) => producedForward.has(v));
  for (const n of kept) {
    for (const i of n.inputs) {
      if (i === '' || !producedForward.has(i) || saved.includes(i)) continue;
      const c = t.constantValue(i);
      if (c) known.set(i, c);
      else saved.push(i);
    }
  }

  const fromParameters = replayParameterValues(t, forwardNodes, saved, seg.trainable, known);
  const views = replayViews(t, forwardNodes, saved, known, new Set(fromParameters.flatMap((n) => n.outputs)));
  const recompute = new Set([...fromParameters, ...views]);
  const replayed = t.nodes.slice(0, forwardNodes).filter((n) => recompute.has(n));
  for (const n of replayed) for (const i of n.inputs) if (i !== '') need.add(i);

  const b = new GraphBuilder(`${t.name}_backward`);
  for (const name of t.inputs) if (need.has(name)) declareInput(b, t, name);
  for (const name of saved) declareInput(b, t, name);
  for (const [name, init] of t.initializers) {
    if (!need.has(name)) continue;
    if (init.kind === 'param') b.param(name, init.tensor);
    else b.constant(init.tensor, name);
  }
  for (const [name, tensor] of known) if (!b.has(name)) b.constant(tensor, name);
  for (const n of [...replayed, ...kept]) {
    b.ops(n.opType, n.inputs, n.attrs, {
      name: n.name,
      domain: n.domain,
      outputs: [...n.outputs],
      outputTypes: n.outputs.map((o) => ({ dtype: t.value(o).dtype, ...(t.value(o).shape ? { shape: t.value(o).shape! } : {}) })),
    });
  }
  for (const [v, as] of gradOutputs) b.output(v, as);

  t.clearOutputs();
  if (seg.loss !== undefined) t.output(seg.loss, 'loss');
  for (const o of outputs) t.output(o);
  for (const s of saved) if (!t.outputs.includes(s)) t.output(s);
  const forward = t.pruned(t.outputs);
  keepInputs(forward, t, seg.trainable);
  return { forward, backward: b, saved };
}

/** Ops whose output is their first input under another shape (no arithmetic). */
const VIEW_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/**
 * Saved values that are views of other saved values or inputs (GroupNorm's normalized tensor in
 * its grouped and its NCHW shape) are recomputed by the backward model instead of saved: the same
 * result, half the bytes through JS. Removes them from `saved` (in place), adds the view ops'
 * known shape inputs to `known`, and returns the view nodes in forward order.
 */
function replayViews(t: GraphBuilder, forwardNodes: number, saved: string[], known: Map<string, Tensor>, recomputed: ReadonlySet<string>): GraphNode[] {
  const nodes = t.nodes.slice(0, forwardNodes);
  const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const replayed = new Map<string, GraphNode>();
  const available = (name: string) => saved.includes(name) || t.inputs.includes(name) || replayed.has(name) || recomputed.has(name);
  for (let changed = true; changed;) {
    changed = false;
    for (const v of saved) {
      const n = producer.get(v)!;
      if (!VIEW_OPS.has(n.opType) || n.outputs.length !== 1) continue;
      const [src, ...rest] = n.inputs;
      if (src === undefined || src === v || !available(src)) continue;
      const constants = rest.filter((i) => i !== '' && !t.initializers.has(i));
      if (constants.some((i) => t.constantValue(i) === undefined)) continue;
      for (const i of constants) known.set(i, t.constantValue(i)!);
      saved.splice(saved.indexOf(v), 1);
      replayed.set(v, n);
      changed = true;
      break;
    }
  }
  return nodes.filter((n) => replayed.has(n.outputs[0]!));
}

/**
 * Saved values computed from parameters and constants alone, no data input (a conv weight with a
 * frozen batch norm folded in: weight·scale), are recomputed by the backward model from the
 * parameters it is fed anyway: a parameter-sized product instead of a parameter-sized copy out
 * of the forward model and back in. Removes them from `saved` (in place) and returns the forward
 * nodes that compute them, in forward order; an ancestor whose content is known while building
 * becomes a constant (`known`) instead, as in the gradient nodes, so that no name is made twice.
 */
function replayParameterValues(t: GraphBuilder, forwardNodes: number, saved: string[], trainable: readonly string[], known: Map<string, Tensor>): GraphNode[] {
  const nodes = t.nodes.slice(0, forwardNodes);
  const fromData = new Set(t.inputs.filter((i) => !trainable.includes(i)));
  for (const n of nodes) if (n.inputs.some((i) => fromData.has(i))) for (const o of n.outputs) fromData.add(o);
  const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const replay = new Set<GraphNode>();
  const visit = (v: string): void => {
    const n = producer.get(v);
    if (!n || replay.has(n)) return;
    const c = t.constantValue(v);
    if (c) {
      known.set(v, c);
      return;
    }
    replay.add(n);
    for (const i of n.inputs) if (i !== '') visit(i);
  };
  for (const v of [...saved]) {
    if (fromData.has(v) || !producer.has(v)) continue;
    saved.splice(saved.indexOf(v), 1);
    visit(v);
  }
  return nodes.filter((n) => replay.has(n));
}

type GraphNode = GraphBuilder['nodes'][number];

function declareInput(b: GraphBuilder, t: GraphBuilder, name: string): void {
  const v = t.value(name);
  b.input(name, v.dtype, v.shape);
}
