/** Faster R-CNN inference (torchvision semantics). See docs/models.md. */
export { Detector, loadImage, type DetectorOptions, type DetectionResult, type DetectorInput } from './detector.js';
export { DetectorWorker } from './detector-worker.js';
export { transformBatch, resizedSize, resizeBilinear, rgbToTensor, resizeBoxesInPlace, type ImageTensor, type RgbImage, type ImageBatch } from './transform.js';
export { rpnProposals, anchorLevels, topKIndices, type Proposals, type RpnLevelOutput } from './rpn-proposals.js';
export { postprocessDetections, softmaxRows, type Detections } from './roi-postprocess.js';
export { createSessions, ProviderUnavailableError, CUDA_INSTALL_HINT, type ProviderChoice, type ProviderName, type SessionOptions } from './providers.js';
export { predictFiles, defaultConcurrency, DEFAULT_BATCH, CSV_HEADER, CSV_HEADER_CHANNELS, IMAGE_EXTENSIONS, listPredictInputs, type PredictInput, type ImagePrediction, type PredictFailure, type PredictFilesOptions, type PredictSummary } from './predict-files.js';
export { channelMeans, boxMeans, channelPlane, type Plane } from './predict-means.js';
export { PREDICTIONS_FORMAT, PREDICTIONS_VERSION, type PredictedDetection } from './predict-outputs.js';
export { resolveModelConfig, storedModelConfig } from './predict-model.js';
export { loadPredictInput, type LoadedInput } from './predict-load.js';
