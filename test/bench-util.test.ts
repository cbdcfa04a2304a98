import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assumedPeak, median, profileBy, profileByOp, readProfile } from '../scripts/bench-util.js';

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

test('profile helpers: kernel events by run, summed per operator or per key from a given run on', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-util-'));
  try {
    // The shape of onnxruntime's profile (a Chrome trace): session events, then per-node kernel times in µs.
    const kernel = (name: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op, input_type_shape: [{ float: [1, 64, 8, 8] }, { float: [64, 1, 3, 3] }] } });
    const trace = [
      { cat: 'Session', name: 'model_run', ts: 100, dur: 1000 },
      kernel('conv1.Conv', 'Conv', 110, 500),
      kernel('grad.Conv_grad', 'Conv', 700, 300),
      { cat: 'Node', name: 'conv1.Conv_fence_before', ts: 105, dur: 0, args: { op_name: 'Conv' } },
      { cat: 'Session', name: 'model_run', ts: 2000, dur: 1000 },
      kernel('conv1.Conv', 'Conv', 2010, 250),
      kernel('grad.Mul_grad', 'Mul', 2300, 100),
      kernel('outside', 'Add', 5000, 40), // outside every model_run (run -1)
    ];
    const file = path.join(dir, 'profile.json');
    writeFileSync(file, JSON.stringify(trace));
    const { kernels: events, runMs } = readProfile(file);
    assert.deepEqual(events.map((e) => [e.node, e.op, e.run, e.ms]), [
      ['conv1.Conv', 'Conv', 0, 0.5],
      ['grad.Conv_grad', 'Conv', 0, 0.3],
      ['conv1.Conv', 'Conv', 1, 0.25],
      ['grad.Mul_grad', 'Mul', 1, 0.1],
      ['outside', 'Add', -1, 0.04],
    ]);
    assert.deepEqual(events[1]!.inputShapes[1], { float: [64, 1, 3, 3] });
    assert.deepEqual([...profileByOp(file)], [['Conv', 1.05], ['Mul', 0.1], ['Add', 0.04]]);
    const byDirection = profileBy(events, (e) => (e.node.startsWith('grad.') ? 'backward' : 'forward'), 1);
    assert.deepEqual([...byDirection], [['forward', 0.25], ['backward', 0.1]]);
    assert.deepEqual(runMs, [1, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
