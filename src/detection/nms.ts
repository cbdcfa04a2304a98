/**
 * Non-maximum suppression over axis-aligned boxes, with torchvision.ops.nms / batched_nms
 * semantics, in the native addon (native/nms.cc).
 *
 * Boxes: Float32Array of N*4 values, box i at [4i, 4i+4) as x1, y1, x2, y2 (pixels, x2 >= x1 and
 * y2 >= y1 for a box with area; degenerate or inverted boxes are allowed: they intersect nothing,
 * so they are always kept and never suppress another box).
 *
 * IoU is computed in float32 exactly as torchvision's CPU kernel does (area = (x2-x1)*(y2-y1), no
 * +1; inter / ((area_i + area_j) - inter)), and a box is suppressed when its IoU with an
 * already-kept, higher-ranked box is strictly greater than `iouThreshold`. The result lists the
 * kept indices in decreasing score; boxes with equal scores keep the lower index first (a
 * stable order, where torchvision leaves ties unspecified).
 *
 * Naming rule of the kernels: `foo()` returns a Promise and runs on the libuv thread pool (off the
 * event loop), `fooSync()` runs on the calling thread. The async variants copy their inputs
 * before returning, so the caller may reuse the arrays at once; a bad argument rejects the Promise
 * (the Sync variants throw). Concurrent calls are safe.
 *
 * Errors: TypeError for a wrong argument type, RangeError for a bad length, a NaN/Infinity
 * coordinate or score, or a threshold outside [0, 1]; each message names the argument.
 */
import { native } from '../native.js';

/** Options of {@link batchedNms}. */
export interface BatchedNmsOptions {
  /**
   * Before suppression, keep only the `topK` highest-scoring boxes of each class (ties: lower
   * index first), as torchvision's RPN does per FPN level. Integer >= 0; default: all boxes.
   */
  topK?: number;
  /** Return at most this many kept boxes (the highest-scoring). Integer >= 0; default: all. */
  maxOutput?: number;
}

type NmsFn = (boxes: Float32Array, scores: Float32Array, iouThreshold: number) => Int32Array;
type BatchedFn = (
  boxes: Float32Array,
  scores: Float32Array,
  classIds: Int32Array,
  iouThreshold: number,
  topK: number | undefined,
  maxOutput: number | undefined,
) => Int32Array;

const addon = native as unknown as {
  nmsSync: NmsFn;
  nms: (...a: Parameters<NmsFn>) => Promise<Int32Array>;
  batchedNmsSync: BatchedFn;
  batchedNms: (...a: Parameters<BatchedFn>) => Promise<Int32Array>;
};

function optionValues(options: BatchedNmsOptions | undefined): [number | undefined, number | undefined] {
  if (options === undefined || options === null) return [undefined, undefined];
  if (typeof options !== 'object') throw new TypeError('options must be an object');
  return [options.topK, options.maxOutput];
}

/**
 * Greedy NMS (synchronous). `boxes`: Float32Array [N*4] x1,y1,x2,y2; `scores`: Float32Array [N];
 * `iouThreshold` in [0, 1]: a box whose IoU with a kept higher-scoring box is > iouThreshold is
 * dropped. Returns the kept indices (Int32Array) in decreasing score, ties by increasing index.
 */
export function nmsSync(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  return addon.nmsSync(boxes, scores, iouThreshold);
}

/** {@link nmsSync} on the libuv thread pool; resolves with the kept indices. */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Promise<Int32Array> {
  try {
    return addon.nms(boxes, scores, iouThreshold);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * NMS within each class only (torchvision.ops.batched_nms): boxes of different `classIds`
 * (Int32Array [N], any int32 values) never suppress each other. Same box format, threshold
 * semantics and return order as {@link nmsSync} (one ranking across all classes: decreasing
 * score, ties by increasing index), plus the per-class `topK` pre-filter and `maxOutput` cap.
 */
export function batchedNmsSync(
  boxes: Float32Array,
  scores: Float32Array,
  classIds: Int32Array,
  iouThreshold: number,
  options?: BatchedNmsOptions,
): Int32Array {
  const [topK, maxOutput] = optionValues(options);
  return addon.batchedNmsSync(boxes, scores, classIds, iouThreshold, topK, maxOutput);
}

/** {@link batchedNmsSync} on the libuv thread pool; resolves with the kept indices. */
export function batchedNms(
  boxes: Float32Array,
  scores: Float32Array,
  classIds: Int32Array,
  iouThreshold: number,
  options?: BatchedNmsOptions,
): Promise<Int32Array> {
  try {
    const [topK, maxOutput] = optionValues(options);
    return addon.batchedNms(boxes, scores, classIds, iouThreshold, topK, maxOutput);
  } catch (e) {
    return Promise.reject(e);
  }
}
