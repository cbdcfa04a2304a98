import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assumedPeak, median } from '../scripts/bench-util.js';

const cpuinfo = (flags: string, mhz = '2596.096') => `processor\t: 0\ncpu MHz\t\t: ${mhz}\nflags\t\t: fpu sse sse2 ${flags} pclmulqdq\n`;

test('assumedPeak: AVX-512 doubles the fp32 lanes of AVX2', () => {
  const avx2 = assumedPeak(2, cpuinfo('avx fma avx2'));
  const avx512 = assumedPeak(2, cpuinfo('avx fma avx2 avx512f avx512dq'));
  assert.ok(Math.abs(avx2.gflops - 2 * 2 * 8 * 2 * 2.596096) < 1e-9);
  assert.ok(Math.abs(avx512.gflops - 2 * avx2.gflops) < 1e-9);
  assert.match(avx2.description, /AVX2/);
  assert.match(avx512.description, /AVX-512/);
  // avx512_bf16 and friends alone are not avx512f.
  assert.match(assumedPeak(1, cpuinfo('avx2 avx512_bf16')).description, /AVX2/);
});

test('assumedPeak: scales with cores, falls back to 2.6 GHz without a clock line', () => {
  assert.ok(Math.abs(assumedPeak(1, 'flags\t: avx2\n').gflops - 1 * 2 * 8 * 2 * 2.6) < 1e-9);
  assert.ok(Math.abs(assumedPeak(4, cpuinfo('avx2', '3000')).gflops - 4 * 2 * 8 * 2 * 3) < 1e-9);
});

test('median: middle value, mean of the two middle ones for an even count', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
