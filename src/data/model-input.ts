/**
 * A loader batch as the detector's training input: normalised, resized and padded by
 * GeneralizedRCNNTransform (src/infer/transform.ts, the same code inference uses), and the target
 * boxes scaled to the resized images as torchvision's transform does in training (resize_boxes).
 */
import type { TransformConfig } from '../models/presets.js';
import { resizeBoxesInPlace, transformBatch, type ImageBatch } from '../infer/transform.js';
import type { DetectionTarget } from './dataset.js';
import type { DetectionBatch } from './loader.js';

/** The padded image batch plus targets in resized-image pixels. */
export interface DetectionModelInput extends ImageBatch {
  targets: DetectionTarget[];
}

/** Transform `batch` for the model; the batch itself is not changed. */
export function toModelInput(batch: DetectionBatch, cfg: TransformConfig): DetectionModelInput {
  const images = transformBatch(batch.images, cfg);
  const targets = batch.targets.map((t, i) => {
    const boxes = t.boxes.slice();
    resizeBoxesInPlace(boxes, images.originalSizes[i]!, images.imageSizes[i]!);
    return { ...t, boxes };
  });
  return { ...images, targets };
}
