/**
 * trainDetector: the whole training run around a DetectorTrainer (what `hpa-detect train` and
 * the demo call): data (VOC folder, CSV or COCO JSON; a validation set or a seeded split), the
 * model (a preset, from scratch or from --init weights), the epoch loop with validation,
 * checkpoints, the loss log and learning curve, a time budget, an abort signal, and resume.
 *
 * Files written into `outDir`:
 *   loss.csv                      one line per step: rpn_cls, rpn_reg, cls, reg, total
 *   validation.csv                one line per epoch: training means, val losses, mAP@0.5
 *   learning-curve.png            the loss components per step and the epoch means
 *   checkpoint-last.safetensors   after every epoch and when stopping (atomic): resume from it
 *   checkpoint-best.safetensors   the epoch with the best validation metric (mAP@0.5, else val loss)
 *   model.json                    preset, config, classes and the weights file (`predict RUN/` reads it)
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { splitIds } from '../annotations/split.js';
import type { AnnotationFormat } from '../annotations/load.js';
import { DetectionDataset } from '../data/dataset.js';
import { DetectionLoader } from '../data/loader.js';
import type { AugmentOptions } from '../data/augment.js';
import { evaluateDetections } from '../eval/map.js';
import { readSafetensors } from '../io/safetensors.js';
import { fasterRcnnConfig, type ConfigOverrides, type FasterRcnnConfig } from '../models/presets.js';
import { TORCHVISION_BASE_WIDTH } from '../models/resnet.js';
import { FileWeights, RandomWeights, type ParamRequest, type WeightSource } from '../models/weights.js';
import type { HostTensor } from '../io/tensor.js';
import type { Tensor } from '../graph/values.js';
import { renderLearningCurve } from '../render/learning-curve.js';
import { writeFileAtomic } from '../util/atomic.js';
import { loadCheckpoint, type JsonValue, type OptimizerConfig } from './checkpoint.js';
import { DETECTOR_LOSS_COMPONENTS, DetectorTrainer, type DetectorLosses, type DetectorModelDocument, type DetectorStepResult, type SegmentModelsBuilt } from './detector-trainer.js';
import { readLossLog } from './loss-log.js';
import { budgetLrPlan, budgetMilestones, expectedSteps, type BudgetLrPlan } from './budget-lr-steps.js';
import { detectionScheduleInSteps, torchvisionDetectionSchedule } from './schedule.js';

/** Where annotations are: a VOC folder (or VOC root with Annotations/), a CSV file or a COCO JSON. */
export interface DataSource {
  annotations: string;
  /** Images folder (VOC default: the root's JPEGImages, else the annotation folder). */
  images?: string;
  /** Default: VOC for a folder, COCO for .json, CSV otherwise. */
  format?: AnnotationFormat;
  /** Only these image ids (file names without extension, e.g. the lines of train.txt). */
  ids?: readonly string[];
}

/** Options of {@link trainDetector}. */
export interface TrainDetectorOptions {
  /** Model preset (`light`, `resnet18-fpn-gn`, …) and overrides (sizes, anchors …). */
  preset: string;
  config?: ConfigOverrides;
  data: DataSource;
  /** Validation data; without it `valFraction` of `data` is held out (seeded split). */
  val?: DataSource;
  /** Held-out fraction when `val` is absent (default 0.2; 0 = no validation). */
  valFraction?: number;
  /** Train until this many epochs are completed. */
  epochs: number;
  /**
   * Stop after the step that crosses this many minutes of this run (and save). The LR drops then
   * also come at their fraction of the steps the budget is expected to allow, if that is sooner
   * (`optimizer.budgetLrSteps`, src/train/budget-lr-steps.ts).
   */
  timeBudgetMinutes?: number;
  /** Initial weights (torchvision export or checkpoint); default seeded random. */
  init?: string;
  batchSize?: number;
  /**
   * SGD by default: lr 0.02, momentum 0.9, weight decay 1e-4, warm-up min(1000, steps/epoch − 1)
   * from 1/1000, LR ×0.1 at 70% and 90% of the epochs (`lrSteps`, torchvision's --lr-steps, in
   * epochs); gradient clipping at norm 10 from random weights (none with `init`). Under a time
   * budget the drops move to the same fractions of the steps the budget allows when that comes
   * first (`budgetLrSteps`, default true; false keeps them on their epochs).
   */
  optimizer?: { kind?: 'sgd' | 'adamw'; lr?: number; momentum?: number; weightDecay?: number; warmupIters?: number; clipGradNorm?: number; lrSteps?: number[]; budgetLrSteps?: boolean };
  augment?: AugmentOptions;
  outDir: string;
  /** Continue from outDir/checkpoint-last.safetensors (model, optimizer and data settings from it). */
  resume?: boolean;
  /** Seed of the weights, the streams and the validation split (default 0). */
  seed?: number;
  /** onnxruntime intra-op threads (default 1; a resumed run uses the checkpoint's). */
  threads?: number;
  /** DetectorTrainer's `lowMemory`: less peak memory, slower steps, same results (may change on resume). */
  lowMemory?: boolean;
  /** Stop at the next step boundary (saving), e.g. on SIGINT. */
  signal?: AbortSignal;
  /** Validate with mAP@0.5 (default true when there is a validation set); false: val loss only. */
  map?: boolean;
}

/** One epoch's summary (also a line of validation.csv). */
export interface EpochRecord {
  epoch: number;
  step: number;
  train: DetectorLosses;
  val?: DetectorLosses;
  map50?: number;
  seconds: number;
}

/** What trainDetector reports while it runs. */
export type TrainEvent =
  | { kind: 'start'; steps: number; stepsPerEpoch: number; startStep: number; trainImages: number; valImages: number; resumed: boolean; config: FasterRcnnConfig; notes: string[] }
  | { kind: 'step'; result: DetectorStepResult; totalSteps: number; elapsedSeconds: number }
  | { kind: 'epoch'; record: EpochRecord; best: boolean }
  /** An LR drop the time budget brought forward takes effect at `step` (the next step's index). */
  | { kind: 'lr-drop'; step: number; lr: number; plannedStep: number; expectedSteps: number }
  | { kind: 'stop'; reason: TrainDetectorResult['stopped'] };

/** One line about an LR drop the time budget brought forward (CLI and demo progress). */
export function describeLrDrop(e: Extract<TrainEvent, { kind: 'lr-drop' }>): string {
  return `step ${e.step + 1}: LR down to ${e.lr.toPrecision(3)}, planned for step ${e.plannedStep + 1}: about ${e.expectedSteps} steps fit the time budget`;
}

/** One line about segment 1 training models a step built (CLI progress): why that step took longer, and its memory. */
export function describeModelsBuilt(b: SegmentModelsBuilt, step: number): string {
  const arena = b.arena ? 'with the memory arena' : 'without the memory arena (one image size at a time has it; none with --low-memory)';
  return `step ${step}: built training models for ${b.batch} × ${b.height}×${b.width} padded images in ${b.seconds.toFixed(1)} s, ${arena}`;
}

/** The result of a run. */
export interface TrainDetectorResult {
  outDir: string;
  /** checkpoint-last.safetensors. */
  last: string;
  /** checkpoint-best.safetensors, when a validation (or, without one, an epoch) has finished. */
  best: string | undefined;
  modelJson: string;
  lossLog: string;
  curve: string;
  history: EpochRecord[];
  stopped: 'done' | 'time-budget' | 'interrupted';
  steps: number;
  epochs: number;
}

export const TRAIN_FILES = {
  lossLog: 'loss.csv',
  validation: 'validation.csv',
  curve: 'learning-curve.png',
  last: 'checkpoint-last.safetensors',
  best: 'checkpoint-best.safetensors',
  model: 'model.json',
} as const;

/** Settings a resumed run takes from its checkpoint (they must not change mid-run). */
interface RunSettings {
  seed: number;
  batchSize: number;
  valFraction: number;
  threads: number;
  augment: AugmentOptions | null;
  history: EpochRecord[];
  best: { metric: 'map50' | 'val_loss' | 'train_loss'; value: number; epoch: number } | null;
  /** LR drops that follow the time budget: the plan and the milestones (steps) in force. */
  budgetLr?: BudgetLrState | null;
}

interface BudgetLrState extends BudgetLrPlan {
  milestones: number[];
  warmupIters: number;
}

/** A DataSource with its format and image folder resolved. */
export function resolveDataSource(src: DataSource, what = 'data'): { annotations: string; format: AnnotationFormat; imageDir: string | undefined; ids?: readonly string[] } {
  const ids = src.ids ? { ids: src.ids } : {};
  if (!existsSync(src.annotations)) throw new RangeError(`${what}: ${src.annotations} does not exist`);
  const isDir = statSync(src.annotations).isDirectory();
  const format = src.format ?? (isDir ? 'voc' : src.annotations.toLowerCase().endsWith('.json') ? 'coco' : 'csv');
  if (format !== 'voc') return { annotations: src.annotations, format, imageDir: src.images, ...ids };
  if (!isDir) return { annotations: src.annotations, format, imageDir: src.images ?? path.dirname(src.annotations), ...ids };
  const nested = path.join(src.annotations, 'Annotations');
  const annotations = existsSync(nested) ? nested : src.annotations;
  const jpeg = path.join(path.dirname(annotations), 'JPEGImages');
  return { annotations, format, imageDir: src.images ?? (existsSync(jpeg) ? jpeg : annotations), ...ids };
}

/**
 * --init weights (a torchvision export or one of our checkpoints): every parameter from the file,
 * except a box predictor made for another number of classes (e.g. COCO's 91), which starts from
 * torchvision's random init: the usual fine-tuning recipe. A file holding only `backbone.body.*`
 * (scripts/export_torchvision.py --backbone-pth: ImageNet weights) gives the backbone, and the
 * FPN, RPN and box head start at random, as torchvision's `weights_backbone`. Each replacement
 * is noted.
 */
class InitWeights implements WeightSource {
  private readonly file: FileWeights;
  private readonly prefix: string;
  private readonly backboneOnly: boolean;
  private readonly replaced = new Set<string>();
  private randomised = 0;
  constructor(private readonly tensors: ReadonlyMap<string, HostTensor>, private readonly source: string, private readonly preset: string, private readonly fallback: WeightSource, private readonly notes: string[]) {
    this.prefix = [...tensors.keys()].some((k) => k.startsWith('param/')) ? 'param/' : '';
    this.file = new FileWeights(tensors, source, this.prefix);
    const names = [...tensors.keys()].filter((k) => k.startsWith(this.prefix));
    this.backboneOnly = names.length > 0 && names.every((k) => k.startsWith(`${this.prefix}backbone.body.`));
  }
  get(req: ParamRequest): Tensor {
    if (this.backboneOnly && !req.name.startsWith('backbone.body.')) {
      this.randomised++;
      return this.fallback.get(req);
    }
    const t = this.tensors.get(this.prefix + req.name);
    if (req.name.startsWith('roi_heads.box_predictor.') && t && (t.shape.length !== req.dims.length || t.shape.some((d, i) => d !== req.dims[i]))) {
      this.notes.push(`--init: ${req.name} is [${t.shape}] in the file, [${req.dims}] for these classes: initialised at random`);
      this.replaced.add(this.prefix + req.name);
      return this.fallback.get(req);
    }
    return this.file.get(req);
  }
  /**
   * Once the graphs are built, before their sessions: a note for a backbone-only file, and an
   * error for tensors the model never asked for (weights of another architecture: e.g. BatchNorm
   * statistics given to a GroupNorm preset would otherwise pass, their affine part taken as
   * GroupNorm's).
   */
  allRequested(): void {
    const unused = this.file.unused().filter((k) => !this.replaced.has(k));
    if (unused.length > 0) {
      throw new RangeError(`--init ${this.source}: ${unused.length} tensor(s) that preset ${this.preset} does not have (${unused.slice(0, 3).join(', ')}${unused.length > 3 ? ', …' : ''}): weights of another architecture?`);
    }
    if (this.backboneOnly) this.notes.push(`--init: backbone weights only: the FPN, RPN and box head (${this.randomised} tensors) start at random`);
  }
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

function defaultLrSteps(epochs: number): number[] {
  const steps = [Math.ceil(0.7 * epochs), Math.ceil(0.9 * epochs)].filter((e, i, a) => e > 0 && e < epochs && a.indexOf(e) === i);
  return steps;
}

/** The optimizer of a new run, and the budget's LR plan when the drops follow a time budget. */
function optimizerConfig(o: TrainDetectorOptions, stepsPerEpoch: number): { optimizer: OptimizerConfig; budgetLr: BudgetLrState | null } {
  const p = o.optimizer ?? {};
  const lrSteps = p.lrSteps ?? defaultLrSteps(o.epochs);
  const warmupIters = p.warmupIters ?? Math.min(1000, stepsPerEpoch - 1);
  const follow = o.timeBudgetMinutes !== undefined && (p.budgetLrSteps ?? true) && lrSteps.length > 0;
  const plan = follow ? budgetLrPlan(lrSteps, o.epochs, stepsPerEpoch) : undefined;
  const budgetLr = plan ? { ...plan, milestones: plan.planned, warmupIters } : null;
  const schedule = budgetLr
    ? detectionScheduleInSteps({ milestoneSteps: budgetLr.milestones, warmupIters })
    : torchvisionDetectionSchedule({ itersPerEpoch: stepsPerEpoch, lrSteps, warmupIters });
  // From random weights DESIGN.md asks for clipping (early RPN/RoI losses spike); fine-tuning keeps torchvision's none.
  const maxNorm = p.clipGradNorm ?? (o.init === undefined ? 10 : undefined);
  const clip = maxNorm === undefined ? {} : { clipGradNorm: { maxNorm } };
  const optimizer: OptimizerConfig = (p.kind ?? 'sgd') === 'adamw'
    ? { kind: 'adamw', lr: p.lr ?? 1e-4, weightDecay: p.weightDecay ?? 1e-4, schedule, ...clip }
    : { kind: 'sgd', lr: p.lr ?? 0.02, momentum: p.momentum ?? 0.9, weightDecay: p.weightDecay ?? 1e-4, schedule, ...clip };
  return { optimizer, budgetLr };
}

async function loadData(o: TrainDetectorOptions, settings: Pick<RunSettings, 'seed' | 'valFraction'>): Promise<{ train: DetectionDataset; val: DetectionDataset | undefined }> {
  const src = resolveDataSource(o.data, '--data');
  const all = await DetectionDataset.load(src);
  if (all.size === 0) throw new RangeError(`--data: no usable image in ${src.annotations}`);
  const classes = all.classes.names;
  if (o.val) {
    const v = resolveDataSource(o.val, '--val');
    return { train: all, val: await DetectionDataset.load({ ...v, classes, unknownClass: 'skip' }) };
  }
  if (settings.valFraction <= 0) return { train: all, val: undefined };
  const split = splitIds(all.ids, { seed: settings.seed, val: settings.valFraction, test: 0 });
  if (split.val.length === 0 || split.train.length === 0) return { train: all, val: undefined };
  const [train, val] = await Promise.all([
    DetectionDataset.load({ ...src, classes, ids: split.train }),
    DetectionDataset.load({ ...src, classes, ids: split.val }),
  ]);
  return { train, val };
}

function validationCsv(history: readonly EpochRecord[]): string {
  const cols = ['epoch', 'step', ...DETECTOR_LOSS_COMPONENTS.map((c) => `train_${c}`), ...DETECTOR_LOSS_COMPONENTS.map((c) => `val_${c}`), 'map50', 'seconds'];
  const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(v));
  const rows = history.map((r) => [r.epoch, r.step, ...DETECTOR_LOSS_COMPONENTS.map((c) => r.train[c]), ...DETECTOR_LOSS_COMPONENTS.map((c) => r.val?.[c]), r.map50, r.seconds].map((v) => num(v as number | undefined)).join(','));
  return [cols.join(','), ...rows].join('\n') + '\n';
}

/**
 * Run (or resume) a training run; see the file comment. `onEvent` sees the start, every step,
 * every epoch and the stop. Validation each epoch: mean val losses, and mAP@0.5 of the current
 * weights (detections scoring ≥ 0.05) unless `map: false`; the best checkpoint follows mAP@0.5
 * (higher), else val loss (lower), else the training epoch mean.
 */
export async function trainDetector(o: TrainDetectorOptions, onEvent: (e: TrainEvent) => void = () => undefined): Promise<TrainDetectorResult> {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new RangeError(`epochs must be a positive integer, got ${o.epochs}`);
  if (o.timeBudgetMinutes !== undefined && !(o.timeBudgetMinutes > 0)) throw new RangeError(`timeBudgetMinutes must be > 0, got ${o.timeBudgetMinutes}`);
  await mkdir(o.outDir, { recursive: true });
  const file = (k: keyof typeof TRAIN_FILES) => path.join(o.outDir, TRAIN_FILES[k]);
  const started = performance.now();

  // What a resumed run takes from its checkpoint; a new run from the options.
  let settings: RunSettings;
  let config: FasterRcnnConfig;
  let weights: WeightSource;
  let optimizer: OptimizerConfig | undefined;
  let classes: string[] | undefined;
  const notes: string[] = [];
  const resumeFrom = o.resume ? file('last') : undefined;
  if (resumeFrom) {
    if (!existsSync(resumeFrom)) throw new RangeError(`--resume: no ${TRAIN_FILES.last} in ${o.outDir}`);
    const c = await loadCheckpoint(resumeFrom);
    const doc = c.model as unknown as DetectorModelDocument;
    const run = c.extra?.['run'] as unknown as RunSettings | undefined;
    if (doc?.arch !== 'faster-rcnn' || !run) throw new RangeError(`--resume: ${resumeFrom} was not written by hpa-detect train`);
    settings = run;
    // Checkpoints from before arch.baseWidth existed hold torchvision-width backbones.
    config = { ...doc.config, arch: { ...doc.config.arch, baseWidth: doc.config.arch.baseWidth ?? TORCHVISION_BASE_WIDTH } };
    classes = doc.classes;
    optimizer = c.optimizer;
    weights = new FileWeights(new Map([...c.params]), resumeFrom, '');
  } else {
    settings = { seed: o.seed ?? 0, batchSize: o.batchSize ?? 2, valFraction: o.valFraction ?? 0.2, threads: o.threads ?? 1, augment: o.augment ?? null, history: [], best: null };
    config = fasterRcnnConfig(o.preset, o.config);
    if (o.init) {
      const { tensors } = await readSafetensors(o.init);
      weights = new InitWeights(tensors, o.init, config.preset, new RandomWeights(settings.seed), notes);
    } else {
      weights = new RandomWeights(settings.seed);
      if (config.arch.norm === 'frozen-bn' && config.arch.trainableLayers < 5) {
        notes.push(`preset ${config.preset} is for fine-tuning (frozen BatchNorm, ${5 - config.arch.trainableLayers} frozen backbone stage(s)): from random weights those stay random; give --init (a torchvision or ImageNet export) or train a -gn preset from scratch`);
      }
    }
  }
  const { train, val } = await loadData(o, settings);
  if (!resumeFrom) {
    classes = train.classes.names.slice();
    config = { ...config, arch: { ...config.arch, numClasses: classes.length + 1 } };
  } else if (JSON.stringify(classes) !== JSON.stringify(train.classes.names)) {
    throw new RangeError(`--resume: the data's classes (${train.classes.names.join(', ')}) differ from the checkpoint's (${classes!.join(', ')})`);
  }
  if (train.size < settings.batchSize) throw new RangeError(`--batch ${settings.batchSize} is larger than the ${train.size} training image(s)`);
  const loader = new DetectionLoader(train, { batchSize: settings.batchSize, ...(settings.augment ? { augment: settings.augment } : {}) });
  if (!optimizer) {
    const fresh = optimizerConfig(o, loader.stepsPerEpoch);
    optimizer = fresh.optimizer;
    settings.budgetLr = fresh.budgetLr;
  }
  const trainer = await DetectorTrainer.create({
    config, weights, optimizer, loader, classes,
    seeds: { shuffle: settings.seed * 3 + 1, augment: settings.seed * 3 + 2, sample: settings.seed * 3 + 3 },
    threads: { intraOp: settings.threads }, lossLog: file('lossLog'), lowMemory: o.lowMemory ?? false,
  });
  let stopped: TrainDetectorResult['stopped'] = 'done';
  try {
    if (resumeFrom) await trainer.load(resumeFrom);
    const totalSteps = o.epochs * trainer.stepsPerEpoch;
    if (trainer.lowMemory) notes.push('low memory: the backward pass runs without onnxruntime\'s memory arena (less peak memory, slower steps)');
    onEvent({ kind: 'start', steps: totalSteps, stepsPerEpoch: trainer.stepsPerEpoch, startStep: trainer.step, trainImages: train.size, valImages: val?.size ?? 0, resumed: resumeFrom !== undefined, config: trainer.config, notes });
    const useMap = (o.map ?? true) && val !== undefined;
    const save = async (target: string) => trainer.save(target, { run: settings as unknown as JsonValue });
    const writeModelJson = async () => {
      const doc = { ...trainer.modelDocument(), weights: existsSync(file('best')) ? TRAIN_FILES.best : TRAIN_FILES.last, last: TRAIN_FILES.last, step: trainer.step, bestMetric: settings.best };
      await writeFileAtomic(file('model'), JSON.stringify(doc, null, 2) + '\n');
    };
    const curve = async () => {
      const log = await readLossLog(file('lossLog'));
      const { png } = await renderLearningCurve(log.records, settings.history.map((h) => ({ step: h.step, epoch: h.epoch, losses: h.train, ...(h.val ? { val: h.val.total } : {}) })));
      await writeFileAtomic(file('curve'), png);
    };
    /** Validate, record the epoch, keep the best checkpoint; `trainLosses` are the epoch's step losses. */
    const endEpoch = async (epoch: number, trainLosses: DetectorLosses[], t0: number) => {
      const record: EpochRecord = {
        epoch, step: trainer.step, seconds: (performance.now() - t0) / 1000,
        train: Object.fromEntries(DETECTOR_LOSS_COMPONENTS.map((c) => [c, mean(trainLosses.map((l) => l[c]))])) as DetectorLosses,
      };
      if (val && val.size > 0) {
        record.val = await trainer.datasetLoss(val, { seed: settings.seed });
        if (useMap) {
          const preds = await trainer.predictDataset(val, { minScore: 0.05 });
          const gts = val.records.map((r) => r.target);
          record.map50 = evaluateDetections(gts, preds, { numClasses: classes!.length, classNames: classes, minScore: 0.05 }).map50;
        }
      }
      const [metric, value, higher] = record.map50 !== undefined && Number.isFinite(record.map50)
        ? ['map50', record.map50, true] as const
        : record.val ? ['val_loss', record.val.total, false] as const : ['train_loss', record.train.total, false] as const;
      const best = settings.best === null || settings.best.metric !== metric || (higher ? value > settings.best.value : value < settings.best.value);
      if (best) settings.best = { metric, value, epoch };
      settings.history.push(record);
      await save(file('last'));
      if (best) await copyFile(file('last'), file('best'));
      await writeFileAtomic(file('validation'), validationCsv(settings.history));
      await writeModelJson();
      await curve();
      onEvent({ kind: 'epoch', record, best });
    };

    let epochLosses: DetectorLosses[] = [];
    let epochStart = performance.now();
    // A resumed mid-epoch run continues the epoch's means from the log.
    if (trainer.step % trainer.stepsPerEpoch !== 0) {
      const log = await readLossLog(file('lossLog'));
      epochLosses = log.records.filter((r) => r.epoch === trainer.epoch && r.step <= trainer.step).map((r) => r.losses as DetectorLosses);
    }
    // The pace is measured from the end of this run's first step: that step also builds segment 1's models.
    let paceFrom: { step: number; time: number } | undefined;
    /** Move the LR drops that have not come yet to where the time budget puts them. */
    const followBudget = () => {
      const b = settings.budgetLr;
      if (!b) return;
      let expected = Infinity; // no budget (a resumed run without one): the drops go back to their epochs
      if (o.timeBudgetMinutes !== undefined) {
        const now = performance.now();
        expected = paceFrom ? expectedSteps(trainer.step, trainer.step - paceFrom.step, (now - paceFrom.time) / 1000, o.timeBudgetMinutes * 60 - (now - started) / 1000) : Infinity;
        if (!Number.isFinite(expected)) return; // no pace yet: the drops stay where they are (a resumed run's too)
      }
      const milestones = budgetMilestones(b, b.milestones, trainer.step, expected);
      if (milestones.some((m, i) => m !== b.milestones[i])) {
        b.milestones = milestones;
        trainer.setSchedule(detectionScheduleInSteps({ milestoneSteps: milestones, warmupIters: b.warmupIters }));
      }
      milestones.forEach((m, i) => {
        if (m === trainer.step && m < b.planned[i]!) onEvent({ kind: 'lr-drop', step: m, lr: trainer.learningRate, plannedStep: b.planned[i]!, expectedSteps: expected });
      });
    };
    while (trainer.step < totalSteps) {
      const epoch = trainer.epoch;
      followBudget();
      const result = await trainer.trainStep();
      paceFrom ??= { step: trainer.step, time: performance.now() };
      epochLosses.push(result.losses);
      const elapsedSeconds = (performance.now() - started) / 1000;
      onEvent({ kind: 'step', result, totalSteps, elapsedSeconds });
      if (trainer.step % trainer.stepsPerEpoch === 0) {
        await endEpoch(epoch, epochLosses, epochStart);
        epochLosses = [];
        epochStart = performance.now();
      }
      if (o.signal?.aborted) {
        stopped = 'interrupted';
        break;
      }
      if (o.timeBudgetMinutes !== undefined && elapsedSeconds >= o.timeBudgetMinutes * 60) {
        stopped = 'time-budget';
        break;
      }
    }
    if (stopped !== 'done' && trainer.step % trainer.stepsPerEpoch !== 0) {
      await save(file('last'));
      await writeModelJson();
      await curve();
    }
    if (!existsSync(file('model'))) await writeModelJson();
    onEvent({ kind: 'stop', reason: stopped });
    return {
      outDir: o.outDir, last: file('last'), best: existsSync(file('best')) ? file('best') : undefined, modelJson: file('model'),
      lossLog: file('lossLog'), curve: file('curve'), history: settings.history, stopped, steps: trainer.step, epochs: trainer.epoch,
    };
  } finally {
    await trainer.release();
  }
}
