/**
 * One class's boxes split by image: the unit both the VOC and the COCO evaluation work on.
 */

/** Ground truth and detections of one class in one image. */
export interface ClassImage {
  /** [g, 4] x1, y1, x2, y2. */
  gtBoxes: Float32Array;
  /** [g] 1 for a difficult (VOC) / crowd-or-ignore (COCO) box: never a true positive, never counted as missed. */
  gtIgnore: Uint8Array;
  /** [d, 4] x1, y1, x2, y2, in the caller's order (ties in score keep it). */
  detBoxes: Float32Array;
  /** [d] confidence. */
  detScores: Float32Array;
}

/** Number of boxes in a [n, 4] array. */
export const boxCount = (boxes: Float32Array) => boxes.length / 4;

/**
 * Indices 0..n-1 sorted by decreasing score; equal scores keep their order (a stable sort, as
 * pycocotools' argsort(kind='mergesort'), so results never depend on the sort algorithm).
 */
export function byDecreasingScore(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}
