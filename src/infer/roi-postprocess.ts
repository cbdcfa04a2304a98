/**
 * torchvision's RoIHeads.postprocess_detections (models/detection/roi_heads.py) for one image:
 * softmax over class logits, class-specific boxes decoded from the proposals with
 * BoxCoder(10, 10, 5, 5), clipped to the resized image; the background column dropped; scores
 * strictly above score_thresh; boxes at least 1e-2 wide and high; NMS per class; the
 * detections_per_img best, in decreasing score.
 */
import { BoxCoder, clipBoxesToImage, removeSmallBoxes } from '../detection/boxes.js';
import { batchedNmsSync } from '../detection/nms.js';
import type { BoxHeadConfig } from '../models/presets.js';
import { gatherBoxes } from './rpn-proposals.js';

/** Detections of one image: boxes [D*4] (x1, y1, x2, y2), scores [D], labels [D] (1..numClasses−1). */
export interface Detections {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

const BOX_CODER = new BoxCoder([10, 10, 5, 5]);
/** roi_heads.py's remove_small_boxes min_size. */
const DETECTION_MIN_SIZE = 1e-2;

/** Row-wise softmax of [rows, cols] logits in float32 (max-subtracted, as torch computes it). */
export function softmaxRows(logits: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(logits.length);
  const f = Math.fround;
  for (let r = 0; r < logits.length; r += cols) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[r + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum = f(sum + (out[r + c] = f(Math.exp(f(logits[r + c]! - max)))));
    const inv = f(1 / sum);
    for (let c = 0; c < cols; c++) out[r + c] = f(out[r + c]! * inv);
  }
  return out;
}

/**
 * Detections from the box head's outputs for the proposals of one image.
 * @param classLogits [K, numClasses]; @param boxRegression [K, 4·numClasses];
 * @param proposals [K*4] in resized-image coordinates; @param imageSize resized [h, w].
 */
export function postprocessDetections(
  classLogits: Float32Array,
  boxRegression: Float32Array,
  proposals: Float32Array,
  numClasses: number,
  imageSize: readonly [number, number],
  cfg: Pick<BoxHeadConfig, 'scoreThresh' | 'nmsThresh' | 'detectionsPerImg'>,
): Detections {
  const k = proposals.length / 4;
  if (classLogits.length !== k * numClasses) throw new RangeError(`classLogits has ${classLogits.length} values, expected ${k}x${numClasses}`);
  if (boxRegression.length !== k * numClasses * 4) throw new RangeError(`boxRegression has ${boxRegression.length} values, expected ${k}x${4 * numClasses}`);
  const scores = softmaxRows(classLogits, numClasses);
  // Candidates in torchvision's order: proposal-major, classes 1..C-1 (background dropped).
  const cand: number[] = [];
  for (let i = 0; i < k; i++) {
    for (let c = 1; c < numClasses; c++) if (scores[i * numClasses + c]! > cfg.scoreThresh) cand.push(i * numClasses + c);
  }
  // torchvision decodes and clips every (proposal, class) box, then selects; decoding is per box,
  // so decoding just the candidates (their class's deltas against their proposal) gives the same
  // boxes with a fraction of the work (usually a few hundred of K·C).
  const candDeltas = new Float32Array(cand.length * 4);
  const candProps = new Float32Array(cand.length * 4);
  for (let j = 0; j < cand.length; j++) {
    const i = Math.floor(cand[j]! / numClasses);
    candDeltas.set(boxRegression.subarray(cand[j]! * 4, cand[j]! * 4 + 4), j * 4);
    candProps.set(proposals.subarray(i * 4, i * 4 + 4), j * 4);
  }
  let cb = clipBoxesToImage(BOX_CODER.decodeSync(candDeltas, candProps), [imageSize[0], imageSize[1]]);
  let cs = Float32Array.from(cand, (j) => scores[j]!);
  let cl = Int32Array.from(cand, (j) => j % numClasses);
  const big = removeSmallBoxes(cb, DETECTION_MIN_SIZE);
  if (big.length !== cand.length) {
    cb = gatherBoxes(cb, big);
    cs = Float32Array.from(big, (j) => cs[j]!);
    cl = Int32Array.from(big, (j) => cl[j]!);
  }
  const keep = batchedNmsSync(cb, cs, cl, cfg.nmsThresh, { maxOutput: cfg.detectionsPerImg });
  return { boxes: gatherBoxes(cb, keep), scores: Float32Array.from(keep, (j) => cs[j]!), labels: Int32Array.from(keep, (j) => cl[j]!) };
}
