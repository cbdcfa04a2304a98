/**
 * Faster R-CNN as two ONNX graphs around the data-dependent middle (proposals, RoIAlign), which
 * runs natively:
 *
 *   segment 1 (`images` [N,3,H,W] → `features.{0,1,2,3,pool}`, `objectness.{l}` [N,A,h,w],
 *             `deltas.{l}` [N,4A,h,w]): ResNet body + FPN (`backbone.*`) and the RPN head (`rpn.head.*`);
 *   segment 2 (`box_features` [K,C,7,7] → `class_logits` [K,numClasses], `box_regression`
 *             [K,4·numClasses]): the RoI box head (`roi_heads.*`); a mask head goes beside it.
 *
 * Parameter names are torchvision's fasterrcnn_resnet50_fpn state_dict names, so its weights
 * load unchanged (frozen-bn presets).
 */
import { GraphBuilder } from '../graph/builder.js';
import { boxHead } from './box-head.js';
import { FPN_LEVEL_NAMES, fpn } from './fpn.js';
import type { BuildContext } from './layers.js';
import { type FasterRcnnConfig, anchorsPerPosition } from './presets.js';
import { resnetBody, resnetStageChannels, trainableBodyPrefixes } from './resnet.js';
import { rpnHead } from './rpn-head.js';
import type { WeightSource } from './weights.js';

/** Names of segment 1's outputs, level by level (P2..P6). */
export const SEGMENT1_OUTPUTS = {
  features: FPN_LEVEL_NAMES.map((l) => `features.${l}`),
  objectness: FPN_LEVEL_NAMES.map((_, i) => `objectness.${i}`),
  deltas: FPN_LEVEL_NAMES.map((_, i) => `deltas.${i}`),
};

/** Names of segment 2's input and outputs. */
export const SEGMENT2_IO = { input: 'box_features', classLogits: 'class_logits', boxRegression: 'box_regression' };

function context(config: FasterRcnnConfig, weights: WeightSource): BuildContext {
  return { weights, norm: config.arch.norm, groupNormGroups: config.arch.groupNormGroups };
}

/**
 * Segment 1: backbone + FPN + RPN head. The input `images` is [batch, 3, height, width] with
 * symbolic batch and spatial sizes (any multiple of 32 works; the transform pads to one).
 * `inputShape` fixes [batch, height, width]: training graphs need static shapes (autodiff).
 */
export function buildSegment1(config: FasterRcnnConfig, weights: WeightSource, inputShape?: readonly [number, number, number]): GraphBuilder {
  const ctx = context(config, weights);
  const g = new GraphBuilder('faster_rcnn_segment1');
  const images = g.input('images', 'float32', [inputShape?.[0] ?? 'batch', 3, inputShape?.[1] ?? 'height', inputShape?.[2] ?? 'width']);
  const backbone = g.scope('backbone');
  const stages = resnetBody(ctx, backbone.scope('body'), images, config.arch.depth, config.arch.baseWidth);
  // Inputs padded to a multiple of 32 make each FPN level exactly twice the next: the top-down
  // upsampling can then use constant scales, which ORT runs in its blocked layout (fpn.ts). The
  // static-shape training graphs keep the by-size form their gradient rule was built for.
  const exactDoubling = inputShape === undefined && config.transform.sizeDivisible % 32 === 0;
  const levels = fpn(ctx, backbone.scope('fpn'), stages, resnetStageChannels(config.arch.depth, config.arch.baseWidth), config.arch.fpnChannels, config.arch.norm === 'group-norm', exactDoubling);
  const head = rpnHead(ctx, g.scope('rpn').scope('head'), levels, config.arch.fpnChannels, anchorsPerPosition(config));
  // Renamed rather than output through an Identity: P2 alone is 33 MB at 512² batch 2, copied on every run.
  levels.forEach((v, i) => g.output(g.renameValue(v, SEGMENT1_OUTPUTS.features[i]!)));
  head.objectness.forEach((v, i) => g.output(g.renameValue(v, SEGMENT1_OUTPUTS.objectness[i]!)));
  head.deltas.forEach((v, i) => g.output(g.renameValue(v, SEGMENT1_OUTPUTS.deltas[i]!)));
  return g;
}

/** Segment 2: the RoI box head on pooled features [K, fpnChannels, poolSize, poolSize]. */
export function buildSegment2(config: FasterRcnnConfig, weights: WeightSource): GraphBuilder {
  const ctx = context(config, weights);
  const g = new GraphBuilder('faster_rcnn_segment2');
  const p = config.box.poolSize;
  const pooled = g.input(SEGMENT2_IO.input, 'float32', ['rois', config.arch.fpnChannels, p, p]);
  const out = boxHead(ctx, g.scope('roi_heads'), pooled, config.arch.fpnChannels, p, config.arch.representationSize, config.arch.numClasses);
  g.output(out.classLogits, SEGMENT2_IO.classLogits);
  g.output(out.boxRegression, SEGMENT2_IO.boxRegression);
  return g;
}

/**
 * The parameters torchvision trains for this config: everything outside backbone.body, and in
 * the body the stages `trainableLayers` selects. Frozen-BN buffers (weight, bias, running
 * statistics of FrozenBatchNorm2d) are never trainable.
 */
export function trainableParameters(config: FasterRcnnConfig, paramNames: readonly string[]): string[] {
  const prefixes = trainableBodyPrefixes(config.arch.trainableLayers);
  const frozenBn = config.arch.norm === 'frozen-bn';
  return paramNames.filter((name) => {
    if (frozenBn && /(^|\.)(bn\d|downsample\.1)\./.test(name)) return false;
    if (!name.startsWith('backbone.body.')) return true;
    return prefixes.some((p) => name.startsWith(p));
  });
}
