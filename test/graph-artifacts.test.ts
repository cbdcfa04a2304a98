/**
 * Training artifacts contract (two segments chained through a "native" op done in JS), and graph
 * tensors through the one safetensors/checkpoint implementation (src/io, src/train).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { buildGradient } from '../src/graph/autodiff.js';
import { conv2d, linear } from '../src/graph/blocks.js';
import { softmaxCrossEntropy } from '../src/graph/losses.js';
import { runGraph, runSession } from '../src/graph/ort.js';
import { loadModel } from '../src/graph/load.js';
import { writeTrainingArtifacts } from '../src/graph/artifacts.js';
import { fromHostTensor, fromHostTensors, toHostTensor, toHostTensors } from '../src/graph/host-tensor.js';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { loadCheckpoint, rngStates, saveCheckpoint, type Checkpoint } from '../src/train/checkpoint.js';
import { int64s, type Tensor, tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

function rand(dims: number[], seed: number, scale = 0.5): Tensor {
  const rng = new Rng(seed);
  return tensor(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()), dims);
}

const W1 = rand([4, 2, 3, 3], 1);
const FC = rand([3, 16], 2);
const FCB = rand([3], 3);

/** Segment 1: images → conv → relu → features [1,4,6,6] (consumed by the native crop). */
function segment1(): GraphBuilder {
  const g = new GraphBuilder('segment1');
  const x = g.input('images', 'float32', [1, 2, 6, 6]);
  g.op('Relu', [conv2d(g.scope('backbone.conv1'), x, { weight: W1, padding: 1 })], {}, { outputs: ['features'] });
  return g;
}
/** Segment 2: pooled [1,4,2,2] → flatten → linear → CE(label). */
function segment2(): { g: GraphBuilder; loss: string } {
  const g = new GraphBuilder('segment2');
  const pooled = g.input('pooled', 'float32', [1, 4, 2, 2]);
  const labels = g.input('labels', 'int64', [1]);
  const logits = linear(g.scope('head'), g.op('Flatten', [pooled], { axis: 1 }), FC, FCB);
  g.output(logits, 'logits');
  return { g, loss: softmaxCrossEntropy(g, logits, labels).name };
}
/** The native op stand-in: crop rows/cols 1..2 (forward) and its adjoint (backward). */
function crop(f: Tensor): Tensor {
  const out = new Float32Array(4 * 4);
  for (let c = 0; c < 4; c++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) out[c * 4 + i * 2 + j] = f.data[c * 36 + (i + 1) * 6 + (j + 1)] as number;
  return tensor(out, [1, 4, 2, 2]);
}
function cropBackward(g: Tensor): Tensor {
  const out = new Float32Array(4 * 36);
  for (let c = 0; c < 4; c++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) out[c * 36 + (i + 1) * 6 + (j + 1)] = g.data[c * 4 + i * 2 + j] as number;
  return tensor(out, [1, 4, 6, 6]);
}

test('two training segments chained through a native op give the whole-graph gradients', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-artifacts-'));
  try {
    const s1 = segment1();
    await writeTrainingArtifacts(path.join(dir, 'seg1'), { graph: s1, trainable: ['backbone.conv1.weight'], chained: ['features'] });
    const s2 = segment2();
    await writeTrainingArtifacts(path.join(dir, 'seg2'), {
      graph: s2.g,
      trainable: ['head.weight', 'head.bias'],
      loss: s2.loss,
      outputs: ['logits'],
      gradInputs: ['pooled'],
    });
    assert.deepEqual((await readdir(path.join(dir, 'seg2'))).sort(), ['eval_model.onnx', 'inference_model.onnx', 'training_model.onnx']);

    // The contract: names of inputs and outputs.
    const t1 = loadModel(new Uint8Array(await readFile(path.join(dir, 'seg1', 'training_model.onnx'))));
    assert.deepEqual([...t1.inputs].sort(), ['backbone.conv1.weight', 'grad.features', 'images']);
    assert.deepEqual([...t1.outputs], ['features', 'grad.backbone.conv1.weight']);
    const t2bytes = new Uint8Array(await readFile(path.join(dir, 'seg2', 'training_model.onnx')));
    const t2 = loadModel(t2bytes);
    assert.deepEqual([...t2.inputs].sort(), ['head.bias', 'head.weight', 'labels', 'pooled']);
    assert.deepEqual([...t2.outputs], ['loss', 'logits', 'grad.head.weight', 'grad.head.bias', 'grad.pooled']);
    const e2 = loadModel(new Uint8Array(await readFile(path.join(dir, 'seg2', 'eval_model.onnx'))));
    assert.deepEqual([...e2.outputs], ['loss', 'logits']);
    const i2 = loadModel(new Uint8Array(await readFile(path.join(dir, 'seg2', 'inference_model.onnx'))));
    assert.deepEqual([...i2.inputs], ['pooled'], 'inference needs no labels');
    assert.deepEqual([...i2.initializers.keys()].sort(), ['head.bias', 'head.weight']);

    // Run the chain: seg1 forward (zero seed), native crop, seg2 training, native backward, seg1 with the seed.
    const images = rand([1, 2, 6, 6], 9, 1);
    const labels = tensor(BigInt64Array.from([2n]), [1]);
    const sess1 = await ort.InferenceSession.create(path.join(dir, 'seg1', 'training_model.onnx'));
    const sess2 = await ort.InferenceSession.create(t2bytes);
    const zero = tensor(new Float32Array(144), [1, 4, 6, 6]);
    const f = (await runSession(sess1, { images, 'backbone.conv1.weight': W1, 'grad.features': zero }))['features']!;
    const r2 = await runSession(sess2, { pooled: crop(f), labels, 'head.weight': FC, 'head.bias': FCB });
    const r1 = await runSession(sess1, { images, 'backbone.conv1.weight': W1, 'grad.features': cropBackward(r2['grad.pooled']!) });

    // Whole graph with Slice in place of the native op.
    const whole = segment1();
    const pooled = whole.op('Slice', ['features', whole.constant(int64s([1, 1])), whole.constant(int64s([3, 3])), whole.constant(int64s([2, 3]))]);
    const lbl = whole.input('labels', 'int64', [1]);
    const logits = linear(whole.scope('head'), whole.op('Flatten', [pooled], { axis: 1 }), FC, FCB);
    const loss = softmaxCrossEntropy(whole, logits, lbl);
    const grads = buildGradient(whole, { loss, params: ['backbone.conv1.weight', 'head.weight'] });
    whole.output(loss, 'loss');
    whole.output(grads.get('backbone.conv1.weight')!, 'gw1');
    whole.output(grads.get('head.weight')!, 'gfc');
    const ref = await runGraph(whole, { images, labels });
    const close = (a: Tensor, b: Tensor, what: string): void => {
      for (let i = 0; i < b.data.length; i++) assert.ok(Math.abs((a.data[i] as number) - (b.data[i] as number)) <= 1e-5 * (1 + Math.abs(b.data[i] as number)), `${what}[${i}]`);
    };
    close(r2['loss']!, ref['loss']!, 'loss');
    close(r2['grad.head.weight']!, ref['gfc']!, 'grad.head.weight');
    close(r1['grad.backbone.conv1.weight']!, ref['gw1']!, 'grad.backbone.conv1.weight');
    await sess1.release();
    await sess2.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('safetensors: exact byte layout of a tiny file from a graph tensor, and round trip', () => {
  const bytes = serializeSafetensors(new Map([['a', toHostTensor(tensor(Float32Array.from([1, 2]), [2]))]]), { k: 'v' });
  const header = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
  assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)), padded.length);
  assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + padded.length)), padded);
  assert.deepEqual(Array.from(new Float32Array(bytes.slice(8 + padded.length).buffer)), [1, 2]);
  const back = parseSafetensors(bytes);
  assert.deepEqual(back.metadata, { k: 'v' });
  assert.deepEqual(fromHostTensor(back.tensors.get('a')!, 'a'), tensor(Float32Array.from([1, 2]), [2]));
  assert.throws(() => parseSafetensors(bytes.subarray(0, 20)), /header length \d+ runs past the end of the 20-byte file/);
  assert.throws(() => fromHostTensor({ dtype: 'F16', shape: [1], data: new Uint16Array(1) }, 'half.w'), /tensor "half.w": dtype F16/);
});

test('checkpoint: graph params, optimizer slots, step/epoch/rng/config survive save and load', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-ckpt-'));
  try {
    const rng = new Rng(42);
    rng.next();
    const params = new Map([['backbone.body.conv1.weight', rand([2, 1, 3, 3], 5)], ['fc.bias', rand([3], 6)]]);
    const ckpt: Checkpoint = {
      params: toHostTensors(params),
      optimState: new Map([['fc.bias', { exp_avg: toHostTensor(rand([3], 7)), exp_avg_sq: toHostTensor(rand([3], 8)) }]]),
      step: 10,
      epoch: 2,
      rng: rngStates({ shuffle: rng, augment: new Rng(1), sample: new Rng(2) }),
      model: { model: 'tiny' },
      optimizer: { kind: 'adamw', lr: 0.01 },
    };
    const file = path.join(dir, 'checkpoint.safetensors');
    await saveCheckpoint(file, ckpt);
    assert.deepEqual(await readdir(dir), ['checkpoint.safetensors'], 'no temp file left behind');
    const back = await loadCheckpoint(file);
    assert.deepEqual(fromHostTensors(back.params), params);
    assert.deepEqual(back.optimState, ckpt.optimState);
    assert.deepEqual([back.step, back.epoch, back.model, back.optimizer], [10, 2, { model: 'tiny' }, { kind: 'adamw', lr: 0.01 }]);
    const st = await readSafetensors(file);
    assert.deepEqual([...st.tensors.keys()], ['optim/fc.bias/exp_avg', 'optim/fc.bias/exp_avg_sq', 'param/backbone.body.conv1.weight', 'param/fc.bias']);
    assert.equal(JSON.parse(st.metadata!['checkpoint']!).format_version, 1);
    const empty = path.join(dir, 'empty.safetensors');
    await writeSafetensors(empty, new Map());
    await assert.rejects(loadCheckpoint(empty), /not an hpa-detect checkpoint/);
    const resumed = new Rng(back.rng['shuffle']!);
    assert.equal(resumed.next(), rng.next(), 'the restored generator continues the same sequence');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
