import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cells001 } from './fixtures/annotations/models.js';
import { splitIds, writeSplit } from '../src/annotations/split.js';
import { computeStats, formatStatsTable, sizeBin } from '../src/annotations/stats.js';
import { vocId, writeVocLayout } from '../src/annotations/voc-layout.js';
import { parseVocXml } from '../src/annotations/voc-read.js';

const ids = Array.from({ length: 100 }, (_, i) => `img_${String(i).padStart(3, '0')}`);

test('splitIds partitions the ids with the requested sizes', () => {
  const s = splitIds(ids, { seed: 7, val: 0.2, test: 0.1 });
  assert.deepEqual([s.train.length, s.val.length, s.test.length], [70, 20, 10]);
  assert.deepEqual([...s.train, ...s.val, ...s.test].sort(), ids);
});

test('splitIds is deterministic per seed, independent of input order, different across seeds', () => {
  const a = splitIds(ids, { seed: 7, val: 0.2, test: 0.1 });
  assert.deepEqual(splitIds(ids.slice().reverse(), { seed: 7, val: 0.2, test: 0.1 }), a);
  assert.notDeepEqual(splitIds(ids, { seed: 8, val: 0.2, test: 0.1 }).val, a.val);
  // Pinned: guards against an accidental change of the shuffle (users' splits must stay put).
  assert.deepEqual(splitIds('abcdefghij'.split(''), { seed: 1, val: 0.2, test: 0.2 }), {
    test: ['a', 'j'],
    val: ['b', 'i'],
    train: ['c', 'd', 'e', 'f', 'g', 'h'],
  });
});

test('splitIds rejects bad fractions and seeds naming the argument', () => {
  assert.throws(() => splitIds(ids, { seed: 1, val: 0.7, test: 0.4 }), /val \+ test must be <= 1/);
  assert.throws(() => splitIds(ids, { seed: 1, val: -0.1, test: 0 }), RangeError);
  assert.throws(() => splitIds(ids, { seed: 1, val: Number.NaN, test: 0 }), /val must be a number/);
  assert.throws(() => splitIds(ids, { seed: 1.5, val: 0.1, test: 0 }), /seed must be an integer/);
});

test('writeSplit writes one id per line per list', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'split-'));
  try {
    await writeSplit(dir, { train: ['a', 'c'], val: ['b'], test: [] });
    assert.equal(readFileSync(path.join(dir, 'train.txt'), 'utf8'), 'a\nc\n');
    assert.equal(readFileSync(path.join(dir, 'test.txt'), 'utf8'), '');
    assert.equal(readFileSync(path.join(dir, 'trainval.txt'), 'utf8'), 'a\nb\nc\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('computeStats counts boxes and images per class and bins sizes by sqrt(area)', () => {
  assert.deepEqual([sizeBin(0, 0), sizeBin(15, 16), sizeBin(16, 16), sizeBin(100, 100), sizeBin(600, 600)], [0, 0, 1, 3, 6]);
  const s = computeStats([cells001, { ...cells001, filename: 'b.jpg', objects: [cells001.objects[0]!] }, { ...cells001, objects: [] }]);
  assert.deepEqual([s.images, s.imagesWithoutBoxes, s.boxes], [3, 1, 3]);
  assert.deepEqual(s.classes.map((c) => [c.name, c.boxes, c.images, c.meanWidth]), [['Not Nucleoli', 1, 1, 84.5], ['Nucleoli', 2, 2, 231]]);
  assert.deepEqual(s.sizeHistogram, [0, 0, 0, 1, 2, 0, 0]);
  const table = formatStatsTable(s);
  assert.match(table, /^3 images \(1 without boxes\), 3 boxes, 2 classes/);
  assert.match(table, /Nucleoli\s+2\s+2\s+231\.0\s+199\.0/);
  assert.match(table, /128-256 px  2  #{40}/);
});

test('writeVocLayout writes Annotations, JPEGImages and ImageSets/Main', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'voc-'));
  try {
    const images = path.join(dir, 'images');
    const out = path.join(dir, 'out');
    await import('node:fs/promises').then((fs) => fs.mkdir(images));
    writeFileSync(path.join(images, 'cells_001.jpg'), 'fake jpeg');
    const missing = { ...cells001, filename: 'gone.jpg' };
    const dup = { ...cells001, filename: 'cells_001.png' };
    const r = await writeVocLayout(out, [cells001, missing, dup], { imageDir: images, split: { seed: 0, val: 0, test: 0 } });
    assert.deepEqual(r.ids, ['cells_001', 'gone']);
    assert.deepEqual(r.issues.map((i) => [i.file, i.severity]), [['gone.jpg', 'error'], ['cells_001.png', 'error']]);
    assert.deepEqual(readdirSync(path.join(out, 'Annotations')), ['cells_001.xml', 'gone.xml']);
    assert.deepEqual(parseVocXml(readFileSync(path.join(out, 'Annotations', 'cells_001.xml'), 'utf8'), 'x').annotation, cells001);
    assert.equal(readFileSync(path.join(out, 'JPEGImages', 'cells_001.jpg'), 'utf8'), 'fake jpeg');
    assert.equal(readFileSync(path.join(out, 'ImageSets', 'Main', 'train.txt'), 'utf8'), 'cells_001\ngone\n');
    await writeVocLayout(out, [cells001], { imageDir: images, link: true });
    assert.ok(lstatSync(path.join(out, 'JPEGImages', 'cells_001.jpg')).isSymbolicLink());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vocId strips folders and the extension', () => {
  assert.equal(vocId({ ...cells001, filename: 'a/b\\c.d.jpg' }), 'c.d');
});
