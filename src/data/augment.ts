/**
 * Random augmentation of detection samples: flips, 90° rotations, scale jitter and
 * brightness/contrast (the operations are in augment-ops.ts), configured by probabilities and
 * ranges, with every random number drawn from one Rng (the trainer's `augment` stream).
 *
 * Each sample draws exactly {@link AUGMENT_DRAWS} numbers whatever the options and outcomes, so the
 * stream's position after a batch depends only on how many samples were augmented: a run resumed
 * from a checkpoint's `augment` state repeats the same augmentations.
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
  /** Probability of a rotation; the number of clockwise quarter turns is then 1, 2 or 3, uniformly. */
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
  // Draw everything first, in a fixed order and count, so the stream never depends on outcomes.
  const u = Array.from({ length: AUGMENT_DRAWS }, () => rng.next());
  let cur: BoxedImage = { image: sample.image, boxes: sample.target.boxes };
  let { labels, difficult } = sample.target;
  if (u[0]! < (options.hflip ?? 0)) cur = hflip(cur);
  if (u[1]! < (options.vflip ?? 0)) cur = vflip(cur);
  if (u[2]! < (options.rotate90 ?? 0)) cur = rotate90(cur, 1 + Math.floor(u[3]! * 3));
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
