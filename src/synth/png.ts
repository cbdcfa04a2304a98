/**
 * A minimal 8-bit grayscale PNG encoder (node:zlib deflate with the Z_RLE strategy, no row
 * filters), for the generator's channel and mask files. Measured on noisy synthetic channels it
 * was several times faster than sharp's PNG encoder (which tries every row filter) and its files
 * were smaller; the output is a plain, byte-stable PNG any decoder (sharp, PIL, LabelImg) reads.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflate = promisify(zlib.deflate);
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** node:zlib's native crc32 (Node ≥ 20.15), else the table version below. */
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;

function crc32(bytes: Uint8Array): number {
  if (nativeCrc32) return nativeCrc32(bytes) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encode width×height 8-bit gray pixels (row-major) as a PNG (color type 0, bit depth 8).
 * Deflate runs on the libuv thread pool. `level` is the zlib level (default 6).
 */
export async function encodeGrayPng(pixels: Uint8Array, width: number, height: number, level = 6): Promise<Buffer> {
  checkSize(width, height);
  if (pixels.length !== width * height) {
    throw new RangeError(`pixels must have width*height = ${width * height} bytes, got ${pixels.length}`);
  }
  // Each row is prefixed with its filter type byte (0: none).
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return encodeFilteredRows(raw, width, height, level);
}

/**
 * Encode rows that already carry PNG filter bytes: (width + 1)·height bytes, each row a filter
 * type (0: none) followed by width gray pixels. Lets callers (masks) write rows in place.
 */
export async function encodeFilteredRows(raw: Uint8Array, width: number, height: number, level = 6): Promise<Buffer> {
  checkSize(width, height);
  if (raw.length !== (width + 1) * height) {
    throw new RangeError(`raw must have (width+1)*height = ${(width + 1) * height} bytes, got ${raw.length}`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // color type: grayscale
  // bytes 10-12: compression, filter method, interlace: all 0
  // Run-length matching only (Z_RLE): as small as full LZ77 on these noisy channels and mostly-empty
  // masks, and 3–4× faster.
  const idat = await deflate(raw, { level, strategy: zlib.constants.Z_RLE });
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`width and height must be positive integers, got ${width}×${height}`);
  }
}
