/**
 * Finite-difference check of autodiff gradients, run through onnxruntime: the graph's output y
 * is contracted with a fixed random tensor R (loss = Σ y ⊙ R, so every output element matters),
 * the gradient graph is built and run once, and for random directions v per parameter the
 * directional derivative ⟨grad, v⟩ is compared with the central difference
 * (L(p + εv) − L(p − εv)) / 2ε. Perturbations are measured after rounding to the parameter's
 * dtype, so float32 checks are not biased by rounding of p ± εv.
 */
import type * as ort from 'onnxruntime-node';
import { buildGradient } from './autodiff.js';
import { GraphBuilder } from './builder.js';
import { allocArray } from './dtype.js';
import { createSession, runSession } from './ort.js';
import { type Tensor, type Value, formatShape, isStatic } from './values.js';
import { Rng } from '../util/rng.js';

/** Options of gradCheck. */
export interface GradCheckOptions {
  /** Build the forward graph; differentiable tensors are the g.param() initializers. Return y. */
  build: (g: GraphBuilder) => Value;
  /** Central-difference step (default 1e-6 for float64 graphs, 1e-2 for float32). */
  eps?: number;
  /** Random directions per parameter (default 2). */
  directions?: number;
  /** Seed for R and the directions. */
  seed?: number;
  /** Names of params to check (default all). */
  params?: string[];
}

/** Result of one directional comparison. */
export interface GradCheckEntry {
  param: string;
  analytic: number;
  numeric: number;
  /** |analytic − numeric| / max(|analytic|, |numeric|, 1e-3·scale). */
  relErr: number;
}

/** Outcome: every comparison and the worst relative error. */
export interface GradCheckResult {
  entries: GradCheckEntry[];
  maxRelErr: number;
  /** Number of gradient nodes appended (for pruning tests). */
  gradNodes: number;
}

function randomLike(rng: Rng, t: Tensor): Tensor {
  const data = allocArray(t.dtype, t.data.length) as Float32Array | Float64Array;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { dtype: t.dtype, dims: [...t.dims], data };
}

/** Run the finite-difference check; see the module comment. */
export async function gradCheck(opts: GradCheckOptions): Promise<GradCheckResult> {
  const rng = new Rng(opts.seed ?? 1);
  const g = new GraphBuilder('gradcheck');
  const y = opts.build(g);
  if (!isStatic(y.shape)) throw new Error(`gradCheck: output ${y.name} needs a static shape, got ${formatShape(y.shape)}`);
  const r = randomLike(rng, { dtype: y.dtype, dims: y.shape, data: allocArray(y.dtype, y.shape.reduce((a, b) => a * b, 1)) });
  const loss = g.op('ReduceSum', [g.op('Mul', [y, g.constant(r, 'R')])], { keepdims: 0 });
  const params = opts.params ?? g.paramNames;
  const values = new Map(params.map((p) => [p, g.initializers.get(p)!.tensor]));

  const evalG = g.clone();
  for (const p of params) evalG.initializerToInput(p);
  evalG.output(loss, 'loss');
  const trainG = evalG.clone();
  const before = trainG.nodes.length;
  const grads = buildGradient(trainG, { loss, params });
  for (const p of params) trainG.output(grads.get(p)!, `grad.${p}`);

  const trainS = await createSession(trainG);
  const evalS = await createSession(evalG);
  try {
    const base = await runSession(trainS, Object.fromEntries(values));
    const eps = opts.eps ?? (y.dtype === 'float64' ? 1e-6 : 1e-2);
    const entries: GradCheckEntry[] = [];
    for (const p of params) {
      const grad = base[`grad.${p}`]!;
      const v0 = values.get(p)!;
      if (grad.dims.join() !== v0.dims.join()) throw new Error(`gradCheck: grad.${p} has dims [${grad.dims}], param has [${v0.dims}]`);
      for (let k = 0; k < (opts.directions ?? 2); k++) {
        const dir = randomLike(rng, v0);
        const plus = perturb(v0, dir, eps);
        const minus = perturb(v0, dir, -eps);
        const lp = await lossAt(evalS, values, p, plus);
        const lm = await lossAt(evalS, values, p, minus);
        let analytic = 0;
        let scale = 0;
        for (let i = 0; i < grad.data.length; i++) {
          const dp = (plus.data[i] as number) - (minus.data[i] as number);
          analytic += (grad.data[i] as number) * dp;
          scale += Math.abs((grad.data[i] as number) * dp);
        }
        const numeric = lp - lm;
        const relErr = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3 * scale, 1e-30);
        entries.push({ param: p, analytic: analytic / (2 * eps), numeric: numeric / (2 * eps), relErr });
      }
    }
    return { entries, maxRelErr: Math.max(...entries.map((e) => e.relErr)), gradNodes: trainG.nodes.length - before };
  } finally {
    await trainS.release();
    await evalS.release();
  }
}

function perturb(t: Tensor, dir: Tensor, eps: number): Tensor {
  const data = allocArray(t.dtype, t.data.length) as Float32Array | Float64Array;
  for (let i = 0; i < data.length; i++) data[i] = (t.data[i] as number) + eps * (dir.data[i] as number);
  return { dtype: t.dtype, dims: t.dims, data };
}

async function lossAt(s: ort.InferenceSession, values: Map<string, Tensor>, name: string, t: Tensor): Promise<number> {
  const feeds = Object.fromEntries(values);
  feeds[name] = t;
  const out = await runSession(s, feeds);
  return Number(out['loss']!.data[0]);
}
