// Checkpoints: bit-exact round trip (tensors, optimizer slots, metadata, RNG streams that continue
// the same sequence), validation naming tensors and fields, corruption detection, atomic save.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  adamwSlots,
  adamwStateFromSlots,
  loadCheckpoint,
  restoreRngs,
  rngStates,
  saveCheckpoint,
  sgdSlots,
  sgdStateFromSlots,
  CheckpointError,
  CHECKPOINT_FILE,
  type Checkpoint,
} from '../src/train/checkpoint.js';
import { readSafetensors, writeSafetensors, SafetensorsError } from '../src/io/safetensors.js';
import { bytesOf, type HostTensor } from '../src/io/tensor.js';
import { Rng } from '../src/util/rng.js';
import { spawnSync } from 'node:child_process';
import { runToy } from './fixtures/train/toy-trainer.js';
import { adamwStepSync } from '../src/train/optim.js';
import { learningRate } from '../src/train/schedule.js';
import { hasPythonModules, need, repoRoot, scratchDir, systemPython } from './helpers.js';

function tmp(): string {
  return scratchDir('ckpt-');
}

function randomF32(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** A small model's worth of parameters and AdamW state, with awkward float bit patterns. */
function makeCheckpoint(seed = 1): { ckpt: Checkpoint; rngs: Record<'shuffle' | 'augment' | 'sample', Rng> } {
  const r = new Rng(seed);
  const weight = randomF32(r, 8 * 3 * 3 * 3);
  weight[0] = -0;
  new Uint32Array(weight.buffer)[1] = 0x7fc00123; // a NaN with a payload
  weight[2] = 1.4e-45; // denormal
  const params = new Map<string, HostTensor>([
    ['backbone.body.conv1.weight', { dtype: 'F32', shape: [8, 3, 3, 3], data: weight }],
    ['backbone.body.conv1.bias', { dtype: 'F32', shape: [8], data: randomF32(r, 8) }],
    ['roi_heads.box_predictor.cls_score.weight', { dtype: 'F32', shape: [4, 8], data: randomF32(r, 32) }],
  ]);
  const optimState = new Map<string, Record<string, HostTensor>>();
  for (const [name, t] of params) {
    const n = t.data.length;
    optimState.set(name, adamwSlots({ step: 7, expAvg: randomF32(r, n), expAvgSq: randomF32(r, n).map(Math.abs), maxExpAvgSq: null }, t.shape));
  }
  const rngs = { shuffle: new Rng(11), augment: new Rng(12), sample: new Rng(13) };
  for (const g of Object.values(rngs)) for (let i = 0; i < 5; i++) g.nextUint32();
  const ckpt: Checkpoint = {
    step: 7,
    epoch: 1,
    rng: rngStates(rngs),
    model: { arch: 'tiny-cnn', numClasses: 4, norm: { kind: 'group', groups: 2 }, anchors: [[32], [64]] },
    optimizer: { kind: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, schedule: { kind: 'cosine', tMax: 100 }, clipGradNorm: { maxNorm: 10 } },
    params,
    optimState,
    extra: { bestMap: 0.25 },
  };
  return { ckpt, rngs };
}

function hex(t: HostTensor): string {
  return Buffer.from(bytesOf(t.data)).toString('hex');
}

test('round trip is bit-exact for tensors, slots and metadata', async () => {
  const file = path.join(tmp(), CHECKPOINT_FILE);
  const { ckpt } = makeCheckpoint();
  await saveCheckpoint(file, ckpt);
  const back = await loadCheckpoint(file, {
    params: new Map([...ckpt.params].map(([n, t]) => [n, t.shape])),
    slots: ['exp_avg', 'exp_avg_sq', 'step'],
  });
  assert.equal(back.formatVersion, 1);
  assert.equal(back.step, 7);
  assert.equal(back.epoch, 1);
  assert.deepEqual(back.model, ckpt.model);
  assert.deepEqual(back.optimizer, ckpt.optimizer);
  assert.deepEqual(back.extra, ckpt.extra);
  assert.deepEqual(back.rng, ckpt.rng);
  assert.deepEqual([...back.params.keys()].sort(), [...ckpt.params.keys()].sort());
  for (const [name, t] of ckpt.params) {
    const b = back.params.get(name)!;
    assert.deepEqual(b.shape, t.shape);
    assert.equal(hex(b), hex(t), name);
    const slots = ckpt.optimState.get(name)!;
    for (const slot of Object.keys(slots)) assert.equal(hex(back.optimState.get(name)![slot]!), hex(slots[slot]!), `${name}/${slot}`);
    const state = adamwStateFromSlots(name, back.optimState.get(name)!, t.data.length);
    assert.equal(state.step, 7);
    assert.equal(state.maxExpAvgSq, null);
  }
  assert.equal(new Uint32Array((back.params.get('backbone.body.conv1.weight')!.data as Float32Array).buffer, back.params.get('backbone.body.conv1.weight')!.data.byteOffset, 2)[1], 0x7fc00123);
  // The file is plain safetensors with the documented names.
  const raw = await readSafetensors(file);
  assert.ok(raw.tensors.has('param/backbone.body.conv1.weight'));
  assert.ok(raw.tensors.has('optim/backbone.body.conv1.weight/exp_avg_sq'));
  assert.equal(raw.tensors.get('optim/backbone.body.conv1.bias/step')!.dtype, 'F64');
  assert.equal(raw.metadata!.format, 'hpa-detect/checkpoint');
  assert.equal(JSON.parse(raw.metadata!.checkpoint!).format_version, 1);
});

test('RNG streams continue the same sequence after reload', async () => {
  const file = path.join(tmp(), CHECKPOINT_FILE);
  const { ckpt, rngs } = makeCheckpoint();
  await saveCheckpoint(file, ckpt);
  const expected = Object.fromEntries(Object.entries(rngs).map(([k, g]) => [k, Array.from({ length: 50 }, () => g.nextUint32())]));
  const restored = restoreRngs(await loadCheckpoint(file));
  for (const [k, seq] of Object.entries(expected)) {
    assert.deepEqual(Array.from({ length: 50 }, () => restored[k]!.nextUint32()), seq, k);
  }
  assert.notDeepEqual(expected.shuffle, expected.augment);
});

test('SGD momentum slots round trip (absent before the first momentum step)', async () => {
  const file = path.join(tmp(), CHECKPOINT_FILE);
  const { ckpt } = makeCheckpoint();
  const buf = Float32Array.from({ length: 8 }, (_, i) => i / 3);
  const optimState = new Map([
    ['backbone.body.conv1.bias', sgdSlots({ momentumBuffer: buf }, [8])],
    ['backbone.body.conv1.weight', sgdSlots({ momentumBuffer: null }, [8, 3, 3, 3])],
  ]);
  await saveCheckpoint(file, { ...ckpt, optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9, weightDecay: 1e-4 }, optimState });
  const back = await loadCheckpoint(file);
  assert.deepEqual(sgdStateFromSlots('backbone.body.conv1.bias', back.optimState.get('backbone.body.conv1.bias')!, 8).momentumBuffer, buf);
  assert.equal(sgdStateFromSlots('backbone.body.conv1.weight', back.optimState.get('backbone.body.conv1.weight') ?? {}, 216).momentumBuffer, null);
  assert.throws(() => sgdStateFromSlots('x', { momentum_buffer: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, 3), /optim\/x\/momentum_buffer must be F32 with 3 elements/);
});

test('load reports missing, unexpected and mis-shaped tensors by name', async () => {
  const file = path.join(tmp(), CHECKPOINT_FILE);
  const { ckpt } = makeCheckpoint();
  await saveCheckpoint(file, ckpt);
  await assert.rejects(
    loadCheckpoint(file, {
      params: new Map<string, number[]>([
        ['backbone.body.conv1.weight', [8, 3, 5, 5]],
        ['backbone.body.conv1.bias', [8]],
        ['backbone.fpn.inner.0.weight', [4, 8, 1, 1]],
      ]),
      slots: ['exp_avg', 'exp_avg_sq', 'step', 'max_exp_avg_sq'],
    }),
    (err: Error) =>
      err instanceof CheckpointError &&
      err.message.includes('missing parameters (1): backbone.fpn.inner.0.weight') &&
      err.message.includes('unexpected parameters (1): roi_heads.box_predictor.cls_score.weight') &&
      err.message.includes('backbone.body.conv1.weight [8, 3, 3, 3] in the file, [8, 3, 5, 5] expected') &&
      err.message.includes('missing optimizer state (3): optim/backbone.body.conv1.bias/max_exp_avg_sq, optim/backbone.body.conv1.weight/max_exp_avg_sq'),
  );
  await assert.rejects(loadCheckpoint(file, { params: [...ckpt.params.keys()], slots: ['exp_avg', 'exp_avg_sq'] }), /unexpected optimizer state \(3\): optim\/backbone\.body\.conv1\.bias\/step, /);
});

test('save rejects bad fields before writing anything', async () => {
  const dir = tmp();
  const file = path.join(dir, CHECKPOINT_FILE);
  const { ckpt } = makeCheckpoint();
  const cases: [Partial<Checkpoint>, RegExp][] = [
    [{ step: -1 }, /step must be a non-negative integer/],
    [{ rng: { shuffle: new Uint32Array(4).fill(1), augment: new Uint32Array(4).fill(1) } as Checkpoint['rng'] }, /rng\.sample is missing/],
    [{ rng: { ...ckpt.rng, sample: new Uint32Array(4) } }, /rng\.sample is all zero/],
    [{ optimizer: { kind: 'adamw', lr: NaN } }, /optimizer\.lr must be finite/],
    [{ optimizer: { kind: 'sgd', lr: 0.1, schedule: { kind: 'cosine', tMax: 0 } } }, /optimizer\.schedule\.tMax must be a positive integer/],
    [{ optimState: new Map([['nope', {}]]) }, /optimizer state for "nope", which is not a parameter/],
    [{ params: new Map([['w', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]]), optimState: new Map() }, /tensor "param\/w": data has 2 elements/],
  ];
  for (const [patch, re] of cases) await assert.rejects(saveCheckpoint(file, { ...ckpt, ...patch }), re);
  assert.deepEqual(readdirSync(dir), []);
});

test('corrupt, truncated, foreign and future-version files fail with clear errors', async () => {
  const dir = tmp();
  const file = path.join(dir, CHECKPOINT_FILE);
  const { ckpt } = makeCheckpoint();
  await saveCheckpoint(file, ckpt);
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[flipped.length - 100]! ^= 0x10;
  writeFileSync(file, flipped);
  await assert.rejects(loadCheckpoint(file), /checkpoint\.safetensors: tensor data does not match data_sha256 \(the file is corrupted\)/);

  writeFileSync(file, good.subarray(0, good.length - 10));
  await assert.rejects(loadCheckpoint(file), (err: Error) => err instanceof SafetensorsError && /tensor ".*": data_offsets .* run past the end .*truncated/.test(err.message));

  await writeSafetensors(file, { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { format: 'pt' });
  await assert.rejects(loadCheckpoint(file), /not an hpa-detect checkpoint: __metadata__\.format is "pt"/);

  writeFileSync(file, good);
  const { tensors, metadata } = await readSafetensors(file);
  const doc = JSON.parse(metadata!.checkpoint!);
  await writeSafetensors(file, tensors, { ...metadata, checkpoint: JSON.stringify({ ...doc, format_version: 2 }) });
  await assert.rejects(loadCheckpoint(file), /format_version 2 was written by a newer hpa-detect; this build reads version 1/);
  await writeSafetensors(file, tensors, { ...metadata, checkpoint: '{"format_version": 1,' });
  await assert.rejects(loadCheckpoint(file), /__metadata__\.checkpoint is not valid JSON/);
  await writeSafetensors(file, new Map([...tensors, ['stray/x', { dtype: 'U8', shape: [0], data: new Uint8Array(0) } as HostTensor]]), metadata);
  await assert.rejects(loadCheckpoint(file), /tensors that are neither param\/<name> nor optim\/<saved param>\/<slot> \(1\): stray\/x/);
});

test('a failing write leaves the previous checkpoint intact and no temp file', async () => {
  const dir = tmp();
  const file = path.join(dir, CHECKPOINT_FILE);
  const old = makeCheckpoint(1).ckpt;
  await saveCheckpoint(file, old);
  const before = readFileSync(file);

  // Simulate a full disk: the header write succeeds, the first tensor write fails.
  const probe = await fs.open(file, 'r');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  const realWrite = proto.write;
  let calls = 0;
  proto.write = function (this: unknown, ...args: unknown[]) {
    if (++calls === 2) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    return realWrite.apply(this, args);
  };
  try {
    await assert.rejects(saveCheckpoint(file, { ...makeCheckpoint(2).ckpt, step: 8 }), /ENOSPC/);
  } finally {
    proto.write = realWrite;
  }
  assert.equal(calls, 2);
  assert.deepEqual(readFileSync(file), before);
  assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE]);
  assert.equal((await loadCheckpoint(file)).step, 7);
});

test('train 20 steps = train 14, resume from the step-12 checkpoint in a fresh process, train to 20', async () => {
  const straight = tmp();
  await runToy({ dir: straight, stopAt: 20 });
  const interrupted = tmp();
  // Checkpoint mid-epoch (5 steps per epoch) at 12; steps 13 and 14 run and are logged, then the
  // process "dies": they are lost and must be redone identically.
  await runToy({ dir: interrupted, stopAt: 14, saveAt: 12 });
  appendFileSync(path.join(interrupted, 'loss.csv'), '15,2,0.04'); // a line cut short by the kill
  const toy = new URL('./fixtures/train/toy-trainer.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `import { runToy } from ${JSON.stringify(toy)}; await runToy({ dir: ${JSON.stringify(interrupted)}, stopAt: 20, resume: true });`], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);

  const a = await loadCheckpoint(path.join(straight, CHECKPOINT_FILE));
  const b = await loadCheckpoint(path.join(interrupted, CHECKPOINT_FILE));
  assert.equal(b.step, 20);
  assert.deepEqual(b.rng, a.rng);
  for (const [name, t] of a.params) {
    assert.equal(hex(b.params.get(name)!), hex(t), name);
    for (const [slot, s] of Object.entries(a.optimState.get(name)!)) assert.equal(hex(b.optimState.get(name)![slot]!), hex(s), `${name}/${slot}`);
  }
  assert.equal(readFileSync(path.join(interrupted, 'loss.csv'), 'utf8'), readFileSync(path.join(straight, 'loss.csv'), 'utf8'));
  // And training did something: the loss went down.
  const lines = readFileSync(path.join(straight, 'loss.csv'), 'utf8').trim().split('\n');
  assert.ok(Number(lines.at(-1)!.split(',')[3]) < Number(lines[1]!.split(',')[3]));
});

test('torch.optim.AdamW continues from our checkpoint to the same parameters as our AdamW step', async (t) => {
  if (!need(t, hasPythonModules(['torch']), `${systemPython} with torch`)) return;
  const dir = tmp();
  await runToy({ dir, stopAt: 7 });
  const file = path.join(dir, CHECKPOINT_FILE);
  const c = await loadCheckpoint(file);
  const lr = learningRate(c.optimizer.schedule!, c.optimizer.lr!, c.step);
  const r = spawnSync(systemPython, [path.join(repoRoot, 'scripts', 'make_safetensors_fixture.py'), 'torch-adamw-step', file, String(lr)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const torchParams = JSON.parse(r.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(torchParams).sort(), [...c.params.keys()].sort());
  const o = c.optimizer as unknown as { betas: [number, number]; eps: number; weightDecay: number };
  for (const [name, p] of c.params) {
    const w = p.data as Float32Array;
    const before = Float32Array.from(w);
    const grad = Float32Array.from({ length: w.length }, (_, i) => (((37 * i) % 17) - 8) / 8);
    adamwStepSync(w, grad, adamwStateFromSlots(name, c.optimState.get(name)!, w.length), { lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay });
    const raw = Buffer.from(torchParams[name]!, 'hex');
    const theirs = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    // The native step agrees with torch to float32 rounding (test/optim.test.ts uses the same bound);
    // a wrong slot, step count or hyper-parameter moves the update by percents.
    w.forEach((v, i) => {
      assert.ok(Math.abs(v - theirs[i]!) <= 1e-6 + 1e-5 * Math.abs(theirs[i]!), `${name}[${i}]: ours ${v}, torch ${theirs[i]}`);
      assert.ok(Math.abs(v - before[i]!) > 1e-3, `${name}[${i}] moved`);
    });
  }
});
