/**
 * torchvision's GeneralizedRCNNTransform (models/detection/transform.py) for inference, in
 * float32 with torch's operation order so the resized batch matches torchvision's bit for bit
 * (up to the last ulp where torch's kernel fuses a multiply-add):
 *
 * 1. the image as float in [0, 1] (uint8 / 255), CHW;
 * 2. normalize: (x − mean[c]) / std[c];
 * 3. resize: scale = min(minSize / shortSide, maxSize / longSide) computed in float32 as torch
 *    does (reciprocal of the side, times the size), output
 *    size floor(side · scale) (F.interpolate with recompute_scale_factor=True), then bilinear
 *    interpolation with align_corners=False at the recomputed scale in/out (torch's
 *    upsample_bilinear2d: source = max(scale · (dst + 0.5) − 0.5, 0), neighbours clamped at the
 *    last row/column);
 * 4. batch: zero-pad bottom/right to a multiple of sizeDivisible (32).
 *
 * The image sizes after step 3 (not padded) are what proposals are clipped to; detections are
 * mapped back to the original size with float32 ratios original / resized, as resize_boxes does.
 */
import type { TransformConfig } from '../models/presets.js';

/** A float CHW image: 3 channels, values in [0, 1]. */
export interface ImageTensor {
  data: Float32Array;
  height: number;
  width: number;
}

/** An 8-bit interleaved RGB (or RGBA: alpha ignored) image as sharp's raw output gives it. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 3 | 4;
}

/** One transformed batch: `tensor` [N, 3, H, W] padded, each image's resized and original size. */
export interface ImageBatch {
  tensor: Float32Array;
  shape: [number, number, number, number];
  /** [height, width] after resizing, before padding (torchvision's image_sizes). */
  imageSizes: [number, number][];
  /** [height, width] of the inputs. */
  originalSizes: [number, number][];
}

const f = Math.fround;

/** uint8 HWC RGB(A) → float CHW in [0, 1] (torchvision's to_tensor: x / 255). */
export function rgbToTensor(img: RgbImage): ImageTensor {
  const { height, width, channels, data } = img;
  if (channels !== 3 && channels !== 4) throw new RangeError(`image channels must be 3 or 4, got ${channels}`);
  if (data.length !== height * width * channels) {
    throw new RangeError(`image data has ${data.length} bytes, ${height}x${width}x${channels} needs ${height * width * channels}`);
  }
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = data[i * channels + c]! / 255;
  }
  return { data: out, height, width };
}

/** torchvision's resize output size [height, width] for an image of [height, width]. */
export function resizedSize(height: number, width: number, minSize: number, maxSize: number): [number, number] {
  const shortSide = f(Math.min(height, width));
  const longSide = f(Math.max(height, width));
  // `python_float / tensor` is Tensor.__rtruediv__: reciprocal(tensor) * python_float, in float32.
  const scale = Math.min(f(f(1 / shortSide) * minSize), f(f(1 / longSide) * maxSize));
  return [Math.floor(height * scale), Math.floor(width * scale)];
}

/** Per output index along one axis: the two source indices and weights (torch's compute_indices_weights_linear). */
function linearTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  // torch (CPU): the scale in float32, the source index and lambdas in its accumulate type
  // (double on CPU), rounded to float32 once; measured against torch 1.13 to the last bit.
  const scale = f(inSize / outSize);
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize), w1 = new Float32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(scale * (d + 0.5) - 0.5, 0);
    const lo = Math.floor(src);
    const lambda1 = Math.min(Math.max(src - lo, 0), 1);
    i0[d] = lo;
    i1[d] = lo < inSize - 1 ? lo + 1 : lo;
    w1[d] = lambda1;
    w0[d] = 1 - lambda1;
  }
  return { i0, i1, w0, w1 };
}

/**
 * Bilinear resize of a CHW float image (F.interpolate(mode='bilinear', align_corners=False)
 * with an explicit output size), computed as torch's CPU kernel does:
 * (x00·w0x + x01·w1x)·w0y + (x10·w0x + x11·w1x)·w1y.
 */
export function resizeBilinear(src: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  if (outH === inH && outW === inW) return src.slice();
  const out = new Float32Array(channels * outH * outW);
  resizeInto(src, channels, inH, inW, outH, outW, out, 0, outH, outW);
  return out;
}

/**
 * resizeBilinear writing channel c's row y at `out[offset + (c·planeH + y)·planeW]`, so an image
 * lands straight in its place in a padded batch (no intermediate image, no copy).
 */
function resizeInto(
  src: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number,
  out: Float32Array, offset: number, planeH: number, planeW: number,
): void {
  if (outH === inH && outW === inW) {
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < outH; y++) out.set(src.subarray((c * inH + y) * inW, (c * inH + y + 1) * inW), offset + (c * planeH + y) * planeW);
    }
    return;
  }
  const ty = linearTaps(inH, outH), tx = linearTaps(inW, outW);
  const { i0: x0s, i1: x1s, w0: wx0s, w1: wx1s } = tx;
  // Separable, with the same roundings: the horizontal pass of a source row (torch's `top` /
  // `bottom` terms, x00·w0x + x01·w1x) is computed once per source row and reused by every output
  // row that reads it (about 3 of them when upscaling 512 → 800), then the vertical blend.
  const rows = new Float32Array(inH * outW);
  const ready = new Uint8Array(inH);
  const rowAt = (c: number, r: number): number => {
    const o = r * outW;
    if (!ready[r]) {
      const s0 = c * inH * inW + r * inW;
      for (let x = 0; x < outW; x++) rows[o + x] = f(f(src[s0 + x0s[x]!]! * wx0s[x]!) + f(src[s0 + x1s[x]!]! * wx1s[x]!));
      ready[r] = 1;
    }
    return o;
  };
  for (let c = 0; c < channels; c++) {
    ready.fill(0);
    for (let y = 0; y < outH; y++) {
      const h0 = rowAt(c, ty.i0[y]!), h1 = rowAt(c, ty.i1[y]!);
      const wy0 = ty.w0[y]!, wy1 = ty.w1[y]!;
      const ob = offset + (c * planeH + y) * planeW;
      for (let x = 0; x < outW; x++) out[ob + x] = f(f(rows[h0 + x]! * wy0) + f(rows[h1 + x]! * wy1));
    }
  }
}

/** In place: (x − mean[c]) / std[c] in float32. */
export function normalizeInPlace(img: ImageTensor, mean: readonly number[], std: readonly number[]): void {
  normalizeInto(img.data, img.data, img.height * img.width, mean, std);
}

/** dst = (src − mean[c]) / std[c] in float32, per channel plane (dst may be src). */
function normalizeInto(src: Float32Array, dst: Float32Array, plane: number, mean: readonly number[], std: readonly number[]): void {
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]!), s = f(std[c]!);
    for (let i = c * plane, end = (c + 1) * plane; i < end; i++) dst[i] = f(f(src[i]! - m) / s);
  }
}

/**
 * Normalize, resize and pad images into one batch, as GeneralizedRCNNTransform does in eval mode.
 * Each image is normalized into one scratch buffer and resized straight into its place in the
 * zero-padded batch (same float32 operations as normalizeInPlace + resizeBilinear + copy).
 */
export function transformBatch(images: readonly ImageTensor[], cfg: TransformConfig): ImageBatch {
  if (images.length === 0) throw new RangeError('transformBatch: no images');
  const sizes = images.map((img, i) => {
    if (img.data.length !== 3 * img.height * img.width) {
      throw new RangeError(`image ${i}: data has ${img.data.length} values, 3x${img.height}x${img.width} needs ${3 * img.height * img.width}`);
    }
    const [h, w] = resizedSize(img.height, img.width, cfg.minSize, cfg.maxSize);
    if (h < 1 || w < 1) throw new RangeError(`image ${i} (${img.height}x${img.width}) resizes to ${h}x${w}`);
    return [h, w] as [number, number];
  });
  const d = cfg.sizeDivisible;
  const H = Math.ceil(Math.max(...sizes.map((s) => s[0])) / d) * d;
  const W = Math.ceil(Math.max(...sizes.map((s) => s[1])) / d) * d;
  const tensor = new Float32Array(images.length * 3 * H * W);
  let scratch = new Float32Array(0);
  images.forEach((img, n) => {
    const len = img.data.length;
    if (scratch.length < len) scratch = new Float32Array(len);
    const norm = scratch.subarray(0, len);
    normalizeInto(img.data, norm, img.height * img.width, cfg.imageMean, cfg.imageStd);
    resizeInto(norm, 3, img.height, img.width, sizes[n]![0], sizes[n]![1], tensor, n * 3 * H * W, H, W);
  });
  return {
    tensor,
    shape: [images.length, 3, H, W],
    imageSizes: sizes,
    originalSizes: images.map((img) => [img.height, img.width]),
  };
}

/** resize_boxes: scale [x1,y1,x2,y2] boxes in place from `from` ([h, w] resized) to `to` ([h, w] original). */
export function resizeBoxesInPlace(boxes: Float32Array, from: readonly [number, number], to: readonly [number, number]): void {
  const rh = f(f(to[0]) / f(from[0]));
  const rw = f(f(to[1]) / f(from[1]));
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = f(boxes[i]! * rw);
    boxes[i + 1] = f(boxes[i + 1]! * rh);
    boxes[i + 2] = f(boxes[i + 2]! * rw);
    boxes[i + 3] = f(boxes[i + 3]! * rh);
  }
}
