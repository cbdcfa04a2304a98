/**
 * torchvision's RegionProposalNetwork at inference (models/detection/rpn.py), for one image:
 * anchors per level (AnchorGenerator), the head outputs reordered as concat_box_prediction_layers
 * does ((y, x, anchor) per level), then filter_proposals:
 *
 *   per level, the pre_nms_top_n highest objectness logits (topk, sorted) → decode those anchors
 *   with BoxCoder(1, 1, 1, 1) → sigmoid → clip to the resized image → remove boxes smaller than
 *   1e-3 → keep scores ≥ score_thresh → NMS per level (batched_nms with the level as class)
 *   → the post_nms_top_n best.
 *
 * Decoding only the selected anchors gives the same boxes as torchvision's decode-all-then-select.
 */
import { generateAnchors, type AnchorLevel } from '../detection/anchors.js';
import { BoxCoder, clipBoxesToImage, removeSmallBoxes } from '../detection/boxes.js';
import { batchedNmsSync } from '../detection/nms.js';
import type { AnchorConfig, RpnConfig } from '../models/presets.js';

/** One FPN level of RPN head output for a single image (batch row already selected). */
export interface RpnLevelOutput {
  /** Objectness logits [A, h, w]. */
  objectness: Float32Array;
  /** Deltas [4A, h, w]. */
  deltas: Float32Array;
  height: number;
  width: number;
}

/** Proposals of one image: boxes [P*4] in resized-image coordinates, objectness probabilities [P]. */
export interface Proposals {
  boxes: Float32Array;
  scores: Float32Array;
}

const RPN_CODER = new BoxCoder([1, 1, 1, 1]);
/** rpn.py's remove_small_boxes min_size. */
const RPN_MIN_SIZE = 1e-3;

/** torchvision's anchor levels from a config: sizes per level, shared aspect ratios. */
export function anchorLevels(cfg: AnchorConfig): AnchorLevel[] {
  return cfg.sizes.map((sizes) => ({ sizes, aspectRatios: cfg.aspectRatios }));
}

/**
 * Indices (into `values`) of the `k` largest, in decreasing value; equal values keep the lower
 * index first (torch.topk leaves that order unspecified).
 */
export function topKIndices(values: Float32Array, k: number): Int32Array {
  const n = values.length;
  k = Math.min(k, n);
  if (k <= 0) return new Int32Array(0);
  // The k-th largest value by selection on a copy (O(n); a NaN anywhere falls back to the
  // native sort, which orders NaN last), then only the candidates at or above it are ordered.
  const threshold = kthSmallest(values.slice(), n - k);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (values[i]! > threshold) idx.push(i);
  // Ties at the threshold: the lowest indices fill the remaining places.
  for (let i = 0; i < n && idx.length < k; i++) if (values[i] === threshold) idx.push(i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return Int32Array.from(idx);
}

/** The value at sorted position `pos` of `a` (ascending, as TypedArray#sort orders it); reorders `a`. */
function kthSmallest(a: Float32Array, pos: number): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== a[i]) return a.sort()[pos]!;
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    // Hoare partition around the median of three.
    const x = a[lo]!, y = a[(lo + hi) >> 1]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (pos <= j) hi = j;
    else if (pos >= i) lo = i;
    else return a[pos]!;
  }
  return a[pos]!;
}

/** The anchors of the last few (config, padded size) pairs: every image of a size has the same ones. */
const anchorCache = new Map<string, Float32Array>();
const ANCHOR_CACHE_SIZE = 4;

/** generateAnchors, remembered (read-only use: callers must not modify the result). */
function cachedAnchors(levels: readonly AnchorLevel[], imageSize: readonly [number, number], grids: readonly [number, number][]): Float32Array {
  const key = JSON.stringify([levels, imageSize, grids]);
  let a = anchorCache.get(key);
  if (a) {
    anchorCache.delete(key); // most recent last
  } else {
    a = generateAnchors(levels, imageSize, grids);
    if (anchorCache.size >= ANCHOR_CACHE_SIZE) anchorCache.delete(anchorCache.keys().next().value as string);
  }
  anchorCache.set(key, a);
  return a;
}

/**
 * RPN proposals for one image. `paddedSize` is the batch tensor's [H, W] (anchor strides are
 * derived from it, as torchvision does), `imageSize` the resized image's [h, w] (for clipping).
 */
export function rpnProposals(
  levels: readonly RpnLevelOutput[],
  anchors: AnchorConfig,
  rpn: RpnConfig,
  paddedSize: readonly [number, number],
  imageSize: readonly [number, number],
  preNmsTopN = rpn.preNmsTopNTest,
  postNmsTopN = rpn.postNmsTopNTest,
): Proposals {
  const anchorCfg = anchorLevels(anchors);
  if (levels.length !== anchorCfg.length) throw new RangeError(`rpnProposals: ${levels.length} feature levels but ${anchorCfg.length} anchor levels`);
  const allAnchors = cachedAnchors(anchorCfg, paddedSize, levels.map((l) => [l.height, l.width] as [number, number]));
  const a = anchorCfg[0]!.sizes.length * anchorCfg[0]!.aspectRatios.length;

  const selLogits: number[] = [];
  const selLevel: number[] = [];
  const selDeltas: number[] = [];
  const selAnchors: number[] = [];
  let anchorOffset = 0;
  levels.forEach((lvl, li) => {
    const hw = lvl.height * lvl.width;
    const n = hw * a;
    if (lvl.objectness.length !== n) throw new RangeError(`level ${li}: objectness has ${lvl.objectness.length} values, expected ${a}x${lvl.height}x${lvl.width}`);
    if (lvl.deltas.length !== 4 * n) throw new RangeError(`level ${li}: deltas has ${lvl.deltas.length} values, expected ${4 * a}x${lvl.height}x${lvl.width}`);
    // [A, h, w] → (position, anchor) order, torchvision's permute(0, 2, 3, 1) per level.
    const logits = new Float32Array(n);
    for (let k = 0; k < a; k++) for (let p = 0; p < hw; p++) logits[p * a + k] = lvl.objectness[k * hw + p]!;
    for (const i of topKIndices(logits, preNmsTopN)) {
      const p = Math.floor(i / a), k = i % a;
      selLogits.push(logits[i]!);
      selLevel.push(li);
      for (let c = 0; c < 4; c++) selDeltas.push(lvl.deltas[(k * 4 + c) * hw + p]!);
      for (let c = 0; c < 4; c++) selAnchors.push(allAnchors[(anchorOffset + i) * 4 + c]!);
    }
    anchorOffset += n;
  });

  const decoded = RPN_CODER.decodeSync(Float32Array.from(selDeltas), Float32Array.from(selAnchors));
  const clipped = clipBoxesToImage(decoded, [imageSize[0], imageSize[1]]);
  const scores = Float32Array.from(selLogits, (x) => 1 / (1 + Math.exp(-x)));
  const keepIdx: number[] = [];
  for (const i of removeSmallBoxes(clipped, RPN_MIN_SIZE)) if (scores[i]! >= rpn.scoreThresh) keepIdx.push(i);
  const kb = gatherBoxes(clipped, keepIdx);
  const ks = Float32Array.from(keepIdx, (i) => scores[i]!);
  const kl = Int32Array.from(keepIdx, (i) => selLevel[i]!);
  const kept = batchedNmsSync(kb, ks, kl, rpn.nmsThresh, { maxOutput: postNmsTopN });
  return { boxes: gatherBoxes(kb, kept), scores: Float32Array.from(kept, (i) => ks[i]!) };
}

/** Boxes [n*4] at `indices` of `boxes`. */
export function gatherBoxes(boxes: Float32Array, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * 4);
  for (let j = 0; j < indices.length; j++) out.set(boxes.subarray(indices[j]! * 4, indices[j]! * 4 + 4), j * 4);
  return out;
}
