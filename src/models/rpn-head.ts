/**
 * torchvision's RPNHead (models/detection/rpn.py): one 3×3 conv + ReLU shared by all FPN levels
 * (`rpn.head.conv.0.0`), then per position `cls_logits` (A objectness logits) and `bbox_pred`
 * (4A box deltas), A = anchors per position. The same parameters serve every level, so they are
 * created once and the convolutions reuse them.
 */
import type { GraphBuilder } from '../graph/builder.js';
import type { Value } from '../graph/values.js';
import type { BuildContext } from './layers.js';

/** Per-level RPN outputs: objectness [N, A, H, W] and deltas [N, 4A, H, W]. */
export interface RpnHeadOutputs {
  objectness: Value[];
  deltas: Value[];
}

/** The RPN head under scope `s` (e.g. `rpn.head`) over each level of `features`. */
export function rpnHead(ctx: BuildContext, s: GraphBuilder, features: Value[], channels: number, anchorsPerPosition: number): RpnHeadOutputs {
  const param = (scope: GraphBuilder, dims: number[]) => ({
    weight: scope.param('weight', ctx.weights.get({ name: scope.prefix + 'weight', dims, init: 'normal-0.01' })),
    bias: scope.param('bias', ctx.weights.get({ name: scope.prefix + 'bias', dims: [dims[0]!], init: 'zeros' })),
  });
  const convP = param(s.scope('conv').scope(0).scope(0), [channels, channels, 3, 3]);
  const clsP = param(s.scope('cls_logits'), [anchorsPerPosition, channels, 1, 1]);
  const boxP = param(s.scope('bbox_pred'), [4 * anchorsPerPosition, channels, 1, 1]);
  const out: RpnHeadOutputs = { objectness: [], deltas: [] };
  for (const f of features) {
    const t = s.op('Relu', [s.op('Conv', [f, convP.weight, convP.bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' })]);
    out.objectness.push(s.op('Conv', [t, clsP.weight, clsP.bias], { kernel_shape: [1, 1] }, { name: 'cls_logits' }));
    out.deltas.push(s.op('Conv', [t, boxP.weight, boxP.bias], { kernel_shape: [1, 1] }, { name: 'bbox_pred' }));
  }
  return out;
}
