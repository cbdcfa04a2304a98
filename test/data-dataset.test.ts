/**
 * DetectionDataset: the same data as VOC, CSV and COCO gives identical samples; class ids;
 * class-mapping errors name the class and file; difficult boxes; HPA channel sets merged on the
 * fly; grey images; id subsets; and the real BCCD train split (../shared/data) with its box counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { formatVocXml } from '../src/annotations/index.js';
import { mergeSet } from '../src/hpa/merge-set.js';
import { NOT_NUCLEOLI, NUCLEOLI, synthesizeDataset } from '../src/synth/index.js';
import { ClassMap, ClassMapError } from '../src/data/class-map.js';
import { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader } from '../src/data/loader.js';
import { Rng } from '../src/util/rng.js';
import { paint, tinyAnnotations, writeTinySet } from './fixtures/data/tiny-set.js';
import { sharedData } from './helpers.js';

test('VOC, CSV and COCO of the same data give identical samples; labels 1..K from sorted names', async () => {
  const set = await writeTinySet(tinyAnnotations(5));
  const voc = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
  const csv = await DetectionDataset.load({ annotations: set.csvFile, format: 'csv' });
  const coco = await DetectionDataset.load({ annotations: set.cocoFile, format: 'coco', imageDir: set.imageDir });
  assert.deepEqual(voc.classes.names, ['cell', 'nucleus']);
  assert.equal(voc.size, 5);
  for (const d of [csv, coco]) {
    assert.deepEqual(d.ids, voc.ids);
    assert.deepEqual(d.classes.names, voc.classes.names);
    assert.deepEqual(d.report.issues, []);
  }
  for (let i = 0; i < voc.size; i++) {
    const [a, b, c] = await Promise.all([voc.get(i), csv.get(i), coco.get(i)]);
    assert.deepEqual(b, a, `csv sample ${i}`);
    assert.deepEqual(c, a, `coco sample ${i}`);
    // The decoded pixels are the written ones / 255 (to_tensor), CHW.
    const ann = set.annotations[i]!, px = paint(ann);
    assert.equal(a.image.width, ann.width);
    const plane = ann.width * ann.height;
    for (const p of [0, 7, plane - 1]) for (let ch = 0; ch < 3; ch++) assert.equal(a.image.data[ch * plane + p], Math.fround(px[p * 3 + ch]! / 255));
    assert.deepEqual([...a.target.boxes], ann.objects.flatMap((o) => [o.x1, o.y1, o.x2, o.y2]));
    assert.deepEqual([...a.target.labels], ann.objects.map((o) => (o.name === 'cell' ? 1 : 2)));
  }
  // An explicit class list fixes the order (and ids) instead.
  const listed = await DetectionDataset.load({ annotations: set.csvFile, format: 'csv', classes: ['nucleus', 'cell', 'debris'] });
  assert.deepEqual([...(await listed.get(0)).target.labels], [2, 1]);
  assert.equal(listed.classes.nameOf(3), 'debris');
  assert.equal(listed.classes.nameOf(0), '__background__');
});

test('a class missing from the class list is an error naming the class and the file (or skipped by option)', async () => {
  const set = await writeTinySet(tinyAnnotations(3));
  await assert.rejects(
    DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir, classes: ['cell'] }),
    (err: Error) => err instanceof ClassMapError && /'nucleus'/.test(err.message) && err.message.includes(path.join(set.vocDir, 'img_00.xml')),
  );
  await assert.rejects(
    DetectionDataset.load({ annotations: set.csvFile, format: 'csv', classes: ['nucleus'] }),
    (err: Error) => err instanceof ClassMapError && /'cell'/.test(err.message) && err.message.includes(`${set.csvFile}#img_00.png`),
  );
  const skipped = await DetectionDataset.load({ annotations: set.cocoFile, format: 'coco', imageDir: set.imageDir, classes: ['cell'], unknownClass: 'skip' });
  assert.deepEqual([...(await skipped.get(0)).target.labels], [1]);
  assert.equal(skipped.report.issues.filter((i) => /'nucleus'.*skipped/.test(i.message)).length, 2);
  assert.throws(() => new ClassMap(['a', 'a']), /classes\[1\].*'a'.*twice/);
});

test('difficult boxes are skipped and counted, or kept and flagged', async () => {
  const anns = tinyAnnotations(2);
  anns[0]!.objects[1]!.difficult = true;
  const set = await writeTinySet(anns);
  const skip = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
  assert.equal(skip.report.skippedDifficult, 1);
  assert.equal((await skip.get(0)).target.labels.length, 1);
  const keep = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir, difficult: 'keep' });
  assert.deepEqual([...(await keep.get(0)).target.difficult!], [0, 1]);
  assert.equal(keep.report.skippedDifficult, 0);
});

test('an image named by an HPA set id is merged from its channel files; grey images become RGB; ids subset', async () => {
  const anns = tinyAnnotations(3);
  const set = await writeTinySet(anns);
  // Channel set "field_1": four grey PNGs, annotated as field_1.png (which does not exist).
  const w = 24, h = 16;
  for (const [c, v] of [['red', 40], ['green', 90], ['blue', 10], ['yellow', 100]] as const) {
    const px = Buffer.alloc(w * h, v);
    for (let i = 0; i < w * 4; i++) px[i] = (v + i) % 256;
    await sharp(px, { raw: { width: w, height: h, channels: 1 } }).png().toFile(path.join(set.imageDir, `field_1_${c}.png`));
  }
  writeFileSync(path.join(set.vocDir, 'field_1.xml'), formatVocXml({ filename: 'field_1.png', width: w, height: h, depth: 3, objects: [{ name: 'cell', x1: 1, y1: 2, x2: 9, y2: 10 }] }));
  // A grey image file.
  await sharp(Buffer.alloc(w * h, 77), { raw: { width: w, height: h, channels: 1 } }).png().toFile(path.join(set.imageDir, 'grey.png'));
  writeFileSync(path.join(set.vocDir, 'grey.xml'), formatVocXml({ filename: 'grey.png', width: w, height: h, depth: 1, objects: [{ name: 'cell', x1: 1, y1: 1, x2: 5, y2: 5 }] }));

  const d = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir, ids: ['grey', 'field_1', 'img_01'] });
  assert.deepEqual(d.ids, ['field_1', 'grey', 'img_01']);
  assert.equal(d.records[0]!.source.kind, 'channels');
  const merged = await mergeSet({ id: 'field_1', files: Object.fromEntries(['red', 'green', 'blue', 'yellow'].map((c) => [c, path.join(set.imageDir, `field_1_${c}.png`)])) as never });
  const sample = await d.get(0);
  assert.deepEqual(sample.image.data.subarray(0, w * h), Float32Array.from({ length: w * h }, (_, i) => merged.rgb[3 * i]! / 255));
  assert.deepEqual(sample.image.data.subarray(2 * w * h), Float32Array.from({ length: w * h }, (_, i) => merged.rgb[3 * i + 2]! / 255));
  const grey = await d.get(1);
  assert.ok(grey.image.data.every((v) => v === Math.fround(77 / 255)));
  await assert.rejects(DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir, ids: ['nope'] }), /no annotation for id\(s\) nope/);
  await assert.rejects(DetectionDataset.load({ annotations: set.vocDir, format: 'voc' }), /imageDir is required/);
  await assert.rejects(d.get(3), /index must be an integer in \[0, 2\]/);
});

test('a synthetic HPA set (raw channels + VOC naming {id}.png) loads through on-the-fly merging', async () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'hpa-data-synth-'));
  try {
    const manifest = await synthesizeDataset({ outDir, count: 2, seed: 7, size: 192 });
    const d = await DetectionDataset.load({ annotations: outDir, format: 'voc', imageDir: outDir, classes: [NUCLEOLI, NOT_NUCLEOLI] });
    assert.equal(d.size, 2);
    assert.deepEqual(d.report.issues.filter((i) => i.severity === 'error'), []);
    for (let i = 0; i < d.size; i++) {
      const r = d.records[i]!;
      assert.equal(r.source.kind, 'channels', `${r.id} comes from its channel files`);
      const objects = (readFileSync(path.join(outDir, `${r.id}.xml`), 'utf8').match(/<object>/g) ?? []).length;
      assert.equal(r.target.labels.length, objects, `${r.id}: box count`);
      const s = await d.get(i);
      assert.deepEqual([s.image.width, s.image.height], [192, 192]);
      assert.ok(s.image.data.some((v) => v > 0), `${r.id}: not black`);
    }
    assert.equal(manifest.images.length, 2);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('a missing image or a size mismatch skips the image with an issue naming it', async () => {
  const anns = tinyAnnotations(3);
  const set = await writeTinySet(anns);
  writeFileSync(path.join(set.vocDir, 'ghost.xml'), formatVocXml({ filename: 'ghost.png', width: 10, height: 10, depth: 3, objects: [{ name: 'cell', x1: 1, y1: 1, x2: 5, y2: 5 }] }));
  writeFileSync(path.join(set.vocDir, 'img_01.xml'), formatVocXml({ ...anns[1]!, width: 999 }));
  const d = await DetectionDataset.load({ annotations: set.vocDir, format: 'voc', imageDir: set.imageDir });
  assert.deepEqual(d.ids, ['img_00', 'img_02']);
  assert.equal(d.report.skippedImages, 2);
  assert.ok(d.report.issues.some((i) => i.file.endsWith('ghost.xml') && /image not found: ghost\.png/.test(i.message)));
  assert.ok(d.report.issues.some((i) => i.file.endsWith('img_01.xml') && /999x34.*is 44x34/.test(i.message)));
});

test('BCCD train.txt: every image is found with its box count (zero-size boxes dropped); a subset decodes', async (t) => {
  const root = sharedData(t, 'bccd');
  if (!root) return;
  const ids = readFileSync(path.join(root, 'train.txt'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
  const d = await DetectionDataset.load({ annotations: path.join(root, 'Annotations'), format: 'voc', imageDir: path.join(root, 'JPEGImages'), ids, classes: ['RBC', 'WBC', 'Platelets'] });
  assert.equal(d.size, ids.length);
  assert.equal(d.report.skippedImages, 0);
  const degenerate = new Set(['BloodImage_00338', 'BloodImage_00343']);
  for (const r of d.records) {
    const xml: string = readFileSync(path.join(root, 'Annotations', `${r.id}.xml`), 'utf8');
    const objects: number = (xml.match(/<object>/g) ?? []).length - (degenerate.has(r.id) ? 1 : 0);
    assert.equal(r.target.labels.length, objects, `${r.id}: box count`);
    assert.deepEqual([r.width, r.height], [640, 480], r.id);
  }
  const errors = d.report.issues.filter((i) => i.severity === 'error');
  assert.ok(errors.every((i) => [...degenerate].some((id) => i.file.includes(id))), 'only the known zero-size boxes are errors');
  // A loader run over a subset (about 10 ms a 640x480 JPEG here): every image decoded, boxes as annotated.
  const loader = new DetectionLoader(d, { batchSize: 8, shuffle: false });
  for (let step = 0; step < 3; step++) {
    const b = await loader.next(step, { shuffle: new Rng(1), augment: new Rng(2) });
    b.images.forEach((im, i) => {
      assert.equal(im.data.length, 3 * 640 * 480);
      assert.deepEqual(b.targets[i], d.records[b.indices[i]!]!.target, `${b.ids[i]}: target`);
    });
  }
});
