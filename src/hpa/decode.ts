/**
 * Decoding one channel file to raw pixels with sharp (plain 8-bit PNGs through a faster built-in
 * path with identical output), without extra copies: the Buffer the decoder returns is the result, with its channel count and bit depth kept (gray stays 1 channel, RGB(A)
 * stays 3 (4), 16-bit stays 16-bit unless reduced). Failures are {@link ChannelSetError}s that
 * name the file: empty, corrupt/truncated, over the pixel limit, unsupported sample format.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';
import type { ChannelName } from './channels.js';
import { ChannelSetError } from './merge-errors.js';
import { decodePngFast } from './merge-png-decode.js';

/** sharp's default input limit (0x3FFF x 0x3FFF pixels); HPA fields are at most 3072². */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

/** Raw pixels of one decoded file: row-major, `channels` interleaved samples per pixel. */
export interface DecodedChannel {
  /** width*height*channels samples; 16-bit samples are native-endian uint16 (2 bytes each). */
  data: Buffer;
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  /** Bits per sample. */
  depth: 8 | 16;
  /** The file it came from (for messages), when decoded from a path. */
  file?: string;
}

export interface DecodeOptions {
  /**
   * Keep 16-bit files at 16 bits (default false: reduce each sample to 8 bits with v >> 8).
   * The merge keeps them and reduces inside its single pass.
   */
  keep16?: boolean;
  /** Refuse images with more pixels than this (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
  /**
   * Decode plain 8-bit PNGs with the faster built-in path (default true; same pixels as sharp,
   * see src/hpa/merge-png-decode.ts). false: always sharp.
   */
  pngFastPath?: boolean;
}

/**
 * Decodes a channel file (path) or encoded image (Buffer): plain 8-bit PNGs by the fast path,
 * everything else (JPEG, TIFF, 16-bit or palette PNG, ...) by sharp. A gray+alpha file decoded
 * by sharp comes back as 1 channel (sharp drops the alpha of gray output); the merge ignores
 * alpha either way.
 * @throws ChannelSetError kinds `empty-file`, `corrupt-file`, `pixel-limit`, `unsupported-format`
 */
export async function decodeChannel(input: string | Buffer, options: DecodeOptions = {}): Promise<DecodedChannel> {
  const file = typeof input === 'string' ? input : undefined;
  const label = file ?? 'image buffer';
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = await fs.readFile(input);
    } catch (err) {
      throw new ChannelSetError('corrupt-file', `${label}: cannot read: ${(err as Error).message}`, [label]);
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new ChannelSetError('empty-file', `${label}: empty file (0 bytes)`, [label]);
  if (options.pngFastPath !== false) {
    const fast = await decodePngFast(bytes, label, maxPixels);
    if (fast) return file !== undefined ? { ...fast, file } : fast;
  }

  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw corrupt(label, err);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > maxPixels) {
    throw new ChannelSetError(
      'pixel-limit',
      `${label}: ${width}x${height} = ${width * height} pixels is over the limit of ${maxPixels}`,
      [label],
    );
  }
  const sixteen = meta.depth === 'ushort';
  if (!sixteen && meta.depth !== 'uchar') {
    throw new ChannelSetError('unsupported-format', `${label}: ${meta.depth} samples are not supported (8 or 16 bit only)`, [label]);
  }
  const gray = (meta.channels ?? 1) <= 2;
  // Ask for the file's own colour space so gray stays 1 channel (sharp's raw output is sRGB otherwise).
  const space = gray ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb';
  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    ({ data, info } = await sharp(bytes, { limitInputPixels: false })
      .toColourspace(space)
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw corrupt(label, err);
  }
  const decoded: DecodedChannel = {
    data,
    width: info.width,
    height: info.height,
    channels: info.channels,
    depth: sixteen ? 16 : 8,
    ...(file !== undefined ? { file } : {}),
  };
  return sixteen && !options.keep16 ? reduceTo8Bit(decoded) : decoded;
}

/** Reduces 16-bit samples to 8 bits with v >> 8 (a new Buffer); 8-bit input is returned as is. */
export function reduceTo8Bit(image: DecodedChannel): DecodedChannel {
  if (image.depth === 8) return image;
  const n = image.data.length >> 1;
  const high = os.endianness() === 'LE' ? 1 : 0;
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = image.data[2 * i + high]!;
  return { ...image, data: out, depth: 8 };
}

/**
 * Which component of a decoded file holds the channel: gray files give their only value (0);
 * colour-tinted RGB files (HPA fields) hold red in R (0), green in G (1), blue in B (2), and yellow
 * drawn as red + green, read as floor((R + G) / 2) (-1). Alpha is never read.
 */
export function channelComponent(channel: ChannelName, channels: number): number {
  if (channels <= 2) return 0;
  return { red: 0, green: 1, blue: 2, yellow: -1 }[channel];
}

function corrupt(label: string, err: unknown): ChannelSetError {
  const msg = (err as Error)?.message ?? String(err);
  if (/pixel limit/i.test(msg)) return new ChannelSetError('pixel-limit', `${label}: ${msg}`, [label]);
  return new ChannelSetError('corrupt-file', `${label}: cannot decode: ${msg}`, [label]);
}
