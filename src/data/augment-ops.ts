/**
 * Geometric and photometric augmentations of one detection sample, each a pure function of the
 * image (float CHW in [0, 1]), its boxes (x1, y1, x2, y2 in continuous pixel coordinates: pixel
 * (i, j) covers [j, j+1) × [i, i+1)) and explicit parameters; nothing is changed in place. Box
 * transforms are exact for the pixel grid: a box drawn as a filled rectangle of pixels is the
 * bounding box of the same rectangle in the transformed image.
 */
import type { ImageTensor } from '../infer/transform.js';
import { resizeBilinear } from '../infer/transform.js';

/** An image with its boxes ([n, 4] row-major). */
export interface BoxedImage {
  image: ImageTensor;
  boxes: Float32Array;
}

const CH = 3;

/** Horizontal flip (torchvision's RandomHorizontalFlip): x1' = W − x2, x2' = W − x1. */
export function hflip({ image, boxes }: BoxedImage): BoxedImage {
  const { width: W, height: H, data } = image;
  const out = new Float32Array(data.length);
  for (let r = 0; r < CH * H; r++) {
    const row = r * W;
    for (let x = 0; x < W; x++) out[row + x] = data[row + W - 1 - x]!;
  }
  const b = boxes.slice();
  for (let i = 0; i < b.length; i += 4) {
    b[i] = W - boxes[i + 2]!;
    b[i + 2] = W - boxes[i]!;
  }
  return { image: { data: out, width: W, height: H }, boxes: b };
}

/** Vertical flip: y1' = H − y2, y2' = H − y1. */
export function vflip({ image, boxes }: BoxedImage): BoxedImage {
  const { width: W, height: H, data } = image;
  const out = new Float32Array(data.length);
  for (let c = 0; c < CH; c++) {
    for (let y = 0; y < H; y++) out.set(data.subarray((c * H + H - 1 - y) * W, (c * H + H - y) * W), (c * H + y) * W);
  }
  const b = boxes.slice();
  for (let i = 0; i < b.length; i += 4) {
    b[i + 1] = H - boxes[i + 3]!;
    b[i + 3] = H - boxes[i + 1]!;
  }
  return { image: { data: out, width: W, height: H }, boxes: b };
}

/**
 * Rotation by k·90° clockwise (k any integer; k mod 4 = 0 is a copy). One clockwise quarter turn
 * maps the point (x, y) of a W×H image to (H − y, x) of the H×W result, so a box becomes
 * (H − y2, x1, H − y1, x2).
 */
export function rotate90({ image, boxes }: BoxedImage, k: number): BoxedImage {
  if (!Number.isInteger(k)) throw new RangeError(`rotate90: k must be an integer number of quarter turns, got ${k}`);
  let current: BoxedImage = { image, boxes };
  const turns = ((k % 4) + 4) % 4;
  if (turns === 0) return { image: { ...image, data: image.data.slice() }, boxes: boxes.slice() };
  for (let t = 0; t < turns; t++) current = quarterTurn(current);
  return current;
}

function quarterTurn({ image, boxes }: BoxedImage): BoxedImage {
  const { width: W, height: H, data } = image;
  // Output is H wide and W high: output pixel (row x, column H−1−y) takes input pixel (row y, column x).
  const out = new Float32Array(data.length);
  for (let c = 0; c < CH; c++) {
    const src = c * H * W;
    for (let y = 0; y < H; y++) {
      const col = H - 1 - y;
      for (let x = 0; x < W; x++) out[src + x * H + col] = data[src + y * W + x]!;
    }
  }
  const b = new Float32Array(boxes.length);
  for (let i = 0; i < b.length; i += 4) {
    b[i] = H - boxes[i + 3]!;
    b[i + 1] = boxes[i]!;
    b[i + 2] = H - boxes[i + 1]!;
    b[i + 3] = boxes[i + 2]!;
  }
  return { image: { data: out, width: H, height: W }, boxes: b };
}

/**
 * Scale jitter: resize by `factor` (bilinear, torch's kernel from src/infer/transform.ts) to
 * round(W·factor) × round(H·factor) (at least 1), boxes scaled by the actual ratios new/old so they
 * stay on the resized grid. With `canvas` (the LSJ recipe; needed because the model's own resize
 * to minSize undoes a uniform rescale), the result is then cropped (factor > 1) or zero-padded
 * (factor < 1) back to W×H with the resized image's top-left corner at (offsetX, offsetY) of the
 * canvas (negative when cropping); boxes are shifted, clipped to the canvas, and those left with
 * no area are dropped (`keep` tells which input boxes survive, in order).
 */
export function scaleJitter(
  { image, boxes }: BoxedImage,
  factor: number,
  canvas?: { offsetX: number; offsetY: number },
): BoxedImage & { keep: Uint8Array } {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`scaleJitter: factor must be a positive number, got ${factor}`);
  const { width: W, height: H } = image;
  const w = Math.max(1, Math.round(W * factor)), h = Math.max(1, Math.round(H * factor));
  const resized = resizeBilinear(image.data, CH, H, W, h, w);
  const sx = w / W, sy = h / H;
  const scaled = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    scaled[i] = boxes[i]! * sx;
    scaled[i + 1] = boxes[i + 1]! * sy;
    scaled[i + 2] = boxes[i + 2]! * sx;
    scaled[i + 3] = boxes[i + 3]! * sy;
  }
  if (!canvas) return { image: { data: resized, width: w, height: h }, boxes: scaled, keep: new Uint8Array(boxes.length / 4).fill(1) };

  const { offsetX: ox, offsetY: oy } = canvas;
  if (!Number.isInteger(ox) || !Number.isInteger(oy)) throw new RangeError(`scaleJitter: canvas offsets must be integers, got ${ox}, ${oy}`);
  const out = new Float32Array(CH * H * W);
  const x0 = Math.max(0, ox), x1 = Math.min(W, ox + w);
  const y0 = Math.max(0, oy), y1 = Math.min(H, oy + h);
  if (x1 > x0) {
    for (let c = 0; c < CH; c++) {
      for (let y = y0; y < y1; y++) {
        const src = (c * h + (y - oy)) * w + (x0 - ox);
        out.set(resized.subarray(src, src + (x1 - x0)), (c * H + y) * W + x0);
      }
    }
  }
  const keep = new Uint8Array(boxes.length / 4);
  const kept: number[] = [];
  for (let i = 0, n = 0; i < scaled.length; i += 4, n++) {
    const bx1 = Math.min(Math.max(scaled[i]! + ox, 0), W), by1 = Math.min(Math.max(scaled[i + 1]! + oy, 0), H);
    const bx2 = Math.min(Math.max(scaled[i + 2]! + ox, 0), W), by2 = Math.min(Math.max(scaled[i + 3]! + oy, 0), H);
    if (bx2 > bx1 && by2 > by1) {
      keep[n] = 1;
      kept.push(bx1, by1, bx2, by2);
    }
  }
  return { image: { data: out, width: W, height: H }, boxes: Float32Array.from(kept), keep };
}

/**
 * Brightness and contrast as torchvision's ColorJitter applies them (adjust_brightness, then
 * adjust_contrast): x·brightness, then (x − m)·contrast + m with m the mean of the greyscale image
 * (0.299 R + 0.587 G + 0.114 B), each step clamped to [0, 1]. Boxes are unchanged (a copy).
 */
export function brightnessContrast({ image, boxes }: BoxedImage, brightness: number, contrast: number): BoxedImage {
  if (!(brightness >= 0) || !(contrast >= 0)) throw new RangeError(`brightnessContrast: factors must be ≥ 0, got brightness ${brightness}, contrast ${contrast}`);
  const clamp = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = clamp(image.data[i]! * brightness);
  const plane = image.width * image.height;
  let sum = 0;
  for (let i = 0; i < plane; i++) sum += 0.299 * out[i]! + 0.587 * out[plane + i]! + 0.114 * out[2 * plane + i]!;
  const mean = sum / plane;
  for (let i = 0; i < out.length; i++) out[i] = clamp((out[i]! - mean) * contrast + mean);
  return { image: { data: out, width: image.width, height: image.height }, boxes: boxes.slice() };
}
