/**
 * torchvision's BalancedPositiveNegativeSampler (models/detection/_utils.py), seeded with the
 * project's Rng instead of torch.randperm (whose picks no other framework can reproduce).
 *
 * Labels per prediction: >= 1 positive (foreground), 0 negative (background), anything else
 * (e.g. -1 ignore, -2 between thresholds) is never sampled. Per image it picks
 *   numPos = min(#positives, floor(batchSizePerImage * positiveFraction))
 *   numNeg = min(#negatives, batchSizePerImage - numPos)
 * positives and negatives uniformly without replacement (a partial Fisher-Yates shuffle).
 */
import { Rng } from '../util/rng.js';

/** One image's sample: 0/1 masks over the predictions and the picked indices (increasing). */
export interface SampledMasks {
  positive: Uint8Array;
  negative: Uint8Array;
  positiveIndices: Int32Array;
  negativeIndices: Int32Array;
}

export class BalancedPositiveNegativeSampler {
  readonly batchSizePerImage: number;
  readonly positiveFraction: number;

  /**
   * @param batchSizePerImage predictions sampled per image (integer >= 0), e.g. 256 for the RPN
   * @param positiveFraction at most this fraction of them positive, in [0, 1], e.g. 0.5
   */
  constructor(batchSizePerImage: number, positiveFraction: number) {
    if (typeof batchSizePerImage !== 'number') throw new TypeError('batchSizePerImage must be a number');
    if (!Number.isInteger(batchSizePerImage) || batchSizePerImage < 0) {
      throw new RangeError(`batchSizePerImage must be an integer >= 0, got ${batchSizePerImage}`);
    }
    if (typeof positiveFraction !== 'number') throw new TypeError('positiveFraction must be a number');
    if (!(positiveFraction >= 0 && positiveFraction <= 1)) {
      throw new RangeError(`positiveFraction must be in [0, 1], got ${positiveFraction}`);
    }
    this.batchSizePerImage = batchSizePerImage;
    this.positiveFraction = positiveFraction;
  }

  /** Samples one image's labels (Int32Array, Float32Array or number[]) with `rng`. */
  sampleImage(labels: ArrayLike<number>, rng: Rng): SampledMasks {
    if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') {
      throw new TypeError('labels must be an array or typed array of numbers');
    }
    if (!(rng instanceof Rng)) throw new TypeError('rng must be an Rng');
    const pos: number[] = [];
    const neg: number[] = [];
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      if (typeof v !== 'number' || Number.isNaN(v)) throw new RangeError(`labels[${i}] must be a number, got ${v}`);
      if (v >= 1) pos.push(i);
      else if (v === 0) neg.push(i);
    }
    const numPos = Math.min(pos.length, Math.floor(this.batchSizePerImage * this.positiveFraction));
    const numNeg = Math.min(neg.length, this.batchSizePerImage - numPos);
    const pickedPos = pickK(pos, numPos, rng);
    const pickedNeg = pickK(neg, numNeg, rng);
    const positive = new Uint8Array(labels.length);
    const negative = new Uint8Array(labels.length);
    for (const i of pickedPos) positive[i] = 1;
    for (const i of pickedNeg) negative[i] = 1;
    return {
      positive,
      negative,
      positiveIndices: Int32Array.from(pickedPos).sort(),
      negativeIndices: Int32Array.from(pickedNeg).sort(),
    };
  }

  /** {@link sampleImage} for each image, in order, with one shared `rng`. */
  sample(labelsPerImage: readonly ArrayLike<number>[], rng: Rng): SampledMasks[] {
    if (!Array.isArray(labelsPerImage)) throw new TypeError('labelsPerImage must be an array');
    return labelsPerImage.map((l) => this.sampleImage(l, rng));
  }
}

/** The first k of a uniform random permutation of items (partial Fisher-Yates, in place). */
function pickK(items: number[], k: number, rng: Rng): number[] {
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (items.length - i));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items.slice(0, k);
}
