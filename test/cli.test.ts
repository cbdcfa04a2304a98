import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './helpers.js';

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('--help lists the commands and exits 0', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hpa-detect <command>/);
});

test('an unknown command is a usage error (exit 2) that names it', () => {
  const r = run(['no-such-command']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no-such-command/);
});

test('no command at all is a usage error (exit 2)', () => {
  const r = run([]);
  assert.equal(r.status, 2);
});
