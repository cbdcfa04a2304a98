/** Detection evaluation: VOC (all-point, 11-point) and COCO mAP, per class, with PR curves; readers for the CLI. */
export * from './map.js';
export { precisionRecall, vocApAllPoint, vocAp11Point } from './voc-ap.js';
export { vocMatch, type VocMatches } from './voc-match.js';
export { cocoClassAp, COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS, COCO_MAX_DETS, type CocoClassResult } from './coco-ap.js';
export { type ClassImage } from './class-images.js';
export { readGroundTruth, guessAnnotationFormat, type GroundTruthSet } from './read-ground-truth.js';
export { readPredictions, PredictionInputError, type PredictionSet, type ReadDetection } from './read-predictions.js';
export { pairDetections, UnmatchedPredictionsError, type PairedDetections } from './pair.js';
export { formatMetricsTable, metricsDocument } from './report.js';
