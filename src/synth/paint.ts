/**
 * The per-pixel body of one cell, painted natively (native/synth_paint.cc): nucleus (blue),
 * cortex and cytoplasm (red), perinuclear reticulum (yellow) and the field-like green patterns.
 * In JavaScript this loop (two atan2, three exp and six texture lookups per pixel) was the
 * generator's largest cost.
 */
import { native } from '../native.js';
import type { GreenPattern } from './params.js';
import type { StarShape } from './shape.js';
import type { Granular, NoiseField } from './texture.js';
import type { Mask } from './mask.js';

/** The four channels being drawn (row-major gray levels). */
export interface PaintChannels {
  red: Float32Array;
  green: Float32Array;
  blue: Float32Array;
  yellow: Float32Array;
}

/** Per-image textures shared by all cells. */
export interface PaintTextures {
  chromatin: Granular;
  granules: Granular;
  reticulum: Granular;
}

/** How one cell is painted. */
export interface CellPaint {
  mask: Mask;
  cell: StarShape;
  nucleus: StarShape;
  /** Peak gray level of a clear signal (the level's signalLevel). */
  signal: number;
  gains: { red: number; green: number; blue: number; yellow: number };
  /** Brightness of the decoy green pattern relative to `signal`. */
  greenAmp: number;
  /** Nucleolar spot gain (faint background of the nucleoplasm in Nucleoli cells). */
  spotGain: number;
  /** Length scale (px) of the ER's decay away from the nucleus. */
  erDecay: number;
  pattern: GreenPattern | 'nucleoli';
}

const PATTERN_CODE: Record<CellPaint['pattern'], number> = {
  nucleoli: 0,
  cytosol: 1,
  membrane: 2,
  nucleoplasm: 3,
  vesicles: 4,
  absent: 4,
};

type PaintFn = (...args: unknown[]) => void;

const shapeArray = (s: StarShape) => {
  const a = new Float64Array(2 + s.radii.length);
  a[0] = s.cx;
  a[1] = s.cy;
  a.set(s.radii, 2);
  return a;
};

/** Add one cell's body into the channels (width×height). */
export function paintCellBody(ch: PaintChannels, width: number, height: number, tex: PaintTextures, c: CellPaint): void {
  const fields: NoiseField[] = [
    tex.chromatin.fine,
    tex.chromatin.coarse,
    tex.granules.fine,
    tex.granules.coarse,
    tex.reticulum.fine,
    tex.reticulum.coarse,
  ];
  const meta = new Float64Array(12);
  fields.forEach((f, k) => {
    meta[2 * k] = f.stride;
    meta[2 * k + 1] = f.scale;
  });
  const { mask } = c;
  (native.synthPaintCell as PaintFn)(
    ch.red,
    ch.green,
    ch.blue,
    ch.yellow,
    width,
    height,
    mask.data,
    Int32Array.of(mask.x0, mask.y0, mask.w, mask.h),
    shapeArray(c.cell),
    shapeArray(c.nucleus),
    fields.map((f) => f.lattice),
    meta,
    Float64Array.of(c.signal, c.gains.red, c.gains.green, c.gains.blue, c.gains.yellow, c.greenAmp, c.spotGain, c.erDecay, PATTERN_CODE[c.pattern]),
  );
}
