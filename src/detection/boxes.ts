/**
 * Box operations with torchvision's semantics (torchvision.ops.box_iou, clip_boxes_to_image,
 * remove_small_boxes and models.detection._utils.BoxCoder), all in float32.
 *
 * Box format everywhere: Float32Array of N*4 values, box i at [4i, 4i+4) as x1, y1, x2, y2 in
 * pixels (no +1 on widths: w = x2 - x1). The IoU matrix and the box coder are native
 * (native/box_ops.cc); clipping and the small-box filter are plain TypeScript.
 *
 * Naming rule: `foo()` returns a Promise and runs on the libuv thread pool, `fooSync()` runs on
 * the calling thread. The async variants read the input arrays while the Promise is pending:
 * do not modify them until it settles. A bad argument throws (Sync) or rejects (async) a
 * TypeError (wrong type) or RangeError (bad length, NaN/Infinity, out-of-range value) that names
 * the argument.
 */
import { native } from '../native.js';

type IouFn = (boxes1: Float32Array, boxes2: Float32Array) => Float32Array;
type EncodeFn = (referenceBoxes: Float32Array, proposals: Float32Array, weights: readonly number[]) => Float32Array;
type DecodeFn = (relCodes: Float32Array, boxes: Float32Array, weights: readonly number[], clip: number) => Float32Array;
const addon = native as unknown as {
  boxIouSync: IouFn;
  boxIou: (...a: Parameters<IouFn>) => Promise<Float32Array>;
  encodeBoxesSync: EncodeFn;
  encodeBoxes: (...a: Parameters<EncodeFn>) => Promise<Float32Array>;
  decodeBoxesSync: DecodeFn;
  decodeBoxes: (...a: Parameters<DecodeFn>) => Promise<Float32Array>;
};

function rejecting<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * IoU matrix (torchvision.ops.box_iou): Float32Array [N*M], row-major, entry i*M+j the IoU of
 * boxes1[i] and boxes2[j] = inter / ((area1 + area2) - inter). Two empty boxes give NaN (0/0),
 * as in torchvision.
 */
export function boxIouSync(boxes1: Float32Array, boxes2: Float32Array): Float32Array {
  return addon.boxIouSync(boxes1, boxes2);
}

/** {@link boxIouSync} on the thread pool. */
export function boxIou(boxes1: Float32Array, boxes2: Float32Array): Promise<Float32Array> {
  return rejecting(() => addon.boxIou(boxes1, boxes2));
}

/** log(1000 / 16): torchvision's default cap on dw, dh before exp() in decoding. */
export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

/**
 * torchvision's BoxCoder: encodes reference boxes relative to proposals as (dx, dy, dw, dh)
 * deltas and decodes deltas back to boxes.
 *
 * encode: dx = wx * (gcx - pcx) / pw, dy = wy * (gcy - pcy) / ph, dw = ww * log(gw / pw),
 * dh = wh * log(gh / ph), with centres x1 + 0.5 * w (g: reference/ground truth, p: proposal).
 * A proposal of zero width or height gives non-finite deltas, as in torchvision.
 *
 * decode: dw / ww and dh / wh are clamped to at most `bboxXformClip` before exp(); the box is
 * centre +- 0.5 * size. Relative codes may hold K deltas per box ([N*4K], e.g. one per class):
 * the result is then [N*4K] with box i, class c at 4*(i*K+c).
 */
export class BoxCoder {
  readonly weights: readonly [number, number, number, number];
  readonly bboxXformClip: number;

  /**
   * @param weights (wx, wy, ww, wh), each finite and > 0: (1, 1, 1, 1) for torchvision's RPN,
   *   (10, 10, 5, 5) for its RoI heads.
   * @param bboxXformClip cap on dw, dh before exp() (default log(1000/16)).
   */
  constructor(weights: readonly [number, number, number, number], bboxXformClip = BBOX_XFORM_CLIP) {
    if (!Array.isArray(weights) || weights.length !== 4) {
      throw new TypeError('weights must be an array of 4 numbers (wx, wy, ww, wh)');
    }
    weights.forEach((w, i) => {
      if (typeof w !== 'number') throw new TypeError(`weights[${i}] must be a number`);
      if (!Number.isFinite(w) || !(w > 0)) throw new RangeError(`weights[${i}] must be finite and > 0, got ${w}`);
    });
    if (typeof bboxXformClip !== 'number') throw new TypeError('bboxXformClip must be a number');
    if (!Number.isFinite(bboxXformClip)) throw new RangeError('bboxXformClip must be finite');
    this.weights = [weights[0], weights[1], weights[2], weights[3]];
    this.bboxXformClip = bboxXformClip;
  }

  /** Deltas [N*4] of `referenceBoxes` [N*4] relative to `proposals` [N*4]. */
  encodeSync(referenceBoxes: Float32Array, proposals: Float32Array): Float32Array {
    return addon.encodeBoxesSync(referenceBoxes, proposals, this.weights);
  }

  /** {@link encodeSync} on the thread pool. */
  encode(referenceBoxes: Float32Array, proposals: Float32Array): Promise<Float32Array> {
    return rejecting(() => addon.encodeBoxes(referenceBoxes, proposals, this.weights));
  }

  /** Boxes [N*4K] from deltas `relCodes` [N*4K] applied to `boxes` [N*4]. */
  decodeSync(relCodes: Float32Array, boxes: Float32Array): Float32Array {
    return addon.decodeBoxesSync(relCodes, boxes, this.weights, this.bboxXformClip);
  }

  /** {@link decodeSync} on the thread pool. */
  decode(relCodes: Float32Array, boxes: Float32Array): Promise<Float32Array> {
    return rejecting(() => addon.decodeBoxes(relCodes, boxes, this.weights, this.bboxXformClip));
  }
}

function checkBoxes(boxes: Float32Array, name: string): number {
  if (!(boxes instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (boxes.length % 4 !== 0) {
    throw new RangeError(`${name} length must be a multiple of 4 (x1,y1,x2,y2), got ${boxes.length}`);
  }
  return boxes.length / 4;
}

function checkFinite(boxes: Float32Array, name: string): void {
  for (let i = 0; i < boxes.length; i++) {
    if (!Number.isFinite(boxes[i]!)) throw new RangeError(`${name} must be finite, got ${boxes[i]} at index ${i}`);
  }
}

/**
 * torchvision.ops.clip_boxes_to_image: a new Float32Array with x clamped to [0, width] and y to
 * [0, height]. `size` is [height, width] (torchvision's order), each finite and >= 0.
 */
export function clipBoxesToImage(boxes: Float32Array, size: readonly [number, number]): Float32Array {
  checkBoxes(boxes, 'boxes');
  if (!Array.isArray(size) || size.length !== 2) throw new TypeError('size must be [height, width]');
  const [height, width] = size;
  if (typeof height !== 'number' || typeof width !== 'number') throw new TypeError('size must be [height, width] numbers');
  if (!Number.isFinite(height) || !Number.isFinite(width) || height < 0 || width < 0) {
    throw new RangeError(`size must be finite and >= 0, got [${height}, ${width}]`);
  }
  checkFinite(boxes, 'boxes');
  const out = new Float32Array(boxes.length);
  const h = Math.fround(height), w = Math.fround(width);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = Math.min(Math.max(boxes[i]!, 0), w);
    out[i + 1] = Math.min(Math.max(boxes[i + 1]!, 0), h);
    out[i + 2] = Math.min(Math.max(boxes[i + 2]!, 0), w);
    out[i + 3] = Math.min(Math.max(boxes[i + 3]!, 0), h);
  }
  return out;
}

/**
 * torchvision.ops.remove_small_boxes: indices (increasing) of the boxes whose float32 width and
 * height are both >= minSize (minSize is compared as float32, as torch does).
 */
export function removeSmallBoxes(boxes: Float32Array, minSize: number): Int32Array {
  const n = checkBoxes(boxes, 'boxes');
  if (typeof minSize !== 'number') throw new TypeError('minSize must be a number');
  if (!Number.isFinite(minSize)) throw new RangeError('minSize must be finite');
  checkFinite(boxes, 'boxes');
  const m = Math.fround(minSize);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = Math.fround(boxes[4 * i + 2]! - boxes[4 * i]!);
    const h = Math.fround(boxes[4 * i + 3]! - boxes[4 * i + 1]!);
    if (w >= m && h >= m) keep.push(i);
  }
  return Int32Array.from(keep);
}

/** Float32Array [N] of box areas (x2-x1)*(y2-y1) in float32, torchvision.ops.box_area. */
export function boxArea(boxes: Float32Array): Float32Array {
  const n = checkBoxes(boxes, 'boxes');
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.fround(boxes[4 * i + 2]! - boxes[4 * i]!) * Math.fround(boxes[4 * i + 3]! - boxes[4 * i + 1]!);
  }
  return out;
}
