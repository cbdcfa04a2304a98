// Channel-set discovery (names, extensions, ambiguous and incomplete sets) and --size geometry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { discoverChannelSets, parseChannelFileName } from '../src/hpa/channels.js';
import { fitLongerSide } from '../src/hpa/merge-set.js';
import { TEMP_PREFIX } from '../src/util/atomic.js';
import { scratchDir } from './helpers.js';

test('parseChannelFileName: id may contain underscores, extension any case, channel lower case', () => {
  assert.deepEqual(parseChannelFileName('800_A6_1_yellow.jpg'), { id: '800_A6_1', channel: 'yellow' });
  assert.deepEqual(parseChannelFileName('abc_red.TIFF'), { id: 'abc', channel: 'red' });
  assert.equal(parseChannelFileName('abc_RED.png'), undefined);
  assert.equal(parseChannelFileName('abc_red.gif'), undefined);
  assert.equal(parseChannelFileName('_red.png'), undefined);
  assert.equal(parseChannelFileName('abc_purple.png'), undefined);
});

test('discovery: complete, missing and ambiguous sets; temp files and folders ignored', async () => {
  const dir = scratchDir('hpa-channels-');
  const touch = (n: string) => writeFileSync(path.join(dir, n), 'x');
  for (const c of ['red', 'green', 'blue', 'yellow']) touch(`a_${c}.png`);
  for (const c of ['red', 'green', 'yellow']) touch(`b_${c}.jpg`);
  for (const c of ['red', 'green', 'blue', 'yellow']) touch(`c_${c}.tif`);
  touch('c_red.png');
  touch(`${TEMP_PREFIX}123-d_red.png`);
  mkdirSync(path.join(dir, 'e_red.png'));
  const scan = await discoverChannelSets(dir);
  assert.deepEqual(scan.sets.map((s) => s.id), ['a']);
  assert.equal(scan.sets[0]!.files.blue, path.join(dir, 'a_blue.png'));
  assert.deepEqual(scan.incomplete.map((s) => [s.id, s.kind]), [['b', 'missing-channel'], ['c', 'ambiguous-channel']]);
  assert.deepEqual(scan.incomplete[0]!.missing, ['blue']);
  assert.match(scan.incomplete[1]!.reason, /c_red\.png, c_red\.tif/);
  await assert.rejects(discoverChannelSets(path.join(dir, 'nope')), /cannot list channel folder .*nope/);
});

test('fitLongerSide keeps the aspect ratio and validates size', () => {
  assert.deepEqual(fitLongerSide(2048, 2048, 512), { width: 512, height: 512 });
  assert.deepEqual(fitLongerSide(300, 200, 150), { width: 150, height: 100 });
  assert.deepEqual(fitLongerSide(200, 301, 100), { width: 66, height: 100 });
  assert.deepEqual(fitLongerSide(1000, 1, 10), { width: 10, height: 1 });
  assert.throws(() => fitLongerSide(10, 10, 0), RangeError);
  assert.throws(() => fitLongerSide(10, 10, 1.5), /size must be a positive integer/);
});
