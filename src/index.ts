/**
 * hpa-detect library API. Everything the CLI does is available here with types.
 * Sections are added as modules land; see docs/ for a guide.
 */
export { Rng } from './util/rng.js';
export { writeFileAtomic } from './util/atomic.js';
export { Progress } from './util/progress.js';
export { formatVocXml } from './annotations/voc-write.js';
export { roiAlign, roiAlignSync, roiAlignBackward, roiAlignBackwardSync, type FeatureShape, type OutputSize, type RoiAlignOptions } from './detection/roi-align.js';
