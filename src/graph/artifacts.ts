/**
 * Training artifacts laid out like onnxruntime-training's, made of standard ops (see
 * docs/training-artifacts.md for the contract and a two-segment example):
 * - training_model.onnx: inputs = data inputs, every trainable parameter, `grad.<output>` for each
 *   chained output; outputs = `loss` (if any), forward outputs, `grad.<param>`, `grad.<input>`.
 *   It differentiates loss + Σ ⟨grad.<output>, output⟩, so chained segments give the gradient of
 *   the total loss.
 * - eval_model.onnx: the same inputs without `grad.*`; outputs `loss` and the forward outputs.
 * - inference_model.onnx: forward outputs only, parameters as initializers.
 * - checkpoint.safetensors (when asked): the trainable parameters' initial values at step 0, in the
 *   one checkpoint format (src/train/checkpoint.ts, docs/checkpoint-format.md).
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { buildGradient, type Gradients } from './autodiff.js';
import type { GraphBuilder, ValueRef } from './builder.js';
import { refName } from './builder.js';
import { serializeModel } from './serialize.js';
import type { Value } from './values.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Rng } from '../util/rng.js';
import { CHECKPOINT_FILE, saveCheckpoint, type JsonValue, type OptimizerConfig } from '../train/checkpoint.js';
import { toHostTensor } from './host-tensor.js';

/** One training segment: a forward graph and what to differentiate. */
export interface TrainingSegment {
  /** Forward graph with parameters as initializers; it is copied, never modified. */
  graph: GraphBuilder;
  /** Parameters to train (initializer names); the other initializers stay frozen constants. */
  trainable: readonly string[];
  /** Scalar loss, when the segment has one. */
  loss?: ValueRef;
  /** Forward values later work needs (returned by all three models under their own names). */
  outputs?: readonly string[];
  /** Outputs that feed later differentiable work: each gets a `grad.<output>` input. */
  chained?: readonly string[];
  /** Data inputs that need a gradient (returned as `grad.<input>`). */
  gradInputs?: readonly string[];
}

/** The three models as graphs (serialize with serializeModel or write with writeTrainingArtifacts). */
export interface TrainingArtifactGraphs {
  training: GraphBuilder;
  eval: GraphBuilder;
  /** Undefined when the segment has no forward outputs (a loss-only segment). */
  inference: GraphBuilder | undefined;
}

function paramsToInputs(g: GraphBuilder, trainable: readonly string[]): void {
  for (const p of trainable) {
    const init = g.initializers.get(p);
    if (!init) {
      if (g.inputs.includes(p)) continue;
      throw new Error(`training artifacts: trainable parameter '${p}' is not an initializer of graph ${g.name}`);
    }
    g.initializerToInput(p);
  }
}

/** A segment's forward graph with its gradient nodes appended (what every training model is cut from). */
export interface GradientGraph {
  /** Parameters as inputs, `grad.<chained>` seed inputs, forward nodes then gradient nodes. */
  graph: GraphBuilder;
  /** Gradient value of every trainable parameter and every gradInput, by forward name. */
  grads: Gradients;
  /** Forward outputs (the segment's outputs and chained outputs, deduplicated). */
  outputs: string[];
  /** How many of graph.nodes are forward nodes (the rest were appended by autodiff). */
  forwardNodes: number;
}

/** Validate a segment and append its gradient (loss + Σ ⟨grad.<output>, output⟩) to a copy of its graph. */
export function buildGradientGraph(seg: TrainingSegment): GradientGraph {
  const chained = seg.chained ?? [];
  const outputs = [...new Set([...(seg.outputs ?? []), ...chained])];
  const gradInputs = seg.gradInputs ?? [];
  if (seg.loss === undefined && chained.length === 0) throw new Error('training artifacts: a segment needs a loss or chained outputs');
  for (const i of gradInputs) if (!seg.graph.inputs.includes(i)) throw new Error(`training artifacts: gradInputs '${i}' is not a graph input`);

  const t = seg.graph.clone();
  paramsToInputs(t, seg.trainable);
  const seeds: Record<string, Value> = {};
  for (const o of chained) {
    const v = t.value(o);
    seeds[o] = t.input(`grad.${o}`, v.dtype, v.shape);
  }
  const forwardNodes = t.nodes.length;
  const grads = buildGradient(t, { loss: seg.loss, params: seg.trainable, inputs: gradInputs, seeds });
  return { graph: t, grads, outputs, forwardNodes };
}

/** Build the training, eval and inference graphs of a segment. */
export function buildTrainingArtifacts(seg: TrainingSegment): TrainingArtifactGraphs {
  const chained = seg.chained ?? [];
  const gradInputs = seg.gradInputs ?? [];
  const { graph: t, grads, outputs } = buildGradientGraph(seg);
  t.clearOutputs();
  const lossOut = seg.loss !== undefined ? 'loss' : undefined;
  if (seg.loss !== undefined) t.output(seg.loss, 'loss');
  for (const o of outputs) t.output(o);
  for (const p of seg.trainable) t.output(grads.get(p)!, `grad.${p}`);
  for (const i of gradInputs) t.output(grads.get(i)!, `grad.${i}`);
  const training = t.pruned(t.outputs);
  keepInputs(training, t, [...seg.trainable, ...chained.map((o) => `grad.${o}`)]);

  const e = seg.graph.clone();
  paramsToInputs(e, seg.trainable);
  e.clearOutputs();
  if (seg.loss !== undefined) e.output(seg.loss, lossOut);
  for (const o of outputs) e.output(o);
  const evalG = e.pruned(e.outputs);
  keepInputs(evalG, e, seg.trainable);

  const inference = outputs.length > 0 ? seg.graph.pruned(outputs) : undefined;
  return { training, eval: evalG, inference };
}

/** Pruning drops unused inputs; the contract wants these inputs present even when unused. */
export function keepInputs(pruned: GraphBuilder, full: GraphBuilder, names: readonly string[]): void {
  const missing = names.filter((n) => !pruned.inputs.includes(n));
  if (missing.length === 0) return;
  throw new Error(`training artifacts: inputs ${missing.join(', ')} of ${full.name} are not used by any output`);
}

/** File names inside an artifacts folder. */
export const ARTIFACT_FILES = {
  training: 'training_model.onnx',
  eval: 'eval_model.onnx',
  inference: 'inference_model.onnx',
} as const;

/** The initial checkpoint written beside the models: optimizer and model configs, stream seeds. */
export interface InitialCheckpoint {
  optimizer: OptimizerConfig;
  model?: JsonValue;
  /** Seeds of the shuffle, augment and sample streams (default 1, 2, 3, as the Trainer's). */
  seeds?: { shuffle?: number; augment?: number; sample?: number };
}

/** Options of writeTrainingArtifacts. */
export interface WriteArtifactsOptions {
  /** Also write checkpoint.safetensors with the trainable parameters' initial values (step 0). */
  checkpoint?: InitialCheckpoint;
}

/**
 * Write the three models of a segment into `dir` (created if needed; each file atomically), and,
 * with `options.checkpoint`, the step-0 checkpoint (no optimizer state yet).
 */
export async function writeTrainingArtifacts(dir: string, seg: TrainingSegment, options: WriteArtifactsOptions = {}): Promise<TrainingArtifactGraphs> {
  const graphs = buildTrainingArtifacts(seg);
  await mkdir(dir, { recursive: true });
  const meta = { trainable: JSON.stringify(seg.trainable), loss: seg.loss !== undefined ? refName(seg.loss) : '' };
  await writeFileAtomic(path.join(dir, ARTIFACT_FILES.training), serializeModel(graphs.training, { metadata: meta }));
  await writeFileAtomic(path.join(dir, ARTIFACT_FILES.eval), serializeModel(graphs.eval, { metadata: meta }));
  if (graphs.inference) await writeFileAtomic(path.join(dir, ARTIFACT_FILES.inference), serializeModel(graphs.inference));
  const c = options.checkpoint;
  if (c) {
    const seeds = c.seeds ?? {};
    await saveCheckpoint(path.join(dir, CHECKPOINT_FILE), {
      step: 0,
      epoch: 0,
      rng: { shuffle: new Rng(seeds.shuffle ?? 1).state, augment: new Rng(seeds.augment ?? 2).state, sample: new Rng(seeds.sample ?? 3).state },
      model: c.model ?? null,
      optimizer: c.optimizer,
      params: new Map(seg.trainable.map((p) => [p, toHostTensor(seg.graph.initializers.get(p)!.tensor)])),
      optimState: new Map(),
    });
  }
  return graphs;
}
