/**
 * Resume is bit-exact: 20 SGD-momentum steps through our training graph, against 10 steps,
 * checkpoint.safetensors (params, momentum buffers, step, shuffle RNG state), then 10 more in a
 * fresh process, give identical parameters. Each run is a child process executing the same
 * small loop (single-threaded onnxruntime so reductions run in a fixed order).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './helpers.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { bytesOf } from '../src/io/tensor.js';

const url = (...parts: string[]): string => pathToFileURL(path.join(repoRoot, 'dist', 'src', ...parts)).href;
const graphUrl = url('graph', 'index.js');
const rngUrl = url('util', 'rng.js');
const checkpointUrl = url('train', 'checkpoint.js');

/** argv: <steps> <out checkpoint> [<in checkpoint>] */
const LOOP = String.raw`
import * as G from '${graphUrl}';
import { Rng } from '${rngUrl}';
import { loadCheckpoint, saveCheckpoint } from '${checkpointUrl}';
import * as ort from 'onnxruntime-node';
const [steps, out, from] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
const S = 8, B = 8;
const init = new Rng(7);
const w = (dims) => G.tensor(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => init.normal(0, 0.3)), dims);
const g = new G.GraphBuilder('resume');
const x = g.input('images', 'float32', [B, 1, S, S]);
const labels = g.input('labels', 'int64', [B]);
let y = g.op('Relu', [G.conv2d(g.scope('conv1'), x, { weight: w([4, 1, 3, 3]), bias: w([4]), padding: 1 })]);
y = g.op('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
y = G.groupNorm(g.scope('gn'), y, 2, w([4]), w([4]));
const logits = G.linear(g.scope('fc'), g.op('Flatten', [y], { axis: 1 }), w([3, 64]), w([3]));
const loss = G.softmaxCrossEntropy(g, logits, labels);
const params = g.paramNames;
const art = G.buildTrainingArtifacts({ graph: g, trainable: params, loss });
const sess = await ort.InferenceSession.create(G.serializeModel(art.training), { intraOpNumThreads: 1, interOpNumThreads: 1 });
const data = new Rng(2024);
const images = Float32Array.from({ length: 64 * S * S }, () => data.normal());
const ys = Array.from({ length: 64 }, () => data.int(0, 2));
let state = { step: 0, params: new Map(params.map((p) => [p, g.initializers.get(p).tensor])), mom: new Map(), shuffle: new Rng(99) };
if (from) {
  const c = await loadCheckpoint(from);
  state = { step: c.step, params: G.fromHostTensors(c.params), mom: new Map([...c.optimState].map(([k, v]) => [k, G.fromHostTensor(v.momentum_buffer)])), shuffle: new Rng(c.rng.shuffle) };
}
for (let s = 0; s < steps; s++, state.step++) {
  const idx = Array.from({ length: B }, () => state.shuffle.int(0, 63));
  const img = new Float32Array(B * S * S);
  idx.forEach((k, j) => img.set(images.subarray(k * S * S, (k + 1) * S * S), j * S * S));
  const feeds = { images: G.toOrtTensor(G.tensor(img, [B, 1, S, S])), labels: G.toOrtTensor(G.tensor(BigInt64Array.from(idx.map((k) => BigInt(ys[k]))), [B])) };
  for (const [p, t] of state.params) feeds[p] = G.toOrtTensor(t);
  const r = await sess.run(feeds);
  for (const p of params) {
    const grad = r['grad.' + p].data;
    const m = Float32Array.from(state.mom.get(p)?.data ?? new Float32Array(grad.length));
    const v = Float32Array.from(state.params.get(p).data);
    for (let i = 0; i < v.length; i++) { m[i] = 0.9 * m[i] + grad[i]; v[i] -= 0.05 * m[i]; }
    state.mom.set(p, G.tensor(m, state.params.get(p).dims));
    state.params.set(p, G.tensor(v, state.params.get(p).dims));
  }
}
await saveCheckpoint(out, {
  params: G.toHostTensors(state.params),
  optimState: new Map([...state.mom].map(([k, v]) => [k, { momentum_buffer: G.toHostTensor(v) }])),
  step: state.step, epoch: 0, rng: { shuffle: state.shuffle.state, augment: new Rng(1).state, sample: new Rng(2).state },
  model: { name: 'resume-cnn' }, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
});
`;

function runLoop(args: string[]): void {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', LOOP, ...args], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('train 20 steps = train 10, checkpoint, resume in a fresh process for 10: identical parameters', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-resume-'));
  try {
    const straight = path.join(dir, 'straight.safetensors');
    const half = path.join(dir, 'half.safetensors');
    const resumed = path.join(dir, 'resumed.safetensors');
    runLoop(['20', straight]);
    runLoop(['10', half]);
    runLoop(['10', resumed, half]);
    const a = await loadCheckpoint(straight);
    const b = await loadCheckpoint(resumed);
    const h = await loadCheckpoint(half);
    assert.equal(a.step, 20);
    assert.equal(b.step, 20);
    assert.deepEqual(b.rng, a.rng, 'shuffle generator state');
    for (const [name, t] of a.params) {
      // Loaded tensors are views into the file: compare their own bytes, not the whole buffer.
      assert.deepEqual(Buffer.from(bytesOf(b.params.get(name)!.data)), Buffer.from(bytesOf(t.data)), `param ${name} bit-identical`);
      assert.notDeepEqual(Buffer.from(bytesOf(h.params.get(name)!.data)), Buffer.from(bytesOf(t.data)), `param ${name} changed in the last 10 steps`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
