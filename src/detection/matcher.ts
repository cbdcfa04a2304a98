/**
 * torchvision's proposal Matcher (models/detection/_utils.py): assigns each prediction (anchor
 * or proposal) the ground-truth box it overlaps most, or a negative code.
 *
 * Input: a match-quality matrix (usually the IoU) Float32Array [M*N], row-major, M ground-truth
 * boxes by N predictions. For prediction j, the best ground truth is the first row with the
 * column maximum (torch's max(dim=0) tie rule); with that value v:
 *   v < lowThreshold                   -> BELOW_LOW_THRESHOLD (-1)
 *   lowThreshold <= v < highThreshold  -> BETWEEN_THRESHOLDS (-2)
 *   v >= highThreshold                 -> the ground-truth index
 * Thresholds are compared in float32, as torch compares a float tensor with a Python float.
 * With allowLowQualityMatches, every prediction that attains, for some ground truth g, g's
 * highest quality over all predictions (ties: all of them) gets back its best-gt index from the
 * first step (which may be another ground truth than g, exactly as torchvision does).
 * A NaN quality (the IoU of two empty boxes is 0/0) behaves as in torch: max() propagates it
 * with its (first) index, NaN compares false with both thresholds so that index is kept, and a
 * ground truth whose row holds a NaN has a NaN maximum that equals nothing.
 *
 * The work is native (native/matcher.cc): `match` runs over a given matrix, `matchBoxesSync` /
 * `matchBoxes` compute the IoU on the fly and never store the G x N matrix (the RPN's 20 x
 * 268 569 matrix is 21 MB). Predictions are processed in parallel, with results independent of
 * the thread count. {@link matchQualityReference} is the plain TypeScript version of `match`
 * (the reference the tests compare the native kernel with).
 */
import { native } from '../native.js';

export const BELOW_LOW_THRESHOLD = -1;
export const BETWEEN_THRESHOLDS = -2;

/** Everything the matcher computes for one image. */
export interface MatchDetails {
  /** Per prediction [N]: the matched gt index, BELOW_LOW_THRESHOLD (-1) or BETWEEN_THRESHOLDS (-2). */
  matches: Int32Array;
  /** Per prediction [N]: its best quality (IoU) over the ground truths (NaN as torch's max). */
  bestQuality: Float32Array;
  /** Per ground truth [G]: its largest quality over all predictions (NaN if its row has a NaN). */
  gtMaxQuality: Float32Array;
}

/** Options of the native matcher calls. */
export interface MatchOptions {
  /** Threads (0 or undefined: the default, HPA_NUM_THREADS or min(cores, 8)); results do not depend on it. */
  threads?: number;
}

type MatchBoxesFn = (gt: Float32Array, pred: Float32Array, high: number, low: number, allow: boolean, threads?: number) => MatchDetails;
type MatchQualityFn = (q: Float32Array, numGt: number, numPred: number, high: number, low: number, allow: boolean, threads?: number) => MatchDetails;
const addon = native as unknown as {
  matchBoxesSync: MatchBoxesFn;
  matchBoxes: (...a: Parameters<MatchBoxesFn>) => Promise<MatchDetails>;
  matchQualitySync: MatchQualityFn;
  matchQuality: (...a: Parameters<MatchQualityFn>) => Promise<MatchDetails>;
};

export class Matcher {
  readonly highThreshold: number;
  readonly lowThreshold: number;
  readonly allowLowQualityMatches: boolean;

  constructor(highThreshold: number, lowThreshold: number, allowLowQualityMatches = false) {
    for (const [name, v] of [['highThreshold', highThreshold], ['lowThreshold', lowThreshold]] as const) {
      if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
      if (!Number.isFinite(v)) throw new RangeError(`${name} must be finite`);
    }
    if (lowThreshold > highThreshold) {
      throw new RangeError(`lowThreshold (${lowThreshold}) must be <= highThreshold (${highThreshold})`);
    }
    if (typeof allowLowQualityMatches !== 'boolean') throw new TypeError('allowLowQualityMatches must be a boolean');
    this.highThreshold = highThreshold;
    this.lowThreshold = lowThreshold;
    this.allowLowQualityMatches = allowLowQualityMatches;
  }

  /**
   * Matches for `numPredictions` columns of `quality` [numGt * numPredictions]. Returns
   * Int32Array [numPredictions]: a ground-truth index, -1 or -2. Throws RangeError (as
   * torchvision raises ValueError) when there is no ground truth or no prediction.
   */
  match(quality: Float32Array, numGt: number, numPredictions: number): Int32Array {
    if (!(quality instanceof Float32Array)) throw new TypeError('quality must be a Float32Array');
    for (const [name, v] of [['numGt', numGt], ['numPredictions', numPredictions]] as const) {
      if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
    }
    if (quality.length !== numGt * numPredictions) {
      throw new RangeError(`quality length must be numGt*numPredictions (${numGt * numPredictions}), got ${quality.length}`);
    }
    if (numGt === 0) throw new RangeError('No ground-truth boxes available for one of the images during training');
    if (numPredictions === 0) throw new RangeError('No proposal boxes available for one of the images during training');
    return addon.matchQualitySync(quality, numGt, numPredictions, this.highThreshold, this.lowThreshold, this.allowLowQualityMatches).matches;
  }

  /**
   * Matches `predictions` [N*4] to `gtBoxes` [G*4] (x1, y1, x2, y2, finite) by their IoU, exactly
   * as `match(boxIouSync(gtBoxes, predictions), G, N)` but without the matrix; also returns each
   * prediction's best IoU and each gt's largest IoU. RangeError when G or N is 0.
   */
  matchBoxesSync(gtBoxes: Float32Array, predictions: Float32Array, options: MatchOptions = {}): MatchDetails {
    return addon.matchBoxesSync(gtBoxes, predictions, this.highThreshold, this.lowThreshold, this.allowLowQualityMatches, options.threads);
  }

  /** {@link matchBoxesSync} on the thread pool (do not modify the inputs until it settles). */
  matchBoxes(gtBoxes: Float32Array, predictions: Float32Array, options: MatchOptions = {}): Promise<MatchDetails> {
    try {
      return addon.matchBoxes(gtBoxes, predictions, this.highThreshold, this.lowThreshold, this.allowLowQualityMatches, options.threads);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/**
 * The TypeScript reference of {@link Matcher.match} (two passes over the matrix): same result,
 * kept for the tests and the benchmark.
 */
export function matchQualityReference(
  quality: Float32Array,
  numGt: number,
  numPredictions: number,
  highThreshold: number,
  lowThreshold: number,
  allowLowQualityMatches: boolean,
): Int32Array {
  const n = numPredictions;
  const low = Math.fround(lowThreshold), high = Math.fround(highThreshold);
  // Column maxima, first row on ties; a NaN wins once seen and is never replaced (torch's max).
  const bestVal = quality.slice(0, n);
  const best = new Int32Array(n);
  for (let g = 1; g < numGt; g++) {
    const row = g * n;
    for (let j = 0; j < n; j++) {
      const v = quality[row + j]!;
      const b = bestVal[j]!;
      if (v > b || (v !== v && b === b)) {
        bestVal[j] = v;
        best[j] = g;
      }
    }
  }
  const matches = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const v = bestVal[j]!;
    if (v < low) matches[j] = BELOW_LOW_THRESHOLD;
    else if (v >= low && v < high) matches[j] = BETWEEN_THRESHOLDS;
    else matches[j] = best[j]!;
  }
  if (allowLowQualityMatches) {
    for (let g = 0; g < numGt; g++) {
      const row = g * n;
      let hi = -Infinity;
      let nan = false;
      for (let j = 0; j < n; j++) {
        const v = quality[row + j]!;
        if (v !== v) nan = true;
        else if (v > hi) hi = v;
      }
      if (nan) continue; // max is NaN: `quality == NaN` matches nothing
      for (let j = 0; j < n; j++) if (quality[row + j] === hi) matches[j] = best[j]!;
    }
  }
  return matches;
}
