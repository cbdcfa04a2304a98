/**
 * A small PNG writer for the merge's output: native row filtering (one filter type for every row)
 * then zlib deflate (Node's zlib, on the libuv pool) at the requested level, then the chunks
 * (IHDR, one IDAT, IEND) with their CRCs. 8-bit gray, gray+alpha, RGB or RGBA.
 *
 * Why not sharp's PNG encoder: it offers only "no filter" or the slow adaptive filter; measured on
 * merged HPA sets at zlib level 6 (docs/benchmarks.md), one fixed filter gives a similar size in
 * less deflate time, and the filter pass is a cheap native loop.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { native } from '../native.js';

/** PNG filter types (PNG spec 9.2); the same one is used on every row. */
export const PNG_FILTERS = { none: 0, sub: 1, up: 2, average: 3, paeth: 4 } as const;
export type PngFilter = keyof typeof PNG_FILTERS;

export interface PngWriteOptions {
  /** zlib level 0–9 (default 6). */
  compressionLevel?: number;
  /** Row filter (default `paeth`, see docs/benchmarks.md). */
  filter?: PngFilter;
}

type NativeFilter = (px: Uint8Array, w: number, h: number, c: number, f: number, out: Uint8Array) => unknown;
const filterAsync = native.pngFilter as (...a: Parameters<NativeFilter>) => Promise<void>;
const deflate = promisify(zlib.deflate);

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/**
 * Encodes 8-bit interleaved pixels (width*height*channels bytes) as a PNG file in memory.
 * @throws RangeError/TypeError naming the bad argument
 */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  options: PngWriteOptions = {},
): Promise<Buffer> {
  const level = options.compressionLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`compressionLevel must be an integer in [0, 9], got ${level}`);
  const filter = PNG_FILTERS[options.filter ?? 'paeth'];
  if (filter === undefined) throw new RangeError(`filter must be one of ${Object.keys(PNG_FILTERS).join(', ')}, got ${options.filter}`);
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new RangeError(`channels must be 1, 2, 3 or 4, got ${channels}`);
  const filtered = Buffer.allocUnsafeSlow((width * channels + 1) * height);
  await filterAsync(pixels, width, height, channels, filter, filtered); // validates sizes
  const idat = await deflate(filtered, { level });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType;
  // bytes 10-12: compression 0 (deflate), filter method 0, interlace 0
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}
