/**
 * One synthetic image, in memory: layout → channels → blur, gains, noise → 8-bit channels plus
 * the per-cell annotation. Image k of a seed depends only on (seed, k, level, size), not on how
 * many images are generated, so `--count 10` gives the first ten images of `--count 100`.
 */
import { Rng } from '../util/rng.js';
import type { SynthParams } from './params.js';
import { layoutCells, type CellRelation, type PlacedCell } from './layout.js';
import { maskBox } from './mask.js';
import { renderCells } from './render.js';
import { finishChannel } from './finish.js';
import type { CellClass } from './cell.js';

/** The four HPA channel names, in the order files are written. */
export const CHANNEL_NAMES = ['red', 'green', 'blue', 'yellow'] as const;
/** One of the four HPA channels. */
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** What the annotation says about one cell (object k of the XML is cells[k]). */
export interface SynthCellRecord {
  className: CellClass;
  /** Tight box of the clipped mask: x1,y1 = min, x2,y2 = max + 1 (continuous pixel coordinates). */
  box: { x1: number; y1: number; x2: number; y2: number };
  /** Mask pixels inside the image. */
  area: number;
  /** Equivalent-circle diameter of the full (unclipped) outline. */
  diameter: number;
  truncated: boolean;
  /** Faint nucleolar signal: written as VOC difficult. */
  ambiguous: boolean;
  relation: CellRelation;
  /** Green pattern ('nucleoli' for the Nucleoli class). */
  pattern: string;
}

/** Imaging conditions drawn for one image. */
export interface SynthImaging {
  blurSigma: number;
  noiseSigma: number;
  gains: Record<ChannelName, number>;
  background: Record<ChannelName, number>;
}

/** A generated image: 8-bit channels, the placed cells (with masks) and their records. */
export interface SynthImage {
  width: number;
  height: number;
  channels: Record<ChannelName, Uint8Array>;
  cells: PlacedCell[];
  records: SynthCellRecord[];
  imaging: SynthImaging;
}

/** Independent random stream for (seed, image index, purpose): xor of two seeded states. */
export function imageRng(seed: number, index: number, stream: number): Rng {
  const a = new Rng(seed >>> 0).state;
  const b = new Rng((Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0).state;
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) s[i] = (a[i]! ^ b[i]!) >>> 0;
  if (s.every((w) => w === 0)) s[0] = 1;
  const rng = new Rng(s);
  // Let the xor'ed state mix before use.
  for (let i = 0; i < 16; i++) rng.nextUint32();
  return rng;
}

const LAYOUT_STREAM = 1;
const RENDER_STREAM = 2;
const IMAGING_STREAM = 3;

/** Generate image `index` of dataset `seed` at width×height with the level's parameters. */
export function generateImage(seed: number, index: number, p: SynthParams, width: number, height: number): SynthImage {
  const cells = layoutCells(imageRng(seed, index, LAYOUT_STREAM), p, width, height);
  const channels = renderCells(imageRng(seed, index, RENDER_STREAM), cells, width, height, p);

  let rng = imageRng(seed, index, IMAGING_STREAM);
  const v = p.imageIntensityVariation;
  const imaging: SynthImaging = {
    blurSigma: rng.uniform(p.blurSigma[0], p.blurSigma[1]),
    noiseSigma: rng.uniform(p.noiseSigma[0], p.noiseSigma[1]),
    gains: { red: 0, green: 0, blue: 0, yellow: 0 },
    background: { red: 0, green: 0, blue: 0, yellow: 0 },
  };
  const out = {} as Record<ChannelName, Uint8Array>;
  for (const name of CHANNEL_NAMES) {
    imaging.gains[name] = rng.uniform(1 - v, 1 + v);
    imaging.background[name] = rng.uniform(p.background[0], p.background[1]);
    const finished = finishChannel(channels[name], width, height, {
      gain: imaging.gains[name],
      blurSigma: imaging.blurSigma,
      background: imaging.background[name],
      noiseSigma: imaging.noiseSigma,
    }, rng);
    out[name] = finished.pixels;
    rng = finished.rng;
  }

  const records: SynthCellRecord[] = cells.map((c) => ({
    className: c.plan.className,
    box: maskBox(c.mask)!,
    area: c.mask.area,
    diameter: c.plan.diameter,
    truncated: c.truncated,
    ambiguous: c.plan.ambiguous,
    relation: c.relation,
    pattern: c.plan.pattern,
  }));
  return { width, height, channels: out, cells, records, imaging };
}
