/**
 * Detection evaluation: mean average precision of predictions against ground truth, per class
 * and overall, by the two published protocols:
 *  - PASCAL VOC at IoU 0.5 (all-point AP of VOC2010+ and 11-point AP of VOC2007), see voc-match.ts;
 *  - COCO AP@[.5:.95] (pycocotools, bbox, area 'all', 100 detections per image and class), see coco-ap.ts.
 * Boxes are x1, y1, x2, y2 in continuous pixels; IoU has no +1.
 *
 * Conventions: detections scoring below `minScore` are dropped first (both protocols); difficult
 * ground truth is ignored (VOC difficult, COCO crowd: never missed, and detections on it count
 * neither way); a class without counting ground truth has NaN APs and is left out of every mean
 * (pycocotools' -1); its detections are still counted in numDetections. An image without
 * detections simply contributes its ground truth as misses.
 */
import { type ClassImage } from './class-images.js';
import { cocoClassAp, COCO_MAX_DETS } from './coco-ap.js';
import { precisionRecall, vocAp11Point, vocApAllPoint } from './voc-ap.js';
import { vocMatch } from './voc-match.js';

/** Ground truth of one image. */
export interface EvalGroundTruth {
  /** [n, 4] x1, y1, x2, y2. */
  boxes: Float32Array;
  /** [n] class ids 1..K. */
  labels: Int32Array;
  /** [n] 1 = difficult (ignored). */
  difficult?: Uint8Array;
}

/** Detections of one image. */
export interface EvalPrediction {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

/** Options of {@link evaluateDetections}. */
export interface EvaluateOptions {
  /** K; default: the largest label in ground truth, predictions or classNames.length. */
  numClasses?: number;
  /** Names of classes 1..K (index 0 names class 1); default `class<k>`. */
  classNames?: readonly string[];
  /** Drop detections scoring below this first (default 0.05). */
  minScore?: number;
  /** More VOC IoU thresholds to report all-point AP at (e.g. [0.75]); see `atIou` in the result. */
  extraIouThresholds?: readonly number[];
  /** COCO detections kept per image and class (default 100). */
  maxDets?: number;
}

/** One class's figures. */
export interface ClassEvaluation {
  label: number;
  name: string;
  /** Ground-truth boxes that count (difficult ones excluded). */
  numGt: number;
  /** Detections at or above minScore. */
  numDetections: number;
  /** VOC all-point AP at IoU 0.5 (NaN without ground truth). */
  ap50: number;
  /** VOC2007 11-point AP at IoU 0.5. */
  ap50_11pt: number;
  /** COCO AP@[.5:.95]. */
  apCoco: number;
  /** Precision and recall after each detection in score order, VOC matching at IoU 0.5 (the PR curve). */
  precision: Float64Array;
  recall: Float64Array;
  /** All-point AP at each of `extraIouThresholds`, in that order. */
  apAtIou: number[];
}

/** The result of {@link evaluateDetections}. */
export interface DetectionEvaluation {
  /** Mean over classes with ground truth of ap50 (NaN when no class has any). */
  map50: number;
  map50_11pt: number;
  mapCoco: number;
  perClass: ClassEvaluation[];
  /** Mean all-point AP at each extra IoU threshold. */
  atIou: { iou: number; map: number }[];
  /** Images given, and those without any detection at or above minScore. */
  numImages: number;
  imagesWithoutDetections: number;
}

/** Mean of the values that are not NaN (NaN when there is none). */
export function meanOfDefined(values: readonly number[]): number {
  const ok = values.filter((v) => !Number.isNaN(v));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}

/** Evaluate `preds[i]` against `gt[i]` for every image i; see the file comment for the conventions. */
export function evaluateDetections(gt: readonly EvalGroundTruth[], preds: readonly EvalPrediction[], options: EvaluateOptions = {}): DetectionEvaluation {
  if (!Array.isArray(gt)) throw new TypeError('gt must be an array of per-image ground truth');
  if (!Array.isArray(preds)) throw new TypeError('preds must be an array of per-image predictions');
  if (gt.length !== preds.length) throw new RangeError(`gt has ${gt.length} images but preds has ${preds.length}; they must be the same images in the same order`);
  const minScore = options.minScore ?? 0.05;
  if (typeof minScore !== 'number' || !Number.isFinite(minScore)) throw new RangeError(`options.minScore must be a finite number, got ${String(minScore)}`);
  const maxDets = options.maxDets ?? COCO_MAX_DETS;
  if (!Number.isInteger(maxDets) || maxDets < 1) throw new RangeError(`options.maxDets must be a positive integer, got ${String(maxDets)}`);
  const extraIous = options.extraIouThresholds ?? [];
  extraIous.forEach((t, i) => {
    if (!(t > 0 && t <= 1)) throw new RangeError(`options.extraIouThresholds[${i}] must be in (0, 1], got ${String(t)}`);
  });
  gt.forEach((g, i) => checkImage(g, `gt[${i}]`, false));
  preds.forEach((p, i) => checkImage(p, `preds[${i}]`, true));

  // reduce, not Math.max(...spread): tens of thousands of images would overflow the argument list.
  const numClasses = options.numClasses ?? [...gt, ...preds].reduce((m, x) => Math.max(m, maxOf(x.labels)), options.classNames?.length ?? 0);
  if (!Number.isInteger(numClasses) || numClasses < 0) throw new RangeError(`options.numClasses must be a non-negative integer, got ${String(numClasses)}`);
  const labelCheck = (labels: Int32Array, where: string) => {
    for (let i = 0; i < labels.length; i++) if (labels[i]! < 1 || labels[i]! > numClasses) throw new RangeError(`${where}.labels[${i}] = ${labels[i]} is outside 1..${numClasses} (options.numClasses)`);
  };
  gt.forEach((g, i) => labelCheck(g.labels, `gt[${i}]`));
  preds.forEach((p, i) => labelCheck(p.labels, `preds[${i}]`));

  const perClass: ClassEvaluation[] = [];
  for (let label = 1; label <= numClasses; label++) {
    const images = gt.map((g, i) => classImage(g, preds[i]!, label, minScore));
    const voc = vocMatch(images, 0.5);
    const { precision, recall } = precisionRecall(voc.tp, voc.fp, voc.numGt);
    perClass.push({
      label,
      name: options.classNames?.[label - 1] ?? `class${label}`,
      numGt: voc.numGt,
      numDetections: voc.scores.length,
      ap50: vocApAllPoint(recall, precision),
      ap50_11pt: vocAp11Point(recall, precision),
      apCoco: cocoClassAp(images, maxDets).ap,
      precision,
      recall,
      apAtIou: extraIous.map((t) => {
        const m = vocMatch(images, t);
        const pr = precisionRecall(m.tp, m.fp, m.numGt);
        return vocApAllPoint(pr.recall, pr.precision);
      }),
    });
  }
  return {
    map50: meanOfDefined(perClass.map((c) => c.ap50)),
    map50_11pt: meanOfDefined(perClass.map((c) => c.ap50_11pt)),
    mapCoco: meanOfDefined(perClass.map((c) => c.apCoco)),
    perClass,
    atIou: extraIous.map((iou, k) => ({ iou, map: meanOfDefined(perClass.map((c) => c.apAtIou[k]!)) })),
    numImages: gt.length,
    imagesWithoutDetections: preds.filter((p) => !p.scores.some((s: number) => s >= minScore)).length,
  };
}

function maxOf(labels: Int32Array | undefined): number {
  let m = 0;
  if (labels) for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i]!);
  return m;
}

function checkImage(x: EvalGroundTruth | EvalPrediction, where: string, isPrediction: boolean): void {
  if (typeof x !== 'object' || x === null) throw new TypeError(`${where} must be an object with boxes and labels`);
  if (!(x.boxes instanceof Float32Array)) throw new TypeError(`${where}.boxes must be a Float32Array [n, 4]`);
  if (!(x.labels instanceof Int32Array)) throw new TypeError(`${where}.labels must be an Int32Array [n]`);
  const n = x.labels.length;
  if (x.boxes.length !== 4 * n) throw new RangeError(`${where}.boxes has ${x.boxes.length} values, expected 4 × ${n} labels`);
  for (let i = 0; i < x.boxes.length; i++) if (!Number.isFinite(x.boxes[i]!)) throw new RangeError(`${where}.boxes[${i}] is not finite`);
  if (isPrediction) {
    const s = (x as EvalPrediction).scores;
    if (!(s instanceof Float32Array)) throw new TypeError(`${where}.scores must be a Float32Array [n]`);
    if (s.length !== n) throw new RangeError(`${where}.scores has ${s.length} values, expected ${n}`);
    for (let i = 0; i < n; i++) if (Number.isNaN(s[i]!)) throw new RangeError(`${where}.scores[${i}] is NaN`);
  } else {
    const d = (x as EvalGroundTruth).difficult;
    if (d !== undefined && (!(d instanceof Uint8Array) || d.length !== n)) throw new TypeError(`${where}.difficult must be a Uint8Array of ${n} flags`);
  }
}

function classImage(g: EvalGroundTruth, p: EvalPrediction, label: number, minScore: number): ClassImage {
  const gtIdx: number[] = [], detIdx: number[] = [];
  for (let i = 0; i < g.labels.length; i++) if (g.labels[i] === label) gtIdx.push(i);
  for (let i = 0; i < p.labels.length; i++) if (p.labels[i] === label && p.scores[i]! >= minScore) detIdx.push(i);
  const pick = (boxes: Float32Array, idx: number[]) => {
    const out = new Float32Array(4 * idx.length);
    idx.forEach((i, k) => out.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k));
    return out;
  };
  return {
    gtBoxes: pick(g.boxes, gtIdx),
    gtIgnore: Uint8Array.from(gtIdx, (i) => (g.difficult?.[i] ? 1 : 0)),
    detBoxes: pick(p.boxes, detIdx),
    detScores: Float32Array.from(detIdx, (i) => p.scores[i]!),
  };
}
