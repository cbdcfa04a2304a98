/**
 * Pairwise IoU of x1,y1,x2,y2 boxes in continuous coordinates (no +1, as torchvision and COCO's
 * maskApi): the one overlap measure both the VOC and the COCO evaluation use.
 */

/** IoU of box `a` (offset 4·i in `boxesA`) with box `b` (offset 4·j in `boxesB`); 0 when the union is empty. */
export function pairIou(boxesA: Float32Array, i: number, boxesB: Float32Array, j: number): number {
  const inter = intersection(boxesA, i, boxesB, j);
  const union = area(boxesA, i) + area(boxesB, j) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * COCO's overlap with a crowd region: intersection over the detection's own area (maskApi's
 * bbIou with iscrowd), so a detection inside a crowd region overlaps it fully.
 */
export function crowdOverlap(dets: Float32Array, i: number, crowd: Float32Array, j: number): number {
  const a = area(dets, i);
  return a > 0 ? intersection(dets, i, crowd, j) / a : 0;
}

function area(b: Float32Array, i: number): number {
  return Math.max(0, b[4 * i + 2]! - b[4 * i]!) * Math.max(0, b[4 * i + 3]! - b[4 * i + 1]!);
}

function intersection(a: Float32Array, i: number, b: Float32Array, j: number): number {
  const w = Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!);
  const h = Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!);
  return w > 0 && h > 0 ? w * h : 0;
}
