import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasPythonModules, need, repoRoot, scratchDir, sharedData, systemPython } from './helpers.js';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { parseKerasCsv } from '../src/annotations/csv.js';
import { parseCocoJson } from '../src/annotations/coco.js';
import { parseVocXml } from '../src/annotations/voc-read.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
// Run from a scratch folder so that a relative OUT can never litter the repository.
const scratch = scratchDir('ann-cli-cwd-');

/** Run `hpa-detect annotations ...args` (async, so that independent runs overlap). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'annotations', ...args], { cwd: scratch });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const voc = path.join(annotationFixtures, 'voc');
const mixed = path.join(annotationFixtures, 'mixed');

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ann-cli-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The cases are independent (own temp folders): run them side by side, each spawns the CLI.
describe('hpa-detect annotations', { concurrency: 4 }, () => {
  test('convert --to csv writes annot.txt (creating its folder) and exits 0 on clean input', () => withTemp(async (dir) => {
    const out = path.join(dir, 'new', 'annot.txt');
    const r = await run(['convert', voc, out, '--to', 'csv', '--image-prefix', 'imgs']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /fractional; keras-frcnn .* add --round/);
    assert.equal(readFileSync(out, 'utf8').split('\n')[0], 'imgs/cells_001.jpg,260,177,491,376,Nucleoli');
  }));

  test('convert a folder with bad files: the rest is converted, exit 1, each bad file named', () => withTemp(async (dir) => {
    const out = path.join(dir, 'coco.json');
    const r = await run(['convert', mixed, out, '--to', 'coco']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /broken\.xml: not well-formed XML \(line 4/);
    assert.match(r.stderr, /badcoord\.xml: object 0 \(bndbox\.ymax\) not a number: 'abc'/);
    assert.match(r.stderr, /2 file\(s\) had errors \(the rest was converted\): .*badcoord\.xml, .*broken\.xml/);
    const back = parseCocoJson(readFileSync(out, 'utf8'), out);
    assert.deepEqual(back.issues, []);
    assert.deepEqual(back.annotations.map((a) => [a.filename, a.objects.length]), [['cells_003.jpg', 1], ['cells_001.jpg', 2], ['cells_002.jpg', 2]]);
  }));

  test('--reject-outside drops the outside box as an error; --classes rejects unknown classes', () => withTemp(async (dir) => {
    const out = path.join(dir, 'a.csv');
    const r = await run(['convert', path.join(mixed, 'good_b.xml'), out, '--to', 'csv', '--reject-outside']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /good_b\.xml: object 0 \(bndbox\) 'Nucleoli' box \[-5, 177, 491, 376\] reaches outside/);
    assert.equal(parseKerasCsv(readFileSync(out, 'utf8'), out).annotations[0]!.objects.length, 1);
    const c = await run(['convert', voc, out, '--to', 'csv', '--classes', 'Nucleoli']);
    assert.equal(c.status, 1);
    assert.match(c.stderr, /cells_001\.xml: object 1 \(name\) unknown class 'Not Nucleoli'/);
  }));

  test('convert --to voc writes the layout; --json summary on stdout', () => withTemp(async (dir) => {
    const out = path.join(dir, 'voc');
    const r = await run(['convert', voc, out, '--to', 'voc', '--json', '--val', '0', '--test', '0']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual([summary.images, summary.boxes, summary.errors], [1, 2, 0]);
    assert.equal(readFileSync(path.join(out, 'Annotations', 'cells_001.xml'), 'utf8'), readFileSync(path.join(voc, 'cells_001.xml'), 'utf8'));
    assert.equal(readFileSync(path.join(out, 'ImageSets', 'Main', 'train.txt'), 'utf8'), 'cells_001\n');
  }));

  test('COCO back to CSV through --from coco', () => withTemp(async (dir) => {
    const coco = path.join(dir, 'c.json');
    assert.equal((await run(['convert', voc, coco, '--to', 'coco'])).status, 0);
    const csv = path.join(dir, 'a.csv');
    const r = await run(['convert', coco, csv, '--from', 'coco', '--to', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(parseKerasCsv(readFileSync(csv, 'utf8'), csv).annotations[0]!.objects.map((o) => o.name), cells001.objects.map((o) => o.name));
  }));

  test('usage errors exit 2 and write nothing; a missing input exits 1 naming it', async () => {
    const usage = await Promise.all([
      ['convert', voc, 'x.csv', '--to', 'csv', '--clip', '--reject-outside'],
      ['convert', voc, 'x.csv', '--to', 'yaml'],
      ['convert', voc, 'x', '--to', 'voc', '--val', '1.5'],
      ['convert', voc, 'x.csv'],
      ['split', voc],
      ['split', voc, '--out', 'x', '--seed', '1.5'],
    ].map((args) => run(args)));
    assert.deepEqual(usage.map((r) => r.status), [2, 2, 2, 2, 2, 2]);
    assert.deepEqual(readdirSync(scratch), []);
    const [missing, empty] = await Promise.all([
      run(['stats', path.join(annotationFixtures, 'nope')]),
      run(['convert', path.join(annotationFixtures, 'csv'), 'x.csv', '--to', 'csv']),
    ]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read .*nope \(ENOENT\)/);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /no \.xml files in .*csv/);
  });

  test('converting onto the input itself is refused (exit 2), files untouched', () => withTemp(async (dir) => {
    const ann = path.join(dir, 'Annotations');
    const file = path.join(ann, 'cells_001.xml');
    mkdirSync(ann);
    writeFileSync(file, readFileSync(path.join(voc, 'cells_001.xml'), 'utf8').replace('<xmin>260<', '<xmin>-5<'));
    const before = readFileSync(file, 'utf8');
    for (const args of [[ann, dir, '--to', 'voc'], [file, file, '--to', 'csv']]) {
      const r = await run(['convert', ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /would overwrite the input/);
    }
    assert.equal(readFileSync(file, 'utf8'), before);
  }));

  test('stats --json counts the fixture; split via CLI is deterministic per seed', () => withTemp(async (dir) => {
    const s = await run(['stats', voc, '--json']);
    assert.equal(s.status, 0, s.stderr);
    const stats = JSON.parse(s.stdout);
    assert.deepEqual(stats.classes.map((c: { name: string; boxes: number }) => [c.name, c.boxes]), [['Not Nucleoli', 1], ['Nucleoli', 1]]);
    const [a] = await Promise.all([
      run(['split', mixed, '--out', path.join(dir, 'a'), '--seed', '3', '--val', '0.34', '--test', '0.34', '--json']),
      run(['split', mixed, '--out', path.join(dir, 'b'), '--seed', '3', '--val', '0.34', '--test', '0.34']),
    ]);
    assert.equal(a.status, 1); // broken.xml cannot be read: reported, in no list
    assert.match(a.stderr, /broken\.xml/);
    assert.equal(readFileSync(path.join(dir, 'a', 'val.txt'), 'utf8'), readFileSync(path.join(dir, 'b', 'val.txt'), 'utf8'));
    const lists = JSON.parse(a.stdout);
    assert.deepEqual([...lists.train, ...lists.val, ...lists.test].sort(), ['badcoord', 'good_a', 'good_b']);
    assert.ok(existsSync(path.join(dir, 'a', 'trainval.txt')));
  }));

  test('BCCD via CLI: stats exact counts; convert names the two zero-area boxes and keeps 3941', (t) => withTemp(async (dir) => {
    const ann = sharedData(t, 'bccd', 'Annotations');
    if (!ann) return;
    const expected = JSON.parse(readFileSync(path.join(annotationFixtures, 'bccd-counts.json'), 'utf8'));
    const s = await run(['stats', ann, '--json']);
    assert.equal(s.status, 0, s.stderr);
    const stats = JSON.parse(s.stdout);
    assert.deepEqual(Object.fromEntries(stats.classes.map((c: { name: string; boxes: number }) => [c.name, c.boxes])), expected.classes);
    assert.equal(stats.degenerateBoxes, expected.degenerate.length);
    const out = path.join(dir, 'annot.txt');
    const r = await run(['convert', ann, out, '--to', 'csv']);
    assert.equal(r.status, 1);
    for (const d of expected.degenerate) assert.match(r.stderr, new RegExp(`${d.file}: object ${d.objectIndex} \\(bndbox\\).*zero or negative area`));
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, expected.objects - expected.degenerate.length);
  }));

  test('BCCD to CSV, COCO and back to VOC reads back in independent Python readers (keras-frcnn, LabelImg rules)', (t) => withTemp(async (dir) => {
    const bccd = sharedData(t, 'bccd');
    if (!bccd) return;
    if (!need(t, hasPythonModules(['json']), `${systemPython} not found`)) return;
    const csv = path.join(dir, 'annot.txt');
    const coco = path.join(dir, 'coco.json');
    await Promise.all([
      run(['convert', path.join(bccd, 'Annotations'), csv, '--to', 'csv', '--round', '--images', path.join(bccd, 'JPEGImages')]),
      run(['convert', path.join(bccd, 'Annotations'), coco, '--to', 'coco', '--classes', 'RBC,WBC,Platelets']),
    ]);
    const vocOut = path.join(dir, 'voc');
    await run(['convert', coco, vocOut, '--from', 'coco', '--to', 'voc']);
    const script = path.join(repoRoot, 'scripts', 'annotation_interop_check.py');
    const py = spawnSync(systemPython, [script, '--csv', csv, '--check-files', '--coco', coco, '--voc', path.join(vocOut, 'Annotations')], { encoding: 'utf8', cwd: scratch });
    assert.equal(py.status, 0, py.stderr);
    const expected = JSON.parse(readFileSync(path.join(annotationFixtures, 'bccd-counts.json'), 'utf8'));
    const kept: Record<string, number> = { ...expected.classes };
    for (const d of expected.degenerate) kept[d.name]! -= 1;
    const got = JSON.parse(py.stdout);
    assert.deepEqual(got.csv, { images: expected.files, classes: kept });
    assert.deepEqual(got.coco.classes, kept);
    assert.deepEqual(got.coco.categories, [[1, 'RBC'], [2, 'WBC'], [3, 'Platelets']]);
    // VOC written from the COCO file parses the way LabelImg's own reader parses it.
    assert.deepEqual(got.voc, { files: expected.files, verified: 0, classes: kept });
  }));

  test('keras-frcnn CSV to VOC: sizes read from the images, a missing image named', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ann-cli-csv-'));
    try {
      const sharp = (await import('sharp')).default;
      await sharp({ create: { width: 80, height: 60, channels: 3, background: '#123' } }).png().toFile(path.join(dir, 'img1.png'));
      const csv = path.join(dir, 'annot.txt');
      writeFileSync(csv, `${path.join(dir, 'img1.png')},10,10,30,40,cell\n${path.join(dir, 'img1.png')},70,50,90,70,cell\n${path.join(dir, 'gone.png')},1,1,5,5,cell\n`);
      const out = path.join(dir, 'voc');
      const r = await run(['convert', csv, out, '--from', 'csv', '--to', 'voc', '--val', '0', '--test', '0']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /annot\.txt#.*gone\.png: \(filename\) image file not found/);
      assert.match(r.stderr, /object 1 \(bndbox\) 'cell' box \[70, 50, 90, 70\] reaches outside the 80x60 image; clipped to \[70, 50, 80, 60\]/);
      const back = parseVocXml(readFileSync(path.join(out, 'Annotations', 'img1.xml'), 'utf8'), 'img1.xml').annotation!;
      assert.deepEqual([back.filename, back.path, back.width, back.height, back.objects.length], ['img1.png', path.join(dir, 'img1.png'), 80, 60, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
