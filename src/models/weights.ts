/**
 * Where a model's parameters come from while its graph is built: a weights file (torchvision
 * state_dict names, checked name by name and shape by shape) or a seeded random initialisation
 * following torchvision's init rules per layer kind.
 */
import type { Tensor } from '../graph/values.js';
import type { HostTensor } from '../io/tensor.js';
import { Rng } from '../util/rng.js';

/** torchvision's initialisation of each layer kind (what `random` weights use). */
export type InitKind =
  /** ResNet convs: kaiming_normal_(mode='fan_out', nonlinearity='relu'). */
  | 'kaiming-normal-fan-out'
  /** FPN convs: kaiming_uniform_(a=1). */
  | 'kaiming-uniform-a1'
  /** RPN head convs: normal_(std=0.01). */
  | 'normal-0.01'
  /** nn.Linear's default: kaiming_uniform_(a=sqrt(5)), i.e. U(±1/sqrt(fan_in)). */
  | 'linear-default'
  /** nn.Linear's default bias: U(±1/sqrt(fan_in)); `fanIn` is required. */
  | 'linear-bias'
  | 'zeros'
  | 'ones';

/** One parameter request from a model builder. */
export interface ParamRequest {
  name: string;
  dims: number[];
  init: InitKind;
  /** Fan-in for 'linear-bias'. */
  fanIn?: number;
}

/** Supplies parameter tensors by name (a file, or a random initialisation). */
export interface WeightSource {
  get(req: ParamRequest): Tensor;
  /**
   * Called once the model's graphs are built (every parameter requested), before any session is
   * created: a source that checks the file as a whole (DetectorTrainer) fails here, early.
   */
  allRequested?(): void;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Weights from a loaded file (e.g. a torchvision state_dict exported by
 * scripts/export_torchvision.py). Every requested name must exist with the requested shape and
 * F32 dtype; `unused()` lists names in the file that no layer asked for (BatchNorm's
 * num_batches_tracked is ignored silently: FrozenBatchNorm has no such buffer).
 */
export class FileWeights implements WeightSource {
  private readonly used = new Set<string>();

  /** @param tensors the file's tensors; @param source file name for error messages. */
  constructor(
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    private readonly source = '<weights>',
    /** Prefix stripped from requested names, e.g. 'param/' for checkpoints. */
    private readonly prefix = '',
  ) {}

  get(req: ParamRequest): Tensor {
    const key = this.prefix + req.name;
    const t = this.tensors.get(key);
    if (!t) throw new RangeError(`${this.source}: missing parameter '${key}' (expected F32 [${req.dims}])`);
    if (t.dtype !== 'F32') throw new TypeError(`${this.source}: parameter '${key}' is ${t.dtype}, expected F32`);
    if (!sameDims(t.shape, req.dims)) {
      throw new RangeError(`${this.source}: parameter '${key}' has shape [${t.shape}], the model expects [${req.dims}] (wrong preset or numClasses?)`);
    }
    this.used.add(key);
    return { dtype: 'float32', dims: [...t.shape], data: t.data as Float32Array };
  }

  /** Names in the file that were not requested (num_batches_tracked excluded). */
  unused(): string[] {
    return [...this.tensors.keys()].filter((k) => k.startsWith(this.prefix) && !this.used.has(k) && !k.endsWith('num_batches_tracked'));
  }
}

/**
 * Seeded random weights with torchvision's per-layer initialisation (for training from scratch;
 * frozen-BN statistics start as identity: mean 0, var 1, weight 1, bias 0).
 */
export class RandomWeights implements WeightSource {
  private readonly rng: Rng;
  constructor(seed = 0) {
    this.rng = new Rng(seed);
  }

  get(req: ParamRequest): Tensor {
    const n = req.dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const receptive = req.dims.slice(2).reduce((a, b) => a * b, 1);
    const fanIn = (req.dims[1] ?? 1) * receptive;
    const fanOut = (req.dims[0] ?? 1) * receptive;
    switch (req.init) {
      case 'zeros':
        break;
      case 'ones':
        data.fill(1);
        break;
      case 'normal-0.01':
        for (let i = 0; i < n; i++) data[i] = this.rng.normal(0, 0.01);
        break;
      case 'kaiming-normal-fan-out': {
        const std = Math.sqrt(2 / fanOut);
        for (let i = 0; i < n; i++) data[i] = this.rng.normal(0, std);
        break;
      }
      case 'kaiming-uniform-a1': {
        // gain sqrt(2 / (1 + a^2)) = 1 for a = 1; bound = gain * sqrt(3 / fan_in)
        const bound = Math.sqrt(3 / fanIn);
        for (let i = 0; i < n; i++) data[i] = this.rng.uniform(-bound, bound);
        break;
      }
      case 'linear-default':
      case 'linear-bias': {
        const bound = 1 / Math.sqrt(req.init === 'linear-bias' ? (req.fanIn ?? 1) : fanIn);
        for (let i = 0; i < n; i++) data[i] = this.rng.uniform(-bound, bound);
        break;
      }
    }
    return { dtype: 'float32', dims: [...req.dims], data };
  }
}
