/**
 * The RoI box branch of torchvision's Faster R-CNN (models/detection/faster_rcnn.py):
 * TwoMLPHead (`roi_heads.box_head.fc6`, `.fc7`: flatten → Linear → ReLU → Linear → ReLU) and
 * FastRCNNPredictor (`roi_heads.box_predictor.cls_score` [numClasses], `.bbox_pred`
 * [4·numClasses], class-specific deltas). A mask branch (`roi_heads.mask_head`,
 * `roi_heads.mask_predictor`) is a sibling of this one in segment 2.
 */
import type { GraphBuilder, ValueRef } from '../graph/builder.js';
import type { Value } from '../graph/values.js';
import { type BuildContext, dense } from './layers.js';

/** Class logits [K, numClasses] and box deltas [K, 4·numClasses]. */
export interface BoxHeadOutputs {
  classLogits: Value;
  boxRegression: Value;
}

/** TwoMLPHead + FastRCNNPredictor under scope `s` (e.g. `roi_heads`) on pooled RoIs [K, C, P, P]. */
export function boxHead(ctx: BuildContext, s: GraphBuilder, pooled: ValueRef, inChannels: number, poolSize: number, representationSize: number, numClasses: number): BoxHeadOutputs {
  const head = s.scope('box_head');
  const flat = head.op('Flatten', [pooled], { axis: 1 });
  const inFeatures = inChannels * poolSize * poolSize;
  const fc6 = head.op('Relu', [dense(ctx, head.scope('fc6'), flat, inFeatures, representationSize)]);
  const fc7 = head.op('Relu', [dense(ctx, head.scope('fc7'), fc6, representationSize, representationSize)]);
  const pred = s.scope('box_predictor');
  return {
    classLogits: dense(ctx, pred.scope('cls_score'), fc7, representationSize, numClasses),
    boxRegression: dense(ctx, pred.scope('bbox_pred'), fc7, representationSize, numClasses * 4),
  };
}
