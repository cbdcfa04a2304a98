/** `--set section.field=value`: parsing against the preset's config, and usage errors naming the flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseConfigSets, settableFields } from '../src/cli/config-set.js';
import { UsageError } from '../src/cli/errors.js';
import { fasterRcnnConfig, SMALL_CELL_ANCHOR_SIZES } from '../src/models/presets.js';
import { repoRoot } from './helpers.js';

const light = fasterRcnnConfig('light');

test('--set values become overrides of the right kind', () => {
  const o = parseConfigSets([
    'box.detectionsPerImg=300', 'rpn.nmsThresh=0.6', 'anchors.sizes=cells', 'anchors.aspectRatios=0.5,1,2',
    'transform.imageMean=0.1, 0.2,0.3', 'arch.trainableLayers=2', 'box.scoreThresh=0.01',
  ], light);
  assert.deepEqual(o, {
    box: { detectionsPerImg: 300, scoreThresh: 0.01 },
    rpn: { nmsThresh: 0.6 },
    anchors: { sizes: SMALL_CELL_ANCHOR_SIZES, aspectRatios: [0.5, 1, 2] },
    transform: { imageMean: [0.1, 0.2, 0.3] },
    arch: { trainableLayers: 2 },
  });
  assert.deepEqual(parseConfigSets(['anchors.sizes=8/12,16/24,32/48,64/96,128/192'], light).anchors?.sizes, [[8, 12], [16, 24], [32, 48], [64, 96], [128, 192]]);
  assert.deepEqual(parseConfigSets(['anchors.sizes=16,32,64,128,256'], light).anchors?.sizes, SMALL_CELL_ANCHOR_SIZES);
  const c = fasterRcnnConfig('light', parseConfigSets(['box.detectionsPerImg=300', 'anchors.sizes=cells'], light));
  assert.equal(c.box.detectionsPerImg, 300);
  assert.equal(c.box.nmsThresh, light.box.nmsThresh, 'the rest of the section is the preset\'s');
  assert.ok(settableFields(light).includes('rpn.postNmsTopNTest') && !settableFields(light).includes('arch.depth'));
});

test('--set errors name the flag and say what is expected', () => {
  const bad = (v: string, re: RegExp) => assert.throws(() => parseConfigSets([v], light), (e: unknown) => e instanceof UsageError && re.test((e as Error).message));
  bad('box.detectionsPerImg', /--set box\.detectionsPerImg: expected section\.field=value/);
  bad('box.detectionPerImg=3', /unknown setting 'box\.detectionPerImg'; settable: .*box\.detectionsPerImg/);
  bad('arch.depth=50', /only arch\.trainableLayers can be set/);
  bad('arch.numClasses=5', /only arch\.trainableLayers can be set/);
  bad('box.nmsThresh=half', /expected a number, got "half"/);
  bad('box.detectionsPerImg=2.5', /expected an integer, got "2\.5"/);
  bad('transform.imageStd=1,1', /needs 3 numbers/);
  bad('anchors.sizes=16,x', /expected comma-separated numbers/);
  bad('anchors.sizes=0,32,64,128,256', /anchor sizes must be > 0/);
  bad('rpn=3', /unknown setting 'rpn'/);
  assert.throws(() => parseConfigSets(['arch.trainableLayers=2'], light, { arch: false }), /the architecture is the weights'; arch\.trainableLayers only applies to training/);
});

test('train: a --set the preset cannot take is a usage error (exit 2) before any data is read', () => {
  const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'train', '--data', repoRoot, '--out', path.join(repoRoot, 'no-such-run'), ...args], { encoding: 'utf8' });
  const range = run('--set', 'arch.trainableLayers=7');
  assert.equal(range.status, 2, range.stderr);
  assert.match(range.stderr, /--set: arch\.trainableLayers must be an integer in 0\.\.5, got 7/);
  const levels = run('--set', 'anchors.sizes=16,32,64');
  assert.equal(levels.status, 2, levels.stderr);
  assert.match(levels.stderr, /anchors\.sizes needs one list per FPN level P2\.\.P6 \(5\), got 3/);
  const resumed = run('--resume', '--set', 'box.detectionsPerImg=5');
  assert.equal(resumed.status, 2, resumed.stderr);
  assert.match(resumed.stderr, /--set changes the model: a resumed run keeps the config stored in its checkpoint/);
});
