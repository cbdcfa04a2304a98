/**
 * Shared test helpers: where fixtures and ../shared/data live, and the rule for optional
 * dependencies: skip with a reason on a user's machine, fail under CI (CI=true), so nothing
 * is silently skipped there.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { packageRoot } from '../src/native.js';

export const repoRoot = packageRoot;
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const sharedDataDir = process.env.HPA_SHARED_DATA ?? path.resolve(repoRoot, '..', 'shared', 'data');
export const inCi = process.env.CI === 'true';

const scratchDirs: string[] = [];

/**
 * A fresh directory under the OS temp dir, removed when the test file's process exits (node --test
 * runs each file in its own process), whether its tests passed or failed (not when the process is
 * killed by a signal): `npm test` leaves nothing behind in /tmp. One exit listener serves every
 * directory.
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (scratchDirs.push(dir) === 1) {
    process.on('exit', () => {
      for (const d of scratchDirs) {
        try {
          rmSync(d, { recursive: true, force: true });
        } catch {
          // A folder that cannot go now (busy) must not turn a passing test file into a failure.
        }
      }
    });
  }
  return dir;
}

/**
 * Returns true when the dependency is there. Otherwise skips the test with `reason` (or, under
 * CI, fails it) and returns false: `if (!need(t, ok, why)) return;`.
 */
export function need(t: TestContext, available: boolean, reason: string): boolean {
  if (available) return true;
  if (inCi) throw new Error(`missing under CI=true: ${reason}`);
  t.skip(reason);
  return false;
}

/** Path under ../shared/data when present; see need(). */
export function sharedData(t: TestContext, ...parts: string[]): string | undefined {
  const p = path.join(sharedDataDir, ...parts);
  return need(t, existsSync(p), `${p} not found (the real data set beside the repo)`) ? p : undefined;
}

/** Debian's python with the given modules importable (e.g. ['torchvision']). */
export const systemPython = '/usr/bin/python3';
export function hasPythonModules(modules: string[]): boolean {
  if (!existsSync(systemPython)) return false;
  const r = spawnSync(systemPython, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' });
  return r.status === 0;
}
