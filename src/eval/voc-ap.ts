/**
 * Precision/recall and PASCAL VOC average precision from per-detection outcomes, as
 * py-faster-rcnn's voc_eval / voc_ap compute them.
 */

/**
 * Cumulative precision and recall after each detection (in score order): recall = TP / numGt,
 * precision = TP / max(TP + FP, ε). Ignored detections (both flags 0) repeat the previous point.
 * With numGt = 0 recall is NaN (there is nothing to recall).
 */
export function precisionRecall(tp: ArrayLike<number>, fp: ArrayLike<number>, numGt: number): { precision: Float64Array; recall: Float64Array } {
  const n = tp.length;
  const precision = new Float64Array(n), recall = new Float64Array(n);
  let t = 0, f = 0;
  for (let i = 0; i < n; i++) {
    t += tp[i]!;
    f += fp[i]!;
    recall[i] = numGt > 0 ? t / numGt : NaN;
    precision[i] = t / Math.max(t + f, Number.EPSILON);
  }
  return { precision, recall };
}

/**
 * All-point AP (VOC2010 and later): the area under the precision envelope (precision made
 * monotone decreasing from the right), summed where recall changes. NaN when any recall is NaN.
 */
export function vocApAllPoint(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = recall.length;
  if (Array.prototype.some.call(recall, Number.isNaN)) return NaN;
  // Sentinels as voc_ap: recall 0 … 1, precision 0 … 0.
  const mrec = [0, ...Array.from(recall), 1];
  const mpre = [0, ...Array.from(precision), 0];
  for (let i = n; i > 0; i--) mpre[i] = Math.max(mpre[i]!, mpre[i + 1]!);
  let ap = 0;
  for (let i = 0; i <= n; i++) if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!;
  return ap;
}

/**
 * 11-point interpolated AP (VOC2007): mean over t = 0, 0.1, …, 1 of the highest precision at
 * recall ≥ t (0 when recall never reaches t). The thresholds are i·0.1 in floating point, as
 * numpy's arange(0, 1.1, 0.1) gives them (so 3·0.1 = 0.30000000000000004 > 0.3).
 */
export function vocAp11Point(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  if (Array.prototype.some.call(recall, Number.isNaN)) return NaN;
  let ap = 0;
  for (let i = 0; i <= 10; i++) {
    const t = i * 0.1;
    let p = 0;
    for (let k = 0; k < recall.length; k++) if (recall[k]! >= t && precision[k]! > p) p = precision[k]!;
    ap += p / 11;
  }
  return ap;
}
