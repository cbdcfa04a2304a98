/**
 * Decoding one predict input: a plain image to 8-bit RGB, or an HPA channel set decoded at its
 * own bit depth and merged natively with the same defaults as `hpa-detect merge` (mode `sum`, full
 * size). Besides the RGB the detector sees, it keeps the planes whose per-box means the CSV reports:
 * the image's R, G, B, or each raw channel (red, green, blue, yellow) at the file's bit depth.
 */
import sharp from 'sharp';
import { CHANNEL_NAMES } from '../hpa/channels.js';
import { decodeChannel } from '../hpa/decode.js';
import { type ChannelImages, type MergeMode, mergeChannels } from '../hpa/merge.js';
import { inputFiles, type PredictInput } from './predict-inputs.js';
import { channelPlane, interleavedPlanes, type Plane } from './predict-means.js';
import type { RgbImage } from './transform.js';

/** A decoded input ready for the detector. */
export interface LoadedInput {
  rgb: RgbImage;
  /** Planes the CSV means are taken of, named by {@link LoadedInput.channels}. */
  planes: Plane[];
  channels: string[];
  /** Bit depth of the means: 8, or 16 when any raw channel file is 16-bit. */
  bits: 8 | 16;
}

/** Options of {@link loadPredictInput}. */
export interface LoadOptions {
  /** Merge mode of channel sets (default `sum`, as `hpa-detect merge`). */
  mergeMode?: MergeMode;
  /** Refuse channel images with more pixels than this (decodeChannel's default otherwise). */
  maxPixels?: number;
}

/** Error that names the input's files (the message starts with the file or set). */
export class InputError extends Error {
  constructor(readonly files: string[], message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Decode (and merge) one input. @throws InputError naming the file(s) */
export async function loadPredictInput(input: PredictInput, options: LoadOptions = {}): Promise<LoadedInput> {
  try {
    if (input.kind === 'image') {
      const { data, info } = await sharp(input.file).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      const rgb: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels as 3 };
      return { rgb, planes: interleavedPlanes(rgb), channels: ['red', 'green', 'blue'], bits: 8 };
    }
    const decoded = await Promise.all(CHANNEL_NAMES.map((c) => decodeChannel(input.set.files[c], { keep16: true, maxPixels: options.maxPixels })));
    const images = Object.fromEntries(CHANNEL_NAMES.map((c, i) => [c, decoded[i]!])) as ChannelImages;
    const merged = await mergeChannels(images, { mode: options.mergeMode ?? 'sum' });
    const rgb: RgbImage = { data: new Uint8Array(merged.rgb.buffer, merged.rgb.byteOffset, merged.rgb.length), width: merged.width, height: merged.height, channels: 3 };
    return {
      rgb,
      planes: CHANNEL_NAMES.map((c, i) => channelPlane(c, decoded[i]!)),
      channels: [...CHANNEL_NAMES],
      bits: decoded.some((d) => d.depth === 16) ? 16 : 8,
    };
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    const files = inputFiles(input);
    // ChannelSetError messages already start with the file; sharp's do not.
    throw new InputError(files, files.some((f) => msg.includes(f)) ? msg : `${files.join(', ')}: ${msg}`);
  }
}
