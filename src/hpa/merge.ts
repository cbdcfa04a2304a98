/**
 * The fused HPA channel merge (native, one pass per image, integer arithmetic): four decoded
 * channel images (as {@link decodeChannel} returns them: any channel count, 8 or 16 bit) become
 * one interleaved RGB uint8 image, and optionally, in the same pass, the normalized float32 CHW
 * tensor a model takes.
 *
 * Modes, with R, G, B, Y the 8-bit red, green, blue and yellow values (16-bit input reduced v >> 8,
 * RGB input read per {@link channelComponent}):
 * - `sum` (default; yellow is red + green, half of it to each): R' = min(255, R + ⌊Y/2⌋),
 *   G' = min(255, G + ⌊Y/2⌋), B' = B.
 * - `average` (the common Kaggle kernel): R' = ⌊(R+Y)/2⌋, G' = ⌊(G+Y)/2⌋, B' = B.
 * - `weights`: a 3×4 matrix W (rows: output R,G,B; columns: input R,G,B,Y); each output is
 *   clamp(⌊x + 0.5⌋, 0, 255) (round half up) with x = ((W0·R + W1·G) + W2·B) + W3·Y in float64.
 * The tensor holds (v/255 − mean[c]) / std[c] of the merged RGB values, channel planes R, G, B.
 */
import { native } from '../native.js';
import { CHANNEL_NAMES, type ChannelName } from './channels.js';
import { channelComponent, type DecodedChannel } from './decode.js';
import { ChannelSetError } from './merge-errors.js';

export type MergeMode = 'sum' | 'average';

/** torchvision's (ImageNet) normalization, the default of `tensor: true`. */
export const IMAGENET_NORMALIZATION = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
};

export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface MergeOptions {
  /** `sum` (default) or `average`; ignored when `weights` is given. */
  mode?: MergeMode;
  /** 3×4 weight matrix, as 3 rows of 4 or 12 numbers row-major; all finite. */
  weights?: readonly (readonly number[])[] | ArrayLike<number>;
  /** Also emit the normalized CHW float32 tensor (`true`: {@link IMAGENET_NORMALIZATION}). */
  tensor?: boolean | Normalization;
  /** Threads for one large image: 0 (default) all cores; images under 512² use one. */
  threads?: number;
}

/** The four decoded channels of one set. */
export type ChannelImages = Record<ChannelName, DecodedChannel>;

export interface MergedImage {
  /** width*height*3 bytes, interleaved R,G,B, row-major. */
  rgb: Buffer;
  width: number;
  height: number;
  /** 3*width*height floats (planes R, G, B), when asked for. */
  tensor?: Float32Array;
}

type NativeMerge = (
  planes: Uint8Array[],
  layout: Int32Array,
  width: number,
  height: number,
  mode: number,
  weights: Float64Array | null,
  rgbOut: Uint8Array,
  tensorOut: Float32Array | null,
  meanStd: Float64Array | null,
  threads: number,
) => unknown;
const nativeMergeSync = native.mergeChannelsSync as NativeMerge;
const nativeMerge = native.mergeChannels as (...args: Parameters<NativeMerge>) => Promise<void>;

/**
 * Merges on the libuv thread pool (off the event loop); large images are also split across cores.
 * @throws ChannelSetError `size-mismatch` (naming the files) when the channels differ in size;
 *   TypeError/RangeError for bad options or buffers.
 */
export async function mergeChannels(images: ChannelImages, options: MergeOptions = {}): Promise<MergedImage> {
  const { args, result } = prepare(images, options);
  await nativeMerge(...args);
  return result;
}

/** Same as {@link mergeChannels}, on the calling thread: for small images or scripts. */
export function mergeChannelsSync(images: ChannelImages, options: MergeOptions = {}): MergedImage {
  const { args, result } = prepare(images, options);
  nativeMergeSync(...args);
  return result;
}

function prepare(images: ChannelImages, options: MergeOptions): { args: Parameters<NativeMerge>; result: MergedImage } {
  const planes = CHANNEL_NAMES.map((c) => {
    const img = images?.[c];
    if (!img || !(img.data instanceof Uint8Array)) throw new TypeError(`images.${c} must be a decoded channel ({ data, width, height, channels, depth })`);
    return img;
  });
  const { width, height } = planes[0]!;
  const mismatched = planes.filter((p) => p.width !== width || p.height !== height);
  if (mismatched.length > 0) {
    const sizes = CHANNEL_NAMES.map((c, i) => `${planes[i]!.file ?? c} ${planes[i]!.width}x${planes[i]!.height}`);
    throw new ChannelSetError('size-mismatch', `channel sizes differ: ${sizes.join(', ')}`, planes.map((p, i) => p.file ?? CHANNEL_NAMES[i]!));
  }
  const layout = new Int32Array(12);
  planes.forEach((p, i) => {
    if (p.depth !== 8 && p.depth !== 16) throw new RangeError(`images.${CHANNEL_NAMES[i]}.depth must be 8 or 16, got ${p.depth}`);
    layout[3 * i] = p.channels;
    layout[3 * i + 1] = p.depth / 8;
    layout[3 * i + 2] = channelComponent(CHANNEL_NAMES[i]!, p.channels);
  });
  const weights = options.weights === undefined ? null : weightMatrix(options.weights);
  const mode = weights ? 2 : modeNumber(options.mode ?? 'sum');
  const pixels = width * height;
  const rgb = Buffer.allocUnsafeSlow(pixels * 3);
  const norm = options.tensor === true ? IMAGENET_NORMALIZATION : options.tensor || undefined;
  const tensor = norm ? new Float32Array(3 * pixels) : null;
  const meanStd = norm ? normalization(norm) : null;
  const args: Parameters<NativeMerge> = [
    planes.map((p) => p.data), layout, width, height, mode, weights, rgb, tensor, meanStd, options.threads ?? 0,
  ];
  return { args, result: { rgb, width, height, ...(tensor ? { tensor } : {}) } };
}

function modeNumber(mode: string): number {
  if (mode === 'sum') return 0;
  if (mode === 'average') return 1;
  throw new RangeError(`mode must be 'sum' or 'average', got ${JSON.stringify(mode)}`);
}

function weightMatrix(w: readonly (readonly number[])[] | ArrayLike<number>): Float64Array {
  const rows = Array.from(w as ArrayLike<unknown>);
  const flat = rows.length === 3 && rows.every((r) => Array.isArray(r)) ? (rows as number[][]).flat() : rows;
  if (flat.length !== 12 || (rows.length === 3 && (rows as number[][]).some((r) => r.length !== 4))) {
    throw new RangeError('weights must be a 3x4 matrix (3 rows of 4, or 12 numbers row-major)');
  }
  flat.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`weights[${Math.floor(i / 4)}][${i % 4}] must be a finite number, got ${String(v)}`);
  });
  return Float64Array.from(flat as number[]);
}

function normalization(n: Normalization): Float64Array {
  const values = [...(n.mean ?? []), ...(n.std ?? [])];
  if (values.length !== 6) throw new RangeError('tensor normalization needs mean and std of 3 numbers each');
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (i >= 3 && v <= 0)) {
      throw new RangeError(`tensor.${i < 3 ? 'mean' : 'std'}[${i % 3}] must be a finite number${i >= 3 ? ' > 0' : ''}, got ${String(v)}`);
    }
  });
  return Float64Array.from(values);
}
