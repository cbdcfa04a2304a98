import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir, repoRoot, sharedData } from './helpers.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
const small = path.join(fixturesDir, 'labels', 'small.csv');
const bad = path.join(fixturesDir, 'labels', 'bad-rows.csv');
function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('labels select prints matching ids one per line and a count on stderr', () => {
  const r = run(['labels', 'select', small, '--any', '2,3,4,5', '--none', 'Nucleoplasm']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'c\nd\nf\nh\n');
  assert.match(r.stderr, /4 of 8 images selected/);
  const names = run(['labels', 'select', small, '--all', 'nucleoplasm,cytosol']);
  assert.equal(names.stdout, 'g\n');
});

test('labels select: an unknown label is a usage error (exit 2) naming it', () => {
  const r = run(['labels', 'select', small, '--any', '2,Nucleolus']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--any: unknown HPA label "Nucleolus"/);
  assert.equal(r.stdout, '');
  assert.equal(run(['labels', 'select', small, '--all', '28']).status, 2);
  assert.equal(run(['labels', 'select', small]).status, 2, 'no filter at all');
  assert.equal(run(['labels', 'stats']).status, 2, 'no CSV');
});

test('bad rows: warnings with line numbers and exit 0; --strict exits 1 with no ids', () => {
  const lax = run(['labels', 'select', bad, '--any', '0,25']);
  assert.equal(lax.status, 0, lax.stderr);
  assert.equal(lax.stdout, 'ok1\nok3\n');
  assert.match(lax.stderr, /bad-rows\.csv:3: Target: label 28 is outside 0–27/);
  assert.match(lax.stderr, /bad-rows\.csv:7: Id: duplicate id "ok1"/);
  assert.match(lax.stderr, /6 bad row\(s\) skipped; 4 rows read/);
  const strict = run(['labels', 'select', bad, '--any', '0,25', '--strict']);
  assert.equal(strict.status, 1);
  assert.equal(strict.stdout, '');
  assert.match(strict.stderr, /6 bad row\(s\) \(--strict\)/);
  assert.equal(run(['labels', 'stats', path.join(fixturesDir, 'labels', 'no-such.csv')]).status, 1);
});

test('labels stats --json on the small fixture', () => {
  const r = run(['labels', 'stats', small, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { images: number; labels: { id: number; count: number }[]; labelsPerImage: number[] };
  assert.equal(out.images, 8);
  assert.equal(out.labels[25]!.count, 3);
  assert.deepEqual(out.labelsPerImage, [0, 3, 5]);
});

test('labels stats on train.csv: table sorted by count, Nucleoplasm and Cytosol first, chart written', async (t) => {
  const csv = sharedData(t, 'hpa', 'train.csv');
  if (!csv) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-labels-'));
  try {
    const chart = path.join(dir, 'labels.png');
    const r = run(['labels', 'stats', csv, '--chart', chart]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^31072 images/);
    const rows = r.stdout.split('\n').filter((l) => /^\s?\d+\s{2}[A-Z]/.test(l));
    assert.equal(rows.length, 28);
    assert.match(rows[0]!, /^ 0  Nucleoplasm\s+12885\s+41\.47%/);
    assert.match(rows[1]!, /^25  Cytosol\s+8228/);
    const meta = await sharp(chart).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 960, 64 + 28 * 24 + 20]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
