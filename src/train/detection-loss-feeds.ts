/**
 * Glue between the native losses (detection-loss.ts) and the Faster R-CNN graph segments
 * (models/faster-rcnn.ts): the loss gradients under the `grad.<output>` input names of the
 * segments' training models, and the per-component loss-log record.
 */
import { SEGMENT1_OUTPUTS, SEGMENT2_IO } from '../models/faster-rcnn.js';
import type { RoiLoss, RpnLoss } from './detection-loss.js';

/**
 * Segment 1's seeds: `grad.objectness.<l>` and `grad.deltas.<l>` per RPN level. The
 * `grad.features.<l>` seeds come from RoIAlign backward and are the caller's to add.
 */
export function rpnGradFeeds(loss: RpnLoss): Record<string, Float32Array> {
  const names = SEGMENT1_OUTPUTS;
  if (loss.gradObjectness.length > names.objectness.length) {
    throw new RangeError(`rpn loss has ${loss.gradObjectness.length} levels, segment 1 has ${names.objectness.length}`);
  }
  const feeds: Record<string, Float32Array> = {};
  loss.gradObjectness.forEach((g, i) => { feeds[`grad.${names.objectness[i]}`] = g; });
  loss.gradDeltas.forEach((g, i) => { feeds[`grad.${names.deltas[i]}`] = g; });
  return feeds;
}

/** Segment 2's seeds: `grad.class_logits` and `grad.box_regression`. */
export function roiGradFeeds(loss: RoiLoss): Record<string, Float32Array> {
  return {
    [`grad.${SEGMENT2_IO.classLogits}`]: loss.gradClassLogits,
    [`grad.${SEGMENT2_IO.boxRegression}`]: loss.gradBoxRegression,
  };
}

/** The four components users watch (torchvision's loss dict, short names) and their sum. */
export interface DetectionLossComponents {
  loss: number;
  rpn_cls: number;
  rpn_reg: number;
  cls: number;
  reg: number;
}

/** Loss-log record of one step: torchvision sums the four losses with weight 1. */
export function detectionLossComponents(rpn: RpnLoss, roi: RoiLoss): DetectionLossComponents {
  const c = { rpn_cls: rpn.lossObjectness, rpn_reg: rpn.lossRpnBoxReg, cls: roi.lossClassifier, reg: roi.lossBoxReg };
  return { loss: c.rpn_cls + c.rpn_reg + c.cls + c.reg, ...c };
}
