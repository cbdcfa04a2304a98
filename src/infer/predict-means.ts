/**
 * Mean intensity of image channels inside detection boxes: what the CSV of `hpa-detect predict`
 * reports per cell (for HPA sets: each raw channel at its own bit depth, the protein in green).
 *
 * A pixel counts when its centre lies inside the box (x from ⌊x1⌋ to ⌈x2⌉, clamped, at least one
 * pixel). Two equal-result methods: summing each box's pixels (cost: the boxes' total area) and a
 * summed-area table (cost: one pass over the image, then O(1) per box). `auto` takes the table
 * only when the boxes together cover more than the image, i.e. when it is cheaper; sums are exact
 * in float64 either way (16-bit values over 2^37 pixels stay below 2^53), so both give the same
 * means bit for bit. Measured in docs/predict.md.
 */
import type { DecodedChannel } from '../hpa/decode.js';
import { channelComponent } from '../hpa/decode.js';
import type { ChannelName } from '../hpa/channels.js';

/** One channel of an image as a strided view: sample of pixel i is `data[i * stride + offset]`. */
export interface Plane {
  data: Uint8Array | Uint16Array;
  stride: number;
  offset: number;
  width: number;
  height: number;
  /** 8 or 16: the scale the means are in. */
  bits: 8 | 16;
}

/** Per-channel views of an interleaved 8-bit image (R, G, B, …), no copy. */
export function interleavedPlanes(img: { data: Uint8Array; width: number; height: number; channels: number }, count = 3): Plane[] {
  return Array.from({ length: count }, (_, c) => ({ data: img.data, stride: img.channels, offset: c, width: img.width, height: img.height, bits: 8 as const }));
}

/**
 * The raw channel of a decoded HPA channel file, as {@link channelComponent} reads it for the
 * merge (gray files: the value; tinted RGB files: their own component, yellow ⌊(R+G)/2⌋), at the
 * file's bit depth. Gray and single-component reads are views; yellow from RGB is computed.
 */
export function channelPlane(channel: ChannelName, img: DecodedChannel): Plane {
  const { width, height, channels, depth } = img;
  let data: Uint8Array | Uint16Array;
  if (depth === 16) {
    const b = img.data;
    // A Uint16Array view needs an even offset; sharp's buffers have one, copy otherwise.
    const aligned = b.byteOffset % 2 === 0 ? b : Buffer.from(b);
    data = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length >> 1);
  } else data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length);
  const component = channelComponent(channel, channels);
  if (component >= 0) return { data, stride: channels, offset: component, width, height, bits: depth };
  const n = width * height;
  const out = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0, o = 0; i < n; i++, o += channels) out[i] = (data[o]! + data[o + 1]!) >> 1;
  return { data: out, stride: 1, offset: 0, width, height, bits: depth };
}

/** Integer pixel range of a box (centres inside, clamped, at least one pixel). */
export function boxPixels(box: readonly number[], width: number, height: number): [number, number, number, number] {
  const x0 = Math.max(0, Math.min(width - 1, Math.floor(box[0]!)));
  const y0 = Math.max(0, Math.min(height - 1, Math.floor(box[1]!)));
  const x1 = Math.max(x0 + 1, Math.min(width, Math.ceil(box[2]!)));
  const y1 = Math.max(y0 + 1, Math.min(height, Math.ceil(box[3]!)));
  return [x0, y0, x1, y1];
}

export type MeansMethod = 'auto' | 'direct' | 'table';

/**
 * `means[k][c]`: mean of plane c inside box k. All planes must have the same size.
 * @throws RangeError when the planes differ in size
 */
export function boxMeans(planes: readonly Plane[], boxes: readonly (readonly number[])[], method: MeansMethod = 'auto'): number[][] {
  if (planes.length === 0 || boxes.length === 0) return boxes.map(() => []);
  const { width, height } = planes[0]!;
  for (const p of planes) if (p.width !== width || p.height !== height) throw new RangeError(`planes differ in size: ${p.width}x${p.height} vs ${width}x${height}`);
  const ranges = boxes.map((b) => boxPixels(b, width, height));
  const area = ranges.reduce((s, [x0, y0, x1, y1]) => s + (x1 - x0) * (y1 - y0), 0);
  const table = method === 'table' || (method === 'auto' && area > width * height);
  const out = ranges.map(() => new Array<number>(planes.length));
  let sat: Float64Array | undefined;
  planes.forEach((p, c) => {
    if (table) sat = summedAreaTable(p, sat);
    ranges.forEach((r, k) => {
      const n = (r[2] - r[0]) * (r[3] - r[1]);
      out[k]![c] = (table ? tableSum(sat!, width, r) : directSum(p, r)) / n;
    });
  });
  return out;
}

function directSum(p: Plane, [x0, y0, x1, y1]: readonly number[]): number {
  const { data, stride, offset, width } = p;
  let s = 0;
  for (let y = y0!; y < y1!; y++) {
    const end = (y * width + x1!) * stride + offset;
    for (let o = (y * width + x0!) * stride + offset; o < end; o += stride) s += data[o]!;
  }
  return s;
}

/** (W+1)×(H+1) table, entry (y, x) = sum of pixels above and left; reuses `reuse` when big enough. */
function summedAreaTable(p: Plane, reuse?: Float64Array): Float64Array {
  const { data, stride, offset, width, height } = p;
  const w1 = width + 1;
  const t = reuse && reuse.length === w1 * (height + 1) ? reuse : new Float64Array(w1 * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    const above = y * w1;
    const here = above + w1;
    let o = y * width * stride + offset;
    for (let x = 0; x < width; x++, o += stride) {
      row += data[o]!;
      t[here + x + 1] = t[above + x + 1]! + row;
    }
  }
  return t;
}

function tableSum(t: Float64Array, width: number, [x0, y0, x1, y1]: readonly number[]): number {
  const w1 = width + 1;
  return t[y1! * w1 + x1!]! - t[y0! * w1 + x1!]! - t[y1! * w1 + x0!]! + t[y0! * w1 + x0!]!;
}

/** Mean of each channel (R, G, B) of an 8-bit interleaved image inside one box. */
export function channelMeans(img: { data: Uint8Array; width: number; height: number; channels: number }, box: readonly number[]): number[] {
  return boxMeans(interleavedPlanes(img), [box])[0]!;
}
