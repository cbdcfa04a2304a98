import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { checkAgainstImage } from '../src/annotations/image-check.js';
import { loadVocDataset } from '../src/annotations/dataset.js';

async function withImages(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ann-img-'));
  try {
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000' } }).jpeg().toFile(path.join(dir, 'cells_001.jpg'));
    writeFileSync(path.join(dir, 'corrupt.jpg'), 'not a jpeg');
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an unknown size is taken from the image; a different size is a warning', () => withImages(async (dir) => {
  const filled = await checkAgainstImage({ ...cells001, width: 0, height: 0 }, dir, 'a.xml');
  assert.deepEqual([filled.annotation!.width, filled.annotation!.height, filled.annotation!.depth], [64, 48, 3]);
  assert.deepEqual(filled.issues.map((i) => [i.field, i.severity]), [['size', 'warning']]);
  const differs = await checkAgainstImage(cells001, dir, 'a.xml');
  assert.equal(differs.annotation, cells001);
  assert.match(differs.issues[0]!.message, /says 640x480 but .*cells_001\.jpg is 64x48/);
}));

test('a missing or corrupt image file is an error naming the annotation and the image', () => withImages(async (dir) => {
  const missing = await checkAgainstImage({ ...cells001, filename: 'gone.jpg' }, dir, 'a.xml');
  assert.equal(missing.annotation, undefined);
  assert.deepEqual(missing.issues.map((i) => [i.file, i.field, i.severity]), [['a.xml', 'filename', 'error']]);
  assert.match(missing.issues[0]!.message, /image file not found: .*gone\.jpg/);
  const corrupt = await checkAgainstImage({ ...cells001, filename: 'corrupt.jpg' }, dir, 'a.xml');
  assert.equal(corrupt.annotation, undefined);
  assert.match(corrupt.issues[0]!.message, /cannot read image: .*corrupt\.jpg/);
}));

test('loadVocDataset with an image folder fills a missing size, then validates against it', () => withImages(async (dir) => {
  const xml = readFileSync(path.join(annotationFixtures, 'voc', 'cells_001.xml'), 'utf8').replace(/\t<size>[\s\S]*<\/size>\n/, '');
  const annDir = path.join(dir, 'ann');
  await import('node:fs/promises').then((fs) => fs.mkdir(annDir));
  writeFileSync(path.join(annDir, 'cells_001.xml'), xml);
  copyFileSync(path.join(annotationFixtures, 'voc', 'cells_001.xml'), path.join(annDir, 'other.xml'));
  const without = await loadVocDataset(annDir);
  assert.deepEqual(without.failedFiles.map((f) => path.basename(f)), ['cells_001.xml']);
  const d = await loadVocDataset(annDir, { imageDir: dir });
  assert.deepEqual(d.failedFiles, []);
  const item = d.items.find((i) => i.id === 'cells_001')!;
  assert.deepEqual([item.annotation.width, item.annotation.height], [64, 48]);
  // Both boxes lie outside a 64x48 image: clipping leaves nothing, so both are errors.
  assert.equal(item.annotation.objects.length, 0);
}));
