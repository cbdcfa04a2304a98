/**
 * The optimizer side of a trainer, apart from any graph: parameter buffers, their torch.optim state,
 * one step = global-norm clipping (torch.nn.utils.clip_grad_norm_) + the scheduled learning rate
 * + the native fused SGD/AdamW step per parameter (src/train/optim.ts), and conversion of the state
 * to and from checkpoint slots. A segmented trainer (several graphs feeding one optimizer) reuses it.
 */
import { adamwStep, clipGradNorm, createAdamWState, createSgdState, sgdStepMany, type AdamWState, type SgdState } from './optim.js';
import { adamwSlots, adamwStateFromSlots, sgdSlots, sgdStateFromSlots, type OptimizerConfig } from './checkpoint.js';
import { learningRate, validateSchedule, type ScheduleConfig } from './schedule.js';
import type { HostTensor } from '../io/tensor.js';

/** One trainable parameter: its values (updated in place) and shape. */
export interface ParamBuffer {
  data: Float32Array;
  shape: number[];
}

/** What one optimizer step did. */
export interface StepReport {
  /** Learning rate used. */
  lr: number;
  /** Total gradient norm before clipping (NaN when clipping is off). */
  gradNorm: number;
}

function baseLr(config: OptimizerConfig): number {
  return config.lr ?? 1e-3; // AdamW's torch default; SGD requires lr (checked in the constructor)
}

/** Parameters + optimizer state + the step rule of an OptimizerConfig. */
export class TrainerOptimizer {
  private readonly sgd = new Map<string, SgdState>();
  private readonly adamw = new Map<string, AdamWState>();

  /**
   * @param settings optimizer kind and hyper-parameters, optional schedule and clipping (stored in checkpoints)
   * @param params the trainable parameters by name; their arrays are updated in place
   * @param threads threads of each native call (results do not depend on it)
   */
  constructor(
    private settings: OptimizerConfig,
    readonly params: ReadonlyMap<string, ParamBuffer>,
    private readonly threads?: number,
  ) {
    if (settings.kind !== 'sgd' && settings.kind !== 'adamw') throw new TypeError(`optimizer.kind must be "sgd" or "adamw", got ${JSON.stringify((settings as { kind: unknown }).kind)}`);
    if (settings.kind === 'sgd' && !(typeof settings.lr === 'number' && settings.lr >= 0)) throw new RangeError(`optimizer.lr must be a non-negative number for sgd, got ${settings.lr}`);
    if (settings.schedule) validateSchedule(settings.schedule, 'optimizer.schedule');
    const clip = settings.clipGradNorm;
    if (clip && !(clip.maxNorm > 0)) throw new RangeError(`optimizer.clipGradNorm.maxNorm must be > 0, got ${clip.maxNorm}`);
    for (const [name, p] of params) {
      if (!(p.data instanceof Float32Array)) throw new TypeError(`parameter "${name}" must be float32`);
      if (settings.kind === 'sgd') this.sgd.set(name, createSgdState());
      else this.adamw.set(name, createAdamWState(p.data.length, { amsgrad: settings.amsgrad ?? false }));
    }
  }

  /** Optimizer kind, hyper-parameters, schedule and clipping (what checkpoints store). */
  get config(): OptimizerConfig {
    return this.settings;
  }

  /** Replace the LR schedule from the next step on (a time budget moving the drops). */
  setSchedule(schedule: ScheduleConfig): void {
    validateSchedule(schedule, 'optimizer.schedule');
    this.settings = { ...this.settings, schedule };
  }

  /** Learning rate of the step that follows `completedSteps` steps. */
  learningRate(completedSteps: number): number {
    return this.config.schedule ? learningRate(this.config.schedule, baseLr(this.config), completedSteps) : baseLr(this.config);
  }

  /**
   * One step with `grads` (one per parameter, same length; clipped in place). `completedSteps`
   * picks the scheduled learning rate. Parameters update in a fixed (insertion) order.
   */
  async step(grads: ReadonlyMap<string, Float32Array>, completedSteps: number): Promise<StepReport> {
    const ordered = [...this.params].map(([name, p]) => {
      const g = grads.get(name);
      if (!g) throw new Error(`optimizer step: no gradient for parameter "${name}"`);
      if (g.length !== p.data.length) throw new RangeError(`optimizer step: gradient of "${name}" has ${g.length} elements, the parameter ${p.data.length}`);
      return [name, p.data, g] as const;
    });
    const clip = this.config.clipGradNorm;
    const gradNorm = clip
      ? await clipGradNorm(ordered.map(([, , g]) => g), clip.maxNorm, { normType: clip.normType ?? 2, threads: this.threads })
      : NaN;
    const lr = this.learningRate(completedSteps);
    const c = this.config;
    if (c.kind === 'sgd') {
      // One native call for all parameters (a call per tensor cost ~0.3 ms each, 62 of them for a ResNet-18).
      await sgdStepMany(ordered.map(([name, param, grad]) => ({ param, grad, state: this.sgd.get(name)! })), { lr, momentum: c.momentum, dampening: c.dampening, nesterov: c.nesterov, weightDecay: c.weightDecay, maximize: c.maximize, threads: this.threads });
    } else {
      for (const [name, p, g] of ordered) {
        await adamwStep(p, g, this.adamw.get(name)!, { lr, betas: c.betas, eps: c.eps, weightDecay: c.weightDecay, amsgrad: c.amsgrad, maximize: c.maximize, threads: this.threads });
      }
    }
    return { lr, gradNorm };
  }

  /** The optimizer state as checkpoint slots (views of the live buffers, torch.optim's names). */
  slots(): Map<string, Record<string, HostTensor>> {
    const out = new Map<string, Record<string, HostTensor>>();
    for (const [name, p] of this.params) {
      out.set(name, this.config.kind === 'sgd' ? sgdSlots(this.sgd.get(name)!, p.shape) : adamwSlots(this.adamw.get(name)!, p.shape));
    }
    return out;
  }

  /** Restore the state from checkpoint slots (copied); throws naming the parameter and slot. */
  restore(optimState: ReadonlyMap<string, Readonly<Record<string, HostTensor>>>): void {
    for (const [name, p] of this.params) {
      const slots = optimState.get(name) ?? {};
      const n = p.data.length;
      if (this.config.kind === 'sgd') {
        const s = sgdStateFromSlots(name, slots, n);
        this.sgd.set(name, { momentumBuffer: s.momentumBuffer && Float32Array.from(s.momentumBuffer) });
      } else {
        const s = adamwStateFromSlots(name, slots, n);
        this.adamw.set(name, {
          step: s.step,
          expAvg: Float32Array.from(s.expAvg),
          expAvgSq: Float32Array.from(s.expAvgSq),
          maxExpAvgSq: s.maxExpAvgSq && Float32Array.from(s.maxExpAvgSq),
        });
      }
    }
  }
}
