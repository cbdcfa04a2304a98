/**
 * Star-convex blobs (every boundary point visible from the centre): the outline of cells and
 * nuclei. A shape is a centre plus a radius per angle, sampled on a fixed grid of angles, so the
 * inside test is one atan2 and one interpolation, and moving a shape is just changing its centre.
 */
import type { Rng } from '../util/rng.js';

/** Number of angle samples of a shape's radius function. */
const ANGLES = 128;
const TWO_PI = 2 * Math.PI;

/** A star-convex shape: radius(θ) around (cx, cy), θ measured with atan2(dy, dx). */
export interface StarShape {
  cx: number;
  cy: number;
  /** radius at θ_i = 2π·i/ANGLES, i = 0..ANGLES-1. */
  radii: Float64Array;
  /** Largest radius (a bound for bounding boxes). */
  rMax: number;
  /** Smallest radius. */
  rMin: number;
  /** Orientation of the major axis (radians). */
  angle: number;
}

/** How to draw a random outline. */
export interface OutlineOptions {
  /** Equivalent-circle diameter: the shape's area is π·d²/4. */
  diameter: number;
  /** Major/minor axis ratio of the underlying ellipse (≥ 1). */
  elongation: number;
  /** Orientation of the major axis (radians). */
  angle: number;
  /** Amplitude of the random harmonics 2..6 that make the outline irregular. */
  irregularity: number;
}

/**
 * A random irregular ellipse: an ellipse times (1 + Σ_k c_k·cos(kθ + φ_k)), k = 2..6 with
 * |c_k| ≤ irregularity/k (smooth, lumpy rather than spiky), scaled so its area is exactly π·d²/4.
 */
export function randomOutline(rng: Rng, cx: number, cy: number, o: OutlineOptions): StarShape {
  const a = Math.sqrt(o.elongation);
  const b = 1 / a;
  const harmonics: { c: number; phase: number; k: number }[] = [];
  for (let k = 2; k <= 6; k++) {
    harmonics.push({ k, c: rng.uniform(-1, 1) * (o.irregularity / (k - 1)), phase: rng.uniform(0, TWO_PI) });
  }
  const radii = new Float64Array(ANGLES);
  for (let i = 0; i < ANGLES; i++) {
    const t = (TWO_PI * i) / ANGLES;
    const u = t - o.angle;
    let r = 1 / Math.sqrt((Math.cos(u) / a) ** 2 + (Math.sin(u) / b) ** 2);
    let wobble = 1;
    for (const h of harmonics) wobble += h.c * Math.cos(h.k * t + h.phase);
    r *= Math.max(0.5, wobble);
    radii[i] = r;
  }
  return scaleToDiameter({ cx, cy, radii, rMax: 0, rMin: 0, angle: o.angle }, o.diameter);
}

/** Area of a star-convex shape: ½∮r(θ)²dθ (trapezoid-free: the radius is piecewise linear). */
export function shapeArea(s: StarShape): number {
  const n = s.radii.length;
  const dt = TWO_PI / n;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const r0 = s.radii[i]!;
    const r1 = s.radii[(i + 1) % n]!;
    // ∫ of (linear r)² over one step.
    sum += ((r0 * r0 + r0 * r1 + r1 * r1) / 3) * dt;
  }
  return 0.5 * sum;
}

/** Rescale the radii in place so the area is π·d²/4; returns the shape. */
export function scaleToDiameter(s: StarShape, diameter: number): StarShape {
  const target = (Math.PI * diameter * diameter) / 4;
  const k = Math.sqrt(target / shapeArea(s));
  let rMax = 0;
  let rMin = Infinity;
  for (let i = 0; i < s.radii.length; i++) {
    const r = s.radii[i]! * k;
    s.radii[i] = r;
    if (r > rMax) rMax = r;
    if (r < rMin) rMin = r;
  }
  s.rMax = rMax;
  s.rMin = rMin;
  return s;
}

/** A copy of `s` at a new centre (the radii are shared: shapes are never mutated after layout). */
export function movedTo(s: StarShape, cx: number, cy: number): StarShape {
  return { ...s, cx, cy };
}

/**
 * atan2 by a degree-11 odd minimax polynomial after octant reduction: max error about 1e-5 rad
 * (a hundredth of a pixel at r = 1000), several times faster than Math.atan2 in the raster loops.
 * native/synth_paint.cc uses the same formula.
 */
export function fastAtan2(y: number, x: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  const hi = Math.max(ax, ay);
  if (hi === 0) return 0;
  const a = Math.min(ax, ay) / hi;
  const s = a * a;
  let r = a * (0.99997726 + s * (-0.33262347 + s * (0.19354346 + s * (-0.11643287 + s * (0.05265332 + s * -0.0117212)))));
  if (ay > ax) r = Math.PI / 2 - r;
  if (x < 0) r = Math.PI - r;
  return y < 0 ? -r : r;
}

/** Radius of the shape in direction θ (radians, any value). */
export function radiusAt(s: StarShape, theta: number): number {
  const n = s.radii.length;
  let f = (theta / TWO_PI) * n;
  f -= Math.floor(f / n) * n;
  const i = Math.floor(f);
  const w = f - i;
  return s.radii[i % n]! * (1 - w) + s.radii[(i + 1) % n]! * w;
}

/**
 * Normalised radial coordinate of point (x, y): distance from the centre divided by the radius in
 * that direction. < 1 inside, 1 on the boundary.
 */
export function radialCoordinate(s: StarShape, x: number, y: number): number {
  const dx = x - s.cx;
  const dy = y - s.cy;
  const d = Math.sqrt(dx * dx + dy * dy);
  if (d === 0) return 0;
  return d / radiusAt(s, fastAtan2(dy, dx));
}

/** Whether point (x, y) lies strictly inside the shape. */
export function contains(s: StarShape, x: number, y: number): boolean {
  const dx = x - s.cx;
  const dy = y - s.cy;
  const d2 = dx * dx + dy * dy;
  if (d2 < s.rMin * s.rMin) return true;
  if (d2 >= s.rMax * s.rMax) return false;
  const r = radiusAt(s, fastAtan2(dy, dx));
  return d2 < r * r;
}

/** Whether `inner` lies inside `outer` with at least `margin` pixels to spare along every ray of `inner`. */
export function containsShape(outer: StarShape, inner: StarShape, margin: number): boolean {
  const n = inner.radii.length;
  for (let i = 0; i < n; i++) {
    const t = (TWO_PI * i) / n;
    const r = inner.radii[i]! + margin;
    if (!contains(outer, inner.cx + r * Math.cos(t), inner.cy + r * Math.sin(t))) return false;
  }
  return true;
}
