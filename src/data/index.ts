/** Public API of the detection data pipeline: dataset, class map, augmentation, batch loader (docs/data.md). */
export { ClassMap, ClassMapError } from './class-map.js';
export { decodeImage, imageSize, describeSource, type ImageSource } from './image-source.js';
export {
  DetectionDataset,
  type DetectionDatasetOptions,
  type DetectionDatasetReport,
  type DetectionRecord,
  type DetectionSample,
  type DetectionTarget,
} from './dataset.js';
export { hflip, vflip, rotate90, scaleJitter, brightnessContrast, type BoxedImage } from './augment-ops.js';
export { augmentSample, augmentBatch, validateAugmentOptions, AUGMENT_DRAWS, type AugmentOptions } from './augment.js';
export { DetectionLoader, type DetectionBatch, type DetectionLoaderOptions, type LoaderRngs } from './loader.js';
export { toModelInput, type DetectionModelInput } from './model-input.js';
