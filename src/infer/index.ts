/** Faster R-CNN inference (torchvision semantics). See docs/models.md. */
export { Detector, loadImage, type DetectorOptions, type DetectionResult, type DetectorInput } from './detector.js';
export { transformBatch, resizedSize, resizeBilinear, rgbToTensor, resizeBoxesInPlace, type ImageTensor, type RgbImage, type ImageBatch } from './transform.js';
export { rpnProposals, anchorLevels, topKIndices, type Proposals, type RpnLevelOutput } from './rpn-proposals.js';
export { postprocessDetections, softmaxRows, type Detections } from './roi-postprocess.js';
export { createSessions, ProviderUnavailableError, CUDA_INSTALL_HINT, type ProviderChoice, type ProviderName, type SessionOptions } from './providers.js';
export { predictFiles, listImages, channelMeans, CSV_HEADER, IMAGE_EXTENSIONS, type ImagePrediction, type PredictFilesOptions } from './predict-files.js';
