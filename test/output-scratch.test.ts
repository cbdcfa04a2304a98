import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { serializeModel } from '../src/graph/serialize.js';
import { holdsOutputScratch, runWithOutputScratch } from '../src/train/output-scratch.js';
import { trainerTuning } from '../src/train/tuning.js';

/** y = relu(x) · 2 (float32) and the argmax of each row (int64), batch dimension symbolic. */
async function session(): Promise<ort.InferenceSession> {
  const g = new GraphBuilder('scratch');
  const x = g.input('x', 'float32', ['N', 4]);
  g.output(g.op('Mul', [g.op('Relu', [x]), g.constant({ dtype: 'float32', dims: [], data: Float32Array.of(2) }, 'two')]), 'y');
  g.output(g.op('ArgMax', [x], { axis: 1, keepdims: 0 }), 'idx');
  return ort.InferenceSession.create(serializeModel(g), { executionProviders: ['cpu'], enableCpuMemArena: false });
}

const feed = (values: number[], rows: number) => ({ x: new ort.Tensor('float32', Float32Array.from(values), [rows, 4]) });

test('runWithOutputScratch gives what run gives, and a later run never overwrites an earlier result', async () => {
  const s = await session();
  try {
    const a = feed([1, -2, 3, 0, -1, 5, 2, 4], 2);
    const b = feed([-3, 7, 0, 1, 6, -6, 2, 2], 2);
    const first = await runWithOutputScratch(s, a); // sizes the scratch
    const second = await runWithOutputScratch(s, b); // runs into it
    const third = await runWithOutputScratch(s, a);
    assert.deepEqual([...(first['y']!.data as Float32Array)], [2, 0, 6, 0, 0, 10, 4, 8]);
    assert.deepEqual([...(first['idx']!.data as BigInt64Array)], [2n, 1n]);
    assert.deepEqual([...(second['y']!.data as Float32Array)], [0, 14, 0, 2, 12, 0, 4, 4]);
    assert.deepEqual([...(second['idx']!.data as BigInt64Array)], [1n, 0n]);
    assert.deepEqual([...(third['y']!.data as Float32Array)], [...(first['y']!.data as Float32Array)]);
    assert.notEqual((second['y']!.data as Float32Array).buffer, (third['y']!.data as Float32Array).buffer);
  } finally {
    await s.release();
  }
});

test('runWithOutputScratch follows a change of input shape, and can be switched off', async () => {
  const s = await session();
  try {
    await runWithOutputScratch(s, feed([1, 2, 3, 4, 5, 6, 7, 8], 2));
    await runWithOutputScratch(s, feed([1, 2, 3, 4, 5, 6, 7, 8], 2));
    const three = await runWithOutputScratch(s, feed([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, -1], 3));
    assert.deepEqual(three['y']!.dims, [3, 4]);
    assert.deepEqual([...(three['y']!.data as Float32Array)], [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
    const again = await runWithOutputScratch(s, feed([0, 0, 0, 9, 0, 0, 0, 0, 1, 1, 1, 1], 3));
    assert.deepEqual([...(again['idx']!.data as BigInt64Array)], [3n, 0n, 0n]);
    trainerTuning.outputScratch = false;
    const plain = await runWithOutputScratch(s, feed([0, 0, 0, 9, 0, 0, 0, 0, 1, 1, 1, 1], 3));
    assert.deepEqual([...(plain['y']!.data as Float32Array)], [...(again['y']!.data as Float32Array)]);
  } finally {
    trainerTuning.outputScratch = true;
    await s.release();
  }
});

test('only the two most recently run sessions keep a scratch', async () => {
  const sessions = [await session(), await session(), await session()];
  try {
    const x = feed([1, 2, 3, 4], 1);
    for (const s of sessions) await runWithOutputScratch(s, x);
    assert.deepEqual(sessions.map(holdsOutputScratch), [false, true, true]);
    const again = await runWithOutputScratch(sessions[1]!, x); // a hit moves it to the most recent
    assert.deepEqual([...(again['y']!.data as Float32Array)], [2, 4, 6, 8]);
    await runWithOutputScratch(sessions[0]!, x);
    assert.deepEqual(sessions.map(holdsOutputScratch), [true, true, false]);
  } finally {
    for (const s of sessions) await s.release();
  }
});
