/**
 * RPN training targets as torchvision's RegionProposalNetwork computes them
 * (models/detection/rpn.py: assign_targets_to_anchors, box_coder.encode, fg_bg_sampler), one
 * image at a time:
 *
 *   IoU(gt, anchors) → Matcher(0.7, 0.3, allow_low_quality_matches=True)   (fused, native)
 *   labels: 1 where matched to a gt box, 0 below 0.3, -1 between the thresholds (never sampled)
 *   regression targets: BoxCoder(1, 1, 1, 1).encode(gt[max(match, 0)], anchors) for every anchor
 *   sample: BalancedPositiveNegativeSampler(256, 0.5) over the labels
 *
 * Anchors are in the order the RPN head outputs are flattened (level, then y, x, anchor; see
 * infer/rpn-proposals.ts), boxes x1, y1, x2, y2 float32.
 */
import { Rng } from '../util/rng.js';
import { BoxCoder } from './boxes.js';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from './matcher.js';
import { BalancedPositiveNegativeSampler } from './sampler.js';

/** torchvision's RPN training defaults (FasterRCNN's rpn_* arguments). */
export interface RpnTargetOptions {
  /** IoU at or above which an anchor is foreground (rpn_fg_iou_thresh, 0.7). */
  fgIouThresh?: number;
  /** IoU below which an anchor is background (rpn_bg_iou_thresh, 0.3). */
  bgIouThresh?: number;
  /** Anchors sampled per image (rpn_batch_size_per_image, 256). */
  batchSizePerImage?: number;
  /** Largest fraction of positives in the sample (rpn_positive_fraction, 0.5). */
  positiveFraction?: number;
}

/** One image's anchor assignment (before sampling). */
export interface RpnAssignment {
  /** Matcher output per anchor [A]: gt index, -1 (below 0.3) or -2 (between thresholds). */
  matchedIdxs: Int32Array;
  /** Per anchor [A]: 1 foreground, 0 background, -1 ignored (float, as torchvision's BCE target). */
  labels: Float32Array;
  /**
   * Per anchor [A*4]: (dx, dy, dw, dh) of its matched gt box (gt 0 for unmatched anchors, as
   * torchvision's clamp(min=0)) relative to the anchor, weights (1, 1, 1, 1). Only the sampled
   * positives' rows enter the loss. An image without gt boxes gets zeros (torchvision encodes
   * zero boxes there, giving -inf in dw, dh; the values are never used).
   */
  regressionTargets: Float32Array;
}

/** One image's targets: the assignment and the sampled anchors. */
export interface RpnTargets extends RpnAssignment {
  /** Sampled positive anchors (increasing). */
  positiveIndices: Int32Array;
  /** Sampled negative anchors (increasing). */
  negativeIndices: Int32Array;
}

/** Where the sample comes from: the seeded sampler, or given indices (e.g. torchvision's, in tests). */
export type SampleSource = { rng: Rng } | { sampled: { positiveIndices: ArrayLike<number>; negativeIndices: ArrayLike<number> } };

const RPN_CODER = new BoxCoder([1, 1, 1, 1]);

export function checkBoxArray(boxes: unknown, name: string): number {
  if (!(boxes instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array of x1,y1,x2,y2 boxes`);
  if (boxes.length % 4 !== 0) throw new RangeError(`${name} length must be a multiple of 4, got ${boxes.length}`);
  return boxes.length / 4;
}

/**
 * Ground-truth boxes must be finite with x2 > x1 and y2 > y1: torchvision's GeneralizedRCNN
 * raises for degenerate boxes, because a zero-area box has IoU 0 with every anchor and the
 * low-quality rule would then make almost every anchor positive. Returns the box count.
 */
export function checkGtBoxes(gtBoxes: unknown, name = 'gtBoxes'): number {
  const n = checkBoxArray(gtBoxes, name);
  const b = gtBoxes as Float32Array;
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = [b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!];
    if (![x1, y1, x2, y2].every(Number.isFinite)) throw new RangeError(`${name}[${i}] must be finite, got [${x1}, ${y1}, ${x2}, ${y2}]`);
    if (!(x2 > x1 && y2 > y1)) throw new RangeError(`${name}[${i}] is degenerate (needs x2 > x1 and y2 > y1): [${x1}, ${y1}, ${x2}, ${y2}]`);
  }
  return n;
}

/** Rows `indices` of the [n*4] box array. */
export function gatherRows(boxes: Float32Array, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * 4);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    out[4 * j] = boxes[4 * i]!;
    out[4 * j + 1] = boxes[4 * i + 1]!;
    out[4 * j + 2] = boxes[4 * i + 2]!;
    out[4 * j + 3] = boxes[4 * i + 3]!;
  }
  return out;
}

/**
 * Checks injected sample indices against the labels (positives must have label >= 1, negatives
 * label 0, no index twice) and returns them sorted.
 */
export function checkedSample(
  sampled: { positiveIndices: ArrayLike<number>; negativeIndices: ArrayLike<number> },
  labels: ArrayLike<number>,
  name: string,
): { positiveIndices: Int32Array; negativeIndices: Int32Array } {
  const seen = new Uint8Array(labels.length);
  const check = (idx: ArrayLike<number>, which: string, ok: (l: number) => boolean): Int32Array => {
    if (idx === null || typeof idx !== 'object' || typeof idx.length !== 'number') {
      throw new TypeError(`${name}.${which} must be an array of indices`);
    }
    const out = Int32Array.from(idx);
    out.forEach((i, k) => {
      if (!Number.isInteger(idx[k]) || i < 0 || i >= labels.length) {
        throw new RangeError(`${name}.${which}[${k}] must be an index in [0, ${labels.length}), got ${idx[k]}`);
      }
      if (!ok(labels[i]!)) throw new RangeError(`${name}.${which}[${k}] = ${i} has label ${labels[i]}`);
      if (seen[i]) throw new RangeError(`${name}.${which}[${k}] = ${i} is sampled twice`);
      seen[i] = 1;
    });
    return out.sort();
  };
  return {
    positiveIndices: check(sampled.positiveIndices, 'positiveIndices', (l) => l >= 1),
    negativeIndices: check(sampled.negativeIndices, 'negativeIndices', (l) => l === 0),
  };
}

/**
 * torchvision's assign_targets_to_anchors + box_coder.encode for one image: `anchors` [A*4],
 * `gtBoxes` [G*4] (G may be 0: a background image, every anchor negative).
 */
export function assignRpnTargets(anchors: Float32Array, gtBoxes: Float32Array, options: RpnTargetOptions = {}): RpnAssignment {
  const numAnchors = checkBoxArray(anchors, 'anchors');
  const numGt = checkGtBoxes(gtBoxes);
  const labels = new Float32Array(numAnchors);
  if (numGt === 0) {
    // Background image: all anchors negative; matched index 0 is what clamp(min=0) leaves.
    return { matchedIdxs: new Int32Array(numAnchors).fill(BELOW_LOW_THRESHOLD), labels, regressionTargets: new Float32Array(numAnchors * 4) };
  }
  const matcher = new Matcher(options.fgIouThresh ?? 0.7, options.bgIouThresh ?? 0.3, true);
  // Native fused IoU + match: the same result as match(boxIouSync(gtBoxes, anchors)) without the G x A matrix.
  const { matches: matchedIdxs } = matcher.matchBoxesSync(gtBoxes, anchors);
  const clamped = new Int32Array(numAnchors);
  for (let j = 0; j < numAnchors; j++) {
    const m = matchedIdxs[j]!;
    clamped[j] = Math.max(m, 0);
    labels[j] = m >= 0 ? 1 : m === BETWEEN_THRESHOLDS ? -1 : 0;
  }
  const regressionTargets = RPN_CODER.encodeSync(gatherRows(gtBoxes, clamped), anchors);
  return { matchedIdxs, labels, regressionTargets };
}

/**
 * RPN targets of one image: {@link assignRpnTargets} then the balanced sample (256 anchors,
 * at most half positive by default) drawn from `source.rng`, or `source.sampled` as given.
 */
export function rpnTargets(anchors: Float32Array, gtBoxes: Float32Array, source: SampleSource, options: RpnTargetOptions = {}): RpnTargets {
  const a = assignRpnTargets(anchors, gtBoxes, options);
  return { ...a, ...sampleFrom(source, a.labels, options.batchSizePerImage ?? 256, options.positiveFraction ?? 0.5, 'source.sampled') };
}

/** The sample of one image from a {@link SampleSource}. */
export function sampleFrom(
  source: SampleSource,
  labels: ArrayLike<number>,
  batchSizePerImage: number,
  positiveFraction: number,
  name: string,
): { positiveIndices: Int32Array; negativeIndices: Int32Array } {
  if (source === null || typeof source !== 'object') throw new TypeError('source must be { rng } or { sampled }');
  if ('sampled' in source) return checkedSample(source.sampled, labels, name);
  if (!(source.rng instanceof Rng)) throw new TypeError('source.rng must be an Rng');
  const s = new BalancedPositiveNegativeSampler(batchSizePerImage, positiveFraction).sampleImage(labels, source.rng);
  return { positiveIndices: s.positiveIndices, negativeIndices: s.negativeIndices };
}
