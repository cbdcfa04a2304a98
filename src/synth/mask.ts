/**
 * Binary masks stored over their own bounding window (a cell covers a small part of the image),
 * always clipped to the image. Pixel (x, y) covers [x, x+1)×[y, y+1) and is inside a shape when
 * its centre (x + 0.5, y + 0.5) is.
 */
import { contains, fastAtan2, type StarShape } from './shape.js';

/** A binary mask over the window [x0, x0+w)×[y0, y0+h) of an image. */
export interface Mask {
  x0: number;
  y0: number;
  w: number;
  h: number;
  /** w·h bytes, 1 inside, 0 outside, row-major. */
  data: Uint8Array;
  /** Pixels set. */
  area: number;
}

/** A rasterized shape: the in-image mask and how many of its pixels fell outside the image. */
export interface Raster {
  mask: Mask;
  outsideArea: number;
}

/** Rasterize `shape` on a width×height image (pixel centres), clipped to the image. */
export function rasterize(shape: StarShape, width: number, height: number): Raster {
  const fx0 = Math.floor(shape.cx - shape.rMax - 1);
  const fy0 = Math.floor(shape.cy - shape.rMax - 1);
  const fx1 = Math.ceil(shape.cx + shape.rMax + 1);
  const fy1 = Math.ceil(shape.cy + shape.rMax + 1);
  const x0 = Math.max(0, fx0);
  const y0 = Math.max(0, fy0);
  const w = Math.max(0, Math.min(width, fx1) - x0);
  const h = Math.max(0, Math.min(height, fy1) - y0);
  const data = new Uint8Array(w * h);
  let area = 0;
  let outsideArea = 0;
  // The inside test of shape.ts `contains`, inlined: this loop runs for every candidate position,
  // and a call per pixel would box its float arguments.
  const { cx, cy, radii, rMin, rMax } = shape;
  const n = radii.length;
  const toIndex = n / (2 * Math.PI);
  const rMin2 = rMin * rMin;
  const rMax2 = rMax * rMax;
  for (let y = fy0; y < fy1; y++) {
    const rowInside = y >= 0 && y < height;
    const dy = y + 0.5 - cy;
    for (let x = fx0; x < fx1; x++) {
      const dx = x + 0.5 - cx;
      const d2 = dx * dx + dy * dy;
      if (d2 >= rMax2) continue;
      if (d2 >= rMin2) {
        let f = fastAtan2(dy, dx) * toIndex;
        if (f < 0) f += n;
        const i = Math.floor(f);
        const t = f - i;
        const r = radii[i % n]! * (1 - t) + radii[(i + 1) % n]! * t;
        if (d2 >= r * r) continue;
      }
      if (rowInside && x >= 0 && x < width) {
        data[(y - y0) * w + (x - x0)] = 1;
        area++;
      } else {
        outsideArea++;
      }
    }
  }
  return { mask: { x0, y0, w, h, data, area }, outsideArea };
}

/**
 * Pixels of `m` whose centres lie inside `shape`, counting stops once it exceeds `limit` (a cheap
 * overlap test: no raster of the shape is built).
 */
export function overlapWithShape(m: Mask, shape: StarShape, limit = Infinity): number {
  const x0 = Math.max(m.x0, Math.floor(shape.cx - shape.rMax));
  const y0 = Math.max(m.y0, Math.floor(shape.cy - shape.rMax));
  const x1 = Math.min(m.x0 + m.w, Math.ceil(shape.cx + shape.rMax));
  const y1 = Math.min(m.y0 + m.h, Math.ceil(shape.cy + shape.rMax));
  let n = 0;
  for (let y = y0; y < y1; y++) {
    const row = (y - m.y0) * m.w - m.x0;
    for (let x = x0; x < x1; x++) {
      if (m.data[row + x] && contains(shape, x + 0.5, y + 0.5) && ++n > limit) return n;
    }
  }
  return n;
}

/** Pixels set in both masks. */
export function intersectionArea(a: Mask, b: Mask): number {
  const x0 = Math.max(a.x0, b.x0);
  const y0 = Math.max(a.y0, b.y0);
  const x1 = Math.min(a.x0 + a.w, b.x0 + b.w);
  const y1 = Math.min(a.y0 + a.h, b.y0 + b.h);
  let n = 0;
  for (let y = y0; y < y1; y++) {
    const ra = (y - a.y0) * a.w - a.x0;
    const rb = (y - b.y0) * b.w - b.x0;
    for (let x = x0; x < x1; x++) n += a.data[ra + x]! & b.data[rb + x]!;
  }
  return n;
}

/** Whether mask `m` has a set pixel at image coordinates (x, y). */
function isSet(m: Mask, x: number, y: number): boolean {
  const lx = x - m.x0;
  const ly = y - m.y0;
  return lx >= 0 && ly >= 0 && lx < m.w && ly < m.h && m.data[ly * m.w + lx] === 1;
}

/** Whether the masks share no pixel but some pixel of one is an 8-neighbour of a pixel of the other. */
export function touches(a: Mask, b: Mask): boolean {
  if (intersectionArea(a, b) > 0) return false;
  const x0 = Math.max(b.x0, a.x0 - 1);
  const y0 = Math.max(b.y0, a.y0 - 1);
  const x1 = Math.min(b.x0 + b.w, a.x0 + a.w + 1);
  const y1 = Math.min(b.y0 + b.h, a.y0 + a.h + 1);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (!b.data[(y - b.y0) * b.w + (x - b.x0)]) continue;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (isSet(a, x + dx, y + dy)) return true;
    }
  }
  return false;
}

/**
 * Set, in the full-image bitmap `target`, every pixel within Chebyshev distance r of a pixel of `m`
 * (the dilated mask), row run by row run, without building the dilated mask.
 */
export function paintDilated(target: Uint8Array, width: number, height: number, m: Mask, r: number): void {
  for (let y = 0; y < m.h; y++) {
    let x = 0;
    while (x < m.w) {
      if (!m.data[y * m.w + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < m.w && m.data[y * m.w + x]) x++;
      const lo = Math.max(0, m.x0 + start - r);
      const hi = Math.min(width, m.x0 + x + r);
      const yLo = Math.max(0, m.y0 + y - r);
      const yHi = Math.min(height - 1, m.y0 + y + r);
      for (let ty = yLo; ty <= yHi; ty++) target.fill(1, ty * width + lo, ty * width + hi);
    }
  }
}

/** Tight bounding box of the set pixels as continuous coordinates [x1, x2)×[y1, y2), or null if empty. */
export function maskBox(m: Mask): { x1: number; y1: number; x2: number; y2: number } | null {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let y = 0; y < m.h; y++) {
    for (let x = 0; x < m.w; x++) {
      if (!m.data[y * m.w + x]) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  if (x2 < 0) return null;
  return { x1: m.x0 + x1, y1: m.y0 + y1, x2: m.x0 + x2 + 1, y2: m.y0 + y2 + 1 };
}

/** Whether any pixel of `m` is set in the full-image bitmap `bitmap` (width wide). */
export function hitsBitmap(bitmap: Uint8Array, width: number, m: Mask): boolean {
  for (let y = 0; y < m.h; y++) {
    const row = (m.y0 + y) * width + m.x0;
    for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x] && bitmap[row + x]) return true;
  }
  return false;
}

/**
 * The mask as full width×height PNG rows: each row a filter byte 0 then width pixels, 255 inside
 * and 0 outside (what png.ts encodeFilteredRows takes; the mask files on disk).
 */
export function toPngRows(m: Mask, width: number, height: number): Uint8Array {
  const out = new Uint8Array((width + 1) * height);
  for (let y = 0; y < m.h; y++) {
    const row = (m.y0 + y) * (width + 1) + 1 + m.x0;
    for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) out[row + x] = 255;
  }
  return out;
}
