// The fused merge against goldens from scripts/make_merge_goldens.py (numpy + PIL, independent
// of our code): exact pixels for sum, average and a weight matrix whose results sit on .5 ties,
// and the normalized tensor within 1e-6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir } from './helpers.js';
import { discoverChannelSets, type ChannelSet } from '../src/hpa/channels.js';
import { mergeSet } from '../src/hpa/merge-set.js';
import { decodeChannel } from '../src/hpa/decode.js';
import { mergeChannelsSync, IMAGENET_NORMALIZATION, type MergeOptions } from '../src/hpa/merge.js';

const setsDir = path.join(fixturesDir, 'merge', 'sets');
const goldenDir = path.join(fixturesDir, 'merge', 'golden');
const WEIGHTS = [
  [0.5, 0, 0, 0.5],
  [0, 1.5, 0, -0.5],
  [0.25, 0.25, 0.5, 0],
];
const MODES: Record<string, MergeOptions> = { sum: { mode: 'sum' }, average: { mode: 'average' }, weights: { weights: WEIGHTS } };

async function goldenRgb(name: string): Promise<Buffer> {
  const { data, info } = await sharp(path.join(goldenDir, name)).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3, `${name} should be RGB`);
  return data;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return `pixel ${Math.floor(i / 3)} channel ${i % 3}: got ${a[i]}, want ${b[i]}`;
  }
  return 'none';
}

async function fixtureSets(): Promise<Map<string, ChannelSet>> {
  const scan = await discoverChannelSets(setsDir);
  assert.deepEqual(scan.incomplete, []);
  return new Map(scan.sets.map((s) => [s.id, s]));
}

test('every fixture set merges to its golden, exactly, in every mode', async () => {
  const sets = await fixtureSets();
  assert.deepEqual([...sets.keys()].sort(), ['alpha', 'deep', 'extremes', 'field', 'kaggle', 'kaggle2']);
  for (const [id, set] of sets) {
    for (const [mode, options] of Object.entries(MODES)) {
      const merged = await mergeSet(set, options);
      assert.equal(merged.width, 64);
      assert.equal(merged.height, 64);
      const want = await goldenRgb(`${id}_${mode}.png`);
      assert.equal(merged.rgb.length, want.length);
      assert.ok(merged.rgb.equals(want), `${id} ${mode}: first difference at ${firstDifference(merged.rgb, want)}`);
    }
  }
});

test('the sum saturates and the weights hit .5 ties on the extremes set (the goldens test something)', async () => {
  const sum = await goldenRgb('extremes_sum.png');
  assert.ok(sum.some((v, i) => i % 3 === 0 && v === 255), 'some red saturates at 255');
  const sets = await fixtureSets();
  const set = sets.get('extremes')!;
  const [r, y] = await Promise.all([decodeChannel(set.files.red), decodeChannel(set.files.yellow)]);
  const odd = r.data.findIndex((v, i) => (v + y.data[i]!) % 2 === 1);
  assert.ok(odd >= 0, 'some R+Y is odd, so 0.5R + 0.5Y ends in .5');
  const w = await goldenRgb('extremes_weights.png');
  assert.equal(w[3 * odd], (r.data[odd]! + y.data[odd]! + 1) / 2, 'round half up');
  assert.notEqual(w[3 * odd], (await goldenRgb('extremes_average.png'))[3 * odd], 'differs from the floored average');
});

test('the normalized CHW tensor matches the golden within 1e-6', async () => {
  const set = (await fixtureSets()).get('kaggle')!;
  const merged = await mergeSet(set, { tensor: true });
  const raw = readFileSync(path.join(goldenDir, 'kaggle_sum_tensor.f32'));
  const want = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  assert.ok(merged.tensor);
  assert.equal(merged.tensor.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(merged.tensor[i]! - want[i]!));
  assert.ok(worst <= 1e-6, `max abs difference ${worst}`);
  // and the tensor is of the merged RGB (plane 0 pixel 5 <-> rgb[15])
  const v = merged.rgb[15]!;
  assert.ok(Math.abs(merged.tensor[5]! - (v / 255 - IMAGENET_NORMALIZATION.mean[0]) / IMAGENET_NORMALIZATION.std[0]) < 1e-6);
});

test('sync and async merges agree, with and without threads', async () => {
  const set = (await fixtureSets()).get('field')!;
  const images = await Promise.all(
    (['red', 'green', 'blue', 'yellow'] as const).map(async (c) => [c, await decodeChannel(set.files[c], { keep16: true })] as const),
  );
  const channels = Object.fromEntries(images) as Parameters<typeof mergeChannelsSync>[0];
  const a = mergeChannelsSync(channels, { threads: 1 });
  const b = await mergeSet(set, { threads: 4 });
  assert.ok(a.rgb.equals(b.rgb));
});

test('decodeChannel keeps gray as 1 channel and reduces 16-bit with v >> 8 unless keep16', async () => {
  const gray = await decodeChannel(path.join(setsDir, 'kaggle_red.png'));
  assert.equal(gray.channels, 1);
  assert.equal(gray.data.length, 64 * 64);
  const deep16 = await decodeChannel(path.join(setsDir, 'deep_red.tif'), { keep16: true });
  assert.equal(deep16.depth, 16);
  assert.equal(deep16.data.length, 64 * 64 * 2);
  const deep8 = await decodeChannel(path.join(setsDir, 'deep_red.tif'));
  assert.equal(deep8.depth, 8);
  const v16 = deep16.data.readUInt16LE(2 * 100);
  assert.equal(deep8.data[100], v16 >> 8);
  const rgba = await decodeChannel(path.join(setsDir, 'alpha_red.png'));
  assert.equal(rgba.channels, 4);
});
