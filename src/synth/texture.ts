/**
 * Smooth random fields for cell textures (chromatin, ER network, granular cytosol): value noise,
 * i.e. a random lattice every `period` pixels interpolated with a smoothstep. Values in [0, 1].
 */
import type { Rng } from '../util/rng.js';

/** A width×height field of value noise with lattice spacing `period` (pixels, > 0). */
export function valueNoise(rng: Rng, width: number, height: number, period: number): Float32Array {
  const gw = Math.ceil(width / period) + 2;
  const gh = Math.ceil(height / period) + 2;
  const lattice = new Float32Array(gw * gh);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.next();
  // Column weights are the same for every row: precompute them once.
  const cx = new Int32Array(width);
  const wx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const f = x / period;
    const i = Math.floor(f);
    const t = f - i;
    cx[x] = i;
    wx[x] = t * t * (3 - 2 * t);
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const f = y / period;
    const j = Math.floor(f);
    const t = f - j;
    const wy = t * t * (3 - 2 * t);
    const r0 = j * gw;
    const r1 = r0 + gw;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = cx[x]!;
      const w = wx[x]!;
      const top = lattice[r0 + i]! + (lattice[r0 + i + 1]! - lattice[r0 + i]!) * w;
      const bottom = lattice[r1 + i]! + (lattice[r1 + i + 1]! - lattice[r1 + i]!) * w;
      out[row + x] = top + (bottom - top) * wy;
    }
  }
  return out;
}

/**
 * A reticular (net-like) field: ridges where two octaves of value noise cross 0.5, the look of
 * the endoplasmic reticulum. Values in [0, 1], high on the ridges.
 */
export function ridgeNoise(rng: Rng, width: number, height: number, period: number): Float32Array {
  const a = valueNoise(rng, width, height, period);
  const b = valueNoise(rng, width, height, period * 2.1);
  for (let i = 0; i < a.length; i++) {
    const ra = 1 - Math.abs(2 * a[i]! - 1);
    const rb = 1 - Math.abs(2 * b[i]! - 1);
    a[i] = 0.6 * ra * ra * ra + 0.4 * rb * rb;
  }
  return a;
}

/** Mix of two octaves of value noise (fine and coarse), in [0, 1]. */
export function granularNoise(rng: Rng, width: number, height: number, period: number): Float32Array {
  const a = valueNoise(rng, width, height, period);
  const b = valueNoise(rng, width, height, period * 2.7);
  for (let i = 0; i < a.length; i++) a[i] = 0.55 * a[i]! + 0.45 * b[i]!;
  return a;
}
