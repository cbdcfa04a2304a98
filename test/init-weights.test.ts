/**
 * `train --init`: starting from torchvision weights. A COCO-style detection export (91 classes)
 * keeps everything but the box predictor; an ImageNet-style backbone export
 * (scripts/export_torchvision.py --backbone-pth) gives the backbone and leaves the FPN and heads
 * random; weights of another architecture are refused; a frozen-BN preset without --init is noted.
 * The frozen layers (stem and layer1 at 3 trainable layers) must come out of training bit-equal
 * to the file: that is what proves the file's values were loaded, not just its shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { hasPythonModules, need, repoRoot, scratchDir, systemPython } from './helpers.js';
import { writeSquareSet } from './fixtures/train/squares-set.js';
import { trainDetector, type TrainDetectorOptions, type TrainEvent } from '../src/train/detector-fit.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { readSafetensors } from '../src/io/safetensors.js';

const exportScript = path.join(repoRoot, 'scripts', 'export_torchvision.py');
const hasTorch = () => hasPythonModules(['torch', 'torchvision']);

function python(args: string[]): void {
  const r = spawnSync(systemPython, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** Two steps of resnet18-fpn on 64² squares; the start event's notes and the last checkpoint's params. */
async function trainTwoSteps(dir: string, name: string, o: Partial<TrainDetectorOptions>) {
  const set = await writeSquareSet(4, 64, 7);
  const events: TrainEvent[] = [];
  await trainDetector({
    preset: 'resnet18-fpn', config: { transform: { minSize: 64, maxSize: 64 } }, data: { annotations: set.vocDir, images: set.imageDir },
    valFraction: 0, epochs: 1, batchSize: 2, threads: 2, outDir: path.join(dir, name), map: false, optimizer: { lr: 0.01 }, ...o,
  }, (e) => events.push(e));
  const start = events.find((e) => e.kind === 'start');
  const ckpt = await loadCheckpoint(path.join(dir, name, 'checkpoint-last.safetensors'));
  return { notes: start?.kind === 'start' ? start.notes : [], param: (n: string) => ckpt.params.get(n)! };
}

const f32 = (t: { data: ArrayBufferView }) => Array.from(t.data as Float32Array);

test('--init with a torchvision detection export of another class count: all but the box predictor loaded', { timeout: 300_000 }, async (t) => {
  if (!need(t, hasTorch(), `${systemPython} with torch and torchvision`)) return;
  const dir = scratchDir('hpa-init-full-');
  python([exportScript, '--arch', 'resnet18', '--num-classes', '91', '--seed', '3', '--out-dir', path.join(dir, 'coco')]);
  const file = path.join(dir, 'coco', 'weights.safetensors');
  const { tensors } = await readSafetensors(file);
  const run = await trainTwoSteps(dir, 'run', { init: file });
  assert.ok(run.notes.some((n) => /roi_heads\.box_predictor\.cls_score\.weight is \[91,1024\] in the file, \[3,1024\] for these classes/.test(n)), run.notes.join('\n'));
  for (const frozen of ['backbone.body.conv1.weight', 'backbone.body.bn1.running_var', 'backbone.body.layer1.1.conv2.weight']) {
    assert.deepEqual(f32(run.param(frozen)), f32(tensors.get(frozen)!), `${frozen}: the file's values`);
  }
  assert.notDeepEqual(f32(run.param('rpn.head.conv.0.0.weight')), f32(tensors.get('rpn.head.conv.0.0.weight')!), 'trained layers moved from the file');
  assert.deepEqual(run.param('roi_heads.box_predictor.cls_score.weight').shape, [3, 1024]);
});

test('--init with an ImageNet-style backbone export: backbone loaded, FPN and heads random; a GroupNorm preset refuses it', { timeout: 300_000 }, async (t) => {
  if (!need(t, hasTorch(), `${systemPython} with torch and torchvision`)) return;
  const dir = scratchDir('hpa-init-backbone-');
  // A classification ResNet-18 with non-trivial BatchNorm statistics, saved as torch.save(state_dict).
  const pth = path.join(dir, 'resnet18.pth');
  python(['-c', [
    'import sys, torch, torchvision',
    'torch.manual_seed(5)',
    'm = torchvision.models.resnet18(weights=None)',
    'for b in m.modules():',
    '    if isinstance(b, torch.nn.BatchNorm2d):',
    '        b.running_mean.normal_(0, 0.1); b.running_var.uniform_(0.75, 1.25)',
    '        b.weight.data.uniform_(0.6, 1.0); b.bias.data.normal_(0, 0.05)',
    'torch.save(m.state_dict(), sys.argv[1])',
  ].join('\n'), pth]);
  python([exportScript, '--arch', 'resnet18', '--backbone-pth', pth, '--out-dir', path.join(dir, 'imagenet')]);
  const file = path.join(dir, 'imagenet', 'weights.safetensors');
  const { tensors, metadata } = await readSafetensors(file);
  assert.equal(metadata?.['part'], 'backbone');
  assert.ok([...tensors.keys()].every((k) => k.startsWith('backbone.body.')) && !tensors.has('backbone.body.fc.weight'));

  const run = await trainTwoSteps(dir, 'run', { init: file });
  assert.ok(run.notes.some((n) => /--init: backbone weights only: the FPN, RPN and box head \(\d+ tensors\) start at random/.test(n)), run.notes.join('\n'));
  for (const frozen of ['backbone.body.conv1.weight', 'backbone.body.bn1.running_mean', 'backbone.body.layer1.0.bn2.weight']) {
    assert.deepEqual(f32(run.param(frozen)), f32(tensors.get(frozen)!), `${frozen}: the file's values`);
  }
  assert.ok(run.param('backbone.fpn.inner_blocks.0.0.weight'), 'the FPN exists (random)');

  // GroupNorm has the same weight/bias names as BatchNorm: only the unused statistics give it away.
  await assert.rejects(trainTwoSteps(dir, 'gn', { init: file, preset: 'resnet18-fpn-gn' }),
    /--init .*weights\.safetensors: \d+ tensor\(s\) that preset resnet18-fpn-gn does not have \(backbone\.body\.\S*running_(mean|var)/);
  const gnExport = spawnSync(systemPython, [exportScript, '--arch', 'resnet18', '--norm', 'group-norm', '--backbone-pth', pth, '--out-dir', path.join(dir, 'x')], { encoding: 'utf8' });
  assert.equal(gnExport.status, 2);
  assert.match(gnExport.stderr, /ImageNet ResNets are BatchNorm networks/);
  const wrongArch = spawnSync(systemPython, [exportScript, '--arch', 'resnet34', '--backbone-pth', pth, '--out-dir', path.join(dir, 'y')], { encoding: 'utf8' });
  assert.notEqual(wrongArch.status, 0);
  assert.match(wrongArch.stderr, /resnet18\.pth: not a torchvision resnet34 state_dict/);
});

test('a frozen-BN preset from random weights says its frozen stages stay random', { timeout: 300_000 }, async () => {
  const dir = scratchDir('hpa-init-none-');
  const run = await trainTwoSteps(dir, 'run', {});
  assert.ok(run.notes.some((n) => /preset resnet18-fpn is for fine-tuning \(frozen BatchNorm, 2 frozen backbone stage\(s\)\): from random weights those stay random/.test(n)), run.notes.join('\n'));
});
