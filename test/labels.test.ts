import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir, sharedData } from './helpers.js';
import { HPA_LABEL_NAMES, parseHpaLabelList, resolveHpaLabel } from '../src/hpa/labels.js';
import { parseTrainCsv, readTrainCsv, TrainCsvFormatError } from '../src/hpa/train-csv.js';
import { labelsByCount, labelStats } from '../src/hpa/label-stats.js';
import { selectByLabels } from '../src/hpa/label-select.js';
import { barChartHeight, renderBarChart } from '../src/render/bar-chart.js';

const labelsDir = path.join(fixturesDir, 'labels');

test('the 28 label names match SOURCES.md ids', () => {
  assert.equal(HPA_LABEL_NAMES.length, 28);
  assert.equal(HPA_LABEL_NAMES[0], 'Nucleoplasm');
  assert.equal(HPA_LABEL_NAMES[2], 'Nucleoli');
  assert.equal(HPA_LABEL_NAMES[18], 'Microtubule organizing center');
  assert.equal(HPA_LABEL_NAMES[25], 'Cytosol');
  assert.equal(HPA_LABEL_NAMES[27], 'Rods & rings');
});

test('label references resolve by id or by name, loosely spelled', () => {
  assert.equal(resolveHpaLabel('2'), 2);
  assert.equal(resolveHpaLabel('nucleoli'), 2);
  assert.equal(resolveHpaLabel('Nucleoli_fibrillar-center'), 3);
  assert.equal(resolveHpaLabel('rods and rings'), 27);
  assert.equal(resolveHpaLabel('28'), undefined);
  assert.equal(resolveHpaLabel('Nucleus'), undefined);
  assert.deepEqual(parseHpaLabelList('5, Nucleoli,2,4'), [2, 4, 5]);
  assert.throws(() => parseHpaLabelList('2,Nucleus,99'), /unknown HPA label "Nucleus", "99"/);
  assert.throws(() => parseHpaLabelList(' , '), /empty label list/);
});

test('bad rows are reported with their line numbers and the rest is read', async () => {
  const table = await readTrainCsv(path.join(labelsDir, 'bad-rows.csv'));
  assert.deepEqual(
    table.rows.map((r) => [r.id, r.labels, r.line]),
    [
      ['ok1', [0], 2],
      ['ok2', [1, 2], 4],
      ['dupl', [4], 9],
      ['ok3', [25], 11],
    ],
  );
  const errors = table.issues.filter((i) => i.severity === 'error');
  assert.deepEqual(
    errors.map((i) => [i.line, i.field]),
    [
      [3, 'Target'],
      [5, 'Target'],
      [6, 'Target'],
      [7, 'Id'],
      [8, 'Target'],
      [10, undefined],
    ],
  );
  assert.match(errors[0]!.message, /label 28 is outside 0–27/);
  assert.match(errors[1]!.message, /"x" is not an integer/);
  assert.match(errors[2]!.message, /no label/);
  assert.match(errors[3]!.message, /duplicate id "ok1" \(first on line 2\)/);
  assert.match(errors[5]!.message, /expected 2 fields, got 3/);
  const warnings = table.issues.filter((i) => i.severity === 'warning');
  assert.deepEqual(warnings.map((i) => i.line), [9]);
  assert.ok(table.issues.every((i) => i.file.endsWith('bad-rows.csv')));
});

test('a file without the Id,Target header is refused, naming the line', () => {
  assert.throws(() => parseTrainCsv('a,0\nb,1\n', 'x.csv'), (e: unknown) => e instanceof TrainCsvFormatError && /x\.csv:1: expected the header/.test(e.message));
  assert.throws(() => parseTrainCsv('', 'empty.csv'), /empty\.csv:1: empty file/);
});

test('select: --any, --all, --none on the small fixture', async () => {
  const { rows, issues } = await readTrainCsv(path.join(labelsDir, 'small.csv'));
  assert.equal(issues.length, 0);
  const ids = (f: Parameters<typeof selectByLabels>[1]) => selectByLabels(rows, f).map((r) => r.id);
  assert.deepEqual(ids({ any: [2, 3, 4, 5] }), ['b', 'c', 'd', 'f', 'h']);
  assert.deepEqual(ids({ all: [0, 25] }), ['g']);
  assert.deepEqual(ids({ any: [2, 3, 4, 5], none: [0] }), ['c', 'd', 'f', 'h']);
  assert.deepEqual(ids({ all: [2], none: [3] }), ['b']);
  assert.deepEqual(ids({ none: [0, 25] }), ['d', 'f', 'h']);
  assert.deepEqual(ids({}), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
});

test('stats on the small fixture: counts, fractions, labels per image, co-occurrence', async () => {
  const { rows } = await readTrainCsv(path.join(labelsDir, 'small.csv'));
  const s = labelStats(rows, { cooccurrence: true });
  assert.equal(s.images, 8);
  assert.equal(s.labels[0]!.count, 3);
  assert.equal(s.labels[25]!.count, 3);
  assert.equal(s.labels[25]!.fraction, 3 / 8);
  assert.deepEqual(s.labelsPerImage, [0, 3, 5]);
  assert.equal(s.cooccurrence![0]![25], 1);
  assert.equal(s.cooccurrence![2]![3], 1);
  assert.equal(s.cooccurrence![2]![2], 2);
  assert.deepEqual(labelsByCount(s).slice(0, 3).map((l) => l.id), [0, 25, 2]);
});

test('train.csv: 31,072 rows whose label counts match the independent Python count', async (t) => {
  const csv = sharedData(t, 'hpa', 'train.csv');
  if (!csv) return;
  const started = performance.now();
  const table = await readTrainCsv(csv);
  const ms = performance.now() - started;
  assert.equal(table.rows.length, 31072);
  assert.deepEqual(table.issues, []);
  // Generous for loaded CI machines; a quadratic reader would take far longer.
  assert.ok(ms < 5000, `reading train.csv took ${ms.toFixed(0)} ms`);

  const expected = JSON.parse(readFileSync(path.join(labelsDir, 'hpa-train-counts.json'), 'utf8')) as {
    rows: number;
    counts: number[];
    labelsPerImage: Record<string, number>;
  };
  const stats = labelStats(table.rows);
  assert.equal(expected.rows, stats.images);
  assert.deepEqual(stats.labels.map((l) => l.count), expected.counts);
  for (const [k, n] of Object.entries(expected.labelsPerImage)) assert.equal(stats.labelsPerImage[Number(k)], n, `images with ${k} labels`);
  assert.deepEqual(labelsByCount(stats).slice(0, 2).map((l) => l.name), ['Nucleoplasm', 'Cytosol']);
});

test('the bar chart PNG has the documented size', async () => {
  const bars = HPA_LABEL_NAMES.map((label, i) => ({ label, value: 1000 - i * 30 }));
  const chart = await renderBarChart(bars, { width: 900, title: 'test' });
  assert.equal(barChartHeight(28), 64 + 28 * 24 + 20);
  const meta = await sharp(chart.png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height], [900, 756]);
  assert.deepEqual([chart.width, chart.height], [900, 756]);
  // The longest bar is drawn: the pixel in its middle is the bar colour, not the white background.
  const { data, info } = await sharp(chart.png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y = 64 + 12;
  const row = Array.from({ length: info.width }, (_, x) => data[(y * info.width + x) * info.channels + 2]!);
  assert.ok(row.some((b, x) => x > 300 && b === 0xb6), 'bar colour found on the first row');
});
