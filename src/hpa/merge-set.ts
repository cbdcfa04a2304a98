/**
 * One channel set from files to a merged image or PNG: decode the 4 files concurrently (sharp),
 * merge natively, optionally resize, encode with sharp (libvips + zlib-ng) and write atomically.
 */
import sharp from 'sharp';
import { withAtomicOutput } from '../util/atomic.js';
import { CHANNEL_NAMES, type ChannelSet } from './channels.js';
import { decodeChannel, type DecodeOptions } from './decode.js';
import { mergeChannels, type ChannelImages, type MergedImage, type MergeOptions } from './merge.js';
import { ChannelSetError } from './merge-errors.js';

export type MergeSetOptions = MergeOptions & Pick<DecodeOptions, 'maxPixels'>;

/**
 * Decodes and merges one set (16-bit files are reduced inside the merge pass, not copied first).
 * @throws ChannelSetError (empty/corrupt file, pixel limit, size mismatch), naming the file(s)
 */
export async function mergeSet(set: ChannelSet, options: MergeSetOptions = {}): Promise<MergedImage> {
  const decoded = await Promise.all(
    CHANNEL_NAMES.map((c) => decodeChannel(set.files[c], { keep16: true, maxPixels: options.maxPixels })),
  );
  const images = Object.fromEntries(CHANNEL_NAMES.map((c, i) => [c, decoded[i]!])) as ChannelImages;
  return mergeChannels(images, options);
}

/** Output size for `--size N`: the longer side becomes N, the aspect ratio is kept (rounded, ≥ 1). */
export function fitLongerSide(width: number, height: number, size: number): { width: number; height: number } {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const scale = size / Math.max(width, height);
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

export interface MergeSetToPngOptions extends MergeSetOptions {
  /** Resize so that the longer side is this many pixels (aspect ratio kept); default: no resize. */
  size?: number;
  /** zlib level 0-9 of the PNG (default 6). */
  compressionLevel?: number;
}

/** What {@link mergeSetToPng} wrote. */
export interface MergeSetResult {
  width: number;
  height: number;
  /** Size of the PNG file. */
  bytes: number;
}

/**
 * Merges one set and writes it as an RGB PNG (zlib level 6 unless told otherwise) at `outPath`,
 * atomically: a temp file renamed over the target, so a kill never leaves a half-written PNG.
 * @throws ChannelSetError; `write-failed` when the file cannot be written
 */
export async function mergeSetToPng(set: ChannelSet, outPath: string, options: MergeSetToPngOptions = {}): Promise<MergeSetResult> {
  const level = options.compressionLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`compressionLevel must be an integer in [0, 9], got ${level}`);
  const { rgb, width, height } = await mergeSet(set, { ...options, tensor: false });
  let image = sharp(rgb, { raw: { width, height, channels: 3 } });
  let out = { width, height };
  if (options.size !== undefined) {
    out = fitLongerSide(width, height, options.size);
    if (out.width !== width || out.height !== height) image = image.resize(out.width, out.height, { fit: 'fill' });
  }
  // sharp's PNG writer: zlib-ng with no row filter was the fastest at level 6 with about the same
  // size as the other filters on merged HPA sets (docs/benchmarks.md)
  image = image.png({ compressionLevel: level, adaptiveFiltering: false });
  let bytes = 0;
  try {
    await withAtomicOutput(outPath, async (tmp) => {
      bytes = (await image.toFile(tmp)).size;
    });
  } catch (err) {
    throw new ChannelSetError('write-failed', `${outPath}: cannot write: ${(err as Error).message}`, [outPath]);
  }
  return { ...out, bytes };
}
