import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cells001 } from './fixtures/annotations/models.js';
import { categoryNames, formatCocoJson, fromCoco, parseCocoJson, toCoco } from '../src/annotations/coco.js';
import type { ImageAnnotation } from '../src/annotations/model.js';

const second: ImageAnnotation = {
  filename: 'b.png', width: 512, height: 512, depth: 3,
  objects: [{ name: 'Golgi', x1: 10, y1: 20, x2: 40.5, y2: 60, score: 0.25 }, { name: 'Nucleoli', x1: 0, y1: 0, x2: 1, y2: 1 }],
};

test('toCoco writes [x,y,w,h] boxes, area, iscrowd 0, 1-based ids, sorted categories', () => {
  const coco = toCoco([cells001, second], { dateCreated: '2026-01-01' });
  assert.deepEqual(coco.categories.map((c) => [c.id, c.name]), [[1, 'Golgi'], [2, 'Not Nucleoli'], [3, 'Nucleoli']]);
  assert.deepEqual(coco.images.map((i) => [i.id, i.file_name, i.width, i.height]), [[1, 'cells_001.jpg', 640, 480], [2, 'b.png', 512, 512]]);
  const a = coco.annotations[1]!;
  assert.deepEqual([a.id, a.image_id, a.category_id, a.bbox, a.area, a.iscrowd], [2, 1, 2, [555.5, 356, 84.5, 99.25], 84.5 * 99.25, 0]);
  assert.equal(coco.annotations[2]!.score, 0.25);
  assert.equal(coco.info.date_created, '2026-01-01');
});

test('category ids follow the given class list, then unseen-in-list classes sorted', () => {
  assert.deepEqual(categoryNames([cells001, second], ['Nucleoli', 'Not Nucleoli']), ['Nucleoli', 'Not Nucleoli', 'Golgi']);
  const coco = toCoco([second], { classes: ['Nucleoli', 'Not Nucleoli', 'Golgi'] });
  assert.deepEqual(coco.annotations.map((a) => a.category_id), [3, 1]);
});

test('COCO round trip: model -> JSON text -> model is identical (VOC extras and scores kept)', () => {
  const text = formatCocoJson(toCoco([cells001, second]));
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(toCoco([cells001, second], { dateCreated: JSON.parse(text).info.date_created }))));
  const back = parseCocoJson(text, 'c.json');
  assert.deepEqual(back.issues, []);
  assert.deepEqual(back.annotations, [cells001, second]);
  const verified = { ...cells001, verified: true };
  assert.deepEqual(parseCocoJson(formatCocoJson(toCoco([verified])), 'c.json').annotations, [verified]);
});

test('plain COCO (no voc extras) imports; crowd boxes become difficult with a warning', () => {
  const r = fromCoco({
    images: [{ id: 7, file_name: 'x.jpg', width: 10, height: 10 }],
    categories: [{ id: 3, name: 'cell' }],
    annotations: [{ id: 1, image_id: 7, category_id: 3, bbox: [1, 2, 3, 4], iscrowd: 1 }],
  }, 'c.json');
  assert.deepEqual(r.annotations, [{ filename: 'x.jpg', width: 10, height: 10, depth: 3, objects: [{ name: 'cell', x1: 1, y1: 2, x2: 4, y2: 6, difficult: true }] }]);
  assert.deepEqual(r.issues.map((i) => [i.field, i.severity]), [['annotations[0].iscrowd', 'warning']]);
});

test('every bad COCO entry is reported by index and id and the rest imported', () => {
  const r = fromCoco({
    images: [{ id: 1, file_name: 'a.jpg', width: 5, height: 5 }, { id: 1, file_name: 'dup.jpg' }, { file_name: 'noid.jpg' }],
    categories: [{ id: 1, name: 'cell' }, { id: 2 }],
    annotations: [
      { id: 10, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] },
      { id: 11, image_id: 9, category_id: 1, bbox: [0, 0, 1, 1] },
      { id: 12, image_id: 1, category_id: 5, bbox: [0, 0, 1, 1] },
      { id: 13, image_id: 1, category_id: 1, bbox: [0, 'a', 1, 1] },
      { id: 14, image_id: 1, category_id: 1, bbox: [0, 0, 1] },
      42,
    ],
  }, 'c.json');
  assert.deepEqual(r.issues.map((i) => i.field), [
    'categories[1]', 'images[1]', 'images[2]',
    'annotations[1].image_id', 'annotations[2].category_id', 'annotations[3].bbox', 'annotations[4].bbox', 'annotations[5]',
  ]);
  assert.ok(r.issues.every((i) => i.file === 'c.json' && i.severity === 'error'));
  assert.match(r.issues[3]!.message, /annotation 11: unknown image_id 9/);
  assert.equal(r.annotations.length, 1);
  assert.equal(r.annotations[0]!.objects.length, 1);
});

test('non-JSON and non-COCO documents are one clear error each', () => {
  assert.match(parseCocoJson('{"images": [', 'c.json').issues[0]!.message, /not valid JSON/);
  assert.deepEqual(fromCoco([], 'c.json').issues.map((i) => i.field), ['(root)']);
  assert.deepEqual(fromCoco({}, 'c.json').issues.map((i) => `${i.field} ${i.message}`), ['categories missing', 'images missing', 'annotations missing']);
});
