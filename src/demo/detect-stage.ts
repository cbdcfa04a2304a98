/**
 * The demo's second half: train a small Faster R-CNN on the synthetic training images, predict
 * on the held-out ones, and score the predictions with the same code as `hpa-detect evaluate`.
 * Layout under the demo's outDir:
 *   model/        trainDetector's run (loss.csv, learning-curve.png, checkpoints, model.json)
 *   predictions/  predictFiles over the held-out images at score ≥ 0.05 (predictions.json, CSV)
 *   evaluation/   metrics.json, pr-curve.png
 *   detections/   overlays of the held-out predictions at the score users look at (0.7)
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ImageAnnotation } from '../annotations/model.js';
import type { AugmentOptions } from '../data/augment.js';
import { formatVocXml } from '../annotations/voc-write.js';
import { nmsSync } from '../detection/nms.js';
import { evaluateDetections, type DetectionEvaluation, type EvalGroundTruth, type EvalPrediction } from '../eval/map.js';
import { pairDetections } from '../eval/pair.js';
import { readGroundTruth } from '../eval/read-ground-truth.js';
import { readPredictions } from '../eval/read-predictions.js';
import { metricsDocument } from '../eval/report.js';
import { Detector } from '../infer/detector.js';
import type { ConfigOverrides } from '../models/presets.js';
import { predictFiles } from '../infer/predict-files.js';
import { resolveModelConfig } from '../infer/predict-model.js';
import type { ImagePrediction } from '../infer/predict-outputs.js';
import { gatherBoxes } from '../infer/rpn-proposals.js';
import { renderOverlay } from '../render/overlay.js';
import { renderPrCurve } from '../render/pr-curve.js';
import { describeLrDrop, trainDetector, type TrainDetectorOptions, type TrainDetectorResult, type TrainEvent } from '../train/detector-fit.js';
import { writeFileAtomic } from '../util/atomic.js';
import { availableCores } from '../util/cores.js';
import { formatDuration } from '../util/progress.js';
import { Rng } from '../util/rng.js';

/** Evaluation keeps every detection down to this score (the VOC/COCO convention). */
export const EVAL_MIN_SCORE = 0.05;
/** Overlays show what users look at: predict's default threshold. */
export const OVERLAY_SCORE = 0.7;

/**
 * The demo's training defaults. The step count (epochs) is the budget, so the figure is the same
 * on every machine: 50 epochs of 18 steps (900) at 256 px took 185–188 s of training on a quiet
 * 2-core AVX-512 machine (720 steps took 333 s on an AVX2 one, so about 7 minutes there). From
 * scratch the detector finds the cells within ~100 steps; telling the two classes apart comes
 * later and suddenly, after a plateau whose length varies with the data and the seed. The LR is
 * torchvision's 0.02 scaled to the batch (its reference trains 16 images a step at 0.02 and says to
 * scale linearly: 0.0025 for 2). At 0.02 the plateau outlasted 720 steps on three data seeds of
 * five, at 0.0025 on one, and at 0.0025 with 900 steps on one of seven (docs/detection-training.md,
 * "Learning the synthetic classes"). So small images and many steps beat large images and few.
 * The minutes are a safety net that stops (and saves) the run on a slower or busier machine; when
 * they bind, the LR drop comes at 90% of the steps they allow instead of never
 * (src/train/budget-lr-steps.ts).
 */
export const DEMO_TRAIN_DEFAULTS = { preset: 'light', imageSize: 256, epochs: 50, minutes: 9, batchSize: 2, lr: 0.0025 } as const;

/**
 * The demo's LR drop (×0.1) in epochs: late, at 90% of the epochs. From scratch the classes
 * separate only after a few hundred steps at full rate; torchvision's drops at 70% and 90% come too early.
 */
export function demoLrSteps(epochs: number): number[] {
  const drop = Math.ceil(0.9 * epochs);
  return drop > 0 && drop < epochs ? [drop] : [];
}

/** How the demo trains. */
export interface DemoTrainOptions {
  /** Model preset (default `light`). */
  preset?: string;
  /** Training resolution: the short and long side of the resized image (default 256). */
  imageSize?: number;
  /** Epochs over the training images (default 50). */
  epochs?: number;
  /** Stop training after this many minutes whatever the epoch (default 9). */
  minutes?: number;
  /** Images per step (default 2). */
  batchSize?: number;
  /** Negative control: permute the class labels of the training boxes (seeded) before training. */
  shuffleLabels?: boolean;
  /** Optimizer settings (default: SGD at lr 0.0025, `DEMO_TRAIN_DEFAULTS.lr`; AdamW without an lr: trainDetector's 1e-4; LR drop {@link demoLrSteps}). */
  optimizer?: TrainDetectorOptions['optimizer'];
  /** Config overrides on top of the preset (the image size comes from `imageSize`). */
  config?: ConfigOverrides;
  /** Augmentation (default {@link DEMO_AUGMENT}). */
  augment?: AugmentOptions;
}

/** The demo's augmentation: the cells have no orientation, so every flip and quarter turn is a new sample. */
export const DEMO_AUGMENT: AugmentOptions = { hflip: 0.5, vflip: 0.5, rotate90: 0.5 };

export interface DetectStageInput {
  outDir: string;
  /** Folder of the LabelImg XML files (the synthetic channels folder). */
  annotationDir: string;
  /** Folder of the merged RGB images. */
  imageDir: string;
  /** Every annotation, by id (file name without extension). */
  annotations: ReadonlyMap<string, ImageAnnotation>;
  trainIds: readonly string[];
  heldOutIds: readonly string[];
  seed: number;
  options: DemoTrainOptions;
  log: (line: string) => void;
}

export interface DetectStageResult {
  train: TrainDetectorResult;
  /** Seconds of training (without building the graphs is not separable: wall time of the run). */
  trainSeconds: number;
  evaluation: DetectionEvaluation;
  /**
   * Finding cells whatever their class: one class, each cell's detections of both classes merged
   * by NMS at IoU 0.5 (the best-scoring kept). Separates "finds the cells" from "tells them apart".
   */
  cellFinding: DetectionEvaluation;
  metricsFile: string;
  prCurve: string;
  /** Held-out overlay ids (detections/{id}.png). */
  detectionOverlayIds: string[];
  predictions: ImagePrediction[];
  /** The resolved training settings, for the report. */
  settings: Required<Omit<DemoTrainOptions, 'shuffleLabels' | 'optimizer' | 'config' | 'augment'>> & { shuffleLabels: boolean; optimizer: string };
}

/** Train, predict on the held-out images, evaluate, draw the detections. */
export async function runDetectStage(input: DetectStageInput): Promise<DetectStageResult> {
  const o = input.options;
  const d = DEMO_TRAIN_DEFAULTS;
  // The demo's LR is for SGD; AdamW without an lr keeps trainDetector's own default.
  const adamw = o.optimizer?.kind === 'adamw';
  const lr = o.optimizer?.lr ?? (adamw ? undefined : d.lr);
  const settings = {
    preset: o.preset ?? d.preset,
    imageSize: o.imageSize ?? d.imageSize,
    epochs: o.epochs ?? d.epochs,
    minutes: o.minutes ?? d.minutes,
    batchSize: o.batchSize ?? d.batchSize,
    shuffleLabels: o.shuffleLabels ?? false,
    optimizer: lr === undefined ? "AdamW at trainDetector's default lr" : `${adamw ? 'AdamW' : 'SGD'} at lr ${lr}`,
  };
  const dirs = {
    model: path.join(input.outDir, 'model'),
    predictions: path.join(input.outDir, 'predictions'),
    evaluation: path.join(input.outDir, 'evaluation'),
    detections: path.join(input.outDir, 'detections'),
  };
  const annotationDir = settings.shuffleLabels ? await writeShuffledLabels(input, path.join(input.outDir, 'shuffled-labels')) : input.annotationDir;

  const t0 = performance.now();
  const train = await trainDetector({
    preset: settings.preset,
    config: { ...o.config, transform: { ...o.config?.transform, minSize: settings.imageSize, maxSize: settings.imageSize } },
    data: { annotations: annotationDir, images: input.imageDir, ids: input.trainIds },
    // The held-out images are for the final score only; without validation the last checkpoint is the model.
    valFraction: 0,
    epochs: settings.epochs,
    timeBudgetMinutes: settings.minutes,
    batchSize: settings.batchSize,
    optimizer: { ...o.optimizer, lrSteps: o.optimizer?.lrSteps ?? demoLrSteps(settings.epochs), ...(lr === undefined ? {} : { lr }) },
    augment: o.augment ?? DEMO_AUGMENT,
    outDir: dirs.model,
    seed: input.seed,
    threads: availableCores(),
  }, trainLogger(input.log));
  const trainSeconds = (performance.now() - t0) / 1000;

  // The checkpoint stores its preset, config (sizes included) and class names, as predict reads them.
  const model = await resolveModelConfig(train.last, undefined);
  const detector = await Detector.load(train.last, model.preset, { config: model.config });
  let predictions: ImagePrediction[];
  try {
    const files = input.heldOutIds.map((id) => path.join(input.imageDir, input.annotations.get(id)!.filename));
    const summary = await predictFiles(detector, files, {
      outDir: dirs.predictions,
      classNames: model.classes ?? [],
      scoreThreshold: EVAL_MIN_SCORE,
      overwrite: true,
      voc: false,
      overlays: false,
    });
    if (summary.failures.length > 0) throw new Error(`predict failed on ${summary.failures.map((f) => `${f.image}: ${f.reason}`).join('; ')}`);
    predictions = summary.predictions;
  } finally {
    await detector.release();
  }

  // Scored exactly as `hpa-detect evaluate --gt channels --pred predictions/ --ids held-out` would.
  const gt = await readGroundTruth(input.annotationDir, 'voc', input.imageDir);
  const preds = await readPredictions(path.join(dirs.predictions, 'predictions.json'));
  const paired = pairDetections(gt, preds, { ids: input.heldOutIds });
  const evaluation = evaluateDetections(paired.gt, paired.preds, { classNames: paired.classNames, minScore: EVAL_MIN_SCORE });
  const cellFinding = classAgnostic(paired.gt, paired.preds);
  await mkdir(dirs.evaluation, { recursive: true });
  const metricsFile = path.join(dirs.evaluation, 'metrics.json');
  const extra = { heldOut: input.heldOutIds, minScore: EVAL_MIN_SCORE, shuffledLabels: settings.shuffleLabels, cellFinding: metricsDocument(cellFinding, {}, false) };
  await writeFileAtomic(metricsFile, `${JSON.stringify(metricsDocument(evaluation, extra), null, 2)}\n`);
  const prCurve = path.join(dirs.evaluation, 'pr-curve.png');
  const curve = await renderPrCurve(evaluation.perClass.map((c) => ({ name: c.name, precision: c.precision, recall: c.recall, ap: c.ap50 })), { title: 'Held-out images, IoU 0.5' });
  await writeFileAtomic(prCurve, curve.png);
  input.log(`[demo] held-out mAP@0.5 ${evaluation.map50.toFixed(3)}, mAP@[.5:.95] ${evaluation.mapCoco.toFixed(3)} on ${input.heldOutIds.length} images; finding cells (any class): AP@0.5 ${cellFinding.map50.toFixed(3)}`);

  const detectionOverlayIds = await drawDetections(predictions, dirs.detections);
  return { train, trainSeconds, evaluation, cellFinding, metricsFile, prCurve, detectionOverlayIds, predictions, settings };
}

/** One-class evaluation: every gt a cell, each image's detections merged across classes by NMS. */
function classAgnostic(gt: readonly EvalGroundTruth[], preds: readonly EvalPrediction[]): DetectionEvaluation {
  const oneClass = (n: number) => new Int32Array(n).fill(1);
  const merged = preds.map((p) => {
    const keep = nmsSync(p.boxes, p.scores, 0.5);
    return { boxes: gatherBoxes(p.boxes, keep), scores: Float32Array.from(keep, (k) => p.scores[k]!), labels: oneClass(keep.length) };
  });
  const cells = gt.map((g) => ({ ...g, labels: oneClass(g.labels.length) }));
  return evaluateDetections(cells, merged, { classNames: ['cell'], minScore: EVAL_MIN_SCORE });
}

function trainLogger(log: (line: string) => void): (e: TrainEvent) => void {
  let lastLine = 0;
  return (e) => {
    if (e.kind === 'start') log(`[demo] training ${e.config.preset} on ${e.trainImages} images, up to ${e.steps} steps (${e.stepsPerEpoch} per epoch)`);
    else if (e.kind === 'step') {
      // A line every 15 s: the demo's stages already print their own progress.
      const now = performance.now();
      if (now - lastLine < 15_000 && e.result.step !== e.totalSteps) return;
      lastLine = now;
      const perStep = e.elapsedSeconds / Math.max(1, e.result.step);
      const l = e.result.losses;
      log(`[demo]   step ${e.result.step}/${e.totalSteps} loss ${l.total.toFixed(3)} (rpn ${l.rpn_cls.toFixed(3)}/${l.rpn_reg.toFixed(3)}, roi ${l.cls.toFixed(3)}/${l.reg.toFixed(3)}), ${perStep.toFixed(1)} s/step, ETA ${formatDuration(perStep * (e.totalSteps - e.result.step))}`);
    } else if (e.kind === 'epoch') log(`[demo]   epoch ${e.record.epoch + 1}: mean loss ${e.record.train.total.toFixed(3)}`);
    else if (e.kind === 'lr-drop') log(`[demo]   ${describeLrDrop(e)}`);
    else log(`[demo]   training stopped: ${e.reason}`);
  };
}

/**
 * The negative control's training labels: every box keeps its place, the class names are
 * permuted across all training boxes (seeded), so the classes carry no information.
 */
async function writeShuffledLabels(input: DetectStageInput, dir: string): Promise<string> {
  const rng = new Rng(input.seed + 7919);
  const names = input.trainIds.flatMap((id) => input.annotations.get(id)!.objects.map((obj) => obj.name));
  for (let i = names.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  await mkdir(dir, { recursive: true });
  let k = 0;
  for (const id of input.trainIds) {
    const a = input.annotations.get(id)!;
    const objects = a.objects.map((obj) => ({ ...obj, name: names[k++]! }));
    await writeFileAtomic(path.join(dir, `${id}.xml`), formatVocXml({ ...a, objects }));
  }
  return dir;
}

async function drawDetections(predictions: readonly ImagePrediction[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ids: string[] = [];
  for (const p of predictions) {
    const kept = p.detections.filter((d) => d.score >= OVERLAY_SCORE);
    const annotation: ImageAnnotation = {
      filename: path.basename(p.image),
      width: p.width,
      height: p.height,
      depth: 3,
      objects: kept.map((d) => ({ name: d.className, x1: d.box[0], y1: d.box[1], x2: d.box[2], y2: d.box[3], score: d.score })),
    };
    await writeFileAtomic(path.join(dir, `${p.name}.png`), await renderOverlay(p.image, annotation));
    ids.push(p.name);
  }
  return ids;
}
