/** Faster R-CNN model definitions (graph builders) and presets. See docs/models.md. */
export * from './presets.js';
export { FileWeights, RandomWeights, type WeightSource, type ParamRequest, type InitKind } from './weights.js';
export { resnetBody, resnetStageChannels, RESNET_LAYOUTS, trainableBodyPrefixes } from './resnet.js';
export { fpn, FPN_LEVEL_NAMES } from './fpn.js';
export { rpnHead, type RpnHeadOutputs } from './rpn-head.js';
export { boxHead, type BoxHeadOutputs } from './box-head.js';
export { buildSegment1, buildSegment2, trainableParameters, SEGMENT1_OUTPUTS, SEGMENT2_IO } from './faster-rcnn.js';
export type { BuildContext } from './layers.js';
