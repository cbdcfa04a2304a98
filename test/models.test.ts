/**
 * Model definitions: parameter names and shapes identical to torchvision's state_dicts (manifests
 * written by scripts/export_torchvision.py --manifest), presets, trainable sets, and a run of the
 * light preset from random weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import {
  PRESET_NAMES, RandomWeights, buildSegment1, buildSegment2, fasterRcnnConfig, trainableParameters,
  type ParamRequest, type WeightSource,
} from '../src/models/index.js';
import type { Tensor } from '../src/graph/values.js';
import { Detector } from '../src/infer/detector.js';
import { storedModelConfig } from '../src/infer/predict-model.js';
import { CHECKPOINT_FORMAT } from '../src/train/checkpoint.js';
import { runGraph } from '../src/graph/ort.js';
import { tensor } from '../src/graph/values.js';
import { modelTuning } from '../src/models/tuning.js';
import { Rng } from '../src/util/rng.js';

/** Records every request and hands out a shared zero buffer view of the right size (no big allocations per call). */
class RecordingWeights implements WeightSource {
  readonly requests: ParamRequest[] = [];
  get(req: ParamRequest): Tensor {
    this.requests.push(req);
    const n = req.dims.reduce((a, b) => a * b, 1);
    return { dtype: 'float32', dims: [...req.dims], data: new Float32Array(n) };
  }
}

function manifest(name: string): Record<string, number[]> {
  return JSON.parse(readFileSync(path.join(fixturesDir, 'models', name), 'utf8')) as Record<string, number[]>;
}

const CASES: [string, string, number][] = [
  ['resnet50-fpn', 'torchvision-resnet50-frozen-bn-91.json', 91],
  ['resnet18-fpn-gn', 'torchvision-resnet18-group-norm-91.json', 91],
  ['resnet34-fpn', 'torchvision-resnet34-frozen-bn-5.json', 5],
];

for (const [preset, file, numClasses] of CASES) {
  test(`${preset}: parameter names and shapes equal torchvision's state_dict (${file})`, () => {
    const config = fasterRcnnConfig(preset, { arch: { numClasses } });
    const w = new RecordingWeights();
    const s1 = buildSegment1(config, w);
    const s2 = buildSegment2(config, w);
    const ours = w.requests.map((r) => [r.name, r.dims] as const);
    const theirs = Object.entries(manifest(file));
    assert.deepEqual(ours.map(([n]) => n).sort(), theirs.map(([n]) => n).sort());
    assert.deepEqual(Object.fromEntries(ours), Object.fromEntries(theirs));
    // Every parameter is a graph initializer under the same name (the RPN head's are shared by 5 levels).
    assert.equal(s1.paramNames.length + s2.paramNames.length, theirs.length);
  });
}

/** RandomWeights with non-trivial frozen batch norm (scale, shift, statistics), as a pretrained backbone has. */
class BatchNormStatistics implements WeightSource {
  private readonly rng = new Rng(11);
  private readonly base = new RandomWeights(5);
  get(req: ParamRequest): Tensor {
    const bn = /(\.bn\d|downsample\.1)\.(weight|bias|running_mean|running_var)$/.exec(req.name);
    if (!bn) return this.base.get(req);
    const n = req.dims[0]!;
    const draw = bn[2] === 'running_var' ? () => 0.25 + 2 * this.rng.next() : bn[2] === 'weight' ? () => 0.5 + this.rng.next() : () => 0.5 * this.rng.normal();
    return tensor(Float32Array.from({ length: n }, draw), [n]);
  }
}

test('frozen batch norm folded into the convs computes what Conv + BatchNormalization does, under the same parameters', async () => {
  const config = fasterRcnnConfig('resnet18-fpn', { arch: { numClasses: 3 } });
  const rng = new Rng(3);
  const images = tensor(Float32Array.from({ length: 3 * 64 * 64 }, () => rng.normal()), [1, 3, 64, 64]);
  const build = (fold: boolean) => {
    const saved = modelTuning.foldFrozenBatchNorm;
    modelTuning.foldFrozenBatchNorm = fold;
    try {
      return buildSegment1(config, new BatchNormStatistics());
    } finally {
      modelTuning.foldFrozenBatchNorm = saved;
    }
  };
  const [unfolded, folded] = [build(false), build(true)];
  assert.deepEqual(folded.paramNames, unfolded.paramNames);
  assert.equal(folded.nodes.filter((n) => n.opType === 'BatchNormalization').length, 0);
  assert.equal(unfolded.nodes.filter((n) => n.opType === 'BatchNormalization').length, 20);
  const [a, b] = await Promise.all([runGraph(unfolded, { images }), runGraph(folded, { images })]);
  for (const name of unfolded.outputs) {
    const x = a[name]!.data as Float32Array, y = b[name]!.data as Float32Array;
    let err = 0, scale = 0;
    for (let i = 0; i < x.length; i++) {
      err = Math.max(err, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(x[i]!));
    }
    assert.ok(err <= 1e-5 * scale, `${name}: max |Δ| ${err} against max |x| ${scale}`);
  }
});

test('trainableParameters follows torchvision trainable_backbone_layers=3 for resnet50-fpn', () => {
  const config = fasterRcnnConfig('resnet50-fpn');
  const names = Object.keys(manifest('torchvision-resnet50-frozen-bn-91.json'));
  const trainable = new Set(trainableParameters(config, names));
  assert.ok(!trainable.has('backbone.body.conv1.weight'));
  assert.ok(!trainable.has('backbone.body.layer1.0.conv1.weight'));
  assert.ok(trainable.has('backbone.body.layer2.0.conv1.weight'));
  assert.ok(trainable.has('backbone.body.layer4.2.conv3.weight'));
  assert.ok(!trainable.has('backbone.body.layer4.2.bn3.weight'), 'FrozenBatchNorm2d holds buffers, not parameters');
  assert.ok(!trainable.has('backbone.body.layer2.0.downsample.1.running_var'));
  assert.ok(trainable.has('backbone.fpn.inner_blocks.0.0.weight'));
  assert.ok(trainable.has('rpn.head.cls_logits.bias'));
  assert.ok(trainable.has('roi_heads.box_predictor.bbox_pred.weight'));
  // torchvision: 3 trainable layers of R50-FPN leave 41 convs of layer2..4 + FPN 16 + RPN 6 + heads 8.
  const convs = [...trainable].filter((n) => n.startsWith('backbone.body.'));
  assert.equal(convs.length, 4 * 3 + 1 + 6 * 3 + 1 + 3 * 3 + 1);
  const gn = fasterRcnnConfig('resnet18-fpn-gn');
  const gnNames = Object.keys(manifest('torchvision-resnet18-group-norm-91.json'));
  assert.equal(trainableParameters(gn, gnNames).length, gnNames.length, 'GroupNorm preset trains everything (5 layers)');
});

test('presets: known names, overrides, validation errors name the field', () => {
  assert.deepEqual(PRESET_NAMES, ['resnet50-fpn', 'resnet34-fpn', 'resnet18-fpn', 'resnet18-fpn-gn', 'light']);
  const c = fasterRcnnConfig('resnet50-fpn', { box: { scoreThresh: 0.7 }, transform: { minSize: 512 } });
  assert.equal(c.box.scoreThresh, 0.7);
  assert.equal(c.box.nmsThresh, 0.5);
  assert.equal(c.transform.minSize, 512);
  assert.equal(c.transform.maxSize, 1333);
  assert.deepEqual(c.anchors.sizes, [[32], [64], [128], [256], [512]]);
  assert.equal(fasterRcnnConfig('resnet50-fpn').box.scoreThresh, 0.05, 'overrides do not leak into the preset');
  assert.throws(() => fasterRcnnConfig('resnet101-fpn'), /unknown preset 'resnet101-fpn'.*resnet50-fpn/);
  assert.throws(() => fasterRcnnConfig('light', { arch: { numClasses: 1 } }), /arch\.numClasses/);
  assert.throws(() => fasterRcnnConfig('light', { box: { nmsThresh: 1.5 } }), /box\.nmsThresh/);
  assert.throws(() => fasterRcnnConfig('light', { anchors: { sizes: [[16], [32]] } }), /anchors\.sizes/);
  assert.throws(() => fasterRcnnConfig('light', { box: { poolSize: 0 } }), /box\.poolSize must be an integer >= 1, got 0/);
  assert.throws(() => fasterRcnnConfig('light', { rpn: { batchSizePerImage: 2.5 } }), /rpn\.batchSizePerImage must be an integer >= 1/);
  assert.throws(() => fasterRcnnConfig('light', { rpn: { bgIouThresh: 0.8 } }), /rpn\.bgIouThresh 0\.8 is above rpn\.fgIouThresh 0\.7/);
  assert.throws(() => fasterRcnnConfig('light', { box: { positiveFraction: 0 } }), /box\.positiveFraction must be in \(0, 1\]/);
  assert.throws(() => fasterRcnnConfig('light', { anchors: { aspectRatios: [0.5, -1, 2] } }), /anchors\.aspectRatios\[1\] must be > 0/);
});

test('arch.baseWidth scales every backbone stage (64 is torchvision\'s); widths are validated', () => {
  const shapes = (baseWidth: number) => {
    const w = new RecordingWeights();
    buildSegment1(fasterRcnnConfig('resnet18-fpn-gn', { arch: { baseWidth, groupNormGroups: 16 } }), w);
    return Object.fromEntries(w.requests.map((r) => [r.name, r.dims]));
  };
  const narrow = shapes(16);
  assert.deepEqual(narrow['backbone.body.conv1.weight'], [16, 3, 7, 7]);
  assert.deepEqual(narrow['backbone.body.layer1.0.conv1.weight'], [16, 16, 3, 3]);
  assert.deepEqual(narrow['backbone.body.layer4.1.conv2.weight'], [128, 128, 3, 3]);
  assert.deepEqual(narrow['backbone.fpn.inner_blocks.3.0.weight'], [256, 128, 1, 1]);
  assert.deepEqual(Object.keys(narrow).sort(), Object.keys(shapes(64)).sort(), 'same names, other widths');
  assert.equal(fasterRcnnConfig('resnet50-fpn').arch.baseWidth, 64);
  assert.throws(() => fasterRcnnConfig('light', { arch: { baseWidth: 0 } }), /arch\.baseWidth must be a positive integer/);
  assert.throws(() => fasterRcnnConfig('light', { arch: { baseWidth: 24, groupNormGroups: 16 } }), /arch\.baseWidth 24 is not divisible by arch\.groupNormGroups 16/);
});

test('stored configs written before arch.baseWidth load with torchvision\'s width 64', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-models-'));
  try {
    const header = (model: unknown) => {
      const json = Buffer.from(JSON.stringify({ __metadata__: { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ model }) } }));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, json]);
    };
    const old = path.join(dir, 'old.safetensors');
    const { baseWidth: _, ...arch } = fasterRcnnConfig('light').arch;
    writeFileSync(old, header({ preset: 'light', config: { arch } }));
    assert.equal((await storedModelConfig(old))!.config.arch!.baseWidth, 64);
    const partial = path.join(dir, 'partial.safetensors');
    writeFileSync(partial, header({ preset: 'light', config: { transform: { minSize: 256 } } }));
    assert.equal((await storedModelConfig(partial))!.config.arch, undefined, 'a partial config keeps the preset\'s width');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('light preset from random weights runs end to end on a small image', async () => {
  const config = fasterRcnnConfig('light', { arch: { numClasses: 3 }, transform: { minSize: 96, maxSize: 128 }, box: { scoreThresh: 0 } });
  const det = await Detector.fromWeights(config, new RandomWeights(7), { threads: 2 });
  try {
    assert.equal(det.provider, 'cpu');
    const h = 60, w = 80;
    const data = new Uint8Array(h * w * 3).map((_, i) => (i * 37) % 251);
    const r = await det.detect({ data, height: h, width: w, channels: 3 }, { debug: true });
    assert.deepEqual(r.inputShape, [1, 3, 96, 128]);
    assert.deepEqual(r.imageSize, [96, 128]);
    assert.ok(r.scores.length > 0 && r.scores.length <= 100);
    assert.equal(r.boxes.length, 4 * r.scores.length);
    for (let i = 1; i < r.scores.length; i++) assert.ok(r.scores[i - 1]! >= r.scores[i]!, 'scores decrease');
    for (let i = 0; i < r.scores.length; i++) {
      assert.ok(r.labels[i]! >= 1 && r.labels[i]! <= 2);
      const [x1, y1, x2, y2] = r.boxes.subarray(4 * i, 4 * i + 4);
      assert.ok(x1! >= 0 && y1! >= 0 && x2! <= w + 1e-3 && y2! <= h + 1e-3 && x2! > x1! && y2! > y1!, `box ${i} inside the ${w}x${h} image`);
    }
  } finally {
    await det.release();
  }
});

test('Detector.load: checkpoint names under param/, numClasses from the file, errors name the parameter', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const { writeSafetensors } = await import('../src/io/safetensors.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-models-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = fasterRcnnConfig('light', { arch: { numClasses: 4 }, transform: { minSize: 64, maxSize: 64 } });
  const w = new RecordingWeights();
  const random = new RandomWeights(11);
  const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  const recordAndFill: WeightSource = {
    get: (req) => {
      const tensor = random.get(req);
      w.requests.push(req);
      tensors.set(`param/${req.name}`, { dtype: 'F32', shape: tensor.dims, data: tensor.data as Float32Array });
      return tensor;
    },
  };
  const reference = await Detector.fromWeights(config, recordAndFill, { threads: 2 });
  t.after(() => reference.release());
  const file = path.join(dir, 'checkpoint.safetensors');
  await writeSafetensors(file, tensors);
  const loaded = await Detector.load(file, 'light', { threads: 2, config: { transform: { minSize: 64, maxSize: 64 } } });
  t.after(() => loaded.release());
  assert.equal(loaded.config.arch.numClasses, 4);
  const img = { data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 13) % 256), height: 64, width: 64, channels: 3 as const };
  const a = await reference.detect(img);
  const b = await loaded.detect(img);
  assert.deepEqual([...b.scores], [...a.scores]);
  assert.deepEqual([...b.boxes], [...a.boxes]);

  const partial = path.join(dir, 'partial.safetensors');
  tensors.delete('param/backbone.fpn.layer_blocks.2.1.weight');
  await writeSafetensors(partial, tensors);
  await assert.rejects(Detector.load(partial, 'light'), /missing parameter 'param\/backbone\.fpn\.layer_blocks\.2\.1\.weight' \(expected F32 \[64\]\)/);
  await assert.rejects(Detector.load(file, 'resnet18-fpn-gn'), /parameter 'param\/backbone\.body\.conv1\.weight' has shape \[32,3,7,7\], the model expects \[64,3,7,7\]/);
});

test('detectBatch: the same image twice in one batch gives the same detections for both', async (t) => {
  const config = fasterRcnnConfig('light', { arch: { numClasses: 3 }, transform: { minSize: 64, maxSize: 96 }, box: { scoreThresh: 0 } });
  const det = await Detector.fromWeights(config, new RandomWeights(5), { threads: 2 });
  t.after(() => det.release());
  const img = { data: new Uint8Array(50 * 70 * 3).map((_, i) => (i * 29) % 256), height: 50, width: 70, channels: 3 as const };
  const [a, b] = await det.detectBatch([img, img]);
  assert.ok(a!.scores.length > 0);
  assert.deepEqual([...b!.scores], [...a!.scores]);
  assert.deepEqual([...b!.boxes], [...a!.boxes]);
  assert.deepEqual([...b!.labels], [...a!.labels]);
});
