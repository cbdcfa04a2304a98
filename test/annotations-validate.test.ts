import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sharedData } from './helpers.js';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { validateAnnotation } from '../src/annotations/validate.js';
import { loadVocDataset } from '../src/annotations/dataset.js';
import { readVocFile } from '../src/annotations/voc-read.js';
import type { BoxObject, ImageAnnotation } from '../src/annotations/model.js';

const box = (x1: number, y1: number, x2: number, y2: number, name = 'Nucleoli'): BoxObject => ({ name, x1, y1, x2, y2 });
const image = (...objects: BoxObject[]): ImageAnnotation => ({ filename: 'img.jpg', width: 100, height: 50, depth: 3, objects });
const summary = (issues: { objectIndex?: number; field?: string; severity: string }[]) =>
  issues.map((i) => `${i.objectIndex ?? '-'}:${i.field}:${i.severity}`);

test('a clean annotation passes unchanged with no issues', () => {
  const r = validateAnnotation(cells001, 'c.xml', { classes: ['Nucleoli', 'Not Nucleoli'] });
  assert.deepEqual(r, { annotation: cells001, issues: [] });
});

test('zero and negative area boxes are dropped with an error naming file and object', () => {
  const r = validateAnnotation(image(box(1, 1, 5, 5), box(3, 3, 3, 3), box(9, 2, 4, 8)), 'a.xml');
  assert.deepEqual(summary(r.issues), ['1:bndbox:error', '2:bndbox:error']);
  assert.equal(r.issues[0]!.file, 'a.xml');
  assert.match(r.issues[0]!.message, /\[3, 3, 3, 3\] has zero or negative area/);
  assert.deepEqual(r.annotation!.objects, [box(1, 1, 5, 5)]);
});

test('outside boxes: clipped (default, warning), rejected (error), or kept (warning)', () => {
  const a = image(box(-4, 10, 20, 60), box(0, 0, 100, 50), box(120, 10, 130, 20));
  const clip = validateAnnotation(a, 'a.xml');
  assert.deepEqual(summary(clip.issues), ['0:bndbox:warning', '2:bndbox:error']);
  assert.deepEqual(clip.annotation!.objects, [box(0, 10, 20, 50), box(0, 0, 100, 50)]);
  assert.match(clip.issues[1]!.message, /entirely outside/);
  const reject = validateAnnotation(a, 'a.xml', { outside: 'reject' });
  assert.deepEqual(summary(reject.issues), ['0:bndbox:error', '2:bndbox:error']);
  assert.deepEqual(reject.annotation!.objects, [box(0, 0, 100, 50)]);
  const keep = validateAnnotation(a, 'a.xml', { outside: 'keep' });
  assert.deepEqual(summary(keep.issues), ['0:bndbox:warning', '2:bndbox:warning']);
  assert.deepEqual(keep.annotation!.objects, a.objects);
});

test('non-numeric coordinates and unknown classes are dropped with errors', () => {
  const r = validateAnnotation(image(box(Number.NaN, 1, 5, 5), box(1, 1, 5, 5, 'Golgi'), box(1, 1, 5, 5)), 'a.xml', { classes: ['Nucleoli'] });
  assert.deepEqual(summary(r.issues), ['0:x1:error', '1:name:error']);
  assert.match(r.issues[1]!.message, /unknown class 'Golgi' \(allowed: Nucleoli\)/);
  assert.equal(r.annotation!.objects.length, 1);
});

test('missing size or missing image file makes the file unusable', () => {
  const noSize = validateAnnotation({ ...image(box(1, 1, 2, 2)), width: 0 }, 'a.xml');
  assert.equal(noSize.annotation, undefined);
  assert.deepEqual(summary(noSize.issues), ['-:size:error']);
  const noImage = validateAnnotation(image(), 'a.xml', { imageDir: annotationFixtures });
  assert.equal(noImage.annotation, undefined);
  assert.match(noImage.issues[0]!.message, /image file not found: .*img\.jpg/);
  const present = validateAnnotation({ ...image(), filename: 'voc/cells_001.xml' }, 'a.xml', { imageDir: annotationFixtures });
  assert.deepEqual(present.issues, []);
});

test('a folder with bad files loads the good ones and names each bad file', async () => {
  const d = await loadVocDataset(path.join(annotationFixtures, 'mixed'));
  assert.deepEqual(d.items.map((i) => i.id), ['badcoord', 'good_a', 'good_b']);
  assert.deepEqual(d.failedFiles.map((f) => path.basename(f)), ['broken.xml']);
  assert.deepEqual(d.filesWithErrors.map((f) => path.basename(f)), ['badcoord.xml', 'broken.xml']);
  assert.equal(d.items[0]!.annotation.objects.length, 1); // badcoord lost object 0
  assert.equal(d.items[2]!.annotation.objects[0]!.x1, 0); // good_b's xmin -5 clipped
  assert.deepEqual(d.issues.map((i) => `${path.basename(i.file)}:${i.objectIndex ?? '-'}:${i.field}:${i.severity}`), [
    'badcoord.xml:0:bndbox.ymax:error',
    'broken.xml:-:undefined:error',
    'good_b.xml:0:bndbox:warning',
  ]);
});

test('BCCD: every XML parses, exact per-class counts, the two zero-area boxes reported', async (t) => {
  const dir = sharedData(t, 'bccd', 'Annotations');
  if (!dir) return;
  const expected = JSON.parse(readFileSync(path.join(annotationFixtures, 'bccd-counts.json'), 'utf8')) as {
    files: number; objects: number; classes: Record<string, number>; degenerate: { file: string; objectIndex: number }[];
  };
  const d = await loadVocDataset(dir, { outside: 'keep' });
  assert.equal(d.items.length, expected.files);
  assert.deepEqual(d.failedFiles, []);
  const errors = d.issues.filter((i) => i.severity === 'error');
  assert.deepEqual(
    errors.map((i) => ({ file: path.basename(i.file), objectIndex: i.objectIndex })),
    expected.degenerate.map(({ file, objectIndex }) => ({ file, objectIndex })),
  );
  assert.ok(errors.every((i) => /zero or negative area/.test(i.message)));
  // Per-class counts as read (before validation drops the degenerate boxes).
  const counts: Record<string, number> = {};
  for (const item of d.items) {
    const read = await readVocFile(item.source);
    assert.deepEqual(read.issues, [], item.source);
    for (const o of read.annotation!.objects) counts[o.name] = (counts[o.name] ?? 0) + 1;
  }
  assert.deepEqual(counts, expected.classes);
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), expected.objects);
});
