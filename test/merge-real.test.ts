// Both real HPA fields (colour-tinted RGB JPEG channels, 2048² and 1728²) merge, and agree with
// a plain JS rendering of the documented rule over sharp's own RGB decode. Needs ../shared/data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { scratchDir, sharedData } from './helpers.js';
import { CHANNEL_NAMES, discoverChannelSets } from '../src/hpa/channels.js';
import { mergeSet, mergeSetToPng } from '../src/hpa/merge-set.js';

async function rgbOf(file: string): Promise<Buffer> {
  const { data, info } = await sharp(file).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return data;
}

test('both real HPA fields merge (sum), matching the rule applied in plain JS', async (t) => {
  const dir = sharedData(t, 'hpa', 'fields');
  if (!dir) return;
  const scan = await discoverChannelSets(dir);
  assert.deepEqual(scan.sets.map((s) => s.id), ['800_A6_1', '89_B5_1']);
  const sizes: Record<string, number> = { '800_A6_1': 2048, '89_B5_1': 1728 };
  for (const set of scan.sets) {
    const merged = await mergeSet(set);
    assert.equal(merged.width, sizes[set.id]);
    assert.equal(merged.height, sizes[set.id]);
    const [r, g, b, y] = await Promise.all(CHANNEL_NAMES.map((c) => rgbOf(set.files[c])));
    const n = merged.width * merged.height;
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      const yellow = (y![3 * i]! + y![3 * i + 1]!) >> 1;
      const want = [Math.min(255, r![3 * i]! + (yellow >> 1)), Math.min(255, g![3 * i + 1]! + (yellow >> 1)), b![3 * i + 2]!];
      if (merged.rgb[3 * i] !== want[0] || merged.rgb[3 * i + 1] !== want[1] || merged.rgb[3 * i + 2] !== want[2]) mismatches++;
    }
    assert.equal(mismatches, 0, `${set.id}: ${mismatches} pixels differ`);
    // real signal in every output channel (not an all-black merge)
    for (let c = 0; c < 3; c++) assert.ok(merged.rgb.some((v, i) => i % 3 === c && v > 100), `${set.id} channel ${c}`);
  }
});

test('a real field merges to a 512² PNG with --size semantics', async (t) => {
  const dir = sharedData(t, 'hpa', 'fields');
  if (!dir) return;
  const set = (await discoverChannelSets(dir)).sets.find((s) => s.id === '89_B5_1')!;
  const out = path.join(scratchDir('hpa-merge-real-'), '89_B5_1.png');
  const result = await mergeSetToPng(set, out, { size: 512 });
  assert.deepEqual([result.width, result.height], [512, 512]);
  const meta = await sharp(out).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 512, 512, 3]);
});
