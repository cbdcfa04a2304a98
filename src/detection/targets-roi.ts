/**
 * RoI-head training samples as torchvision's RoIHeads.select_training_samples makes them
 * (models/detection/roi_heads.py), one image at a time:
 *
 *   candidates = proposals ++ gt boxes (add_gt_proposals: every gt box is also a proposal)
 *   IoU(gt, candidates) → Matcher(0.5, 0.5, allow_low_quality_matches=False)
 *   labels: the matched gt box's class; 0 (background) below 0.5; -1 between the thresholds
 *     (never sampled; with torchvision's equal thresholds there is no "between")
 *   sample: BalancedPositiveNegativeSampler(512, 0.25); the sampled candidates in increasing
 *     index order (torch.where(pos | neg)), positives and negatives interleaved
 *   regression targets: BoxCoder(10, 10, 5, 5).encode(matched gt box, sampled proposal)
 *
 * Boxes x1, y1, x2, y2 float32 in the resized image's coordinates.
 */
import { BoxCoder, boxIouSync } from './boxes.js';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from './matcher.js';
import { checkBoxArray, checkGtBoxes, gatherRows, sampleFrom, type SampleSource } from './targets-rpn.js';

/** torchvision's RoI-head training defaults (FasterRCNN's box_* arguments). */
export interface RoiTargetOptions {
  /** IoU at or above which a proposal is foreground (box_fg_iou_thresh, 0.5). */
  fgIouThresh?: number;
  /** IoU below which a proposal is background (box_bg_iou_thresh, 0.5). */
  bgIouThresh?: number;
  /** RoIs sampled per image (box_batch_size_per_image, 512). */
  batchSizePerImage?: number;
  /** Largest fraction of positives in the sample (box_positive_fraction, 0.25). */
  positiveFraction?: number;
  /** BoxCoder weights (10, 10, 5, 5). */
  weights?: readonly [number, number, number, number];
}

/** Assignment of every candidate (proposals then gt boxes), before sampling. */
export interface RoiAssignment {
  /** proposals ++ gtBoxes [(P+G)*4]. */
  candidates: Float32Array;
  /** Matcher output per candidate [P+G]: gt index, -1 (background) or -2 (between). */
  matchedIdxs: Int32Array;
  /** Class per candidate [P+G]: gt label, 0 background, -1 ignored. */
  labels: Int32Array;
}

/** One image's training RoIs: what the box head runs on and what its loss compares with. */
export interface RoiTargets {
  /** Sampled RoIs [S*4] (rows of `candidates`). */
  proposals: Float32Array;
  /** Their indices into proposals ++ gtBoxes (increasing). */
  sampledIndices: Int32Array;
  /** Class per sampled RoI [S] (0 background). */
  labels: Int32Array;
  /** Matched gt index per sampled RoI [S] (0 for background, torchvision's clamp(min=0)). */
  matchedIdxs: Int32Array;
  /** Encoded matched gt box per sampled RoI [S*4], weights (10, 10, 5, 5); zeros without gt. */
  regressionTargets: Float32Array;
}

function checkLabels(gtLabels: unknown, numGt: number): ArrayLike<number> {
  if (!(gtLabels instanceof Int32Array || gtLabels instanceof BigInt64Array || Array.isArray(gtLabels))) {
    throw new TypeError('gtLabels must be an Int32Array, BigInt64Array or number[]');
  }
  if (gtLabels.length !== numGt) throw new RangeError(`gtLabels has ${gtLabels.length} entries for ${numGt} gt boxes`);
  const out = new Int32Array(numGt);
  for (let i = 0; i < numGt; i++) {
    const v = Number(gtLabels[i]);
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`gtLabels[${i}] must be a class id >= 1 (0 is background), got ${gtLabels[i]}`);
    out[i] = v;
  }
  return out;
}

/** torchvision's add_gt_proposals + assign_targets_to_proposals for one image. */
export function assignRoiTargets(
  proposals: Float32Array,
  gtBoxes: Float32Array,
  gtLabels: Int32Array | BigInt64Array | readonly number[],
  options: RoiTargetOptions = {},
): RoiAssignment {
  const numProposals = checkBoxArray(proposals, 'proposals');
  const numGt = checkGtBoxes(gtBoxes);
  const classes = checkLabels(gtLabels, numGt);
  const n = numProposals + numGt;
  const candidates = new Float32Array(n * 4);
  candidates.set(proposals);
  candidates.set(gtBoxes, proposals.length);
  const labels = new Int32Array(n);
  if (numGt === 0) {
    // Background image: every candidate is background (torchvision: zeros for labels and matches).
    return { candidates, matchedIdxs: new Int32Array(n).fill(BELOW_LOW_THRESHOLD), labels };
  }
  const matcher = new Matcher(options.fgIouThresh ?? 0.5, options.bgIouThresh ?? 0.5, false);
  const matchedIdxs = matcher.match(boxIouSync(gtBoxes, candidates), numGt, n);
  for (let j = 0; j < n; j++) {
    const m = matchedIdxs[j]!;
    labels[j] = m >= 0 ? classes[m]! : m === BETWEEN_THRESHOLDS ? -1 : 0;
  }
  return { candidates, matchedIdxs, labels };
}

/**
 * torchvision's select_training_samples for one image: {@link assignRoiTargets}, the balanced
 * sample (512, a quarter positive by default) from `source.rng` or `source.sampled` (indices into
 * proposals ++ gtBoxes), and the regression targets of the sampled RoIs.
 */
export function roiTargets(
  proposals: Float32Array,
  gtBoxes: Float32Array,
  gtLabels: Int32Array | BigInt64Array | readonly number[],
  source: SampleSource,
  options: RoiTargetOptions = {},
): RoiTargets {
  const a = assignRoiTargets(proposals, gtBoxes, gtLabels, options);
  const s = sampleFrom(source, a.labels, options.batchSizePerImage ?? 512, options.positiveFraction ?? 0.25, 'source.sampled');
  // torch.where(pos | neg): one increasing list.
  const sampledIndices = new Int32Array(s.positiveIndices.length + s.negativeIndices.length);
  sampledIndices.set(s.positiveIndices);
  sampledIndices.set(s.negativeIndices, s.positiveIndices.length);
  sampledIndices.sort();
  const sampled = gatherRows(a.candidates, sampledIndices);
  const labels = Int32Array.from(sampledIndices, (i) => a.labels[i]!);
  const matchedIdxs = Int32Array.from(sampledIndices, (i) => Math.max(a.matchedIdxs[i]!, 0));
  const numGt = gtBoxes.length / 4;
  const regressionTargets = numGt === 0
    ? new Float32Array(sampledIndices.length * 4)
    : new BoxCoder(options.weights ?? [10, 10, 5, 5]).encodeSync(gatherRows(gtBoxes, matchedIdxs), sampled);
  return { proposals: sampled, sampledIndices, labels, matchedIdxs, regressionTargets };
}
