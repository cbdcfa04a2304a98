// LR schedules against torch 1.13's schedulers (fixture from scripts/make_schedule_fixtures.py),
// plus validation that names the bad field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { learningRate, learningRates, torchvisionDetectionSchedule, validateSchedule, type ScheduleConfig } from '../src/train/schedule.js';
import { fixturesDir } from './helpers.js';

interface Case {
  name: string;
  config: ScheduleConfig | null;
  baseLr: number;
  lrs: number[];
  detection?: { itersPerEpoch: number; lrSteps: number[]; gamma: number };
}
const fixture = JSON.parse(readFileSync(path.join(fixturesDir, 'train', 'schedules.json'), 'utf8')) as { cases: Case[] };

// torch updates recursively (lr ← lr · ratio), we use closed forms: equal up to accumulated rounding.
function assertClose(ours: number[], torch: number[], name: string): void {
  assert.equal(ours.length, torch.length, name);
  ours.forEach((v, i) => {
    const tol = 1e-12 * Math.max(1e-3, Math.abs(torch[i]!));
    assert.ok(Math.abs(v - torch[i]!) <= tol, `${name}: step ${i}: ours ${v}, torch ${torch[i]}`);
  });
}

test('fixture covers every schedule kind', () => {
  const kinds = new Set<string>();
  const walk = (c: ScheduleConfig): void => {
    kinds.add(c.kind);
    if (c.kind === 'chain' || c.kind === 'sequential') c.schedules.forEach(walk);
  };
  for (const c of fixture.cases) if (c.config) walk(c.config);
  assert.deepEqual([...kinds].sort(), ['chain', 'constant', 'cosine', 'linear', 'multistep', 'sequential', 'step']);
});

for (const c of fixture.cases) {
  test(`matches torch: ${c.name}`, () => {
    const config = c.config ?? torchvisionDetectionSchedule(c.detection!);
    assertClose(learningRates(config, c.baseLr, c.lrs.length), c.lrs, c.name);
  });
}

test('per-epoch evaluates the inner schedule at floor(step / itersPerEpoch)', () => {
  const s: ScheduleConfig = { kind: 'per-epoch', itersPerEpoch: 3, schedule: { kind: 'step', stepSize: 1, gamma: 0.5 } };
  assert.deepEqual(learningRates(s, 1, 7), [1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
});

test('a pure function of the step: resuming at any step gives the same rate', () => {
  const s: ScheduleConfig = { kind: 'sequential', milestones: [3], schedules: [{ kind: 'linear', startFactor: 0.1, totalIters: 3 }, { kind: 'cosine', tMax: 5 }] };
  const all = learningRates(s, 0.1, 10);
  for (let step = 0; step < 10; step++) assert.equal(learningRate(s, 0.1, step), all[step]);
  assert.throws(() => learningRate(s, 0.1, -1), /step must be a non-negative integer/);
});

test('validation names the bad field', () => {
  const bad: [unknown, RegExp][] = [
    [{ kind: 'linear', startFactor: 0, totalIters: 5 }, /schedule\.startFactor must be in \(0, 1\]/],
    [{ kind: 'multistep', milestones: [5, 3], gamma: 0.1 }, /schedule\.milestones\[1\] must be a non-decreasing/],
    [{ kind: 'cosine', tMax: 0 }, /schedule\.tMax must be a positive integer/],
    [{ kind: 'sequential', milestones: [], schedules: [{ kind: 'constant' }, { kind: 'constant' }] }, /schedule\.milestones must have 1 entries/],
    [{ kind: 'chain', schedules: [{ kind: 'step', stepSize: 2, gamma: -1 }] }, /schedule\.schedules\[0\]\.gamma must be positive/],
    [{ kind: 'poly' }, /schedule\.kind must be one of/],
  ];
  for (const [s, re] of bad) assert.throws(() => validateSchedule(s as ScheduleConfig), re);
});
