/**
 * Random augmentation of detection samples: flips, 90° rotations, scale jitter and
 * brightness/contrast (the operations are in augment-ops.ts), configured by probabilities and
 * ranges, with every random number drawn from one Rng (the trainer's `augment` stream).
 *
 * Each sample draws exactly {@link AUGMENT_DRAWS} numbers whatever the options and outcomes, so the
 * stream's position after a batch depends only on how many samples were augmented: a run resumed
 * from a checkpoint's `augment` state repeats the same augmentations.
 *
 * A batch is augmented as a whole ({@link augmentBatch}) so that its quarter turns keep its images
 * one shape: an odd number of turns swaps a non-square image's width and height, and a batch of a
 * 640×480 and a 480×640 image pads to 640×640 (a third more pixels to compute) and needs its own
 * set of static-shape training models. The first image of each orientation (landscape, portrait)
 * in a batch draws its rotation as {@link augmentSample} does; every later image of that orientation
 * takes the same parity (turned an odd number of times or not), choosing within it from its own
 * draws with the conditional probabilities, so each image still gets each rotation with the same
 * probability (what torchvision's references get from grouping images by aspect ratio).
 */
import type { Rng } from '../util/rng.js';
import { brightnessContrast, hflip, rotate90, scaleJitter, vflip, type BoxedImage } from './augment-ops.js';
import type { DetectionSample } from './dataset.js';

/** Augmentation settings; every probability defaults to 0 (off). */
export interface AugmentOptions {
  /** Probability of a horizontal flip. */
  hflip?: number;
  /** Probability of a vertical flip. */
  vflip?: number;
  /** Probability of a rotation per image; the number of clockwise quarter turns is then 1, 2 or 3, uniformly (grouped within a batch: augmentBatch). */
  rotate90?: number;
  /** Scale jitter: with probability `p`, resize by a factor uniform in [min, max]; `keepSize` (default true) crops or pads back to the input size at a uniformly drawn offset. */
  scaleJitter?: { p: number; min: number; max: number; keepSize?: boolean };
  /** With probability `p`: brightness factor uniform in [1 − brightness, 1 + brightness], contrast likewise (torchvision ColorJitter ranges). */
  color?: { p: number; brightness?: number; contrast?: number };
}

/** Random numbers each sample draws from the stream (see the file comment). */
export const AUGMENT_DRAWS = 11;

/** Check `options`, naming the bad field; returns them unchanged. */
export function validateAugmentOptions(options: AugmentOptions): AugmentOptions {
  const prob = (name: string, p: unknown) => {
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) throw new RangeError(`augment.${name} must be a probability in [0, 1], got ${String(p)}`);
  };
  prob('hflip', options.hflip);
  prob('vflip', options.vflip);
  prob('rotate90', options.rotate90);
  const s = options.scaleJitter;
  if (s) {
    prob('scaleJitter.p', s.p);
    if (!(s.min > 0) || !(s.max >= s.min) || !Number.isFinite(s.max)) throw new RangeError(`augment.scaleJitter needs 0 < min ≤ max, got min ${s.min}, max ${s.max}`);
  }
  const c = options.color;
  if (c) {
    prob('color.p', c.p);
    for (const k of ['brightness', 'contrast'] as const) {
      const v = c[k];
      if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`augment.color.${k} must be in [0, 1], got ${v}`);
    }
  }
  return options;
}

/**
 * Augment one sample (pure: the input is not changed): in this order horizontal flip, vertical
 * flip, rotation, scale jitter, brightness/contrast, each when its draw is below its probability.
 * Labels (and difficult flags) follow their boxes; scale jitter may drop boxes cropped away.
 */
export function augmentSample(sample: DetectionSample, options: AugmentOptions, rng: Rng): DetectionSample {
  const u = draw(rng);
  return applyAugment(sample, options, u, quarterTurns(u, options.rotate90 ?? 0));
}

/**
 * Augment a batch (pure), drawing {@link AUGMENT_DRAWS} numbers per sample in order like
 * {@link augmentSample}, with the quarter turns grouped by orientation (see the file comment).
 */
export function augmentBatch(samples: readonly DetectionSample[], options: AugmentOptions, rng: Rng): DetectionSample[] {
  const draws = samples.map(() => draw(rng));
  const p = options.rotate90 ?? 0;
  // Parity (odd = width and height swapped) of the first image of each orientation.
  const leaders = new Map<Orientation, number>();
  return samples.map((sample, i) => {
    const u = draws[i]!;
    const o = orientation(sample.image);
    let turns = quarterTurns(u, p);
    if (o !== 'square') {
      const parity = leaders.get(o);
      if (parity === undefined) leaders.set(o, turns % 2);
      else turns = quarterTurnsWithParity(u, p, parity);
    }
    return applyAugment(sample, options, u, turns);
  });
}

export type Orientation = 'landscape' | 'portrait' | 'square';

/** Orientation of an image of this size (the loader batches by it too). */
export function orientation({ width, height }: { width: number; height: number }): Orientation {
  return width > height ? 'landscape' : width < height ? 'portrait' : 'square';
}

/** Draw everything first, in a fixed order and count, so the stream never depends on outcomes. */
function draw(rng: Rng): number[] {
  return Array.from({ length: AUGMENT_DRAWS }, () => rng.next());
}

/** Clockwise quarter turns from a sample's draws: 0 with probability 1 − p, else 1, 2 or 3 uniformly. */
function quarterTurns(u: readonly number[], p: number): number {
  return u[2]! < p ? 1 + Math.floor(u[3]! * 3) : 0;
}

/**
 * Quarter turns of the given parity, with the probabilities {@link quarterTurns} gives them
 * conditioned on that parity: odd is 1 or 3 equally; even is 2 with probability
 * (p/3) / (1 − p + p/3) = p / (3 − 2p), else 0.
 */
function quarterTurnsWithParity(u: readonly number[], p: number, parity: number): number {
  if (parity === 1) return u[3]! < 0.5 ? 1 : 3;
  return u[2]! < p / (3 - 2 * p) ? 2 : 0;
}

function applyAugment(sample: DetectionSample, options: AugmentOptions, u: readonly number[], turns: number): DetectionSample {
  let cur: BoxedImage = { image: sample.image, boxes: sample.target.boxes };
  let { labels, difficult } = sample.target;
  if (u[0]! < (options.hflip ?? 0)) cur = hflip(cur);
  if (u[1]! < (options.vflip ?? 0)) cur = vflip(cur);
  if (turns !== 0) cur = rotate90(cur, turns);
  const s = options.scaleJitter;
  if (s && u[4]! < s.p) {
    const factor = s.min + (s.max - s.min) * u[5]!;
    const { width: W, height: H } = cur.image;
    const w = Math.max(1, Math.round(W * factor)), h = Math.max(1, Math.round(H * factor));
    // Offsets place the resized image anywhere it still covers (crop) or fits in (pad) the canvas.
    const offset = (free: number, r: number) => (free >= 0 ? Math.floor(r * (free + 1)) : -Math.floor(r * (-free + 1)));
    const out = scaleJitter(cur, factor, s.keepSize === false ? undefined : { offsetX: offset(W - w, u[6]!), offsetY: offset(H - h, u[7]!) });
    cur = out;
    if (out.keep.some((k) => k === 0)) {
      labels = labels.filter((_, i) => out.keep[i] === 1);
      difficult = difficult?.filter((_, i) => out.keep[i] === 1);
    }
  }
  const c = options.color;
  if (c && u[8]! < c.p) {
    const b = c.brightness ?? 0, k = c.contrast ?? 0;
    cur = brightnessContrast(cur, 1 - b + 2 * b * u[9]!, 1 - k + 2 * k * u[10]!);
  }
  const target = { boxes: cur.boxes === sample.target.boxes ? cur.boxes.slice() : cur.boxes, labels: labels.slice(), ...(difficult ? { difficult: difficult.slice() } : {}) };
  return { id: sample.id, image: cur.image, target };
}
