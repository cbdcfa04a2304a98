/**
 * Draws the four HPA channels of the placed cells, before blur and noise:
 * - blue (nucleus): textured chromatin, a little darker at the nucleoli;
 * - red (microtubules): filaments that run from the nucleus towards the cell edge, plus a bright
 *   cortical rim and a faint diffuse cytoplasm;
 * - yellow (endoplasmic reticulum): a reticular network densest around the nucleus;
 * - green (protein): bright spots on the nucleoli ("Nucleoli" cells) or the cell's decoy pattern.
 * Intensities are gray levels scaled by the level's signalLevel and per-cell gains. The per-pixel
 * body of each cell is painted natively (paint.ts); filaments and spots are drawn here.
 */
import type { Rng } from '../util/rng.js';
import type { SynthParams } from './params.js';
import type { PlacedCell } from './layout.js';
import { contains, radiusAt } from './shape.js';
import { granularField } from './texture.js';
import { paintCellBody, type PaintTextures } from './paint.js';

/** The four channels of one image, row-major gray levels (float, not yet clamped). */
export interface Channels {
  red: Float32Array;
  green: Float32Array;
  blue: Float32Array;
  yellow: Float32Array;
}

/** Per-cell gains of each channel. */
interface Gains {
  red: number;
  green: number;
  blue: number;
  yellow: number;
}

/** Add a Gaussian spot of peak `amplitude` and σ `sigma` centred at (x, y) (continuous coordinates). */
export function addSpot(
  channel: Float32Array,
  width: number,
  height: number,
  x: number,
  y: number,
  sigma: number,
  amplitude: number,
): void {
  const r = Math.ceil(3 * sigma);
  const inv = 1 / (2 * sigma * sigma);
  const x0 = Math.max(0, Math.floor(x) - r);
  const x1 = Math.min(width - 1, Math.floor(x) + r);
  const y0 = Math.max(0, Math.floor(y) - r);
  const y1 = Math.min(height - 1, Math.floor(y) + r);
  for (let py = y0; py <= y1; py++) {
    const dy = py + 0.5 - y;
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - x;
      channel[py * width + px] += amplitude * Math.exp(-(dx * dx + dy * dy) * inv);
    }
  }
}

/** Bilinear deposit of `amount` at (x, y): a sub-pixel point of a filament. */
function splat(channel: Float32Array, width: number, height: number, x: number, y: number, amount: number): void {
  const fx = x - 0.5;
  const fy = y - 0.5;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  const tx = fx - ix;
  const ty = fy - iy;
  if (ix < 0 || iy < 0 || ix + 1 >= width || iy + 1 >= height) return;
  const i = iy * width + ix;
  channel[i] += amount * (1 - tx) * (1 - ty);
  channel[i + 1] += amount * tx * (1 - ty);
  channel[i + width] += amount * (1 - tx) * ty;
  channel[i + width + 1] += amount * tx * ty;
}

/** Microtubules: persistent random walks from the nuclear edge outwards, stopping at the cell edge. */
function paintFilaments(rng: Rng, ch: Channels, width: number, height: number, cell: PlacedCell, amplitude: number): void {
  const c = cell.cell;
  const n = cell.nucleus;
  const count = Math.round(cell.mask.area / 60);
  const maxSteps = Math.ceil(1.5 * cell.plan.diameter);
  for (let f = 0; f < count; f++) {
    const t = rng.uniform(0, 2 * Math.PI);
    const r0 = radiusAt(n, t) * rng.uniform(0.6, 1.1);
    let x = n.cx + r0 * Math.cos(t);
    let y = n.cy + r0 * Math.sin(t);
    let heading = t + rng.normal(0, 0.9);
    const strength = amplitude * rng.uniform(0.4, 1);
    for (let step = 0; step < maxSteps; step++) {
      if (!contains(c, x, y)) break;
      splat(ch.red, width, height, x, y, strength);
      // Uniform turn with the variance of N(0, 0.16²): one draw, no log/cos per step.
      heading += rng.uniform(-0.277, 0.277);
      x += Math.cos(heading);
      y += Math.sin(heading);
    }
  }
}

/** A point inside the cell's cytoplasm (outside the nucleus with a margin), by rejection. */
function cytoplasmPoint(rng: Rng, cell: PlacedCell): [number, number] | null {
  const c = cell.cell;
  for (let i = 0; i < 20; i++) {
    const x = c.cx + rng.uniform(-c.rMax, c.rMax);
    const y = c.cy + rng.uniform(-c.rMax, c.rMax);
    if (!contains(c, x, y)) continue;
    const t = Math.atan2(y - cell.nucleus.cy, x - cell.nucleus.cx);
    const d = Math.hypot(x - cell.nucleus.cx, y - cell.nucleus.cy);
    if (d > radiusAt(cell.nucleus, t) + 4 && radiusAt(c, Math.atan2(y - c.cy, x - c.cx)) - Math.hypot(x - c.cx, y - c.cy) > 2) {
      return [x, y];
    }
  }
  return null;
}

/** Spot-like parts: nucleoli (green spots and blue dips) and vesicles. */
function paintSpots(rng: Rng, ch: Channels, width: number, height: number, cell: PlacedCell, g: Gains, s: number, greenAmp: number): void {
  const { plan } = cell;
  const { cx, cy } = cell.cell;
  for (const nu of plan.nucleoli) {
    const x = cx + nu.dx;
    const y = cy + nu.dy;
    // Nucleoli exclude DNA: a dip in the blue channel in every cell, stained or not.
    addSpot(ch.blue, width, height, x, y, nu.sigma * 1.2, -s * 0.15 * g.blue);
    if (plan.pattern === 'nucleoli') addSpot(ch.green, width, height, x, y, nu.sigma, s * g.green * plan.spotGain);
  }
  if (plan.pattern === 'vesicles') {
    const count = Math.round(cell.mask.area / 400) + 5;
    for (let i = 0; i < count; i++) {
      const p = cytoplasmPoint(rng, cell);
      if (p) addSpot(ch.green, width, height, p[0], p[1], rng.uniform(1, 1.8), s * greenAmp * g.green * rng.uniform(0.9, 1.5));
    }
  }
}

/** Render all cells of one image into four fresh channels. */
export function renderCells(rng: Rng, cells: PlacedCell[], width: number, height: number, p: SynthParams): Channels {
  const size = width * height;
  const ch: Channels = {
    red: new Float32Array(size),
    green: new Float32Array(size),
    blue: new Float32Array(size),
    yellow: new Float32Array(size),
  };
  const tex: PaintTextures = {
    chromatin: granularField(rng, width, height, 5),
    // The reticular octaves: 6 px and 2.7× that (ridges of the first dominate).
    reticulum: granularField(rng, width, height, 6),
    granules: granularField(rng, width, height, 4),
  };
  const s = p.signalLevel;
  const v = p.cellIntensityVariation;
  for (const cell of cells) {
    const g: Gains = {
      red: rng.uniform(1 - v, 1 + v),
      green: rng.uniform(1 - v, 1 + v),
      blue: rng.uniform(1 - v, 1 + v),
      yellow: rng.uniform(1 - v, 1 + v),
    };
    // Decoy patterns are dimmer than nucleolar spots but clearly visible.
    const greenAmp = rng.uniform(0.3, 0.6);
    paintCellBody(ch, width, height, tex, {
      mask: cell.mask,
      cell: cell.cell,
      nucleus: cell.nucleus,
      signal: s,
      gains: g,
      greenAmp,
      spotGain: cell.plan.spotGain,
      erDecay: 0.3 * cell.plan.diameter,
      pattern: cell.plan.pattern,
    });
    paintFilaments(rng, ch, width, height, cell, s * 0.22 * g.red);
    paintSpots(rng, ch, width, height, cell, g, s, greenAmp);
  }
  return ch;
}
