/**
 * torchvision's FeaturePyramidNetwork with LastLevelMaxPool (ops/feature_pyramid_network.py):
 * a 1×1 lateral conv per stage (`inner_blocks.i`), a top-down pathway that adds the nearest-
 * neighbour upsampled coarser map, a 3×3 output conv per level (`layer_blocks.i`), and the extra
 * level 'pool' = max_pool2d(P5, kernel 1, stride 2). Outputs P2..P6 (strides 4..64).
 *
 * Names follow torchvision 0.14's Conv2dNormActivation wrapping: without normalisation
 * `inner_blocks.0.0.weight` + `.bias`; with GroupNorm (norm_layer) the conv has no bias and
 * the norm is `inner_blocks.0.1.weight` / `.bias`.
 */
import type { GraphBuilder } from '../graph/builder.js';
import { type Value, tensor } from '../graph/values.js';
import { type BuildContext, conv, norm } from './layers.js';

/** FPN output names in torchvision's OrderedDict order. */
export const FPN_LEVEL_NAMES = ['0', '1', '2', '3', 'pool'] as const;

function convNorm(ctx: BuildContext, s: GraphBuilder, x: Value, inC: number, outC: number, kernel: 1 | 3, withNorm: boolean): Value {
  const y = conv(ctx, s.scope(0), x, { inChannels: inC, outChannels: outC, kernel, padding: kernel === 3 ? 1 : 0, bias: !withNorm, init: 'kaiming-uniform-a1' });
  return withNorm ? norm(ctx, s.scope(1), y, outC) : y;
}

/**
 * FPN under scope `s` (e.g. `backbone.fpn`) over the stage outputs `stages` (finest first) with
 * `inChannels` each. `withNorm` adds the configured normalisation after each conv (torchvision's
 * FPN norm_layer; our GroupNorm presets). Returns [P2, P3, P4, P5, P6].
 *
 * `exactDoubling`: the caller guarantees every stage is exactly twice the next one's size (the
 * input is a multiple of 32, as GeneralizedRCNNTransform's padding makes it). The top-down
 * upsampling is then a Resize by constant scales [1, 1, 2, 2] -- the same floor(dst / 2) source
 * pixels as F.interpolate(size=lateral) -- which ONNX Runtime's NCHWc layout transformer runs in
 * its blocked layout (its Upsample kernel) instead of reordering the maps to NCHW and back around
 * a Resize by `sizes`. Without it (default), the output size comes from the lateral's shape and
 * any input size works.
 */
export function fpn(
  ctx: BuildContext, s: GraphBuilder, stages: Value[], inChannels: readonly number[], outChannels: number, withNorm: boolean, exactDoubling = false,
): Value[] {
  const inner = s.scope('inner_blocks');
  const layer = s.scope('layer_blocks');
  const last = stages.length - 1;
  let lastInner = convNorm(ctx, inner.scope(last), stages[last]!, inChannels[last]!, outChannels, 1, withNorm);
  const results: Value[] = [convNorm(ctx, layer.scope(last), lastInner, outChannels, outChannels, 3, withNorm)];
  for (let i = last - 1; i >= 0; i--) {
    const lateral = convNorm(ctx, inner.scope(i), stages[i]!, inChannels[i]!, outChannels, 1, withNorm);
    // F.interpolate(last_inner, size=lateral.shape[-2:], mode='nearest'): torch's nearest picks
    // floor(dst * in / out), ONNX's asymmetric + floor the same; N and C equal the lateral's.
    const mode = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    const topDown = exactDoubling
      ? s.op('Resize', [lastInner, '', s.constant(tensor(new Float32Array([1, 1, 2, 2]), [4]), 'upsample_scales')], mode, { name: 'Resize' })
      : s.op('Resize', [lastInner, '', '', s.op('Shape', [lateral])], mode, { name: 'Resize' });
    lastInner = s.op('Add', [lateral, topDown]);
    results.unshift(convNorm(ctx, layer.scope(i), lastInner, outChannels, outChannels, 3, withNorm));
  }
  // LastLevelMaxPool: kernel 1, stride 2 (subsampling P5, not pooling a window).
  results.push(s.op('MaxPool', [results[results.length - 1]!], { kernel_shape: [1, 1], strides: [2, 2] }, { name: 'LastLevelMaxPool' }));
  return results;
}
