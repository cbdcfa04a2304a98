/**
 * RoIAlign (Mask R-CNN's region feature pooling) forward and backward, native and exactly
 * torchvision.ops.roi_align's semantics.
 *
 * Layouts: features are NCHW Float32Array [N, C, H, W]; rois are Float32Array [K, 5] rows of
 * (batchIndex, x1, y1, x2, y2) in image coordinates (multiplied by `spatialScale` to reach the
 * feature map); the output is [K, C, outH, outW].
 *
 * Per bin, a grid of samplingRatio × samplingRatio points (or ceil(roiSize / outputSize) per axis
 * when samplingRatio ≤ 0, "adaptive") is sampled bilinearly and averaged. A sample outside
 * [-1, H] × [-1, W] contributes 0; others are clamped into the map. With `aligned` the box is
 * shifted by -0.5 pixel (pixel-centre model, Detectron2's ROIAlignV2); without it, boxes smaller
 * than 1×1 feature pixel are enlarged to 1×1 (the legacy behaviour).
 *
 * Naming: `roiAlign()` returns a Promise and runs off the event loop; `roiAlignSync()` blocks.
 * Inputs must not be modified until the Promise settles. Non-finite feature values propagate
 * (as in torch); non-finite RoIs are rejected.
 */
import { native } from '../native.js';

/** [N, C, H, W] of an NCHW feature tensor. */
export type FeatureShape = readonly [n: number, c: number, h: number, w: number];

/** Output height and width, or one number for a square output. */
export type OutputSize = number | readonly [h: number, w: number];

export interface RoiAlignOptions {
  /** Threads for this call (default: min(cores, 8), or env HPA_NUM_THREADS). Results do not depend on it. */
  threads?: number;
}

type RoiAlignNative = (
  features: Float32Array,
  featureShape: FeatureShape,
  rois: Float32Array,
  outH: number,
  outW: number,
  spatialScale: number,
  samplingRatio: number,
  aligned: boolean,
  threads: number | undefined,
) => Float32Array;

type RoiAlignBackwardNative = (
  gradOutput: Float32Array,
  rois: Float32Array,
  featureShape: FeatureShape,
  outH: number,
  outW: number,
  spatialScale: number,
  samplingRatio: number,
  aligned: boolean,
  threads: number | undefined,
) => Float32Array;

const addon = native as unknown as {
  roiAlignSync: RoiAlignNative;
  roiAlign: (...args: Parameters<RoiAlignNative>) => Promise<Float32Array>;
  roiAlignBackwardSync: RoiAlignBackwardNative;
  roiAlignBackward: (...args: Parameters<RoiAlignBackwardNative>) => Promise<Float32Array>;
};

/** Normalises an OutputSize to [h, w]; a bad value is passed through for native validation. */
export function outputHW(outputSize: OutputSize): [number, number] {
  if (typeof outputSize === 'number') return [outputSize, outputSize];
  if (Array.isArray(outputSize) && outputSize.length === 2) return [outputSize[0], outputSize[1]];
  throw new TypeError('outputSize must be a number or [height, width]');
}

/**
 * RoIAlign forward, synchronously.
 * @param features NCHW features, length N*C*H*W.
 * @param featureShape [N, C, H, W].
 * @param rois [K, 5] rows (batchIndex, x1, y1, x2, y2); batchIndex an integer in [0, N).
 * @param outputSize output [h, w] per RoI (torchvision's output_size).
 * @param spatialScale image → feature scale (e.g. 1/4 for stride 4), > 0.
 * @param samplingRatio sampling points per bin and axis; ≤ 0 means adaptive (ceil(roi / output)).
 * @param aligned shift boxes by -0.5 pixel (torchvision's aligned=True).
 * @returns Float32Array [K, C, outH, outW].
 * @throws TypeError / RangeError naming the argument on bad input.
 */
export function roiAlignSync(
  features: Float32Array,
  featureShape: FeatureShape,
  rois: Float32Array,
  outputSize: OutputSize,
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
  options: RoiAlignOptions = {},
): Float32Array {
  const [h, w] = outputHW(outputSize);
  return addon.roiAlignSync(features, featureShape, rois, h, w, spatialScale, samplingRatio, aligned, options.threads);
}

/** {@link roiAlignSync} off the event loop: resolves with the same Float32Array [K, C, outH, outW]. */
export function roiAlign(
  features: Float32Array,
  featureShape: FeatureShape,
  rois: Float32Array,
  outputSize: OutputSize,
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
  options: RoiAlignOptions = {},
): Promise<Float32Array> {
  try {
    const [h, w] = outputHW(outputSize);
    return addon.roiAlign(features, featureShape, rois, h, w, spatialScale, samplingRatio, aligned, options.threads);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Gradient of RoIAlign with respect to the features, synchronously: the vector-Jacobian product
 * of `gradOutput` [K, C, outH, outW], as torch autograd computes it through torchvision's
 * roi_align. Deterministic: bitwise the same result for every run and every thread count
 * (each feature plane is accumulated by one thread in a fixed order).
 * @returns Float32Array [N, C, H, W].
 */
export function roiAlignBackwardSync(
  gradOutput: Float32Array,
  rois: Float32Array,
  featureShape: FeatureShape,
  outputSize: OutputSize,
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
  options: RoiAlignOptions = {},
): Float32Array {
  const [h, w] = outputHW(outputSize);
  return addon.roiAlignBackwardSync(
    gradOutput, rois, featureShape, h, w, spatialScale, samplingRatio, aligned, options.threads,
  );
}

/** {@link roiAlignBackwardSync} off the event loop. */
export function roiAlignBackward(
  gradOutput: Float32Array,
  rois: Float32Array,
  featureShape: FeatureShape,
  outputSize: OutputSize,
  spatialScale = 1,
  samplingRatio = -1,
  aligned = false,
  options: RoiAlignOptions = {},
): Promise<Float32Array> {
  try {
    const [h, w] = outputHW(outputSize);
    return addon.roiAlignBackward(
      gradOutput, rois, featureShape, h, w, spatialScale, samplingRatio, aligned, options.threads,
    );
  } catch (e) {
    return Promise.reject(e);
  }
}
