/**
 * A fast decode path for the plain PNGs HPA channel files are (8-bit gray, gray+alpha, RGB or
 * RGBA, not interlaced, no palette, no ICC profile, no tRNS): chunks parsed and CRC-checked here,
 * IDAT inflated by Node's zlib on the libuv pool, rows unfiltered natively. It does the same work
 * as sharp's PNG load at about half the CPU (docs/benchmarks.md), which matters because decoding
 * four channels is a third of a set's merge time. Anything else returns undefined and
 * src/hpa/decode.ts decodes it with sharp; tests check both paths give identical pixels.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { native } from '../native.js';
import type { DecodedChannel } from './decode.js';
import { ChannelSetError } from './merge-errors.js';

const inflate = promisify(zlib.inflate);
const unfilter = native.pngUnfilter as (f: Uint8Array, w: number, h: number, bpp: number, out: Uint8Array) => Promise<void>;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG colour type -> samples per pixel, for the types this path takes (no palette). */
const CHANNELS: Record<number, number> = { 0: 1, 4: 2, 2: 3, 6: 4 };
/** Chunks after which sharp would change the pixels (ICC transform, added alpha): leave to sharp. */
const SHARP_ONLY_CHUNKS = new Set(['iCCP', 'tRNS', 'PLTE']);

/** True when `bytes` start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(SIGNATURE);
}

/**
 * Decodes a plain 8-bit PNG; returns undefined when the file is not one (sharp's job then).
 * @throws ChannelSetError `corrupt-file` (truncated, bad CRC, bad zlib stream, wrong data size,
 *   invalid row filter) or `pixel-limit`, naming `label`
 */
export async function decodePngFast(bytes: Buffer, label: string, maxPixels: number): Promise<Omit<DecodedChannel, 'file'> | undefined> {
  if (!isPng(bytes)) return undefined;
  const corrupt = (why: string) => new ChannelSetError('corrupt-file', `${label}: corrupt PNG: ${why}`, [label]);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let ended = false;
  for (let p = 8; p < bytes.length && !ended; ) {
    if (p + 12 > bytes.length) throw corrupt('truncated (incomplete chunk header)');
    const length = bytes.readUInt32BE(p);
    const type = bytes.toString('latin1', p + 4, p + 8);
    const end = p + 12 + length;
    if (end > bytes.length) throw corrupt(`truncated (${type} chunk runs past the end of the file)`);
    const data = bytes.subarray(p + 8, p + 8 + length);
    const critical = (type.charCodeAt(0) & 0x20) === 0;
    if (critical && zlib.crc32(data, zlib.crc32(bytes.subarray(p + 4, p + 8))) >>> 0 !== bytes.readUInt32BE(p + 8 + length)) {
      throw corrupt(`CRC mismatch in ${type} chunk`);
    }
    if (p === 8) {
      if (type !== 'IHDR' || length !== 13) throw corrupt('first chunk is not IHDR');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colorType, compression, filter, interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (width === 0 || height === 0) throw corrupt(`zero size ${width}x${height}`);
      if (depth !== 8 || CHANNELS[colorType!] === undefined || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      channels = CHANNELS[colorType!]!;
      if (width * height > maxPixels) {
        throw new ChannelSetError('pixel-limit', `${label}: ${width}x${height} = ${width * height} pixels is over the limit of ${maxPixels}`, [label]);
      }
    } else if (SHARP_ONLY_CHUNKS.has(type)) {
      return undefined;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    }
    p = end;
  }
  if (!ended) throw corrupt('truncated (no IEND chunk)');
  if (idat.length === 0) throw corrupt('no IDAT chunk');
  const rowBytes = width * channels;
  const expected = (rowBytes + 1) * height;
  let filtered: Buffer;
  try {
    // One output chunk of the known size: the default 16 KiB chunks cost a thread-pool round trip
    // each (measured 2x the CPU). maxOutputLength bounds memory against a zlib bomb; the extra
    // byte detects too much data.
    filtered = await inflate(idat.length === 1 ? idat[0]! : Buffer.concat(idat), {
      chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, expected + 1),
      maxOutputLength: expected + 1,
    });
  } catch (err) {
    throw corrupt(`image data does not inflate (${(err as Error).message})`);
  }
  if (filtered.length !== expected) throw corrupt(`image data holds ${filtered.length} bytes, expected ${expected}`);
  const data = Buffer.allocUnsafeSlow(rowBytes * height);
  try {
    await unfilter(filtered, width, height, channels, data);
  } catch (err) {
    throw corrupt((err as Error).message);
  }
  return { data, width, height, channels, depth: 8 };
}
