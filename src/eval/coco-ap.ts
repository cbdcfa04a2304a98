/**
 * COCO box AP of one class, with pycocotools' semantics (COCOeval.evaluateImg + accumulate,
 * iouType 'bbox', area range 'all', useCats): 10 IoU thresholds 0.50:0.05:0.95, 101 recall
 * thresholds, at most `maxDets` detections per image and class (the highest scoring).
 *
 * Per image and threshold, each detection (decreasing score) takes the best still-available
 * ground-truth box with IoU ≥ t (ties go to the later box, as pycocotools' `<` test does); boxes
 * that count are tried before ignored ones and, once a counting box is matched, ignored ones are
 * not tried. Ignored boxes (difficult/crowd) overlap a detection by intersection over the
 * detection's area, may take any number of detections, and make those detections ignored.
 * Then all detections of the class, over every image, are ranked by score (stable) into a
 * precision/recall curve, precision is made monotone and read at recall 0, 0.01, …, 1.
 */
import { boxCount, byDecreasingScore, type ClassImage } from './class-images.js';
import { crowdOverlap, pairIou } from './iou.js';

/** numpy linspace(start, stop, n) as numpy computes it: start + i·step, the last one exactly stop. */
function linspace(start: number, stop: number, n: number): number[] {
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : i * step + start));
}

/** pycocotools' iouThrs: 0.5, 0.55, …, 0.95. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));
/** pycocotools' recThrs: 0, 0.01, …, 1. */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Object.freeze(linspace(0, 1, 101));
/** pycocotools' largest maxDets. */
export const COCO_MAX_DETS = 100;

/** np.spacing(1): pycocotools adds it to the precision's denominator. */
const SPACING_1 = 2 ** -52;

/** One image's outcome at every IoU threshold. */
interface ImageEval {
  scores: number[];
  /** [t][d]: matched a ground-truth box. */
  matched: Uint8Array[];
  /** [t][d]: matched an ignored box (neither true nor false positive). */
  ignored: Uint8Array[];
  numCounting: number;
}

function evaluateImage(im: ClassImage, maxDets: number): ImageEval | undefined {
  const numGt = boxCount(im.gtBoxes);
  if (numGt === 0 && im.detScores.length === 0) return undefined;
  // Counting boxes first, ignored ones after (stable), as evaluateImg's gtind.
  const gts = Array.from({ length: numGt }, (_, g) => g).sort((a, b) => im.gtIgnore[a]! - im.gtIgnore[b]! || a - b);
  const dets = byDecreasingScore(im.detScores).slice(0, maxDets);
  const overlap = dets.map((d) => gts.map((g) => (im.gtIgnore[g] ? crowdOverlap(im.detBoxes, d, im.gtBoxes, g) : pairIou(im.detBoxes, d, im.gtBoxes, g))));
  const out: ImageEval = { scores: dets.map((d) => im.detScores[d]!), matched: [], ignored: [], numCounting: gts.filter((g) => !im.gtIgnore[g]).length };
  for (const t of COCO_IOU_THRESHOLDS) {
    const gtTaken = new Uint8Array(gts.length);
    const matched = new Uint8Array(dets.length), ignored = new Uint8Array(dets.length);
    dets.forEach((_, di) => {
      let best = Math.min(t, 1 - 1e-10);
      let m = -1;
      for (let gi = 0; gi < gts.length; gi++) {
        const isIgnored = im.gtIgnore[gts[gi]!]!;
        if (gtTaken[gi] && !isIgnored) continue;
        if (m > -1 && !im.gtIgnore[gts[m]!] && isIgnored) break;
        if (overlap[di]![gi]! < best) continue;
        best = overlap[di]![gi]!;
        m = gi;
      }
      if (m === -1) return;
      ignored[di] = im.gtIgnore[gts[m]!]!;
      matched[di] = 1;
      gtTaken[m] = 1;
    });
    out.matched.push(matched);
    out.ignored.push(ignored);
  }
  return out;
}

/** COCO precision of one class: [t][r] at each IoU and recall threshold, and AP = their mean. */
export interface CocoClassResult {
  /** [10][101]; absent when the class has no counting ground-truth box (pycocotools' -1). */
  precision?: Float64Array[];
  /** Mean of precision over thresholds; NaN without ground truth (excluded from the mean AP). */
  ap: number;
}

/** Evaluate one class over `images` (in image order; ties in score across images keep it). */
export function cocoClassAp(images: readonly ClassImage[], maxDets = COCO_MAX_DETS): CocoClassResult {
  const evals = images.map((im) => evaluateImage(im, maxDets)).filter((e): e is ImageEval => e !== undefined);
  const numCounting = evals.reduce((s, e) => s + e.numCounting, 0);
  if (numCounting === 0) return { ap: NaN };
  const scores = evals.flatMap((e) => e.scores);
  const order = byDecreasingScore(scores);
  const precision: Float64Array[] = [];
  let sum = 0;
  COCO_IOU_THRESHOLDS.forEach((_, t) => {
    const matched = evals.flatMap((e) => Array.from(e.matched[t]!));
    const ignored = evals.flatMap((e) => Array.from(e.ignored[t]!));
    const rc: number[] = [], pr: number[] = [];
    let tp = 0, fp = 0;
    for (const k of order) {
      if (ignored[k]) {
        // An ignored detection still occupies its rank with the running counts, as in accumulate.
      } else if (matched[k]) tp++;
      else fp++;
      rc.push(tp / numCounting);
      pr.push(tp / (fp + tp + SPACING_1));
    }
    for (let i = pr.length - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
    const q = new Float64Array(COCO_RECALL_THRESHOLDS.length);
    let i = 0;
    COCO_RECALL_THRESHOLDS.forEach((r, ri) => {
      while (i < rc.length && rc[i]! < r) i++; // searchsorted(rc, r, side='left')
      q[ri] = i < rc.length ? pr[i]! : 0;
    });
    precision.push(q);
    for (const v of q) sum += v;
  });
  return { precision, ap: sum / (COCO_IOU_THRESHOLDS.length * COCO_RECALL_THRESHOLDS.length) };
}
