import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { serializeModel } from '../src/graph/serialize.js';
import { OutputScratch } from '../src/train/output-scratch.js';
import { trainerTuning } from '../src/train/tuning.js';

/** y = relu(x) · 2 (float32) and the argmax of each row (int64), batch dimension symbolic. */
async function session(): Promise<ort.InferenceSession> {
  const g = new GraphBuilder('scratch');
  const x = g.input('x', 'float32', ['N', 4]);
  g.output(g.op('Mul', [g.op('Relu', [x]), g.constant({ dtype: 'float32', dims: [], data: Float32Array.of(2) }, 'two')]), 'y');
  g.output(g.op('ArgMax', [x], { axis: 1, keepdims: 0 }), 'idx');
  return ort.InferenceSession.create(serializeModel(g), { executionProviders: ['cpu'], enableCpuMemArena: false });
}

/** The session's run, recording for each call whether fetches were passed; `failWithFetches` makes those calls throw. */
function spy(s: ort.InferenceSession, options: { failWithFetches?: boolean } = {}): boolean[] {
  const calls: boolean[] = [];
  const run = s.run.bind(s) as (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
  (s as { run: unknown }).run = async (...args: unknown[]) => {
    calls.push(args[1] !== undefined);
    if (options.failWithFetches && args[1] !== undefined) throw new Error('output shape differs');
    return run(...args);
  };
  return calls;
}

const feed = (values: number[], rows: number) => ({ x: new ort.Tensor('float32', Float32Array.from(values), [rows, 4]) });
const ys = (out: ort.InferenceSession.OnnxValueMapType) => [...(out['y']!.data as Float32Array)];

test('OutputScratch gives what run gives, writes into reused buffers once a shape came twice, and never lets a run overwrite an earlier result', async () => {
  const s = await session();
  try {
    const calls = spy(s);
    const scratch = new OutputScratch(s);
    const a = feed([1, -2, 3, 0, -1, 5, 2, 4], 2);
    const b = feed([-3, 7, 0, 1, 6, -6, 2, 2], 2);
    const first = await scratch.run(a);
    assert.equal(scratch.holds(a), false);
    const second = await scratch.run(b); // the shape came twice: buffers made after this run
    assert.equal(scratch.holds(a), true);
    const third = await scratch.run(a); // into the buffers
    const fourth = await scratch.run(b);
    assert.deepEqual(calls, [false, false, true, true]);
    assert.deepEqual(ys(first), [2, 0, 6, 0, 0, 10, 4, 8]);
    assert.deepEqual([...(first['idx']!.data as BigInt64Array)], [2n, 1n]);
    assert.deepEqual(ys(second), [0, 14, 0, 2, 12, 0, 4, 4]);
    assert.deepEqual(ys(third), ys(first));
    assert.deepEqual(ys(fourth), ys(second));
    assert.deepEqual([...(fourth['idx']!.data as BigInt64Array)], [1n, 0n]);
    scratch.release();
    assert.equal(scratch.holds(a), false);
  } finally {
    await s.release();
  }
});

test('OutputScratch follows a change of input shape without a failed run, and stays out of the way when switched off', async () => {
  const s = await session();
  try {
    const calls = spy(s);
    const scratch = new OutputScratch(s);
    const two = feed([1, 2, 3, 4, 5, 6, 7, 8], 2);
    const three = feed([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, -1], 3);
    for (let i = 0; i < 3; i++) await scratch.run(two);
    const r = await scratch.run(three); // a new shape: a plain run, not a failing one with the old buffers
    assert.deepEqual(r['y']!.dims, [3, 4]);
    assert.deepEqual(ys(r), [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
    await scratch.run(three);
    const again = await scratch.run(three);
    assert.deepEqual([...(again['idx']!.data as BigInt64Array)], [0n, 1n, 0n]);
    assert.deepEqual(calls, [false, false, true, false, false, true]);

    trainerTuning.outputScratch = false;
    const off = new OutputScratch(s);
    calls.length = 0;
    for (let i = 0; i < 3; i++) assert.deepEqual(ys(await off.run(two)), [2, 4, 6, 8, 10, 12, 14, 16]);
    assert.deepEqual(calls, [false, false, false]);
    assert.equal(off.holds(two), false);
  } finally {
    trainerTuning.outputScratch = true;
    await s.release();
  }
});

test('a run into the buffers that fails turns the scratch off for good and is answered by a plain run', async () => {
  const s = await session();
  try {
    const calls = spy(s, { failWithFetches: true });
    const scratch = new OutputScratch(s);
    const x = feed([1, -1, 2, -2], 1);
    await scratch.run(x);
    await scratch.run(x);
    assert.deepEqual(ys(await scratch.run(x)), [2, 0, 4, 0]); // fails with fetches, then runs plain
    assert.deepEqual(ys(await scratch.run(x)), [2, 0, 4, 0]);
    assert.deepEqual(calls, [false, false, true, false, false]);
    assert.equal(scratch.holds(x), false);
  } finally {
    await s.release();
  }
});
