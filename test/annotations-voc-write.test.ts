import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { formatVocXml } from '../src/annotations/voc-write.js';

const fixture = path.join(annotationFixtures, 'voc', 'cells_001.xml');

test('formatVocXml writes LabelImg element order and TAB indent byte for byte', () => {
  assert.equal(formatVocXml(cells001), readFileSync(fixture, 'utf8'));
});

test('formatVocXml escapes markup characters in names and paths', () => {
  const xml = formatVocXml({ ...cells001, filename: 'a&b.jpg', objects: [{ ...cells001.objects[0]!, name: 'x<y>' }] });
  assert.match(xml, /<filename>a&amp;b\.jpg<\/filename>/);
  assert.match(xml, /<name>x&lt;y&gt;<\/name>/);
});

test('formatVocXml omits folder/path when unset and writes defaults for pose and flags', () => {
  const xml = formatVocXml({ filename: 'f.png', width: 2, height: 2, depth: 3, objects: [{ name: 'c', x1: 0, y1: 0, x2: 1, y2: 1 }] });
  assert.doesNotMatch(xml, /<folder>|<path>/);
  assert.match(xml, /<pose>Unspecified<\/pose>\n\t\t<truncated>0<\/truncated>\n\t\t<difficult>0<\/difficult>/);
  assert.match(xml, /<segmented>0<\/segmented>/);
});

test('formatVocXml writes a prediction score after the box', () => {
  const xml = formatVocXml({ ...cells001, objects: [{ ...cells001.objects[0]!, score: 0.875 }] });
  assert.match(xml, /<\/bndbox>\n\t\t<score>0\.875<\/score>\n\t<\/object>/);
});

test('formatVocXml refuses values it cannot write, naming file, object and field', () => {
  assert.throws(
    () => formatVocXml({ ...cells001, objects: [{ ...cells001.objects[0]!, x2: Number.NaN }] }),
    /cells_001\.jpg: object 0 bndbox\.xmax: must be a finite number/,
  );
  assert.throws(
    () => formatVocXml({ ...cells001, objects: [{ ...cells001.objects[0]!, name: 'a\u0001b' }] }),
    /cells_001\.jpg: object 0 name: contains a control character/,
  );
});
