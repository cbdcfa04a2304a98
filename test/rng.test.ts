import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/util/rng.js';

test('Rng is deterministic per seed and differs across seeds', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  const sb = Array.from({ length: 8 }, () => b.nextUint32());
  const sc = Array.from({ length: 8 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('Rng state round-trips: a restored generator continues the same sequence', () => {
  const a = new Rng(7);
  for (let i = 0; i < 5; i++) a.next();
  const b = new Rng(a.state);
  assert.deepEqual(Array.from({ length: 5 }, () => a.next()), Array.from({ length: 5 }, () => b.next()));
});

test('Rng uniform floats stay in [0, 1) with a plausible mean', () => {
  const r = new Rng(1);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});
