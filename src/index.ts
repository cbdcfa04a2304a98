/**
 * hpa-detect library API. Everything the CLI does is available here with types.
 * Sections are added as modules land; see docs/ for a guide.
 */
export { Rng } from './util/rng.js';
export { writeFileAtomic } from './util/atomic.js';
export { Progress } from './util/progress.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/pipeline.js';
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
export { sgdStep, sgdStepSync, adamwStep, adamwStepSync, clipGradNorm, clipGradNormSync, createSgdState, createAdamWState, type SgdOptions, type SgdState, type AdamWOptions, type AdamWState, type ClipGradNormOptions } from './train/optim.js';
export { nms, nmsSync, batchedNms, batchedNmsSync, type BatchedNmsOptions } from './detection/nms.js';
export { boxIou, boxIouSync, BoxCoder, BBOX_XFORM_CLIP, clipBoxesToImage, removeSmallBoxes, boxArea } from './detection/boxes.js';
export { cellAnchors, gridAnchors, generateAnchors, anchorStrides, anchorsPerLocation, type AnchorLevel } from './detection/anchors.js';
export { Matcher, BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS } from './detection/matcher.js';
export { BalancedPositiveNegativeSampler, type SampledMasks } from './detection/sampler.js';
export { assignRpnTargets, rpnTargets, type RpnTargetOptions, type RpnAssignment, type RpnTargets, type SampleSource } from './detection/targets-rpn.js';
export { assignRoiTargets, roiTargets, type RoiTargetOptions, type RoiAssignment, type RoiTargets } from './detection/targets-roi.js';
export { rpnLoss, roiLoss, BOX_LOSS_BETA, type RpnHeadLevel, type RpnLoss, type RoiLoss, type RoiLossTargets } from './train/detection-loss.js';
export { rpnGradFeeds, roiGradFeeds, detectionLossComponents, type DetectionLossComponents } from './train/detection-loss-feeds.js';
export * as graph from './graph/index.js';
export * from './io/safetensors.js';
export * from './io/tensor.js';
export * from './synth/index.js';
export * from './train/schedule.js';
export * from './train/checkpoint.js';
export * from './train/loss-log.js';
export { Trainer, type TrainerOptions, type TrainerConfig, type TrainerThreads, type StepResult } from './train/trainer.js';
export { EpochOrder, type TrainerDataset, type TrainerRngs } from './train/trainer-data.js';
export { TrainerOptimizer, type ParamBuffer, type StepReport } from './train/trainer-optimizer.js';
export * from './io/half.js';
export * from './infer/index.js';
export * as models from './models/index.js';
export * from './data/index.js';
export { DetectorTrainer, DETECTOR_LOSS_COMPONENTS, type DetectorTrainerOptions, type DetectorStepResult, type DetectorLosses, type DetectorModelDocument, type SegmentModelsBuilt } from './train/detector-trainer.js';
export { detectorPass, POOLED_LEVELS, SEGMENT1_CHAINED, type SegmentedDetector, type SegmentSessions, type StepSample, type StepSampleSource, type DetectorPass } from './train/detector-step.js';
export { trainDetector, resolveDataSource, TRAIN_FILES, type TrainDetectorOptions, type TrainDetectorResult, type TrainEvent, type EpochRecord, type DataSource } from './train/detector-fit.js';
export { learningCurveSvg, renderLearningCurve, type CurveStep, type CurveEpoch, type LearningCurveOptions } from './render/learning-curve.js';
export * from './eval/index.js';
export * from './render/pr-curve.js';
