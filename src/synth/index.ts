/**
 * Public API of the synthetic HPA-like data generator (see docs/synth.md): write a dataset, or
 * generate single images in memory; the difficulty levels and their parameters.
 */
export { SYNTH_DIFFICULTIES, SYNTH_LEVELS, synthParams, type SynthDifficulty, type SynthParams, type GreenPattern } from './params.js';
export { generateImage, type SynthImage, type SynthCellRecord, type SynthImaging } from './generate.js';
export {
  synthesizeDataset,
  synthAnnotation,
  synthId,
  validateSynthOptions,
  type SynthOptions,
  type SynthManifest,
  type SynthImageSummary,
} from './write.js';
export { NUCLEOLI, NOT_NUCLEOLI, type CellClass } from './cell.js';
