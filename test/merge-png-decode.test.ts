// The fast PNG decode path gives exactly sharp's pixels (every fixture, every real Kaggle channel
// file), leaves what it does not handle to sharp, and reports corrupt files by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { fixturesDir, sharedData } from './helpers.js';
import { decodeChannel } from '../src/hpa/decode.js';
import { decodePngFast } from '../src/hpa/merge-png-decode.js';
import { ChannelSetError } from '../src/hpa/merge-errors.js';
import { native } from '../src/native.js';

const LIMIT = 1 << 28;

async function assertSameBothWays(file: string): Promise<void> {
  const [fast, slow] = await Promise.all([decodeChannel(file, { keep16: true }), decodeChannel(file, { keep16: true, pngFastPath: false })]);
  assert.deepEqual([fast.width, fast.height, fast.depth], [slow.width, slow.height, slow.depth], file);
  if (fast.channels === slow.channels) {
    assert.ok(fast.data.equals(slow.data), `${file}: pixels differ between the fast path and sharp`);
    return;
  }
  // sharp's gray output drops the alpha of a gray+alpha file; the gray values must still agree
  assert.deepEqual([fast.channels, slow.channels], [2, 1], file);
  for (let i = 0; i < slow.data.length; i++) assert.equal(fast.data[2 * i], slow.data[i], `${file} pixel ${i}`);
}

test('fast path == sharp on every fixture image', async () => {
  for (const sub of ['sets', 'golden']) {
    const dir = path.join(fixturesDir, 'merge', sub);
    for (const f of readdirSync(dir).filter((n) => /\.(png|tif)$/.test(n))) await assertSameBothWays(path.join(dir, f));
  }
});

test('fast path == sharp on all real Kaggle channel PNGs', async (t) => {
  const dir = sharedData(t, 'hpa', 'kaggle-channels');
  if (!dir) return;
  const files = readdirSync(dir).filter((n) => n.endsWith('.png'));
  assert.equal(files.length, 200);
  for (const f of files) {
    const bytes = readFileSync(path.join(dir, f));
    assert.ok(await decodePngFast(bytes, f, LIMIT), `${f} takes the fast path`);
    await assertSameBothWays(path.join(dir, f));
  }
});

test('16-bit, palette and ICC PNGs are left to sharp', async () => {
  assert.equal(await decodePngFast(readFileSync(path.join(fixturesDir, 'merge', 'sets', 'deep_green.png')), 'deep', LIMIT), undefined);
  const palette = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#804020' } }).png({ palette: true }).toBuffer();
  assert.equal(await decodePngFast(palette, 'palette', LIMIT), undefined);
  assert.equal(await decodePngFast(Buffer.from('not a png'), 'text', LIMIT), undefined);
});

/** A PNG with the given (already filtered) scanlines, 8-bit gray, valid CRCs. */
function pngOf(width: number, height: number, filtered: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4))) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(filtered)), chunk('IEND', Buffer.alloc(0))]);
}

test('every PNG row filter decodes like sharp (hand-made file, all 5 filter types)', async () => {
  const w = 7;
  const rows = [0, 1, 2, 3, 4, 4, 3, 1];
  const filtered = Buffer.alloc((w + 1) * rows.length);
  rows.forEach((f, y) => {
    filtered[y * (w + 1)] = f;
    for (let x = 0; x < w; x++) filtered[y * (w + 1) + 1 + x] = (x * 37 + y * 91 + 13) & 255;
  });
  const png = pngOf(w, rows.length, filtered);
  const fast = await decodePngFast(png, 'mixed', LIMIT);
  const slow = await sharp(png).toColourspace('b-w').raw().toBuffer();
  assert.ok(fast && fast.data.equals(slow));
});

test('corrupt PNGs: bad CRC, bad filter type, truncated, no IEND, bad zlib data', async () => {
  const good = pngOf(4, 2, Buffer.from([0, 1, 2, 3, 4, 2, 5, 6, 7, 8]));
  const cases: [string, Buffer, RegExp][] = [];
  const badCrc = Buffer.from(good);
  badCrc[good.length - 20] ^= 0xff; // inside the IDAT data
  cases.push(['bad CRC', badCrc, /CRC mismatch in IDAT/]);
  cases.push(['bad filter', pngOf(4, 2, Buffer.from([0, 1, 2, 3, 4, 9, 5, 6, 7, 8])), /row 1 has invalid filter type 9/]);
  cases.push(['truncated', good.subarray(0, good.length - 20), /truncated/]);
  cases.push(['no IEND', good.subarray(0, good.length - 12), /no IEND/]);
  cases.push(['short data', pngOf(4, 3, Buffer.from([0, 1, 2, 3, 4, 2, 5, 6, 7, 8])), /expected 15/]);
  for (const [what, bytes, message] of cases) {
    await assert.rejects(decodePngFast(bytes, 'x_red.png', LIMIT), (e: Error) => e instanceof ChannelSetError && e.kind === 'corrupt-file' && /x_red\.png/.test(e.message) && message.test(e.message), what);
  }
  await assert.rejects(decodePngFast(good, 'big.png', 7), (e: Error) => e instanceof ChannelSetError && e.kind === 'pixel-limit');
});

test('native pngUnfilterSync validates its arguments', () => {
  const unfilterSync = native.pngUnfilterSync as (...a: unknown[]) => unknown;
  const filtered = new Uint8Array((4 + 1) * 2);
  const out = new Uint8Array(8);
  assert.throws(() => unfilterSync('x', 4, 2, 1, out), /filtered must be a Uint8Array/);
  assert.throws(() => unfilterSync(filtered, 4, 2, 9, out), RangeError);
  assert.throws(() => unfilterSync(filtered, 4, Number.NaN, 1, out), /height must be finite/);
  assert.throws(() => unfilterSync(filtered, 4, 2, 1, new Uint8Array(7)), /out must hold/);
  assert.throws(() => unfilterSync(filtered, 5, 2, 1, out), /filtered must hold/);
  filtered[5] = 7;
  assert.throws(() => unfilterSync(filtered, 4, 2, 1, out), /invalid filter type 7/);
  filtered[5] = 0;
  unfilterSync(filtered, 4, 2, 1, out);
});
