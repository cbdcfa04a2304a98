/**
 * Cell placement with controlled contact. Cells come in clusters: overlapping pairs, touching
 * pairs and isolated singletons, in the numbers the level asks for. Every relation is checked on
 * the rasterized (image-clipped) masks, exactly as a test or a user would measure it:
 * - touching: the two masks share no pixel and some pixels are 8-neighbours;
 * - overlapping: they share pixels, at most `overlap[1]` of the smaller cell's area, and neither
 *   nucleus reaches into the other cell;
 * - clusters keep more than `isolationGap` pixels (Chebyshev) from each other.
 */
import type { Rng } from '../util/rng.js';
import type { SynthParams } from './params.js';
import { planCell, placeShapes, type CellPlan, type PlacedShapes } from './cell.js';
import { hitsBitmap, intersectionArea, overlapWithShape, paintDilated, rasterize, touches, type Mask } from './mask.js';
import { shapeArea } from './shape.js';

/** How a placed cell relates to its neighbours. */
export type CellRelation = 'isolated' | 'touching' | 'overlapping';

/** A cell at its final position, with its masks. */
export interface PlacedCell extends PlacedShapes {
  plan: CellPlan;
  /** Cell mask, clipped to the image. */
  mask: Mask;
  /** Nucleus mask (always fully inside the image). */
  nucleusMask: Mask;
  /** Part of the cell lies outside the image. */
  truncated: boolean;
  relation: CellRelation;
}

type ClusterKind = 'overlap' | 'touch' | 'single';

/** Attempts at one cluster before it is split into singletons (pairs) or dropped (singletons). */
const ATTEMPTS = 60;
/** Bisection steps along the pair axis (the interval starts at about 2·r_max; 12 steps ≈ 0.05 px). */
const BISECTION_STEPS = 12;

/** Round x up or down at random so that the expectation is x (counts of pairs per image). */
function stochasticRound(rng: Rng, x: number): number {
  const f = Math.floor(x);
  return f + (rng.next() < x - f ? 1 : 0);
}

class Canvas {
  /** Pixels within isolationGap of an already placed cluster. */
  readonly halo: Uint8Array;
  readonly cells: PlacedCell[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
    readonly p: SynthParams,
  ) {
    this.halo = new Uint8Array(width * height);
  }

  /**
   * Cheap rejection before any raster: the nucleus must lie inside the image (2 px margin) and no
   * point well inside the outline (rings at 40% and 90% of the radius) may fall in another
   * cluster's halo. Most random positions in a crowded image fail here.
   */
  private quickReject(shapes: PlacedShapes): boolean {
    const n = shapes.nucleus;
    if (n.cx - n.rMax < 2 || n.cy - n.rMax < 2 || n.cx + n.rMax > this.width - 2 || n.cy + n.rMax > this.height - 2) return true;
    const c = shapes.cell;
    const steps = c.radii.length;
    for (const ring of [0.4, 0.9]) {
      for (let i = 0; i < steps; i += 4) {
        const t = (2 * Math.PI * i) / steps;
        const x = Math.floor(c.cx + ring * c.radii[i]! * Math.cos(t));
        const y = Math.floor(c.cy + ring * c.radii[i]! * Math.sin(t));
        if (x >= 0 && y >= 0 && x < this.width && y < this.height && this.halo[y * this.width + x]) return true;
      }
    }
    return false;
  }

  /** Rasterize a cell at (cx, cy) and check it against the image bounds and the other clusters. */
  tryCell(plan: CellPlan, cx: number, cy: number): PlacedCell | null {
    const shapes = placeShapes(plan, cx, cy);
    // Nuclei stay fully inside the image (with a small margin), so every labelled cell shows its nucleus.
    if (this.quickReject(shapes)) return null;
    const cell = rasterize(shapes.cell, this.width, this.height);
    const total = cell.mask.area + cell.outsideArea;
    if (cell.mask.area === 0 || cell.outsideArea > this.p.maxOutsideFraction * total) return null;
    if (hitsBitmap(this.halo, this.width, cell.mask)) return null;
    return {
      ...shapes,
      plan,
      mask: cell.mask,
      nucleusMask: rasterize(shapes.nucleus, this.width, this.height).mask,
      truncated: cell.outsideArea > 0,
      relation: 'isolated',
    };
  }

  /** A random position for a cell centre: inside the image, or just past its edge when allowed. */
  randomCentre(rng: Rng, plan: CellPlan): [number, number] {
    const r = plan.outline.rMax;
    // Allow centres up to ~half a radius outside when truncation is allowed; tryCell enforces the limits.
    const pad = this.p.maxOutsideFraction > 0 ? -0.5 * r : r;
    return [rng.uniform(pad, this.width - pad), rng.uniform(pad, this.height - pad)];
  }

  accept(cluster: PlacedCell[]): void {
    for (const c of cluster) {
      paintDilated(this.halo, this.width, this.height, c.mask, this.p.isolationGap);
      this.cells.push(c);
    }
  }

  /**
   * Place `second` next to `first` along a random direction, at the distance where the relation
   * holds: bisection on the centre distance (contact is monotone along the axis for star shapes).
   */
  tryPartner(rng: Rng, first: PlacedCell, second: CellPlan, kind: 'overlap' | 'touch'): PlacedCell | null {
    const dir = rng.uniform(0, 2 * Math.PI);
    const ux = Math.cos(dir);
    const uy = Math.sin(dir);
    const target = kind === 'overlap' ? rng.uniform(this.p.overlap[0], this.p.overlap[1]) : 0;
    const minArea = (b: Mask) => Math.min(first.mask.area, b.area);
    // For the bisection, compare against the smaller full outline area (the clip is checked after).
    const limit = kind === 'touch' ? 0 : target * Math.min(first.mask.area, shapeArea(second.outline));
    let lo = 0;
    let hi = first.cell.rMax + second.outline.rMax + 2;
    for (let i = 0; i < BISECTION_STEPS; i++) {
      const mid = (lo + hi) / 2;
      const s = placeShapes(second, first.cell.cx + mid * ux, first.cell.cy + mid * uy);
      if (overlapWithShape(first.mask, s.cell, limit) > limit) lo = mid;
      else hi = mid;
    }
    const placed = this.tryCell(second, first.cell.cx + hi * ux, first.cell.cy + hi * uy);
    if (!placed) return null;
    const shared = intersectionArea(first.mask, placed.mask);
    if (kind === 'touch') {
      if (!touches(first.mask, placed.mask)) return null;
    } else {
      const fraction = shared / minArea(placed.mask);
      if (shared === 0 || fraction < this.p.overlap[0] || fraction > this.p.overlap[1]) return null;
      // Cells overlap at their rims: neither nucleus reaches into the other cell.
      if (intersectionArea(first.nucleusMask, placed.mask) > 0) return null;
      if (intersectionArea(placed.nucleusMask, first.mask) > 0) return null;
    }
    return placed;
  }

  /** Place one cluster; returns false when no attempt fitted. */
  placeCluster(rng: Rng, plans: CellPlan[], kind: ClusterKind): boolean {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const [cx, cy] = this.randomCentre(rng, plans[0]!);
      const first = this.tryCell(plans[0]!, cx, cy);
      if (!first) continue;
      if (kind === 'single') {
        this.accept([first]);
        return true;
      }
      for (let turn = 0; turn < 4; turn++) {
        const second = this.tryPartner(rng, first, plans[1]!, kind);
        if (!second) continue;
        const relation: CellRelation = kind === 'overlap' ? 'overlapping' : 'touching';
        this.accept([{ ...first, relation }, { ...second, relation }]);
        return true;
      }
    }
    return false;
  }
}

/** Number of cells and their diameter range for one image of the given size. */
export function cellBudget(rng: Rng, p: SynthParams, width: number, height: number): { count: number; diameterMax: number } {
  const scale = (width * height) / (512 * 512);
  const lo = Math.max(1, Math.round(p.cellsPerImage[0] * scale));
  const hi = Math.max(lo, Math.round(p.cellsPerImage[1] * scale));
  const count = rng.int(lo, hi);
  const cap = Math.sqrt((4 * p.maxCoverage * width * height) / (Math.PI * count));
  return { count, diameterMax: Math.min(p.cellDiameter[1], Math.max(p.cellDiameter[0], cap)) };
}

/**
 * Lay out the cells of one width×height image. Cluster counts: overlapping pairs
 * ≈ n·overlappingFraction/2 and touching pairs ≈ n·touchingFraction/2 (stochastically rounded),
 * the rest isolated. A pair that finds no room is placed as two singletons; a singleton that finds
 * none is dropped (rare: diameters are capped so that the cells cover at most maxCoverage).
 */
export function layoutCells(rng: Rng, p: SynthParams, width: number, height: number): PlacedCell[] {
  const { count, diameterMax } = cellBudget(rng, p, width, height);
  let overlapPairs = stochasticRound(rng, (count * p.overlappingFraction) / 2);
  let touchPairs = stochasticRound(rng, (count * p.touchingFraction) / 2);
  overlapPairs = Math.min(overlapPairs, Math.floor(count / 2));
  touchPairs = Math.min(touchPairs, Math.floor(count / 2) - overlapPairs);

  const plans = Array.from({ length: count }, () => planCell(rng, p, rng.uniform(p.cellDiameter[0], diameterMax)));
  const clusters: { kind: ClusterKind; plans: CellPlan[] }[] = [];
  let next = 0;
  for (let i = 0; i < overlapPairs; i++, next += 2) clusters.push({ kind: 'overlap', plans: plans.slice(next, next + 2) });
  for (let i = 0; i < touchPairs; i++, next += 2) clusters.push({ kind: 'touch', plans: plans.slice(next, next + 2) });
  for (; next < count; next++) clusters.push({ kind: 'single', plans: [plans[next]!] });
  // Big clusters first: they need the most room.
  clusters.sort((a, b) => b.plans.reduce((s, c) => s + c.diameter ** 2, 0) - a.plans.reduce((s, c) => s + c.diameter ** 2, 0));

  const canvas = new Canvas(width, height, p);
  for (const cluster of clusters) {
    if (canvas.placeCluster(rng, cluster.plans, cluster.kind)) continue;
    if (cluster.kind !== 'single') for (const plan of cluster.plans) canvas.placeCluster(rng, [plan], 'single');
  }
  return canvas.cells;
}
