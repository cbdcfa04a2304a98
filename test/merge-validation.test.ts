// Native argument validation of the merge entry points: every bad argument throws a
// TypeError/RangeError that names it, and the process carries on (a valid call still works).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native.js';
import { mergeChannels, mergeChannelsSync, type ChannelImages } from '../src/hpa/merge.js';
import { ChannelSetError } from '../src/hpa/merge-errors.js';

const W = 4;
const H = 3;
const N = W * H;
type Args = unknown[];
const mergeSync = native.mergeChannelsSync as (...a: Args) => unknown;
const mergeAsync = native.mergeChannels as (...a: Args) => Promise<unknown>;

function validArgs(): Args {
  const planes = [0, 1, 2, 3].map(() => new Uint8Array(N).fill(100));
  return [planes, new Int32Array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0]), W, H, 0, null, new Uint8Array(3 * N), null, null, 1];
}
function withArg(i: number, v: unknown): Args {
  const a = validArgs();
  a[i] = v;
  return a;
}
function withLayout(i: number, v: number): Args {
  const a = validArgs();
  (a[1] as Int32Array)[i] = v;
  return a;
}

const cases: [string, Args, ErrorConstructor, RegExp][] = [
  ['planes not an array', withArg(0, new Uint8Array(N)), TypeError, /planes/],
  ['3 planes', withArg(0, [1, 2, 3].map(() => new Uint8Array(N))), RangeError, /planes must have 4/],
  ['a plane is a Float32Array', withArg(0, [new Float32Array(N), new Uint8Array(N), new Uint8Array(N), new Uint8Array(N)]), TypeError, /planes\[0\] \(red\)/],
  ['a plane too short', withArg(0, [new Uint8Array(N), new Uint8Array(N), new Uint8Array(N - 1), new Uint8Array(N)]), RangeError, /planes\[2\] \(blue\)/],
  ['layout wrong type', withArg(1, [1, 1, 0]), TypeError, /layout/],
  ['layout wrong length', withArg(1, new Int32Array(11)), RangeError, /layout must have 12/],
  ['channels 5', withLayout(3, 5), RangeError, /layout\[3\].*channels/],
  ['bytes per sample 3', withLayout(1, 3), RangeError, /layout\[1\].*bytes per sample/],
  ['component out of range', withLayout(2, 1), RangeError, /layout\[2\].*component/],
  ['average rule on gray', withLayout(11, -1), RangeError, /layout\[11\]/],
  ['width a string', withArg(2, '4'), TypeError, /width/],
  ['width NaN', withArg(2, Number.NaN), RangeError, /width must be finite/],
  ['width 0', withArg(2, 0), RangeError, /width must be in/],
  ['height fractional', withArg(3, 2.5), TypeError, /height must be an integer/],
  ['height Infinity', withArg(3, Infinity), RangeError, /height/],
  ['mode 3', withArg(4, 3), RangeError, /mode/],
  ['weights given in sum mode', withArg(5, new Float64Array(12)), TypeError, /weights must be null/],
  ['rgbOut too small', withArg(6, new Uint8Array(3 * N - 1)), RangeError, /rgbOut/],
  ['rgbOut wrong type', withArg(6, new Uint16Array(3 * N)), TypeError, /rgbOut/],
  ['tensorOut wrong type', withArg(7, new Float64Array(3 * N)), TypeError, /tensorOut/],
  ['meanStd without tensor', withArg(8, new Float64Array(6)), TypeError, /meanStd/],
  ['threads -1', withArg(9, -1), RangeError, /threads/],
  ['threads missing', validArgs().slice(0, 9), TypeError, /threads/],
];

test('native mergeChannelsSync rejects every bad argument with an error naming it', () => {
  for (const [what, args, type, message] of cases) {
    assert.throws(() => mergeSync(...args), (err: Error) => err instanceof type && message.test(err.message), what);
  }
  mergeSync(...validArgs()); // the process is fine
});

test('the async variant validates synchronously too, then resolves', async () => {
  for (const [what, args, type, message] of cases) {
    assert.throws(() => mergeAsync(...args), (err: Error) => err instanceof type && message.test(err.message), what);
  }
  const args = validArgs();
  await mergeAsync(...args);
  assert.equal((args[6] as Uint8Array)[0], 150); // 100 + 100/2
});

test('weights and tensor arguments: lengths, NaN, non-positive std', () => {
  const weightsCase = (w: unknown) => { const a = withArg(4, 2); a[5] = w; return a; };
  assert.throws(() => mergeSync(...weightsCase(null)), TypeError);
  assert.throws(() => mergeSync(...weightsCase(new Float64Array(11))), /weights must have 12/);
  const nan = new Float64Array(12); nan[7] = Number.NaN;
  assert.throws(() => mergeSync(...weightsCase(nan)), /weights\[7\] must be finite/);
  const tensorCase = (t: unknown, ms: unknown) => { const a = validArgs(); a[7] = t; a[8] = ms; return a; };
  assert.throws(() => mergeSync(...tensorCase(new Float32Array(3 * N), null)), /meanStd/);
  assert.throws(() => mergeSync(...tensorCase(new Float32Array(3 * N), new Float64Array([0, 0, 0, 1, 0, 1]))), /meanStd\[4\]/);
  assert.throws(() => mergeSync(...tensorCase(new Float32Array(3 * N - 3), new Float64Array([0, 0, 0, 1, 1, 1]))), /tensorOut must hold/);
});

test('an output overlapping an input is refused', () => {
  const a = validArgs();
  const shared = new Uint8Array(4 * N);
  (a[0] as Uint8Array[])[0] = shared.subarray(0, N);
  a[6] = new Uint8Array(shared.buffer, 0, 3 * N);
  assert.throws(() => mergeSync(...a), /rgbOut must not overlap planes\[0\]/);
});

test('the typed wrapper: size mismatch names the files; bad options are RangeErrors', async () => {
  const img = (w: number, file: string) => ({ data: Buffer.alloc(w * H), width: w, height: H, channels: 1, depth: 8 as const, file });
  const images: ChannelImages = { red: img(W, 'a_red.png'), green: img(W, 'a_green.png'), blue: img(W + 1, 'a_blue.png'), yellow: img(W, 'a_yellow.png') };
  assert.throws(
    () => mergeChannelsSync(images),
    (e: Error) => e instanceof ChannelSetError && e.kind === 'size-mismatch' && /a_blue\.png 5x3/.test(e.message) && /a_red\.png 4x3/.test(e.message),
  );
  images.blue = img(W, 'a_blue.png');
  await assert.rejects(mergeChannels(images, { weights: [[1, 0, 0, 0]] }), RangeError);
  await assert.rejects(mergeChannels(images, { weights: [[1, 0, 0, Number.NaN], [0, 1, 0, 0], [0, 0, 1, 0]] }), /weights\[0\]\[3\]/);
  await assert.rejects(mergeChannels(images, { mode: 'max' as 'sum' }), /mode must be/);
  await assert.rejects(mergeChannels(images, { tensor: { mean: [0, 0, 0], std: [1, 0, 1] } }), /tensor\.std\[1\]/);
  const ok = await mergeChannels(images, { mode: 'average' });
  assert.equal(ok.rgb.length, 3 * N);
});
