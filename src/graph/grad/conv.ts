/**
 * Gradient rules of 2-D Conv and ConvTranspose (stride, padding, dilation, groups incl. depthwise).
 *
 * Conv: the input gradient is a Conv of dY with the flipped, transposed weight for stride 1, else
 * a ConvTranspose of dY with the same weight; the weight gradient is
 * an explicit im2col of the input multiplied with dY (one Gemm when batch = groups = 1, else a
 * batched MatMul per group summed over the batch). The im2col is one depthwise Conv with one-hot
 * kernels (onnxruntime pads, strides and dilates inside its Conv, multi-threaded), not the kh·kw
 * strided Slices of a padded copy + Concat (single-threaded copies, twice the memory traffic).
 * The design note measured im2col + Gemm faster in onnxruntime than a Conv over transposed tensors.
 * ConvTranspose: the input gradient is a Conv of dY; the weight gradient is im2col of dY times X.
 */
import { attrInt, attrInts, attrString } from '../attributes.js';
import { type Value, tensor } from '../values.js';
import type { GradContext, GradRule } from './context.js';
import { gradTuning } from './tuning.js';

interface Geometry {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number];
  group: number;
}

function geometry(c: GradContext, w: Value): Geometry {
  const autoPad = attrString(c.node.attrs, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') c.fail(`auto_pad ${autoPad} is not supported; give explicit pads`);
  const wd = c.staticDims(w, 'the Conv gradient');
  if (wd.length !== 4) c.fail(`only 2-D convolutions are supported, weight ${w.name} has rank ${wd.length}`);
  const kernel = (attrInts(c.node.attrs, 'kernel_shape') ?? wd.slice(2)) as [number, number];
  const strides = (attrInts(c.node.attrs, 'strides') ?? [1, 1]) as [number, number];
  const dilations = (attrInts(c.node.attrs, 'dilations') ?? [1, 1]) as [number, number];
  const pads = (autoPad === 'VALID' ? [0, 0, 0, 0] : (attrInts(c.node.attrs, 'pads') ?? [0, 0, 0, 0])) as Geometry['pads'];
  return { kernel, strides, dilations, pads, group: attrInt(c.node.attrs, 'group', 1) };
}

/**
 * im2col of v [N, C, H, W]: for each kernel tap (i, j) the slice of the zero-padded v starting at
 * (i·d, j·d) with step s and `out` positions, stacked to [N, C, kh·kw, oh·ow].
 */
function im2col(c: GradContext, v: Value, geo: Geometry, out: [number, number]): Value {
  const [pt, pl, pb, pr] = geo.pads;
  const padded = pt || pl || pb || pr ? c.op('Pad', [v, c.ints([0, 0, pt, pl, 0, 0, pb, pr])]) : v;
  const [kh, kw] = geo.kernel;
  const [sh, sw] = geo.strides;
  const [dh, dw] = geo.dilations;
  const [oh, ow] = out;
  const taps: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const starts = [i * dh, j * dw];
      const ends = [i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1];
      const isWhole = kh === 1 && kw === 1 && sh === 1 && sw === 1 && !(pt || pl || pb || pr) && padded.shape?.[2] === oh && padded.shape?.[3] === ow;
      const s = isWhole ? padded : c.op('Slice', [padded, c.ints(starts), c.ints(ends), c.ints([2, 3]), c.ints([sh, sw])]);
      taps.push(c.op('Unsqueeze', [s, c.ints([2])]));
    }
  }
  const stacked = taps.length === 1 ? taps[0]! : c.op('Concat', taps, { axis: 2 });
  return c.op('Reshape', [stacked, c.ints([0, 0, kh * kw, oh * ow])]);
}

/**
 * im2col of v [N, C, H, W] by one depthwise Conv with one-hot kernels: group C, kh·kw output
 * channels per group, output channel c·kh·kw + t copies tap t. onnxruntime's Conv does the padding,
 * strides and dilations itself, so there is no Pad and no kh·kw Slices + Concat. Same layout as
 * im2col(): [N, C, kh·kw, oh·ow].
 */
function im2colConv(c: GradContext, v: Value, cin: number, geo: Geometry, out: [number, number]): Value {
  const [kh, kw] = geo.kernel;
  const k = kh * kw;
  const w = c.cached(`onehot:${v.dtype}:${cin}:${kh}x${kw}`, () => {
    const data = new Float32Array(cin * k * k);
    for (let ch = 0; ch < cin; ch++) for (let t = 0; t < k; t++) data[(ch * k + t) * k + t] = 1;
    return c.g.constant(tensor(v.dtype === 'float64' ? Float64Array.from(data) : data, [cin * k, 1, kh, kw], v.dtype), 'grad_im2col');
  });
  const col = c.op('Conv', [v, w], { kernel_shape: [kh, kw], strides: geo.strides, dilations: geo.dilations, pads: geo.pads, group: cin });
  return c.op('Reshape', [col, c.ints([0, cin, k, out[0] * out[1]])]);
}

/**
 * Σ_n a[n]·colᵀ[n] per group: a [N, g·A, P] and col [N, g·B, K, P] give [g·A, B, K] (as a weight
 * layout [g·A, B, kh, kw] after the caller's reshape).
 */
function groupedProduct(c: GradContext, a: Value, col: Value, n: number | null, g: number, aPerGroup: number, bPerGroup: number, k: number, p: number): Value {
  if (n === 1 && g === 1) {
    const a2 = c.op('Reshape', [a, c.ints([aPerGroup, p])]);
    const col2 = c.op('Reshape', [col, c.ints([bPerGroup * k, p])]);
    return c.op('Gemm', [a2, col2], { transB: 1 });
  }
  if (n !== null && n > 1 && g === 1 && gradTuning.foldBatchIntoGemm && p * (aPerGroup + bPerGroup * k) < aPerGroup * bPerGroup * k) {
    // Small feature maps (ResNet layer4): moving the batch next to the pixels (two Transposes of
    // n·P·(A + B·K) values) and one Gemm over n·P costs less than the per-image products' ReduceSum
    // over n·A·B·K values, which onnxruntime runs on one thread.
    const nextToPixels = (v: Value, rows: number) =>
      c.op('Reshape', [c.op('Transpose', [c.op('Reshape', [v, c.ints([n, rows, p])])], { perm: [1, 0, 2] }), c.ints([rows, n * p])]);
    return c.op('Gemm', [nextToPixels(a, aPerGroup), nextToPixels(col, bPerGroup * k)], { transB: 1 });
  }
  const a4 = c.op('Reshape', [a, c.ints([0, g, aPerGroup, p])]);
  const col4 = c.op('Reshape', [col, c.ints([0, g, bPerGroup * k, p])]);
  const prod = c.op('MatMul', [a4, c.op('Transpose', [col4], { perm: [0, 1, 3, 2] })]);
  return c.op('ReduceSum', [prod, c.ints([0])], { keepdims: 0 });
}

/**
 * Below this many output pixels the weight transform (a Transpose costing ~20 ns per weight
 * element in onnxruntime, vs ~0.3 ns per multiply-add in Conv) outweighs the flipped Conv's gain
 * over ConvTranspose, so small feature maps (ResNet layer4) keep ConvTranspose.
 */
const FLIPPED_CONV_MIN_PIXELS = 1024;

/** W [O, C/g, kh, kw] → [C, O/g, kh, kw] transposed within each group and flipped spatially. */
function flipTranspose(c: GradContext, w: Value, g: number): Value {
  const [o, cg, kh, kw] = c.staticDims(w, 'the Conv gradient') as [number, number, number, number];
  let t: Value;
  if (g === 1) t = c.op('Transpose', [w], { perm: [1, 0, 2, 3] });
  else if (cg === 1) t = c.op('Reshape', [w, c.ints([g, o / g, kh, kw])]); // depthwise: [g·1, Og] rows
  else {
    const five = c.op('Reshape', [w, c.ints([g, o / g, cg, kh, kw])]);
    t = c.op('Reshape', [c.op('Transpose', [five], { perm: [0, 2, 1, 3, 4] }), c.ints([g * cg, o / g, kh, kw])]);
  }
  // Spatial flip as a product with the kh·kw anti-identity: onnxruntime's negative-step Slice
  // took ~50 ns per element (115 ms for a 512×512×3×3 weight), the MatMul a few ms.
  const k = kh * kw;
  const anti = new Float32Array(k * k);
  for (let i = 0; i < k; i++) anti[i * k + (k - 1 - i)] = 1;
  const antiT = w.dtype === 'float64' ? Float64Array.from(anti) : anti;
  const flat = c.op('Reshape', [t, c.ints([-1, k])]);
  const flipped = c.op('MatMul', [flat, c.g.constant(tensor(antiT, [k, k], w.dtype), 'grad_flip')]);
  return c.op('Reshape', [flipped, c.shapeOf(t)]);
}

/** Conv: dX by ConvTranspose, dW by im2col + Gemm/MatMul, dB by summing dY over N, H, W. */
function conv(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const x = c.x(0);
  const w = c.x(1);
  const geo = geometry(c, w);
  const xd = x.shape ?? c.fail(`rank of ${x.name} is unknown`);
  const [cin, h, wdt] = [xd[1], xd[2], xd[3]].map((d) => (typeof d === 'number' ? d : c.fail(`channels and spatial size of ${x.name} must be static, got [${xd}]`))) as [number, number, number];
  const yd = c.y(0).shape;
  const [oh, ow] = [yd?.[2], yd?.[3]].map((d) => (typeof d === 'number' ? d : c.fail(`spatial size of output ${c.y(0).name} must be static`))) as [number, number];
  const [o, cg, kh, kw] = c.staticDims(w, 'the Conv gradient') as [number, number, number, number];
  const { strides: s, dilations: d, pads: p, group: g } = geo;
  let dx: Value | undefined;
  const flippedPads = [0, 1, 2, 3].map((i) => d[i % 2]! * ((i % 2 === 0 ? kh : kw) - 1) - p[i]!);
  if (c.needs(0) && s[0] === 1 && s[1] === 1 && flippedPads.every((v) => v >= 0) && gradTuning.convInputGrad === 'auto' && oh * ow >= FLIPPED_CONV_MIN_PIXELS) {
    // Stride 1: dX is a plain Conv of dY with the flipped, per-group transposed weight (measured
    // faster in onnxruntime than ConvTranspose, which runs as Gemm + col2im).
    dx = c.op('Conv', [dy, flipTranspose(c, w, g)], { pads: flippedPads, dilations: d, group: g, kernel_shape: [kh, kw] });
  } else if (c.needs(0)) {
    const outPad = [
      h - ((oh - 1) * s[0] - p[0] - p[2] + d[0] * (kh - 1) + 1),
      wdt - ((ow - 1) * s[1] - p[1] - p[3] + d[1] * (kw - 1) + 1),
    ];
    dx = c.op('ConvTranspose', [dy, w], { strides: s, pads: p, dilations: d, group: g, output_padding: outPad, kernel_shape: [kh, kw] });
  }
  let dw: Value | undefined;
  const n1 = xd[0] === 1;
  if (c.needs(1) && n1 && g === 1 && kh * kw >= gradTuning.transposedMinTaps) {
    // Large kernels (the 7×7 stem), batch 1: dWᵀ = Conv(X as C images of 1 channel, dY as O
    // filters of oh×ow) with the forward stride as dilation and its dilation as stride: no
    // im2col of our own, and onnxruntime's Gemm has kh·kw (≥ 25) columns, not the 9 that made
    // this form slow for 3×3 kernels.
    const xs = c.op('Reshape', [x, c.ints([cin, 1, h, wdt])]);
    const dys = c.op('Reshape', [dy, c.ints([o, 1, oh, ow])]);
    const span = (i: 0 | 1, size: number, out: number, k: number): [number, number] => {
      // Output positions the Conv would give, and the end pad that trims them to k.
      const full = Math.floor((size + p[i]! + p[i + 2]! - s[i]! * (out - 1) - 1) / d[i]!) + 1;
      return [full, p[i + 2]! - (full - k) * d[i]!];
    };
    const [fh, endH] = span(0, h, oh, kh);
    const [fw, endW] = span(1, wdt, ow, kw);
    const trim = endH >= 0 && endW >= 0;
    let t = c.op('Conv', [xs, dys], { kernel_shape: [oh, ow], strides: d, dilations: s, pads: trim ? [p[0], p[1], endH, endW] : p });
    if (!trim && (fh !== kh || fw !== kw)) t = c.op('Slice', [t, c.ints([0, 0]), c.ints([kh, kw]), c.ints([2, 3])]);
    dw = c.op('Transpose', [t], { perm: [1, 0, 2, 3] });
  } else if (c.needs(1)) {
    const useConv = gradTuning.im2col === 'conv' && kh * kw > 1;
    const col = useConv ? im2colConv(c, x, cin, geo, [oh, ow]) : im2col(c, x, geo, [oh, ow]);
    const n = typeof xd[0] === 'number' ? xd[0] : null;
    const prod = groupedProduct(c, dy, col, n, g, o / g, cin / g, kh * kw, oh * ow);
    dw = c.op('Reshape', [prod, c.ints([o, cg, kh, kw])]);
  }
  const db = c.hasInput(2) && c.needs(2) ? c.op('ReduceSum', [dy, c.ints([0, 2, 3])], { keepdims: 0 }) : undefined;
  return [dx, dw, db];
}

/** ConvTranspose: dX by Conv of dY, dW by im2col of dY times X, dB by summing dY. */
function convTranspose(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  if (attrInts(c.node.attrs, 'output_shape')) c.fail('output_shape is not supported for the gradient; use pads/output_padding');
  const dy = c.dy0(dys);
  const x = c.x(0);
  const w = c.x(1);
  const geo = geometry(c, w);
  const xd = x.shape ?? c.fail(`rank of ${x.name} is unknown`);
  if (typeof xd[2] !== 'number' || typeof xd[3] !== 'number') c.fail(`spatial size of ${x.name} must be static`);
  const [cin, coutG, kh, kw] = c.staticDims(w, 'the ConvTranspose gradient') as [number, number, number, number];
  const { strides: s, dilations: d, pads: p, group: g } = geo;
  const dx = c.needs(0) ? c.op('Conv', [dy, w], { strides: s, pads: p, dilations: d, group: g, kernel_shape: [kh, kw] }) : undefined;
  let dw: Value | undefined;
  if (c.needs(1)) {
    const [h, wdt] = [xd[2] as number, xd[3] as number];
    const col = im2col(c, dy, geo, [h, wdt]);
    const prod = groupedProduct(c, x, col, typeof xd[0] === 'number' ? xd[0] : null, g, cin / g, coutG, kh * kw, h * wdt);
    dw = c.op('Reshape', [prod, c.ints([cin, coutG, kh, kw])]);
  }
  const db = c.hasInput(2) && c.needs(2) ? c.op('ReduceSum', [dy, c.ints([0, 2, 3])], { keepdims: 0 }) : undefined;
  return [dx, dw, db];
}

/** Convolution rules by op type. */
export const CONV_RULES: Record<string, GradRule> = { Conv: conv, ConvTranspose: convTranspose };
