/**
 * DetectorTrainer: trains a Faster R-CNN preset through its two graph segments
 * (src/train/detector-step.ts) with the native optimizer (TrainerOptimizer), the detection data
 * pipeline (DetectionLoader, toModelInput) and the one checkpoint format: parameters (all of
 * them, frozen included, under `param/`, so `Detector.load` takes the file), optimizer state,
 * step/epoch, the shuffle/augment/sample streams, the data position and the model config. A run
 * resumed from a checkpoint continues bit for bit (fixed onnxruntime thread counts, as the
 * Trainer: docs/training.md).
 *
 * ```ts
 * const trainer = await DetectorTrainer.create({ config, weights: new models.RandomWeights(0), optimizer, loader });
 * for (let i = 0; i < 100; i++) console.log((await trainer.trainStep()).losses);
 * await trainer.save('run/checkpoint-last.safetensors');
 * ```
 */
import * as ort from 'onnxruntime-node';
import { buildTrainingArtifacts, type TrainingSegment } from '../graph/artifacts.js';
import { buildSplitTrainingGraphs, type SplitTrainingGraphs } from '../graph/split-training.js';
import { GraphBuilder } from '../graph/builder.js';
import { fromHostTensor, toHostTensor } from '../graph/host-tensor.js';
import { serializeModel } from '../graph/serialize.js';
import type { Tensor } from '../graph/values.js';
import { writeSafetensors } from '../io/safetensors.js';
import type { HostTensor } from '../io/tensor.js';
import { SEGMENT2_IO, buildSegment1, buildSegment2, trainableParameters } from '../models/faster-rcnn.js';
import { validateConfig, type FasterRcnnConfig } from '../models/presets.js';
import type { ParamRequest, WeightSource } from '../models/weights.js';
import type { DetectionDataset } from '../data/dataset.js';
import type { DetectionLoader } from '../data/loader.js';
import { toModelInput } from '../data/model-input.js';
import type { ImageTensor } from '../infer/transform.js';
import { Detector } from '../infer/detector.js';
import type { SessionOptions } from '../infer/providers.js';
import type { Detections } from '../infer/roi-postprocess.js';
import { Rng } from '../util/rng.js';
import { loadCheckpoint, saveCheckpoint, type JsonValue, type OptimizerConfig } from './checkpoint.js';
import type { ScheduleConfig } from './schedule.js';
import type { DetectionLossComponents } from './detection-loss-feeds.js';
import { OutputScratch } from './output-scratch.js';
import { SizedModelCache } from './sized-model-cache.js';
import { SEGMENT1_CHAINED, detectorPass, type DetectorPass, type SegmentedDetector, type SegmentSessions, type StepSampleSource } from './detector-step.js';
import { LossLog } from './loss-log.js';
import type { TrainerRngs } from './trainer-data.js';
import { TrainerOptimizer, type ParamBuffer } from './trainer-optimizer.js';

/** Loss-log columns of a detector run: torchvision's four losses and their sum. */
export const DETECTOR_LOSS_COMPONENTS = ['rpn_cls', 'rpn_reg', 'cls', 'reg', 'total'] as const;
/** One loss-log record's losses. */
export type DetectorLosses = Record<(typeof DETECTOR_LOSS_COMPONENTS)[number], number>;

/** What creates a DetectorTrainer. */
export interface DetectorTrainerOptions {
  /** The model (a preset with overrides; numClasses counts the background). */
  config: FasterRcnnConfig;
  /** Initial parameters: RandomWeights (from scratch), FileWeights (a torchvision export or checkpoint). */
  weights: WeightSource;
  /** Optimizer, LR schedule, clipping (stored in checkpoints). */
  optimizer: OptimizerConfig;
  /** Training batches (its batch size and augmentation are the run's). */
  loader: DetectionLoader;
  /** Class names of labels 1..K, stored with the model config. */
  classes?: readonly string[];
  /** Seeds of the shuffle, augment and sample streams (default 1, 2, 3). */
  seeds?: Partial<Record<keyof TrainerRngs, number>>;
  /** onnxruntime intra-op threads (default 1; resume needs the same count) and optimizer threads. */
  threads?: { intraOp?: number; optimizer?: number };
  /** Loss log (.csv or .jsonl), one line per step: rpn_cls, rpn_reg, cls, reg, total. */
  lossLog?: string;
  /**
   * Train each segment with split forward/backward models (its forward runs once per step, the
   * backward pass reads the saved activations) instead of the training model, which recomputes
   * the forward pass. The gradients are the same; default SPLIT_BACKWARD_DEFAULT (true: about
   * 15–30% less CPU per step, a little more memory; docs/benchmarks.md, "Detector training step").
   */
  splitBackward?: boolean;
  /**
   * Run the backward (and training) models without onnxruntime's memory arena (by default one
   * padded image size at a time has it, the others run without): about a third
   * less peak memory (resnet50-fpn or resnet18-fpn-gn at 512², batch 2: 3.7 → 2.5 GB) for 10–24%
   * more time per step, the page faults of buffers allocated afresh on every run
   * (docs/benchmarks.md, "Reused output buffers, and a low-memory mode"). Also keeps no output
   * scratch for the split forward models. Default false.
   * The results are the same either way.
   */
  lowMemory?: boolean;
}

/** Whether DetectorTrainer splits forward and backward unless told (measured: docs/benchmarks.md). */
export const SPLIT_BACKWARD_DEFAULT = true;

/** What one training step did. */
export interface DetectorStepResult {
  /** Steps completed, this one included. */
  step: number;
  /** Epoch of this step (0-based). */
  epoch: number;
  lr: number;
  /** Gradient norm before clipping (NaN without clipping). */
  gradNorm: number;
  losses: DetectorLosses;
  /** Images in the step. */
  images: number;
  /** Milliseconds per stage, plus `data` (decode/augment/transform) and `optimizer`. */
  timings: DetectorPass['timings'] & { data: number; optimizer: number };
  /**
   * Segment 1's training models this step built, included in its time: the first batch of a
   * padded size, or a size rebuilt to take the memory arena over (src/train/sized-model-cache.ts).
   */
  modelsBuilt?: SegmentModelsBuilt[];
}

/** Segment 1 training models built for one padded batch shape. */
export interface SegmentModelsBuilt {
  batch: number;
  height: number;
  width: number;
  /** Whether they run with onnxruntime's memory arena (one size at a time has it; none in low-memory mode). */
  arena: boolean;
  seconds: number;
}

/** The model document stored in checkpoints (`model` of the metadata) and in model.json. */
export interface DetectorModelDocument {
  arch: 'faster-rcnn';
  preset: string;
  config: FasterRcnnConfig;
  classes: string[];
}

/** Data layout recorded in checkpoints: resuming with a different one cannot continue bit for bit. */
interface DataLayout {
  size: number;
  batchSize: number;
  intraOpThreads: number;
  /** Whether the epoch order groups the examples (by orientation: a different order); stored only when true. */
  groupedOrder?: boolean;
}

function losses(c: DetectionLossComponents): DetectorLosses {
  return { rpn_cls: c.rpn_cls, rpn_reg: c.rpn_reg, cls: c.cls, reg: c.reg, total: c.loss };
}

/** Segment 1 training sessions kept (one per padded input size; most data sets have one or two). */
const SEGMENT1_CACHE = 3;

/** A weight source over plain tensors (the trainer's current values). */
class MapWeights implements WeightSource {
  constructor(private readonly params: ReadonlyMap<string, Tensor>) {}
  get(req: ParamRequest): Tensor {
    const t = this.params.get(req.name);
    if (!t) throw new RangeError(`trainer weights: no parameter '${req.name}'`);
    return t;
  }
}

async function session(g: GraphBuilder, intraOp: number, options: { arena?: boolean } = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(serializeModel(g), {
    intraOpNumThreads: intraOp, interOpNumThreads: 1, executionMode: 'sequential', executionProviders: ['cpu'], enableCpuMemArena: options.arena ?? true,
  });
}

/** A segment's backward sessions (the training model, or the split forward and backward models) and whether they have onnxruntime's memory arena. */
type BackwardSessions = Pick<SegmentSessions, 'train' | 'split'> & { arena: boolean };

async function backwardSessions(models: GraphBuilder | SplitTrainingGraphs, intraOp: number, arena: boolean): Promise<BackwardSessions> {
  if (models instanceof GraphBuilder) return { arena, train: await session(models, intraOp, { arena }) };
  // No arena for the forward model: its saved outputs are copied to JS anyway, and an arena would
  // keep their peak reserved between runs (measured: 80–480 MB less peak RSS; docs/benchmarks.md).
  // Its outputs go into buffers reused from run to run instead (output-scratch.ts), except without
  // the arena (low-memory mode, or a size that does not hold it): nothing kept that can be avoided.
  const [forward, backward] = await Promise.all([session(models.forward, intraOp, { arena: false }), session(models.backward, intraOp, { arena })]);
  return { arena, split: { forward, backward, saved: models.saved, ...(arena ? { forwardScratch: new OutputScratch(forward) } : {}) } };
}

async function releaseBackward(s: BackwardSessions): Promise<void> {
  s.split?.forwardScratch?.release();
  await Promise.all([s.train?.release(), s.split?.forward.release(), s.split?.backward.release()]);
}

/**
 * The eval model of a segment without autodiff (src/graph/artifacts.ts builds it beside the
 * training model, which needs static shapes): trainable parameters as inputs, `outputs` out, so
 * one session serves every input size.
 */
function evalGraph(g: GraphBuilder, trainable: readonly string[], outputs: readonly string[]): GraphBuilder {
  const e = g.clone();
  for (const p of trainable) e.initializerToInput(p);
  e.clearOutputs();
  for (const o of outputs) e.output(o);
  return e.pruned(e.outputs);
}

/** Trainable parameters of a segment graph as own float32 buffers (the optimizer updates them in place). */
function buffersOf(g: GraphBuilder, names: readonly string[]): Map<string, ParamBuffer> {
  return new Map(names.map((n) => {
    const t = g.initializers.get(n)!.tensor;
    return [n, { data: Float32Array.from(t.data as Float32Array), shape: [...t.dims] }];
  }));
}

/** See the file comment. */
export class DetectorTrainer {
  private completed = 0;
  private rngs: TrainerRngs;
  private log: LossLog | undefined;
  private resumedAt: number | undefined;

  private constructor(
    readonly config: FasterRcnnConfig,
    private readonly options: Omit<DetectorTrainerOptions, 'weights'>,
    private readonly model: SegmentedDetector,
    /** Every parameter by name in segment order: trainable buffers and frozen constants. */
    private readonly all: ReadonlyMap<string, ParamBuffer>,
    private readonly optimizer: TrainerOptimizer,
    private readonly releaseSessions: () => Promise<void>,
    /** Segment 1 model builds not yet reported by a step (filled by the model cache). */
    private readonly builds: SegmentModelsBuilt[],
  ) {
    const s = options.seeds ?? {};
    this.rngs = { shuffle: new Rng(s.shuffle ?? 1), augment: new Rng(s.augment ?? 2), sample: new Rng(s.sample ?? 3) };
  }

  /** Build both segments' eval models and training (or split forward/backward) models from `weights` and create their sessions. */
  static async create(o: DetectorTrainerOptions): Promise<DetectorTrainer> {
    validateConfig(o.config);
    const config: FasterRcnnConfig = JSON.parse(JSON.stringify(o.config));
    const intraOp = o.threads?.intraOp ?? 1;
    if (!Number.isInteger(intraOp) || intraOp < 1) throw new RangeError(`threads.intraOp must be a positive integer, got ${intraOp}`);
    const g1 = buildSegment1(config, o.weights);
    const g2 = buildSegment2(config, o.weights);
    o.weights.allRequested?.();
    const t1 = trainableParameters(config, g1.paramNames);
    const t2 = trainableParameters(config, g2.paramNames);
    const seg1Params = buffersOf(g1, t1);
    const seg2Params = buffersOf(g2, t2);
    const all = new Map<string, ParamBuffer>();
    for (const [g, trained] of [[g1, seg1Params], [g2, seg2Params]] as const) {
      for (const name of g.paramNames) {
        const t = g.initializers.get(name)!.tensor;
        all.set(name, trained.get(name) ?? { data: Float32Array.from(t.data as Float32Array), shape: [...t.dims] });
      }
    }
    const trainable = new Map([...seg1Params, ...seg2Params]);
    const optimizer = new TrainerOptimizer(o.optimizer, trainable, o.threads?.optimizer);
    const split = o.splitBackward ?? SPLIT_BACKWARD_DEFAULT;
    const arena = !o.lowMemory;
    const seg2: TrainingSegment = { graph: g2, trainable: t2, chained: [SEGMENT2_IO.classLogits, SEGMENT2_IO.boxRegression], gradInputs: [SEGMENT2_IO.input] };
    const a2 = buildTrainingArtifacts(seg2);
    const [seg1Eval, seg2Eval, seg2Backward] = await Promise.all([
      session(evalGraph(g1, t1, SEGMENT1_CHAINED), intraOp), session(a2.eval, intraOp), backwardSessions(split ? buildSplitTrainingGraphs(seg2) : a2.training, intraOp, arena),
    ]);
    // Segment 1's models per padded input size, the memory arena for one size at a time (sized-model-cache.ts).
    const frozen = new MapWeights(new Map([...all].map(([n, b]) => [n, { dtype: 'float32' as const, dims: [...b.shape], data: b.data }])));
    const builds: SegmentModelsBuilt[] = [];
    const segment1Models = new SizedModelCache<BackwardSessions>({
      capacity: SEGMENT1_CACHE,
      arena,
      onBuild: ({ dims: [batch, height, width], arena: withArena, seconds }) => builds.push({ batch: batch!, height: height!, width: width!, arena: withArena, seconds }),
      build: async (dims, withArena) => {
        const [batch, height, width] = dims as [number, number, number];
        const seg1: TrainingSegment = { graph: buildSegment1(config, frozen, [batch, height, width]), trainable: t1, chained: SEGMENT1_CHAINED };
        return backwardSessions(split ? buildSplitTrainingGraphs(seg1) : buildTrainingArtifacts(seg1).training, intraOp, withArena);
      },
      release: releaseBackward,
    });
    const segment1 = async (batch: number, height: number, width: number): Promise<SegmentSessions> => ({ eval: seg1Eval, ...(await segment1Models.get([batch, height, width])) });
    const release = async () => {
      await Promise.all([seg1Eval.release(), seg2Eval.release(), releaseBackward(seg2Backward), segment1Models.clear()]);
    };
    const model: SegmentedDetector = { config, segment1, segment1Eval: seg1Eval, segment2: { eval: seg2Eval, ...seg2Backward }, seg1Params, seg2Params };
    // Not kept: the weight source (a torchvision R50 file is 167 MB); every value now lives in `all`.
    const { weights: _source, ...kept } = o;
    return new DetectorTrainer(config, kept, model, all, optimizer, release, builds);
  }

  /** Whether the backward models run without onnxruntime's memory arena (the `lowMemory` option). */
  get lowMemory(): boolean {
    return this.options.lowMemory ?? false;
  }

  /** Steps completed. */
  get step(): number {
    return this.completed;
  }

  /** Epoch of the next step (0-based). */
  get epoch(): number {
    return Math.floor(this.completed / this.stepsPerEpoch);
  }

  /** Full batches per epoch. */
  get stepsPerEpoch(): number {
    return this.options.loader.stepsPerEpoch;
  }

  /** Class names of labels 1..K (given, or class1, class2, …). */
  get classes(): string[] {
    const k = this.config.arch.numClasses - 1;
    return this.options.classes ? [...this.options.classes] : Array.from({ length: k }, (_, i) => `class${i + 1}`);
  }

  /** The model document stored in checkpoints and model.json. */
  modelDocument(): DetectorModelDocument {
    return { arch: 'faster-rcnn', preset: this.config.preset, config: JSON.parse(JSON.stringify(this.config)), classes: this.classes };
  }

  /** Names of the trainable parameters (segment 1's, then segment 2's). */
  get trainableNames(): string[] {
    return [...this.optimizer.params.keys()];
  }

  /** Every parameter (trainable and frozen) by name: views of the live values, copy to keep a snapshot. */
  parameters(): Map<string, Tensor> {
    return new Map([...this.all].map(([n, b]) => [n, { dtype: 'float32', dims: [...b.shape], data: b.data }]));
  }

  /** The current parameters as a WeightSource (build a Detector or graphs from them). */
  weights(): WeightSource {
    return new MapWeights(this.parameters());
  }

  /** An inference Detector with the current weights (a snapshot: later steps do not change it). */
  async detector(options: SessionOptions = {}): Promise<Detector> {
    const snapshot = new Map([...this.parameters()].map(([n, t]) => [n, { ...t, data: Float32Array.from(t.data as Float32Array) }]));
    return Detector.fromWeights(this.config, new MapWeights(snapshot), options);
  }

  /** The model's segments, sessions and trainable buffers (for tests and tools running {@link detectorPass}). */
  get segmented(): SegmentedDetector {
    return this.model;
  }

  /** Replace the LR schedule from the next step on (validated; later checkpoints store it). */
  setSchedule(schedule: ScheduleConfig): void {
    this.optimizer.setSchedule(schedule);
  }

  /** Learning rate of the next step. */
  get learningRate(): number {
    return this.optimizer.learningRate(this.completed);
  }

  /** One step: batch, both segments forward and backward, clipping, optimizer step, loss-log line. */
  async trainStep(): Promise<DetectorStepResult> {
    this.builds.length = 0; // builds outside a step (or in one that failed) are not this step's
    const epoch = this.epoch;
    const t0 = performance.now();
    const batch = await this.options.loader.next(this.completed, this.rngs);
    const input = toModelInput(batch, this.config.transform);
    const tData = performance.now() - t0;
    const pass = await detectorPass(this.model, input, { rng: this.rngs.sample }, { backward: true });
    const t1 = performance.now();
    const { lr, gradNorm } = await this.optimizer.step(pass.grads!, this.completed);
    const tOpt = performance.now() - t1;
    this.completed += 1;
    const l = losses(pass.losses);
    if (this.options.lossLog !== undefined) await (await this.lossLog()).append({ step: this.completed, epoch, lr, losses: l });
    const modelsBuilt = this.builds.splice(0);
    return {
      step: this.completed, epoch, lr, gradNorm, losses: l, images: batch.images.length, timings: { ...pass.timings, data: tData, optimizer: tOpt },
      ...(modelsBuilt.length > 0 ? { modelsBuilt } : {}),
    };
  }

  /**
   * Forward only on one batch of images and targets (original pixels): the losses, with the
   * sample drawn from `source` (default a fixed Rng(0), so repeated evaluations compare).
   */
  async batchLoss(images: readonly ImageTensor[], targets: readonly { boxes: Float32Array; labels: Int32Array }[], source: StepSampleSource = { rng: new Rng(0) }): Promise<DetectorLosses> {
    const input = toModelInput({ indices: [], ids: [], images: [...images], targets: targets.map((t) => ({ boxes: t.boxes, labels: t.labels })) }, this.config.transform);
    return losses((await detectorPass(this.model, input, source, { backward: false })).losses);
  }

  /**
   * Mean losses over a whole dataset (validation), in index order, `batchSize` images at a time,
   * sampling from Rng(seed) (fixed, so that epochs compare and the training streams are untouched).
   */
  async datasetLoss(dataset: DetectionDataset, options: { batchSize?: number; seed?: number } = {}): Promise<DetectorLosses> {
    const bs = options.batchSize ?? this.options.loader.order.batchSize;
    const rng = new Rng(options.seed ?? 0);
    const sums: DetectorLosses = { rpn_cls: 0, rpn_reg: 0, cls: 0, reg: 0, total: 0 };
    for (let i = 0; i < dataset.size; i += bs) {
      const samples = await Promise.all(Array.from({ length: Math.min(bs, dataset.size - i) }, (_, j) => dataset.get(i + j)));
      const l = await this.batchLoss(samples.map((s) => s.image), samples.map((s) => s.target), { rng });
      for (const k of DETECTOR_LOSS_COMPONENTS) sums[k] += l[k] * samples.length;
    }
    for (const k of DETECTOR_LOSS_COMPONENTS) sums[k] /= Math.max(dataset.size, 1);
    return sums;
  }

  /**
   * Detections of the current weights on every image of `dataset` (original pixels), with the
   * box score threshold lowered to `minScore` (default 0.05, torchvision's) for mAP.
   */
  async predictDataset(dataset: DetectionDataset, options: SessionOptions & { minScore?: number } = {}): Promise<Detections[]> {
    const snapshot = new Map([...this.parameters()].map(([n, t]) => [n, { ...t, data: Float32Array.from(t.data as Float32Array) }]));
    const config = { ...this.config, box: { ...this.config.box, scoreThresh: options.minScore ?? 0.05 } };
    const det = await Detector.fromWeights(config, new MapWeights(snapshot), { threads: this.options.threads?.intraOp ?? 1, ...options });
    try {
      const out: Detections[] = [];
      for (let i = 0; i < dataset.size; i++) {
        const { boxes, scores, labels } = await det.detect((await dataset.get(i)).image);
        out.push({ boxes, scores, labels });
      }
      return out;
    } finally {
      await det.release();
    }
  }

  private layout(): DataLayout {
    const order = this.options.loader.order;
    return { size: order.size, batchSize: order.batchSize, intraOpThreads: this.options.threads?.intraOp ?? 1, ...(order.groups ? { groupedOrder: true } : {}) };
  }

  /**
   * Save a checkpoint (atomically): every parameter, optimizer state, step, epoch, the streams
   * (shuffle as at the epoch start when mid-epoch), the model document, `extra` (kept verbatim).
   */
  async save(file: string, extra: { [key: string]: JsonValue } = {}): Promise<void> {
    await saveCheckpoint(file, {
      step: this.completed,
      epoch: this.epoch,
      rng: { shuffle: this.options.loader.checkpointState(this.completed, this.rngs.shuffle), augment: this.rngs.augment.state, sample: this.rngs.sample.state },
      model: this.modelDocument() as unknown as JsonValue,
      optimizer: this.optimizer.config,
      params: new Map([...this.parameters()].map(([n, t]) => [n, toHostTensor(t)])),
      optimState: this.optimizer.slots(),
      extra: { ...extra, data: { ...this.layout() } },
    });
  }

  /**
   * Continue from a checkpoint saved by a trainer with the same model config, data layout and
   * thread count: parameters, optimizer state, streams and data position; the loss log is cut
   * back to the checkpoint's step. Returns the checkpoint's `extra`. Throws naming what differs.
   */
  async load(file: string): Promise<{ [key: string]: JsonValue }> {
    const shapes = new Map([...this.all].map(([n, b]) => [n, b.shape]));
    const c = await loadCheckpoint(file, { params: shapes });
    if (c.optimizer.kind !== this.options.optimizer.kind) throw new Error(`${file}: optimizer.kind is ${c.optimizer.kind}, this trainer uses ${this.options.optimizer.kind}`);
    const doc = c.model as unknown as Partial<DetectorModelDocument> | null;
    const theirs = doc?.config as unknown as Record<string, unknown> | undefined;
    for (const section of Object.keys(this.config) as (keyof FasterRcnnConfig)[]) {
      if (JSON.stringify(theirs?.[section]) !== JSON.stringify(this.config[section])) {
        throw new Error(`${file}: model.config.${section} differs from this trainer's (${JSON.stringify(theirs?.[section])} vs ${JSON.stringify(this.config[section])})`);
      }
    }
    // A checkpoint without groupedOrder had an ungrouped order (written before grouping, or one orientation).
    const saved = { groupedOrder: false, ...(c.extra?.['data'] ?? {}) as Partial<DataLayout> };
    const mine = { groupedOrder: false, ...this.layout() };
    for (const key of Object.keys(mine) as (keyof DataLayout)[]) {
      if (saved[key] !== mine[key]) throw new Error(`${file}: data.${key} is ${JSON.stringify(saved[key])} in the checkpoint, ${JSON.stringify(mine[key])} in this trainer (resume would not be bit for bit)`);
    }
    const trainable = new Set(this.optimizer.params.keys());
    for (const [name, b] of this.all) {
      const values = fromHostTensor(c.params.get(name)!, name).data as Float32Array;
      if (trainable.has(name)) b.data.set(values);
      else if (!values.every((v, i) => Object.is(v, b.data[i]))) {
        throw new Error(`${file}: frozen parameter '${name}' differs from this trainer's (build it from the checkpoint's weights)`);
      }
    }
    this.optimizer.restore(c.optimState);
    this.completed = c.step;
    this.rngs = { shuffle: new Rng(c.rng.shuffle), augment: new Rng(c.rng.augment), sample: new Rng(c.rng.sample) };
    this.options.loader.reset();
    if (this.log) {
      await this.log.close();
      this.log = undefined;
    }
    this.resumedAt = c.step;
    const { data: _data, ...rest } = c.extra ?? {};
    return rest;
  }

  /**
   * Write the current weights as a plain safetensors file under torchvision's names (no
   * `param/` prefix, no optimizer state): `Detector.load(file, preset)` and torchvision's
   * `load_state_dict` take it. Atomic.
   */
  async exportWeights(file: string): Promise<void> {
    const tensors = new Map<string, HostTensor>([...this.parameters()].map(([n, t]) => [n, toHostTensor(t)]));
    await writeSafetensors(file, tensors, { format: 'hpa-detect/weights', model: JSON.stringify(this.modelDocument()) });
  }

  /** The loss log's epoch means so far (undefined without a loss log or before the first step). */
  epochMeans(): ReturnType<LossLog['epochMeans']> | undefined {
    return this.log?.epochMeans();
  }

  private async lossLog(): Promise<LossLog> {
    if (!this.log) {
      this.log = await LossLog.open(this.options.lossLog!, { components: DETECTOR_LOSS_COMPONENTS, ...(this.resumedAt === undefined ? {} : { resumeFromStep: this.resumedAt }) });
    }
    return this.log;
  }

  /** Close the loss log and release the sessions. */
  async release(): Promise<void> {
    await this.log?.close();
    this.log = undefined;
    await this.releaseSessions();
  }
}
