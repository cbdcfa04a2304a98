/**
 * Faster R-CNN's four training losses and their gradients with respect to the network outputs,
 * computed as torchvision 0.14 does (rpn.py compute_loss, roi_heads.py fastrcnn_loss):
 *
 *   loss_objectness  = BCE-with-logits over the sampled anchors of the batch, mean
 *   loss_rpn_box_reg = Σ smooth-L1(β = 1/9) over the sampled positive anchors' 4 deltas
 *                      / number of sampled anchors (positives and negatives, whole batch)
 *   loss_classifier  = softmax cross-entropy over the sampled RoIs, mean
 *   loss_box_reg     = Σ smooth-L1(β = 1/9) over the positive RoIs' deltas of their own class
 *                      / number of sampled RoIs
 *
 * These run natively (in TypeScript, on the few hundred sampled rows) rather than in a graph:
 * the gradients are returned in the exact layout of the graph segments' outputs, ready to feed
 * their `grad.<output>` inputs (docs/detection-training.md says why). Sums run in float64; the
 * losses are returned as float64 numbers, the gradients as float32.
 */
import type { RpnTargets } from '../detection/targets-rpn.js';

/** torchvision's smooth-L1 β for both box losses. */
export const BOX_LOSS_BETA = 1 / 9;

/** One FPN level of segment 1's RPN head outputs for the whole batch. */
export interface RpnHeadLevel {
  /** Objectness logits [N, A, h, w] (segment 1 output `objectness.<l>`). */
  objectness: Float32Array;
  /** Box deltas [N, 4A, h, w], channel 4a + c (segment 1 output `deltas.<l>`). */
  deltas: Float32Array;
  height: number;
  width: number;
}

/** RPN losses and gradients: one gradient array per level, shaped as the head outputs. */
export interface RpnLoss {
  lossObjectness: number;
  lossRpnBoxReg: number;
  /** Sampled anchors in the batch (the divisor of both losses). */
  numSampled: number;
  /** d(lossObjectness)/d objectness, per level [N, A, h, w]. */
  gradObjectness: Float32Array[];
  /** d(lossRpnBoxReg)/d deltas, per level [N, 4A, h, w]. */
  gradDeltas: Float32Array[];
}

/** What the RoI loss needs from each image's {@link RoiTargets}. */
export interface RoiLossTargets {
  /** Class per sampled RoI [S_i] (0 background). */
  labels: Int32Array;
  /** Encoded targets per sampled RoI [S_i*4]. */
  regressionTargets: Float32Array;
}

/** RoI-head losses and gradients, shaped as segment 2's outputs. */
export interface RoiLoss {
  lossClassifier: number;
  lossBoxReg: number;
  numSampled: number;
  /** d(lossClassifier)/d classLogits [S, C]. */
  gradClassLogits: Float32Array;
  /** d(lossBoxReg)/d boxRegression [S, 4C]. */
  gradBoxRegression: Float32Array;
}

function checkF32(v: unknown, name: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  return v;
}

/** Smooth-L1 value and derivative in d = pred − target (torch's: quadratic where |d| < β). */
function smoothL1(d: number, beta: number): [number, number] {
  const ad = Math.abs(d);
  if (ad < beta) return [(0.5 * d * d) / beta, d / beta];
  return [ad - 0.5 * beta, d > 0 ? 1 : -1];
}

/** BCE-with-logits value and derivative (x: logit, t: target in [0, 1]). */
function bceWithLogits(x: number, t: number): [number, number] {
  const value = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
  const sig = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  return [value, sig - t];
}

/**
 * torchvision's RPN compute_loss for a batch of `targets.length` images. `levels` are segment
 * 1's head outputs with `anchorsPerLocation` anchors per position; image i's anchors are ordered
 * level by level, (y, x, anchor) within a level, as targets-rpn expects.
 */
export function rpnLoss(levels: readonly RpnHeadLevel[], anchorsPerLocation: number, targets: readonly Pick<RpnTargets, 'labels' | 'regressionTargets' | 'positiveIndices' | 'negativeIndices'>[]): RpnLoss {
  if (!Array.isArray(levels) || levels.length === 0) throw new TypeError('levels must be a non-empty array of RPN head outputs');
  if (!Array.isArray(targets) || targets.length === 0) throw new TypeError('targets must be a non-empty array (one per image)');
  const a = anchorsPerLocation;
  if (!Number.isInteger(a) || a < 1) throw new RangeError(`anchorsPerLocation must be an integer >= 1, got ${a}`);
  const n = targets.length;
  let perImage = 0;
  levels.forEach((l, li) => {
    checkF32(l.objectness, `levels[${li}].objectness`);
    checkF32(l.deltas, `levels[${li}].deltas`);
    const hw = l.height * l.width;
    if (!Number.isInteger(hw) || hw < 0) throw new RangeError(`levels[${li}] height/width must be integers >= 0`);
    if (l.objectness.length !== n * a * hw) throw new RangeError(`levels[${li}].objectness has ${l.objectness.length} values, expected ${n}x${a}x${l.height}x${l.width}`);
    if (l.deltas.length !== 4 * n * a * hw) throw new RangeError(`levels[${li}].deltas has ${l.deltas.length} values, expected ${n}x${4 * a}x${l.height}x${l.width}`);
    perImage += a * hw;
  });
  targets.forEach((t, i) => {
    if (t.labels.length !== perImage) throw new RangeError(`targets[${i}].labels has ${t.labels.length} entries, the levels have ${perImage} anchors per image`);
    if (t.regressionTargets.length !== 4 * perImage) throw new RangeError(`targets[${i}].regressionTargets has ${t.regressionTargets.length} values, expected ${4 * perImage}`);
  });
  const numSampled = targets.reduce((s, t) => s + t.positiveIndices.length + t.negativeIndices.length, 0);
  if (numSampled === 0) throw new RangeError('rpnLoss: no anchor sampled in the batch (the losses would be 0/0)');

  // Anchor k of an image → its level and the offsets of its logit and first delta channel.
  const starts: number[] = [];
  let s = 0;
  for (const l of levels) { starts.push(s); s += a * l.height * l.width; }
  const locate = (img: number, k: number): [number, number, number] => {
    let li = levels.length - 1;
    while (starts[li]! > k) li--;
    const l = levels[li]!;
    const hw = l.height * l.width;
    const local = k - starts[li]!;
    const p = Math.floor(local / a), anchor = local % a;
    return [li, (img * a + anchor) * hw + p, (img * 4 * a + 4 * anchor) * hw + p];
  };

  const gradObjectness = levels.map((l) => new Float32Array(l.objectness.length));
  const gradDeltas = levels.map((l) => new Float32Array(l.deltas.length));
  let cls = 0, reg = 0;
  targets.forEach((t, img) => {
    for (const [indices, positive] of [[t.positiveIndices, true], [t.negativeIndices, false]] as const) {
      for (const k of indices) {
        const [li, oi, di] = locate(img, k);
        const [v, g] = bceWithLogits(levels[li]!.objectness[oi]!, t.labels[k]!);
        cls += v;
        gradObjectness[li]![oi]! += g / numSampled; // += : a repeated index counts twice, as in torch
        if (!positive) continue;
        const hw = levels[li]!.height * levels[li]!.width;
        for (let c = 0; c < 4; c++) {
          const [rv, rg] = smoothL1(levels[li]!.deltas[di + c * hw]! - t.regressionTargets[4 * k + c]!, BOX_LOSS_BETA);
          reg += rv;
          gradDeltas[li]![di + c * hw]! += rg / numSampled;
        }
      }
    }
  });
  return { lossObjectness: cls / numSampled, lossRpnBoxReg: reg / numSampled, numSampled, gradObjectness, gradDeltas };
}

/**
 * torchvision's fastrcnn_loss: `classLogits` [S, C] and `boxRegression` [S, 4C] are segment 2's
 * outputs for the sampled RoIs of all images in order (S = Σ targets[i].labels.length).
 */
export function roiLoss(classLogits: Float32Array, boxRegression: Float32Array, targets: readonly RoiLossTargets[]): RoiLoss {
  checkF32(classLogits, 'classLogits');
  checkF32(boxRegression, 'boxRegression');
  if (!Array.isArray(targets) || targets.length === 0) throw new TypeError('targets must be a non-empty array (one per image)');
  const numSampled = targets.reduce((s, t) => s + t.labels.length, 0);
  if (numSampled === 0) throw new RangeError('roiLoss: no RoI sampled in the batch (the losses would be 0/0)');
  if (classLogits.length % numSampled !== 0) throw new RangeError(`classLogits has ${classLogits.length} values, not a multiple of the ${numSampled} sampled RoIs`);
  const c = classLogits.length / numSampled;
  if (boxRegression.length !== 4 * c * numSampled) throw new RangeError(`boxRegression has ${boxRegression.length} values, expected ${numSampled}x${4 * c}`);
  const gradClassLogits = new Float32Array(classLogits.length);
  const gradBoxRegression = new Float32Array(boxRegression.length);
  let cls = 0, reg = 0;
  let row = 0;
  targets.forEach((t, img) => {
    if (t.regressionTargets.length !== 4 * t.labels.length) throw new RangeError(`targets[${img}].regressionTargets has ${t.regressionTargets.length} values for ${t.labels.length} labels`);
    for (let j = 0; j < t.labels.length; j++, row++) {
      const label = t.labels[j]!;
      if (!Number.isInteger(label) || label < 0 || label >= c) throw new RangeError(`targets[${img}].labels[${j}] must be a class in [0, ${c}), got ${label}`);
      // Cross-entropy: logsumexp − x_label; gradient softmax − onehot.
      const x = classLogits.subarray(row * c, row * c + c);
      let max = -Infinity;
      for (const v of x) max = Math.max(max, v);
      let sum = 0;
      for (const v of x) sum += Math.exp(v - max);
      cls += max + Math.log(sum) - x[label]!;
      for (let k = 0; k < c; k++) gradClassLogits[row * c + k] = (Math.exp(x[k]! - max) / sum - (k === label ? 1 : 0)) / numSampled;
      if (label === 0) continue;
      const o = row * 4 * c + 4 * label;
      for (let q = 0; q < 4; q++) {
        const [v, g] = smoothL1(boxRegression[o + q]! - t.regressionTargets[4 * j + q]!, BOX_LOSS_BETA);
        reg += v;
        gradBoxRegression[o + q] = g / numSampled;
      }
    }
  });
  return { lossClassifier: cls / numSampled, lossBoxReg: reg / numSampled, numSampled, gradClassLogits, gradBoxRegression };
}
