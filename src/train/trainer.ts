/**
 * The Trainer core: runs a training model (`training_model.onnx` from src/graph/artifacts.ts: data
 * inputs and parameters in; `loss` and `grad.<param>` out) in onnxruntime-node, and after each run
 * clips the gradients, takes the scheduled learning rate and the native fused optimizer step, logs
 * the loss, and saves/loads checkpoints (src/train/checkpoint.ts) with the RNG streams and the data
 * position, so that a resumed run continues bit for bit (docs/training.md).
 *
 * Determinism: onnxruntime runs with fixed intra/inter-op thread counts (default 1 and 1; the
 * same counts must be used when resuming), the optimizer and clipping results do not depend on
 * their thread count, and all randomness comes from the three saved streams.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ARTIFACT_FILES, buildTrainingArtifacts, type TrainingSegment } from '../graph/artifacts.js';
import type { GraphBuilder } from '../graph/builder.js';
import { fromHostTensor, fromHostTensors, toHostTensor } from '../graph/host-tensor.js';
import { serializeModel } from '../graph/serialize.js';
import { toOrtTensor } from '../graph/ort.js';
import type { Tensor } from '../graph/values.js';
import { Rng } from '../util/rng.js';
import { CHECKPOINT_FILE, loadCheckpoint, rngStates, saveCheckpoint, type JsonValue, type OptimizerConfig } from './checkpoint.js';
import { LossLog } from './loss-log.js';
import { EpochOrder, type TrainerDataset, type TrainerRngs } from './trainer-data.js';
import { TrainerOptimizer, type ParamBuffer } from './trainer-optimizer.js';

/** onnxruntime and optimizer thread counts (fixed, for reproducible reductions). */
export interface TrainerThreads {
  /** onnxruntime intra-op threads, default 1. */
  intraOp?: number;
  /** onnxruntime inter-op threads, default 1. */
  interOp?: number;
  /** Threads of the native optimizer calls (results do not depend on it). */
  optimizer?: number;
}

/** Everything except the model: data, optimizer, logging, seeds. */
export interface TrainerConfig {
  data: TrainerDataset;
  batchSize: number;
  /** Shuffle the examples every epoch (from the `shuffle` stream), default true. */
  shuffle?: boolean;
  /** Optimizer, LR schedule and gradient clipping (stored in checkpoints). */
  optimizer: OptimizerConfig;
  /** Parameters fed to the model but never updated (frozen layers); their gradients are ignored. */
  frozen?: readonly string[];
  /** Seeds of the shuffle, augment and sample streams (default 1, 2, 3). */
  seeds?: Partial<Record<keyof TrainerRngs, number>>;
  /** Model config stored verbatim in checkpoints (what rebuilds the same graph). */
  model?: JsonValue;
  /** Loss log file (.csv or .jsonl); one line per step. */
  lossLog?: string;
  /** Scalar outputs of the training model logged beside `loss` (e.g. loss components). */
  logOutputs?: readonly string[];
  threads?: TrainerThreads;
  /** onnxruntime execution providers, default ['cpu']. */
  executionProviders?: ort.InferenceSession.SessionOptions['executionProviders'];
}

/** A training model and the initial values of the parameters it takes as inputs. */
export interface TrainerOptions extends TrainerConfig {
  /** training_model.onnx bytes, or the training graph of buildTrainingArtifacts. */
  trainingModel: Uint8Array | GraphBuilder;
  /** Initial value of every parameter input of the model (float32); trainable unless listed in `frozen`. */
  params: ReadonlyMap<string, Tensor>;
}

/** What one step did. */
export interface StepResult {
  /** Steps completed, this one included. */
  step: number;
  /** Epoch of this step (0-based). */
  epoch: number;
  lr: number;
  loss: number;
  /** Gradient norm before clipping (NaN without clipping). */
  gradNorm: number;
  /** The logged scalar outputs (loss and logOutputs). */
  losses: Record<string, number>;
}

/** Data layout recorded in checkpoints: resuming with a different one cannot continue bit for bit. */
interface DataLayout {
  size: number;
  batchSize: number;
  shuffle: boolean;
  intraOpThreads: number;
}

/** Trains one training model; see the module comment. Create with Trainer.create or Trainer.fromSegment. */
export class Trainer {
  private completed = 0;
  private rngs: TrainerRngs;
  private log: LossLog | undefined;
  private resumedAt: number | undefined;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly config: TrainerConfig,
    /** Every parameter input in feed order (trainable and frozen). */
    private readonly buffers: ReadonlyMap<string, ParamBuffer>,
    private readonly optimizer: TrainerOptimizer,
    private readonly order: EpochOrder,
  ) {
    const seeds = config.seeds ?? {};
    this.rngs = { shuffle: new Rng(seeds.shuffle ?? 1), augment: new Rng(seeds.augment ?? 2), sample: new Rng(seeds.sample ?? 3) };
  }

  /** A trainer for a training model; checks that every parameter is an input with a `grad.` output. */
  static async create(o: TrainerOptions): Promise<Trainer> {
    const frozen = new Set(o.frozen ?? []);
    for (const f of frozen) if (!o.params.has(f)) throw new Error(`trainer: frozen parameter "${f}" is not in params`);
    const bytes = o.trainingModel instanceof Uint8Array ? o.trainingModel : serializeModel(o.trainingModel);
    const threads = o.threads ?? {};
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads.intraOp ?? 1,
      interOpNumThreads: threads.interOp ?? 1,
      executionMode: 'sequential',
      executionProviders: o.executionProviders ?? ['cpu'],
    });
    try {
      if (!session.outputNames.includes('loss')) throw new Error('trainer: the training model has no "loss" output');
      const buffers = new Map<string, ParamBuffer>();
      const trainable = new Map<string, ParamBuffer>();
      for (const [name, t] of o.params) {
        if (t.dtype !== 'float32') throw new TypeError(`trainer: parameter "${name}" is ${t.dtype}, float32 expected`);
        if (!session.inputNames.includes(name)) throw new Error(`trainer: parameter "${name}" is not an input of the training model`);
        // Own copies: the optimizer updates them in place, the caller's tensors stay as given.
        const buf = { data: Float32Array.from(t.data as Float32Array), shape: [...t.dims] };
        buffers.set(name, buf);
        if (frozen.has(name)) continue;
        if (!session.outputNames.includes(`grad.${name}`)) throw new Error(`trainer: the training model has no output grad.${name} for trainable parameter "${name}"`);
        trainable.set(name, buf);
      }
      for (const name of o.logOutputs ?? []) if (!session.outputNames.includes(name)) throw new Error(`trainer: logOutputs "${name}" is not an output of the training model`);
      const order = new EpochOrder(o.data.size, o.batchSize, o.shuffle ?? true);
      return new Trainer(session, o, buffers, new TrainerOptimizer(o.optimizer, trainable, threads.optimizer), order);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * Build the training model of a segment (src/graph/artifacts.ts) and a trainer for it; the
   * trainable parameters start from the graph's initializers, the other initializers stay frozen
   * constants inside the model.
   */
  static async fromSegment(segment: TrainingSegment, config: TrainerConfig): Promise<Trainer> {
    const { training } = buildTrainingArtifacts(segment);
    const params = new Map(segment.trainable.map((p) => [p, segment.graph.initializers.get(p)!.tensor]));
    return Trainer.create({ ...config, trainingModel: training, params });
  }

  /**
   * A trainer for an artifacts folder (writeTrainingArtifacts with a checkpoint): the model from
   * training_model.onnx, the parameters from checkpoint.safetensors (or `checkpoint`), and, when
   * that checkpoint is past step 0 (saved by a Trainer), its whole state: the run resumes.
   */
  static async fromArtifacts(dir: string, config: TrainerConfig, checkpoint = path.join(dir, CHECKPOINT_FILE)): Promise<Trainer> {
    const c = await loadCheckpoint(checkpoint);
    const trainingModel = new Uint8Array(await readFile(path.join(dir, ARTIFACT_FILES.training)));
    const trainer = await Trainer.create({ ...config, trainingModel, params: fromHostTensors(c.params) });
    try {
      if (c.step > 0) await trainer.load(checkpoint);
    } catch (err) {
      await trainer.release();
      throw err;
    }
    return trainer;
  }

  /** Steps completed. */
  get step(): number {
    return this.completed;
  }

  /** Epoch of the next step (0-based). */
  get epoch(): number {
    return Math.floor(this.completed / this.order.stepsPerEpoch);
  }

  /** Full batches per epoch. */
  get stepsPerEpoch(): number {
    return this.order.stepsPerEpoch;
  }

  /** Current parameter values by name (views of the live buffers: copy them to keep a snapshot). */
  parameters(): Map<string, Tensor> {
    return new Map([...this.buffers].map(([name, b]) => [name, { dtype: 'float32', dims: [...b.shape], data: b.data }]));
  }

  /** One training step: batch, forward + backward in onnxruntime, clipping, optimizer step, log line. */
  async trainStep(): Promise<StepResult> {
    const epoch = this.epoch;
    const indices = this.order.indices(this.completed, this.rngs.shuffle);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(await this.config.data.batch(indices, this.rngs))) feeds[k] = toOrtTensor(v);
    for (const [name, b] of this.buffers) feeds[name] = new ort.Tensor('float32', b.data, b.shape);
    const out = await this.session.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const name of this.optimizer.params.keys()) grads.set(name, out[`grad.${name}`]!.data as Float32Array);
    const { lr, gradNorm } = await this.optimizer.step(grads, this.completed);
    this.completed += 1;
    const losses: Record<string, number> = {};
    for (const name of ['loss', ...(this.config.logOutputs ?? [])]) losses[name] = Number(out[name]!.data[0]);
    if (this.config.lossLog !== undefined) await (await this.lossLog()).append({ step: this.completed, epoch, lr, losses });
    return { step: this.completed, epoch, lr, loss: losses['loss']!, gradNorm, losses };
  }

  /** Run `steps` training steps; `onStep` sees each result (e.g. to save a checkpoint every N steps). */
  async train(steps: number, onStep?: (r: StepResult) => void | Promise<void>): Promise<StepResult | undefined> {
    if (!Number.isSafeInteger(steps) || steps < 0) throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
    let last: StepResult | undefined;
    for (let i = 0; i < steps; i++) {
      last = await this.trainStep();
      await onStep?.(last);
    }
    return last;
  }

  private layout(): DataLayout {
    return { size: this.order.size, batchSize: this.order.batchSize, shuffle: this.config.shuffle ?? true, intraOpThreads: this.config.threads?.intraOp ?? 1 };
  }

  /** Save a checkpoint (atomically): parameters, optimizer state, step, epoch, RNG streams, configs. */
  async save(file: string): Promise<void> {
    const rng = { ...rngStates({ ...this.rngs }), shuffle: this.order.checkpointState(this.completed, this.rngs.shuffle) };
    await saveCheckpoint(file, {
      step: this.completed,
      epoch: this.epoch,
      rng,
      model: this.config.model ?? null,
      optimizer: this.config.optimizer,
      params: new Map([...this.parameters()].map(([n, t]) => [n, toHostTensor(t)])),
      optimState: this.optimizer.slots(),
      extra: { data: { ...this.layout() } },
    });
  }

  /**
   * Continue from a checkpoint saved by a trainer with the same model, data and thread counts:
   * parameters and optimizer state are copied in, the streams and the data position restored, and
   * the loss log (if any) is cut back to the checkpoint's step. Throws naming what does not match.
   */
  async load(file: string): Promise<void> {
    const shapes = new Map([...this.buffers].map(([n, b]) => [n, b.shape]));
    const c = await loadCheckpoint(file, { params: shapes });
    if (c.optimizer.kind !== this.config.optimizer.kind) throw new Error(`${file}: optimizer.kind is ${c.optimizer.kind}, this trainer uses ${this.config.optimizer.kind}`);
    const saved = (c.extra?.['data'] ?? {}) as Partial<DataLayout>;
    const mine = this.layout();
    for (const key of Object.keys(mine) as (keyof DataLayout)[]) {
      if (saved[key] !== mine[key]) throw new Error(`${file}: data.${key} is ${JSON.stringify(saved[key])} in the checkpoint, ${JSON.stringify(mine[key])} in this trainer (resume would not be bit for bit)`);
    }
    for (const [name, b] of this.buffers) b.data.set(fromHostTensor(c.params.get(name)!, name).data as Float32Array);
    this.optimizer.restore(c.optimState);
    this.completed = c.step;
    this.rngs = { shuffle: new Rng(c.rng.shuffle), augment: new Rng(c.rng.augment), sample: new Rng(c.rng.sample) };
    this.order.reset();
    if (this.log) {
      await this.log.close();
      this.log = undefined;
    }
    this.resumedAt = c.step;
  }

  private async lossLog(): Promise<LossLog> {
    if (!this.log) {
      const components = ['loss', ...(this.config.logOutputs ?? [])];
      this.log = await LossLog.open(this.config.lossLog!, { components, ...(this.resumedAt === undefined ? {} : { resumeFromStep: this.resumedAt }) });
    }
    return this.log;
  }

  /** Close the loss log and release the onnxruntime session. */
  async release(): Promise<void> {
    await this.log?.close();
    this.log = undefined;
    await this.session.release();
  }
}
