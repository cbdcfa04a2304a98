/**
 * Difficulty levels of the synthetic HPA-like generator. Every number that shapes an image lives
 * here (and in the table in docs/synth.md), so a level is fully described by its parameters.
 * Lengths are in pixels at the reference size of 512×512; intensities are 8-bit gray levels.
 */

/** The built-in difficulty levels. */
export type SynthDifficulty = 'easy' | 'standard' | 'hard';

/** All difficulty names, in increasing difficulty. */
export const SYNTH_DIFFICULTIES: readonly SynthDifficulty[] = ['easy', 'standard', 'hard'];

/** What a "Not Nucleoli" cell shows in the green (protein) channel. */
export type GreenPattern =
  /** Diffuse cytoplasm (outside the nucleus), textured. */
  | 'cytosol'
  /** A bright rim along the cell boundary (plasma membrane). */
  | 'membrane'
  /** Small bright dots scattered in the cytoplasm, never in the nucleus. */
  | 'vesicles'
  /** Diffuse, spot-free nucleus (a hard decoy: nuclear, but not nucleolar). */
  | 'nucleoplasm'
  /** No protein signal at all. */
  | 'absent';

/** An inclusive numeric range [min, max]; values are drawn uniformly inside it. */
export type Range = readonly [number, number];

/** Everything that defines a difficulty level. */
export interface SynthParams {
  /** Cells per 512×512 image (scaled by area for other sizes, at least 1). */
  cellsPerImage: Range;
  /** Cell size as the equivalent-circle diameter 2·√(area/π) of its full (unclipped) mask. */
  cellDiameter: Range;
  /**
   * Largest fraction of the image the cells may cover: crowded images draw their diameters from
   * [min, d_cap] with d_cap = √(4·maxCoverage·W·H / (π·n)), so that n cells still fit.
   */
  maxCoverage: number;
  /** Target fraction of cells that touch a neighbour (masks adjacent, no shared pixel). */
  touchingFraction: number;
  /** Target fraction of cells that overlap a neighbour (masks share pixels). */
  overlappingFraction: number;
  /** Shared area of an overlapping pair as a fraction of the smaller cell's area. */
  overlap: Range;
  /** Smallest gap (pixels, Chebyshev distance) between a cell and any cell it is not paired with. */
  isolationGap: number;
  /** Largest fraction of a cell's area that may lie outside the image (0: all cells fully inside). */
  maxOutsideFraction: number;
  /** Elongation (major/minor axis ratio) of the cell's underlying ellipse. */
  elongation: Range;
  /** Amplitude of the random harmonics that make the outline irregular (0: a clean ellipse). */
  irregularity: number;
  /** Nucleus equivalent diameter as a fraction of the cell's. */
  nucleusScale: Range;
  /** Probability that a cell is "Nucleoli" (its protein is in the nucleoli). */
  nucleoliProbability: number;
  /** Fraction of all cells that are ambiguous: "Nucleoli" with faint spots, marked VOC difficult. */
  ambiguousFraction: number;
  /** Spot brightness of an ambiguous cell relative to a clear one. */
  ambiguousSpotGain: Range;
  /** Nucleolar spots per nucleus (every nucleus has nucleoli; only "Nucleoli" cells stain them green). */
  nucleoliPerNucleus: Range;
  /** Gaussian σ (pixels) of one nucleolar spot. */
  nucleolusSigma: Range;
  /** Green patterns of "Not Nucleoli" cells, drawn with equal probability. */
  notNucleoliPatterns: readonly GreenPattern[];
  /** Per-image, per-channel gain drawn from [1 - v, 1 + v] (staining and exposure variation). */
  imageIntensityVariation: number;
  /** Per-cell, per-channel gain drawn from [1 - v, 1 + v]. */
  cellIntensityVariation: number;
  /** Peak gray level of a clear signal (nucleus, nucleolar spots) before gains; sets the contrast. */
  signalLevel: number;
  /** Gaussian blur σ (pixels), drawn per image. */
  blurSigma: Range;
  /** Additive Gaussian noise σ (gray levels), drawn per image. */
  noiseSigma: Range;
  /** Background offset (gray levels), drawn per image and channel. */
  background: Range;
}

/** The three built-in levels. `standard` is the one issue 2 specifies; see docs/synth.md. */
export const SYNTH_LEVELS: Readonly<Record<SynthDifficulty, SynthParams>> = {
  easy: {
    cellsPerImage: [4, 10],
    cellDiameter: [70, 150],
    maxCoverage: 0.35,
    touchingFraction: 0,
    overlappingFraction: 0,
    overlap: [0, 0],
    isolationGap: 10,
    maxOutsideFraction: 0,
    elongation: [1, 1.4],
    irregularity: 0.04,
    nucleusScale: [0.45, 0.6],
    nucleoliProbability: 0.5,
    ambiguousFraction: 0,
    ambiguousSpotGain: [1, 1],
    nucleoliPerNucleus: [2, 4],
    nucleolusSigma: [2.2, 3.5],
    notNucleoliPatterns: ['cytosol', 'membrane', 'absent'],
    imageIntensityVariation: 0.15,
    cellIntensityVariation: 0.1,
    signalLevel: 220,
    blurSigma: [0.6, 0.9],
    noiseSigma: [1, 2.5],
    background: [2, 6],
  },
  standard: {
    cellsPerImage: [6, 20],
    cellDiameter: [60, 160],
    maxCoverage: 0.45,
    touchingFraction: 0.3,
    overlappingFraction: 0.1,
    overlap: [0.03, 0.2],
    isolationGap: 4,
    maxOutsideFraction: 0.4,
    elongation: [1, 1.7],
    irregularity: 0.08,
    nucleusScale: [0.42, 0.6],
    nucleoliProbability: 0.5,
    ambiguousFraction: 0.1,
    ambiguousSpotGain: [0.15, 0.3],
    nucleoliPerNucleus: [1, 4],
    nucleolusSigma: [1.8, 3.2],
    notNucleoliPatterns: ['cytosol', 'membrane', 'vesicles', 'absent'],
    imageIntensityVariation: 0.4,
    cellIntensityVariation: 0.2,
    signalLevel: 200,
    blurSigma: [0.8, 1.5],
    noiseSigma: [3, 6],
    background: [3, 10],
  },
  hard: {
    cellsPerImage: [10, 28],
    cellDiameter: [60, 160],
    maxCoverage: 0.55,
    touchingFraction: 0.4,
    overlappingFraction: 0.25,
    overlap: [0.05, 0.3],
    isolationGap: 3,
    maxOutsideFraction: 0.5,
    elongation: [1, 2],
    irregularity: 0.12,
    nucleusScale: [0.4, 0.62],
    nucleoliProbability: 0.5,
    ambiguousFraction: 0.2,
    ambiguousSpotGain: [0.1, 0.25],
    nucleoliPerNucleus: [1, 3],
    nucleolusSigma: [1.5, 2.8],
    notNucleoliPatterns: ['cytosol', 'membrane', 'vesicles', 'nucleoplasm', 'absent'],
    imageIntensityVariation: 0.5,
    cellIntensityVariation: 0.3,
    signalLevel: 170,
    blurSigma: [1.2, 2.2],
    noiseSigma: [6, 12],
    background: [5, 16],
  },
};

/** The parameters of a level; throws a RangeError naming `difficulty` for an unknown one. */
export function synthParams(difficulty: string): SynthParams {
  if (!(SYNTH_DIFFICULTIES as readonly string[]).includes(difficulty)) {
    throw new RangeError(`difficulty must be one of ${SYNTH_DIFFICULTIES.join(', ')}; got "${difficulty}"`);
  }
  return SYNTH_LEVELS[difficulty as SynthDifficulty];
}
