/**
 * Gradient rules of pooling and nearest-neighbour upsampling.
 */
import { attrInt, attrInts, attrString } from '../attributes.js';
import { type Value, filled, toNumbers } from '../values.js';
import type { GradContext, GradRule } from './context.js';

/**
 * MaxPool: route dY to the argmax positions. The forward node is given its Indices output (flat
 * positions in the input tensor) if it lacks one; dY is scatter-added there (ScatterElements with
 * reduction add), so overlapping windows that pick the same element accumulate.
 */
function maxPool(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  if (attrInt(c.node.attrs, 'storage_order', 0) !== 0) c.fail('storage_order 1 is not supported');
  const x = c.x(0);
  const y = c.y(0);
  const indices = c.node.outputs[1] ? c.y(1) : c.g.addNodeOutput(c.node, 'int64', y.shape, `${c.node.outputs[0]}.indices`);
  const flat = c.ints([-1]);
  const zeros = c.op('Reshape', [c.zerosLike(x), flat]);
  const scattered = c.op('ScatterElements', [zeros, c.op('Reshape', [indices, flat]), c.op('Reshape', [c.dy0(dys), flat])], { axis: 0, reduction: 'add' });
  return [c.op('Reshape', [scattered, c.shapeOf(x)])];
}

/** Output padding that makes a ConvTranspose return exactly the pooled input's spatial size. */
function outputPadding(inDims: number[], outDims: number[], k: number[], s: number[], p: number[]): number[] {
  const n = k.length;
  return k.map((kk, i) => inDims[i]! - ((outDims[i]! - 1) * s[i]! - p[i]! - p[i + n]! + kk));
}

/**
 * AveragePool: spread each dY over its window with a depthwise ConvTranspose whose kernel is all
 * ones, after dividing dY by each window's divisor (k, or the number of non-pad elements when
 * count_include_pad is 0).
 */
function averagePool(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const at = c.node.attrs;
  if (attrInt(at, 'ceil_mode', 0) !== 0) c.fail('ceil_mode 1 is not supported for the gradient');
  const autoPad = attrString(at, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') c.fail(`auto_pad ${autoPad} is not supported; give explicit pads`);
  const x = c.x(0);
  const xd = c.staticDims(x, 'the AveragePool gradient');
  const yd = c.staticDims(c.y(0), 'the AveragePool gradient');
  const k = attrInts(at, 'kernel_shape')!;
  const s = attrInts(at, 'strides') ?? k.map(() => 1);
  const p = autoPad === 'VALID' ? k.flatMap(() => [0, 0]) : (attrInts(at, 'pads') ?? k.flatMap(() => [0, 0]));
  const kProd = k.reduce((a, b) => a * b, 1);
  const channels = xd[1]!;
  const dy = c.dy0(dys);
  let scaled: Value;
  if (attrInt(at, 'count_include_pad', 0) === 1 || p.every((v) => v === 0)) {
    scaled = c.op('Div', [dy, c.scalar(kProd, dy.dtype)]);
  } else {
    const ones = c.g.op('ConstantOfShape', [c.shapeOf(x)], { value: filled(x.dtype, [1], 1) }, { name: 'OnesLike_grad' });
    const frac = c.op('AveragePool', [ones], { kernel_shape: k, strides: s, pads: p, count_include_pad: 1 });
    scaled = c.op('Div', [dy, c.op('Mul', [frac, c.scalar(kProd, dy.dtype)])]);
  }
  const kernel = c.g.constant(filled(x.dtype, [channels, 1, ...k], 1), 'grad_pool_ones');
  const outPad = outputPadding(xd.slice(2), yd.slice(2), k, s, p);
  return [c.op('ConvTranspose', [scaled, kernel], { kernel_shape: k, strides: s, pads: p, group: channels, output_padding: outPad })];
}

/** GlobalAveragePool: dX = dY / (H·W) broadcast over the spatial axes. */
function globalAveragePool(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const x = c.x(0);
  let count: Value;
  if (x.shape?.slice(2).every((d) => typeof d === 'number')) {
    count = c.scalar((x.shape.slice(2) as number[]).reduce((a, b) => a * b, 1), x.dtype);
  } else {
    count = c.op('Cast', [c.op('Div', [c.op('Size', [x]), c.op('Size', [c.y(0)])])], { to: x.dtype === 'float64' ? 11 : 1 });
  }
  return [c.op('Expand', [c.op('Div', [c.dy0(dys), count]), c.shapeOf(x)])];
}

/**
 * Resize, nearest mode, integer spatial scales (FPN upsampling): every input pixel was copied to
 * an s_h×s_w block, so its gradient is the block's sum (an AveragePool times s_h·s_w). Only the
 * coordinate modes where output i maps to floor(i / s) qualify: asymmetric with nearest_mode
 * floor (torch's export), or half_pixel / pytorch_half_pixel with a rounding nearest_mode.
 */
function resize(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const at = c.node.attrs;
  if (attrString(at, 'mode', 'nearest') !== 'nearest') c.fail(`only mode nearest is supported, got ${attrString(at, 'mode', 'nearest')}`);
  const ctm = attrString(at, 'coordinate_transformation_mode', 'half_pixel');
  const nm = attrString(at, 'nearest_mode', 'round_prefer_floor');
  const ok = (ctm === 'asymmetric' && nm === 'floor') || ((ctm === 'half_pixel' || ctm === 'pytorch_half_pixel') && nm.startsWith('round'));
  if (!ok) c.fail(`coordinate_transformation_mode ${ctm} with nearest_mode ${nm} is not a block copy; use asymmetric+floor`);
  const x = c.x(0);
  const y = c.y(0);
  const xd = x.shape ?? c.fail(`rank of ${x.name} is unknown`);
  let scales: number[] | undefined;
  const scalesT = c.hasInput(2) ? c.g.constantValue(c.x(2)) : undefined;
  if (scalesT && scalesT.data.length > 0) scales = toNumbers(scalesT);
  else if (x.shape?.every((d) => typeof d === 'number') && y.shape?.every((d) => typeof d === 'number')) {
    scales = (y.shape as number[]).map((d, i) => d / (xd[i] as number));
  }
  if (!scales) c.fail('scales must be constant or the shapes static');
  if (scales.slice(0, 2).some((v) => v !== 1) || scales.slice(2).some((v) => !Number.isInteger(v) || v < 1)) {
    c.fail(`only integer spatial scales (and 1 for N, C) are supported, got [${scales}]`);
  }
  const k = scales.slice(2);
  const kProd = k.reduce((a, b) => a * b, 1);
  if (kProd === 1) return [c.dy0(dys)];
  const pooled = c.op('AveragePool', [c.dy0(dys)], { kernel_shape: k, strides: k });
  return [c.op('Mul', [pooled, c.scalar(kProd, x.dtype)])];
}

/** Pooling rules by op type. */
export const POOL_RULES: Record<string, GradRule> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  Resize: resize,
};
