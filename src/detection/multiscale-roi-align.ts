/**
 * Multi-scale RoIAlign over FPN levels: torchvision.ops.MultiScaleRoIAlign (Faster/Mask R-CNN's
 * box and mask poolers), forward and backward, native.
 *
 * Each RoI is pooled from one level, chosen by torchvision's LevelMapper (FPN paper, eq. 1):
 *   k = clamp(⌊canonicalLevel + log2(√area / canonicalScale) + 1e-6⌋, kMin, kMax)
 * computed in float32 as torch does, with kMin = -log2(scales[0]), kMax = -log2(scales[L-1])
 * (level index = k - kMin). A box with negative area (one inverted side) gets level -1 and a zero
 * output row (in torchvision its level is undefined and its row stays zero too).
 * The scales are inferred as torchvision's `_setup_scales` does: from the largest image height
 * (and width) in the batch, scale = 2^round(log2(featureHeight / maxImageHeight)).
 *
 * Defaults follow torchvision's MultiScaleRoIAlign: samplingRatio 2, aligned false, canonical
 * scale 224 at level 4. Naming: `foo()` returns a Promise (off the event loop), `fooSync()` blocks.
 */
import { native } from '../native.js';
import { outputHW, type FeatureShape, type OutputSize } from './roi-align.js';

/** One FPN level: NCHW features and their shape (all levels share N and C). */
export interface FeatureLevel {
  data: Float32Array;
  shape: FeatureShape;
}

export interface MultiScaleRoiAlignOptions {
  /** Output [h, w] (or one number), default 7. */
  outputSize?: OutputSize;
  /** Sampling points per bin and axis, ≤ 0 adaptive; default 2 (torchvision's poolers). */
  samplingRatio?: number;
  /** torchvision's MultiScaleRoIAlign calls roi_align with aligned=false (the default here). */
  aligned?: boolean;
  /** Level scales (feature / image), consecutive powers of two, largest first; default inferred. */
  scales?: readonly number[];
  /** LevelMapper canonical box size, default 224. */
  canonicalScale?: number;
  /** LevelMapper level of a canonical box, default 4. */
  canonicalLevel?: number;
  /** Threads for this call (default: min(cores, 8) or env HPA_NUM_THREADS); results do not depend on it. */
  threads?: number;
}

export interface MultiScaleRoiAlignResult {
  /** Float32Array [K, C, outH, outW], rows in the order of `rois`. */
  output: Float32Array;
  /** Level index (0 = first level) per RoI, -1 for none; pass it to the backward. */
  levels: Int32Array;
  /** The scales used (inferred or given). */
  scales: number[];
}

export type MultiScaleRoiAlignBackwardOptions = Pick<
  MultiScaleRoiAlignOptions,
  'outputSize' | 'samplingRatio' | 'aligned' | 'threads'
>;

const addon = native as unknown as {
  roiLevelsSync(rois: Float32Array, scales: readonly number[], canonicalScale: number, canonicalLevel: number): Int32Array;
  multiScaleRoiAlignSync(...args: unknown[]): { output: Float32Array; levels: Int32Array };
  multiScaleRoiAlign(...args: unknown[]): Promise<{ output: Float32Array; levels: Int32Array }>;
  multiScaleRoiAlignBackwardSync(...args: unknown[]): Float32Array[];
  multiScaleRoiAlignBackward(...args: unknown[]): Promise<Float32Array[]>;
};

/** torch.round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Level scales as torchvision's MultiScaleRoIAlign infers them: the original size is the largest
 * height and width over `imageSizes` ([h, w] per image, after the transform's resize/padding
 * source sizes as torchvision passes them), and each level's scale is
 * 2^round(log2(levelHeight / maxHeight)) (torchvision uses the height ratio only).
 */
export function inferScales(
  levelShapes: readonly FeatureShape[],
  imageSizes: readonly (readonly [number, number])[],
): number[] {
  if (!Array.isArray(imageSizes) || imageSizes.length === 0) {
    throw new TypeError('imageSizes must be a non-empty array of [height, width]');
  }
  let maxH = 0;
  for (const [i, s] of imageSizes.entries()) {
    if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => Number.isFinite(v) && v > 0)) {
      throw new RangeError(`imageSizes[${i}] must be [height, width] with positive finite numbers`);
    }
    maxH = Math.max(maxH, s[0]);
  }
  if (!Array.isArray(levelShapes)) throw new TypeError('levelShapes must be an array of [N, C, H, W]');
  return levelShapes.map((shape, i) => {
    const h = Array.isArray(shape) ? shape[2] : NaN;
    if (!Number.isFinite(h) || h <= 0) throw new RangeError(`level ${i}: shape[2] (H) must be a positive number`);
    return 2 ** roundHalfEven(Math.log2(Math.fround(h / maxH)));
  });
}

/**
 * torchvision's LevelMapper: the level index (0 = first level) of each RoI, -1 when its area is
 * negative. `scales` as in {@link MultiScaleRoiAlignOptions.scales}.
 */
export function roiLevels(
  rois: Float32Array,
  scales: readonly number[],
  canonicalScale = 224,
  canonicalLevel = 4,
): Int32Array {
  return addon.roiLevelsSync(rois, scales, canonicalScale, canonicalLevel);
}

function prepare(levels: readonly FeatureLevel[], imageSizes: readonly (readonly [number, number])[], o: MultiScaleRoiAlignOptions) {
  if (!Array.isArray(levels) || levels.length === 0) throw new TypeError('levels must be a non-empty array of { data, shape }');
  const shapes = levels.map((l, i) => {
    if (typeof l !== 'object' || l === null) throw new TypeError(`levels[${i}] must be { data, shape }`);
    return l.shape;
  });
  const scales = o.scales ? [...o.scales] : inferScales(shapes, imageSizes);
  const [h, w] = outputHW(o.outputSize ?? 7);
  const args: unknown[] = [
    levels.map((l) => l.data), shapes, undefined, h, w, scales, o.samplingRatio ?? 2, o.aligned ?? false,
    o.canonicalScale ?? 224, o.canonicalLevel ?? 4, o.threads,
  ];
  return { args, scales };
}

/**
 * Multi-scale RoIAlign forward, synchronously.
 * @param levels FPN levels, finest first (e.g. P2..P5), same N and C.
 * @param rois Float32Array [K, 5] (batchIndex, x1, y1, x2, y2) in image coordinates.
 * @param imageSizes [h, w] per image, for inferring the scales (ignored when options.scales is given).
 */
export function multiScaleRoiAlignSync(
  levels: readonly FeatureLevel[],
  rois: Float32Array,
  imageSizes: readonly (readonly [number, number])[],
  options: MultiScaleRoiAlignOptions = {},
): MultiScaleRoiAlignResult {
  const { args, scales } = prepare(levels, imageSizes, options);
  args[2] = rois;
  return { ...addon.multiScaleRoiAlignSync(...args), scales };
}

/** {@link multiScaleRoiAlignSync} off the event loop. */
export async function multiScaleRoiAlign(
  levels: readonly FeatureLevel[],
  rois: Float32Array,
  imageSizes: readonly (readonly [number, number])[],
  options: MultiScaleRoiAlignOptions = {},
): Promise<MultiScaleRoiAlignResult> {
  const { args, scales } = prepare(levels, imageSizes, options);
  args[2] = rois;
  return { ...(await addon.multiScaleRoiAlign(...args)), scales };
}

function backwardArgs(
  gradOutput: Float32Array, rois: Float32Array, levelShapes: readonly FeatureShape[], levels: Int32Array,
  scales: readonly number[], o: MultiScaleRoiAlignBackwardOptions,
): unknown[] {
  const [h, w] = outputHW(o.outputSize ?? 7);
  return [gradOutput, rois, levelShapes, levels, h, w, scales, o.samplingRatio ?? 2, o.aligned ?? false, o.threads];
}

/**
 * Gradient of multi-scale RoIAlign with respect to each level's features (one Float32Array per
 * level, [N, C, H, W]), from `gradOutput` [K, C, outH, outW] and the forward's `levels` and
 * `scales`. Deterministic for any thread count.
 */
export function multiScaleRoiAlignBackwardSync(
  gradOutput: Float32Array,
  rois: Float32Array,
  levelShapes: readonly FeatureShape[],
  levels: Int32Array,
  scales: readonly number[],
  options: MultiScaleRoiAlignBackwardOptions = {},
): Float32Array[] {
  return addon.multiScaleRoiAlignBackwardSync(...backwardArgs(gradOutput, rois, levelShapes, levels, scales, options));
}

/** {@link multiScaleRoiAlignBackwardSync} off the event loop. */
export async function multiScaleRoiAlignBackward(
  gradOutput: Float32Array,
  rois: Float32Array,
  levelShapes: readonly FeatureShape[],
  levels: Int32Array,
  scales: readonly number[],
  options: MultiScaleRoiAlignBackwardOptions = {},
): Promise<Float32Array[]> {
  return addon.multiScaleRoiAlignBackward(...backwardArgs(gradOutput, rois, levelShapes, levels, scales, options));
}
