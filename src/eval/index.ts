/** Detection evaluation: VOC (all-point, 11-point) and COCO mAP, per class, with PR curves. */
export * from './map.js';
export { precisionRecall, vocApAllPoint, vocAp11Point } from './voc-ap.js';
export { vocMatch, type VocMatches } from './voc-match.js';
export { cocoClassAp, COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS, COCO_MAX_DETS, type CocoClassResult } from './coco-ap.js';
export { type ClassImage } from './class-images.js';
