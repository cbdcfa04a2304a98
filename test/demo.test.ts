import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runDemo } from '../src/demo/pipeline.js';
import { parseKerasCsv } from '../src/annotations/csv.js';
import { parseCocoJson } from '../src/annotations/coco.js';

test('demo: synthesizes, merges, converts and reports a consistent dataset', async () => {
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hpa-demo-'));
  try {
    const result = await runDemo({ outDir, count: 3, seed: 5, overlays: 2, progress: false, train: false });
    assert.equal(result.merge.merged, 3);
    assert.equal(result.merge.failed, 0);
    assert.deepEqual(result.annotationIssues, []);
    const cells = result.manifest.images.reduce((n, im) => n + im.cells, 0);

    // Every merged image is RGB at the synthetic size.
    for (const im of result.manifest.images) {
      const meta = await sharp(path.join(outDir, 'merged', `${im.id}.png`)).metadata();
      assert.equal(meta.width, result.manifest.width);
      assert.equal(meta.channels, 3);
    }
    // The CSV and COCO exports hold one box per synthetic cell and point at the merged images.
    const csv = parseKerasCsv(await fs.readFile(path.join(outDir, 'annotations', 'annot.txt'), 'utf8'), 'annot.txt');
    assert.equal(csv.issues.length, 0);
    const csvBoxes = csv.annotations.reduce((n, a) => n + a.objects.length, 0);
    assert.equal(csvBoxes, cells);
    for (const a of csv.annotations) {
      await fs.access(path.resolve(outDir, 'annotations', a.filename));
    }
    const coco = parseCocoJson(await fs.readFile(path.join(outDir, 'annotations', 'coco.json'), 'utf8'), 'coco.json');
    assert.equal(coco.annotations.reduce((n, a) => n + a.objects.length, 0), cells);
    // VOC layout lists every id in exactly one split.
    const main = path.join(outDir, 'annotations', 'voc', 'ImageSets', 'Main');
    const listed = (await Promise.all(['train', 'val', 'test'].map((s) => fs.readFile(path.join(main, `${s}.txt`), 'utf8').catch(() => ''))))
      .flatMap((t) => t.split('\n').filter(Boolean));
    assert.deepEqual(listed.sort(), result.manifest.images.map((im) => im.id).sort());

    // The report links the overlays it drew, and they exist.
    const html = await fs.readFile(result.report, 'utf8');
    const overlays = await fs.readdir(path.join(outDir, 'overlays'));
    assert.equal(overlays.length, 2);
    for (const f of overlays) assert.ok(html.includes(`overlays/${f}`), `report links overlays/${f}`);
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
});
