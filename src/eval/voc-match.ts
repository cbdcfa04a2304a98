/**
 * PASCAL VOC matching of one class's detections over a set of images (VOC devkit VOCevaldet,
 * py-faster-rcnn voc_eval): detections in decreasing score (stable across images: image order,
 * then the image's own order), each compared with every ground-truth box of its image; the box
 * with the highest IoU (the first one on ties) decides:
 *  - IoU below the threshold: false positive;
 *  - a difficult box: ignored (neither true nor false positive; the box stays unmatched, so
 *    several detections may land on it);
 *  - a box not yet matched: true positive, the box is now matched;
 *  - a box already matched: false positive (a duplicate), even when another box would fit.
 * The threshold is inclusive (IoU ≥ t, as the devkit's `ovmax >= minoverlap`).
 */
import { boxCount, byDecreasingScore, type ClassImage } from './class-images.js';
import { pairIou } from './iou.js';

/** Outcome per detection, in the evaluation's (score) order. */
export interface VocMatches {
  /** Scores in decreasing order. */
  scores: Float64Array;
  /** 1 where the detection is a true positive. */
  tp: Uint8Array;
  /** 1 where it is a false positive (both 0: it hit a difficult box and is ignored). */
  fp: Uint8Array;
  /** Ground-truth boxes that count (not difficult): the recall denominator. */
  numGt: number;
}

/** Match one class's detections on `images` at IoU ≥ `iouThreshold`. */
export function vocMatch(images: readonly ClassImage[], iouThreshold: number): VocMatches {
  const owners: { image: number; det: number; score: number }[] = [];
  let numGt = 0;
  images.forEach((im, image) => {
    for (let det = 0; det < im.detScores.length; det++) owners.push({ image, det, score: im.detScores[det]! });
    for (let g = 0; g < im.gtIgnore.length; g++) if (!im.gtIgnore[g]) numGt++;
  });
  const order = byDecreasingScore(owners.map((o) => o.score));
  const matched = images.map((im) => new Uint8Array(im.gtIgnore.length));
  const n = order.length;
  const out: VocMatches = { scores: new Float64Array(n), tp: new Uint8Array(n), fp: new Uint8Array(n), numGt };
  order.forEach((k, rank) => {
    const { image, det, score } = owners[k]!;
    const im = images[image]!;
    out.scores[rank] = score;
    let best = -Infinity;
    let bestGt = -1;
    for (let g = 0; g < boxCount(im.gtBoxes); g++) {
      const iou = pairIou(im.detBoxes, det, im.gtBoxes, g);
      if (iou > best) [best, bestGt] = [iou, g];
    }
    if (bestGt < 0 || best < iouThreshold) out.fp[rank] = 1;
    else if (im.gtIgnore[bestGt]) return;
    else if (matched[image]![bestGt]) out.fp[rank] = 1;
    else {
      matched[image]![bestGt] = 1;
      out.tp[rank] = 1;
    }
  });
  return out;
}
