/**
 * Pairs predictions with ground-truth images by file name and turns both into the arrays
 * evaluateDetections takes. A prediction's image matches the ground-truth image with the same
 * base name (`merged/a.png` ↔ `a.png`), else the one with the same name without extension
 * (`a.png` ↔ `a.jpg`, or an HPA channel set `fields/a` ↔ `a.png`).
 */
import path from 'node:path';
import type { GroundTruthSet } from './read-ground-truth.js';
import type { EvalGroundTruth, EvalPrediction } from './map.js';
import type { PredictionSet } from './read-predictions.js';

/** Ground truth and predictions aligned image by image. */
export interface PairedDetections {
  /** Class names, label 1 first: the given list, else the ground truth's classes sorted, then classes only predicted, sorted. */
  classNames: string[];
  /** Classes that appear only in the predictions (no ground truth: left out of the means). */
  predictionOnlyClasses: string[];
  /** Ground-truth image ids (file name without extension), in evaluation order. */
  imageIds: string[];
  gt: EvalGroundTruth[];
  preds: EvalPrediction[];
  /** Ground-truth images no prediction entry names (evaluated as having no detections). */
  withoutPrediction: string[];
  /** Of those, the ones the predictor reported as failed. */
  failed: string[];
  /** Prediction entries for ground-truth images outside `ids` (left out). */
  outsideIds: number;
}

/** Options of {@link pairDetections}. */
export interface PairOptions {
  /** Class names in label order (label = index + 1); default: see PairedDetections.classNames. */
  classes?: readonly string[];
  /** Evaluate only these image ids (file names without extension, e.g. the lines of val.txt). */
  ids?: readonly string[];
}

/** Prediction images that match no ground-truth image; the message lists them. */
export class UnmatchedPredictionsError extends Error {
  override name = 'UnmatchedPredictionsError';
  constructor(readonly names: string[], file: string) {
    super(`${file}: ${names.length} predicted image(s) have no ground truth: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''} (matched by file name, then by name without extension)`);
  }
}

const baseName = (p: string) => path.basename(p.replace(/\\/g, '/'));
const stem = (p: string) => baseName(p).replace(/\.[^.]*$/, '');

/**
 * Align `preds` with `gt`. With `ids`, only those images are evaluated; predictions for other
 * ground-truth images are left out (counted), an id without ground truth is a RangeError.
 */
export function pairDetections(gt: GroundTruthSet, preds: PredictionSet, options: PairOptions = {}): PairedDetections {
  const { classes } = options;
  const images = [...gt.images].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byBase = new Map<string, number>(), byStem = new Map<string, number>();
  images.forEach((im, i) => {
    byBase.set(baseName(im.annotation.filename), i);
    byStem.set(im.id, i);
  });
  const find = (image: string) => byBase.get(baseName(image)) ?? byStem.get(stem(image));

  const gtNames = new Set(images.flatMap((im) => im.annotation.objects.map((o) => o.name)));
  const predNames = new Set(preds.images.flatMap((im) => im.detections.flatMap((d) => (d.className !== undefined ? [d.className] : []))));
  const classNames = classes ? [...classes] : [...[...gtNames].sort(), ...[...predNames].filter((n) => !gtNames.has(n)).sort()];
  const labelOf = new Map(classNames.map((n, i) => [n, i + 1]));
  const unknown = [...gtNames, ...predNames].filter((n) => !labelOf.has(n));
  if (unknown.length > 0) throw new RangeError(`class(es) ${unknown.join(', ')} are not in the class list (${classNames.join(', ')})`);

  const unmatched: string[] = [];
  const predOf = new Array<PredictionSet['images'][number] | undefined>(images.length);
  for (const p of preds.images) {
    const i = find(p.image);
    if (i === undefined) unmatched.push(p.image);
    else if (predOf[i]) throw new RangeError(`${preds.file}: ${p.image} and ${predOf[i]!.image} are both predictions for ${images[i]!.annotation.filename}`);
    else predOf[i] = p;
  }
  if (unmatched.length > 0) throw new UnmatchedPredictionsError(unmatched, preds.file);
  let keep = images.map(() => true);
  if (options.ids) {
    const wanted = new Set(options.ids);
    const known = new Set(images.map((im) => im.id));
    const missing = [...wanted].filter((id) => !known.has(id));
    if (missing.length > 0) throw new RangeError(`${missing.length} id(s) have no ground truth: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    keep = images.map((im) => wanted.has(im.id));
  }

  const failedIdx = new Set(preds.failed.map(find).filter((i): i is number => i !== undefined));
  const out: PairedDetections = {
    classNames,
    predictionOnlyClasses: classes ? [] : [...predNames].filter((n) => !gtNames.has(n)).sort(),
    imageIds: images.filter((_, i) => keep[i]).map((im) => im.id),
    gt: [],
    preds: [],
    withoutPrediction: [],
    failed: [],
    outsideIds: predOf.filter((p, i) => p && !keep[i]).length,
  };
  images.forEach((im, i) => {
    if (!keep[i]) return;
    const objects = im.annotation.objects;
    out.gt.push({
      boxes: Float32Array.from(objects.flatMap((o) => [o.x1, o.y1, o.x2, o.y2])),
      labels: Int32Array.from(objects, (o) => labelOf.get(o.name)!),
      difficult: Uint8Array.from(objects, (o) => (o.difficult ? 1 : 0)),
    });
    const p = predOf[i];
    if (!p) {
      out.withoutPrediction.push(im.annotation.filename);
      if (failedIdx.has(i)) out.failed.push(im.annotation.filename);
    }
    const dets = p?.detections ?? [];
    out.preds.push({
      boxes: Float32Array.from(dets.flatMap((d) => d.box)),
      scores: Float32Array.from(dets, (d) => d.score),
      labels: Int32Array.from(dets, (d) => {
        const label = d.className !== undefined ? labelOf.get(d.className)! : d.label!;
        if (!(label >= 1 && label <= classNames.length)) throw new RangeError(`${preds.file}: category_id ${label} of ${p!.image} is outside 1..${classNames.length} (${classNames.join(', ')})`);
        return label;
      }),
    });
  });
  return out;
}
