/**
 * torchvision's ResNet body as the detection backbone uses it (IntermediateLayerGetter over
 * layer1..layer4, no avgpool/fc): stem conv1 7×7/2 → bn1 → relu → maxpool 3×3/2, then four
 * stages of BasicBlocks (ResNet-18/34) or Bottlenecks (ResNet-50, stride on the 3×3 conv as in
 * torchvision's "v1.5"). Parameter names are torchvision's under the given scope
 * (`backbone.body.layer1.0.conv1.weight`, `...bn1.running_var`, `...downsample.0.weight`).
 */
import type { GraphBuilder, ValueRef } from '../graph/builder.js';
import type { Value } from '../graph/values.js';
import { type BuildContext, convThenNorm, relu } from './layers.js';
import type { ResNetDepth } from './presets.js';

/** Blocks per stage and block kind of each depth (torchvision's resnet18/34/50). */
export const RESNET_LAYOUTS: Record<ResNetDepth, { block: 'basic' | 'bottleneck'; blocks: [number, number, number, number] }> = {
  18: { block: 'basic', blocks: [2, 2, 2, 2] },
  34: { block: 'basic', blocks: [3, 4, 6, 3] },
  50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
};

/** torchvision's stem and layer1 width; layer2..4 double it each. */
export const TORCHVISION_BASE_WIDTH = 64;

/** Output channels of layer1..layer4 (the FPN's in_channels_list) for stage widths base, 2×, 4×, 8×. */
export function resnetStageChannels(depth: ResNetDepth, baseWidth = TORCHVISION_BASE_WIDTH): [number, number, number, number] {
  const e = RESNET_LAYOUTS[depth].block === 'bottleneck' ? 4 : 1;
  return [baseWidth * e, 2 * baseWidth * e, 4 * baseWidth * e, 8 * baseWidth * e];
}

const KAIMING = 'kaiming-normal-fan-out' as const;

function basicBlock(ctx: BuildContext, s: GraphBuilder, x: ValueRef, inC: number, planes: number, stride: number): Value {
  let out = relu(s, convThenNorm(ctx, s, 'conv1', 'bn1', x, { inChannels: inC, outChannels: planes, kernel: 3, stride, padding: 1, init: KAIMING }));
  out = convThenNorm(ctx, s, 'conv2', 'bn2', out, { inChannels: planes, outChannels: planes, kernel: 3, padding: 1, init: KAIMING });
  const identity = stride !== 1 || inC !== planes ? downsample(ctx, s, x, inC, planes, stride) : s.value(x);
  return relu(s, s.op('Add', [out, identity]));
}

function bottleneck(ctx: BuildContext, s: GraphBuilder, x: ValueRef, inC: number, planes: number, stride: number): Value {
  const outC = planes * 4;
  let out = relu(s, convThenNorm(ctx, s, 'conv1', 'bn1', x, { inChannels: inC, outChannels: planes, kernel: 1, init: KAIMING }));
  out = relu(s, convThenNorm(ctx, s, 'conv2', 'bn2', out, { inChannels: planes, outChannels: planes, kernel: 3, stride, padding: 1, init: KAIMING }));
  out = convThenNorm(ctx, s, 'conv3', 'bn3', out, { inChannels: planes, outChannels: outC, kernel: 1, init: KAIMING });
  const identity = stride !== 1 || inC !== outC ? downsample(ctx, s, x, inC, outC, stride) : s.value(x);
  return relu(s, s.op('Add', [out, identity]));
}

/** `downsample.0` (1×1 conv, stride) + `downsample.1` (norm), torchvision's projection shortcut. */
function downsample(ctx: BuildContext, s: GraphBuilder, x: ValueRef, inC: number, outC: number, stride: number): Value {
  return convThenNorm(ctx, s.scope('downsample'), 0, 1, x, { inChannels: inC, outChannels: outC, kernel: 1, stride, init: KAIMING });
}

/**
 * The ResNet body under scope `s` (e.g. `backbone.body`): returns the outputs of layer1..layer4
 * (strides 4, 8, 16, 32), torchvision's IntermediateLayerGetter return_layers {layer1: '0', …}.
 * `baseWidth` scales every stage (stem and layer1 `baseWidth`, then 2×, 4×, 8×); torchvision's 64
 * keeps its parameter shapes, a narrower one makes a light backbone for training from scratch.
 */
export function resnetBody(ctx: BuildContext, s: GraphBuilder, images: ValueRef, depth: ResNetDepth, baseWidth = TORCHVISION_BASE_WIDTH): Value[] {
  const layout = RESNET_LAYOUTS[depth];
  let x = relu(s, convThenNorm(ctx, s, 'conv1', 'bn1', images, { inChannels: 3, outChannels: baseWidth, kernel: 7, stride: 2, padding: 3, init: KAIMING }));
  x = s.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  const expansion = layout.block === 'bottleneck' ? 4 : 1;
  let inC = baseWidth;
  const stages: Value[] = [];
  layout.blocks.forEach((count, stage) => {
    const planes = baseWidth * 2 ** stage;
    const layer = s.scope(`layer${stage + 1}`);
    for (let b = 0; b < count; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const block = layout.block === 'bottleneck' ? bottleneck : basicBlock;
      x = block(ctx, layer.scope(b), x, inC, planes, stride);
      inC = planes * expansion;
    }
    stages.push(x);
  });
  return stages;
}

/**
 * Parameter-name prefixes torchvision trains for `trainableLayers` (its
 * _resnet_fpn_extractor: ['layer4', 'layer3', 'layer2', 'layer1', 'conv1'][:n], plus 'bn1' when
 * all 5 are trainable); every other backbone.body parameter is frozen. FrozenBatchNorm's
 * running statistics are never trainable.
 */
export function trainableBodyPrefixes(trainableLayers: number, bodyScope = 'backbone.body.'): string[] {
  const layers = ['layer4', 'layer3', 'layer2', 'layer1', 'conv1'].slice(0, trainableLayers);
  if (trainableLayers === 5) layers.push('bn1');
  return layers.map((l) => `${bodyScope}${l}.`);
}
