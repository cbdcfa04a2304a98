/**
 * Smooth random fields for cell textures (chromatin, ER network, granular cytosol): value noise,
 * i.e. a random lattice every `period` pixels interpolated with a smoothstep (sampleNoise; the
 * native painter samples the same way), only where a cell is drawn. Values in [0, 1].
 */
import type { Rng } from '../util/rng.js';

/** A random lattice covering a width×height image with spacing `period` pixels. */
export interface NoiseField {
  lattice: Float32Array;
  /** Lattice points per row. */
  stride: number;
  /** 1 / period. */
  scale: number;
}

/** Draw a value-noise field for a width×height image (period > 0 pixels). */
export function noiseField(rng: Rng, width: number, height: number, period: number): NoiseField {
  const stride = Math.ceil(width / period) + 2;
  const rows = Math.ceil(height / period) + 2;
  const lattice = new Float32Array(stride * rows);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.next();
  return { lattice, stride, scale: 1 / period };
}

/** Value of the field at pixel (x, y) (integer coordinates inside the image). */
export function sampleNoise(f: NoiseField, x: number, y: number): number {
  const fx = x * f.scale;
  const fy = y * f.scale;
  const i = Math.floor(fx);
  const j = Math.floor(fy);
  let tx = fx - i;
  let ty = fy - j;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  const l = f.lattice;
  const r0 = j * f.stride + i;
  const r1 = r0 + f.stride;
  const top = l[r0]! + (l[r0 + 1]! - l[r0]!) * tx;
  const bottom = l[r1]! + (l[r1 + 1]! - l[r1]!) * tx;
  return top + (bottom - top) * ty;
}

/** Two octaves (fine and 2.7× coarser) of value noise: granular texture. */
export interface Granular {
  fine: NoiseField;
  coarse: NoiseField;
}

/** Draw the two octaves of a texture (coarse period = 2.7 × `period`). */
export function granularField(rng: Rng, width: number, height: number, period: number): Granular {
  return { fine: noiseField(rng, width, height, period), coarse: noiseField(rng, width, height, period * 2.7) };
}

// native/synth_paint.cc samples two octaves per texture: granular = 0.55·fine + 0.45·coarse;
// reticular (net-like, the look of the endoplasmic reticulum) = 0.6·(1 − |2·fine − 1|)³ +
// 0.4·(1 − |2·coarse − 1|)², high where the noise crosses 0.5.
