/**
 * hpa-detect library API. Everything the CLI does is available here with types.
 * Sections are added as modules land; see docs/ for a guide.
 */
export { Rng } from './util/rng.js';
export { writeFileAtomic } from './util/atomic.js';
export { Progress } from './util/progress.js';
export * from './hpa/merge-api.js';
export * from './annotations/index.js';
export * from './hpa/labels.js';
export * from './hpa/train-csv.js';
export * from './hpa/label-stats.js';
export * from './hpa/label-select.js';
export * from './render/colors.js';
export * from './render/bar-chart.js';
export * from './render/overlay.js';
export { roiAlign, roiAlignSync, roiAlignBackward, roiAlignBackwardSync, type FeatureShape, type OutputSize, type RoiAlignOptions } from './detection/roi-align.js';
export { multiScaleRoiAlign, multiScaleRoiAlignSync, multiScaleRoiAlignBackward, multiScaleRoiAlignBackwardSync, inferScales, roiLevels, type FeatureLevel, type MultiScaleRoiAlignOptions, type MultiScaleRoiAlignResult, type MultiScaleRoiAlignBackwardOptions } from './detection/multiscale-roi-align.js';
export * as graph from './graph/index.js';
