/**
 * Learning-rate schedules with torch.optim.lr_scheduler's semantics, as pure functions of the step.
 *
 * A schedule is plain JSON data (so it can live in a checkpoint's optimizer config) and
 * `learningRate(schedule, baseLr, step)` is the learning rate after `step` calls of torch's
 * `scheduler.step()`, i.e. the rate the optimizer uses for step number `step` (0-based). Resuming
 * from a checkpoint saved after `step` optimizer steps therefore continues with
 * `learningRate(schedule, baseLr, step)`. torch updates most schedulers recursively; the closed
 * forms used here agree with it to rounding (checked against torch 1.13 in test/schedule.test.ts).
 */

/** A learning-rate schedule (see each member for the torch class it mirrors). */
export type ScheduleConfig =
  | ConstantSchedule
  | LinearSchedule
  | StepSchedule
  | MultiStepSchedule
  | CosineSchedule
  | ChainSchedule
  | SequentialSchedule
  | PerEpochSchedule;

/** The base learning rate throughout. */
export interface ConstantSchedule {
  kind: 'constant';
}

/**
 * torch LinearLR: factor goes linearly from `startFactor` to `endFactor` (default 1) over
 * `totalIters` steps, then stays. With startFactor = 1/1000 this is torchvision's detection warm-up.
 */
export interface LinearSchedule {
  kind: 'linear';
  startFactor: number;
  endFactor?: number;
  totalIters: number;
}

/** torch StepLR: multiply by `gamma` every `stepSize` steps. */
export interface StepSchedule {
  kind: 'step';
  stepSize: number;
  gamma: number;
}

/** torch MultiStepLR: multiply by `gamma` at each milestone (a repeated milestone counts twice). */
export interface MultiStepSchedule {
  kind: 'multistep';
  milestones: number[];
  gamma: number;
}

/**
 * torch CosineAnnealingLR: eta_min + (base − eta_min)(1 + cos(π t / tMax)) / 2. `etaMin` is an
 * absolute learning rate (default 0). Past tMax the cosine continues (rises again), as in torch.
 */
export interface CosineSchedule {
  kind: 'cosine';
  tMax: number;
  etaMin?: number;
}

/**
 * torch ChainedScheduler (and torchvision's detection recipe: warm-up LinearLR on top of MultiStepLR):
 * all schedules step together and their factors multiply. Exact for multiplicative schedules; a
 * cosine with etaMin ≠ 0 inside a chain differs from torch's recursive update.
 */
export interface ChainSchedule {
  kind: 'chain';
  schedules: ScheduleConfig[];
}

/**
 * torch SequentialLR: schedule i runs from milestone i−1 (its own step counter restarting at 0)
 * until milestone i; milestones are increasing, one fewer than schedules.
 */
export interface SequentialSchedule {
  kind: 'sequential';
  schedules: ScheduleConfig[];
  milestones: number[];
}

/**
 * Evaluate `schedule` at the epoch of the step, floor(step / itersPerEpoch): for schedules stepped
 * once per epoch (torchvision's MultiStepLR over epochs) inside a per-iteration chain.
 */
export interface PerEpochSchedule {
  kind: 'per-epoch';
  itersPerEpoch: number;
  schedule: ScheduleConfig;
}

function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Throws a RangeError/TypeError naming the field (`where` is its path, e.g. "schedule.schedules[1]"). */
export function validateSchedule(s: ScheduleConfig, where = 'schedule'): void {
  const num = (v: unknown, field: string, ok: (x: number) => boolean, what: string): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${where}.${field} must be ${what}, got ${JSON.stringify(v)}`);
  };
  const int = (x: number) => Number.isInteger(x);
  if (typeof s !== 'object' || s === null) throw new TypeError(`${where} must be an object with a kind`);
  switch (s.kind) {
    case 'constant':
      return;
    case 'linear':
      num(s.startFactor, 'startFactor', (x) => x > 0 && x <= 1, 'in (0, 1]');
      if (s.endFactor !== undefined) num(s.endFactor, 'endFactor', (x) => x >= 0 && x <= 1, 'in [0, 1]');
      num(s.totalIters, 'totalIters', (x) => int(x) && x >= 1, 'a positive integer');
      return;
    case 'step':
      num(s.stepSize, 'stepSize', (x) => int(x) && x >= 1, 'a positive integer');
      num(s.gamma, 'gamma', (x) => x > 0, 'positive');
      return;
    case 'multistep':
      if (!Array.isArray(s.milestones)) throw new TypeError(`${where}.milestones must be an array`);
      s.milestones.forEach((m, i) => num(m, `milestones[${i}]`, (x) => int(x) && x >= 0 && (i === 0 || x >= s.milestones[i - 1]!), 'a non-decreasing non-negative integer'));
      num(s.gamma, 'gamma', (x) => x > 0, 'positive');
      return;
    case 'cosine':
      num(s.tMax, 'tMax', (x) => int(x) && x >= 1, 'a positive integer');
      if (s.etaMin !== undefined) num(s.etaMin, 'etaMin', (x) => x >= 0, 'non-negative');
      return;
    case 'chain':
      if (!Array.isArray(s.schedules) || s.schedules.length === 0) throw new TypeError(`${where}.schedules must be a non-empty array`);
      s.schedules.forEach((c, i) => validateSchedule(c, `${where}.schedules[${i}]`));
      return;
    case 'sequential':
      if (!Array.isArray(s.schedules) || s.schedules.length === 0) throw new TypeError(`${where}.schedules must be a non-empty array`);
      if (!Array.isArray(s.milestones) || s.milestones.length !== s.schedules.length - 1) {
        throw new RangeError(`${where}.milestones must have ${s.schedules.length - 1} entries (one fewer than schedules)`);
      }
      s.milestones.forEach((m, i) => num(m, `milestones[${i}]`, (x) => int(x) && x >= 1 && (i === 0 || x > s.milestones[i - 1]!), 'an increasing positive integer'));
      s.schedules.forEach((c, i) => validateSchedule(c, `${where}.schedules[${i}]`));
      return;
    case 'per-epoch':
      num(s.itersPerEpoch, 'itersPerEpoch', (x) => int(x) && x >= 1, 'a positive integer');
      validateSchedule(s.schedule, `${where}.schedule`);
      return;
    default:
      throw new TypeError(`${where}.kind must be one of constant, linear, step, multistep, cosine, chain, sequential, per-epoch; got ${JSON.stringify((s as { kind: unknown }).kind)}`);
  }
}

/**
 * Learning rate at `step` (number of scheduler steps taken so far, ≥ 0) for `baseLr`.
 * Does not validate `schedule` (call validateSchedule once up front).
 */
export function learningRate(schedule: ScheduleConfig, baseLr: number, step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'linear': {
      const end = schedule.endFactor ?? 1;
      const t = Math.min(step, schedule.totalIters);
      return baseLr * (schedule.startFactor + ((end - schedule.startFactor) * t) / schedule.totalIters);
    }
    case 'step':
      return baseLr * schedule.gamma ** Math.floor(step / schedule.stepSize);
    case 'multistep':
      return baseLr * schedule.gamma ** bisectRight(schedule.milestones, step);
    case 'cosine': {
      const etaMin = schedule.etaMin ?? 0;
      return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * step) / schedule.tMax))) / 2;
    }
    case 'chain': {
      if (baseLr === 0) return 0;
      let lr = baseLr;
      for (const s of schedule.schedules) lr *= learningRate(s, baseLr, step) / baseLr;
      return lr;
    }
    case 'sequential': {
      const i = bisectRight(schedule.milestones, step);
      const start = i === 0 ? 0 : schedule.milestones[i - 1]!;
      return learningRate(schedule.schedules[i]!, baseLr, step - start);
    }
    case 'per-epoch':
      return learningRate(schedule.schedule, baseLr, Math.floor(step / schedule.itersPerEpoch));
  }
}

/** The learning rates for steps 0 … count−1 (for plots and logs). */
export function learningRates(schedule: ScheduleConfig, baseLr: number, count: number): number[] {
  validateSchedule(schedule);
  return Array.from({ length: count }, (_, step) => learningRate(schedule, baseLr, step));
}

/**
 * torchvision's detection recipe (references/detection): linear warm-up over the first
 * min(1000, itersPerEpoch − 1) iterations from factor 1/1000, times MultiStepLR over epochs
 * (milestones `lrSteps` in epochs, `gamma` default 0.1). Steps are iterations.
 */
export function torchvisionDetectionSchedule(o: { itersPerEpoch: number; lrSteps: number[]; gamma?: number; warmupIters?: number; warmupFactor?: number }): ScheduleConfig {
  const main: ScheduleConfig = { kind: 'per-epoch', itersPerEpoch: o.itersPerEpoch, schedule: { kind: 'multistep', milestones: o.lrSteps, gamma: o.gamma ?? 0.1 } };
  return withWarmup(main, o.warmupIters ?? Math.min(1000, o.itersPerEpoch - 1), o.warmupFactor);
}

/**
 * The same recipe with the milestones in steps (`milestoneSteps`), for drops that need not fall
 * on an epoch boundary (a time budget's, src/train/budget-lr-steps.ts). With milestones at
 * lrSteps × itersPerEpoch it gives torchvisionDetectionSchedule's rates exactly.
 */
export function detectionScheduleInSteps(o: { milestoneSteps: number[]; warmupIters: number; gamma?: number; warmupFactor?: number }): ScheduleConfig {
  return withWarmup({ kind: 'multistep', milestones: o.milestoneSteps, gamma: o.gamma ?? 0.1 }, o.warmupIters, o.warmupFactor);
}

function withWarmup(main: ScheduleConfig, warmupIters: number, warmupFactor = 1 / 1000): ScheduleConfig {
  if (warmupIters < 1) return main;
  return { kind: 'chain', schedules: [{ kind: 'linear', startFactor: warmupFactor, totalIters: warmupIters }, main] };
}
