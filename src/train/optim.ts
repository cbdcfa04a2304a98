/**
 * Fused optimizer steps over Float32Array buffers (native, multi-threaded), with torch.optim's
 * exact semantics (torch 1.13's single-tensor implementations, float32 arithmetic in the same
 * operation order), and global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
 *
 * Every step updates `param` and the state buffers in place. One call handles one parameter
 * buffer; call it per tensor (as torch's for-loop implementation does). Results do not depend on
 * the thread count. Non-finite gradients are not checked (they propagate, as in torch), except
 * by `clipGradNorm(..., { errorIfNonfinite: true })`.
 *
 * Naming: `fooSync()` runs on the calling thread; `foo()` returns a Promise and runs off the
 * event loop. Buffers must not be touched until the Promise settles, and two steps on the same
 * state must not run concurrently.
 */
import { native } from '../native.js';

const addon = native as unknown as {
  sgdStepSync(...args: unknown[]): void;
  sgdStep(...args: unknown[]): Promise<void>;
  sgdStepManySync(...args: unknown[]): void;
  sgdStepMany(...args: unknown[]): Promise<void>;
  adamwStepSync(...args: unknown[]): void;
  adamwStep(...args: unknown[]): Promise<void>;
  clipGradNormSync(grads: readonly Float32Array[], maxNorm: number, normType: number, errorIfNonfinite: boolean, threads?: number): number;
  clipGradNorm(grads: readonly Float32Array[], maxNorm: number, normType: number, errorIfNonfinite: boolean, threads?: number): Promise<number>;
};

/** torch.optim.SGD hyper-parameters (lr is required, as in torch). */
export interface SgdOptions {
  lr: number;
  /** Momentum factor, default 0. */
  momentum?: number;
  /** Dampening of the momentum, default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0), default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, torch's SGD weight_decay), default 0. */
  weightDecay?: number;
  /** Maximise the objective instead, default false. */
  maximize?: boolean;
  /** Threads for this call (default: min(cores, 8) or env HPA_NUM_THREADS). */
  threads?: number;
}

/** Per-parameter SGD state: the momentum buffer, created on the first momentum step as a copy of the (decayed) gradient, as torch does. */
export interface SgdState {
  momentumBuffer: Float32Array | null;
}

export function createSgdState(): SgdState {
  return { momentumBuffer: null };
}

function sgdArgs(param: Float32Array, grad: Float32Array, state: SgdState, o: SgdOptions): { args: unknown[]; newBuffer: Float32Array | null } {
  if (typeof state !== 'object' || state === null) throw new TypeError('state must be an SgdState object');
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object with lr');
  const momentum = o.momentum ?? 0;
  let buf = state.momentumBuffer;
  let newBuffer: Float32Array | null = null;
  const init = momentum !== 0 && buf === null;
  if (init) {
    if (!(param instanceof Float32Array)) throw new TypeError('param must be a Float32Array');
    buf = newBuffer = new Float32Array(param.length);
  }
  return {
    args: [param, grad, momentum !== 0 ? buf : null, o.lr, momentum, o.dampening ?? 0, o.nesterov ?? false,
      o.weightDecay ?? 0, o.maximize ?? false, init, o.threads],
    newBuffer,
  };
}

/**
 * One torch.optim.SGD step on one parameter buffer:
 * d = g (+ weightDecay·p); with momentum, buf = d on the first step, else buf·momentum +
 * (1 − dampening)·d, and d = nesterov ? d + momentum·buf : buf; then p −= lr·d.
 */
export function sgdStepSync(param: Float32Array, grad: Float32Array, state: SgdState, options: SgdOptions): void {
  const { args, newBuffer } = sgdArgs(param, grad, state, options);
  addon.sgdStepSync(...args);
  if (newBuffer) state.momentumBuffer = newBuffer;
}

/** {@link sgdStepSync} off the event loop. */
export async function sgdStep(param: Float32Array, grad: Float32Array, state: SgdState, options: SgdOptions): Promise<void> {
  const { args, newBuffer } = sgdArgs(param, grad, state, options);
  const done = addon.sgdStep(...args);
  if (newBuffer) state.momentumBuffer = newBuffer;
  await done;
}

/** One parameter of {@link sgdStepMany}: its buffer, gradient and state. */
export interface SgdManyEntry {
  param: Float32Array;
  grad: Float32Array;
  state: SgdState;
}

function sgdManyArgs(entries: readonly SgdManyEntry[], o: SgdOptions): { args: unknown[]; commit: () => void } {
  if (!Array.isArray(entries)) throw new TypeError('entries must be an array of { param, grad, state }');
  const parts = entries.map((e, i) => {
    if (typeof e !== 'object' || e === null) throw new TypeError(`entries[${i}] must be an object { param, grad, state }`);
    return sgdArgs(e.param, e.grad, e.state, o);
  });
  const col = (k: number): unknown[] => parts.map((p) => p.args[k]);
  const first = parts[0]?.args ?? [null, null, null, o.lr, o.momentum ?? 0, o.dampening ?? 0, o.nesterov ?? false, o.weightDecay ?? 0, o.maximize ?? false, false, o.threads];
  return {
    args: [col(0), col(1), col(2), col(9), ...first.slice(3, 9), o.threads],
    commit: () => parts.forEach((p, i) => { if (p.newBuffer) entries[i]!.state.momentumBuffer = p.newBuffer; }),
  };
}

/**
 * {@link sgdStepSync} on many parameters in one native call (the work is split over the threads
 * in fixed blocks across all buffers), instead of one call per parameter: the same results,
 * without a call (and, for the async form, a thread-pool round trip) per tensor.
 */
export function sgdStepManySync(entries: readonly SgdManyEntry[], options: SgdOptions): void {
  const { args, commit } = sgdManyArgs(entries, options);
  addon.sgdStepManySync(...args);
  commit();
}

/** {@link sgdStepManySync} off the event loop. */
export async function sgdStepMany(entries: readonly SgdManyEntry[], options: SgdOptions): Promise<void> {
  const { args, commit } = sgdManyArgs(entries, options);
  const done = addon.sgdStepMany(...args);
  commit();
  await done;
}

/** torch.optim.AdamW hyper-parameters (torch's defaults). */
export interface AdamWOptions {
  /** Learning rate, default 1e-3. */
  lr?: number;
  /** [beta1, beta2], default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the bias-corrected sqrt(v) (outside the square root), default 1e-8. */
  eps?: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before the Adam update; default 1e-2. */
  weightDecay?: number;
  /** AMSGrad (keeps the running maximum of v; the state needs maxExpAvgSq), default false. */
  amsgrad?: boolean;
  /** Maximise the objective instead, default false. */
  maximize?: boolean;
  /** Threads for this call (default: min(cores, 8) or env HPA_NUM_THREADS). */
  threads?: number;
}

/** Per-parameter AdamW state, as torch keeps it (`step` counts completed steps). */
export interface AdamWState {
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Only with amsgrad. */
  maxExpAvgSq: Float32Array | null;
}

export function createAdamWState(size: number, options: { amsgrad?: boolean } = {}): AdamWState {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
  return {
    step: 0,
    expAvg: new Float32Array(size),
    expAvgSq: new Float32Array(size),
    maxExpAvgSq: options.amsgrad ? new Float32Array(size) : null,
  };
}

function adamwArgs(param: Float32Array, grad: Float32Array, state: AdamWState, o: AdamWOptions): unknown[] {
  if (typeof state !== 'object' || state === null) throw new TypeError('state must be an AdamWState object');
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError('betas must be [beta1, beta2]');
  if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`state.step must be a non-negative integer, got ${state.step}`);
  return [param, grad, state.expAvg, state.expAvgSq, state.maxExpAvgSq, state.step + 1, o.lr ?? 1e-3, betas[0], betas[1],
    o.eps ?? 1e-8, o.weightDecay ?? 1e-2, o.amsgrad ?? false, o.maximize ?? false, o.threads];
}

/**
 * One torch.optim.AdamW step on one parameter buffer (increments state.step first, as torch):
 * p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; (amsgrad: v̂max ← max(v̂max, v));
 * p ← p − lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps).
 */
export function adamwStepSync(param: Float32Array, grad: Float32Array, state: AdamWState, options: AdamWOptions = {}): void {
  addon.adamwStepSync(...adamwArgs(param, grad, state, options));
  state.step += 1;
}

/** {@link adamwStepSync} off the event loop. */
export async function adamwStep(param: Float32Array, grad: Float32Array, state: AdamWState, options: AdamWOptions = {}): Promise<void> {
  const done = addon.adamwStep(...adamwArgs(param, grad, state, options));
  state.step += 1;
  await done;
}

export interface ClipGradNormOptions {
  /** 2 (default) or Infinity. */
  normType?: number;
  /** Throw a RangeError (and leave the gradients unchanged) when the total norm is NaN/Inf; default false, as torch 1.13. */
  errorIfNonfinite?: boolean;
  threads?: number;
}

/**
 * torch.nn.utils.clip_grad_norm_: the total norm over all `grads` (the 2-norm of the per-buffer
 * 2-norms, or the largest |g| for Infinity) and, with coef = maxNorm / (total + 1e-6) clamped to
 * 1, every gradient multiplied by coef in place. Returns the total norm (before clipping).
 * The reduction runs over fixed blocks in double, so the result does not depend on the threads.
 */
export function clipGradNormSync(grads: readonly Float32Array[], maxNorm: number, options: ClipGradNormOptions = {}): number {
  return addon.clipGradNormSync(grads, maxNorm, options.normType ?? 2, options.errorIfNonfinite ?? false, options.threads);
}

/** {@link clipGradNormSync} off the event loop. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number, options: ClipGradNormOptions = {}): Promise<number> {
  try {
    return addon.clipGradNorm(grads, maxNorm, options.normType ?? 2, options.errorIfNonfinite ?? false, options.threads);
  } catch (e) {
    return Promise.reject(e);
  }
}
