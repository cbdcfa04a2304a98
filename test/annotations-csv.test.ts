import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { formatKerasCsv, parseKerasCsv, splitCsvLine } from '../src/annotations/csv.js';

const csvDir = path.join(annotationFixtures, 'csv');

test('formatKerasCsv writes filepath,x1,y1,x2,y2,class_name per box, no header', () => {
  assert.equal(
    formatKerasCsv([cells001], { imagePrefix: 'JPEGImages' }),
    'JPEGImages/cells_001.jpg,260,177,491,376,Nucleoli\nJPEGImages/cells_001.jpg,555.5,356,640,455.25,Not Nucleoli\n',
  );
  assert.equal(formatKerasCsv([cells001], { round: true }).split('\n')[1], 'cells_001.jpg,556,356,640,455,Not Nucleoli');
});

test('CSV round trip: file -> model -> file is identical (quoted path, empty image, floats)', () => {
  const text = readFileSync(path.join(csvDir, 'annot.txt'), 'utf8');
  const r = parseKerasCsv(text, 'annot.txt');
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.annotations.map((a) => [a.filename, a.objects.length]), [
    ['JPEGImages/cells_001.jpg', 2],
    ['JPEGImages/a,b "c".jpg', 1],
    ['JPEGImages/empty.jpg', 0],
  ]);
  assert.deepEqual(r.annotations[0]!.objects[1], { name: 'Not Nucleoli', x1: 555.5, y1: 356, x2: 640, y2: 455.25 });
  // The box-less image has no line in keras-frcnn's format; everything else comes back verbatim.
  assert.equal(formatKerasCsv(r.annotations), text.replace('JPEGImages/empty.jpg,,,,,\n', ''));
});

test('CSV round trip: model -> CSV -> model keeps names and boxes', () => {
  const back = parseKerasCsv(formatKerasCsv([cells001]), 'x.csv');
  assert.deepEqual(back.annotations[0]!.objects, cells001.objects.map(({ name, x1, y1, x2, y2 }) => ({ name, x1, y1, x2, y2 })));
});

test('every bad CSV line is reported with its line number and the good lines are read', () => {
  const r = parseKerasCsv(readFileSync(path.join(csvDir, 'bad.txt'), 'utf8'), 'bad.txt');
  assert.deepEqual(r.issues.map((i) => [i.file, i.line, i.field ?? '-']), [
    ['bad.txt', 1, '-'],
    ['bad.txt', 3, '-'],
    ['bad.txt', 4, 'y1'],
    ['bad.txt', 5, '-'],
    ['bad.txt', 6, 'class_name'],
    ['bad.txt', 7, 'filepath'],
    ['bad.txt', 8, 'x1'],
  ]);
  const messages = r.issues.map((i) => i.message);
  assert.match(messages[0]!, /looks like a header/);
  assert.match(messages[1]!, /expected 6 fields .* found 4/);
  assert.match(messages[2]!, /y1 is not a number: 'two'/);
  assert.match(messages[3]!, /unterminated quoted field/);
  assert.deepEqual(r.annotations.map((a) => [a.filename, a.objects.map((o) => o.name)]), [['img1.jpg', ['RBC', 'WBC']]]);
});

test('splitCsvLine handles quotes, escaped quotes and empty fields', () => {
  assert.deepEqual(splitCsvLine('a,"b,c","d""e",,f'), ['a', 'b,c', 'd"e', '', 'f']);
  assert.equal(splitCsvLine('"open,1'), undefined);
});

test('formatKerasCsv refuses values it cannot write, naming file and object', () => {
  assert.throws(() => formatKerasCsv([{ ...cells001, objects: [{ ...cells001.objects[0]!, y2: Infinity }] }]), /cells_001\.jpg: object 0 y2: must be a finite number/);
  assert.throws(() => formatKerasCsv([{ ...cells001, objects: [{ ...cells001.objects[0]!, name: 'a\nb' }] }]), /object 0 name: contains a line break/);
});
