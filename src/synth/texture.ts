/**
 * Smooth random fields for cell textures (chromatin, ER network, granular cytosol): value noise,
 * i.e. a random lattice every `period` pixels interpolated with a smoothstep. Fields are sampled
 * per pixel only where a cell is drawn (no full-image buffers). Values in [0, 1].
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

export function granularField(rng: Rng, width: number, height: number, period: number): Granular {
  return { fine: noiseField(rng, width, height, period), coarse: noiseField(rng, width, height, period * 2.7) };
}

/** Granular texture at (x, y), in [0, 1]. */
export function sampleGranular(g: Granular, x: number, y: number): number {
  return 0.55 * sampleNoise(g.fine, x, y) + 0.45 * sampleNoise(g.coarse, x, y);
}

/**
 * Reticular (net-like) texture at (x, y): ridges where two octaves of value noise cross 0.5, the
 * look of the endoplasmic reticulum. In [0, 1], high on the ridges.
 */
export function sampleReticular(g: Granular, x: number, y: number): number {
  const ra = 1 - Math.abs(2 * sampleNoise(g.fine, x, y) - 1);
  const rb = 1 - Math.abs(2 * sampleNoise(g.coarse, x, y) - 1);
  return 0.6 * ra * ra * ra + 0.4 * rb * rb;
}

/** Which texture a window buffer holds. */
export type TextureKind = 'granular' | 'reticular';

/**
 * Sample a texture over the window [x0, x0+w)×[y0, y0+h) into a w·h buffer: one tight loop per
 * cell, so the per-pixel sampling is inlined and allocation-free.
 */
export function fillTexture(g: Granular, kind: TextureKind, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = kind === 'granular' ? sampleGranular(g, x0 + x, y0 + y) : sampleReticular(g, x0 + x, y0 + y);
    }
  }
  return out;
}
