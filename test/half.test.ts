// F16/BF16 conversions: every binary16 pattern against the format's definition, rounding against a
// brute-force nearest search, and the values torch wrote into the Python safetensors fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16, toFloat32 } from '../src/io/half.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/util/rng.js';
import { fixturesDir } from './helpers.js';

const ALL16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

test('float16 decode matches the binary16 definition for all 65536 patterns, encode inverts it', () => {
  const dec = float16ToFloat32(ALL16);
  for (let h = 0; h < 65536; h++) {
    const s = h >> 15 ? -1 : 1;
    const e = (h >> 10) & 31;
    const f = h & 1023;
    const want = e === 31 ? (f ? NaN : s * Infinity) : e === 0 ? s * (f / 1024) * 2 ** -14 : s * (1 + f / 1024) * 2 ** (e - 15);
    assert.ok(Object.is(dec[h], want) || (Number.isNaN(dec[h]) && Number.isNaN(want)), `0x${h.toString(16)}: ${dec[h]} vs ${want}`);
  }
  const enc = float32ToFloat16(dec);
  for (let h = 0; h < 65536; h++) {
    const isNaN16 = ((h >> 10) & 31) === 31 && (h & 1023) !== 0;
    if (!isNaN16) assert.equal(enc[h], h, `0x${h.toString(16)}`);
    else assert.ok(Number.isNaN(float16ToFloat32(enc.subarray(h, h + 1))[0]));
  }
});

test('float16 encode rounds to nearest even (brute force over finite binary16 values)', () => {
  const finite = [...float16ToFloat32(ALL16)].map((v, h) => [v, h] as const).filter(([v]) => Number.isFinite(v));
  finite.sort((a, b) => a[0] - b[0]);
  const values = finite.map(([v]) => v);
  const r = new Rng(3);
  const samples: number[] = [65520, -65520, 65519.99, 2 ** -25, 2 ** -25 * 1.0000001, 2 ** -26, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  for (let i = 0; i < 20000; i++) samples.push((r.next() - 0.5) * 2 ** r.int(-30, 17));
  const x = Float32Array.from(samples);
  const enc = float32ToFloat16(x);
  const dec = float16ToFloat32(enc);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Math.abs(v) >= 65520) {
      assert.equal(dec[i], Math.sign(v) * Infinity, `${v}`);
      continue;
    }
    let lo = 0; // last index with values[lo] <= v (binary search)
    for (let hi = values.length - 1; lo < hi; ) {
      const mid = (lo + hi + 1) >> 1;
      if (values[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    const a = values[lo]!;
    const b = values[Math.min(lo + 1, values.length - 1)]!;
    const da = Math.abs(v - a);
    const db = Math.abs(b - v);
    const evenA = (float32ToFloat16(Float32Array.of(a))[0]! & 1) === 0;
    const want = da < db ? a : db < da ? b : evenA ? a : b;
    assert.equal(Math.abs(dec[i]!), Math.abs(want), `${v}: got ${dec[i]}, nearest ${want}`);
  }
});

test('bfloat16 round trip and ties to even', () => {
  const dec = bfloat16ToFloat32(ALL16);
  const enc = float32ToBfloat16(dec);
  for (let h = 0; h < 65536; h++) if (!Number.isNaN(dec[h])) assert.equal(enc[h], h);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even one (1); 1 + 3·2^-8 rounds up.
  assert.deepEqual([...float32ToBfloat16(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, -NaN))], [0x3f80, 0x3f82, 0x7fc0, 0x7fc0]);
});

test('decodes the F16 and BF16 tensors torch wrote', async () => {
  const expected = JSON.parse(readFileSync(path.join(fixturesDir, 'train', 'python-expected.json'), 'utf8')) as { tensors: Record<string, { values: number[] }> };
  const { tensors } = await readSafetensors(path.join(fixturesDir, 'train', 'python-aligned.safetensors'));
  for (const name of ['half', 'bhalf']) {
    const t = tensors.get(name)!;
    assert.deepEqual([...toFloat32(t, name)], expected.tensors[name]!.values, name);
    const back = t.dtype === 'F16' ? float32ToFloat16(toFloat32(t)) : float32ToBfloat16(toFloat32(t));
    assert.deepEqual(back, t.data, name);
  }
  assert.equal(toFloat32(tensors.get('conv.weight')!), tensors.get('conv.weight')!.data);
  assert.throws(() => toFloat32(tensors.get('i32')!, 'i32'), /i32 has dtype I32, not a floating-point type/);
});
