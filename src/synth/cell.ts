/**
 * One synthetic cell before it is placed: outline, nucleus (offset from the cell centre), nucleoli,
 * class and the green (protein) pattern. Layout (layout.ts) only moves the whole cell around.
 */
import type { Rng } from '../util/rng.js';
import type { GreenPattern, Range, SynthParams } from './params.js';
import { containsShape, movedTo, radiusAt, randomOutline, scaleToDiameter, type StarShape } from './shape.js';

/** The class of cells whose protein is in the nucleoli (bright green spots in the nucleus). */
export const NUCLEOLI = 'Nucleoli';
/** The class of every other cell (green elsewhere or absent). */
export const NOT_NUCLEOLI = 'Not Nucleoli';
/** A cell's class name as written to VOC `name`. */
export type CellClass = typeof NUCLEOLI | typeof NOT_NUCLEOLI;

/** A nucleolus, as an offset from the cell centre. */
export interface Nucleolus {
  dx: number;
  dy: number;
  /** Gaussian σ of its spot, pixels. */
  sigma: number;
}

/** A cell centred at the origin, ready to be placed. */
export interface CellPlan {
  /** Equivalent-circle diameter of the full outline. */
  diameter: number;
  /** Outline centred at (0, 0). */
  outline: StarShape;
  /** Nucleus outline centred at (nucleusDx, nucleusDy). */
  nucleus: StarShape;
  nucleusDx: number;
  nucleusDy: number;
  nucleoli: Nucleolus[];
  className: CellClass;
  /** A "Nucleoli" cell whose spots are faint (marked VOC difficult). */
  ambiguous: boolean;
  /** Green pattern: 'nucleoli' for the Nucleoli class. */
  pattern: GreenPattern | 'nucleoli';
  /** Brightness of the nucleolar spots relative to a clear cell (1, or less when ambiguous). */
  spotGain: number;
}

/** A plan placed at (cx, cy): the outlines in image coordinates. */
export interface PlacedShapes {
  cell: StarShape;
  nucleus: StarShape;
}

/** The plan's outlines with the cell centre at (cx, cy). */
export function placeShapes(plan: CellPlan, cx: number, cy: number): PlacedShapes {
  return {
    cell: movedTo(plan.outline, cx, cy),
    nucleus: movedTo(plan.nucleus, cx + plan.nucleusDx, cy + plan.nucleusDy),
  };
}

const pick = (rng: Rng, r: Range) => rng.uniform(r[0], r[1]);

/** Class, ambiguity and green pattern of a new cell, drawn with the level's probabilities. */
function drawPhenotype(rng: Rng, p: SynthParams): Pick<CellPlan, 'className' | 'ambiguous' | 'pattern' | 'spotGain'> {
  if (rng.next() < p.ambiguousFraction) {
    return { className: NUCLEOLI, ambiguous: true, pattern: 'nucleoli', spotGain: pick(rng, p.ambiguousSpotGain) };
  }
  // Ambiguous cells are Nucleoli too: the clear ones make up the rest of the Nucleoli share.
  const clearNucleoli = Math.max(0, (p.nucleoliProbability - p.ambiguousFraction) / (1 - p.ambiguousFraction));
  if (rng.next() < clearNucleoli) return { className: NUCLEOLI, ambiguous: false, pattern: 'nucleoli', spotGain: 1 };
  const pattern = p.notNucleoliPatterns[rng.int(0, p.notNucleoliPatterns.length - 1)]!;
  return { className: NOT_NUCLEOLI, ambiguous: false, pattern, spotGain: 0 };
}

/**
 * Draw a cell of the given diameter: an irregular ellipse with an aligned, smaller nucleus placed
 * off-centre but at least a few pixels inside the cell, and 1–4 nucleoli well inside the nucleus.
 */
export function planCell(rng: Rng, p: SynthParams, diameter: number): CellPlan {
  const elongation = pick(rng, p.elongation);
  const angle = rng.uniform(0, Math.PI);
  const outline = randomOutline(rng, 0, 0, { diameter, elongation, angle, irregularity: p.irregularity });

  let nucleusDiameter = diameter * pick(rng, p.nucleusScale);
  const nucleusShape = randomOutline(rng, 0, 0, {
    diameter: nucleusDiameter,
    // Nuclei are rounder than their cells and roughly aligned with them.
    elongation: 1 + (elongation - 1) * rng.uniform(0.3, 0.9),
    angle: angle + rng.normal(0, 0.3),
    irregularity: p.irregularity * 0.6,
  });
  const margin = Math.max(3, 0.06 * diameter);
  let nucleus = nucleusShape;
  let found = false;
  for (let attempt = 0; attempt < 30 && !found; attempt++) {
    // Halve the offset each try; shrink the nucleus when even the centre does not fit.
    const reach = attempt % 6 === 5 ? 0 : (outline.rMin - nucleus.rMax) * rng.uniform(0, 0.9) * 0.5 ** (attempt % 6);
    const dir = rng.uniform(0, 2 * Math.PI);
    const candidate = movedTo(nucleus, Math.max(0, reach) * Math.cos(dir), Math.max(0, reach) * Math.sin(dir));
    if (containsShape(outline, candidate, margin)) {
      nucleus = candidate;
      found = true;
    } else if (attempt % 6 === 5) {
      nucleusDiameter *= 0.9;
      nucleus = scaleToDiameter({ ...nucleus, radii: Float64Array.from(nucleus.radii) }, nucleusDiameter);
    }
  }
  if (!found) nucleus = movedTo(nucleus, 0, 0);

  const nucleoli: Nucleolus[] = [];
  const count = rng.int(p.nucleoliPerNucleus[0], p.nucleoliPerNucleus[1]);
  for (let i = 0; i < count; i++) {
    const t = rng.uniform(0, 2 * Math.PI);
    const sigma = pick(rng, p.nucleolusSigma);
    // Keep the whole spot (about 2σ) inside the nucleus.
    const reach = Math.max(0, radiusAt(nucleus, t) - 2.5 * sigma) * Math.sqrt(rng.next()) * 0.8;
    nucleoli.push({ dx: nucleus.cx + reach * Math.cos(t), dy: nucleus.cy + reach * Math.sin(t), sigma });
  }

  return {
    diameter,
    outline,
    nucleus: movedTo(nucleus, 0, 0),
    nucleusDx: nucleus.cx,
    nucleusDy: nucleus.cy,
    nucleoli,
    ...drawPhenotype(rng, p),
  };
}
