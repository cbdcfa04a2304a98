/**
 * The committed NMS / box-op / anchor / matcher fixtures are exactly what
 * scripts/make_kernel_fixtures_nms_boxes.py makes with torchvision 0.14 (skipped without
 * /usr/bin/python3 + torchvision locally; required under CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixturesDir, hasPythonModules, need, repoRoot, systemPython } from './helpers.js';

test('scripts/make_kernel_fixtures_nms_boxes.py regenerates the committed fixtures byte for byte', (t) => {
  if (!need(t, hasPythonModules(['torchvision']), `${systemPython} with torchvision (Debian python3-torchvision)`)) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'nms-fixtures-'));
  try {
    const r = spawnSync(systemPython, [path.join(repoRoot, 'scripts', 'make_kernel_fixtures_nms_boxes.py'), '--out', dir], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['nms_torchvision.json', 'boxes_torchvision.json', 'anchors_torchvision.json', 'matcher_torchvision.json']) {
      const fresh = readFileSync(path.join(dir, name), 'utf8');
      const committed = readFileSync(path.join(fixturesDir, 'kernels', name), 'utf8');
      assert.ok(fresh === committed, `${name} differs from the script's output`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
