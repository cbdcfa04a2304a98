/**
 * The Trainer end to end on the synthetic 4-class task (test/fixtures/train/quadrants.ts):
 * - SGD + momentum with warm-up + cosine and clipping reaches ≥ 95% held-out accuracy, and the same
 *   run with shuffled labels stays near chance (so the check can fail);
 * - resume: 20 steps straight == 10 steps + checkpoint + load in a fresh process + 10 steps
 *   (AdamW, augmentation noise from the augment stream, a mid-epoch checkpoint): parameters, AdamW
 *   state, RNG streams and loss log bit-identical;
 * - an artifacts folder (models + step-0 checkpoint) trains like the segment it was written from,
 *   and a Trainer checkpoint saved into it makes Trainer.fromArtifacts resume;
 * - the errors that name a bad parameter, output or data layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './helpers.js';
import { makeQuadrants, quadrantDataset, quadrantNet, runQuadrants, type QuadrantRun } from './fixtures/train/quadrants.js';
import { loadCheckpoint, type OptimizerConfig } from '../src/train/checkpoint.js';
import { bytesOf } from '../src/io/tensor.js';
import { buildTrainingArtifacts, writeTrainingArtifacts } from '../src/graph/artifacts.js';
import { Rng } from '../src/util/rng.js';
import { Trainer } from '../src/train/trainer.js';

const SGD: OptimizerConfig = {
  kind: 'sgd', lr: 0.02, momentum: 0.9,
  schedule: { kind: 'sequential', milestones: [10], schedules: [{ kind: 'linear', startFactor: 0.1, totalIters: 10 }, { kind: 'cosine', tMax: 150, etaMin: 0.002 }] },
  clipGradNorm: { maxNorm: 5 },
};
const ADAMW: OptimizerConfig = {
  kind: 'adamw', lr: 3e-3, weightDecay: 0.01,
  schedule: { kind: 'sequential', milestones: [5], schedules: [{ kind: 'linear', startFactor: 0.2, totalIters: 5 }, { kind: 'cosine', tMax: 40 }] },
  clipGradNorm: { maxNorm: 1 },
};

test('Trainer: the small CNN reaches ≥ 95% held-out accuracy; shuffled labels stay near chance', async (t) => {
  const started = Date.now();
  const run: QuadrantRun = { steps: 160, batchSize: 32, optimizer: SGD, evaluate: true };
  const real = await runQuadrants(run);
  const shuffled = await runQuadrants({ ...run, shuffleLabels: true });
  t.diagnostic(`held-out accuracy ${real.accuracy} (last loss ${real.loss.toFixed(3)}); shuffled labels ${shuffled.accuracy}; ${((Date.now() - started) / 1000).toFixed(1)} s for both`);
  assert.ok(real.accuracy >= 0.95, `held-out accuracy ${real.accuracy}`);
  assert.ok(shuffled.accuracy <= 0.45, `shuffled-label accuracy ${shuffled.accuracy} should be near chance (0.25)`);
});

const fixtureUrl = pathToFileURL(path.join(repoRoot, 'dist', 'test', 'fixtures', 'train', 'quadrants.js')).href;

/** runQuadrants in a fresh node process. */
function runChild(o: QuadrantRun): Promise<void> {
  const code = `import { runQuadrants } from '${fixtureUrl}'; await runQuadrants(JSON.parse(process.argv[1]));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(o)], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`child exited ${status}: ${stderr}`))));
  });
}

test('Trainer resume: 20 steps == 10 + checkpoint + load in a fresh process + 10 (bit-identical)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-trainer-'));
  try {
    const f = (name: string): string => path.join(dir, name);
    // Batch 48 gives 13 steps per epoch: the step-10 checkpoint is mid-epoch, step 20 is in epoch 1.
    const base = { batchSize: 48, optimizer: ADAMW, noise: 0.1 };
    await Promise.all([
      runChild({ ...base, steps: 20, save: f('straight.safetensors'), lossLog: f('straight.csv') }),
      runChild({ ...base, steps: 10, save: f('half.safetensors'), lossLog: f('resumed.csv') }),
    ]);
    await runChild({ ...base, steps: 10, load: f('half.safetensors'), save: f('resumed.safetensors'), lossLog: f('resumed.csv') });
    const [a, b, h] = await Promise.all(['straight', 'resumed', 'half'].map((n) => loadCheckpoint(f(`${n}.safetensors`))));
    assert.deepEqual([a!.step, a!.epoch, b!.step, b!.epoch, h!.step, h!.epoch], [20, 1, 20, 1, 10, 0]);
    assert.deepEqual(b!.rng, a!.rng, 'RNG streams');
    const bytes = (t: { data: Parameters<typeof bytesOf>[0] }): Buffer => Buffer.from(bytesOf(t.data));
    for (const [name, t] of a!.params) {
      assert.deepEqual(bytes(b!.params.get(name)!), bytes(t), `param ${name} bit-identical`);
      assert.notDeepEqual(bytes(h!.params.get(name)!), bytes(t), `param ${name} changed in the last 10 steps`);
      for (const [slot, s] of Object.entries(a!.optimState.get(name)!)) assert.deepEqual(bytes(b!.optimState.get(name)![slot]!), bytes(s), `optim/${name}/${slot}`);
    }
    const log = (n: string): Promise<string> => readFile(f(n), 'utf8');
    const straightLog = await log('straight.csv');
    assert.equal(straightLog.trim().split('\n').length, 21, 'header + 20 steps');
    assert.equal(await log('resumed.csv'), straightLog, 'loss log');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Trainer: errors name the parameter, the output and the data layout', async () => {
  const { graph, loss } = quadrantNet();
  const { training } = buildTrainingArtifacts({ graph, trainable: graph.paramNames, loss });
  const data = quadrantDataset(Float32Array.from({ length: 4 * 144 }, (_, i) => Math.sin(i)), [0, 1, 2, 3], 0);
  const params = new Map(graph.paramNames.map((p) => [p, graph.initializers.get(p)!.tensor]));
  const base = { trainingModel: training, params, data, batchSize: 2, optimizer: { kind: 'sgd', lr: 0.1 } as OptimizerConfig };
  await assert.rejects(Trainer.create({ ...base, params: new Map([...params, ['nope.weight', params.get('fc.weight')!]]) }), /parameter "nope.weight" is not an input/);
  await assert.rejects(Trainer.create({ ...base, frozen: ['conv9.bias'] }), /frozen parameter "conv9.bias" is not in params/);
  await assert.rejects(Trainer.create({ ...base, logOutputs: ['cls'] }), /logOutputs "cls" is not an output/);
  await assert.rejects(Trainer.create({ ...base, batchSize: 5 }), /batchSize must be an integer in \[1, dataset.size = 4\]/);
  await assert.rejects(Trainer.create({ ...base, optimizer: { kind: 'sgd' } as unknown as OptimizerConfig }), /optimizer.lr must be a non-negative number/);

  // A frozen parameter is fed but never changes; a checkpoint with another batch size is refused.
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-trainer-'));
  try {
    const trainer = await Trainer.create({ ...base, frozen: ['conv1.weight'] });
    await trainer.train(2);
    assert.deepEqual(trainer.parameters().get('conv1.weight')!.data, params.get('conv1.weight')!.data, 'frozen parameter unchanged');
    assert.notDeepEqual(trainer.parameters().get('conv2.weight')!.data, params.get('conv2.weight')!.data, 'trainable parameter changed');
    await trainer.save(path.join(dir, 'c.safetensors'));
    await trainer.release();
    const other = await Trainer.create({ ...base, batchSize: 1 });
    await assert.rejects(other.load(path.join(dir, 'c.safetensors')), /data.batchSize is 2 in the checkpoint, 1 in this trainer/);
    await other.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Trainer.fromArtifacts: the step-0 checkpoint trains like the segment; a saved checkpoint resumes', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hpa-trainer-art-'));
  try {
    const { graph, loss } = quadrantNet();
    const segment = { graph, trainable: graph.paramNames, loss, outputs: ['logits'] };
    await writeTrainingArtifacts(dir, segment, { checkpoint: { optimizer: ADAMW, model: { name: 'quadrants' } } });
    assert.deepEqual((await readdir(dir)).sort(), ['checkpoint.safetensors', 'eval_model.onnx', 'inference_model.onnx', 'training_model.onnx']);
    const initial = await loadCheckpoint(path.join(dir, 'checkpoint.safetensors'), { params: graph.paramNames });
    assert.equal(initial.step, 0);

    const d = makeQuadrants(96, new Rng(1));
    const config = { data: quadrantDataset(d.images, d.labels, 0.1), batchSize: 16, optimizer: ADAMW };
    const reference = await Trainer.fromSegment(segment, config);
    await reference.train(10);
    const fromDir = await Trainer.fromArtifacts(dir, config);
    await fromDir.train(5);
    await fromDir.save(path.join(dir, 'checkpoint.safetensors'));
    await fromDir.release();
    const resumed = await Trainer.fromArtifacts(dir, config);
    assert.equal(resumed.step, 5, 'resumed at the saved step');
    await resumed.train(5);
    for (const [name, t] of reference.parameters()) {
      assert.deepEqual(Buffer.from(bytesOf(resumed.parameters().get(name)!.data as Float32Array)), Buffer.from(bytesOf(t.data as Float32Array)), `param ${name}`);
    }
    await reference.release();
    await resumed.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
